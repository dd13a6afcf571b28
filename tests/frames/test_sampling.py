"""Allocation and stratified drawing, pure and reproducible."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.frames.sampling import allocate, draw, margin_of_error, precision_size


def test_precision_size_infinite_population():
    """With a huge frame the size is z^2 p(1-p)/e^2 (385 for p=0.9, e=0.03)."""
    assert precision_size(10**9, 0.03, 0.9) == 385


def test_precision_size_finite_population_correction():
    """A small frame needs fewer: n0/(1+(n0-1)/N), and never more than N."""
    assert precision_size(500, 0.03, 0.9) == 218
    assert precision_size(50, 0.03, 0.9) == 45
    assert precision_size(5, 0.03, 0.9) == 5
    assert precision_size(0, 0.03, 0.9) == 0


def test_precision_size_reaches_margin():
    """The size chosen achieves the margin (with FPC), and one fewer does not."""
    for pop in (300, 1000, 5000):
        n = precision_size(pop, 0.03, 0.9)
        assert margin_of_error(n, pop, 0.9) <= 0.03 < margin_of_error(n - 1, pop, 0.9)


def test_precision_size_rejects_nonsense():
    """A margin or proportion outside (0, 1) is an error."""
    with pytest.raises(ValueError):
        precision_size(100, 0, 0.5)


def test_equal_per_unit_reports_short_units():
    """Equal allocation asks the same of every unit; small units are reported."""
    a = allocate({"a": 100, "b": 3}, "equal", per_unit=5)
    assert a.wanted == {"a": 5, "b": 5}
    assert a.short == {"b": (5, 3)}


def test_equal_total_split():
    """Equal allocation of a total spreads the remainder over the first units."""
    assert allocate({"a": 9, "b": 9, "c": 9}, "equal", size=8).wanted == {"a": 3, "b": 3, "c": 2}


def test_proportional_sums_to_size():
    """Proportional allocation uses largest remainders and sums exactly to the size."""
    a = allocate({"a": 100, "b": 300, "c": 5}, "proportional", size=10)
    assert a.wanted == {"a": 3, "b": 7, "c": 0}
    assert sum(allocate({"x": 7, "y": 7, "z": 7}, "proportional", size=10).wanted.values()) == 10


def test_proportional_needs_size():
    """Proportional allocation without --size is an error."""
    with pytest.raises(ValueError, match="--size"):
        allocate({"a": 1}, "proportional", per_unit=1)


def frame():
    return {
        "a": [(i, f"+86138000{i:05d}") for i in range(1, 101)],
        "b": [(1000 + i, f"+86139000{i:05d}") for i in range(1, 51)],
    }


def test_draw_reproducible_by_seed():
    """Same frame, sizes and seed give the same sample; another seed does not."""
    s1 = draw(frame(), {"a": 10, "b": 5}, random.Random(7))
    s2 = draw(frame(), {"a": 10, "b": 5}, random.Random(7))
    s3 = draw(frame(), {"a": 10, "b": 5}, random.Random(8))
    assert s1.members == s2.members != s3.members
    assert len(s1.members["a"]) == 10 and len(set(s1.members["a"])) == 10


def test_draw_independent_of_frame_order():
    """Shuffling the frame's rows does not change the sample."""
    f = frame()
    shuffled = {u: list(reversed(rows)) for u, rows in f.items()}
    assert (
        draw(f, {"a": 10}, random.Random(1)).members
        == draw(shuffled, {"a": 10}, random.Random(1)).members
    )


def test_draw_never_takes_a_number_twice():
    """A number handed in by two units is drawn for one of them at most."""
    f = {"a": [(1, "+8613800000001")], "b": [(2, "+8613800000001"), (3, "+8613800000002")]}
    s = draw(f, {"a": 1, "b": 2}, random.Random(0))
    assert s.members == {"a": [1], "b": [3]}
    assert s.short == {"b": (2, 1)}


def test_precision_refuses_sizes():
    """Precision allocation computes the sizes: a --size is an error, not ignored."""
    with pytest.raises(ValueError, match="--margin"):
        allocate({"a": 100}, "precision", size=10)


populations = st.dictionaries(
    st.text(alphabet="ABCDEFGH", min_size=1, max_size=3), st.integers(0, 500), min_size=1
)


@settings(max_examples=300, deadline=None)
@given(populations, st.integers(0, 2000))
def test_proportional_properties(pop, size):
    """Proportional sizes sum to the size and each is within one of its exact quota."""
    wanted = allocate(pop, "proportional", size=size).wanted
    total = sum(pop.values())
    if total:
        assert sum(wanted.values()) == size
        for u, n in pop.items():
            assert abs(wanted[u] - size * n / total) < 1
    else:
        assert set(wanted.values()) <= {0}


@settings(max_examples=200, deadline=None)
@given(populations, st.integers(0, 50), st.integers(0, 2**31))
def test_draw_properties(pop, per_unit, seed):
    """Each unit gets min(wanted, available) distinct numbers, none drawn twice overall."""
    frame = {}
    next_id = 1
    for u, n in sorted(pop.items()):
        rows = []
        for i in range(min(n, 60)):
            # every third number is shared with the unit before (cross-unit duplicates)
            rows.append((next_id, f"+861380000{(next_id - (i % 3 == 0)) % 10**4:04d}"))
            next_id += 1
        frame[u] = rows
    wanted = allocate({u: len(r) for u, r in frame.items()}, "equal", per_unit=per_unit).wanted
    s = draw(frame, wanted, random.Random(seed))
    numbers = {cid: num for rows in frame.values() for cid, num in rows}
    drawn = [numbers[c] for m in s.members.values() for c in m]
    assert len(drawn) == len(set(drawn))
    for u in wanted:
        assert len(s.members[u]) <= wanted[u]
        assert (len(s.members[u]) < wanted[u]) == (u in s.short)
