"""
Reconciliation after a restart or an AMI reconnect: the attempts the store says are live
are compared with the PBX's channels (C{CoreShowChannels}); calls still up are adopted and
picked up, and those that ended while the dialer was away are settled from the AstDB
records the hangup handler wrote (C{DBGet}, then C{DBDel} once written). Also: attempts
on servers no longer configured, and the calls of a line down too long, end as lost.

The functions take the L{CampaignController} whose calls they settle.
"""

# test-case-name: tests.campaign.test_reconcile_astdb

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from dialer.ami.message import Message
from dialer.campaign import calls as c
from dialer.campaign import routing
from dialer.campaign.calls import CallState
from dialer.campaign.dispositions import OUTCOMES
from dialer.campaign.lines import Line
from dialer.campaign.outcomes import FAMILY, HangupRecord, OutcomeRecordError, parse_record, settle
from dialer.events import CallEnded, Reconciled
from dialer.store import campaigns as store

if TYPE_CHECKING:
    from dialer.campaign.controller import CampaignController

# Fixed timings, not [dialer] settings: they follow from the protocol rather than from a
# site's trunks or staff, so nothing is gained by tuning them.
#: A failed CoreShowChannels is tried again after 1, 2, 4 ... s, at most 30 s apart (a
#: short first wait: calls found while away are settled sooner; the cap: a PBX that keeps
#: refusing is not flooded).
RECONCILE_RETRY = 1.0
RECONCILE_RETRY_MAX = 30.0


async def reconcile(ctl: CampaignController, line: Line) -> None:
    """Check the attempts the store says are live on C{line} against its channels."""
    ctl._reconciled.discard(line.name)
    ctl._reconciling.add(line.name)
    try:
        await reconcile_line(ctl, line)
    finally:
        ctl._reconciling.discard(line.name)


async def reconcile_line(ctl: CampaignController, line: Line) -> None:
    try:
        channels = await line.ami.core_show_channels()
    except Exception as e:
        # Without it the line stays unusable: tried again, with backoff, while the
        # connection is up (a reconnect starts a reconciliation of its own).
        failures = ctl._reconcile_failures.get(line.name, 0) + 1
        ctl._reconcile_failures[line.name] = failures
        delay = min(
            RECONCILE_RETRY * 2 ** (failures - 1),
            RECONCILE_RETRY_MAX,
        )
        ctl.log.warn(  # noqa: G010
            "campaign {campaign}: CoreShowChannels on {line} failed ({error}); trying "
            "again in {delay} s / 通道核对失败, 稍后重试",
            campaign=ctl.campaign.id,
            line=line.name,
            error=str(e) or repr(e),
            delay=delay,
        )
        ctl.clock.callLater(delay, retry_reconcile, ctl, line)
        return
    ctl._reconcile_failures.pop(line.name, None)
    up: dict[str, Message] = {}
    for item in channels:
        uid = item.get("Uniqueid")
        if uid is not None:
            up[uid] = item
    stored = await ctl.db.do(store.thd_live_attempts, ctl.campaign.id)
    now = ctl.clock.seconds()
    adopted = lost = settled = 0
    gone: list[tuple[int, float | None]] = []  # (attempt, seconds left of its grace)
    resumed: list[tuple[int, Message]] = []  # adopted calls still up, picked up last
    for attempt in stored:
        if attempt.server not in (line.name, None):
            continue
        uid = attempt.uniqueid or ""
        live_item = up.get(uid)
        known = ctl.calls.get(attempt.id)
        if known is None:
            call = store.call_from_live(attempt)
            ctl._adopt(call, line)
            line.in_use += 1
            if call.agent is not None:
                ctl._track[attempt.id].agent = call.agent
                ctl._track[attempt.id].live_observed = True
                if live_item is not None and ctl.agents.get(call.agent) is not None:
                    # the agent is still on this call: not free for another one
                    ctl.agents.talking(call.agent, now, attempt.id)
            if call.state is CallState.WRAPUP:
                # the line was down before the restart: the interviewer's result is
                # awaited again, for the wrap-up time at most (never live forever)
                await_result(ctl, attempt.id, call.agent, now)
        if live_item is None:
            current = ctl.calls[attempt.id]
            if current.state is CallState.WRAPUP:
                continue  # the line is down anyway; the agent's result is awaited
            young = now - (current.originated_at or current.created_at)
            left = None
            if not current.channel_seen and young < ctl.settings.pending_grace:
                left = ctl.settings.pending_grace - young
            gone.append((attempt.id, left))
            continue
        adopted += 1
        if known is None:
            resumed.append((attempt.id, live_item))
    records = await fetch_outcomes(ctl, line, [aid for aid, _ in gone])
    now = ctl.clock.seconds()
    for aid, left in gone:
        record = records.get(aid)
        if record is not None and settle_attempt(ctl, aid, record, line):
            settled += 1
            continue
        pending = ctl.calls.get(aid)
        if pending is None or pending.ended:
            continue
        if left is not None:
            # Originate may still be on its way to a channel: followed by its id,
            # and ended as lost only if no channel (nor AstDB record) shows up in time.
            ctl._track[aid].timer = ctl.clock.callLater(left, recheck_pending, ctl, aid)
            continue
        ctl._advance(aid, c.Lost(now))
        lost += 1
    # Only now are the interviewers of calls that ended while away in wrap-up: a call
    # found answered in hold is given an agent after that, never one whose previous
    # respondent's result is still awaited.
    for aid, item in resumed:
        adopted_call = ctl.calls.get(aid)
        if adopted_call is not None and not adopted_call.ended:
            resume(ctl, aid, item)
    ctl._reconciled.add(line.name)
    ctl._down_since.pop(line.name, None)
    for aid in sorted(ctl._undeleted.pop(line.name, set())):
        forget_outcome(ctl, line, aid)
    ctl.log.info(
        "campaign {campaign}: reconciled {line}: {adopted} live, {settled} ended while "
        "away (AstDB), {lost} lost",
        campaign=ctl.campaign.id,
        line=line.name,
        adopted=adopted,
        settled=settled,
        lost=lost,
    )
    ctl.bus.publish(Reconciled(ctl.campaign.id, adopted, lost, now))
    ctl.wake()


