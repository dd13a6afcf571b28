"""Calls that end while no controller listens: the next one reads Asterisk's AstDB record."""

from __future__ import annotations

from twisted.logger import Logger

from dialer.campaign.controller import ControllerSettings
from dialer.campaign.dispositions import SurveyResult
from dialer.campaign.outcomes import FAMILY, HANDLER
from dialer.events import AgentWrapping, Reconciled
from tests.campaign.ctlhelp import T0, Rig


def _by_action(rig):
    return {a["action_id"]: a for a in rig.attempts()}


def _restart(first, tmp_path, **kw):
    """A new controller on the same store and the same Asterisk (its AstDB kept)."""
    second = Rig(tmp_path, engine=first.engine, seed=False, **kw)
    second.ami.db = first.ami.db
    return second


def test_originate_pushes_the_hangup_handler(tmp_path):
    """Every Originate carries the attempt, its token and the quoted handler location."""
    rig = Rig(tmp_path, agents=1).start()
    (d,) = rig.ami.dials
    variables = dict(d.kwargs["variables"])
    assert variables["CHANNEL(hangup_handler_push)"] == f'"{HANDLER}"'
    assert variables["MINYI_TOKEN"] == d.action_id
    assert variables["MINYI_ATTEMPT"] == str(rig.attempts()[0]["id"])
    rig.ctl.stopService()


def test_no_handler_when_switched_off(tmp_path):
    """outcome_handler=None: no push, no AstDB traffic (a dialplan without minyi-outcome)."""
    rig = Rig(
        tmp_path, agents=1, settings=ControllerSettings(always_open=True, outcome_handler=None)
    ).start()
    (d,) = rig.ami.dials
    assert "CHANNEL(hangup_handler_push)" not in dict(d.kwargs["variables"])
    rig.ami.busy(d)
    rig.step(0)
    assert rig.ami.db_actions == []
    rig.ctl.stopService()


def test_disposition_written_then_key_deleted(tmp_path):
    """Live path: the handler's record exists at the Hangup; once written, DBDel removes it."""
    rig = Rig(tmp_path, agents=1).start()
    (d,) = rig.ami.dials
    rig.ami.busy(d)
    rig.step(0)
    aid = str(rig.attempts()[0]["id"])
    assert rig.attempts()[0]["outcome"] == "busy"
    assert ("DBDel", aid) in rig.ami.db_actions
    assert (FAMILY, aid) not in rig.ami.db
    rig.ctl.stopService()


def test_dbdel_failure_is_only_logged(tmp_path):
    """A DBDel Asterisk refuses (no such key) changes nothing and raises nothing."""
    rig = Rig(tmp_path, agents=1).start()
    (d,) = rig.ami.dials
    rig.ami.start(d)
    rig.ami.channels.pop(d.channel_id)
    rig.ami.emit("Hangup", Channel=d.name, Uniqueid=d.channel_id, Cause="19")  # no record
    rig.step(0)
    assert rig.attempts()[0]["outcome"] == "no_answer"
    assert ("DBDel", str(rig.attempts()[0]["id"])) in rig.ami.db_actions
    assert len(rig.ami.dials) == 2  # dialing goes on
    rig.ctl.stopService()


def test_restart_records_what_happened_while_away(tmp_path):
    """kill -9 of the dialer; calls end meanwhile; the new controller records their real outcomes."""
    settings = ControllerSettings(always_open=True, amd=True)
    first = Rig(tmp_path, agents=6, per_unit=6, settings=settings).start()
    d1, d2, d3, d4, d5, d6 = first.ami.dials
    for d in (d1, d6):  # people talking with interviewers
        first.ami.answer(d)
        first.step(0.5)
        first.ami.emit(  # AMD's verdict inside the grace time: routed to an interviewer
            "VarSet", Channel=d.name, Uniqueid=d.channel_id, Variable="AMDSTATUS", Value="HUMAN"
        )
        first.ami.bridge(d)
    first.ami.answer(d4)  # AMD still listening when the dialer dies
    for d in (d2, d3, d5):
        first.ami.start(d)
    first.step(0.5)
    agents = {a["action_id"]: a["agent"] for a in first.attempts()}
    assert agents[d1.action_id] and agents[d6.action_id]
    # the dialer is kill -9ed here; Asterisk carries on and its hangup handlers write:
    t = T0 + 30
    first.ami.ended_while_away(d2, ended_at=t, cause=17)  # busy (PJSIP carries 17)
    first.ami.ended_while_away(d3, ended_at=t, cause=19, state="Ringing")  # no answer
    first.ami.ended_while_away(
        d4, ended_at=t, cause=16, state="Up", answered_at=T0 + 1, amd="MACHINE"
    )
    first.ami.ended_while_away(
        d5, ended_at=t + 60, cause=16, state="Up", answered_at=t, amd="HUMAN"
    )  # answered, nobody routed it: it heard the safe-harbour message
    for d in (d1, d6):
        first.ami.ended_while_away(
            d,
            ended_at=t,
            cause=16,
            state="Up",
            answered_at=T0,
            dial="ANSWER",
            peer=f"{agents[d.action_id]}@agents",
            talk=25,
        )
    second = _restart(first, tmp_path, agents=6, settings=settings)
    second.clock.advance(200)
    second.start()
    (rec,) = second.of(Reconciled)
    assert (rec.adopted, rec.lost) == (0, 0)
    rows = _by_action(second)
    assert rows[d2.action_id]["outcome"] == "busy"
    assert rows[d2.action_id]["hangup_cause"] == 17
    assert rows[d3.action_id]["outcome"] == "no_answer"
    assert rows[d4.action_id]["outcome"] == "machine"
    assert rows[d5.action_id]["outcome"] == "abandoned"
    assert rows[d5.action_id]["abandoned"] and rows[d5.action_id]["answered_at"] == t
    # the interviewers' calls wait for their results, as live
    wrapping = {e.agent for e in second.of(AgentWrapping)}
    assert wrapping == {agents[d1.action_id], agents[d6.action_id]}
    assert rows[d1.action_id]["status"] != "ended"
    second.ctl.agent_result(agents[d1.action_id], SurveyResult.COMPLETE)
    second.ctl.agent_result(agents[d6.action_id], SurveyResult.REFUSAL)
    second.step(0)
    rows = _by_action(second)
    assert rows[d1.action_id]["outcome"] == "complete"
    assert rows[d6.action_id]["outcome"] == "refusal"
    assert not any(r["outcome"] == "lost" for r in rows.values())
    # every record read is deleted once its disposition is written
    assert not [k for k in second.ami.db if k[0] == FAMILY]
    # none of those numbers is dialed again (the refusal waits 7 days, the others are final
    # or wait hours)
    first_numbers = {d.number for d in first.ami.dials}
    assert not first_numbers & {d.number for d in second.ami.dials}
    # the abandonment ledger counts the unrouted answer
    assert second.ctl.ledger.figures(second.clock.seconds()).campaign.abandoned == 1
    second.ctl.stopService()


