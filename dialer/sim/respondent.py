# -*- test-case-name: tests.sim.test_respondent -*-
"""
A simulated person answering an IVR survey, question by question: pure code, no Twisted.

The simulated PBX tells the person what the IVR does on the call (a playback with escape
digits, a C{GET DATA}, a C{WAIT FOR DIGIT}, a C{RECORD FILE}); the person answers with
a L{Reaction} (keys at delays, or a hang-up) that the PBX carries out on its clock.

The person decides once per question, not once per sound file. A "turn" runs from the
first prompt after the previous answer up to the moment the IVR waits for keys (C{GET
DATA} after its prompt, or C{WAIT FOR DIGIT}); at the first point where it could act
the person draws what to do from the profile's C{[respondent]} shares:

  - hang up (C{hangup}: drawn once per question, not again when the question is asked
    again after a wrong key, a silence or C{*}, nor for the C{#} read-back);
  - say nothing (C{no_input});
  - press C{*} to hear it again (C{star});
  - press a key the question does not accept (C{invalid});
  - otherwise press a valid key (weights C{keys}, restricted to the keys the question
    accepts), after C{hesitation} seconds once the prompt has ended, or, with
    C{barge_in}, during a prompt that accepts the key. A number question is answered
    with the key and C{#}.

A read-back ("you chose 1, press # to confirm, * to choose again") is answered with C{#},
C{*} (C{star}) or nothing (C{no_input}, which the flow takes as a yes).

A voice comment (C{RECORD FILE}): the person speaks for C{comment} seconds, then presses
C{#} (share C{comment_key}) or falls silent (the recording ends on silence, or at the
maximum length); C{no_input} says nothing; C{hangup} hangs up after speaking.

What the IVR accepts is read the way a person would, from what it says: C{prompt_keys}
maps sound names (or prompt ids: C{q_overall-2} is prompt C{q_overall}) to the keys
they ask for (L{prompt_keys_of} builds it from a questionnaire). Without it, the escape
digits of the playbacks of this turn tell; a playback accepting only C{#} and C{*} right
after an answer is a read-back; otherwise any digit of the profile's C{keys} is valid.

Every draw takes the injected C{random.Random}, so a seed reproduces a run.
"""

from __future__ import annotations

import random
import re
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from dialer.sim.profile import Reaction, RespondentBehaviour

if TYPE_CHECKING:
    from dialer.surveys.model import Script

__all__ = ["RecordPlan", "Respondent", "prompt_keys_of"]

DIGITS = "0123456789"
#: Seconds between the keys of a number and the C{#} that ends it.
INTER_KEY = 0.6

Kind = Literal["hangup", "none", "star", "invalid", "valid"]


@dataclass(frozen=True)
class RecordPlan:
    """What the person does while a comment is recorded."""

    speech: float  # seconds of speech (0: silent)
    end: Literal["key", "silence", "hangup"]


@dataclass
class _Plan:
    kind: Kind
    hesitation: float
    barge_in: bool
    accepted: str


def _sound_name(sound: str) -> str:
    return sound.rsplit("/", 1)[-1]


