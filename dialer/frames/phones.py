"""
Chinese phone numbers as units hand them in, normalised to E.164.

L{normalise} is pure and fast: the common shapes (11-digit mobiles, landlines with
or without area code, C{+86}/C{0086}, separators, full-width digits) are handled with
string operations, and Google's C{phonenumbers} metadata decides whether a number
is allocated (a valid mobile block, a known area code with the right local length)
through a cache keyed by the number's length and first six digits, so it is asked
a few thousand times per million numbers, not a million times.

Nothing is guessed: Excel damage (C{1.88078E+10}, C{18807781234.0}) is refused as
"precision lost", and a cell holding two numbers is refused rather than split.

test-case-name: tests.frames.test_phones
"""

from __future__ import annotations

import re
from typing import NamedTuple

import phonenumbers
from phonenumbers import PhoneNumberType

DEFAULT_AREA_CODE = "0778"  # Hechi, the demo city; see dialer.config


class Phone(NamedTuple):
    """A normalised number: E.164, C{mobile} or C{landline}, extension (C{""} if none)."""

    number: str
    line_type: str
    extension: str = ""


# Why a value is refused: code -> (zh-CN, English). Codes go in rejects files.
REASONS: dict[str, tuple[str, str]] = {
    "empty": ("号码为空", "no number"),
    "precision_lost": (
        "精度丢失：Excel 把号码改成了科学计数法或加了 .0",
        "precision lost: Excel scientific notation or trailing .0",
    ),
    "bad_characters": (
        "含有不属于电话号码的字符",
        "contains characters that are not a phone number",
    ),
    "multiple_numbers": ("一个单元格内有多个号码", "several numbers in one cell"),
    "foreign": ("不是中国大陆号码", "not a mainland China number"),
    "too_short": ("位数太少", "too few digits"),
    "too_long": ("位数太多", "too many digits"),
    "invalid_mobile": ("不是有效的手机号段", "not an allocated mobile number block"),
    "invalid_landline": (
        "区号无效或固话位数与区号不符",
        "unknown area code, or wrong number of digits for it",
    ),
    "service_number": (
        "服务号码（400/800/95xxx 等），不是个人电话",
        "service number (400/800/95xxx...), not a personal line",
    ),
    "bad_extension": ("分机号无效", "invalid extension"),
}


