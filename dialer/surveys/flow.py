"""
The survey flow: a pure state machine over a L{Script}. No Twisted, no clock, no I/O.

The same flow drives the keypad (the FastAGI runner) and, later, the interviewer
desktop: an interviewer clicking an option sends the same event as a caller pressing
its key. States are immutable, so a desktop can keep the previous ones for "back".

Driving it::

    state, step = flow.start(script, unit_code="451202", language="zh-CN")
    while not isinstance(step, flow.End):
        event = perform(step)               # the runner's / desktop's job, see below
        state, step = flow.next_step(state, event)
    # step.outcome: complete / partial / break_off / refused / ineligible

Steps (what to do next) and the events each one answers with:

  - L{Play}C{(prompts, escape)}: play the prompts in order; a key in C{escape} may
    interrupt. Reply C{Done()} when played to the end, C{Digits(key)} when interrupted
    (the repeat key C{*} plays them again, any other key skips on), C{Hangup()}.
  - L{Collect}C{(question_id, unit_code, kind, prompts, keys, min_digits, max_digits,
    timeout, choices)}: play the prompts and collect up to C{max_digits} keys, waiting
    C{timeout} seconds (GET DATA). Reply C{Digits(keys)} with exactly what was pressed
    (an empty string counts as no input), C{NoInput()} on timeout, C{Hangup()}.
    Do not judge the keys: a wrong key is the flow's business (it answers with the
    invalid-key prompt and asks again, up to the question's retries). C{kind} is
    C{choice}, C{number} or C{confirm} (after a choice on a question with C{confirm}:
    C{#} confirms, C{*} asks again, no input accepts). C{keys} lists the keys that mean
    something (use them as escape digits when playing several prompts one by one).
    C{kind} C{language} is the script's language menu, put first when C{start} got no
    language: the chosen language is C{state.language} from then on.
  - L{Record}C{(question_id, unit_code, prompts, max_seconds, silence_seconds, terminator,
    beep)}: play the prompts, then record (RECORD FILE ... "#" max_seconds*1000 BEEP
    s=silence_seconds). Reply C{RecordDone(path, seconds)}, or C{NoInput()} when nothing
    was recorded, or C{Hangup()}.
  - L{Answer}: store this answer now (question, unit, code, key, attempt counts), then
    reply C{Done()}. Storing before going on is what keeps answers 1..3 when the caller
    hangs up during question 4. A C{Hangup()} here also ends the flow; the answer stands.
  - L{End}C{(outcome, aapor, reason, answered, applicable)}: finished. Nothing to play
    (the closing prompts came as a L{Play} before). Any further event returns the same End.

A desktop also has C{Skip()}: the respondent will not answer this question (an item
non-response: nothing is stored, the question counts as missed, the flow goes on).

Every step is answered by exactly one event; C{Hangup()} is accepted everywhere. An
event that does not fit the step is read leniently (C{Done}/C{RecordDone} during a
Collect count as no input, keys during a Record as nothing recorded), so a confused
caller or shell cannot crash the flow. Every path ends: retries, repeats and question
visits (C{goto} loops) are all bounded.

Prompts come as L{Say}: the prompt id, its text in the chosen language with C{{unit}}
and C{{option}} filled in (for a screen, or a log), C{audio}, the sound files to play
in order, as names relative to Asterisk's sounds directory without extension
(C{minyi/<script>/<lang>/<name>}, see L{dialer.surveys.prompts}, or a sound the script
names), and C{role} (intro, question, keypad, retry, confirm, closing): a screen shows
the question and the C{choices} and can leave out the keypad talk.

After the closing prompts have started, a hang-up keeps the outcome already decided. C{Timeout} is an alias of C{NoInput}.
There is no "invalid" event: the shell reports the keys, the flow judges them.

The outcome at the end follows AAPOR: explicit refusal (consent declined) is
C{refused}; a hang-up before the first substantive question is C{refused}; otherwise
the share of applicable substantive questions answered decides C{complete} (>=
C{script.complete_min}), C{partial} (>= C{script.partial_min}) or C{break_off}.
"Applicable" counts the questions asked, plus, after a hang-up, those not reached that
would have been asked unconditionally.

test-case-name: tests.surveys.test_flow
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from dialer.surveys.model import (
    AAPOR_CODES,
    CONTACT_UNIT,
    Block,
    Option,
    Outcome,
    Question,
    Script,
)
from dialer.surveys.prompts import render

__all__ = [
    "Answer",
    "Choice",
    "Collect",
    "Digits",
    "Done",
    "End",
    "Event",
    "FlowError",
    "Hangup",
    "NoInput",
    "Play",
    "Record",
    "RecordDone",
    "Say",
    "SayRole",
    "Skip",
    "State",
    "Step",
    "next_step",
    "start",
]


SayRole = Literal["intro", "question", "keypad", "retry", "confirm", "closing"]


class FlowError(ValueError):
    """The flow cannot start: unknown language or unit."""


# --- what the flow asks for ------------------------------------------------------------


@dataclass(frozen=True)
class Say:
    """One prompt, rendered: its id, its text, and the sound files that speak it."""

    prompt_id: str
    text: str
    audio: tuple[str, ...]
    #: What it is for, so a screen can show the question and hide keypad talk:
    #: intro, question, keypad (a scale's "press 1 for ..."), retry, confirm, closing.
    role: SayRole = "question"


@dataclass(frozen=True)
class Choice:
    """An option as a screen shows it: the key (= the button), code and label."""

    key: str
    code: int
    label: str


@dataclass(frozen=True)
class Play:
    prompts: tuple[Say, ...]
    escape: str = ""


@dataclass(frozen=True)
class Collect:
    question_id: str
    unit_code: str | None
    kind: Literal["choice", "number", "confirm", "language"]
    prompts: tuple[Say, ...]
    keys: str
    min_digits: int
    max_digits: int
    timeout: float
    choices: tuple[Choice, ...] = ()
    #: How many times this question has been put in this visit (1 = first time).
    attempt: int = 1


@dataclass(frozen=True)
class Record:
    question_id: str
    unit_code: str | None
    prompts: tuple[Say, ...]
    max_seconds: int
    silence_seconds: int
    terminator: str = "#"
    beep: bool = True


@dataclass(frozen=True)
class Answer:
    question_id: str
    unit_code: str | None
    block_id: str
    kind: Literal["choice", "number", "record"]
    #: Option code (choice), the number (number), None (record).
    code: int | None
    #: The key(s) pressed, None for a recording.
    key: str | None
    label: str | None = None
    weight: float | None = None
    recording: str | None = None
    seconds: float | None = None
    #: Wrong keys and timeouts before this answer, on this visit.
    invalid: int = 0
    no_input: int = 0


@dataclass(frozen=True)
class End:
    outcome: Outcome
    aapor: str
    #: finished / declined / hangup / no_input / invalid / loop_limit / screened_out
    reason: str
    answered: int
    applicable: int


Step = Play | Collect | Record | Answer | End


# --- what happened ---------------------------------------------------------------------


@dataclass(frozen=True)
class Digits:
    digits: str


@dataclass(frozen=True)
class NoInput:
    pass


@dataclass(frozen=True)
class Done:
    pass


@dataclass(frozen=True)
class RecordDone:
    path: str
    seconds: float


@dataclass(frozen=True)
class Hangup:
    pass


@dataclass(frozen=True)
class Skip:
    """The desktop's "respondent will not answer this one": no answer, go on."""


