"""The simulator honours a session's event mask, and skips events no session wants."""

from __future__ import annotations

from dialer.sim.profile import CalleeBehaviour, Dist, Profile
from tests.sim.harness import (
    connect_client,
    login,
    make_sim,
    new_clock,
    originate_into_hold,
)

ANSWER = Profile(
    mode="profile",
    callee=CalleeBehaviour(
        shares=(("answer", 1.0),),
        ring=Dist("fixed", 1.0, lo=1.0, hi=1.0),
        talk=Dist("fixed", 5.0, lo=5.0, hi=5.0),
    ),
)


def _masked(sim, clock, mask: str, name: str):
    c = connect_client(sim, clock, name)
    c.send("Login", [("Username", "dialer"), ("Secret", "dialer"), ("Events", mask)], "l")
    clock.advance(0)
    return c


def _originate(c, clock) -> None:
    originate_into_hold(c, clock, 10.0, step=0.05)


def test_masked_session_gets_only_its_classes():
    """Events: call,user,system: no VarSet, Newexten or Cdr; the call events and UserEvent come."""
    clock = new_clock()
    sim = make_sim(clock, profile=ANSWER)
    c = _masked(sim, clock, "call,user,system", "masked")
    assert not sim.pbx.wants("dialplan,all") and not sim.pbx.wants("cdr,all")
    assert sim.pbx.wants("call,all")
    _originate(c, clock)
    names = {m.name for m in c.events()}
    assert not names & {"VarSet", "Newexten", "Cdr"}
    assert {"Newchannel", "Newstate", "OriginateResponse", "UserEvent", "Hangup"} <= names
    (user,) = c.events("UserEvent")
    assert user["AMDSTATUS"] == "HUMAN"


def test_an_unmasked_session_still_gets_everything():
    """A second session with every class gets VarSet, Newexten and Cdr while the masked one does not."""
    clock = new_clock()
    sim = make_sim(clock, profile=ANSWER)
    masked = _masked(sim, clock, "call,user,system", "masked")
    full = connect_client(sim, clock, "full")
    login(full, clock)
    assert sim.pbx.wants("dialplan,all")
    _originate(masked, clock)
    full_names = {m.name for m in full.events()}
    assert {"VarSet", "Newexten", "Cdr"} <= full_names
    assert not {m.name for m in masked.events()} & {"VarSet", "Newexten", "Cdr"}
    statuses = [m["Value"] for m in full.events("VarSet") if m["Variable"] == "AMDSTATUS"]
    assert statuses == ["HUMAN"]
