"""
Outcome -> retry decision (pure, like Scrapy's C{get_retry_request}).

After each attempt the controller asks L{decide}: is the contact finished, and if
not, when may it be dialed again? The delay depends on the outcome's retry class
(no answer 3 h, busy 15 min, answering machine 4 h, soft refusal 7 days ...), the
next time falls inside the campaign's calling windows, and a contact that has used
up C{max_attempts} is finished with its last outcome. An appointment (callback) wins
over the rules: the contact is due at the agreed time if that is inside the calling
windows, otherwise at the next opening (a respondent's request does not extend the
legal calling hours), and then before fresh contacts.
"""

# test-case-name: tests.campaign.test_retries

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dialer.campaign.dispositions import Outcome
from dialer.campaign.schedule import Schedule
from dialer.errors import ConfigError

HOUR = 3600.0
DAY = 24 * HOUR

# Seconds to wait before the next attempt, per retry class.
DEFAULT_DELAYS: dict[str, float] = {
    "no_answer": 3 * HOUR,
    "busy": 15 * 60.0,
    "machine": 4 * HOUR,
    "refusal": 7 * DAY,
    "breakoff": 1 * DAY,
    "abandoned": 1 * HOUR,
    "congestion": 10 * 60.0,
    "out_of_service": 1 * DAY,
    "failed": 5 * 60.0,
    "callback": 1 * DAY,  # an appointment without a time
}
DEFAULT_MAX_ATTEMPTS = 6
# A soft refusal is tried again at most this many times before it becomes final.
DEFAULT_MAX_REFUSALS = 1
# The longest retry delay: beyond a year a retry is not a retry (and a huge one overflows
# the calendar arithmetic of Schedule.next_open).
MAX_DELAY = 366 * DAY


@dataclass(frozen=True)
class RetryRules:
    delays: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_DELAYS))
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    max_refusals: int = DEFAULT_MAX_REFUSALS

    def delay(self, retry_class: str) -> float:
        return float(self.delays.get(retry_class, DEFAULT_DELAYS.get(retry_class, 3 * HOUR)))


@dataclass(frozen=True)
class RetryDecision:
    """C{final}: the contact is done. Otherwise dial again at C{next_at} (None: never opens)."""

    final: bool
    next_at: float | None
    attempts: int  # attempts used after this one
    reason: str  # short machine-readable why: final-outcome, max-attempts, retry, callback ...
    outcome: str | None = None  # the disposition it was decided for (set by the store)


def decide(
    outcome: Outcome,
    *,
    attempts_before: int,
    now: float,
    rules: RetryRules,
    schedule: Schedule | None = None,
    callback_at: float | None = None,
    refusals_before: int = 0,
) -> RetryDecision:
    """Decide what happens to a contact after an attempt ended with C{outcome} at C{now}."""
    attempts = attempts_before + (1 if outcome.counts_as_attempt else 0)
    if outcome.final:
        return RetryDecision(True, None, attempts, "final-outcome")
    if outcome.retry_class == "refusal" and refusals_before >= rules.max_refusals:
        return RetryDecision(True, None, attempts, "refused-again")
    if callback_at is not None and not math.isfinite(callback_at):
        callback_at = None  # no usable time: the outcome's retry rule applies
    if callback_at is not None:
        # An appointment is honoured even past max_attempts, but not outside the calling
        # windows: one set after closing time is due at the next opening. It is at most
        # MAX_DELAY away (a garbled far-future time would overflow the calendar arithmetic
        # inside the store's finish transaction).
        at = min(max(callback_at, now), now + MAX_DELAY)
        reason = "callback"
    elif attempts >= rules.max_attempts:
        return RetryDecision(True, None, attempts, "max-attempts")
    else:
        at = now + rules.delay(outcome.retry_class)
        reason = "retry"
    if schedule is not None:
        opened = schedule.next_open(at)
        if opened is None:
            return RetryDecision(True, None, attempts, "no-window")
        at = opened
    return RetryDecision(False, at, attempts, reason)


def parse_rules(data: Mapping[str, Any], where: str = "retry") -> RetryRules:
    """Rules from config/JSON: C{{"max_attempts": 6, "delays": {"busy": 900, ...}}}.

    Delays may be numbers of seconds or strings like "15m", "3h", "7d".
    """
    delays = dict(DEFAULT_DELAYS)
    raw = data.get("delays", {})
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"{where}.delays: expected a table of retry class = delay / 应为 重拨类别 = 时长 的表"
        )
    for key, value in raw.items():
        if key not in DEFAULT_DELAYS:
            known = ", ".join(sorted(DEFAULT_DELAYS))
            raise ConfigError(
                f"{where}.delays.{key}: unknown retry class (known: {known}) / 未知的重拨类别"
            )
        delays[key] = parse_duration(value, f"{where}.delays.{key}")
    max_attempts = data.get("max_attempts", DEFAULT_MAX_ATTEMPTS)
    if not isinstance(max_attempts, int) or isinstance(max_attempts, bool) or max_attempts < 1:
        raise ConfigError(f"{where}.max_attempts: expected a whole number >= 1 / 应为正整数")
    max_refusals = data.get("max_refusals", DEFAULT_MAX_REFUSALS)
    if not isinstance(max_refusals, int) or isinstance(max_refusals, bool) or max_refusals < 0:
        raise ConfigError(f"{where}.max_refusals: expected a whole number >= 0 / 应为非负整数")
    return RetryRules(delays, max_attempts, max_refusals)


_UNITS = {"s": 1.0, "m": 60.0, "h": HOUR, "d": DAY}


def parse_duration(value: Any, where: str) -> float:
    """Seconds from 900, 900.0, "900", "15m", "3h" or "7d"."""
    if isinstance(value, bool):
        raise ConfigError(f"{where}: expected a duration like 15m, 3h, 7d / 应为时长")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and value.strip():
        text = value.strip().lower()
        unit = _UNITS.get(text[-1])
        number = text[:-1] if unit else text
        try:
            seconds = float(number) * (unit or 1.0)
        except ValueError:
            raise ConfigError(
                f"{where}: {value!r} is not a duration like 15m, 3h, 7d / 应为时长，如 15m、3h、7d"
            ) from None
    else:
        raise ConfigError(f"{where}: expected a duration like 15m, 3h, 7d / 应为时长")
    if not math.isfinite(seconds):
        raise ConfigError(f"{where}: {value!r} is not a finite duration / 时长须为有限值")
    if seconds < 0:
        raise ConfigError(f"{where}: a delay cannot be negative / 时长不能为负")
    if seconds > MAX_DELAY:
        raise ConfigError(f"{where}: {value!r} is longer than 366 days / 时长不能超过 366 天")
    return seconds


def rules_to_json(rules: RetryRules) -> dict[str, Any]:
    return {
        "delays": dict(rules.delays),
        "max_attempts": rules.max_attempts,
        "max_refusals": rules.max_refusals,
    }