Event = Digits | NoInput | Done | RecordDone | Hangup | Skip

#: Alias: a GET DATA timeout.
Timeout = NoInput


# --- state -----------------------------------------------------------------------------

Phase = Literal["language", "intro", "ask", "confirm", "answered", "closing", "ended"]
Slot = tuple[str, str | None]  # (question id, unit code)


@dataclass(frozen=True)
class State:
    script: Script
    language: str
    contact_unit: str | None
    unit_name: str | None
    phase: Phase = "intro"
    block: int = 0
    unit_index: int = 0
    question: int = 0
    invalid: int = 0
    no_input: int = 0
    repeats: int = 0
    pending_key: str | None = None
    #: After an Answer: where to go (question id of the block), or the outcome to end with.
    after_goto: str | None = None
    after_end: Outcome | None = None
    answers: tuple[tuple[Slot, int | None], ...] = ()
    answered: frozenset[Slot] = frozenset()
    missed: frozenset[Slot] = frozenset()
    visits: tuple[tuple[Slot, int], ...] = ()
    started: bool = False
    end: End | None = None
    step: Step | None = None

    # convenience for shells and screens
    def current(self) -> tuple[Block, str | None, Question] | None:
        """The block, unit and question being asked, if any."""
        if self.phase not in ("ask", "confirm", "answered"):
            return None
        if self.block >= len(self.script.blocks):
            return None
        block = self.script.blocks[self.block]
        units = _units(self, block)
        if self.unit_index >= len(units) or self.question >= len(block.questions):
            return None
        return block, units[self.unit_index], block.questions[self.question]

    def answer_of(self, question_id: str, unit_code: str | None = None) -> int | None:
        """The latest code given to a question (for a unit), or None."""
        found: int | None = None
        for (qid, unit), code in self.answers:
            if qid == question_id and unit == unit_code:
                found = code
        return found


