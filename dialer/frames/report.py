"""
The frame integrity report, pure: per unit, how many numbers, what mix, and the signs
that a unit handed in its own staff instead of citizens.

Signs:
 - prefix concentration: a large share of the numbers in one block (mobile: the first
   7 digits, the H-code; landline: area code + the exchange's first 3 digits), as a
   staff list from one office switchboard or one company phone plan would be;
 - runs of consecutive numbers (..1200, ..1201, ..1202): an office's direct lines;
 - dense hundred-blocks: many numbers that differ only in their last two digits
   (..1203, ..1207, ..1251): the same office with gaps; citizens' numbers almost never
   share a block of 100;
 - numbers also handed in by another unit.

test-case-name: tests.frames.test_report
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

MIN_RUN = 3  # consecutive numbers that count as a run
MIN_NUMBERS = 20  # below this, shares say little: no flags
PREFIX_FLAG = 0.25
RUN_FLAG = 0.05
SHARED_FLAG = 0.05
BLOCK_FLAG = 5  # numbers in one block of 100

FLAG_SHORT = {
    "prefix": "号段集中 prefix",
    "runs": "连号 runs",
    "block": "百号段 block",
    "shared": "重复 shared",
}
FLAG_TEXT = {
    "prefix": "号段集中 / prefix concentration",
    "runs": "连号 / consecutive numbers",
    "block": "百号段密集 / many numbers in one block of 100",
    "shared": "与其他单位重复 / shared with other units",
}


@dataclass
class UnitFigures:
    code: str
    name: str
    total: int = 0
    mobile: int = 0
    landline: int = 0
    top_prefix: str = ""
    top_prefix_count: int = 0
    runs: int = 0
    longest_run: int = 0
    in_runs: int = 0
    shared: int = 0
    top_block: str = ""  # a number without its last two digits, e.g. +8677822812xx
    top_block_count: int = 0
    flags: list[str] = field(default_factory=list)

    def share(self, n: int) -> float:
        return n / self.total if self.total else 0.0


def prefix_of(e164: str) -> str:
    """The block a number belongs to: 7 digits of a mobile, area code + 3 of a landline."""
    nsn = e164[3:] if e164.startswith("+86") else e164.lstrip("+")
    if nsn.startswith("1") and not nsn.startswith("10"):
        return nsn[:7]
    area = 2 if nsn.startswith(("10", "2")) else 3
    return "0" + nsn[: area + 3]


def runs_of(numbers: Sequence[int], min_run: int = MIN_RUN) -> list[tuple[int, int]]:
    """(first number, length) of each run of at least C{min_run} consecutive numbers."""
    out: list[tuple[int, int]] = []
    ordered = sorted(set(numbers))
    start = 0
    for i in range(1, len(ordered) + 1):
        if i == len(ordered) or ordered[i] != ordered[i - 1] + 1:
            if i - start >= min_run:
                out.append((ordered[start], i - start))
            start = i
    return out


def frame_report(
    frame: Mapping[str, Sequence[tuple[str, str]]], names: Mapping[str, str]
) -> tuple[list[UnitFigures], list[tuple[str, str, int]]]:
    """
    Figures per unit and the pairs of units sharing numbers.

    @param frame: unit code -> (E.164 number, line type) pairs.
    @param names: unit code -> display name.
    @return: (figures for every unit in C{names} or C{frame}, sorted by code;
        (unit a, unit b, shared numbers) sorted by count, largest first).
    """
    holders: dict[str, list[str]] = {}
    for code, rows in frame.items():
        for number in {n for n, _ in rows}:
            holders.setdefault(number, []).append(code)
    pairs: Counter[tuple[str, str]] = Counter()
    shared_per_unit: Counter[str] = Counter()
    for codes in holders.values():
        if len(codes) > 1:
            codes.sort()
            for i, a in enumerate(codes):
                shared_per_unit[a] += 1
                for b in codes[i + 1 :]:
                    pairs[(a, b)] += 1
    figures = []
    for code in sorted(set(names) | set(frame)):
        rows = frame.get(code, ())
        f = UnitFigures(code, names.get(code, code), total=len(rows))
        f.mobile = sum(1 for _, t in rows if t == "mobile")
        f.landline = f.total - f.mobile
        if rows:
            ((f.top_prefix, f.top_prefix_count),) = Counter(
                prefix_of(n) for n, _ in rows
            ).most_common(1)
            ((block, f.top_block_count),) = Counter(n[:-2] for n, _ in rows).most_common(1)
            f.top_block = block + "xx"
            runs = runs_of([int(n[1:]) for n, _ in rows])
            f.runs = len(runs)
            f.longest_run = max((length for _, length in runs), default=0)
            f.in_runs = sum(length for _, length in runs)
        f.shared = shared_per_unit[code]
        if f.total >= MIN_NUMBERS:
            if f.share(f.top_prefix_count) >= PREFIX_FLAG:
                f.flags.append("prefix")
            if f.share(f.in_runs) >= RUN_FLAG:
                f.flags.append("runs")
            if f.top_block_count >= BLOCK_FLAG:
                f.flags.append("block")
            if f.share(f.shared) >= SHARED_FLAG:
                f.flags.append("shared")
        figures.append(f)
    pair_list = [(a, b, n) for (a, b), n in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))]
    return figures, pair_list
