"""The frame integrity report: counts, mix, prefix concentration, runs, shared numbers."""

from dialer.frames.report import frame_report, prefix_of, runs_of


def mobiles(start, n, step=7919):
    return [(f"+86{13800000000 + start + i * step}", "mobile") for i in range(n)]


def test_prefix_of():
    """Mobiles group by their first 7 digits, landlines by area code + 3 digits."""
    assert prefix_of("+8613812345678") == "1381234"
    assert prefix_of("+867782281234") == "0778228"
    assert prefix_of("+861012345678") == "010123"


def test_runs_of():
    """Runs of 3+ consecutive numbers are found; pairs and gaps are not runs."""
    assert runs_of([10, 11, 12, 20, 21, 30, 31, 32, 33]) == [(10, 3), (30, 4)]
    assert runs_of([5, 5, 6, 7]) == [(5, 3)]


def test_clean_unit_has_no_flags():
    """Spread-out citizen numbers raise no sign."""
    figures, pairs = frame_report({"A": mobiles(0, 50)}, {"A": "甲"})
    (f,) = figures
    assert (f.total, f.mobile, f.landline, f.flags) == (50, 50, 0, [])
    assert f.top_block_count == 1
    assert pairs == []


def test_staff_list_flags_runs_and_prefix():
    """An office's consecutive direct lines show as runs and prefix concentration."""
    staff = [(f"+86778228{1200 + i}", "landline") for i in range(30)]
    figures, _ = frame_report({"A": staff + mobiles(0, 30)}, {"A": "甲"})
    (f,) = figures
    assert f.longest_run == 30 and f.in_runs == 30
    assert f.top_prefix == "0778228"
    assert f.flags == ["prefix", "runs", "block"]
    assert (f.top_block, f.top_block_count) == ("+8677822812xx", 30)


def test_office_numbers_with_gaps_flag_the_block():
    """Direct lines with gaps are not a run, but their block of 100 is dense."""
    office = [(f"+86778228{1200 + i}", "landline") for i in range(0, 40, 4)]
    (f,), _ = frame_report({"A": office + mobiles(0, 40)}, {"A": "甲"})
    assert f.runs == 0
    assert f.top_block_count == 10 and f.flags == ["block"]


def test_shared_numbers_reported_per_pair():
    """Numbers handed in by two units are counted per unit and per pair."""
    common = mobiles(1, 10)
    frame = {"A": mobiles(500_000, 40) + common, "B": common + mobiles(900_000, 40), "C": []}
    figures, pairs = frame_report(frame, {"A": "甲", "B": "乙", "C": "丙"})
    by = {f.code: f for f in figures}
    assert by["A"].shared == by["B"].shared == 10
    assert "shared" in by["A"].flags
    assert by["C"].total == 0 and by["C"].flags == []
    assert pairs == [("A", "B", 10)]


def test_small_units_not_flagged():
    """Below 20 numbers shares say little: no flags."""
    staff = [(f"+86778228{1200 + i}", "landline") for i in range(10)]
    (f,), _ = frame_report({"A": staff}, {"A": "甲"})
    assert f.flags == [] and f.longest_run == 10