def start(
    script: Script,
    *,
    unit_code: str | None = None,
    unit_name: str | None = None,
    language: str | None = None,
) -> tuple[State, Step]:
    """Begin a questionnaire for a contact of unit C{unit_code} in C{language} (default: the first).

    C{unit_name} overrides the unit's name in texts (not in audio).
    """
    lang = language or script.languages[0]
    if lang not in script.languages:
        raise FlowError(
            f"language {lang!r} not in script {script.id} ({', '.join(script.languages)})"
            f" / 问卷不支持该语言"
        )
    if script.uses_contact_unit():
        if unit_code is None:
            raise FlowError(f"script {script.id} asks about the contact's unit: give unit_code")
        if unit_code not in script.units:
            raise FlowError(
                f"unit {unit_code!r} is not listed in script {script.id} / 单位不在问卷中"
            )
    state = State(script=script, language=lang, contact_unit=unit_code, unit_name=unit_name)
    menu = script.language_menu
    if menu is not None and language is None:
        says = tuple(
            Say(menu.prompt, *render(script, menu.prompt, code), role="intro")
            for code in script.languages
        )
        keys = "".join(menu.keys)
        choices = tuple(
            Choice(key, script.languages.index(code) + 1, code) for key, code in menu.keys.items()
        )
        step = Collect("language", None, "language", says, keys, 1, 1, menu.timeout, choices)
        return _emit(_replace(state, phase="language"), step)
    return _after_language(state)


def _after_language(state: State) -> tuple[State, Step]:
    script = state.script
    if script.intro:
        return _emit(
            state, Play(_says(state, script.intro, role="intro"), escape=_intro_escape(script))
        )
    return _arrive(_replace(state, phase="ask"))


