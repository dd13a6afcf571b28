"""
The hopper: which contacts to dial next (pure; C{now} is passed in).

Given the contacts that are due (loaded from the store), the state of each unit and
how many lines the pacer wants, L{select} returns the contacts to dial, in order:

 1. appointments (callbacks) that are due, oldest first;
 2. then one contact at a time from the unit with the fewest lines in flight per
    remaining quota (fairness across units: a unit far from its quota gets more
    lines; without quotas this is a plain round robin), ties going to the unit dialed
    least so far (per remaining quota), so that over a campaign every unit gets its turn;
 3. within a unit, due retries (oldest due time first) before fresh contacts (in
    sample order).

Never selected: finished contacts, contacts with a live attempt, numbers with a live
attempt anywhere (the same number may be sampled under two units), a number twice in
one selection, contacts not yet due, units whose quota of completes is met, and, when a
schedule is given, contacts whose calling window is closed at C{now} in their own time
zone (the campaign's windows read in the contact's zone; the campaign's zone when the
contact has none; see L{open_at}). Numbers on
the do-not-call list are returned separately so the controller can finish them with
the C{dnc} disposition; the store re-checks DNC in the transaction that claims a
contact, so a number added a moment ago is still caught ("DNC at dial time").
"""

# test-case-name: tests.campaign.test_hopper

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field

from dialer.campaign.schedule import Schedule


@dataclass(frozen=True)
class Candidate:
    """A contact that may be due; loaded from C{campaign_contacts} (+ callbacks)."""

    contact_id: int
    unit_id: int
    number: str
    position: int = 0
    attempts: int = 0  # attempts made so far
    next_at: float | None = None  # None: fresh, never dialed
    callback_at: float | None = None  # pending appointment time
    live: bool = False
    final: bool = False
    dnc: bool = False  # flagged by the loader's join with the DNC table
    timezone: str | None = None  # the respondent's IANA zone; None = the campaign's


@dataclass(frozen=True)
class UnitState:
    unit_id: int
    quota: int | None = None  # completes wanted; None = no cap
    completes: int = 0
    live: int = 0  # attempts in flight now
    dialed: int = (
        0  # attempts made so far (ties between equally loaded units go to the least dialed)
    )

    @property
    def full(self) -> bool:
        return self.quota is not None and self.completes >= self.quota

    @property
    def remaining(self) -> int | None:
        return None if self.quota is None else max(self.quota - self.completes, 0)


@dataclass(frozen=True)
class Pick:
    contact_id: int
    unit_id: int
    number: str
    attempt_no: int  # the number this dial will have (1 = first)
    callback: bool


@dataclass
class Selection:
    picks: list[Pick] = field(default_factory=list)
    dnc: list[int] = field(default_factory=list)  # contact ids to finish as do-not-call
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count (for metrics)

    def _skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def open_at(schedule: Schedule, now: float, zone: str | None = None) -> bool:
    """Whether the campaign's calling windows, read in C{zone} (None: the campaign's own
    zone), are open at C{now}. With several zones in a sample, dialing may go on while this
    holds for any of them."""
    if zone is None or zone == schedule.timezone:
        return schedule.is_open(now)
    return dataclasses.replace(schedule, timezone=zone).is_open(now)


def _due_key(c: Candidate) -> tuple[int, float, int, int]:
    # due retries first (by due time), then fresh contacts by sample position
    if c.next_at is not None:
        return (0, c.next_at, c.position, c.contact_id)
    return (1, 0.0, c.position, c.contact_id)