class Respondent:
    """One simulated person on one call (see the module docstring)."""

    def __init__(
        self,
        behaviour: RespondentBehaviour,
        rng: random.Random,
        prompt_keys: Mapping[str, str] | None = None,
        *,
        script: Sequence[str] = (),
    ) -> None:
        self.b = behaviour
        self.rng = rng
        self.prompt_keys = prompt_keys or {}
        #: Scripted turns, used before any draw (tests): valid, invalid, none, star,
        #: hangup; at a RECORD FILE: comment# (ended with #), comment (ends on silence),
        #: none, hangup. Keys are still drawn (use C{keys} to fix them).
        self.script = deque(script)
        #: What the person did, turn by turn: (kind, key or None).
        self.actions: list[tuple[str, str | None]] = []
        #: Decided to hang up: hears nothing more.
        self.leaving = False
        self.plan: _Plan | None = None
        self.sounds: list[str] = []  # heard in this turn
        self.escapes: list[str] = []  # escape digits of this turn's playbacks
        #: What the previous turn did: start, valid, invalid, none, star, record.
        self.last = "start"
        #: The keys of an entry still arriving until this time (relative to C{now} calls).
        self.busy_until = float("-inf")
        #: Questions (turns that were not a re-ask or a read-back), for tests and figures.
        self.questions = 0

    # -- what the IVR does ------------------------------------------------------------

    def playback(self, now: float, sound: str, escape: str, seconds: float) -> Reaction:
        """A sound plays with C{escape} digits: the person may press a key into it."""
        if now < self.busy_until or self.leaving:
            return Reaction()
        self.sounds.append(sound)
        self.escapes.append(escape)
        if self.last == "start":
            # The first thing heard (the intro): a person who will not take part hangs up now.
            plan = self._plan()
            if plan.kind == "hangup":
                return self._hang_up(uniform_part(self.rng, seconds) + plan.hesitation)
        if not any(d in DIGITS for d in escape):
            return Reaction()  # nothing to answer yet (an intro, a read-back's first part)
        plan = self._plan()
        if plan.kind == "hangup":
            return self._hang_up(uniform_part(self.rng, seconds) + plan.hesitation)
        if plan.kind == "valid" and plan.barge_in:
            plan.accepted = self._accepted()
            key = self._valid_key(plan.accepted)
            if key in escape:
                return self._press(now, uniform_part(self.rng, seconds), key, plan)
        return Reaction()

    def get_data(self, now: float, sound: str, prompt_seconds: float, max_digits: int) -> Reaction:
        """C{GET DATA}: the last prompt of a question, then the IVR waits for keys."""
        if self.leaving:
            return Reaction()
        self.sounds.append(sound)
        plan = self._plan()
        if plan.kind == "valid" and plan.barge_in:
            return self._act(now, plan, uniform_part(self.rng, prompt_seconds), max_digits)
        return self._act(now, plan, prompt_seconds + plan.hesitation, max_digits)

    def wait_for_digit(self, now: float) -> Reaction:
        """C{WAIT FOR DIGIT}: the IVR waits (the rest of an entry, or a question's answer)."""
        if now < self.busy_until or self.leaving:
            return Reaction()  # the rest of an entry already on its way
        plan = self._plan()
        return self._act(now, plan, plan.hesitation, 1)

    def record(self, now: float, max_seconds: float | None) -> RecordPlan:
        """C{RECORD FILE}: speak a comment, end it with C{#}, silence, or a hang-up."""
        if self.leaving:
            return RecordPlan(0.0, "silence")
        again = self.last in ("invalid", "none", "star")
        self._end_turn("record")
        kind = self.script.popleft() if self.script else self._draw_comment(again)
        self.actions.append((kind, None))
        if kind == "none":
            return RecordPlan(0.0, "silence")
        speech = self._speech(max_seconds)
        if kind == "hangup":
            self.leaving = True
            return RecordPlan(speech, "hangup")
        return RecordPlan(speech, "key" if kind == "comment#" else "silence")

    def _draw_comment(self, again: bool) -> str:
        b, rng = self.b, self.rng
        x = rng.random()
        if not again:
            self.questions += 1
            if x < b.hangup:
                return "hangup"
            x -= b.hangup
        if x < b.no_input:
            return "none"
        return "comment#" if rng.random() < b.comment_key else "comment"

    # -- internals ----------------------------------------------------------------------

    def _speech(self, max_seconds: float | None) -> float:
        speech = max(self.b.comment.sample(self.rng), 0.5)
        return min(speech, max_seconds) if max_seconds else speech

    def _accepted(self) -> str:
        """The keys this question accepts, as far as the person can tell ("" = any digit)."""
        for sound in reversed(self.sounds):
            name = _sound_name(sound)
            keys = self.prompt_keys.get(name)
            if keys is None:
                keys = self.prompt_keys.get(re.sub(r"-\d+$", "", name))
            if keys is not None:
                return keys
        for escape in reversed(self.escapes):
            if any(d in DIGITS for d in escape):
                return escape
            if "#" in escape and self.last == "valid":
                return escape  # a read-back of the answer just given
        return ""

    def _plan(self) -> _Plan:
        if self.plan is not None:
            return self.plan
        b, rng = self.b, self.rng
        accepted = self._accepted()
        confirm = "#" in accepted and not any(d in DIGITS for d in accepted)
        again = self.last in ("invalid", "none", "star")
        hesitation = b.hesitation.sample(rng)
        kind: Kind
        if self.script:
            kind = self.script.popleft()  # type: ignore[assignment]
            self.plan = _Plan(kind, hesitation, False, accepted)
            return self.plan
        x = rng.random()
        if not again and not confirm:
            self.questions += 1
            if x < b.hangup:
                self.plan = _Plan("hangup", hesitation, False, accepted)
                return self.plan
        x = rng.random()  # the rest is drawn again on every asking
        if x < b.no_input:
            kind = "none"
        elif x < b.no_input + b.star:
            kind = "star"
        elif not confirm and x < b.no_input + b.star + b.invalid:
            kind = "invalid"
        else:
            kind = "valid"
        barge = kind == "valid" and not confirm and rng.random() < b.barge_in
        self.plan = _Plan(kind, hesitation, barge, accepted)
        return self.plan

    def _valid_key(self, accepted: str) -> str:
        if "#" in accepted and not any(d in DIGITS for d in accepted):
            return "#"
        allowed = [d for d in accepted if d in DIGITS]
        weights = [(k, w) for k, w in self.b.keys if k in DIGITS and (not allowed or k in allowed)]
        if not weights:
            return self.rng.choice(allowed or list(DIGITS[1:5]))
        pick = self.rng.uniform(0, sum(w for _, w in weights))
        acc = 0.0
        for k, w in weights:
            acc += w
            if pick <= acc:
                return k
        return weights[-1][0]

    def _invalid_key(self, accepted: str) -> str:
        allowed = [d for d in accepted if d in DIGITS] or [k for k, _ in self.b.keys]
        return self.rng.choice([d for d in DIGITS if d not in allowed] or ["*"])

    def _act(self, now: float, plan: _Plan, delay: float, max_digits: int) -> Reaction:
        plan.accepted = self._accepted()  # what this prompt asks for (the plan may be older)
        if plan.kind == "hangup":
            return self._hang_up(delay)
        if plan.kind == "none":
            self._end_turn("none")
            return Reaction()
        if plan.kind == "star":
            return self._press(now, delay, "*", plan)
        if plan.kind == "invalid":
            return self._press(now, delay, self._invalid_key(plan.accepted), plan)
        key = self._valid_key(plan.accepted)
        if max_digits > 1 and key != "#":
            self.busy_until = now + delay + INTER_KEY - 0.1  # until just before the #
            self._end_turn("valid", key + "#")
            return Reaction(digits=((delay, key), (delay + INTER_KEY, "#")))
        return self._press(now, delay, key, plan)

    def _press(self, now: float, delay: float, key: str, plan: _Plan) -> Reaction:
        # A number question's first key pressed into a playback: '#' follows (WAIT FOR DIGIT).
        digits = [d for d in plan.accepted if d in DIGITS]
        number = ("#" in plan.accepted and bool(digits)) or len(digits) == len(DIGITS)
        entry = plan.kind == "valid" and key != "#" and number
        self._end_turn(plan.kind, key)
        if entry:
            self.busy_until = now + delay + INTER_KEY - 0.1  # until just before the #
            self.actions[-1] = (plan.kind, key + "#")
            return Reaction(digits=((delay, key), (delay + INTER_KEY, "#")))
        return Reaction(digits=((delay, key),))

    def _hang_up(self, delay: float) -> Reaction:
        self._end_turn("hangup")
        self.leaving = True
        return Reaction(hangup_after=delay)

    def _end_turn(self, kind: str, key: str | None = None) -> None:
        if kind != "record":
            self.actions.append((kind, key))
        self.last = kind
        self.plan = None
        self.sounds = []
        self.escapes = []


def uniform_part(rng: random.Random, seconds: float) -> float:
    """A moment within a prompt of C{seconds} (in its second half: people listen first)."""
    return rng.uniform(0.5, 1.0) * max(seconds, 0.0)


def prompt_keys_of(script: Script) -> dict[str, str]:
    """
    What each question prompt of C{script} asks for, as a person hearing it understands:
    prompt id -> keys (option keys; digits and C{#} for a number; C{#*} for a read-back;
    the language menu's keys). Prompts that ask for nothing (intro, thanks) are left out.
    """
    out: dict[str, str] = {}
    repeat = script.keys.repeat
    questions = [q for _, q in script.questions()]
    for q in questions:
        if q.kind == "record":
            continue
        if q.kind == "choice":
            keys = "".join(o.key for o in q.options) + repeat
        else:
            keys = DIGITS + "#" + repeat
        for pid in q.prompts:
            out[pid] = keys
        hint = script.scales[q.scale].prompt if q.scale is not None else None
        if hint is not None:
            out[hint] = keys
        if q.confirm:
            out[q.confirm_prompt] = script.keys.confirm + repeat
    menu = script.language_menu
    if menu is not None:
        out[menu.prompt] = "".join(menu.keys)
    return out