def test_garbled_record_is_lost_and_named_others_kept(tmp_path):
    """A garbled value: that call is lost, the error names attempt and field, the rest are settled."""
    first = Rig(tmp_path, agents=2, per_unit=2).start()
    d1, d2 = first.ami.dials
    first.ami.start(d1)
    first.ami.start(d2)
    first.ami.ended_while_away(d1, ended_at=T0 + 5, cause=17)
    aid2 = dict(d2.kwargs["variables"])["MINYI_ATTEMPT"]
    first.ami.channels.pop(d2.channel_id)
    first.ami.db[(FAMILY, aid2)] = "v=1;cause=sixteen"
    second = _restart(first, tmp_path, agents=2)
    logged = []
    second.ctl.log = Logger(observer=logged.append)
    second.clock.advance(60)
    second.start()
    rows = _by_action(second)
    assert rows[d1.action_id]["outcome"] == "busy"
    assert rows[d2.action_id]["outcome"] == "lost"
    (rec,) = second.of(Reconciled)
    assert rec.lost == 1
    errors = [e for e in logged if "error" in e and "sixteen" in str(e.get("error"))]
    assert errors and f"attempt {aid2}" in errors[0]["error"] and "'cause'" in errors[0]["error"]
    second.ctl.stopService()


def test_stale_record_from_another_originate_is_ignored(tmp_path):
    """A record whose token is another Originate's (an older store reused the id) is not used."""
    first = Rig(tmp_path, agents=1, per_unit=1).start()
    (d,) = first.ami.dials
    first.ami.start(d)
    first.ami.channels.pop(d.channel_id)
    aid = dict(d.kwargs["variables"])["MINYI_ATTEMPT"]
    first.ami.db[(FAMILY, aid)] = "v=1;tok=someone-else-9;cause=17"
    second = _restart(first, tmp_path, agents=1)
    second.clock.advance(60)
    second.start()
    assert _by_action(second)[d.action_id]["outcome"] == "lost"
    assert (FAMILY, aid) not in second.ami.db  # the stale key is cleaned up
    second.ctl.stopService()


def test_young_attempt_gets_its_record_later(tmp_path):
    """An attempt sent just before the crash, unseen and without a record yet, is settled by the
    recheck once its record exists, not lost."""
    first = Rig(tmp_path, agents=1, per_unit=2).start()
    (d,) = first.ami.dials
    second = _restart(first, tmp_path, agents=1)
    second.start()
    (rec,) = second.of(Reconciled)
    assert rec.lost == 0
    first.ami.record(d, ended_at=T0 + 2, cause=1)  # unallocated, written meanwhile
    second.step(10.5)
    assert _by_action(second)[d.action_id]["outcome"] == "invalid"
    second.ctl.stopService()


def test_dbget_without_answer_falls_back_to_lost(tmp_path):
    """The AMI connection is gone during the reconciliation: no record read, the call is lost."""
    first = Rig(tmp_path, agents=1, per_unit=1).start()
    (d,) = first.ami.dials
    first.ami.start(d)
    first.ami.ended_while_away(d, ended_at=T0 + 3, cause=17)
    second = _restart(first, tmp_path, agents=1)

    def refuse(message, *, timeout=None):
        from twisted.internet import defer

        from dialer.ami.protocol import ActionTimeout

        return defer.fail(ActionTimeout("DBGet", "x", 5.0))

    second.ami.send_list_action = refuse
    second.clock.advance(60)
    second.start()
    assert _by_action(second)[d.action_id]["outcome"] == "lost"
    second.ctl.stopService()


def test_key_deleted_once_the_line_is_back(tmp_path):
    """A disposition written while the AMI is down: its DBDel is sent after the reconnect."""
    rig = Rig(tmp_path, agents=1, per_unit=1).start()
    (d,) = rig.ami.dials
    rig.ami.start(d)
    rig.ami.drop()
    rig.step(121)
    rig.step(1)  # down too long: the call is ended as lost meanwhile
    aid = str(rig.attempts()[0]["id"])
    assert rig.attempts()[0]["outcome"] == "lost"
    rig.ami.record(d, cause=19)  # Asterisk's hangup handler wrote while we were away
    assert ("DBDel", aid) not in rig.ami.db_actions
    rig.ami.set_ready(True)
    rig.step(0)
    assert ("DBDel", aid) in rig.ami.db_actions
    assert (FAMILY, aid) not in rig.ami.db
    rig.ctl.stopService()
