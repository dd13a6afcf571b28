"""The hopper: who is dialed next."""

import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from dialer.campaign.dispositions import OUTCOMES
from dialer.campaign.hopper import Candidate, UnitState, open_at, select
from dialer.campaign.retries import RetryRules, decide
from dialer.campaign.schedule import make_schedule

NOW = 1_000_000.0


def c(cid, unit=1, number=None, **kw):
    return Candidate(contact_id=cid, unit_id=unit, number=number or f"+86138{cid:08d}", **kw)


UNITS = {1: UnitState(1), 2: UnitState(2), 3: UnitState(3)}


def test_wanted_limits_picks():
    """No more picks than the pacer asked for."""
    s = select([c(i) for i in range(10)], UNITS, now=NOW, wanted=3)
    assert len(s.picks) == 3


def test_zero_wanted():
    """Asking for nothing selects nothing."""
    assert select([c(1)], UNITS, now=NOW, wanted=0).picks == []


def test_skips_final_live_and_not_due():
    """Finished, live and not-yet-due contacts are never picked."""
    s = select(
        [c(1, final=True), c(2, live=True), c(3, next_at=NOW + 60), c(4, next_at=NOW - 1)],
        UNITS,
        now=NOW,
        wanted=10,
    )
    assert [p.contact_id for p in s.picks] == [4]
    assert s.skipped == {"final": 1, "live": 1, "not-due": 1}


def test_dnc_reported_not_picked():
    """Do-not-call numbers are returned for finishing, never dialed."""
    s = select(
        [c(1, dnc=True), c(2), c(3)], UNITS, now=NOW, wanted=10, is_dnc=lambda n: n.endswith("3")
    )
    assert [p.contact_id for p in s.picks] == [2]
    assert sorted(s.dnc) == [1, 3]


def test_number_live_elsewhere_not_picked():
    """A number with a live attempt (e.g. under another unit) is not dialed again."""
    s = select(
        [c(1, number="+8613800000001"), c(2, unit=2, number="+8613800000001")],
        UNITS,
        now=NOW,
        wanted=10,
        live_numbers={"+8613800000001"},
    )
    assert s.picks == []


def test_same_number_twice_in_one_selection():
    """The same number sampled under two units is dialed once per selection."""
    s = select(
        [c(1, number="+8613800000001"), c(2, unit=2, number="+8613800000001")],
        UNITS,
        now=NOW,
        wanted=10,
    )
    assert len(s.picks) == 1


def test_callbacks_first():
    """Due appointments are picked before anything else, oldest first."""
    cands = [
        c(1),
        c(2, callback_at=NOW - 10, next_at=NOW + 999),
        c(3, callback_at=NOW - 20),
        c(4, callback_at=NOW + 10),
    ]
    s = select(cands, UNITS, now=NOW, wanted=3)
    assert [p.contact_id for p in s.picks] == [3, 2, 1]
    assert [p.callback for p in s.picks] == [True, True, False]


def test_retries_before_fresh_within_unit():
    """Within a unit, due retries go before fresh contacts, fresh ones in sample order."""
    cands = [
        c(1, position=2),
        c(2, position=1),
        c(3, next_at=NOW - 5, attempts=1),
        c(4, next_at=NOW - 50, attempts=2),
    ]
    s = select(cands, {1: UnitState(1)}, now=NOW, wanted=4)
    assert [p.contact_id for p in s.picks] == [4, 3, 2, 1]
    assert [p.attempt_no for p in s.picks] == [3, 2, 1, 1]


def test_quota_met_unit_not_dialed():
    """A unit whose quota of completes is met is not dialed."""
    units = {1: UnitState(1, quota=5, completes=5), 2: UnitState(2, quota=5, completes=4)}
    s = select([c(1, unit=1), c(2, unit=2)], units, now=NOW, wanted=5)
    assert [p.unit_id for p in s.picks] == [2]
    assert s.skipped["quota-met"] == 1


def test_round_robin_without_quotas():
    """Without quotas, lines are spread evenly across units."""
    cands = [c(u * 100 + i, unit=u) for u in (1, 2, 3) for i in range(10)]
    s = select(cands, UNITS, now=NOW, wanted=9)
    assert Counter(p.unit_id for p in s.picks) == {1: 3, 2: 3, 3: 3}


def test_fairness_counts_lines_in_flight():
    """A unit that already has many live calls gets fewer new ones."""
    units = {1: UnitState(1, live=4), 2: UnitState(2, live=0)}
    cands = [c(u * 100 + i, unit=u) for u in (1, 2) for i in range(10)]
    s = select(cands, units, now=NOW, wanted=6)
    assert Counter(p.unit_id for p in s.picks) == {2: 5, 1: 1}


