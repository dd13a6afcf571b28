"""The simulator's AstDB: DBGet/DBPut/DBDel on the wire, DB() and the minyi-outcome hangup handler."""

from __future__ import annotations

from twisted.internet.testing import StringTransport

from dialer.campaign.outcomes import FAMILY, HANDLER, parse_record
from dialer.sim.ami import AMISession
from dialer.sim.dialplan import Dialplan, separate_args
from dialer.sim.pbx import PBX, Channel
from tests.sim.harness import connect_client, login, make_sim, new_clock, run_for


def _session():
    clock = new_clock()
    sim = make_sim(clock)
    session = AMISession(sim)
    transport = StringTransport()
    session.makeConnection(transport)
    session.dataReceived(b"Action: Login\r\nUsername: dialer\r\nSecret: dialer\r\n\r\n")
    transport.clear()
    return sim, session, transport


def _ask(session, transport, text: str) -> bytes:
    transport.clear()
    session.dataReceived(text.encode())
    return transport.value()


def test_dbget_wire_format_is_asterisk_22s():
    """DBGet of an existing key: listack, DBGetResponse (ActionID last), DBGetComplete."""
    sim, session, transport = _session()
    sim.database[("minyi_outcome", "17")] = "v=1;cause=16"
    out = _ask(
        session,
        transport,
        "Action: DBGet\r\nActionID: g1\r\nFamily: minyi_outcome\r\nKey: 17\r\n\r\n",
    )
    assert out == (
        b"Response: Success\r\nActionID: g1\r\nEventList: start\r\n"
        b"Message: Result will follow\r\n\r\n"
        b"Event: DBGetResponse\r\nFamily: minyi_outcome\r\nKey: 17\r\nVal: v=1;cause=16\r\n"
        b"ActionID: g1\r\n\r\n"
        b"Event: DBGetComplete\r\nActionID: g1\r\nEventList: Complete\r\nListItems: 1\r\n\r\n"
    )


def test_dbget_missing_key_and_missing_arguments():
    """A missing key is 'Database entry not found'; no Family / no Key are named errors."""
    _sim, session, transport = _session()
    out = _ask(session, transport, "Action: DBGet\r\nActionID: g2\r\nFamily: f\r\nKey: k\r\n\r\n")
    assert out == b"Response: Error\r\nActionID: g2\r\nMessage: Database entry not found\r\n\r\n"
    out = _ask(session, transport, "Action: DBGet\r\nActionID: g3\r\nKey: k\r\n\r\n")
    assert b"Message: No family specified.\r\n" in out
    out = _ask(session, transport, "Action: DBGet\r\nActionID: g4\r\nFamily: f\r\n\r\n")
    assert b"Message: No key specified.\r\n" in out


def test_dbput_then_dbdel_then_dbdel_again():
    """DBPut stores, DBDel deletes once; deleting a missing key is an error."""
    sim, session, transport = _session()
    out = _ask(
        session, transport, "Action: DBPut\r\nActionID: p\r\nFamily: f\r\nKey: k\r\nVal: x\r\n\r\n"
    )
    assert (
        out == b"Response: Success\r\nActionID: p\r\nMessage: Updated database successfully\r\n\r\n"
    )
    assert sim.database[("f", "k")] == "x"
    out = _ask(session, transport, "Action: DBDel\r\nActionID: d\r\nFamily: f\r\nKey: k\r\n\r\n")
    assert out == b"Response: Success\r\nActionID: d\r\nMessage: Key deleted successfully\r\n\r\n"
    out = _ask(session, transport, "Action: DBDel\r\nActionID: d2\r\nFamily: f\r\nKey: k\r\n\r\n")
    assert out.startswith(b"Response: Error\r\nActionID: d2\r\nMessage: ")
    assert ("f", "k") not in sim.database


def test_dbdeltree_removes_a_family():
    """DBDelTree with a family removes its keys only."""
    sim, session, transport = _session()
    sim.database.update({("a", "1"): "x", ("a", "2"): "y", ("b", "1"): "z"})
    out = _ask(session, transport, "Action: DBDelTree\r\nActionID: t\r\nFamily: a\r\n\r\n")
    assert b"Key tree deleted successfully" in out
    assert sim.database == {("b", "1"): "z"}


def test_astdb_survives_core_restart():
    """The AstDB outlives `core restart now`, as Asterisk's SQLite file does."""
    clock = new_clock()
    sim = make_sim(clock)
    sim.database[("f", "k")] = "kept"
    first = sim.pbx
    sim.shutdown(restart=True)
    run_for(clock, 3.0)
    assert sim.pbx is not None and sim.pbx is not first
    assert sim.pbx.database[("f", "k")] == "kept"
    c = connect_client(sim, clock)
    login(c, clock)
    c.send("DBGet", [("Family", "f"), ("Key", "k")], action_id="g")
    clock.advance(0)
    assert [e["Val"] for e in c.events("DBGetResponse")] == ["kept"]


def test_separate_args_like_asterisk():
    """Originate Variable splitting: commas inside quotes/parentheses stay; quotes go."""
    assert separate_args('CHANNEL(hangup_handler_push)="minyi-outcome,s,1",A=1') == [
        "CHANNEL(hangup_handler_push)=minyi-outcome,s,1",
        "A=1",
    ]
    assert separate_args(r"B=x\,y,C=z") == ["B=x,y", "C=z"]
    assert separate_args("F(a,b)=1") == ["F(a,b)=1"]