def next_step(state: State, event: Event) -> tuple[State, Step]:
    """Feed the outcome of the last step; get the new state and the next step."""
    if state.phase == "ended":
        assert state.end is not None
        return state, state.end
    if isinstance(event, Hangup):
        return _end(state, None, "hangup", hangup=True)
    if state.phase == "language":
        menu = state.script.language_menu
        assert menu is not None
        digits = event.digits if isinstance(event, Digits) else ""
        chosen = menu.keys.get(digits, state.language)  # no key, wrong key: the default
        return _after_language(_replace(state, language=chosen, phase="intro"))
    if state.phase == "intro":
        repeat = isinstance(event, Digits) and event.digits == state.script.keys.repeat
        if repeat and state.repeats < _max_intro_repeats:
            state = _replace(state, repeats=state.repeats + 1)
            return _emit(state, state.step or Play(()))
        return _arrive(_replace(state, phase="ask", repeats=0))
    if state.phase == "closing":
        assert state.end is not None
        return _emit(_replace(state, phase="ended"), state.end)
    if state.phase == "answered":
        if state.after_end is not None:
            reason = "declined" if state.after_end == "refused" else "screened_out"
            if state.after_end == "complete":
                reason = "finished"
            return _end(state, state.after_end, reason)
        return _advance(state, state.after_goto)
    here = state.current()
    assert here is not None
    block, unit, question = here
    if isinstance(event, Skip):
        return _skip(state, unit, question)
    if state.phase == "confirm":
        return _on_confirm(state, block, unit, question, event)
    if question.kind == "record":
        if isinstance(event, RecordDone) and event.seconds > 0 and event.path:
            return _answer(
                state,
                block,
                unit,
                question,
                code=None,
                key=None,
                recording=event.path,
                seconds=event.seconds,
            )
        return _skip(state, unit, question)
    digits = event.digits if isinstance(event, Digits) else ""
    if digits == "":
        return _retry(state, block, unit, question, "no_input")
    if digits == state.script.keys.repeat:
        return _repeat(state, unit, question)
    if question.kind == "choice":
        option = question.option_by_key(digits)
        if option is None:
            return _retry(state, block, unit, question, "invalid")
        if question.confirm:
            state = _replace(state, phase="confirm", pending_key=option.key)
            return _emit(state, _confirm_step(state, unit, question, option))
        return _choose(state, block, unit, question, option)
    value = _number(question, digits)
    if value is None:
        return _retry(state, block, unit, question, "invalid")
    return _answer(state, block, unit, question, code=value, key=digits)


# --- internals -------------------------------------------------------------------------

_max_intro_repeats = 3
_FIELDS = frozenset(f.name for f in dataclasses.fields(State))


def _replace(state: State, **changes: Any) -> State:
    """C{dataclasses.replace} for State, ten times faster (no __init__; fields are checked)."""
    assert _FIELDS.issuperset(changes), set(changes) - _FIELDS
    new = object.__new__(State)
    new.__dict__.update(state.__dict__)
    new.__dict__.update(changes)
    return new


def _intro_escape(script: Script) -> str:
    return script.keys.repeat + script.keys.confirm


def _emit(state: State, step: Step) -> tuple[State, Step]:
    return _replace(state, step=step), step


def _units(state: State, block: Block) -> list[str | None]:
    if not block.units:
        return [None]
    return [state.contact_unit if code == CONTACT_UNIT else code for code in block.units]


def _says(
    state: State,
    prompt_ids: tuple[str, ...],
    unit: str | None = None,
    question: Question | None = None,
    option: Option | None = None,
    *,
    role: SayRole = "question",
    lead: int = 0,
) -> tuple[Say, ...]:
    """Render prompts; the first C{lead} ones are retry prompts, a scale's hint is keypad talk."""
    hint = None
    if question is not None and question.scale is not None:
        hint = state.script.scales[question.scale].prompt
    out = []
    for i, pid in enumerate(prompt_ids):
        text, audio = render(
            state.script,
            pid,
            state.language,
            unit_code=unit,
            unit_name=state.unit_name if unit == state.contact_unit else None,
            question=question,
            option=option,
        )
        this: SayRole = "retry" if i < lead else "keypad" if pid == hint else role
        out.append(Say(pid, text, audio, this))
    return tuple(out)


def _choices(state: State, question: Question) -> tuple[Choice, ...]:
    lang = state.language
    return tuple(
        Choice(o.key, o.code, o.label.get(lang, next(iter(o.label.values()), "")))
        for o in question.options
    )


def _collect(
    state: State, unit: str | None, question: Question, lead: tuple[str, ...] = ()
) -> Step:
    says = _says(state, (*lead, *question.prompts), unit, question, lead=len(lead))
    attempt = 1 + state.invalid + state.no_input + state.repeats
    if question.kind == "record":
        return Record(
            question.id,
            unit,
            says,
            question.max_seconds,
            question.silence_seconds,
            state.script.keys.record_end,
            question.beep,
        )
    if question.kind == "choice":
        keys = "".join(o.key for o in question.options) + state.script.keys.repeat
        return Collect(
            question.id,
            unit,
            "choice",
            says,
            keys,
            1,
            max(len(o.key) for o in question.options),
            question.timeout,
            _choices(state, question),
            attempt,
        )
    return Collect(
        question.id,
        unit,
        "number",
        says,
        "0123456789" + state.script.keys.repeat,
        question.min_digits,
        question.max_digits,
        question.timeout,
        (),
        attempt,
    )


