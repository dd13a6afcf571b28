"""
Routing an answered call: the AMD verdict, the live answer given to the agent idle the
longest (or the one who previewed the contact) with a C{Redirect} to C{toagent}, the 2 s
grace (from the live answer to the bridge) after which the call is abandoned to the IVR
survey, the Redirect retry and safe harbour, and the agent misses that pause a phone.

The functions take the L{CampaignController} whose call they route.
"""

# test-case-name: tests.campaign.test_controller

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.python.failure import Failure

from dialer.campaign import calls as c
from dialer.campaign.calls import Call, CallState
from dialer.events import AgentWrapping, CallAnswered, CallBridged, CallRouted, ContactPreviewed

if TYPE_CHECKING:
    from dialer.campaign.controller import CampaignController, _Tracking

# Fixed timings, not [dialer] settings: they follow from the 2 s grace rather than from
# a site's trunks or staff, so nothing is gained by tuning them.
#: Seconds before a failed Redirect of an abandoned call is tried (once) again: the
#: respondent is waiting in hold, so it must be well inside a second.
REDIRECT_RETRY = 0.5
#: Only a call routed with at least this many seconds of its 2 s grace left counts as an
#: agent's miss (less is not a fair chance for the phone to be answered).
AGENT_FAIR_TIME = 1.0


def mask_number(number: str) -> str:
    """C{+8613800100000} -> C{+86138******00}: enough for an interviewer to recognise
    the call, not the number (events never carry whole numbers)."""
    keep_head, keep_tail = 6, 2
    if len(number) <= keep_head + keep_tail:
        return "*" * len(number)
    return number[:keep_head] + "*" * (len(number) - keep_head - keep_tail) + number[-keep_tail:]


def on_answered(ctl: CampaignController, call: Call, track: _Tracking) -> None:
    ctl._update(
        call.attempt_id, status="answered", answered_at=call.answered_at, channel=call.channel
    )
    ring = (call.answered_at or 0.0) - (call.originated_at or call.created_at)
    ctl.bus.publish(CallAnswered(ctl.campaign.id, call.attempt_id, call.answered_at or 0.0, ring))
    if ctl.campaign.mode == "ivr-only":
        observe_live(ctl, call, track, live=True)
        return
    if ctl.settings.amd:
        early = track.extra.pop("amd", None)
        if early == "MACHINE":
            ctl._advance(call.attempt_id, c.MachineDetected(ctl.clock.seconds()))
            return
        if early is None:
            track.timer = ctl.clock.callLater(
                ctl.settings.amd_timeout, amd_human, ctl, call.attempt_id
            )
            return
    live_answer(ctl, call.attempt_id)


def amd_human(ctl: CampaignController, aid: int) -> None:
    call = ctl.calls.get(aid)
    if call is None or call.ended or call.facts.machine:
        return
    track = ctl._track[aid]
    if track.timer is not None and track.timer.active():
        track.timer.cancel()
    track.timer = None
    if not track.live_observed:
        live_answer(ctl, aid)


def on_machine(ctl: CampaignController, call: Call, track: _Tracking) -> None:
    if track.timer is not None and track.timer.active():
        track.timer.cancel()
    observe_live(ctl, call, track, live=False)
    if call.channel:
        track.line.ami.hangup(call.channel, 16).addErrback(lambda _: None)


def observe_live(ctl: CampaignController, call: Call, track: _Tracking, *, live: bool) -> None:
    if track.live_observed:
        return
    track.live_observed = True
    ctl.model.observe_outcome(call.originated_at or call.created_at, ctl.clock.seconds(), live)


def live_answer(ctl: CampaignController, aid: int) -> None:
    call = ctl.calls[aid]
    track = ctl._track[aid]
    now = ctl.clock.seconds()
    observe_live(ctl, call, track, live=True)
    ctl.ledger.record_live_answer(now)
    # the grace time runs from the answer, not from the AMD verdict: the person has
    # been waiting since they said hello
    left = max(0.0, ctl.settings.grace - (now - (call.answered_at or now)))
    if left <= 0:
        abandon(ctl, aid)  # no agent could be reached in time any more
        return
    if track.extra.get("preview") and track.agent is not None:
        mine = ctl.agents.get(track.agent)
        if mine is not None and mine.attempt_id == aid and mine.state.value == "reserved":
            route_to_agent(ctl, aid, mine.name, mine.exten)  # who previewed it
            return
    agent = ctl.agents.take_idle(now, aid)
    if agent is not None:
        route_to_agent(ctl, aid, agent.name, agent.exten)
        return
    ctl._waiting[aid] = None
    track.waiting = ctl.clock.callLater(left, abandon, ctl, aid)
    ctl.wake()


