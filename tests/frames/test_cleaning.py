"""Rows to accepted contacts and rejected rows, with deduplication."""

from dialer.frames.cleaning import (
    Accepted,
    Deduper,
    Layout,
    Rejected,
    clean,
    dedupe_key,
    reason_text,
    zone_name,
)


def run(rows, deduper=None, **kw):
    layout = kw.pop("layout", Layout(phone=0, unit=None, attributes=((1, "name"),)))
    return list(clean(rows, layout, {"A": 1, "B": 2}.get, deduper or Deduper(), **kw))


def test_duplicate_within_unit_names_first_row():
    """The same number written two ways is a duplicate of the first row."""
    out = run([(2, ["13812345678", "张三"]), (3, ["+86 138 1234 5678", "张三"])], fixed_unit_id=1)
    assert isinstance(out[0], Accepted)
    assert out[1] == Rejected(3, "duplicate", "+86 138 1234 5678", "", "row 2 / 第 2 行")


def test_same_number_two_units_is_kept():
    """A number handed in by two units is kept under both (reported, not merged)."""
    layout = Layout(phone=0, unit=1, attributes=())
    out = run([(2, ["13812345678", "A"]), (3, ["13812345678", "B"])], layout=layout)
    assert [type(o) for o in out] == [Accepted, Accepted]
    assert [o.unit_id for o in out] == [1, 2]


def test_existing_keys_make_duplicates():
    """A number already in the store for the unit is a duplicate of an earlier import."""
    deduper = Deduper([dedupe_key(1, "+8613812345678", "")])
    (out,) = run([(5, ["13812345678", ""])], deduper, fixed_unit_id=1)
    assert out.reason == "duplicate" and "earlier import" in out.detail


def test_extensions_are_different_people():
    """The same switchboard with two extensions gives two contacts."""
    out = run([(2, ["0778-2281234转801", ""]), (3, ["0778-2281234转802", ""])], fixed_unit_id=1)
    assert [o.phone.extension for o in out] == ["801", "802"]


def test_unit_column_errors():
    """A blank or unknown unit is a rejected row with its own reason."""
    layout = Layout(phone=0, unit=1, attributes=())
    out = run([(2, ["13812345678", ""]), (3, ["13812345678", "Z"])], layout=layout)
    assert [o.reason for o in out] == ["no_unit", "unknown_unit"]


def test_attributes_kept_and_blank_ones_dropped():
    """Extra columns become attributes; blank cells are left out."""
    out = run([(2, ["13812345678", "张三"]), (3, ["13912345678", " "])], fixed_unit_id=1)
    assert out[0].attributes == {"name": "张三"}
    assert out[1].attributes is None


def test_bad_number_reason_and_raw_value():
    """A bad number keeps its raw value and reason for the rejects file."""
    (out,) = run([(7, ["1.88078E+10", ""])], fixed_unit_id=1)
    assert out == Rejected(7, "precision_lost", "1.88078E+10")


def test_short_rows_do_not_crash():
    """A row with fewer cells than the header is read as blanks."""
    (out,) = run([(4, [])], fixed_unit_id=1)
    assert out.reason == "empty"


def test_timezone_column_kept_canonical_blank_is_campaign_default():
    """A time-zone cell gives the contact its IANA zone (any case); a blank one means None."""
    layout = Layout(phone=0, unit=None, attributes=(), timezone=1)
    out = run(
        [
            (2, ["13812345678", "Asia/Urumqi"]),
            (3, ["13912345678", " asia/shanghai "]),
            (4, ["13712345678", ""]),
        ],
        layout=layout,
        fixed_unit_id=1,
    )
    assert [type(o) for o in out] == [Accepted] * 3
    assert [o.timezone for o in out] == ["Asia/Urumqi", "Asia/Shanghai", None]


def test_bad_timezone_rejects_only_that_row():
    """An unknown zone rejects its row with the reason and the zone text; the number is not
    taken, so a corrected row later in the file is accepted, and the other rows go on."""
    layout = Layout(phone=0, unit=None, attributes=(), timezone=1)
    out = run(
        [
            (2, ["13812345678", "Asia/Beijing"]),
            (3, ["13912345678", "Asia/Shanghai"]),
            (4, ["13812345678", "Asia/Shanghai"]),
            (5, ["13712345678", "localtime"]),
        ],
        layout=layout,
        fixed_unit_id=1,
    )
    assert out[0] == Rejected(2, "bad_timezone", "13812345678", "", "Asia/Beijing")
    assert [type(o) for o in out[1:3]] == [Accepted, Accepted]
    assert out[3].reason == "bad_timezone"
    assert "IANA" in reason_text("bad_timezone") and "时区" in reason_text("bad_timezone")


def test_zone_name():
    """zone_name accepts IANA names in any case and refuses non-places and paths."""
    assert zone_name("UTC") == "UTC"
    assert zone_name("ASIA/KOLKATA") == "Asia/Kolkata"
    for bad in ("", "Asia", "Factory", "localtime", "../etc/passwd", "GMT+25"):
        assert zone_name(bad) is None
