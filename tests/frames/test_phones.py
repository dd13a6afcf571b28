"""Phone normalisation: the shapes units hand in, and the values refused."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.frames.phones import REASONS, BadNumber, describe, national_format, normalise

ACCEPTED = [
    ("13812345678", "+8613812345678", "mobile", ""),
    ("138 1234 5678", "+8613812345678", "mobile", ""),
    ("138-1234-5678", "+8613812345678", "mobile", ""),
    ("138.1234.5678", "+8613812345678", "mobile", ""),
    ("+86 138 1234 5678", "+8613812345678", "mobile", ""),
    ("+86-13812345678", "+8613812345678", "mobile", ""),
    ("0086 13812345678", "+8613812345678", "mobile", ""),
    ("8613812345678", "+8613812345678", "mobile", ""),
    ("013812345678", "+8613812345678", "mobile", ""),
    ("１３８１２３４５６７８", "+8613812345678", "mobile", ""),
    ("＋８６　１３８１２３４５６７８", "+8613812345678", "mobile", ""),
    (" 13812345678\t", "+8613812345678", "mobile", ""),
    ("0778-2281234", "+867782281234", "landline", ""),
    ("(0778)2281234", "+867782281234", "landline", ""),
    ("（0778）2281234", "+867782281234", "landline", ""),
    ("07782281234", "+867782281234", "landline", ""),
    ("+86 778 2281234", "+867782281234", "landline", ""),
    ("+86 0778 2281234", "+867782281234", "landline", ""),
    ("2281234", "+867782281234", "landline", ""),
    ("010-12345678", "+861012345678", "landline", ""),
    ("0778-2281234转801", "+867782281234", "landline", "801"),
    ("0778-2281234 ext. 12", "+867782281234", "landline", "12"),
    ("0778-2281234 分机 5", "+867782281234", "landline", "5"),
    ("0778-2281234-801", "+867782281234", "landline", "801"),
    ("2281234-8", "+867782281234", "landline", "8"),
]


@pytest.mark.parametrize(("raw", "number", "line_type", "extension"), ACCEPTED)
def test_accepted_shapes(raw, number, line_type, extension):
    """Each real-world shape normalises to the same E.164 number, type and extension."""
    phone = normalise(raw)
    assert (phone.number, phone.line_type, phone.extension) == (number, line_type, extension)


REJECTED = [
    ("", "empty"),
    ("   ", "empty"),
    ("1.88078E+10", "precision_lost"),
    ("1.88078e10", "precision_lost"),
    ("18807781234.0", "precision_lost"),
    ("１.８８０７８Ｅ＋１０", "precision_lost"),
    ("无", "bad_characters"),
    ("13812345678/13912345678", "multiple_numbers"),
    ("13812345678，13912345678", "multiple_numbers"),
    ("+1 212 555 1234", "foreign"),
    ("001 212 555 1234", "foreign"),
    ("12345", "too_short"),
    ("00", "too_short"),
    ("1381234567", "too_short"),
    ("138123456789", "too_long"),
    ("14012345678", "invalid_mobile"),
    ("0755-2281234", "invalid_landline"),
    ("0123456", "too_short"),
    ("4008001234", "service_number"),
    ("95588", "service_number"),
    ("13812345678转12", "bad_extension"),
    ("0778-2281234转", "bad_extension"),
    ("138+12345678", "bad_characters"),
]


@pytest.mark.parametrize(("raw", "reason"), REJECTED)
def test_rejected_values(raw, reason):
    """Unusable values are refused with the reason code the rejects file shows."""
    with pytest.raises(BadNumber) as info:
        normalise(raw)
    assert info.value.reason == reason


def test_default_area_code_is_configurable():
    """A 7-8 digit local number takes the configured area code."""
    assert normalise("88888888", "0755").number == "+8675588888888"
    assert normalise("2281234", "0778").number == "+867782281234"


def test_local_number_with_wrong_length_for_default_area():
    """Hechi numbers have 7 digits: an 8-digit local number under 0778 is refused."""
    with pytest.raises(BadNumber) as info:
        normalise("22812345", "0778")
    assert info.value.reason == "invalid_landline"


def test_precision_lost_is_never_guessed():
    """Scientific notation is refused even when the mantissa looks complete."""
    with pytest.raises(BadNumber) as info:
        normalise("1.3812345678E+10")
    assert info.value.reason == "precision_lost"


def test_national_format():
    """E.164 numbers print in the familiar national layout."""
    assert national_format("+8613812345678") == "138 1234 5678"
    assert national_format("+867782281234") == "0778-2281234"
    assert national_format("+861012345678") == "010-12345678"


def test_reasons_are_bilingual():
    """Every reason reads in Chinese and English."""
    text = describe("precision_lost")
    assert "精度" in text and "precision lost" in text


@settings(max_examples=2000, deadline=None)
@given(
    st.text(alphabet=st.sampled_from("0123456789０１２+-(). 转ext#xE,/\t\u3000８６"), max_size=30)
    | st.text(max_size=20)
)
def test_any_text_is_a_phone_or_a_reason(text):
    """Arbitrary cell text never crashes: it is a valid Phone or a known reason code."""
    try:
        phone = normalise(text)
    except BadNumber as e:
        assert e.reason in REASONS
    else:
        assert phone.number.startswith("+86") and phone.number[1:].isdigit()
        assert phone.line_type in ("mobile", "landline")
        assert normalise(phone.number) == phone._replace(extension="")