def route_to_agent(ctl: CampaignController, aid: int, name: str, exten: str) -> None:
    call = ctl.calls[aid]
    track = ctl._track[aid]
    now = ctl.clock.seconds()
    track.agent = name
    ctl._advance(aid, c.Routed(now, "agent", agent=name))
    wait = now - (call.answered_at or now)
    ctl.bus.publish(CallRouted(ctl.campaign.id, aid, "agent", False, wait, now))
    ctl._update(aid, mode="agent", agent=name)
    # The Redirect is not the end of it: the interviewer's phone must answer. If the
    # call is not bridged within the grace time of its live answer it is abandoned to
    # the IVR survey (toagent's Dial would otherwise ring up to 30 s, then hang up).
    if track.waiting is not None and track.waiting.active():
        track.waiting.cancel()
    left = max(0.0, ctl.settings.grace - (now - (call.answered_at or now)))
    track.waiting = ctl.clock.callLater(left, agent_missed, ctl, aid, name)
    track.extra["agent_time"] = left  # the time the agent's phone had to answer
    if not call.channel:
        return

    def failed(f: Failure) -> None:
        ctl.log.info(
            "attempt {attempt}: Redirect to agent failed ({error})",
            attempt=aid,
            error=f.getErrorMessage(),
        )
        ctl.agents.release(name, ctl.clock.seconds())
        serve_waiting(ctl)
        ctl.wake()

    track.line.ami.redirect(call.channel, ctl.settings.agent_context, exten, 1).addErrback(failed)


def agent_missed(ctl: CampaignController, aid: int, name: str) -> None:
    """The grace time ran out before the call given to C{name} was bridged."""
    call = ctl.calls.get(aid)
    track = ctl._track.get(aid)
    if call is None or track is None or call.ended or call.state is not CallState.ANSWERED:
        return  # bridged, in the IVR already, or over
    track.waiting = None
    now = ctl.clock.seconds()
    agent = ctl.agents.get(name)
    if agent is not None and agent.attempt_id == aid and agent.state.value == "reserved":
        # The interviewer's phone did not answer in time (or the call reached them too
        # late in its grace): free again. A phone that keeps not answering would have
        # every call abandoned: after agent_miss_limit misses in a row, paused (ready
        # again from the desk).
        ctl.agents.release(name, now)
        misses = ctl._agent_misses.get(name, 0)
        if track.extra.get("agent_time", 0.0) >= AGENT_FAIR_TIME:
            misses += 1  # a call handed over at the end of its grace is not a miss
        ctl._agent_misses[name] = misses
        paused = 0 < ctl.settings.agent_miss_limit <= misses
        if paused:
            ctl.agents.pause(name, now)
        ctl.log.warn(  # noqa: G010
            "attempt {attempt}: agent {agent} not reached within {grace} s ({misses} in "
            "a row); call abandoned to the IVR{paused} / 坐席未在规定时间内接通, 转 IVR",
            attempt=aid,
            agent=name,
            grace=ctl.settings.grace,
            misses=misses,
            paused="; agent paused until ready again" if paused else "",
        )
    track.agent = None
    ctl._update(aid, agent=None)
    abandon(ctl, aid)
    serve_waiting(ctl)
    ctl.wake()


def abandon(ctl: CampaignController, aid: int) -> None:
    ctl._waiting.pop(aid, None)
    call = ctl.calls.get(aid)
    if call is None or call.ended:
        return
    track = ctl._track[aid]
    track.waiting = None
    now = ctl.clock.seconds()
    ctl.ledger.record_abandoned(now)
    ctl._advance(aid, c.Routed(now, "ivr", abandoned=True))
    wait = now - (call.answered_at or now)
    ctl.bus.publish(CallRouted(ctl.campaign.id, aid, "ivr", True, wait, now))
    ctl.log.info("attempt {attempt}: no agent within grace; to IVR", attempt=aid)
    if call.channel:
        redirect_abandoned(ctl, aid, call.channel, tries=0)