def _confirm_step(state: State, unit: str | None, question: Question, option: Option) -> Step:
    keys = state.script.keys
    return Collect(
        question.id,
        unit,
        "confirm",
        _says(state, (question.confirm_prompt,), unit, question, option, role="confirm"),
        keys.confirm + keys.repeat,
        1,
        1,
        question.timeout,
        _choices(state, question),
        1 + state.invalid + state.no_input + state.repeats,
    )


def _condition_holds(state: State, block: Block, unit: str | None, question: Question) -> bool:
    in_block = {q.id for q in block.questions}
    for cond in question.ask_if:
        slot_unit = unit if cond.question in in_block else None
        code = state.answer_of(cond.question, slot_unit)
        if code is None or code not in cond.codes:
            return False
    return True


def _arrive(state: State) -> tuple[State, Step]:
    """Put the question at the current position, skipping those whose ask_if fails."""
    script = state.script
    while True:
        if state.block >= len(script.blocks):
            return _end(state, None, "finished")
        block = script.blocks[state.block]
        units = _units(state, block)
        if state.unit_index >= len(units) or not block.questions:
            state = _replace(state, block=state.block + 1, unit_index=0, question=0)
            continue
        if state.question >= len(block.questions):
            state = _replace(state, unit_index=state.unit_index + 1, question=0)
            continue
        unit = units[state.unit_index]
        question = block.questions[state.question]
        if not _condition_holds(state, block, unit, question):
            state = _replace(state, question=state.question + 1)
            continue
        slot: Slot = (question.id, unit)
        visits = dict(state.visits)
        count = visits.get(slot, 0) + 1
        if count > script.max_visits:
            return _end(state, None, "loop_limit")
        visits[slot] = count
        state = _replace(
            state,
            phase="ask",
            visits=tuple(visits.items()),
            invalid=0,
            no_input=0,
            repeats=0,
            pending_key=None,
            after_goto=None,
            after_end=None,
            started=state.started or question.substantive,
        )
        return _emit(state, _collect(state, unit, question))


def _advance(state: State, goto: str | None) -> tuple[State, Step]:
    block = state.script.blocks[state.block]
    if goto is not None:
        return _arrive(_replace(state, question=block.index_of(goto)))
    return _arrive(_replace(state, question=state.question + 1))


def _repeat(state: State, unit: str | None, question: Question) -> tuple[State, Step]:
    if state.repeats >= question.max_repeats:
        block = state.script.blocks[state.block]
        return _retry(state, block, unit, question, "invalid")
    state = _replace(state, phase="ask", repeats=state.repeats + 1, pending_key=None)
    return _emit(state, _collect(state, unit, question))


def _retry(
    state: State,
    block: Block,
    unit: str | None,
    question: Question,
    why: Literal["invalid", "no_input"],
) -> tuple[State, Step]:
    if why == "invalid":
        state = _replace(state, invalid=state.invalid + 1, pending_key=None)
        exhausted = state.invalid > question.max_invalid
        lead = question.invalid_prompt
    else:
        state = _replace(state, no_input=state.no_input + 1, pending_key=None)
        exhausted = state.no_input > question.max_no_input
        lead = question.no_input_prompt
    if exhausted:
        if question.on_fail == "end":
            return _end(state, None, why)
        return _skip(state, unit, question)
    state = _replace(state, phase="ask")
    return _emit(state, _collect(state, unit, question, (lead,)))


def _skip(state: State, unit: str | None, question: Question) -> tuple[State, Step]:
    if question.substantive:
        state = _replace(state, missed=state.missed | {(question.id, unit)})
    return _advance(state, question.goto)


