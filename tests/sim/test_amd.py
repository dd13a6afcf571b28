"""AMD() in the simulator: verdicts from the callee profile, as app_amd reports them over AMI."""

from __future__ import annotations

import pytest

from dialer.sim.dialplan import Dialplan
from dialer.sim.profile import CalleeBehaviour, Dist, Profile, ProfileError, parse_profile
from dialer.sim.server import DEFAULT_DIALPLAN
from tests.sim.harness import (
    connect_client,
    login,
    make_sim,
    new_clock,
    originate_into_hold,
    run_for,
)


def _fixed(x: float) -> Dist:
    return Dist("fixed", x, lo=x, hi=x)


def _profile(outcome: str, **callee) -> Profile:
    base = {
        "shares": ((outcome, 1.0),),
        "ring": _fixed(2.0),
        "talk": _fixed(60.0),
        "machine_greeting": _fixed(8.0),
        "machine_talk": _fixed(60.0),
    }
    return Profile(mode="profile", callee=CalleeBehaviour(**{**base, **callee}))


def _call(profile: Profile, seconds: float = 10.0, dialplan: Dialplan | None = None):
    """Originate one call into hold; return the client, the ;1 name and the PBX."""
    clock = new_clock()
    sim = make_sim(clock, profile=profile, dialplan=dialplan)
    c = connect_client(sim, clock)
    login(c, clock)
    originate_into_hold(c, clock, seconds, step=0.05)
    return c, clock, sim


def _amd(c) -> list[tuple[float, str, str, str]]:
    """(time, channel, variable, value) of the AMD VarSet events."""
    return [
        (t, m["Channel"], m["Variable"], m["Value"])
        for t, m in c.messages
        if m.is_event and m.name == "VarSet" and m["Variable"] in ("AMDSTATUS", "AMDCAUSE")
    ]


def _answered_at(c) -> float:
    return next(
        t
        for t, m in c.messages
        if m.is_event
        and m.name == "Newstate"
        and m["ChannelState"] == "6"
        and m["Channel"].endswith(";1")
    )


def test_hold_runs_amd_after_answer():
    """Our hold: NoOp, Answer, AMD, UserEvent(MinyiAMD) with the verdict (class user), Wait."""
    c, _, _ = _call(_profile("answer"), 5.0)
    hold = [m["Application"] for m in c.events("Newexten") if m["Context"] == "hold"]
    assert hold[:5] == ["NoOp", "Answer", "AMD", "UserEvent", "Wait"]
    (user,) = c.events("UserEvent")
    assert user["Privilege"] == "user,all" and user["UserEvent"] == "MinyiAMD"
    assert (user["AMDSTATUS"], user["AMDCAUSE"]) == ("HUMAN", "HUMAN-800-800")
    assert user["Channel"].endswith(";1") and user["Context"] == "hold"


def test_machine_is_machine_three_seconds_after_pickup():
    """A machine: AMDSTATUS=MACHINE then AMDCAUSE=LONGGREETING on the ;1, 3 s after the answer."""
    c, _, _ = _call(_profile("machine"))
    got = _amd(c)
    assert [(ch.endswith(";1"), var, val) for _, ch, var, val in got] == [
        (True, "AMDSTATUS", "MACHINE"),
        (True, "AMDCAUSE", "LONGGREETING-3000-1500"),
    ]
    assert got[0][0] - _answered_at(c) == pytest.approx(3.0, abs=0.06)


def test_person_is_human_after_the_profile_time():
    """A person: HUMAN with cause HUMAN-800-800 after amd_human_after (here 1 s)."""
    c, _, _ = _call(_profile("answer", amd_human_after=_fixed(1.0)))
    got = _amd(c)
    assert [(var, val) for _, _, var, val in got] == [
        ("AMDSTATUS", "HUMAN"),
        ("AMDCAUSE", "HUMAN-800-800"),
    ]
    assert got[0][0] - _answered_at(c) == pytest.approx(1.0, abs=0.06)


def test_false_machine_rate_judges_people_machines():
    """amd_false_machine = 1: every person is reported as a machine."""
    c, _, _ = _call(_profile("answer", amd_false_machine=1.0))
    assert [val for _, _, var, val in _amd(c) if var == "AMDSTATUS"] == ["MACHINE"]


def test_false_human_rate_judges_machines_people():
    """amd_false_human = 1: every machine is reported as a person."""
    c, _, _ = _call(_profile("machine", amd_false_human=1.0))
    assert [val for _, _, var, val in _amd(c) if var == "AMDSTATUS"] == ["HUMAN"]


def test_verdict_later_than_total_analysis_time_is_notsure():
    """AMD(,,,2000) with a 3 s machine: NOTSURE, TOOLONG-2000, after 2 s."""
    text = DEFAULT_DIALPLAN.read_text(encoding="utf-8").replace(
        "same => n,AMD()", "same => n,AMD(2500,1500,800,2000)"
    )
    plan = Dialplan.from_text(text.replace('#tryinclude "extensions-testrig.conf"', ""))
    c, _, _ = _call(_profile("machine"), dialplan=plan)
    got = _amd(c)
    assert [(var, val) for _, _, var, val in got] == [
        ("AMDSTATUS", "NOTSURE"),
        ("AMDCAUSE", "TOOLONG-2000"),
    ]
    assert got[0][0] - _answered_at(c) == pytest.approx(2.0, abs=0.06)


def test_hangup_while_listening_is_hangup():
    """The callee hangs up during AMD: AMDSTATUS=HANGUP with an empty AMDCAUSE, then Hangup."""
    # the machine leaves after its greeting; AMD is told to take longer than that
    c, _, _ = _call(
        _profile(
            "machine",
            amd_machine_after=_fixed(4.5),
            machine_greeting=_fixed(1.0),
            machine_talk=_fixed(1.0),
        )
    )
    got = _amd(c)
    assert [(var, val) for _, _, var, val in got] == [("AMDSTATUS", "HANGUP"), ("AMDCAUSE", "")]
    names = [m.name for m in c.events() if m.get("Channel", "").endswith(";1")]
    assert names.index("Hangup") > max(i for i, n in enumerate(names) if n == "VarSet")


def test_redirect_while_listening_sets_nothing():
    """A Redirect during AMD moves the call on without any AMDSTATUS."""
    c, clock, sim = _call(_profile("answer", amd_human_after=_fixed(2.0)), 0.0)
    run_for(clock, 2.6, step=0.05)  # answered at 2 s; AMD until 4 s
    one = next(ch.name for ch in sim.pbx.channels.values() if ch.name.endswith(";1"))
    c.send(
        "Redirect",
        [("Channel", one), ("Context", "safeharbour"), ("Exten", "s"), ("Priority", "1")],
        action_id="r",
    )
    run_for(clock, 5.0, step=0.05)
    assert _amd(c) == []
    assert [m["Context"] for m in c.events("Newexten") if m["Channel"] == one][-1] == "safeharbour"


def test_profile_amd_keys_and_bad_rate():
    """[callee] amd_* keys are read; a rate outside 0..1 is a profile error."""
    p = parse_profile(
        {
            "callee": {
                "answer": 0.5,
                "machine": 0.5,
                "amd_machine_after": {"kind": "fixed", "value": 2.5},
                "amd_false_machine": 0.02,
                "amd_false_human": 0.1,
            }
        }
    )
    assert p.callee.amd_machine_after.a == 2.5
    assert (p.callee.amd_false_machine, p.callee.amd_false_human) == (0.02, 0.1)
    with pytest.raises(ProfileError, match="amd_false_human"):
        parse_profile({"callee": {"answer": 1.0, "amd_false_human": 1.5}})