def redirect_abandoned(ctl: CampaignController, aid: int, channel: str, tries: int) -> None:
    """Move an abandoned call out of C{hold} to the survey; a failed Redirect is tried
    once more, then the call goes to the safe-harbour message: never left in
    silence (hold's Wait(120))."""
    track = ctl._track.get(aid)
    if track is None:
        return
    to_survey = tries < 2
    context = ctl.settings.survey_context if to_survey else ctl.settings.safe_harbour_context
    exten = ctl.settings.survey_exten if to_survey else "s"

    def failed(f: Failure) -> None:
        call = ctl.calls.get(aid)
        if call is None or call.ended or ctl._track.get(aid) is not track:
            return  # hung up meanwhile: nothing to move
        if call.state is not CallState.IVR or track.extra.get("ivr_started"):
            return
        if tries >= 2:
            ctl.log.error(
                "attempt {attempt}: Redirect to {context} failed too ({error}); the call "
                "stays in hold / 转安全提示也失败, 呼叫留在等待",
                attempt=aid,
                context=context,
                error=f.getErrorMessage(),
            )
            return
        ctl.log.warn(  # noqa: G010
            "attempt {attempt}: Redirect of an abandoned call to {context} failed "
            "({error}); {next} / 转接失败, 重试",
            attempt=aid,
            context=context,
            error=f.getErrorMessage(),
            next="trying again" if tries == 0 else "to the safe-harbour message",
        )
        ctl.clock.callLater(REDIRECT_RETRY, redirect_abandoned, ctl, aid, channel, tries + 1)

    track.line.ami.redirect(channel, context, exten, 1).addErrback(failed)


def on_bridged(ctl: CampaignController, call: Call, track: _Tracking) -> None:
    now = ctl.clock.seconds()
    if track.agent is not None:
        ctl._agent_misses.pop(track.agent, None)
    if track.waiting is not None and track.waiting.active():
        track.waiting.cancel()
    track.waiting = None
    if track.agent is not None:
        ctl.agents.talking(track.agent, now, call.attempt_id)
    latency = now - (call.answered_at or now)
    ctl.latencies.append(latency)
    ctl.bus.publish(CallBridged(ctl.campaign.id, call.attempt_id, track.agent, latency, now))
    ctl._update(call.attempt_id, status="bridged", bridged_at=call.bridged_at)


def agent_wrapping(ctl: CampaignController, name: str, aid: int) -> None:
    agent = ctl.agents.get(name)
    if agent is None or agent.state.value not in ("talking", "reserved"):
        return
    now = ctl.clock.seconds()
    ctl.agents.wrapping(name, now)
    ctl.bus.publish(AgentWrapping(ctl.campaign.id, name, aid, now))


def serve_waiting(ctl: CampaignController) -> None:
    """Give idle agents to answered calls waiting within their grace time, oldest first."""
    now = ctl.clock.seconds()
    while ctl._waiting and ctl.agents.idle_count():
        aid, _ = ctl._waiting.popitem(last=False)
        call = ctl.calls.get(aid)
        track = ctl._track.get(aid)
        if call is None or track is None or call.ended:
            continue
        if track.waiting is not None and track.waiting.active():
            track.waiting.cancel()
        track.waiting = None
        taken = ctl.agents.take_idle(now, aid)
        if taken is not None:
            route_to_agent(ctl, aid, taken.name, taken.exten)


def preview(ctl: CampaignController, aid: int, call: Call, number: str, now: float) -> None:
    """Reserve the first requesting agent still idle for C{aid} and show them the
    contact before the Originate."""
    while ctl._preview_agents:
        name = ctl._preview_agents.popleft()
        agent = ctl.agents.reserve(name, now, aid)
        if agent is None:
            continue  # paused or busy since asking
        ctl._track[aid].agent = name
        ctl._track[aid].extra["preview"] = True
        ctl.bus.publish(
            ContactPreviewed(
                ctl.campaign.id,
                name,
                aid,
                call.contact_id,
                call.unit_id,
                mask_number(number),
                now,
            )
        )
        return


def amd_verdict(ctl: CampaignController, aid: int, value: str | None, now: float) -> None:
    """AMDSTATUS for C{aid} (from VarSet or UserEvent; seeing both is harmless)."""
    call = ctl.calls[aid]
    if not call.facts.answered:
        # seen before the answer event: acted on when the answer arrives
        ctl._track[aid].extra["amd"] = value
    elif value == "MACHINE":
        ctl._advance(aid, c.MachineDetected(now))
    else:
        amd_human(ctl, aid)