def _on_confirm(
    state: State, block: Block, unit: str | None, question: Question, event: Event
) -> tuple[State, Step]:
    keys = state.script.keys
    assert state.pending_key is not None
    option = question.option_by_key(state.pending_key)
    assert option is not None
    digits = event.digits if isinstance(event, Digits) else ""
    if digits in ("", keys.confirm):
        return _choose(state, block, unit, question, option)
    if digits == keys.repeat:
        return _repeat(state, unit, question)
    return _retry(state, block, unit, question, "invalid")


def _choose(
    state: State, block: Block, unit: str | None, question: Question, option: Option
) -> tuple[State, Step]:
    label = option.label.get(state.language)
    return _answer(
        state,
        block,
        unit,
        question,
        code=option.code,
        key=option.key,
        label=label,
        weight=option.weight,
        goto=option.goto or question.goto,
        end=option.end,
    )


def _answer(
    state: State,
    block: Block,
    unit: str | None,
    question: Question,
    *,
    code: int | None,
    key: str | None,
    label: str | None = None,
    weight: float | None = None,
    recording: str | None = None,
    seconds: float | None = None,
    goto: str | None = None,
    end: Outcome | None = None,
) -> tuple[State, Step]:
    slot: Slot = (question.id, unit)
    answered = state.answered | {slot} if question.substantive else state.answered
    step = Answer(
        question.id,
        unit,
        block.id,
        question.kind,
        code,
        key,
        label,
        weight,
        recording,
        seconds,
        state.invalid,
        state.no_input,
    )
    state = _replace(
        state,
        phase="answered",
        pending_key=None,
        answers=(*state.answers, (slot, code)),
        answered=answered,
        missed=state.missed - {slot},
        after_goto=goto if goto is not None else question.goto,
        after_end=end,
    )
    return _emit(state, step)


def _number(question: Question, digits: str) -> int | None:
    if not digits.isdigit() or not digits.isascii():
        return None
    if not question.min_digits <= len(digits) <= question.max_digits:
        return None
    value = int(digits)
    if question.min_value is not None and value < question.min_value:
        return None
    if question.max_value is not None and value > question.max_value:
        return None
    return value


def _not_reached(state: State) -> int:
    """Unconditional substantive questions after the current position (for a hang-up)."""
    count = 0
    for b, block in enumerate(state.script.blocks):
        units = _units(state, block)
        for u in range(len(units)):
            for q, question in enumerate(block.questions):
                if not question.substantive or question.ask_if:
                    continue
                if (b, u, q) <= (state.block, state.unit_index, state.question):
                    continue
                if (question.id, units[u]) in state.answered | state.missed:
                    continue
                count += 1
    return count


def _end(
    state: State, outcome: Outcome | None, reason: str, *, hangup: bool = False
) -> tuple[State, Step]:
    if state.end is not None:  # hang-up during the closing prompts: the outcome stands
        return _emit(_replace(state, phase="ended"), state.end)
    answered = len(state.answered)
    applicable = answered + len(state.missed)
    here = state.current()
    if here is not None and state.phase != "answered":
        _, unit, question = here
        if question.substantive and (question.id, unit) not in state.answered:
            applicable += 1  # the question being asked counts as missed
    if hangup or reason in ("no_input", "invalid", "loop_limit"):
        applicable += _not_reached(state)
    if outcome is None:
        script = state.script
        if not state.started:
            outcome = "refused"
        elif applicable == 0 or answered / applicable >= script.complete_min:
            outcome = "complete"
        elif answered / applicable >= script.partial_min:
            outcome = "partial"
        else:
            outcome = "break_off"
    end = End(outcome, AAPOR_CODES[outcome], reason, answered, applicable)
    closing = state.script.closing.get(outcome, ())
    if hangup or not closing:
        return _emit(_replace(state, phase="ended", end=end), end)
    state = _replace(state, phase="closing", end=end)
    return _emit(state, Play(_says(state, closing, role="closing"), escape=""))
