"""Profiles: loading, validation and deterministic draws (respondents: test_respondent.py)."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from dialer.sim.profile import (
    ProfileError,
    callee_steps,
    load_profile,
    parse_profile,
)

PROFILES = Path(__file__).resolve().parents[2] / "dialer" / "sim" / "profiles"


@pytest.mark.parametrize("name", ["reference.toml", "evening.toml", "ivr.yaml"])
def test_example_profiles_load(name):
    """Every shipped example profile is valid."""
    profile = load_profile(PROFILES / name)
    assert profile.mode in ("profile", "last-digit")


def test_no_answer_takes_the_rest():
    """Shares below 1 leave the rest to no_answer."""
    p = parse_profile({"callee": {"answer": 0.3, "busy": 0.1}})
    assert dict(p.callee.shares) == pytest.approx({"answer": 0.3, "busy": 0.1, "no_answer": 0.6})


@pytest.mark.parametrize(
    "data, match",
    [
        ({"callee": {"answer": 0.8, "busy": 0.5}}, "add up"),
        ({"callee": {"answr": 0.3}}, "unknown"),
        ({"mode": "psychic"}, "mode"),
        ({"version": 2}, "version"),
        ({"respondent": {"keys": "1x"}}, "DTMF"),
        ({"callee": {"ring": {"kind": "cauchy", "mean": 1}}}, "kind"),
    ],
)
def test_bad_profiles_are_refused(data, match):
    """Invalid profiles raise ProfileError naming the problem."""
    with pytest.raises(ProfileError, match=match):
        parse_profile(data)


def test_bad_file_names_the_file(tmp_path):
    """A TOML syntax error is reported with the file name."""
    bad = tmp_path / "bad.toml"
    bad.write_text("callee = [")
    with pytest.raises(ProfileError, match=r"bad\.toml"):
        load_profile(bad)


def test_draws_are_deterministic_and_follow_shares():
    """The same seed gives the same outcomes; 20,000 draws land near the configured shares."""
    profile = load_profile(PROFILES / "evening.toml")
    runs = []
    for _ in range(2):
        rng = random.Random(42)
        runs.append([callee_steps(profile, "1380000", rng)[0] for _ in range(20000)])
    assert runs[0] == runs[1]
    counts = Counter(runs[0])
    for name, share in profile.callee.shares:
        assert counts[name] / 20000 == pytest.approx(share, abs=0.015)


def test_callee_steps_use_real_applications():
    """Each outcome becomes a small dialplan with the cause Asterisk would give."""
    seen = {}
    profile = load_profile(PROFILES / "evening.toml")
    rng = random.Random(1)
    while len(seen) < 7:
        outcome, steps = callee_steps(profile, "1380000", rng)
        seen[outcome] = steps
    assert seen["busy"][-2].app == "Busy" and seen["busy"][-1].data == "17"
    assert seen["congestion"][-2].app == "Congestion"
    assert seen["unallocated"][-1].data == "1"
    assert seen["rejected"][-1].data == "21"
    assert seen["no_answer"][-2].data == "30" and seen["no_answer"][-1].data == "19"
    assert [s.app for s in seen["answer"]][:4] == ["NoOp", "Ringing", "Wait", "Answer"]
    assert any(s.app == "Playback" for s in seen["machine"])


def test_empty_profile_uses_the_defaults():
    """A profile with no shares answers 30 % and leaves 70 % unanswered."""
    p = parse_profile({})
    assert dict(p.callee.shares) == {"answer": 0.3, "no_answer": 0.7}