async def lose_orphans(ctl: CampaignController) -> None:
    """Live attempts stored on a server no longer configured: no line will ever
    reconcile them (nor read that server's AstDB), and their contacts would stay
    locked. They end as lost (retried by the rules)."""
    names = {line.name for line in ctl.lines}
    stored = await ctl.db.do(store.thd_live_attempts, ctl.campaign.id)
    for attempt in stored:
        if attempt.server is None or attempt.server in names or attempt.id in ctl.calls:
            continue
        now = ctl.clock.seconds()
        ctl.log.warn(  # noqa: G010
            "campaign {campaign}: attempt {attempt} was live on server {server}, which "
            "is no longer configured; ended as lost / 服务器 {server} 已不在配置中, "
            "该呼叫记为丢失",
            campaign=ctl.campaign.id,
            attempt=attempt.id,
            server=attempt.server,
        )
        call = c.advance(store.call_from_live(attempt), c.Lost(now))
        decision = await ctl.finish_attempt(call, now)
        if decision is None:
            continue  # ended meanwhile
        outcome = OUTCOMES[decision.outcome] if decision.outcome else call.outcome
        assert outcome is not None
        ctl.bus.publish(
            CallEnded(
                ctl.campaign.id,
                attempt.id,
                call.unit_id,
                outcome.name,
                outcome.aapor,
                call.facts.abandoned,
                bool(decision.final),
                now,
            )
        )


def retry_reconcile(ctl: CampaignController, line: Line) -> None:
    if (
        not ctl.running
        or not line.ami.ready
        or line.name in ctl._reconciled
        or line.name in ctl._reconciling
    ):
        return
    ctl._track_write(Deferred.fromCoroutine(reconcile(ctl, line)))


