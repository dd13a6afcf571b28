"""The simulated respondent: one decision per question, the keys a question accepts, comments."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from dialer.sim.loopback import LoopbackEndpoint
from dialer.sim.profile import Dist, RespondentBehaviour, parse_profile
from dialer.sim.respondent import Respondent, prompt_keys_of
from dialer.surveys import loader

ROOT = Path(__file__).resolve().parents[2]
HECHI = loader.load(ROOT / "ivr_scripts" / "hechi_annual.yaml")
QUIET = Dist("fixed", 1.0, lo=1.0, hi=1.0)


def _behaviour(**kw):
    base = {"hesitation": QUIET, "no_input": 0.0, "invalid": 0.0, "star": 0.0, "hangup": 0.0}
    base |= {"barge_in": 0.0, "keys": (("1", 0.4), ("2", 0.3), ("3", 0.2), ("4", 0.1))}
    return RespondentBehaviour(**(base | kw))


def _question(person, now=0.0, sounds=("q-1", "unit-1", "q-2"), last="scale", escape="1234*"):
    """The IVR asks one question the way the runner does: STREAM FILEs, then GET DATA."""
    reactions = [person.playback(now, s, escape, 2.0) for s in sounds]
    reactions.append(person.get_data(now, last, 3.0, 1))
    return reactions


def test_hang_up_is_drawn_once_per_question_not_per_sound():
    """With hangup=0.08 and four sounds per question, about 8 % of questions end in a hang-up."""
    rng = random.Random(5)
    hung = 0
    for _ in range(4000):
        person = Respondent(_behaviour(hangup=0.08), rng)
        reactions = _question(person)
        hung += any(r.hangup_after is not None for r in reactions)
    assert 0.065 < hung / 4000 < 0.095  # per sound file it would be 1 - 0.92**4 = 28 %


def test_a_question_gets_one_key_after_the_prompt():
    """A plain respondent presses one valid key, hesitation seconds after the last prompt."""
    person = Respondent(_behaviour(), random.Random(1))
    reactions = _question(person)
    assert [r.digits for r in reactions[:-1]] == [(), (), ()]
    ((delay, key),) = reactions[-1].digits
    assert delay == 3.0 + 1.0 and key in "1234"


def test_keys_are_restricted_to_what_the_question_asks_for():
    """A yes/no question (escape 12*) gets 1 or 2, never the scale's 3 or 4."""
    rng = random.Random(2)
    keys = Counter()
    for _ in range(500):
        person = Respondent(_behaviour(), rng)
        keys[_question(person, escape="12*")[-1].digits[0][1]] += 1
    assert set(keys) == {"1", "2"}


def test_read_back_is_confirmed_with_hash():
    """After a valid answer, a prompt accepting only # and * is a read-back: the person presses #."""
    person = Respondent(_behaviour(), random.Random(3))
    _question(person)
    confirm = _question(person, sounds=("confirm-1", "option-sat-1"), last="confirm-2", escape="#*")
    assert confirm[-1].digits == ((4.0, "#"),)
    assert [r.digits for r in confirm[:-1]] == [(), ()]  # no key into the read-back's start


def test_intro_with_star_and_hash_is_not_a_read_back():
    """An intro playing with escape *# before a one-sound question does not make the person press #."""
    rng = random.Random(4)
    for _ in range(200):
        person = Respondent(_behaviour(), rng)
        assert person.playback(0.0, "welcome", "*#", 5.0).digits == ()
        assert person.get_data(5.0, "consent", 4.0, 1).digits[0][1] in "1234"


def test_prompt_keys_tell_a_one_sound_question_from_a_read_back():
    """With the script's prompt keys, consent (1/2) gets 1 or 2 and the read-back gets #."""
    keys = prompt_keys_of(HECHI)
    assert keys["consent"] == "12*" and keys["confirm"] == "#*"
    assert keys["scale_satisfaction"] == "1234*" and keys["q_visits"].startswith("0123456789#")
    rng = random.Random(6)
    for _ in range(200):
        person = Respondent(_behaviour(), rng, keys)
        person.playback(0.0, "minyi/hechi_annual/zh-CN/welcome", "*#", 5.0)
        assert person.get_data(5.0, "minyi/hechi_annual/zh-CN/consent", 4.0, 1).digits[0][1] in "12"
        person.get_data(5.0, "minyi/hechi_annual/zh-CN/confirm-2", 4.0, 1)
    person = Respondent(_behaviour(), rng, keys)
    assert person.get_data(0.0, "minyi/hechi_annual/zh-CN/confirm-2", 2.0, 1).digits[0][1] == "#"


def test_every_behaviour_occurs_and_a_re_ask_draws_no_hang_up():
    """Valid, invalid, silence, '*' and hang-ups all occur; a question asked again is not hung up on."""
    b = _behaviour(no_input=0.15, invalid=0.15, star=0.1, hangup=0.1)
    rng = random.Random(7)
    kinds = Counter()
    for _ in range(1000):
        person = Respondent(b, rng)
        reactions = _question(person)
        if any(r.hangup_after is not None for r in reactions):
            kinds["hangup"] += 1  # (a real call would be over: nothing more is asked)
            continue
        first = reactions[-1]
        key = first.digits[0][1] if first.digits else None
        kinds["none" if key is None else "star" if key == "*" else key in "1234"] += 1
        if key not in ("1", "2", "3", "4"):  # the IVR asks again: no hang-up drawn
            again = _question(person, sounds=("invalid", "q-1"))[-1]
            assert again.hangup_after is None
    assert all(kinds[k] > 50 for k in ("hangup", "none", "star", True, False))


