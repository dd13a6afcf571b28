# -*- test-case-name: tests.sim.test_profile -*-
"""
Callee, respondent and agent behaviour for the simulated PBX: pure code, no Twisted.

A profile is a TOML or YAML file (C{version = 1}); see C{dialer/sim/profiles/*.toml}. Every
random draw takes an injected C{random.Random}, so a seed reproduces a run exactly.

Two callee modes:

- C{mode = "profile"}: each originated number draws an outcome from the shares in
  C{[callee]} (answer, machine, busy, no_answer, congestion, rejected, unallocated), a ring
  time and a talk time; answering people react to IVR prompts per C{[respondent]}. What
  Asterisk's AMD() concludes about an answering person or machine, and after how long, is
  C{amd_human_after}, C{amd_machine_after}, C{amd_false_machine} and C{amd_false_human}.
- C{mode = "last-digit"}: the reference rig (C{asterisk_conf/extensions-testrig.conf}): the
  last digit of the number selects a fixed behaviour, so the reference traces replay exactly.
"""

from __future__ import annotations

import math
import random
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dialer.sim.dialplan import Step

__all__ = [
    "OUTCOMES",
    "AgentBehaviour",
    "CalleeBehaviour",
    "Dist",
    "Profile",
    "ProfileError",
    "Reaction",
    "RespondentBehaviour",
    "agent_steps",
    "callee_steps",
    "load_profile",
    "parse_profile",
]

#: Callee outcomes, in the order shares are drawn.
OUTCOMES = ("answer", "machine", "busy", "no_answer", "congestion", "rejected", "unallocated")


class ProfileError(ValueError):
    """The profile file is not valid."""


@dataclass(frozen=True)
class Dist:
    """A duration distribution in seconds: fixed, uniform, normal, lognormal or exp, clamped."""

    kind: str = "fixed"
    a: float = 0.0  # fixed value / uniform min / mean
    b: float = 0.0  # uniform max / standard deviation
    lo: float = 0.0
    hi: float = math.inf

    def sample(self, rng: random.Random) -> float:
        """Draw one value (never negative, within [lo, hi])."""
        if self.kind == "fixed":
            v = self.a
        elif self.kind == "uniform":
            v = rng.uniform(self.a, self.b)
        elif self.kind == "normal":
            v = rng.gauss(self.a, self.b)
        elif self.kind == "lognormal":
            # a = mean, b = sd of the distribution itself (not of the log)
            mean, sd = max(self.a, 1e-9), max(self.b, 1e-9)
            sigma2 = math.log(1 + (sd / mean) ** 2)
            v = rng.lognormvariate(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))
        else:  # exp
            v = rng.expovariate(1.0 / max(self.a, 1e-9))
        return min(max(v, self.lo, 0.0), self.hi)

    @property
    def mean(self) -> float:
        """The nominal mean (before clamping)."""
        if self.kind == "uniform":
            return (self.a + self.b) / 2
        return self.a


def _dist(value: Any, where: str) -> Dist:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Dist("fixed", float(value), lo=float(value), hi=float(value))
    if not isinstance(value, Mapping):
        raise ProfileError(f"{where}: expected a number or a table")
    v = dict(value)
    lo = float(v.pop("min", 0.0))
    hi = float(v.pop("max", math.inf))
    kind = str(v.pop("kind", ""))
    if not kind:
        kind = "normal" if "mean" in v and "sd" in v else ("exp" if "mean" in v else "uniform")
    if kind == "uniform":
        d = Dist("uniform", lo, hi if math.isfinite(hi) else lo, lo, hi)
    elif kind in ("normal", "lognormal"):
        d = Dist(kind, float(v.pop("mean")), float(v.pop("sd", 0.0)), lo, hi)
    elif kind == "exp":
        d = Dist("exp", float(v.pop("mean")), 0.0, lo, hi)
    elif kind == "fixed":
        d = Dist("fixed", float(v.pop("value")), 0.0, lo, hi)
    else:
        raise ProfileError(f"{where}: unknown distribution kind {kind!r}")
    if v:
        raise ProfileError(f"{where}: unknown keys {sorted(v)}")
    return d


