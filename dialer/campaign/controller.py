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
from collections.abc import Callable, Iterable, Mapping, Sequence
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
from dialer.campaign.agents import AgentPool
from dialer.campaign.calls import Call, CallState
from dialer.campaign.dispositions import OUTCOMES, SurveyResult
from dialer.campaign.hopper import open_at, select
from dialer.campaign.outcomes import (
    FAMILY,
    HANDLER,
    HangupRecord,
    OutcomeRecordError,
    parse_record,
    settle,
)
from dialer.campaign.retries import RetryRules, parse_rules
from dialer.campaign.schedule import DEFAULT_WINDOWS, Schedule, make_schedule
from dialer.events import (
    AgentWrapping,
    CallAnswered,
    CallBridged,
    CallEnded,
    CallOriginated,
    CallRouted,
    ContactPreviewed,
    DialingPaused,
    EventBus,
    LineBreaker,
    PacingDecided,
    Reconciled,
    SurveyFinished,
)
from dialer.pacing.base import PacingPolicy
from dialer.pacing.estimators import PacingModel
from dialer.pacing.ledger import AbandonmentLedger
from dialer.pacing.snapshot import PacingInput
from dialer.store import campaigns as store
from dialer.store.campaigns import Campaign

T = TypeVar("T")

#: How many of the latest pacing decision times and answer -> bridged latencies a
#: controller keeps (more than an 8-hour benchmark shift makes at 100 agents).
SAMPLES_KEPT = 200_000

# Fixed timings, not [dialer] settings: they follow from the protocol or from the 2 s
# grace rather than from a site's trunks or staff, so nothing is gained by tuning them.
#: A failed CoreShowChannels is tried again after 1, 2, 4 ... s, at most 30 s apart (a
#: short first wait: calls found while away are settled sooner; the cap: a PBX that keeps
#: refusing is not flooded).
RECONCILE_RETRY = 1.0
RECONCILE_RETRY_MAX = 30.0
#: Seconds before a failed Redirect of an abandoned call is tried (once) again: the
#: respondent is waiting in hold, so it must be well inside a second.
REDIRECT_RETRY = 0.5
#: Only a call routed with at least this many seconds of its 2 s grace left counts as an
#: agent's miss (less is not a fair chance for the phone to be answered).
AGENT_FAIR_TIME = 1.0