class BadNumber(ValueError):
    """A value that is not a usable Chinese phone number; C{reason} is a L{REASONS} key."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def describe(reason: str) -> str:
    """The bilingual message for a reason code: C{"中文 / English"}."""
    zh, en = REASONS.get(reason, (reason, reason))
    return f"{zh} / {en}"


_FULL_WIDTH: dict[int, int | None] = {0xFF10 + i: ord("0") + i for i in range(10)}
_FULL_WIDTH.update(
    {
        0xFF0B: ord("+"),
        0xFF0D: ord("-"),
        0xFF08: ord("("),
        0xFF09: ord(")"),
        0xFF0E: ord("."),
        0xFF03: ord("#"),
        0xFF25: ord("E"),
        0xFF45: ord("e"),
        0xFF0C: ord(","),
        0xFF0F: ord("/"),
        0xFF1B: ord(";"),
        0x3000: ord(" "),
        0x00A0: ord(" "),
        0x2010: ord("-"),
        0x2011: ord("-"),
        0x2012: ord("-"),
        0x2013: ord("-"),
        0x2014: ord("-"),
        0x2212: ord("-"),
        0x200B: None,
        0xFEFF: None,
        0x09: ord(" "),
    }
)

_SCIENTIFIC = re.compile(r"^[+-]?\d+(?:\.\d*)?[eE][+-]?\d+$")
_DOT_ZERO = re.compile(r"^\+?\d+\.\d+$")
_EXTENSION = re.compile(r"\s*(?:转|分机|ext\.?|extn\.?|x|#)\s*(\d*)\s*$", re.IGNORECASE)
_SEPARATORS = re.compile(r"[\s\-().]")
_ALLOWED = frozenset("0123456789+-(). ")
_MULTI = frozenset(",;/、，；|")

# (length of the national number, its first digits) -> PhoneNumberType. Mobile blocks are
# told apart by their first five digits (e.g. 17400-17405), landlines by area code + 3-4.
_TYPE_CACHE: dict[tuple[int, str], int] = {}
_ACCEPTED_TYPES = {
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "landline",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "landline",
}


def _number_type(nsn: str, prefix: int = 6) -> int:
    key = (len(nsn), nsn[:prefix])
    found = _TYPE_CACHE.get(key)
    if found is None:
        found = phonenumbers.number_type(
            phonenumbers.PhoneNumber(country_code=86, national_number=int(nsn))
        )
        _TYPE_CACHE[key] = found
    return found


def normalise(raw: str, default_area_code: str = DEFAULT_AREA_CODE) -> Phone:
    """
    Normalise one cell to a L{Phone}, or raise L{BadNumber}.

    @param default_area_code: prefixed (with its trunk 0, e.g. C{"0778"}) to 7-8 digit
        local numbers handed in without an area code.
    """
    s = raw.translate(_FULL_WIDTH).strip()
    if not s:
        raise BadNumber("empty")
    if s.isdigit() and s.isascii():
        return _classify(s, False, default_area_code, "")
    if _SCIENTIFIC.match(s) or _DOT_ZERO.match(s):
        raise BadNumber("precision_lost")
    extension = ""
    m = _EXTENSION.search(s)
    if m and m.start() > 0:
        extension = m.group(1)
        if not 1 <= len(extension) <= 6:
            raise BadNumber("bad_extension")
        s = s[: m.start()]
    if not _ALLOWED.issuperset(s):
        if any(c in _MULTI for c in s):
            raise BadNumber("multiple_numbers")
        raise BadNumber("bad_characters")
    international = s.startswith("+")
    if "+" in (s[1:] if international else s):
        raise BadNumber("bad_characters")
    digits = _SEPARATORS.sub("", s.lstrip("+"))
    if not digits:
        raise BadNumber("empty")
    try:
        return _classify(digits, international, default_area_code, extension)
    except BadNumber:
        # "0778-2281234-801": a dash before the last 1-5 digits may mark an extension.
        if extension or "-" not in s:
            raise
        head, _, tail = s.rpartition("-")
        tail = tail.strip()
        if not (tail.isdigit() and 1 <= len(tail) <= 5):
            raise
        head_digits = _SEPARATORS.sub("", head.lstrip("+"))
        try:
            phone = _classify(head_digits, international, default_area_code, tail)
        except BadNumber:
            pass
        else:
            if phone.line_type == "landline":
                return phone
        raise


def _classify(digits: str, international: bool, default_area_code: str, extension: str) -> Phone:
    if not digits:
        raise BadNumber("empty")
    if international or digits.startswith("00"):
        rest = digits if international else digits[2:]
        if len(rest) < 3:
            raise BadNumber("too_short")
        if not rest.startswith("86"):
            raise BadNumber("foreign")
        nsn = rest[2:]
        if nsn.startswith("0"):
            nsn = nsn[1:]  # "+86 0778 ..." keeps the trunk prefix by habit
    elif digits[0] == "1":
        nsn = digits
    elif digits[0] == "0":
        nsn = digits[1:]  # trunk prefix; also "013812345678", a mobile dialled long-distance
    elif len(digits) == 10 and digits.startswith(("400", "800")):
        raise BadNumber("service_number")
    elif len(digits) == 13 and digits.startswith("861"):
        nsn = digits[2:]  # "8613812345678": +86 without the plus
    elif len(digits) in (7, 8):
        if digits[0] in "01":
            raise BadNumber("invalid_landline")
        nsn = default_area_code.lstrip("0") + digits
    elif len(digits) < 7:
        raise BadNumber("service_number" if digits.startswith(("95", "96")) else "too_short")
    else:
        raise BadNumber("invalid_landline" if len(digits) < 11 else "too_long")
    n = len(nsn)
    if nsn.startswith("1") and not nsn.startswith("10"):
        if n != 11:
            raise BadNumber("too_short" if n < 11 else "too_long")
        kind = _number_type(nsn, 5)
        if kind == PhoneNumberType.MOBILE or kind == PhoneNumberType.FIXED_LINE_OR_MOBILE:
            if extension:
                raise BadNumber("bad_extension")
            return Phone("+86" + nsn, "mobile", "")
        if kind == PhoneNumberType.UNKNOWN:
            raise BadNumber("invalid_mobile")
        raise BadNumber("service_number")
    if n < 9:
        raise BadNumber("too_short")
    if n > 11:
        raise BadNumber("too_long")
    kind = _number_type(nsn)
    line_type = _ACCEPTED_TYPES.get(kind)
    if line_type is None:
        raise BadNumber("invalid_landline" if kind == PhoneNumberType.UNKNOWN else "service_number")
    return Phone("+86" + nsn, "landline", extension)


def national_format(e164: str) -> str:
    """C{+8613812345678} -> C{138 1234 5678}; C{+867782281234} -> C{0778-2281234}."""
    if not e164.startswith("+86"):
        return e164
    nsn = e164[3:]
    if nsn.startswith("1") and not nsn.startswith("10"):
        return f"{nsn[:3]} {nsn[3:7]} {nsn[7:]}"
    area = 2 if nsn.startswith(("10", "2")) else 3
    return f"0{nsn[:area]}-{nsn[area:]}"