@dataclass(frozen=True)
class CalleeBehaviour:
    """How called numbers behave (C{[callee]})."""

    shares: tuple[tuple[str, float], ...] = (("answer", 0.3), ("no_answer", 0.7))
    ring: Dist = Dist("uniform", 2.0, 12.0, 2.0, 12.0)
    no_answer_after: float = 30.0
    busy_after: float = 0.5
    talk: Dist = Dist("fixed", 600.0, lo=600.0, hi=600.0)
    machine_greeting: Dist = Dist("uniform", 4.0, 10.0, 4.0, 10.0)
    machine_talk: Dist = Dist("fixed", 20.0, lo=20.0, hi=20.0)
    #: Seconds from the start of AMD() to its verdict, for a machine and for a person.
    amd_machine_after: Dist = Dist("fixed", 3.0, lo=3.0, hi=3.0)
    amd_human_after: Dist = Dist("fixed", 1.5, lo=1.5, hi=1.5)
    #: AMD errors: the share of people judged MACHINE, and of machines judged HUMAN.
    amd_false_machine: float = 0.0
    amd_false_human: float = 0.0

    def outcome(self, rng: random.Random) -> str:
        """Draw one outcome from the shares."""
        x = rng.random()
        acc = 0.0
        for name, share in self.shares:
            acc += share
            if x < acc:
                return name
        return self.shares[-1][0]


@dataclass(frozen=True)
class RespondentBehaviour:
    """
    How an answering person takes the IVR survey (C{[respondent]}); shares are per
    question (see L{dialer.sim.respondent}), not per sound file.
    """

    #: Seconds after a prompt ends before the person presses a key.
    hesitation: Dist = Dist("uniform", 0.5, 3.0, 0.5, 3.0)
    no_input: float = 0.05
    invalid: float = 0.03
    star: float = 0.01
    #: Hang up instead of answering; drawn once per question.
    hangup: float = 0.02
    keys: tuple[tuple[str, float], ...] = (("1", 0.4), ("2", 0.3), ("3", 0.2), ("4", 0.1))
    #: Of the valid answers, the share pressed during the prompt (barge-in).
    barge_in: float = 0.1
    #: Length of a spoken comment (RECORD FILE), in seconds.
    comment: Dist = Dist("uniform", 3.0, 20.0, 3.0, 20.0)
    #: Of the comments, the share ended with '#' (the rest end by falling silent).
    comment_key: float = 0.7


@dataclass(frozen=True)
class AgentBehaviour:
    """How simulated interviewers (C{Local/agentN@agents}) behave (C{[agents]})."""

    answer_after: float = 0.0
    talk: Dist = Dist("fixed", 60.0, lo=60.0, hi=60.0)


@dataclass(frozen=True)
class Profile:
    """A whole profile."""

    mode: str = "profile"
    seed: int | None = None
    callee: CalleeBehaviour = field(default_factory=CalleeBehaviour)
    respondent: RespondentBehaviour = field(default_factory=RespondentBehaviour)
    agents: AgentBehaviour = field(default_factory=AgentBehaviour)