def recheck_pending(ctl: CampaignController, aid: int) -> None:
    call = ctl.calls.get(aid)
    track = ctl._track.get(aid)
    if call is None or track is None or call.ended or call.channel_seen:
        return

    async def recheck() -> None:
        records = await fetch_outcomes(ctl, track.line, [aid])
        record = records.get(aid)
        if record is not None and settle_attempt(ctl, aid, record, track.line):
            return
        current = ctl.calls.get(aid)
        if current is not None and not current.ended and not current.channel_seen:
            ctl._advance(aid, c.Lost(ctl.clock.seconds()))

    ctl._track_write(Deferred.fromCoroutine(recheck()))


async def fetch_outcomes(
    ctl: CampaignController, line: Line, aids: Sequence[int]
) -> dict[int, HangupRecord]:
    """The AstDB records of C{aids} that exist and can be read (DBGets in parallel)."""
    if not aids or not ctl.settings.outcome_handler:
        return {}
    texts = await defer.gatherResults(
        [Deferred.fromCoroutine(db_get(ctl, line, aid)) for aid in aids]
    )
    records: dict[int, HangupRecord] = {}
    for aid, text in zip(aids, texts, strict=True):
        if text is None:
            continue
        try:
            records[aid] = parse_record(text, aid)
        except OutcomeRecordError as e:
            ctl.log.error(
                "campaign {campaign}: {error}; the call counts as lost",
                campaign=ctl.campaign.id,
                error=str(e),
            )
    return records


async def db_get(ctl: CampaignController, line: Line, aid: int) -> str | None:
    """C{DBGet minyi_outcome <aid>}: the value, or None (no entry, or no answer)."""
    from dialer.ami.protocol import ActionFailed, AMIError

    send = getattr(line.ami, "send_list_action", None)
    if send is None:
        return None  # an event-level stand-in (the engine benchmark's) has no AstDB
    message = Message.action("DBGet", [("Family", FAMILY), ("Key", str(aid))])
    try:
        result = await send(message, timeout=ctl.settings.astdb_timeout)
    except ActionFailed as e:
        text = e.response.get("Message") or ""
        if text != "Database entry not found":
            ctl.log.warn(  # noqa: G010
                "attempt {attempt}: DBGet on {line} refused ({error})",
                attempt=aid,
                line=line.name,
                error=text,
            )
        return None
    except AMIError as e:  # timed out, connection lost: nothing known
        ctl.log.warn(  # noqa: G010
            "attempt {attempt}: DBGet on {line} failed ({error})",
            attempt=aid,
            line=line.name,
            error=repr(e),
        )
        return None
    except Exception:
        # a bug: logged as one, and the reconciliation goes on without this record
        ctl.log.failure("attempt {attempt}: DBGet crashed", attempt=aid)
        return None
    for event in result.events:
        if (event.name or "").lower() == "dbgetresponse":
            value: str | None = event.get("Val")
            return value
    return None


def forget_outcome(ctl: CampaignController, line: Line, aid: int) -> None:
    """C{DBDel minyi_outcome <aid>}, fire and forget: the AstDB does not grow forever."""
    send = getattr(line.ami, "send_action", None)
    if not ctl.settings.outcome_handler or send is None:
        return
    if not line.ami.ready:
        ctl._undeleted.setdefault(line.name, set()).add(aid)  # sent after reconnecting
        return
    message = Message.action("DBDel", [("Family", FAMILY), ("Key", str(aid))])

    def failed(f: Failure) -> None:
        ctl.log.debug(
            "attempt {attempt}: DBDel on {line}: {error}",
            attempt=aid,
            line=line.name,
            error=f.getErrorMessage(),
        )

    send(message, timeout=ctl.settings.astdb_timeout).addErrback(failed)