def test_fairness_by_remaining_quota():
    """Lines follow the completes still needed: 30 remaining gets 3x the lines of 10 remaining."""
    units = {1: UnitState(1, quota=40, completes=10), 2: UnitState(2, quota=40, completes=30)}
    cands = [c(u * 100 + i, unit=u) for u in (1, 2) for i in range(50)]
    s = select(cands, units, now=NOW, wanted=20)
    assert Counter(p.unit_id for p in s.picks) == {1: 15, 2: 5}


candidate = st.builds(
    Candidate,
    contact_id=st.integers(1, 40),
    unit_id=st.integers(1, 4),
    number=st.sampled_from([f"+8613800000{i:03d}" for i in range(25)]),
    position=st.integers(0, 100),
    attempts=st.integers(0, 5),
    next_at=st.one_of(st.none(), st.floats(NOW - 100, NOW + 100)),
    callback_at=st.one_of(st.none(), st.floats(NOW - 100, NOW + 100)),
    live=st.booleans(),
    final=st.booleans(),
    dnc=st.booleans(),
)
unit_states = st.fixed_dictionaries(
    {
        u: st.builds(
            UnitState,
            unit_id=st.just(u),
            quota=st.one_of(st.none(), st.integers(0, 5)),
            completes=st.integers(0, 5),
            live=st.integers(0, 5),
        )
        for u in (1, 2, 3)
    }
)


@given(
    st.lists(candidate, max_size=40),
    unit_states,
    st.integers(0, 30),
    st.sets(st.sampled_from([f"+8613800000{i:03d}" for i in range(25)]), max_size=5),
)
def test_hopper_invariants(cands, units, wanted, live_numbers):
    """Whatever the input: at most `wanted` picks, no number twice or live, nothing ineligible."""
    s = select(cands, units, now=NOW, wanted=wanted, live_numbers=live_numbers)
    by_id = {}
    for cand in cands:
        by_id.setdefault(cand.contact_id, cand)
    assert len(s.picks) <= wanted
    numbers = [p.number for p in s.picks]
    assert len(numbers) == len(set(numbers))
    assert not set(numbers) & live_numbers
    assert len({p.contact_id for p in s.picks}) == len(s.picks)
    for p in s.picks:
        cand = by_id[p.contact_id]
        assert not (cand.final or cand.live or cand.dnc)
        assert cand.unit_id in units and not units[cand.unit_id].full
        due = cand.callback_at if cand.callback_at is not None else cand.next_at
        assert due is None or due <= NOW
    # callbacks come first
    flags = [p.callback for p in s.picks]
    assert flags == sorted(flags, reverse=True)


def test_ties_go_to_least_dialed_unit():
    """Equal lines in flight: the unit dialed least so far goes first, so every unit gets its turn."""
    units = {1: UnitState(1, dialed=9), 2: UnitState(2, dialed=3), 3: UnitState(3, dialed=5)}
    cands = [c(u * 100 + i, unit=u) for u in (1, 2, 3) for i in range(5)]
    s = select(cands, units, now=NOW, wanted=1)
    assert [p.unit_id for p in s.picks] == [2]
    s = select(cands, units, now=NOW, wanted=4)
    assert Counter(p.unit_id for p in s.picks) == {2: 2, 3: 1, 1: 1}