def test_db_function_write_and_read_in_the_dialplan():
    """Set(DB(f/k)=...) writes the AstDB (no VarSet); ${DB(f/k)} reads it back."""
    clock = new_clock()
    plan = Dialplan.from_text(
        "[t]\nexten => s,1,Set(DB(fam/${X})=a=1\\;b=2)\n same => n,Set(Y=${DB(fam/7)})\n"
    )
    sim = make_sim(clock, dialplan=plan)
    pbx: PBX = sim.pbx
    chan = Channel(pbx, "Local/1@t-1;1", "u1", "u1", "t", "s", 6)
    chan.vars["X"] = "7"
    pbx._spawn(pbx.run(chan, "t", "s", 1))
    clock.advance(0)
    assert pbx.database[("fam", "7")] == "a=1;b=2"
    assert chan.vars["Y"] == "a=1;b=2"
    assert "DB(fam/7)" not in chan.vars


def _logged_in():
    """A fresh simulator and an AMI client logged in to it."""
    clock = new_clock()
    sim = make_sim(clock)
    c = connect_client(sim, clock)
    login(c, clock)
    return clock, sim, c


def _originate(c, number, context="hold", action_id="o", attempt="17"):
    c.send(
        "Originate",
        [
            ("Channel", f"Local/{number}@callee"),
            ("Context", context),
            ("Exten", "s"),
            ("Priority", "1"),
            ("Async", "true"),
            ("ChannelId", f"uid-{attempt}"),
            ("Variable", f"MINYI_ATTEMPT={attempt}"),
            ("Variable", "MINYI_TOKEN=tok-" + attempt),
            ("Variable", f'CHANNEL(hangup_handler_push)="{HANDLER}"'),
        ],
        action_id=action_id,
    )


def _record(sim, attempt):
    text = sim.database.get((FAMILY, attempt))
    assert text is not None, f"no AstDB record for attempt {attempt}"
    return parse_record(text, int(attempt))


def test_hangup_handler_records_an_unanswered_call():
    """No answer (last digit 1, 30 s rings, Originate timeout 25 s): cause 19, not answered."""
    clock, sim, c = _logged_in()
    _originate(c, "10001", attempt="21")
    run_for(clock, 40.0, step=0.1)
    (push,) = c.events("HangupHandlerPush")
    assert push["Handler"] == HANDLER and push["Uniqueid"] == "uid-21"
    assert c.events("HangupHandlerRun")
    assert not [e for e in c.events("VarSet") if e["Variable"].startswith("CHANNEL(")]
    rec = _record(sim, "21")
    assert (rec.cause, rec.answered, rec.token) == (19, False, "tok-21")
    # the handler ran before the Hangup event of the originated leg (as in ast_hangup)
    names = [(m.name, m.get("Uniqueid")) for _, m in c.messages if m.is_event]
    assert names.index(("HangupHandlerRun", "uid-21")) < names.index(("Hangup", "uid-21"))


def test_hangup_handler_records_busy_on_a_sip_trunk_and_on_local():
    """Busy: a PJSIP leg carries cause 17; a Local ;1 is dropped by the dial with cause 0."""
    clock, sim, c = _logged_in()
    _originate(c, "10000", attempt="30")
    c.send(
        "Originate",
        [
            ("Channel", "PJSIP/20000@trunk"),
            ("Context", "hold"),
            ("Exten", "s"),
            ("Async", "true"),
            ("Variable", "MINYI_ATTEMPT=31"),
            ("Variable", f'CHANNEL(hangup_handler_push)="{HANDLER}"'),
        ],
        action_id="o2",
    )
    run_for(clock, 3.0)
    assert (_record(sim, "30").cause, _record(sim, "30").answered) == (0, False)
    assert (_record(sim, "31").cause, _record(sim, "31").answered) == (17, False)


def test_hangup_handler_records_an_answered_call_in_hold():
    """Answered, AMD'd and left in hold until the callee hangs up: Up, amd, answer time, 16."""
    clock, sim, c = _logged_in()
    _originate(c, "10005", attempt="40")  # answers after 2 s, hangs up 20 s later
    run_for(clock, 30.0, step=0.05)
    rec = _record(sim, "40")
    assert rec.answered and rec.cause == 16
    assert rec.answered_at is not None and abs(rec.answered_at - (clock.seconds() - 28)) < 1.5
    assert rec.amd in ("HUMAN", "NOTSURE", "MACHINE")
    assert rec.dial_status is None and rec.agi is None
    assert rec.ended_at is not None and rec.ended_at - rec.answered_at >= 19


def test_hangup_handler_records_an_interviewer_reached():
    """Redirected to toagent and bridged with agent2: DIALSTATUS ANSWER, peer agent2, talk time."""
    clock, sim, c = _logged_in()
    _originate(c, "10005", attempt="50")
    run_for(clock, 3.0)
    (resp,) = [e for e in c.events("OriginateResponse") if e["Response"] == "Success"]
    c.send(
        "Redirect",
        [
            ("Channel", resp["Channel"]),
            ("Context", "toagent"),
            ("Exten", "agent2"),
            ("Priority", "1"),
        ],
        action_id="r",
    )
    run_for(clock, 25.0, step=0.05)
    rec = _record(sim, "50")
    assert (rec.dial_status, rec.agent, rec.reached_agent) == ("ANSWER", "agent2", True)
    assert rec.talk is not None and rec.talk >= 10


def test_no_handler_no_record_and_kill_leaves_none():
    """Without the push nothing is written; a kill -9 of Asterisk runs no handlers."""
    clock, sim, c = _logged_in()
    c.send(
        "Originate",
        [("Channel", "Local/10000@callee"), ("Context", "hold"), ("Exten", "s"), ("Async", "1")],
        action_id="plain",
    )
    _originate(c, "10009", attempt="60")  # answers at once, stays up 60 s
    run_for(clock, 3.0)
    assert (FAMILY, "60") not in sim.database
    sim.kill()
    assert sim.database == {}
