"""
The campaign controller: the Twisted shell around the pure campaign logic.

One L{CampaignController} (a C{Service}) runs one campaign. It wakes on events
(CallLaterOnce-style: many wake-ups in one reactor turn make one tick) and on a
heartbeat C{LoopingCall}; each tick it builds a L{PacingInput}, asks the pacing policy
how many calls to launch, asks the hopper whom to dial, and for each contact:

 1. claims the contact and writes the attempt (ActionID, ChannelId) in one transaction,
 2. only then sends Originate on the AMI connection with the most free lines,
 3. follows the call from AMI events (indexed by the ChannelId it chose, so it needs
    neither the OriginateResponse nor the channel name to recognise its calls),
 4. routes a live answer to the agent idle the longest with C{Redirect} (from the
    C{hold} context to C{toagent,<agent>,1}); if none is free within the grace time
    (2 s) the call is abandoned to the IVR survey context, never left in silence,
 5. writes the disposition, releases the contact and applies the retry rules in one
    transaction when the call ends.

After a restart or an AMI reconnect, the attempts the store says are live are checked
against the PBX's channels (C{CoreShowChannels}): those still up are adopted and
followed. For the others Asterisk itself may know how they ended: every Originate pushes
a hangup handler (C{minyi-outcome} in C{asterisk_conf/extensions.conf}) that writes the
call's end into the AstDB (family C{minyi_outcome}, key the attempt id). The controller
asks C{DBGet} and ends the attempt with its real disposition (L{dialer.campaign.outcomes});
only an attempt with no record is ended as C{lost} (retried later by the rules). Once a
disposition is written the key is deleted (C{DBDel}). While a connection is down nothing
is originated on it.

The controller keeps the core loop (ticks, the pacing snapshot, the hopper, Originate)
and follows each call's events; routing an answered call is L{dialer.campaign.routing},
reconciliation L{dialer.campaign.reconcile}, the lines' sharing and circuit breaker
L{dialer.campaign.lines}: plain functions given the controller.

Time comes from the injected C{clock}; the DB from an object with C{do} /
C{do_with_transaction} (the thread pool in the daemon, L{dialer.store.inline.InlineDB}
on a virtual clock).
"""

# test-case-name: tests.campaign.test_controller

from __future__ import annotations

import dataclasses
import itertools
import random
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from twisted.application.service import Service
from twisted.internet import defer, task
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from dialer.agi.runner import ATTEMPT_VARIABLE
from dialer.ami.message import Message
from dialer.campaign import calls as c
from dialer.campaign import lines, reconcile, routing
from dialer.campaign.agents import AgentPool
from dialer.campaign.calls import Call, CallState
from dialer.campaign.dispositions import OUTCOMES, SurveyResult
from dialer.campaign.hopper import open_at, select
from dialer.campaign.lines import AMI, Line, OriginateHandle, lines_from
from dialer.campaign.outcomes import HANDLER
from dialer.campaign.reconcile import RECONCILE_RETRY, RECONCILE_RETRY_MAX
from dialer.campaign.retries import RetryDecision, RetryRules, parse_rules
from dialer.campaign.routing import AGENT_FAIR_TIME, REDIRECT_RETRY, mask_number
from dialer.campaign.schedule import DEFAULT_WINDOWS, Schedule, make_schedule
from dialer.events import (
    CallEnded,
    CallOriginated,
    DialingPaused,
    EventBus,
    PacingDecided,
    SurveyFinished,
)
from dialer.pacing.base import PacingPolicy
from dialer.pacing.estimators import PacingModel
from dialer.pacing.ledger import AbandonmentLedger
from dialer.pacing.snapshot import PacingInput
from dialer.store import campaigns as store
from dialer.store.campaigns import Campaign

__all__ = [
    "AGENT_FAIR_TIME",
    "AMI",
    "DB",
    "RECONCILE_RETRY",
    "RECONCILE_RETRY_MAX",
    "REDIRECT_RETRY",
    "SAMPLES_KEPT",
    "CampaignController",
    "ControllerSettings",
    "Line",
    "OriginateHandle",
    "lines_from",
    "mask_number",
]

T = TypeVar("T")

#: How many of the latest pacing decision times and answer -> bridged latencies a
#: controller keeps (more than an 8-hour benchmark shift makes at 100 agents).
SAMPLES_KEPT = 200_000