def test_number_question_ends_with_hash_and_barge_in_keeps_the_entry():
    """A number is typed and ended with #; barged into a playback, the # follows in WAIT FOR DIGIT."""
    person = Respondent(_behaviour(), random.Random(8))
    reaction = person.get_data(0.0, "q3-2", 2.0, 2)
    assert [k for _, k in reaction.digits][1] == "#"
    person = Respondent(_behaviour(barge_in=1.0), random.Random(8))
    reaction = person.playback(10.0, "q3-1", "0123456789*", 4.0)
    (t1, k1), (t2, k2) = reaction.digits
    assert 2.0 <= t1 <= 4.0 and k1 in "1234" and k2 == "#" and t2 > t1
    assert person.wait_for_digit(10.0 + t1).digits == ()  # the # is already on its way


def test_comment_ends_with_hash_silence_or_hang_up():
    """A comment is spoken for the profile's length and ends with #, by falling silent, or a hang-up."""
    b = _behaviour(comment=Dist("uniform", 3.0, 20.0, 3.0, 20.0), comment_key=0.6, hangup=0.1)
    rng = random.Random(9)
    ends = Counter()
    for _ in range(1000):
        plan = Respondent(b, rng).record(0.0, 15.0)
        ends[plan.end] += 1
        assert 0.5 <= plan.speech <= 15.0
    assert 50 < ends["hangup"] < 160 and ends["key"] > ends["silence"] > 200


def test_same_seed_same_respondent():
    """Two respondents with the same seed act the same; the draws come only from the given RNG."""
    b = _behaviour(no_input=0.1, invalid=0.1, star=0.1, hangup=0.05, barge_in=0.3)

    def run(seed):
        person = Respondent(b, random.Random(seed))
        return [_question(person) for _ in range(10)]

    assert run(11) == run(11)
    assert run(11) != run(12)


def test_profile_reads_the_new_respondent_keys():
    """barge_in, comment and comment_key come from [respondent]; shares outside 0..1 are refused."""
    p = parse_profile(
        {"respondent": {"barge_in": 0.2, "comment": {"min": 2, "max": 9}, "comment_key": 0.5}}
    )
    assert p.respondent.barge_in == 0.2 and p.respondent.comment_key == 0.5
    assert (p.respondent.comment.lo, p.respondent.comment.hi) == (2.0, 9.0)
    try:
        parse_profile({"respondent": {"barge_in": 1.5}})
    except ValueError as e:
        assert "barge_in" in str(e)
    else:
        raise AssertionError("barge_in 1.5 accepted")


def test_sim_cli_refuses_a_bad_survey_file(tmp_path, capsys):
    """dialer sim --survey with a broken questionnaire is a one-line error before anything starts."""
    from dialer import cli

    bad = tmp_path / "bad.yaml"
    bad.write_text("schema_version: 1\nid: x\n", encoding="utf-8")
    profile = ROOT / "dialer" / "sim" / "profiles" / "ivr.yaml"
    assert cli.main(["sim", "--profile", str(profile), "--survey", str(bad)]) == 1
    assert "bad.yaml" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("turn", "reply"),
    [
        ("comment#", "200 result=35 (dtmf) endpos=40000"),  # 5 s, then '#'
        ("comment", "200 result=1 (timeout) endpos=48000"),  # 5 s + 1 s of the 3 s silence kept
        ("hangup", "200 result=-1 (hangup) endpos=40000"),  # 5 s, then the phone goes down
        ("none", "200 result=1 (timeout) endpos=8000"),  # says nothing: 1 s of silence kept
    ],
)
def test_record_file_in_the_simulator(turn, reply):
    """RECORD FILE with s=3: the respondent speaks 5 s and ends with #, silence or a hang-up."""
    from dialer.sim.profile import CalleeBehaviour, Profile
    from dialer.sim.server import SimulatedPBX
    from tests.sim.harness import AGIFactory, connect_client, login, new_clock, run_for

    clock = new_clock()
    agi = AGIFactory(["ANSWER", 'RECORD FILE /tmp/c wav "#" 30000 BEEP s=3'], clock, linger=1.0)
    behaviour = _behaviour(comment=Dist("fixed", 5.0, lo=5.0, hi=5.0))

    def planner(callee):
        callee.person = Respondent(behaviour, random.Random(1), script=[turn])

    sim = SimulatedPBX(
        clock=clock,
        rng=random.Random(1),
        profile=Profile(callee=CalleeBehaviour(shares=(("answer", 1.0),), ring=QUIET)),
        agi_endpoint=lambda host, port: LoopbackEndpoint(clock, agi, port),
        planner=planner,
    )
    c = connect_client(sim, clock)
    login(c, clock)
    c.send(
        "Originate",
        [
            ("Channel", "Local/10001@callee"),
            ("Context", "survey"),
            ("Exten", "s"),
            ("Priority", "1"),
            ("Async", "true"),
        ],
        action_id="o",
    )
    run_for(clock, 20.0, step=0.05)
    got, _, endpos = agi.sessions[0].replies[1].rpartition(" endpos=")
    want, _, want_endpos = reply.rpartition(" endpos=")
    assert got == want
    assert abs(int(endpos) - int(want_endpos)) <= 0.12 * 8000  # the clock moves in 50 ms steps
