"""
From input rows to accepted contacts and rejected rows, deduplicating as we go.

Pure: L{clean} takes the rows of a L{dialer.frames.reading.Table}, a unit resolver
and a L{Deduper} seeded with what the store already holds, and yields L{Accepted} or
L{Rejected} one row at a time (so a large file streams through).

A number is a duplicate when the same unit already handed it in (same extension),
in this file or an earlier import. The same number under two units is not a
duplicate: both are kept, and the import summary and the frame report list it.

An optional time-zone column (C{时区} / C{timezone}) gives a respondent's own IANA zone
for the calling windows; a blank cell means the campaign's zone, an unknown name rejects
the row (C{bad_timezone}) and the rest of the file goes on.

test-case-name: tests.frames.test_cleaning
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from dialer.frames.phones import REASONS, BadNumber, Phone, normalise

# Reasons that are about the row, not the number.
ROW_REASONS: dict[str, tuple[str, str]] = {
    "duplicate": ("重复号码（同一单位已有）", "duplicate: this unit already handed in this number"),
    "unknown_unit": ("单位代码或名称不存在", "unknown unit code or name"),
    "no_unit": ("没有填写单位", "no unit given"),
    "bad_timezone": (
        "时区无效（应为 IANA 时区名，如 Asia/Shanghai）",
        "unknown time zone (expected an IANA name such as Asia/Shanghai)",
    ),
}


@functools.cache
def _zones() -> dict[str, str]:
    # lower-case name -> IANA name; "localtime" and "Factory" are not places
    names = zoneinfo.available_timezones() - {"localtime", "Factory"}
    return {n.lower(): n for n in names}


def zone_name(text: str) -> str | None:
    """The IANA time zone named by C{text} (case-insensitive), or None if there is none."""
    return _zones().get(text.strip().lower())


def reason_text(code: str) -> str:
    zh, en = REASONS.get(code) or ROW_REASONS.get(code) or (code, code)
    return f"{zh} / {en}"


@dataclass(frozen=True, slots=True)
class Accepted:
    row: int
    unit_id: int
    phone: Phone
    attributes: dict[str, str] | None
    timezone: str | None = None  # the respondent's IANA zone; None = the campaign's


@dataclass(frozen=True, slots=True)
class Rejected:
    row: int
    reason: str  # a key of phones.REASONS or ROW_REASONS
    value: str
    unit: str = ""
    detail: str = ""


DedupeKey = int | tuple[int, str, str]


def dedupe_key(unit_id: int, number: str, extension: str) -> DedupeKey:
    """A compact key: an int for the common case (no extension)."""
    if extension:
        return (unit_id, number, extension)
    return (unit_id << 52) | int(number[1:])


class Deduper:
    """Remembers (unit, number, extension) keys with the row that first had them (0: the store)."""

    def __init__(self, existing: Iterable[DedupeKey] = ()) -> None:
        self._first: dict[DedupeKey, int] = dict.fromkeys(existing, 0)

    def first_row(self, key: DedupeKey, row: int) -> int | None:
        """None if C{key} is new (and remember it at C{row}), else the row that had it."""
        first = self._first.get(key)
        if first is None:
            self._first[key] = row
        return first

    def __len__(self) -> int:
        return len(self._first)


@dataclass(frozen=True)
class Layout:
    """Where things are in the rows: the phone column, the unit column, attribute columns."""

    phone: int
    unit: int | None
    attributes: tuple[tuple[int, str], ...]  # (column index, attribute name)
    timezone: int | None = None  # the optional time-zone column


def clean(
    rows: Iterable[tuple[int, list[str]]],
    layout: Layout,
    resolve_unit: Callable[[str], int | None],
    deduper: Deduper,
    *,
    fixed_unit_id: int | None = None,
    default_area_code: str = "0778",
) -> Iterator[Accepted | Rejected]:
    """Classify each row; see the module docstring."""
    phone_col = layout.phone
    unit_col = layout.unit
    attr_cols = layout.attributes
    tz_col = layout.timezone
    for row, cells in rows:
        value = cells[phone_col] if phone_col < len(cells) else ""
        unit_value = ""
        if fixed_unit_id is not None:
            unit_id = fixed_unit_id
        else:
            assert unit_col is not None
            unit_value = cells[unit_col].strip() if unit_col < len(cells) else ""
            if not unit_value:
                yield Rejected(row, "no_unit", value)
                continue
            found = resolve_unit(unit_value)
            if found is None:
                yield Rejected(row, "unknown_unit", value, unit_value)
                continue
            unit_id = found
        try:
            phone = normalise(value, default_area_code)
        except BadNumber as e:
            yield Rejected(row, e.reason, value, unit_value)
            continue
        timezone: str | None = None
        if tz_col is not None and tz_col < len(cells) and cells[tz_col].strip():
            timezone = zone_name(cells[tz_col])
            if timezone is None:
                yield Rejected(row, "bad_timezone", value, unit_value, cells[tz_col].strip())
                continue
        first = deduper.first_row(dedupe_key(unit_id, phone.number, phone.extension), row)
        if first is not None:
            where = f"row {first} / 第 {first} 行" if first else "earlier import / 已导入"
            yield Rejected(row, "duplicate", value, unit_value, where)
            continue
        attributes: dict[str, str] | None = None
        if attr_cols:
            for i, name in attr_cols:
                if i < len(cells):
                    text = cells[i].strip()
                    if text:
                        if attributes is None:
                            attributes = {}
                        attributes[name] = text
        yield Accepted(row, unit_id, phone, attributes, timezone)