class DB(Protocol):
    def do(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Deferred[T]: ...

    def do_with_transaction(
        self, fn: Callable[..., T], *args: Any, **kwargs: Any
    ) -> Deferred[T]: ...


@dataclass(frozen=True)
class ControllerSettings:
    heartbeat: float = 1.0
    grace: float = 2.0  # an answered call waits at most this long for an agent
    ring_timeout: float = 25.0
    hold_context: str = "hold"
    hold_exten: str = "s"
    agent_context: str = "toagent"
    survey_context: str = "survey"
    survey_exten: str = "s"
    safe_harbour_context: str = "safeharbour"  # an abandoned call the survey cannot take
    amd: bool = False  # wait for AMDSTATUS from the hold context before routing
    amd_timeout: float = 5.0
    wrapup_timeout: float = 300.0
    failure_grace: float = 5.0  # after a failed OriginateResponse, wait this long for Hangup
    lost_after: float = 120.0  # a line down this long: its calls are lost
    drain_timeout: float = 30.0  # on stop, follow calls in progress this long
    pending_grace: float = 10.0  # an unseen attempt this young may still get its channel
    per_unit: int = 50
    hopper_refresh: float = 10.0  # seconds a loaded batch of candidates is reused
    max_launch_per_tick: int = 50
    status_poll: float = 2.0
    id_prefix: str = "mny"
    always_open: bool = False  # ignore calling windows (demo, benchmarks)
    # the hangup handler each Originate pushes (it records the call's end in the AstDB);
    # None: do not push one (a dialplan without the minyi-outcome context)
    outcome_handler: str | None = HANDLER
    astdb_timeout: float = 5.0  # DBGet / DBDel
    # a line with this many technical failures in a row (failed, congestion, no route,
    # channel unavailable) is no longer dialed until a call gets through or an operator
    # resumes the campaign; 0: never
    breaker_threshold: int = 20
    # an agent whose phone did not answer a routed call in time this many times in a row
    # is paused (ready again from the desk); 0: never
    agent_miss_limit: int = 3
    # while no zone's window is open: seconds between re-reads of the sample's zones
    zones_refresh: float = 60.0


@dataclass
class _Tracking:
    """Per-call bookkeeping that is not part of the pure L{Call}."""

    line: Line
    live_observed: bool = False  # fed to the pacing model
    waiting: Any = None  # grace timer while waiting for an agent
    timer: Any = None  # AMD / wrap-up / failure-grace timer
    agent: str | None = None
    callback_at: float | None = None
    number: str | None = None  # kept in memory only (never logged): no number twice at once
    finishing: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class CampaignController(Service):
    """Runs one campaign; see the module docstring."""

    log = Logger()

    def __init__(
        self,
        campaign: Campaign,
        *,
        db: DB,
        lines: Sequence[Line],
        agents: AgentPool,
        policy: PacingPolicy,
        clock: IReactorTime,
        bus: EventBus | None = None,
        settings: ControllerSettings | None = None,
        model: PacingModel | None = None,
        ledger: AbandonmentLedger | None = None,
        rng: random.Random | None = None,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.campaign = campaign
        self.db = db
        self.lines = list(lines)
        self.agents = agents
        self.policy = policy
        # Any: without the mypy-zope plugin, zope interface methods do not type-check
        self.clock: Any = clock
        self.bus = bus or EventBus()
        self.settings = settings or ControllerSettings()
        self.model = model or PacingModel(
            ring_timeout=self.settings.ring_timeout, grace=self.settings.grace
        )
        self.ledger = ledger or AbandonmentLedger(campaign.abandon_target)
        self.rng = rng or random.Random()
        self.timer = timer
        self.rules: RetryRules = parse_rules(
            {"max_attempts": campaign.max_attempts, **campaign.retry_rules},
            where=f"campaign {campaign.name}.retry_rules",
        )
        self.schedule: Schedule = make_schedule(
            campaign.timezone,
            campaign.windows or list(DEFAULT_WINDOWS),
            where=f"campaign {campaign.name}",
        )
        self.status = campaign.status
        self.calls: dict[int, Call] = {}
        self._track: dict[int, _Tracking] = {}
        self._by_uid: dict[str, int] = {}
        self._waiting: OrderedDict[int, None] = OrderedDict()
        self._session = f"{self.settings.id_prefix}{self.rng.getrandbits(32):08x}"
        self._ids = itertools.count(1)
        self._wake_call: Any = None
        self._look_again_call: Any = None
        self._ticking = False
        self._again = False
        self._heartbeat: LoopingCall | None = None
        self._unsubscribe: list[Callable[[], None]] = []
        self._writes: set[Deferred[Any]] = set()
        self._paused_reason: str | None = "starting"
        self._reconciled: set[str] = set()  # lines checked since they (re)connected
        self._undeleted: dict[str, set[int]] = {}  # line -> AstDB keys to DBDel when back
        self._reconciling: set[str] = set()
        self._agent_misses: dict[str, int] = {}  # agent -> routed calls not bridged, in a row
        self._reconcile_failures: dict[str, int] = {}  # line -> CoreShowChannels failed in a row
        self._down_since: dict[str, float] = {}
        self._exhausted = False
        self._hopper: store.HopperInput | None = None
        self._hopper_at = float("-inf")
        # time zones of the sample's unfinished contacts (refreshed with the hopper input)
        self._zones: set[str] = {self.schedule.timezone}
        self._zones_at = float("-inf")
        self._launched: dict[int, int] = {}  # unit -> dials since the batch was loaded
        self._completed: dict[int, int] = {}  # unit -> completes since the batch was loaded
        self._last_status_poll = float("-inf")
        self.dial_requests = 0  # preview mode: agents who asked for their next number
        self._preview_agents: deque[str] = deque()  # those who asked, in order
        # the latest pacing decision times and answer -> bridged latencies (benchmarks,
        # tests): bounded, one entry per tick or call would grow for as long as the daemon
        # runs; /metrics takes its histograms from the bus events, not from these
        self.decision_seconds: deque[float] = deque(maxlen=SAMPLES_KEPT)
        self.latencies: deque[float] = deque(maxlen=SAMPLES_KEPT)

    # -- service ------------------------------------------------------------------------

    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]
        for line in self.lines:
            self._unsubscribe.append(line.ami.subscribe(None, self._ami_event_for(line)))
            self._unsubscribe.append(line.ami.on_state(self._ami_state_for(line)))
        self._unsubscribe.append(self.bus.subscribe(SurveyFinished, self._survey_finished))
        self._heartbeat = LoopingCall(self._beat)
        self._heartbeat.clock = self.clock
        self._heartbeat.start(self.settings.heartbeat, now=False).addErrback(
            lambda f: self.log.failure("controller heartbeat stopped", failure=f)
        )
        self._track_write(Deferred.fromCoroutine(self._start()))

    async def _start(self) -> None:
        figures = await self.db.do(
            store.thd_campaign_figures, self.campaign.id, self.clock.seconds()
        )
        now = self.clock.seconds()
        f = figures
        # the ledger goes on from the store: older answers land outside the rolling windows
        for at, live, abandoned in (
            (
                now - 31 * 86400.0,
                f.live_answered - f.live_answered_30d,
                f.abandoned - f.abandoned_30d,
            ),
            (
                now - 2 * 86400.0,
                f.live_answered_30d - f.live_answered_24h,
                f.abandoned_30d - f.abandoned_24h,
            ),
            (now, f.live_answered_24h, f.abandoned_24h),
        ):
            for _ in range(max(0, live)):
                self.ledger.record_live_answer(at)
            for _ in range(max(0, abandoned)):
                self.ledger.record_abandoned(at)
        await self._refresh_zones(now)
        for line in self.lines:
            if line.ami.ready and line.name not in self._reconciling:
                await reconcile.reconcile(self, line)
        await reconcile.lose_orphans(self)
        self._paused_reason = None
        self.wake()

    def _look_again(self, at: float) -> None:
        """One pending "ask me again" at a time: every tick may ask, and a timer per request
        would multiply (each wake-up asks again), so keep only the earliest."""
        pending = self._look_again_call
        if pending is not None and pending.active():
            if pending.getTime() <= at:
                return
            pending.cancel()
        self._look_again_call = self.clock.callLater(at - self.clock.seconds(), self.wake)

    def stopService(self) -> Deferred[None]:
        """Stop dialing at once; follow the calls in progress for up to C{drain_timeout}
        seconds (their dispositions get written), then let go. Calls still up after that
        are reconciled at the next start."""
        super().stopService()  # type: ignore[no-untyped-call]
        for call in (self._wake_call, self._look_again_call):
            if call is not None and call.active():
                call.cancel()
        for line in self.lines:
            line.demand.pop(self.campaign.id, None)  # others may take the lines at once
        return Deferred.fromCoroutine(self._drain())

    async def _drain(self) -> None:
        deadline = self.clock.seconds() + self.settings.drain_timeout
        while self.live_count() and self.clock.seconds() < deadline:
            if not any(line.ami.ready for line in self.lines):
                break  # no PBX to hear from: waiting would not end any call
            await task.deferLater(self.clock, 0.25, lambda: None)
        if self.live_count():
            self.log.info(
                "campaign {campaign}: stopping with {count} calls still up (reconciled at "
                "the next start)",
                campaign=self.campaign.id,
                count=self.live_count(),
            )
        if self._heartbeat is not None and self._heartbeat.running:
            self._heartbeat.stop()
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        for t in self._track.values():
            for timer in (t.waiting, t.timer):
                if timer is not None and timer.active():
                    timer.cancel()
        writes = list(self._writes)
        if writes:
            await defer.DeferredList(writes, consumeErrors=True)

    def _track_write(self, d: Deferred[T]) -> Deferred[T]:
        self._writes.add(d)

        def done(result: object) -> object:
            self._writes.discard(d)
            if isinstance(result, Failure):
                self.log.failure(
                    "campaign {campaign} store write failed",
                    failure=result,
                    campaign=self.campaign.id,
                )
                return None
            return result

        d.addBoth(done)
        return d

    # -- waking ------------------------------------------------------------------------

    def wake(self) -> None:
        """Ask for a tick soon; many wakes in one turn make one tick."""
        if not self.running:
            return
        if self._wake_call is None or not self._wake_call.active():
            self._wake_call = self.clock.callLater(0, self._tick)

    def _beat(self) -> None:
        now = self.clock.seconds()
        if now - self._last_status_poll >= self.settings.status_poll:
            self._last_status_poll = now
            self._track_write(Deferred.fromCoroutine(self._poll_status()))
        for line in self.lines:
            down = self._down_since.get(line.name)
            if down is not None and now - down >= self.settings.lost_after:
                reconcile.lose_line_calls(self, line, "line down too long")
        if (
            self.dialing_blocked(now) == "outside calling windows"
            and now - self._zones_at >= self.settings.zones_refresh
        ):
            # the hopper (which refreshes the zones) is not read while the gate is shut:
            # contacts imported meanwhile in a zone whose window is open still count
            self._zones_at = now
            self._track_write(Deferred.fromCoroutine(self._refresh_zones(now)))
        self.wake()

    async def _poll_status(self) -> None:
        camp = await self.db.do(store.thd_get_campaign, self.campaign.id)
        if camp is not None and camp.status != self.status:
            self.log.info(
                "campaign {campaign} status {old} -> {new}",
                campaign=self.campaign.id,
                old=self.status,
                new=camp.status,
            )
            if camp.status == "running" and self.status != "running":
                self.reset_breakers("campaign resumed")
            self.status = camp.status
            self.bus.publish(
                DialingPaused(
                    self.campaign.id, camp.status != "running", camp.status, self.clock.seconds()
                )
            )
            self.wake()

    def _tick(self) -> None:
        if self._ticking:
            self._again = True
            return
        self._ticking = True
        d = Deferred.fromCoroutine(self._ticks())

        def done(result: object) -> None:
            self._ticking = False
            if isinstance(result, Failure):
                self.log.failure(
                    "campaign {campaign} tick failed", failure=result, campaign=self.campaign.id
                )

        d.addBoth(done)

    async def _ticks(self) -> None:
        while True:
            self._again = False
            await self._dial_once()
            if not self._again or not self.running:
                return

    # -- dialing ------------------------------------------------------------------------

    def dialing_blocked(self, now: float) -> str | None:
        """Why no call may be launched now (None: dialing is allowed)."""
        if self._paused_reason is not None:
            return self._paused_reason
        if self.status != "running":
            return f"status {self.status}"
        if not self.settings.always_open and not any(
            open_at(self.schedule, now, zone) for zone in self._zones
        ):
            return "outside calling windows"
        if not any(lines.is_usable(self, line) for line in self.lines):
            if any(line.tripped_at is not None for line in self.lines):
                return "no AMI connection or circuit breaker open"
            return "no AMI connection"
        if self._exhausted:
            return "no contacts left"
        return None

    def snapshot(self, now: float) -> PacingInput:
        """The pacer's view of this campaign now."""
        times = self.agents.times()
        ringing: list[float] = []
        waiting: list[float] = []
        in_use = 0
        for aid, call in self.calls.items():
            if call.state in c.ON_PBX or call.state is CallState.PENDING:
                in_use += 1
            if call.state in (
                CallState.PENDING,
                CallState.ORIGINATING,
                CallState.DIALING,
                CallState.RINGING,
            ) or (call.state is CallState.ANSWERED and not self._track[aid].live_observed):
                ringing.append(call.originated_at or call.created_at)
            elif aid in self._waiting and call.answered_at is not None:
                waiting.append(call.answered_at)
        free = sum(
            lines.free_lines(self, line) for line in self.lines if lines.is_usable(self, line)
        )
        return PacingInput(
            now=now,
            idle_since=times.idle_since,
            talking_since=times.talking_since,
            wrapping_since=times.wrapping_since,
            ringing_since=tuple(ringing),
            waiting_since=tuple(waiting),
            lines_in_use=in_use,
            trunk_cap=in_use + free,
            ledger=self.ledger.figures(now),
            model=self.model,
            dial_requests=self.dial_requests,
        )

    async def _dial_once(self) -> None:
        now = self.clock.seconds()
        lines.register_demand(self, now)
        if self.dialing_blocked(now) is not None:
            return
        snap = self.snapshot(now)
        started = self.timer()
        decision = self.policy.decide(snap)
        took = self.timer() - started
        self.decision_seconds.append(took)
        self.bus.publish(PacingDecided(self.campaign.id, decision.launch, took, now))
        if decision.look_again_in is not None and decision.look_again_in > 0:
            self._look_again(now + decision.look_again_in)
        wanted = min(decision.launch, self.settings.max_launch_per_tick, snap.free_lines)
        if wanted <= 0:
            return
        hopper, fresh = await self._hopper_input(now, wanted)
        # lines in flight per unit from this controller's own calls (always current), and
        # dials made since the batch was loaded
        units = {
            uid: dataclasses.replace(
                u,
                live=0,
                dialed=u.dialed + self._launched.get(uid, 0) - u.live,
                completes=u.completes + self._completed.get(uid, 0),
            )
            for uid, u in hopper.units.items()
        }
        live_numbers = set(hopper.live_numbers)
        for aid, call in self.calls.items():
            if call.ended:
                continue
            u = units.get(call.unit_id)
            if u is not None:
                units[call.unit_id] = dataclasses.replace(u, live=u.live + 1)
            number = self._track[aid].number
            if number is not None:
                live_numbers.add(number)
        selection = select(
            hopper.candidates,
            units,
            now=now,
            wanted=wanted,
            live_numbers=live_numbers,
            schedule=self.retry_schedule(),
        )
        used = {p.contact_id for p in selection.picks} | set(selection.dnc)
        if used:
            hopper.candidates[:] = [c for c in hopper.candidates if c.contact_id not in used]
        if selection.dnc:
            await self.db.do_with_transaction(
                store.thd_finish_dnc, self.campaign.id, selection.dnc, now
            )
        if fresh and not selection.picks and hopper.open_contacts == 0 and not self.calls:
            self._exhausted = True
            self.log.info(
                "campaign {campaign}: every contact is finished", campaign=self.campaign.id
            )
            await self.db.do_with_transaction(
                store.thd_set_status, self.campaign.id, "done", self.clock.seconds()
            )
            self.status = "done"
            return
        for pick in selection.picks:
            if self.dialing_blocked(self.clock.seconds()) is not None:
                return
            await self._launch(pick.contact_id)

    async def _hopper_input(self, now: float, wanted: int) -> tuple[store.HopperInput, bool]:
        """The hopper's input, cached: reloaded every C{hopper_refresh} seconds, or sooner
        (at most once a second) when fewer candidates are left than wanted. A stale
        candidate is harmless: the claim re-checks the lock, finality and DNC."""
        cached = self._hopper
        age = now - self._hopper_at
        if (
            cached is None
            or age >= self.settings.hopper_refresh
            or (len(cached.candidates) < wanted and age >= 1.0)
        ):
            if now - self._zones_at >= self.settings.zones_refresh:
                await self._refresh_zones(now)  # a DISTINCT over the sample: not every reload
            open_zones = None
            if not self.settings.always_open:
                open_zones = {z for z in self._zones if open_at(self.schedule, now, z)}
            cached = await self.db.do(
                store.thd_hopper_input, self.campaign.id, now, self.settings.per_unit, open_zones
            )
            self._hopper, self._hopper_at = cached, now
            self._launched = {}
            self._completed = {}
            return cached, True
        return cached, False

    async def _refresh_zones(self, now: float) -> None:
        self._zones_at = now
        self._zones = await self.db.do(store.thd_sample_zones, self.campaign.id) or {
            self.schedule.timezone
        }

    async def _launch(self, contact_id: int) -> None:
        line = lines.choose_line(self)
        if line is None:
            return
        line.in_use += 1  # held from the claim, so parallel launches cannot overfill it
        action_id = f"{self._session}-{self.campaign.id}-{next(self._ids)}"
        prefix = f"{self.settings.id_prefix}-{self.campaign.id}-"
        try:
            claim = await self.db.do_with_transaction(
                store.thd_claim_attempt,
                campaign_id=self.campaign.id,
                contact_id=contact_id,
                action_id=action_id,
                uniqueid_prefix=prefix,
                server=line.name,
                now=self.clock.seconds(),
            )
        except BaseException:
            line.in_use -= 1
            raise
        if claim.attempt_id is None or claim.number is None:
            line.in_use -= 1
            return
        now = self.clock.seconds()
        aid = claim.attempt_id
        call = Call(
            attempt_id=aid,
            campaign_id=self.campaign.id,
            contact_id=contact_id,
            unit_id=claim.unit_id,
            attempt_no=claim.attempt_no,
            action_id=action_id,
            uniqueid=f"{prefix}{aid}",
            created_at=now,
            server=line.name,
        )
        self._adopt(call, line)
        self._track[aid].number = claim.number
        self._launched[claim.unit_id] = self._launched.get(claim.unit_id, 0) + 1
        if not line.ami.ready:
            self._advance(aid, c.OriginateRefused(now, "AMI not connected"))
            return
        if self._preview_agents:
            routing.preview(self, aid, call, claim.number, now)
        agentless = self.campaign.mode == "ivr-only"
        context = self.settings.survey_context if agentless else self.settings.hold_context
        exten = self.settings.survey_exten if agentless else self.settings.hold_exten
        try:
            dial_string = (line.dial_template or self.campaign.dial_template).format(
                number=claim.number
            )
        except (KeyError, IndexError, ValueError) as e:
            # a template with other {fields}: the attempt must still end, not stay pending
            self.log.error(
                "campaign {campaign}: bad dial template ({error}); attempt {attempt} not dialed",
                campaign=self.campaign.id,
                error=repr(e),
                attempt=aid,
            )
            self._advance(aid, c.OriginateRefused(now, "bad dial template"))
            return
        try:
            handle = line.ami.originate(
                dial_string,
                context=context,
                exten=exten,
                priority=1,
                timeout=self.settings.ring_timeout,
                caller_id=self.campaign.caller_id,
                variables=self._originate_variables(aid, action_id),
                channel_id=call.uniqueid,
                other_channel_id=f"{call.uniqueid}-2",
                action_id=action_id,
            )
        except Exception as e:
            # e.g. a header the message layer refuses (MessageError): nothing was sent, so
            # the attempt ends as refused and its line is released, not left pending
            self.log.error(
                "campaign {campaign}: Originate for attempt {attempt} could not be sent "
                "({error}) / 无法发送呼叫请求",
                campaign=self.campaign.id,
                attempt=aid,
                error=repr(e),
            )
            self._advance(aid, c.OriginateRefused(now, repr(e)))
            return
        self._advance(aid, c.OriginateSent(now))
        self.bus.publish(CallOriginated(self.campaign.id, aid, call.unit_id, line.name, now))
        if self.dial_requests > 0:
            self.dial_requests -= 1
        handle.queued().addCallbacks(
            lambda _: self._advance(aid, c.OriginateQueued(self.clock.seconds())),
            lambda f: self._originate_not_queued(aid, f),
        )
        handle.result().addCallbacks(
            lambda r: self._originate_result(aid, r),
            lambda f: self._originate_no_result(aid, f),
        )

    def _originate_variables(self, aid: int, action_id: str) -> list[tuple[str, str]]:
        variables = [
            (ATTEMPT_VARIABLE, str(aid)),  # the IVR runner finds its attempt by it
            ("CAMPAIGN", str(self.campaign.id)),
        ]
        handler = self.settings.outcome_handler
        if handler:
            # Asterisk splits a Variable header on commas outside quotes and removes the
            # quotes: the handler's "context,exten,priority" stays one value.
            variables.append(("MINYI_TOKEN", action_id))
            variables.append(("CHANNEL(hangup_handler_push)", f'"{handler}"'))
        return variables

    def _originate_not_queued(self, aid: int, f: Failure) -> None:
        from dialer.ami.protocol import ActionFailed, NotConnected

        if f.check(  # type: ignore[no-untyped-call]
            ActionFailed, NotConnected
        ):
            self.log.warn(  # noqa: G010
                "attempt {attempt}: Originate refused: {error}",
                attempt=aid,
                error=f.getErrorMessage(),
            )
            self._advance(aid, c.OriginateRefused(self.clock.seconds(), f.getErrorMessage()))
        else:
            # Timed out or the connection dropped: we cannot know whether it dials.
            # The channel id tells: events or the next reconciliation settle it.
            self.log.info(
                "attempt {attempt}: Originate unacknowledged ({error}); reconciling later",
                attempt=aid,
                error=f.getErrorMessage(),
            )

    def _originate_result(self, aid: int, r: Any) -> None:
        now = self.clock.seconds()
        self._advance(
            aid,
            c.OriginateResult(
                now, "Success" if r.success else "Failure", int(r.reason or 0), r.channel
            ),
        )
        call = self.calls.get(aid)
        track = self._track.get(aid)
        if call is not None and track is not None and not call.ended and not r.success:
            # the Hangup carrying the cause follows; do not wait for it forever
            track.timer = self.clock.callLater(
                self.settings.failure_grace,
                self._advance,
                aid,
                c.HungUp(now + self.settings.failure_grace, 0, primary=True),
            )

    def _originate_no_result(self, aid: int, f: Failure) -> None:
        from dialer.ami.protocol import ActionFailed, ActionTimeout

        if f.check(  # type: ignore[no-untyped-call]
            ActionFailed
        ):
            return  # handled by queued()
        call = self.calls.get(aid)
        track = self._track.get(aid)
        if call is None or track is None or call.ended:
            return
        if (
            f.check(  # type: ignore[no-untyped-call]
                ActionTimeout
            )
            and not call.channel_seen
        ):
            self._advance(aid, c.Lost(self.clock.seconds()))
        # ConnectionDropped: the reconciliation after the reconnect decides.

    # -- bookkeeping of live calls ------------------------------------------------------

    def _adopt(self, call: Call, line: Line) -> None:
        self.calls[call.attempt_id] = call
        self._track[call.attempt_id] = _Tracking(line)
        self._by_uid[call.uniqueid] = call.attempt_id
        self._by_uid[f"{call.uniqueid}-2"] = call.attempt_id

    def _advance(self, aid: int, event: c.CallEvent) -> None:
        old = self.calls.get(aid)
        if old is None or old.ended:
            return
        new = c.advance(old, event)
        self.calls[aid] = new
        track = self._track[aid]
        now = self.clock.seconds()
        if new.state is CallState.ANSWERED and old.state is not CallState.ANSWERED:
            routing.on_answered(self, new, track)
        if new.facts.machine and not old.facts.machine:
            routing.on_machine(self, new, track)
        if new.state is CallState.BRIDGED and old.state is not CallState.BRIDGED:
            routing.on_bridged(self, new, track)
        if new.state is CallState.IVR and old.state is not CallState.IVR:
            self._update(aid, status="ivr", mode="ivr", abandoned=new.facts.abandoned)
        if old.state is CallState.BRIDGED and new.state is not CallState.BRIDGED:
            if new.bridged_at is not None:
                self.model.observe_talk(now - new.bridged_at)
            if track.agent is not None:
                routing.agent_wrapping(self, track.agent, aid)
        if new.state is CallState.WRAPUP and old.state is not CallState.WRAPUP:
            self._set_timer(track, self.settings.wrapup_timeout, aid, c.WrapupTimeout)
        if new.ended:
            self._finish(new, track)

    def _set_timer(
        self, track: _Tracking, delay: float, aid: int, kind: Callable[[float], c.CallEvent]
    ) -> None:
        if track.timer is not None and track.timer.active():
            track.timer.cancel()
        track.timer = self.clock.callLater(
            delay, lambda: self._advance(aid, kind(self.clock.seconds()))
        )

    def _update(self, aid: int, **values: Any) -> None:
        self._track_write(self.db.do_with_transaction(store.thd_update_attempt, aid, **values))

    # -- agents (the desktop, or a simulated desk, calls these) ------------------------

    def agent_ready(self, name: str) -> None:
        """The agent is ready for a call: serve the oldest waiting call, else dial."""
        now = self.clock.seconds()
        agent = self.agents.get(name)
        if agent is None:
            return
        was_wrapping = agent.state.value == "wrapping"
        since = agent.since
        if not self.agents.ready(name, now):
            return
        if was_wrapping:
            self.model.observe_wrap(now - since)
        routing.serve_waiting(self)
        self.wake()

    def request_dial(self, agent: str | None = None) -> None:
        """Preview mode: an agent asked for the next number. With C{agent}, the next
        contact is reserved for them (shown with L{ContactPreviewed}) before it is dialed,
        and its live answer goes to them."""
        if agent is not None:
            if agent in self._preview_agents:
                return  # asked already: one contact at a time
            self._preview_agents.append(agent)
        self.dial_requests += 1
        self.wake()

    def agent_result(
        self, name: str, result: SurveyResult, callback_at: float | None = None
    ) -> None:
        """The agent's interview result for their current (or just ended) call."""
        agent = self.agents.get(name)
        if agent is None or agent.attempt_id is None:
            return
        aid = agent.attempt_id
        track = self._track.get(aid)
        if track is not None and callback_at is not None:
            track.callback_at = callback_at
        self._advance(aid, c.SurveyDone(self.clock.seconds(), result))

    def _survey_finished(self, event: SurveyFinished) -> None:
        aid = self._by_uid.get(event.uniqueid)
        if aid is None:
            return
        track = self._track.get(aid)
        if track is not None and event.callback_at is not None:
            track.callback_at = event.callback_at
        try:
            result = SurveyResult(event.result)
        except ValueError:
            self.log.warn(  # noqa: G010
                "attempt {attempt}: unknown survey result {result}",
                attempt=aid,
                result=event.result,
            )
            return
        self._advance(aid, c.SurveyDone(self.clock.seconds(), result))

    # -- AMI events ----------------------------------------------------------------------

    def _ami_event_for(self, line: Line) -> Callable[[Message], None]:
        return lambda event: self._ami_event(line, event)

    def _ami_event(self, line: Line, event: Message) -> None:
        name = event.name
        if name not in _FOLLOWED:
            return
        uid = event.get("Uniqueid")
        aid = self._by_uid.get(uid) if uid is not None else None
        if aid is None and name in ("DialEnd", "DialState"):
            dest = event.get("DestUniqueid")
            aid = self._by_uid.get(dest) if dest is not None else None
            uid = dest
        if aid is None:
            return
        call = self.calls.get(aid)
        if call is None or call.ended:
            return
        now = self.clock.seconds()
        primary = uid == call.uniqueid
        if name == "Newchannel" and primary:
            self._advance(aid, c.ChannelUp(now, channel=event.get("Channel")))
        elif name == "Newstate" and primary:
            state = event.get("ChannelState")
            if state == "5":
                self._advance(aid, c.ChannelUp(now, ringing=True, channel=event.get("Channel")))
            elif state == "6":
                self._advance(aid, c.Answered(now, event.get("Channel")))
        elif name == "DialEnd":
            status = event.get("DialStatus")
            if status:
                self._advance(aid, c.DialEnded(now, status))
        elif name == "Hangup":
            try:
                cause = int(event.get("Cause") or 0)
            except ValueError:
                cause = 0
            self._advance(aid, c.HungUp(now, cause, primary=primary))
        elif name == "BridgeEnter" and primary and call.state is not CallState.IVR:
            if call.mode == "agent":
                self._advance(aid, c.Bridged(now, self._track[aid].agent))
        elif name == "AGIExecStart" and primary:
            self._track[aid].extra["ivr_started"] = True  # no Redirect retry moves it now
            self._advance(aid, c.IvrStarted(now))
        elif name == "VarSet" and self.settings.amd and event.get("Variable") == "AMDSTATUS":
            routing.amd_verdict(self, aid, event.get("Value"), now)
        elif name == "UserEvent" and self.settings.amd and event.get("UserEvent") == "MinyiAMD":
            # hold's UserEvent(MinyiAMD,AMDSTATUS: ...): the verdict for a session that
            # logged in without the dialplan class (no VarSet events)
            routing.amd_verdict(self, aid, event.get("AMDSTATUS"), now)

    def _ami_state_for(self, line: Line) -> Callable[[bool], None]:
        return lambda up: self._ami_state(line, up)

    def _ami_state(self, line: Line, up: bool) -> None:
        now = self.clock.seconds()
        if not up:
            self._reconciled.discard(line.name)
            self._down_since.setdefault(line.name, now)
            self.log.warn(  # noqa: G010
                "campaign {campaign}: AMI {line} down; not dialing on it",
                campaign=self.campaign.id,
                line=line.name,
            )
            return
        if line.name not in self._reconciling:
            self._track_write(Deferred.fromCoroutine(reconcile.reconcile(self, line)))

    # -- the end of a call ---------------------------------------------------------------

    def retry_schedule(self) -> Schedule | None:
        """The calling windows that contacts are picked and retries are placed in (None:
        always open)."""
        return None if self.settings.always_open else self.schedule

    def finish_attempt(
        self, call: Call, now: float, callback_at: float | None = None
    ) -> Deferred[RetryDecision | None]:
        """Store an ended call: its disposition and this campaign's retry decision
        (L{store.thd_finish_attempt}; None when it had already ended)."""
        return self.db.do_with_transaction(
            store.thd_finish_attempt,
            call,
            rules=self.rules,
            schedule=self.retry_schedule(),
            now=now,
            callback_at=callback_at,
        )

    def _finish(self, call: Call, track: _Tracking) -> None:
        if track.finishing:
            return
        track.finishing = True
        aid = call.attempt_id
        now = self.clock.seconds()
        for timer in (track.waiting, track.timer):
            if timer is not None and timer.active():
                timer.cancel()
        self._waiting.pop(aid, None)
        if track.agent is not None:
            agent = self.agents.get(track.agent)
            if agent is not None and agent.attempt_id == aid:
                if agent.state.value == "reserved":
                    self.agents.release(track.agent, now)
                    routing.serve_waiting(self)
                elif agent.state.value == "talking":
                    routing.agent_wrapping(self, track.agent, aid)
        if call.facts.originate_accepted and call.originated_at is not None:
            routing.observe_live(self, call, track, live=False)
        track.line.in_use = max(0, track.line.in_use - 1)
        outcome = call.outcome
        assert outcome is not None
        lines.breaker_count(self, track.line, outcome.technical, now)

        async def write() -> None:
            decision = await self.finish_attempt(call, now, callback_at=track.callback_at)
            final_outcome = outcome
            if decision is not None and decision.outcome is not None:
                final_outcome = OUTCOMES[decision.outcome]  # e.g. the IVR's result, if we missed it
            if decision is not None and (call.channel_seen or track.extra.get("astdb")):
                reconcile.forget_outcome(
                    self, track.line, aid
                )  # the hangup handler's record is spent
            if final_outcome.name == "complete" and decision is not None:
                # a filled quota stops the unit now, not at the next batch
                self._completed[call.unit_id] = self._completed.get(call.unit_id, 0) + 1
            self.calls.pop(aid, None)
            self._track.pop(aid, None)
            self._by_uid.pop(call.uniqueid, None)
            self._by_uid.pop(f"{call.uniqueid}-2", None)
            self.bus.publish(
                CallEnded(
                    self.campaign.id,
                    aid,
                    call.unit_id,
                    final_outcome.name,
                    final_outcome.aapor,
                    call.facts.abandoned,
                    bool(decision.final) if decision is not None else True,
                    now,
                )
            )
            self.wake()

        self._track_write(Deferred.fromCoroutine(write()))

    # -- the per-line circuit breaker ----------------------------------------------------

    def reset_breakers(self, why: str = "operator") -> None:
        """Close the circuit breaker of every line of this campaign (an operator resumed)."""
        now = self.clock.seconds()
        for line in self.lines:
            if line.tripped_at is not None:
                lines.close_breaker(self, line, now, why)
            line.failures = 0

    def breakers(self) -> dict[str, float | None]:
        """Line name -> since when its circuit breaker is open (None: closed)."""
        return {line.name: line.tripped_at for line in self.lines}

    # -- figures -------------------------------------------------------------------------

    def live_count(self) -> int:
        return sum(1 for call in self.calls.values() if not call.ended)

    def states(self) -> Mapping[str, int]:
        counts: dict[str, int] = {}
        for call in self.calls.values():
            counts[call.state.value] = counts.get(call.state.value, 0) + 1
        return counts


_FOLLOWED = frozenset(
    {
        "Newchannel",
        "Newstate",
        "DialEnd",
        "Hangup",
        "BridgeEnter",
        "AGIExecStart",
        "VarSet",
        "UserEvent",
    }
)