def test_appointment_after_hours_is_dialed_at_next_opening_first():
    """A 21:30 appointment with windows ending at 21:00 is due at the next opening (09:00),
    and then dialed before fresh contacts and due retries."""
    sh = ZoneInfo("Asia/Shanghai")
    schedule = make_schedule(
        "Asia/Shanghai",
        [
            {"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "12:00"},
            {"days": [0, 1, 2, 3, 4], "start": "18:00", "end": "21:00"},
        ],
    )
    asked = dt.datetime(2026, 11, 23, 20, 10, tzinfo=sh).timestamp()  # Monday, in a call
    at = dt.datetime(2026, 11, 23, 21, 30, tzinfo=sh).timestamp()  # the respondent's time
    opening = dt.datetime(2026, 11, 24, 9, 0, tzinfo=sh).timestamp()  # Tuesday 09:00
    d = decide(
        OUTCOMES["callback"],
        attempts_before=1,
        now=asked,
        rules=RetryRules(),
        schedule=schedule,
        callback_at=at,
    )
    assert (d.final, d.next_at, d.reason) == (False, opening, "callback")
    cands = [
        c(1, position=0),  # fresh, first in the sample
        c(2, position=1, attempts=1, next_at=opening - 3600),  # a retry due before
        c(3, position=2, attempts=1, next_at=d.next_at, callback_at=at),  # the appointment
    ]
    # at the agreed 21:30 the window is closed: nobody is dialed, the appointment waits
    late = select(cands, UNITS, now=at, wanted=2, schedule=schedule)
    assert late.picks == [] and late.skipped == {"window-closed": 2, "not-due": 1}
    s = select(cands, UNITS, now=opening, wanted=2, schedule=schedule)
    assert [(p.contact_id, p.callback) for p in s.picks] == [(3, True), (2, False)]


def test_appointment_inside_windows_keeps_its_time():
    """An appointment inside the calling windows is due at exactly its time."""
    sh = ZoneInfo("Asia/Shanghai")
    schedule = make_schedule("Asia/Shanghai", [{"days": [0], "start": "18:00", "end": "21:00"}])
    asked = dt.datetime(2026, 11, 23, 18, 10, tzinfo=sh).timestamp()  # Monday
    at = dt.datetime(2026, 11, 23, 20, 45, tzinfo=sh).timestamp()
    d = decide(
        OUTCOMES["callback"],
        attempts_before=5,
        now=asked,
        rules=RetryRules(max_attempts=6),
        schedule=schedule,
        callback_at=at,
    )
    assert (d.final, d.next_at) == (False, at)


SH = ZoneInfo("Asia/Shanghai")
WORKDAY = make_schedule(
    "Asia/Shanghai", [{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "21:00"}]
)


def test_open_at_reads_the_windows_in_the_contacts_zone():
    """Shanghai 22:30 is 20:30 in Urumqi and 15:30 in Berlin: open there, closed in Shanghai."""
    now = dt.datetime(2026, 11, 23, 22, 30, tzinfo=SH).timestamp()  # Monday
    assert not open_at(WORKDAY, now)
    assert not open_at(WORKDAY, now, "Asia/Shanghai")
    assert open_at(WORKDAY, now, "Asia/Urumqi")
    assert open_at(WORKDAY, now, "Europe/Berlin")
    early = dt.datetime(2026, 11, 23, 9, 30, tzinfo=SH).timestamp()  # 07:30 in Urumqi
    assert open_at(WORKDAY, early) and not open_at(WORKDAY, early, "Asia/Urumqi")


def test_contact_whose_own_window_is_closed_is_skipped():
    """With a schedule, only contacts whose own window is open are picked (no zone = the
    campaign's); without one the hopper does not look at windows."""
    now = dt.datetime(2026, 11, 23, 22, 30, tzinfo=SH).timestamp()
    cands = [
        c(1, position=0),  # the campaign's zone: closed
        c(2, position=1, timezone="Asia/Shanghai"),  # closed
        c(3, position=2, timezone="Asia/Urumqi"),  # 20:30: open
        c(4, unit=2, position=0, next_at=now - 60, timezone="Asia/Urumqi"),  # a due retry
        c(5, unit=3, position=0, callback_at=now - 60, timezone="Asia/Shanghai"),  # closed
    ]
    s = select(cands, UNITS, now=now, wanted=5, schedule=WORKDAY)
    assert sorted(p.contact_id for p in s.picks) == [3, 4]
    assert s.skipped == {"window-closed": 3}
    assert len(select(cands, UNITS, now=now, wanted=5).picks) == 5


def test_window_check_does_not_hide_dnc():
    """A do-not-call number is reported for finishing even while its window is closed."""
    now = dt.datetime(2026, 11, 23, 22, 30, tzinfo=SH).timestamp()
    s = select([c(1, dnc=True)], UNITS, now=now, wanted=1, schedule=WORKDAY)
    assert (s.picks, s.dnc) == ([], [1])


ZONES = [None, "Asia/Shanghai", "Asia/Urumqi", "Europe/Berlin", "America/New_York"]


@given(
    st.lists(
        st.builds(
            Candidate,
            contact_id=st.integers(1, 40),
            unit_id=st.integers(1, 3),
            number=st.sampled_from([f"+8613800000{i:03d}" for i in range(25)]),
            position=st.integers(0, 100),
            timezone=st.sampled_from(ZONES),
        ),
        max_size=30,
    ),
    st.floats(0, 7 * 86400),
    st.integers(0, 30),
)
def test_picks_are_inside_their_own_window(cands, offset, wanted):
    """With a schedule, every pick's window is open in its own zone, and every fresh contact
    left out while places remained was outside its window."""
    now = dt.datetime(2026, 11, 23, tzinfo=SH).timestamp() + offset
    s = select(cands, UNITS, now=now, wanted=wanted, schedule=WORKDAY)
    zone = {}
    for cand in cands:
        zone.setdefault(cand.contact_id, cand.timezone)
    picked = {p.contact_id for p in s.picks}
    assert all(open_at(WORKDAY, now, zone[cid]) for cid in picked)
    if len(s.picks) < wanted and not s.skipped.get("number-live"):
        assert all(not open_at(WORKDAY, now, z) for cid, z in zone.items() if cid not in picked)
