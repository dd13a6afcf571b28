"""The synthetic frames: every messy spelling of a number normalises back to it."""

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.frames.phones import BadNumber, normalise
from dialer.frames.synth import clean_number, frame_rows, messy


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=2**32))
def test_messy_spellings_normalise_to_the_same_number(seed):
    """Separators, +86/0086, full width, missing area code: all give the same E.164."""
    rng = random.Random(seed)
    number = clean_number(rng)
    expected = normalise(number)
    assert expected.number == "+86" + number.removeprefix("0")
    phone = normalise(messy(number, rng, damage=0.0))
    assert phone.number == expected.number


def test_damage_is_always_rejected():
    """Excel-damaged spellings are never accepted."""
    rng = random.Random(3)
    for _ in range(200):
        text = messy(clean_number(rng), rng, damage=1.0)
        try:
            normalise(text)
        except BadNumber as e:
            assert e.reason == "precision_lost"
        else:
            raise AssertionError(text)


def test_frame_rows_reproducible():
    """The same seed gives the same rows."""
    a = list(frame_rows(random.Random(1), 100))
    b = list(frame_rows(random.Random(1), 100))
    assert a == b and len(a) == 100 and len(a[0]) == 5