def parse_profile(data: Mapping[str, Any]) -> Profile:
    """Validate a decoded TOML/YAML mapping into a L{Profile}."""
    d = dict(data)
    version = d.pop("version", 1)
    if version != 1:
        raise ProfileError(f"unsupported profile version {version!r}")
    mode = str(d.pop("mode", "profile"))
    if mode not in ("profile", "last-digit"):
        raise ProfileError(f"mode must be 'profile' or 'last-digit', not {mode!r}")
    seed = d.pop("seed", None)
    callee = dict(d.pop("callee", {}) or {})
    respondent = dict(d.pop("respondent", {}) or {})
    agents = dict(d.pop("agents", {}) or {})
    d.pop("description", None)
    if d:
        raise ProfileError(f"unknown top-level keys {sorted(d)}")

    shares = {name: float(callee.pop(name)) for name in OUTCOMES if name in callee}
    if not shares:
        shares = dict(CalleeBehaviour().shares)
    if any(v < 0 for v in shares.values()):
        raise ProfileError("callee shares must not be negative")
    total = sum(shares.values())
    if total > 1.0 + 1e-9:
        raise ProfileError(f"callee shares add up to {total:.3f} > 1")
    if "no_answer" not in shares:
        shares["no_answer"] = max(0.0, 1.0 - total)
    elif total < 1.0 - 1e-9:
        raise ProfileError(f"callee shares add up to {total:.3f} < 1")
    dc = CalleeBehaviour()
    cb = CalleeBehaviour(
        shares=tuple((n, shares[n]) for n in OUTCOMES if shares.get(n, 0.0) > 0)
        or (("no_answer", 1.0),),
        ring=_dist(callee.pop("ring"), "callee.ring") if "ring" in callee else dc.ring,
        no_answer_after=float(callee.pop("no_answer_after", dc.no_answer_after)),
        busy_after=float(callee.pop("busy_after", dc.busy_after)),
        talk=_dist(callee.pop("talk"), "callee.talk") if "talk" in callee else dc.talk,
        machine_greeting=_dist(callee.pop("machine_greeting"), "callee.machine_greeting")
        if "machine_greeting" in callee
        else dc.machine_greeting,
        machine_talk=_dist(callee.pop("machine_talk"), "callee.machine_talk")
        if "machine_talk" in callee
        else dc.machine_talk,
        amd_machine_after=_dist(callee.pop("amd_machine_after"), "callee.amd_machine_after")
        if "amd_machine_after" in callee
        else dc.amd_machine_after,
        amd_human_after=_dist(callee.pop("amd_human_after"), "callee.amd_human_after")
        if "amd_human_after" in callee
        else dc.amd_human_after,
        amd_false_machine=_rate(callee, "amd_false_machine", dc.amd_false_machine),
        amd_false_human=_rate(callee, "amd_false_human", dc.amd_false_human),
    )
    if callee:
        raise ProfileError(f"unknown [callee] keys {sorted(callee)}")

    dr = RespondentBehaviour()
    keys = respondent.pop("keys", None)
    if keys is None:
        key_weights = dr.keys
    elif isinstance(keys, Mapping):
        key_weights = tuple((str(k), float(w)) for k, w in keys.items())
    else:
        key_weights = tuple((str(k), 1.0) for k in str(keys))
    if not key_weights or any(len(k) != 1 or k not in "0123456789*#" for k, _ in key_weights):
        raise ProfileError("respondent.keys must be DTMF digits")
    rb = RespondentBehaviour(
        hesitation=_dist(respondent.pop("hesitation"), "respondent.hesitation")
        if "hesitation" in respondent
        else dr.hesitation,
        no_input=float(respondent.pop("no_input", dr.no_input)),
        invalid=float(respondent.pop("invalid", dr.invalid)),
        star=float(respondent.pop("star", dr.star)),
        hangup=float(respondent.pop("hangup", dr.hangup)),
        keys=key_weights,
        barge_in=float(respondent.pop("barge_in", dr.barge_in)),
        comment=_dist(respondent.pop("comment"), "respondent.comment")
        if "comment" in respondent
        else dr.comment,
        comment_key=float(respondent.pop("comment_key", dr.comment_key)),
    )
    if respondent:
        raise ProfileError(f"unknown [respondent] keys {sorted(respondent)}")
    if rb.no_input + rb.invalid + rb.star + rb.hangup > 1:
        raise ProfileError("respondent no_input + invalid + star + hangup > 1")
    rshares = {"hangup": rb.hangup, "no_input": rb.no_input, "invalid": rb.invalid}
    rshares |= {"star": rb.star, "barge_in": rb.barge_in, "comment_key": rb.comment_key}
    for name, share in rshares.items():
        if not 0.0 <= share <= 1.0:
            raise ProfileError(f"respondent.{name} must be between 0 and 1")

    da = AgentBehaviour()
    ab = AgentBehaviour(
        answer_after=float(agents.pop("answer_after", da.answer_after)),
        talk=_dist(agents.pop("talk"), "agents.talk") if "talk" in agents else da.talk,
    )
    if agents:
        raise ProfileError(f"unknown [agents] keys {sorted(agents)}")
    return Profile(
        mode=mode, seed=None if seed is None else int(seed), callee=cb, respondent=rb, agents=ab
    )


