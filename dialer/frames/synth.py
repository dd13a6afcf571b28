"""
Synthetic, fictional phone lists as units hand them in: for the demo and the benchmark.

Pure: everything is drawn from the C{random.Random} passed in, so a seed gives the
same file. Numbers are random digits in real-looking blocks (they must pass the
validity checks), landlines are in Hechi's area code; no list of real people is used.

test-case-name: tests.frames.test_synth
"""

from __future__ import annotations

import random
from collections.abc import Iterator

MOBILE_BLOCKS = [
    "130",
    "131",
    "132",
    "133",
    "134",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "155",
    "156",
    "157",
    "158",
    "159",
    "166",
    "173",
    "175",
    "176",
    "177",
    "178",
    "180",
    "181",
    "182",
    "183",
    "184",
    "185",
    "186",
    "187",
    "188",
    "189",
    "191",
    "198",
    "199",
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐韦覃蓝莫黎潘"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红建文"
AGE_GROUPS = ("18-29", "30-39", "40-49", "50-59", "60+")
JUNK = ("无", "不详", "暂无", "1380013", "abc", "12345678901234", "4008001234", "0", "-")
HEADER = ["姓名", "手机号码", "性别", "年龄段", "乡镇"]


def mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_BLOCKS) + f"{rng.randrange(10**8):08d}"


def landline(rng: random.Random, area: str = "0778") -> str:
    return area + str(rng.randrange(2, 9)) + f"{rng.randrange(10**6):06d}"


def clean_number(rng: random.Random, mobile_share: float = 0.85) -> str:
    """A valid national number (mobile, or a landline with area code)."""
    return mobile(rng) if rng.random() < mobile_share else landline(rng)


def messy(number: str, rng: random.Random, damage: float = 0.005) -> str:
    """Write C{number} the way lists really arrive: separators, prefixes, full width, damage."""
    r = rng.random()
    if r < damage:
        if number.startswith("1"):
            return f"{int(number) / 10**10:.5f}E+10"  # Excel scientific notation
        return number + ".0"
    if number.startswith("1"):
        r = rng.random()
        if r < 0.70:
            return number
        if r < 0.78:
            return f"{number[:3]} {number[3:7]} {number[7:]}"
        if r < 0.84:
            return f"{number[:3]}-{number[3:7]}-{number[7:]}"
        if r < 0.90:
            return "+86 " + number
        if r < 0.93:
            return "0086" + number
        if r < 0.97:
            return number.translate(_TO_FULL_WIDTH)
        return " " + number + " "
    r = rng.random()
    local = number[4:]
    if r < 0.40:
        return f"{number[:4]}-{local}"
    if r < 0.70:
        return local  # no area code: the default applies
    if r < 0.80:
        return f"({number[:4]}){local}"
    if r < 0.90:
        return f"{number[:4]}-{local}转{rng.randrange(100, 999)}"
    return number


_TO_FULL_WIDTH = {ord("0") + i: 0xFF10 + i for i in range(10)}


def person(rng: random.Random) -> list[str]:
    """Name, gender, age group for the extra columns."""
    name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randrange(1, 3)))
    return [name, rng.choice("男女"), rng.choice(AGE_GROUPS)]


def frame_rows(
    rng: random.Random,
    n: int,
    *,
    duplicates: float = 0.05,
    junk: float = 0.02,
    damage: float = 0.005,
    districts: tuple[str, ...] = ("城区",),
) -> Iterator[list[str]]:
    """
    C{n} data rows (L{HEADER} columns): about C{duplicates} of them repeat an earlier
    number (written differently), C{junk} hold no usable number at all.
    """
    seen: list[str] = []
    for _ in range(n):
        r = rng.random()
        if r < junk:
            phone = rng.choice(JUNK)
        elif r < junk + duplicates and seen:
            phone = messy(rng.choice(seen), rng, 0.0)
        else:
            number = clean_number(rng)
            if len(seen) < 100_000:
                seen.append(number)
            else:
                seen[rng.randrange(len(seen))] = number
            phone = messy(number, rng, damage)
        name, gender, age = person(rng)
        yield [name, phone, gender, age, rng.choice(districts)]