class DB(Protocol):
    def do(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Deferred[T]: ...

    def do_with_transaction(
        self, fn: Callable[..., T], *args: Any, **kwargs: Any
    ) -> Deferred[T]: ...


class OriginateHandle(Protocol):
    def queued(self) -> Deferred[Message]: ...

    def result(self) -> Deferred[Any]: ...


class AMI(Protocol):
    """What the controller uses of L{dialer.ami.client.AMIClient}."""

    @property
    def ready(self) -> bool: ...

    def on_state(self, callback: Callable[[bool], object]) -> Callable[[], None]: ...

    def subscribe(
        self, name: str | None, callback: Callable[[Message], object]
    ) -> Callable[[], None]: ...

    def originate(self, channel: str, **kwargs: Any) -> OriginateHandle: ...

    def hangup(self, channel: str, cause: int | None = None) -> Deferred[Message]: ...

    def redirect(
        self, channel: str, context: str, exten: str, priority: int | str = 1
    ) -> Deferred[Message]: ...

    def core_show_channels(self) -> Deferred[list[Message]]: ...

    # Optional, looked up with getattr (an event-level stand-in such as the engine
    # benchmark's has neither; then no AstDB record is read or deleted):
    # send_action(message, *, timeout) -> Deferred[Message]  (DBDel)
    # send_list_action(message, *, timeout) -> Deferred[EventListResult]  (DBGet)


@dataclass(eq=False)
class Line:
    """One AMI connection (one Asterisk) and the lines it may hold at once.

    Shared by every controller that dials through it: C{in_use} counts them all.
    """

    name: str
    ami: AMI
    capacity: int
    in_use: int = 0
    dial_template: str | None = None  # this trunk's dial string; None: the campaign's
    # campaign id -> (priority, lines it could use): capacity goes to higher priority first
    demand: dict[int, tuple[int, int]] = field(default_factory=dict)
    # the circuit breaker: technical failures in a row (Outcome.technical), and since when
    # the line is not dialed because of them (None: closed)
    failures: int = 0
    tripped_at: float | None = None

    def allowance(self, campaign_id: int) -> int:
        """Lines C{campaign_id} may hold here: capacity is shared out by priority (then
        campaign id), each up to its demand; what is left goes to the highest priority."""
        members = sorted(self.demand.items(), key=lambda kv: (-kv[1][0], kv[0]))
        if not members:
            return self.capacity
        remaining = self.capacity
        shares: dict[int, int] = {}
        for cid, (_prio, wanted) in members:
            shares[cid] = min(max(wanted, 0), remaining)
            remaining -= shares[cid]
        shares[members[0][0]] += remaining
        return shares.get(campaign_id, 0)

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.in_use) if self.ami.ready else 0


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
                await self._reconcile(line)
        await self._lose_orphans()
        self._paused_reason = None
        self.wake()

    def stopService(self) -> Deferred[None]:
        """Stop dialing at once; follow the calls in progress for up to C{drain_timeout}
        seconds (their dispositions get written), then let go. Calls still up after that
        are reconciled at the next start."""
        super().stopService()  # type: ignore[no-untyped-call]
        if self._wake_call is not None and self._wake_call.active():
            self._wake_call.cancel()
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
                self._lose_line_calls(line, "line down too long")
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
        if not any(self._usable(line) for line in self.lines):
            if any(line.tripped_at is not None for line in self.lines):
                return "no AMI connection or circuit breaker open"
            return "no AMI connection"
        if self._exhausted:
            return "no contacts left"
        return None

    def _usable(self, line: Line) -> bool:
        return line.ami.ready and line.name in self._reconciled and line.tripped_at is None

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
        free = sum(self._free(line) for line in self.lines if self._usable(line))
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
        self._register_demand(now)
        if self.dialing_blocked(now) is not None:
            return
        snap = self.snapshot(now)
        started = self.timer()
        decision = self.policy.decide(snap)
        took = self.timer() - started
        self.decision_seconds.append(took)
        self.bus.publish(PacingDecided(self.campaign.id, decision.launch, took, now))
        if decision.look_again_in is not None and decision.look_again_in > 0:
            self.clock.callLater(decision.look_again_in, self.wake)
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
            schedule=None if self.settings.always_open else self.schedule,
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
            await self._refresh_zones(now)
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

    def _choose_line(self) -> Line | None:
        usable = [line for line in self.lines if self._usable(line) and self._free(line) > 0]
        if not usable:
            return None
        return max(usable, key=lambda line: (self._free(line), -self.lines.index(line)))

    def _free(self, line: Line) -> int:
        """Lines this campaign may still seize on C{line} (its priority share)."""
        own = sum(1 for t in self._track.values() if t.line is line and not t.finishing)
        return max(0, min(line.free, line.allowance(self.campaign.id) - own))

    def _register_demand(self, now: float) -> None:
        """Tell the shared lines how many lines this campaign could use now."""
        if self.dialing_blocked(now) is not None:
            wanted = 0
        elif self.campaign.mode == "ivr-only":
            cap = getattr(self.policy, "line_cap", None)
            wanted = int(cap) if cap is not None else sum(line.capacity for line in self.lines)
        else:
            agents = sum(1 for a in self.agents if a.state.value != "paused")
            per_agent = 1 if self.campaign.mode in ("preview", "progressive") else 3
            wanted = agents * per_agent
        for line in self.lines:
            line.demand[self.campaign.id] = (self.campaign.priority, wanted)

    async def _launch(self, contact_id: int) -> None:
        line = self._choose_line()
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
            self._preview(aid, call, claim.number, now)
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
            self._on_answered(new, track)
        if new.facts.machine and not old.facts.machine:
            self._on_machine(new, track)
        if new.state is CallState.BRIDGED and old.state is not CallState.BRIDGED:
            self._on_bridged(new, track)
        if new.state is CallState.IVR and old.state is not CallState.IVR:
            self._update(aid, status="ivr", mode="ivr", abandoned=new.facts.abandoned)
        if old.state is CallState.BRIDGED and new.state is not CallState.BRIDGED:
            if new.bridged_at is not None:
                self.model.observe_talk(now - new.bridged_at)
            if track.agent is not None:
                self._agent_wrapping(track.agent, aid)
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

    # -- answered calls -----------------------------------------------------------------

    def _on_answered(self, call: Call, track: _Tracking) -> None:
        self._update(
            call.attempt_id, status="answered", answered_at=call.answered_at, channel=call.channel
        )
        ring = (call.answered_at or 0.0) - (call.originated_at or call.created_at)
        self.bus.publish(
            CallAnswered(self.campaign.id, call.attempt_id, call.answered_at or 0.0, ring)
        )
        if self.campaign.mode == "ivr-only":
            self._observe_live(call, track, live=True)
            return
        if self.settings.amd:
            early = track.extra.pop("amd", None)
            if early == "MACHINE":
                self._advance(call.attempt_id, c.MachineDetected(self.clock.seconds()))
                return
            if early is None:
                track.timer = self.clock.callLater(
                    self.settings.amd_timeout, self._amd_human, call.attempt_id
                )
                return
        self._live_answer(call.attempt_id)

    def _amd_human(self, aid: int) -> None:
        call = self.calls.get(aid)
        if call is None or call.ended or call.facts.machine:
            return
        track = self._track[aid]
        if track.timer is not None and track.timer.active():
            track.timer.cancel()
        track.timer = None
        if not track.live_observed:
            self._live_answer(aid)

    def _on_machine(self, call: Call, track: _Tracking) -> None:
        if track.timer is not None and track.timer.active():
            track.timer.cancel()
        self._observe_live(call, track, live=False)
        if call.channel:
            track.line.ami.hangup(call.channel, 16).addErrback(lambda _: None)

    def _observe_live(self, call: Call, track: _Tracking, *, live: bool) -> None:
        if track.live_observed:
            return
        track.live_observed = True
        self.model.observe_outcome(
            call.originated_at or call.created_at, self.clock.seconds(), live
        )

    def _live_answer(self, aid: int) -> None:
        call = self.calls[aid]
        track = self._track[aid]
        now = self.clock.seconds()
        self._observe_live(call, track, live=True)
        self.ledger.record_live_answer(now)
        # the grace time runs from the answer, not from the AMD verdict: the person has
        # been waiting since they said hello
        left = max(0.0, self.settings.grace - (now - (call.answered_at or now)))
        if left <= 0:
            self._abandon(aid)  # no agent could be reached in time any more
            return
        if track.extra.get("preview") and track.agent is not None:
            mine = self.agents.get(track.agent)
            if mine is not None and mine.attempt_id == aid and mine.state.value == "reserved":
                self._route_to_agent(aid, mine.name, mine.exten)  # who previewed it
                return
        agent = self.agents.take_idle(now, aid)
        if agent is not None:
            self._route_to_agent(aid, agent.name, agent.exten)
            return
        self._waiting[aid] = None
        track.waiting = self.clock.callLater(left, self._abandon, aid)
        self.wake()

    def _route_to_agent(self, aid: int, name: str, exten: str) -> None:
        call = self.calls[aid]
        track = self._track[aid]
        now = self.clock.seconds()
        track.agent = name
        self._advance(aid, c.Routed(now, "agent", agent=name))
        wait = now - (call.answered_at or now)
        self.bus.publish(CallRouted(self.campaign.id, aid, "agent", False, wait, now))
        self._update(aid, mode="agent", agent=name)
        # The Redirect is not the end of it: the interviewer's phone must answer. If the
        # call is not bridged within the grace time of its live answer it is abandoned to
        # the IVR survey (toagent's Dial would otherwise ring up to 30 s, then hang up).
        if track.waiting is not None and track.waiting.active():
            track.waiting.cancel()
        left = max(0.0, self.settings.grace - (now - (call.answered_at or now)))
        track.waiting = self.clock.callLater(left, self._agent_missed, aid, name)
        track.extra["agent_time"] = left  # the time the agent's phone had to answer
        if not call.channel:
            return

        def failed(f: Failure) -> None:
            self.log.info(
                "attempt {attempt}: Redirect to agent failed ({error})",
                attempt=aid,
                error=f.getErrorMessage(),
            )
            self.agents.release(name, self.clock.seconds())
            self._serve_waiting()
            self.wake()

        track.line.ami.redirect(call.channel, self.settings.agent_context, exten, 1).addErrback(
            failed
        )

    def _agent_missed(self, aid: int, name: str) -> None:
        """The grace time ran out before the call given to C{name} was bridged."""
        call = self.calls.get(aid)
        track = self._track.get(aid)
        if call is None or track is None or call.ended or call.state is not CallState.ANSWERED:
            return  # bridged, in the IVR already, or over
        track.waiting = None
        now = self.clock.seconds()
        agent = self.agents.get(name)
        if agent is not None and agent.attempt_id == aid and agent.state.value == "reserved":
            # The interviewer's phone did not answer in time (or the call reached them too
            # late in its grace): free again. A phone that keeps not answering would have
            # every call abandoned: after agent_miss_limit misses in a row, paused (ready
            # again from the desk).
            self.agents.release(name, now)
            misses = self._agent_misses.get(name, 0)
            if track.extra.get("agent_time", 0.0) >= AGENT_FAIR_TIME:
                misses += 1  # a call handed over at the end of its grace is not a miss
            self._agent_misses[name] = misses
            paused = 0 < self.settings.agent_miss_limit <= misses
            if paused:
                self.agents.pause(name, now)
            self.log.warn(  # noqa: G010
                "attempt {attempt}: agent {agent} not reached within {grace} s ({misses} in "
                "a row); call abandoned to the IVR{paused} / 坐席未在规定时间内接通, 转 IVR",
                attempt=aid,
                agent=name,
                grace=self.settings.grace,
                misses=misses,
                paused="; agent paused until ready again" if paused else "",
            )
        track.agent = None
        self._update(aid, agent=None)
        self._abandon(aid)
        self._serve_waiting()
        self.wake()

    def _abandon(self, aid: int) -> None:
        self._waiting.pop(aid, None)
        call = self.calls.get(aid)
        if call is None or call.ended:
            return
        track = self._track[aid]
        track.waiting = None
        now = self.clock.seconds()
        self.ledger.record_abandoned(now)
        self._advance(aid, c.Routed(now, "ivr", abandoned=True))
        wait = now - (call.answered_at or now)
        self.bus.publish(CallRouted(self.campaign.id, aid, "ivr", True, wait, now))
        self.log.info("attempt {attempt}: no agent within grace; to IVR", attempt=aid)
        if call.channel:
            self._redirect_abandoned(aid, call.channel, tries=0)

    def _redirect_abandoned(self, aid: int, channel: str, tries: int) -> None:
        """Move an abandoned call out of C{hold} to the survey; a failed Redirect is tried
        once more, then the call goes to the safe-harbour message: never left in
        silence (hold's Wait(120))."""
        track = self._track.get(aid)
        if track is None:
            return
        to_survey = tries < 2
        context = self.settings.survey_context if to_survey else self.settings.safe_harbour_context
        exten = self.settings.survey_exten if to_survey else "s"

        def failed(f: Failure) -> None:
            call = self.calls.get(aid)
            if call is None or call.ended or self._track.get(aid) is not track:
                return  # hung up meanwhile: nothing to move
            if call.state is not CallState.IVR or track.extra.get("ivr_started"):
                return
            if tries >= 2:
                self.log.error(
                    "attempt {attempt}: Redirect to {context} failed too ({error}); the call "
                    "stays in hold / 转安全提示也失败, 呼叫留在等待",
                    attempt=aid,
                    context=context,
                    error=f.getErrorMessage(),
                )
                return
            self.log.warn(  # noqa: G010
                "attempt {attempt}: Redirect of an abandoned call to {context} failed "
                "({error}); {next} / 转接失败, 重试",
                attempt=aid,
                context=context,
                error=f.getErrorMessage(),
                next="trying again" if tries == 0 else "to the safe-harbour message",
            )
            self.clock.callLater(REDIRECT_RETRY, self._redirect_abandoned, aid, channel, tries + 1)

        track.line.ami.redirect(channel, context, exten, 1).addErrback(failed)

    def _on_bridged(self, call: Call, track: _Tracking) -> None:
        now = self.clock.seconds()
        if track.agent is not None:
            self._agent_misses.pop(track.agent, None)
        if track.waiting is not None and track.waiting.active():
            track.waiting.cancel()
        track.waiting = None
        if track.agent is not None:
            self.agents.talking(track.agent, now, call.attempt_id)
        latency = now - (call.answered_at or now)
        self.latencies.append(latency)
        self.bus.publish(CallBridged(self.campaign.id, call.attempt_id, track.agent, latency, now))
        self._update(call.attempt_id, status="bridged", bridged_at=call.bridged_at)

    # -- agents (the desktop, or a simulated desk, calls these) ------------------------

    def _agent_wrapping(self, name: str, aid: int) -> None:
        agent = self.agents.get(name)
        if agent is None or agent.state.value not in ("talking", "reserved"):
            return
        now = self.clock.seconds()
        self.agents.wrapping(name, now)
        self.bus.publish(AgentWrapping(self.campaign.id, name, aid, now))

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
        self._serve_waiting()
        self.wake()

    def _serve_waiting(self) -> None:
        """Give idle agents to answered calls waiting within their grace time, oldest first."""
        now = self.clock.seconds()
        while self._waiting and self.agents.idle_count():
            aid, _ = self._waiting.popitem(last=False)
            call = self.calls.get(aid)
            track = self._track.get(aid)
            if call is None or track is None or call.ended:
                continue
            if track.waiting is not None and track.waiting.active():
                track.waiting.cancel()
            track.waiting = None
            taken = self.agents.take_idle(now, aid)
            if taken is not None:
                self._route_to_agent(aid, taken.name, taken.exten)

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

    def _preview(self, aid: int, call: Call, number: str, now: float) -> None:
        """Reserve the first requesting agent still idle for C{aid} and show them the
        contact before the Originate."""
        while self._preview_agents:
            name = self._preview_agents.popleft()
            agent = self.agents.reserve(name, now, aid)
            if agent is None:
                continue  # paused or busy since asking
            self._track[aid].agent = name
            self._track[aid].extra["preview"] = True
            self.bus.publish(
                ContactPreviewed(
                    self.campaign.id,
                    name,
                    aid,
                    call.contact_id,
                    call.unit_id,
                    mask_number(number),
                    now,
                )
            )
            return

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
            self._amd_verdict(aid, event.get("Value"), now)
        elif name == "UserEvent" and self.settings.amd and event.get("UserEvent") == "MinyiAMD":
            # hold's UserEvent(MinyiAMD,AMDSTATUS: ...): the verdict for a session that
            # logged in without the dialplan class (no VarSet events)
            self._amd_verdict(aid, event.get("AMDSTATUS"), now)

    def _amd_verdict(self, aid: int, value: str | None, now: float) -> None:
        """AMDSTATUS for C{aid} (from VarSet or UserEvent; seeing both is harmless)."""
        call = self.calls[aid]
        if not call.facts.answered:
            # seen before the answer event: acted on when the answer arrives
            self._track[aid].extra["amd"] = value
        elif value == "MACHINE":
            self._advance(aid, c.MachineDetected(now))
        else:
            self._amd_human(aid)

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
            self._track_write(Deferred.fromCoroutine(self._reconcile(line)))

    # -- reconciliation ------------------------------------------------------------------

    async def _reconcile(self, line: Line) -> None:
        """Check the attempts the store says are live on C{line} against its channels."""
        self._reconciled.discard(line.name)
        self._reconciling.add(line.name)
        try:
            await self._reconcile_line(line)
        finally:
            self._reconciling.discard(line.name)

    async def _reconcile_line(self, line: Line) -> None:
        try:
            channels = await line.ami.core_show_channels()
        except Exception as e:
            # Without it the line stays unusable: tried again, with backoff, while the
            # connection is up (a reconnect starts a reconciliation of its own).
            failures = self._reconcile_failures.get(line.name, 0) + 1
            self._reconcile_failures[line.name] = failures
            delay = min(
                RECONCILE_RETRY * 2 ** (failures - 1),
                RECONCILE_RETRY_MAX,
            )
            self.log.warn(  # noqa: G010
                "campaign {campaign}: CoreShowChannels on {line} failed ({error}); trying "
                "again in {delay} s / 通道核对失败, 稍后重试",
                campaign=self.campaign.id,
                line=line.name,
                error=str(e) or repr(e),
                delay=delay,
            )
            self.clock.callLater(delay, self._retry_reconcile, line)
            return
        self._reconcile_failures.pop(line.name, None)
        up: dict[str, Message] = {}
        for item in channels:
            uid = item.get("Uniqueid")
            if uid is not None:
                up[uid] = item
        stored = await self.db.do(store.thd_live_attempts, self.campaign.id)
        now = self.clock.seconds()
        adopted = lost = settled = 0
        gone: list[tuple[int, float | None]] = []  # (attempt, seconds left of its grace)
        resumed: list[tuple[int, Message]] = []  # adopted calls still up, picked up last
        for attempt in stored:
            if attempt.server not in (line.name, None):
                continue
            uid = attempt.uniqueid or ""
            live_item = up.get(uid)
            known = self.calls.get(attempt.id)
            if known is None:
                call = store.call_from_live(attempt)
                self._adopt(call, line)
                line.in_use += 1
                if call.agent is not None:
                    self._track[attempt.id].agent = call.agent
                    self._track[attempt.id].live_observed = True
                    if live_item is not None and self.agents.get(call.agent) is not None:
                        # the agent is still on this call: not free for another one
                        self.agents.talking(call.agent, now, attempt.id)
                if call.state is CallState.WRAPUP:
                    # the line was down before the restart: the interviewer's result is
                    # awaited again, for the wrap-up time at most (never live forever)
                    self._await_result(attempt.id, call.agent, now)
            if live_item is None:
                current = self.calls[attempt.id]
                if current.state is CallState.WRAPUP:
                    continue  # the line is down anyway; the agent's result is awaited
                young = now - (current.originated_at or current.created_at)
                left = None
                if not current.channel_seen and young < self.settings.pending_grace:
                    left = self.settings.pending_grace - young
                gone.append((attempt.id, left))
                continue
            adopted += 1
            if known is None:
                resumed.append((attempt.id, live_item))
        records = await self._fetch_outcomes(line, [aid for aid, _ in gone])
        now = self.clock.seconds()
        for aid, left in gone:
            record = records.get(aid)
            if record is not None and self._settle(aid, record, line):
                settled += 1
                continue
            pending = self.calls.get(aid)
            if pending is None or pending.ended:
                continue
            if left is not None:
                # Originate may still be on its way to a channel: followed by its id,
                # and ended as lost only if no channel (nor AstDB record) shows up in time.
                self._track[aid].timer = self.clock.callLater(left, self._recheck_pending, aid)
                continue
            self._advance(aid, c.Lost(now))
            lost += 1
        # Only now are the interviewers of calls that ended while away in wrap-up: a call
        # found answered in hold is given an agent after that, never one whose previous
        # respondent's result is still awaited.
        for aid, item in resumed:
            adopted_call = self.calls.get(aid)
            if adopted_call is not None and not adopted_call.ended:
                self._resume(aid, item)
        self._reconciled.add(line.name)
        self._down_since.pop(line.name, None)
        for aid in sorted(self._undeleted.pop(line.name, set())):
            self._forget_outcome(line, aid)
        self.log.info(
            "campaign {campaign}: reconciled {line}: {adopted} live, {settled} ended while "
            "away (AstDB), {lost} lost",
            campaign=self.campaign.id,
            line=line.name,
            adopted=adopted,
            settled=settled,
            lost=lost,
        )
        self.bus.publish(Reconciled(self.campaign.id, adopted, lost, now))
        self.wake()

    async def _lose_orphans(self) -> None:
        """Live attempts stored on a server no longer configured: no line will ever
        reconcile them (nor read that server's AstDB), and their contacts would stay
        locked. They end as lost (retried by the rules)."""
        names = {line.name for line in self.lines}
        stored = await self.db.do(store.thd_live_attempts, self.campaign.id)
        for attempt in stored:
            if attempt.server is None or attempt.server in names or attempt.id in self.calls:
                continue
            now = self.clock.seconds()
            self.log.warn(  # noqa: G010
                "campaign {campaign}: attempt {attempt} was live on server {server}, which "
                "is no longer configured; ended as lost / 服务器 {server} 已不在配置中, "
                "该呼叫记为丢失",
                campaign=self.campaign.id,
                attempt=attempt.id,
                server=attempt.server,
            )
            call = c.advance(store.call_from_live(attempt), c.Lost(now))
            decision = await self.db.do_with_transaction(
                store.thd_finish_attempt,
                call,
                rules=self.rules,
                schedule=None if self.settings.always_open else self.schedule,
                now=now,
            )
            if decision is None:
                continue  # ended meanwhile
            outcome = OUTCOMES[decision.outcome] if decision.outcome else call.outcome
            assert outcome is not None
            self.bus.publish(
                CallEnded(
                    self.campaign.id,
                    attempt.id,
                    call.unit_id,
                    outcome.name,
                    outcome.aapor,
                    call.facts.abandoned,
                    bool(decision.final),
                    now,
                )
            )

    def _retry_reconcile(self, line: Line) -> None:
        if (
            not self.running
            or not line.ami.ready
            or line.name in self._reconciled
            or line.name in self._reconciling
        ):
            return
        self._track_write(Deferred.fromCoroutine(self._reconcile(line)))

    def _recheck_pending(self, aid: int) -> None:
        call = self.calls.get(aid)
        track = self._track.get(aid)
        if call is None or track is None or call.ended or call.channel_seen:
            return

        async def recheck() -> None:
            records = await self._fetch_outcomes(track.line, [aid])
            record = records.get(aid)
            if record is not None and self._settle(aid, record, track.line):
                return
            current = self.calls.get(aid)
            if current is not None and not current.ended and not current.channel_seen:
                self._advance(aid, c.Lost(self.clock.seconds()))

        self._track_write(Deferred.fromCoroutine(recheck()))

    # -- the AstDB outcome records (see dialer.campaign.outcomes) -------------------------

    async def _fetch_outcomes(self, line: Line, aids: Sequence[int]) -> dict[int, HangupRecord]:
        """The AstDB records of C{aids} that exist and can be read (DBGets in parallel)."""
        if not aids or not self.settings.outcome_handler:
            return {}
        texts = await defer.gatherResults(
            [Deferred.fromCoroutine(self._db_get(line, aid)) for aid in aids]
        )
        records: dict[int, HangupRecord] = {}
        for aid, text in zip(aids, texts, strict=True):
            if text is None:
                continue
            try:
                records[aid] = parse_record(text, aid)
            except OutcomeRecordError as e:
                self.log.error(
                    "campaign {campaign}: {error}; the call counts as lost",
                    campaign=self.campaign.id,
                    error=str(e),
                )
        return records

    async def _db_get(self, line: Line, aid: int) -> str | None:
        """C{DBGet minyi_outcome <aid>}: the value, or None (no entry, or no answer)."""
        from dialer.ami.protocol import ActionFailed, AMIError

        send = getattr(line.ami, "send_list_action", None)
        if send is None:
            return None  # an event-level stand-in (the engine benchmark's) has no AstDB
        message = Message.action("DBGet", [("Family", FAMILY), ("Key", str(aid))])
        try:
            result = await send(message, timeout=self.settings.astdb_timeout)
        except ActionFailed as e:
            text = e.response.get("Message") or ""
            if text != "Database entry not found":
                self.log.warn(  # noqa: G010
                    "attempt {attempt}: DBGet on {line} refused ({error})",
                    attempt=aid,
                    line=line.name,
                    error=text,
                )
            return None
        except AMIError as e:  # timed out, connection lost: nothing known
            self.log.warn(  # noqa: G010
                "attempt {attempt}: DBGet on {line} failed ({error})",
                attempt=aid,
                line=line.name,
                error=repr(e),
            )
            return None
        except Exception:
            # a bug: logged as one, and the reconciliation goes on without this record
            self.log.failure("attempt {attempt}: DBGet crashed", attempt=aid)
            return None
        for event in result.events:
            if (event.name or "").lower() == "dbgetresponse":
                value: str | None = event.get("Val")
                return value
        return None

    def _forget_outcome(self, line: Line, aid: int) -> None:
        """C{DBDel minyi_outcome <aid>}, fire and forget: the AstDB does not grow forever."""
        send = getattr(line.ami, "send_action", None)
        if not self.settings.outcome_handler or send is None:
            return
        if not line.ami.ready:
            self._undeleted.setdefault(line.name, set()).add(aid)  # sent after reconnecting
            return
        message = Message.action("DBDel", [("Family", FAMILY), ("Key", str(aid))])

        def failed(f: Failure) -> None:
            self.log.debug(
                "attempt {attempt}: DBDel on {line}: {error}",
                attempt=aid,
                line=line.name,
                error=f.getErrorMessage(),
            )

        send(message, timeout=self.settings.astdb_timeout).addErrback(failed)

    def _settle(self, aid: int, record: HangupRecord, line: Line) -> bool:
        """End (or move to wrap-up) C{aid} as its AstDB record says; False if it cannot."""
        call = self.calls.get(aid)
        track = self._track.get(aid)
        if call is None or track is None or call.ended:
            return False
        if not record.matches(call.action_id):
            self.log.warn(  # noqa: G010
                "attempt {attempt}: AstDB outcome belongs to another Originate (stale key); "
                "ignored and deleted",
                attempt=aid,
            )
            self._forget_outcome(line, aid)
            return False
        now = self.clock.seconds()
        new = settle(call, record, now=now, amd=self.settings.amd, grace=self.settings.grace)
        if new.facts.answered and not call.facts.answered and not new.facts.machine:
            self.ledger.record_live_answer(new.answered_at or now)
        if new.facts.abandoned and not call.facts.abandoned:
            self.ledger.record_abandoned(new.ended_at or now)
        self.calls[aid] = new
        track.extra["astdb"] = True  # its key is deleted once the disposition is written
        self.log.info(
            "attempt {attempt}: ended while the dialer was away (AstDB, cause {cause})",
            attempt=aid,
            cause=record.cause,
        )
        if new.ended:
            self._finish(new, track)
            return True
        # reached an interviewer: the interview result is theirs to give (as live)
        self._await_result(aid, new.agent, now)
        return True

    def _await_result(self, aid: int, agent: str | None, now: float) -> None:
        """A call in wrap-up found at reconciliation: its interviewer (if in the pool and
        free) is put in wrap-up for it, so the desk can give the result; the wrap-up
        timeout ends it otherwise."""
        track = self._track[aid]
        desk = self.agents.get(agent) if agent is not None else None
        if agent is not None and desk is not None:
            track.agent = agent
            track.live_observed = True
            if desk.state.value == "idle" or desk.attempt_id == aid:
                if desk.state.value != "talking":
                    self.agents.talking(agent, now, aid)
                self._agent_wrapping(agent, aid)
        self._set_timer(track, self.settings.wrapup_timeout, aid, c.WrapupTimeout)

    def _resume(self, aid: int, item: Message) -> None:
        """Pick up a call found alive after a restart, from what CoreShowChannel says."""
        now = self.clock.seconds()
        call = self.calls[aid]
        channel = item.get("Channel")
        state = item.get("ChannelState")
        context = item.get("Context")
        if channel and call.channel is None:
            self.calls[aid] = c.advance(call, c.ChannelUp(now, channel=channel))
        call = self.calls[aid]
        if state != "6":
            return  # still ringing: its events will tell the rest
        if call.state is CallState.BRIDGED or item.get("BridgeId"):
            if call.state is not CallState.BRIDGED and call.agent is not None:
                # bridged before the restart but not yet written: follow it as bridged
                self.calls[aid] = c.advance(call, c.Bridged(now, call.agent))
                self.agents.talking(call.agent, now, aid)
            return
        if context == self.settings.survey_context or item.get("Application") == "AGI":
            self._advance(aid, c.IvrStarted(now))
            return
        if call.answered_at is None:
            self._advance(aid, c.Answered(now, channel))  # routes it
        elif context == self.settings.hold_context:
            # answered before the restart and still waiting: give it an agent or the IVR now
            # (the IVR when its grace time is over: it could not be bridged in time)
            self._track[aid].live_observed = True
            within = now - (call.answered_at or now) < self.settings.grace
            agent = self.agents.take_idle(now, aid) if within else None
            if agent is not None:
                self._route_to_agent(aid, agent.name, agent.exten)
            else:
                self._abandon(aid)

    def _lose_line_calls(self, line: Line, why: str) -> None:
        now = self.clock.seconds()
        lost = [
            aid for aid, t in self._track.items() if t.line is line and not self.calls[aid].ended
        ]
        if lost:
            self.log.warn(  # noqa: G010
                "campaign {campaign}: {count} calls on {line} lost ({why})",
                campaign=self.campaign.id,
                count=len(lost),
                line=line.name,
                why=why,
            )
        for aid in lost:
            self._advance(aid, c.Lost(now))
        if line.ami.ready:
            self._down_since.pop(line.name, None)
        else:
            self._down_since[line.name] = now

    # -- the end of a call ---------------------------------------------------------------

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
                    self._serve_waiting()
                elif agent.state.value == "talking":
                    self._agent_wrapping(track.agent, aid)
        if call.facts.originate_accepted and call.originated_at is not None:
            self._observe_live(call, track, live=False)
        track.line.in_use = max(0, track.line.in_use - 1)
        outcome = call.outcome
        assert outcome is not None
        self._breaker_count(track.line, outcome.technical, now)

        async def write() -> None:
            decision = await self.db.do_with_transaction(
                store.thd_finish_attempt,
                call,
                rules=self.rules,
                schedule=None if self.settings.always_open else self.schedule,
                now=now,
                callback_at=track.callback_at,
            )
            final_outcome = outcome
            if decision is not None and decision.outcome is not None:
                final_outcome = OUTCOMES[decision.outcome]  # e.g. the IVR's result, if we missed it
            if decision is not None and (call.channel_seen or track.extra.get("astdb")):
                self._forget_outcome(track.line, aid)  # the hangup handler's record is spent
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

    def _breaker_count(self, line: Line, technical: bool, now: float) -> None:
        """Count a finished call on C{line}: a misconfigured trunk fails every call
        (coded C{failed}, not counted as an attempt, retried in 5 min) and would redial
        every contact forever; after C{breaker_threshold} technical failures in a row the
        line is not dialed any more."""
        threshold = self.settings.breaker_threshold
        if not technical:
            line.failures = 0
            if line.tripped_at is not None:
                self._close_breaker(line, now, "a call got through")
            return
        if not line.ami.ready:
            return  # the connection dropped: that is a line down, not a trunk fault
        line.failures += 1
        if threshold <= 0 or line.failures < threshold or line.tripped_at is not None:
            return
        line.tripped_at = now
        self.log.error(
            "campaign {campaign}: line {line}: {failures} technical failures in a row "
            "(failed / congestion / no route); not dialing on it until a call gets through "
            "or the campaign is resumed (dialer campaign resume). Check the trunk and the "
            "dial template. / 线路 {line} 连续 {failures} 次技术性失败, 已停止在该线路拨号; "
            "请检查中继和拨号模板, 然后恢复活动",
            campaign=self.campaign.id,
            line=line.name,
            failures=line.failures,
        )
        self.bus.publish(LineBreaker(line.name, True, line.failures, now))
        if self.status == "running" and all(x.tripped_at is not None for x in self.lines):
            # nothing left to dial on: the campaign is paused, so that its status says so
            # and the operator's `dialer campaign resume` (after fixing the trunk) clears it
            self.log.error(
                "campaign {campaign}: every line's circuit breaker is open; campaign paused "
                "(dialer campaign resume after fixing the trunk) / 所有线路熔断, 活动已暂停",
                campaign=self.campaign.id,
            )
            self.status = "paused"
            self._track_write(
                self.db.do_with_transaction(store.thd_set_status, self.campaign.id, "paused", now)
            )
            self.bus.publish(DialingPaused(self.campaign.id, True, "circuit breaker", now))

    def _close_breaker(self, line: Line, now: float, why: str) -> None:
        line.tripped_at = None
        line.failures = 0
        self.log.info(
            "campaign {campaign}: line {line} dialed again ({why}) / 线路恢复拨号",
            campaign=self.campaign.id,
            line=line.name,
            why=why,
        )
        self.bus.publish(LineBreaker(line.name, False, 0, now))
        self.wake()

    def reset_breakers(self, why: str = "operator") -> None:
        """Close the circuit breaker of every line of this campaign (an operator resumed)."""
        now = self.clock.seconds()
        for line in self.lines:
            if line.tripped_at is not None:
                self._close_breaker(line, now, why)
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


def mask_number(number: str) -> str:
    """C{+8613800100000} -> C{+86138******00}: enough for an interviewer to recognise
    the call, not the number (events never carry whole numbers)."""
    keep_head, keep_tail = 6, 2
    if len(number) <= keep_head + keep_tail:
        return "*" * len(number)
    return number[:keep_head] + "*" * (len(number) - keep_head - keep_tail) + number[-keep_tail:]


def lines_from(items: Iterable[tuple[str, AMI, int]]) -> list[Line]:
    """L{Line}s from (name, AMI client, capacity) triples."""
    return [Line(name, ami, capacity) for name, ami, capacity in items]