def settle_attempt(ctl: CampaignController, aid: int, record: HangupRecord, line: Line) -> bool:
    """End (or move to wrap-up) C{aid} as its AstDB record says; False if it cannot."""
    call = ctl.calls.get(aid)
    track = ctl._track.get(aid)
    if call is None or track is None or call.ended:
        return False
    if not record.matches(call.action_id):
        ctl.log.warn(  # noqa: G010
            "attempt {attempt}: AstDB outcome belongs to another Originate (stale key); "
            "ignored and deleted",
            attempt=aid,
        )
        forget_outcome(ctl, line, aid)
        return False
    now = ctl.clock.seconds()
    new = settle(call, record, now=now, amd=ctl.settings.amd, grace=ctl.settings.grace)
    if new.facts.answered and not call.facts.answered and not new.facts.machine:
        ctl.ledger.record_live_answer(new.answered_at or now)
    if new.facts.abandoned and not call.facts.abandoned:
        ctl.ledger.record_abandoned(new.ended_at or now)
    ctl.calls[aid] = new
    track.extra["astdb"] = True  # its key is deleted once the disposition is written
    ctl.log.info(
        "attempt {attempt}: ended while the dialer was away (AstDB, cause {cause})",
        attempt=aid,
        cause=record.cause,
    )
    if new.ended:
        ctl._finish(new, track)
        return True
    # reached an interviewer: the interview result is theirs to give (as live)
    await_result(ctl, aid, new.agent, now)
    return True


def await_result(ctl: CampaignController, aid: int, agent: str | None, now: float) -> None:
    """A call in wrap-up found at reconciliation: its interviewer (if in the pool and
    free) is put in wrap-up for it, so the desk can give the result; the wrap-up
    timeout ends it otherwise."""
    track = ctl._track[aid]
    desk = ctl.agents.get(agent) if agent is not None else None
    if agent is not None and desk is not None:
        track.agent = agent
        track.live_observed = True
        if desk.state.value == "idle" or desk.attempt_id == aid:
            if desk.state.value != "talking":
                ctl.agents.talking(agent, now, aid)
            routing.agent_wrapping(ctl, agent, aid)
    ctl._set_timer(track, ctl.settings.wrapup_timeout, aid, c.WrapupTimeout)


def resume(ctl: CampaignController, aid: int, item: Message) -> None:
    """Pick up a call found alive after a restart, from what CoreShowChannel says."""
    now = ctl.clock.seconds()
    call = ctl.calls[aid]
    channel = item.get("Channel")
    state = item.get("ChannelState")
    context = item.get("Context")
    if channel and call.channel is None:
        ctl.calls[aid] = c.advance(call, c.ChannelUp(now, channel=channel))
    call = ctl.calls[aid]
    if state != "6":
        return  # still ringing: its events will tell the rest
    if call.state is CallState.BRIDGED or item.get("BridgeId"):
        if call.state is not CallState.BRIDGED and call.agent is not None:
            # bridged before the restart but not yet written: follow it as bridged
            ctl.calls[aid] = c.advance(call, c.Bridged(now, call.agent))
            ctl.agents.talking(call.agent, now, aid)
        return
    if context == ctl.settings.survey_context or item.get("Application") == "AGI":
        ctl._advance(aid, c.IvrStarted(now))
        return
    if call.answered_at is None:
        ctl._advance(aid, c.Answered(now, channel))  # routes it
    elif context == ctl.settings.hold_context:
        # answered before the restart and still waiting: give it an agent or the IVR now
        # (the IVR when its grace time is over: it could not be bridged in time)
        ctl._track[aid].live_observed = True
        within = now - (call.answered_at or now) < ctl.settings.grace
        agent = ctl.agents.take_idle(now, aid) if within else None
        if agent is not None:
            routing.route_to_agent(ctl, aid, agent.name, agent.exten)
        else:
            routing.abandon(ctl, aid)


def lose_line_calls(ctl: CampaignController, line: Line, why: str) -> None:
    now = ctl.clock.seconds()
    lost = [aid for aid, t in ctl._track.items() if t.line is line and not ctl.calls[aid].ended]
    if lost:
        ctl.log.warn(  # noqa: G010
            "campaign {campaign}: {count} calls on {line} lost ({why})",
            campaign=ctl.campaign.id,
            count=len(lost),
            line=line.name,
            why=why,
        )
    for aid in lost:
        ctl._advance(aid, c.Lost(now))
    if line.ami.ready:
        ctl._down_since.pop(line.name, None)
    else:
        ctl._down_since[line.name] = now