def select(
    candidates: Iterable[Candidate],
    units: Mapping[int, UnitState],
    *,
    now: float,
    wanted: int,
    live_numbers: Collection[str] = (),
    is_dnc: Callable[[str], bool] | None = None,
    schedule: Schedule | None = None,
) -> Selection:
    """Choose up to C{wanted} contacts to dial at C{now}; with C{schedule}, only contacts
    whose own calling window is open at C{now}."""
    result = Selection()
    if wanted <= 0:
        return result
    zones_open: dict[str | None, bool] = {}

    def window_closed(zone: str | None) -> bool:
        assert schedule is not None
        is_open = zones_open.get(zone)
        if is_open is None:
            is_open = zones_open[zone] = open_at(schedule, now, zone)
        return not is_open

    taken_numbers = set(live_numbers)
    callbacks: list[Candidate] = []
    # unit -> [(due key, candidate)]; the key is _due_key's, written out (this loop runs
    # over every candidate on every tick)
    per_unit: dict[int, list[tuple[tuple[int, float, int, int], Candidate]]] = {}
    seen: set[int] = set()
    full = {u for u, state in units.items() if state.full}
    for c in candidates:
        cid = c.contact_id
        if cid in seen:
            continue  # a contact loaded twice (e.g. via a callback and as a retry)
        seen.add(cid)
        uid = c.unit_id
        if c.final:
            result._skip("final")
        elif c.live:
            result._skip("live")
        elif uid not in units:
            result._skip("unit-not-in-campaign")
        elif uid in full:
            result._skip("quota-met")
        elif c.dnc or (is_dnc is not None and is_dnc(c.number)):
            result.dnc.append(c.contact_id)
        elif c.callback_at is not None and c.callback_at > now:
            result._skip("callback-not-due")
        elif c.callback_at is None and c.next_at is not None and c.next_at > now:
            result._skip("not-due")
        elif schedule is not None and window_closed(c.timezone):
            result._skip("window-closed")
        elif c.callback_at is not None:
            callbacks.append(c)
        elif c.next_at is None:
            per_unit.setdefault(uid, []).append(((1, 0.0, c.position, cid), c))
        else:
            per_unit.setdefault(uid, []).append(((0, c.next_at, c.position, cid), c))

    def take(c: Candidate, callback: bool) -> bool:
        if c.number in taken_numbers:
            result._skip("number-live")
            return False
        taken_numbers.add(c.number)
        result.picks.append(Pick(c.contact_id, c.unit_id, c.number, c.attempts + 1, callback))
        return True

    picked_per_unit: dict[int, int] = {}
    for c in sorted(callbacks, key=lambda c: (c.callback_at or 0.0, c.contact_id)):
        if len(result.picks) >= wanted:
            return result
        if take(c, callback=True):
            picked_per_unit[c.unit_id] = picked_per_unit.get(c.unit_id, 0) + 1

    # Each unit's queue is a heap on the due key (unique: it ends with the contact id), so a
    # tick that takes a few contacts does not sort thousands.
    queues = per_unit
    for heap_u in queues.values():
        heapq.heapify(heap_u)
    weights = _weights([units[u] for u in queues])

    def load(unit_id: int) -> tuple[float, float, int]:
        picked = picked_per_unit.get(unit_id, 0)
        lines = units[unit_id].live + picked
        dialed = units[unit_id].dialed + picked
        return (lines / weights[unit_id], dialed / weights[unit_id], unit_id)

    heap = [(load(u), u) for u in queues]
    heapq.heapify(heap)
    while heap and len(result.picks) < wanted:
        _, unit_id = heapq.heappop(heap)
        queue = queues[unit_id]
        while queue:
            if take(heapq.heappop(queue)[1], callback=False):
                picked_per_unit[unit_id] = picked_per_unit.get(unit_id, 0) + 1
                break
        if queue:
            heapq.heappush(heap, (load(unit_id), unit_id))
    return result


def _weights(units: list[UnitState]) -> dict[int, float]:
    """Lines per unit are kept proportional to the completes still wanted."""
    remaining = [u.remaining for u in units if u.remaining is not None]
    default = float(max(remaining)) if remaining else 1.0
    return {
        u.unit_id: float(u.remaining) if u.remaining is not None else max(default, 1.0)
        for u in units
    }