def load_profile(path: Path) -> Profile:
    """Read a C{.toml}, C{.yaml} or C{.yml} profile."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ProfileError(f"{path}: {e.strerror}") from e
    try:
        if path.suffix in (".yaml", ".yml"):
            data = yaml.safe_load(raw.decode("utf-8")) or {}
        else:
            data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, yaml.YAMLError, UnicodeDecodeError) as e:
        raise ProfileError(f"{path}: {e}") from e
    if not isinstance(data, Mapping):
        raise ProfileError(f"{path}: the profile must be a table/mapping")
    try:
        return parse_profile(data)
    except (KeyError, TypeError, ValueError) as e:
        if isinstance(e, ProfileError):
            raise ProfileError(f"{path}: {e}") from e
        raise ProfileError(f"{path}: {e!r}") from e


def _secs(x: float) -> str:
    return f"{x:.3f}".rstrip("0").rstrip(".") or "0"


def _rate(section: dict[str, Any], key: str, default: float) -> float:
    value = float(section.pop(key, default))
    if not 0.0 <= value <= 1.0:
        raise ProfileError(f"callee.{key} must be between 0 and 1, not {value}")
    return value


def callee_steps(profile: Profile, number: str, rng: random.Random) -> tuple[str, list[Step]]:
    """
    The outcome and the dialplan the callee leg (C{;2}) runs for C{number} in profile mode.

    The steps use real Asterisk applications, as a rig context written for that outcome would.
    """
    cb = profile.callee
    outcome = cb.outcome(rng)
    note = Step("NoOp", f"Simulated callee {number}: {outcome}")
    if outcome == "answer":
        ring = cb.ring.sample(rng)
        talk = cb.talk.sample(rng)
        steps = [note, Step("Ringing", ""), Step("Wait", _secs(ring)), Step("Answer", "")]
        steps += [Step("Wait", _secs(talk)), Step("Hangup", "16")]
    elif outcome == "machine":
        ring = cb.ring.sample(rng)
        greeting = cb.machine_greeting.sample(rng)
        talk = cb.machine_talk.sample(rng)
        steps = [note, Step("Ringing", ""), Step("Wait", _secs(ring)), Step("Answer", "")]
        steps += [Step("Playback", f"sim/speech-{_secs(greeting)}"), Step("Wait", _secs(talk))]
        steps += [Step("Hangup", "16")]
    elif outcome == "busy":
        steps = [note, Step("Wait", _secs(cb.busy_after)), Step("Busy", "10")]
        steps += [Step("Hangup", "17")]
    elif outcome == "congestion":
        steps = [note, Step("Wait", _secs(cb.busy_after)), Step("Congestion", "10")]
        steps += [Step("Hangup", "34")]
    elif outcome == "rejected":
        ring = cb.ring.sample(rng)
        steps = [note, Step("Ringing", ""), Step("Wait", _secs(ring)), Step("Hangup", "21")]
    elif outcome == "unallocated":
        steps = [note, Step("Hangup", "1")]
    else:  # no_answer
        steps = [note, Step("Ringing", ""), Step("Wait", _secs(cb.no_answer_after))]
        steps += [Step("Hangup", "19")]
    return outcome, steps


def agent_steps(profile: Profile, exten: str, rng: random.Random) -> list[Step]:
    """The dialplan a simulated interviewer's leg runs (the reference rig's C{[agents]})."""
    talk = profile.agents.talk.sample(rng)
    steps = [Step("NoOp", f"Simulated interviewer {exten}")]
    if profile.agents.answer_after > 0:
        steps.append(Step("Wait", _secs(profile.agents.answer_after)))
    steps += [Step("Answer", ""), Step("Wait", _secs(talk)), Step("Hangup", "16")]
    return steps


@dataclass(frozen=True)
class Reaction:
    """What a respondent does (L{dialer.sim.respondent}): keys at delays, or a hang-up."""

    digits: tuple[tuple[float, str], ...] = ()
    hangup_after: float | None = None
