"""
The daemon's composition root: one reactor running AMI clients, the FastAGI server,
the web endpoint (/metrics, /healthz) and the campaign controllers.

Start order: store (schema checked before anything starts, in L{dialer.tap.build}),
metrics and reactor-lag probe, AMI clients, FastAGI, HTTP, then the campaign supervisor,
which starts a L{CampaignController} for every running campaign and stops it when the
campaign is stopped. Stop order: first the controllers (no new dials; calls in progress
followed for up to C{drain_timeout} while AMI and FastAGI are still up), then HTTP,
FastAGI (which drains live IVR sessions) and AMI, and finally the DB pool.
"""

# test-case-name: tests.daemon.test_service

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, cast

from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import MultiService, Service
from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import clientFromString, serverFromString
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.web.server import Site

from dialer.agi.runner import ScriptDirectory
from dialer.ami.client import AMIClient
from dialer.campaign.agents import AgentPool
from dialer.campaign.controller import CampaignController, Line
from dialer.campaign.dialstring import check_caller_id, check_dial_template
from dialer.campaign.simdesk import SimulatedDesk
from dialer.daemonconf import AMIConfig, DaemonConfig
from dialer.errors import DialerError, InputError
from dialer.events import AMIStateChanged, EventBus
from dialer.metrics import Metrics, ReactorLag, web_root
from dialer.pacing.base import policy_for_mode
from dialer.store import campaigns as store
from dialer.store.campaigns import Campaign

ACTIVE = ("running", "paused")


class CampaignSupervisor(Service):
    """Starts a controller per running campaign; stops it when the campaign is stopped."""

    log = Logger()

    def __init__(
        self,
        *,
        db: Any,
        lines: list[Line],
        bus: EventBus,
        metrics: Metrics,
        config: DaemonConfig,
        clock: Any,
        rng: random.Random | None = None,
        questionnaires: ScriptDirectory | None = None,
    ) -> None:
        self.db = db
        self.lines = lines
        # the FastAGI runner's own directory, so the check at start loads (and caches) the
        # questionnaire the IVR calls will use, once
        self.questionnaires = questionnaires or ScriptDirectory(Path(config.agi_scripts))
        self.bus = bus
        self.metrics = metrics
        self.config = config
        self.clock = clock
        self.rng = rng or random.Random()
        self.controllers: dict[int, CampaignController] = {}
        self.desks: dict[int, SimulatedDesk] = {}
        self._agents_owner: int | None = None
        # campaigns that cannot run -> their updated_at when refused (logged once per change)
        self._refused: dict[int, float] = {}
        self._agentless: set[int] = set()  # agent campaigns started without the team
        self._loop = LoopingCall(self._poll)
        self._loop.clock = clock
        self._polling: Deferred[None] | None = None

    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]
        self._loop.start(self.config.poll_campaigns, now=True).addErrback(
            lambda f: self.log.failure("campaign supervisor loop stopped", failure=f)
        )

    def stopService(self) -> Deferred[None]:
        super().stopService()  # type: ignore[no-untyped-call]
        if self._loop.running:
            self._loop.stop()
        for desk in self.desks.values():
            desk.stop()
        stops = [c.stopService() for c in self.controllers.values() if c.running]
        return defer.DeferredList(stops, consumeErrors=True).addCallback(lambda _: None)

    def _poll(self) -> Deferred[None] | None:
        if self._polling is not None:
            return None
        d = Deferred.fromCoroutine(self._sync())

        def done(result: object) -> None:
            self._polling = None
            if isinstance(result, Exception) or hasattr(result, "getErrorMessage"):
                self.log.failure("campaign supervisor poll failed", failure=result)  # type: ignore[arg-type]

        self._polling = d
        d.addBoth(done)
        return None

    async def _sync(self) -> None:
        wanted = set(self.config.campaigns)
        campaigns = [
            c
            for c in await self.db.do(store.thd_list_campaigns, ACTIVE)
            if not wanted or c.name in wanted
        ]
        # Running campaigns first, each group by priority (the store's order): the team
        # goes to the highest-priority running agent campaign.
        campaigns.sort(key=lambda c: c.status != "running")
        status = {c.id: c.status for c in campaigns}
        for cid, ctl in list(self.controllers.items()):
            if cid not in status and ctl.live_count() == 0:
                self.log.info(
                    "campaign {campaign} no longer active; controller stopped", campaign=cid
                )
                await self._stop_controller(cid)
        owner = self._agents_owner
        if (
            owner is not None
            and status.get(owner) == "paused"
            and self.controllers[owner].live_count() == 0
            and any(status.get(cid) == "running" for cid in self._agentless)
        ):
            # The team's campaign is paused and idle while another waits for interviewers:
            # hand the team over (the paused one restarts without it).
            self.log.info(
                "campaign {campaign} is paused: the [agents] team moves to a running campaign",
                campaign=owner,
            )
            await self._stop_controller(owner)
        if self._agents_owner is None:
            # The team is free (its campaign ended): an agent campaign that started without
            # interviewers, and has no call in progress, is restarted below and gets it.
            for cid, ctl in list(self.controllers.items()):
                if cid in self._agentless and ctl.live_count() == 0:
                    await self._stop_controller(cid)
        for camp in campaigns:
            if camp.id in self.controllers:
                continue
            if self._refused.get(camp.id) == camp.updated_at:
                continue  # refused already; a status change (pause/resume) tries again
            try:
                self.start_campaign(camp)
            except (DialerError, TypeError, ValueError, ArithmeticError) as e:
                # one campaign's bad settings must not stop the others from being polled
                self._refused[camp.id] = camp.updated_at
                self.log.error(
                    "campaign {campaign} ({name}) cannot run: {error}; fix it, then "
                    "`dialer campaign resume {name}` to retry / 项目无法运行，修正后用 resume 重试",
                    campaign=camp.id,
                    name=camp.name,
                    error=str(e),
                )
            else:
                self._refused.pop(camp.id, None)

    async def _stop_controller(self, cid: int) -> None:
        ctl = self.controllers.pop(cid)
        if ctl.running:
            await ctl.stopService()
        desk = self.desks.pop(cid, None)
        if desk is not None:
            desk.stop()
        self._agentless.discard(cid)
        if self._agents_owner == cid:
            self._agents_owner = None

    def check_questionnaire(self, camp: Campaign) -> None:
        """Raise L{DialerError} unless C{camp}'s questionnaire loads from C{[agi] scripts}."""
        try:
            self.questionnaires(camp.questionnaire)
        except DialerError as e:
            raise InputError(
                f"questionnaire {camp.questionnaire!r} does not load from "
                f"{self.config.agi_scripts}: {e} / 问卷无法加载"
            ) from None
        except OSError as e:
            raise InputError(
                f"questionnaire {camp.questionnaire!r} cannot be read from "
                f"{self.config.agi_scripts}: {e.strerror or e} / 无法读取问卷"
            ) from None

    def start_campaign(self, camp: Campaign) -> CampaignController:
        """
        Start C{camp}'s controller.

        @raise DialerError: its questionnaire does not load, or its settings cannot run.
        """
        # stored before these checks existed, or written around them: refuse here rather
        # than fail every attempt at Originate
        check_dial_template(camp.dial_template, "dial template")
        if camp.caller_id is not None:
            check_caller_id(camp.caller_id, "caller ID")
        self.check_questionnaire(camp)
        agents = AgentPool()
        agent_mode = camp.mode != "ivr-only"
        if agent_mode and self._agents_owner is None:
            # One team of interviewers: they work one agent campaign at a time, the
            # highest-priority one running when the team is free (campaigns are polled
            # in priority order).
            now = self.clock.seconds()
            for name in self.config.agents.names:
                agents.add(name, name, now=now)
            if self.config.agents.names:
                self.log.info(
                    "campaign {campaign} ({name}, priority {priority}): the [agents] team "
                    "({count} interviewers) works this campaign",
                    campaign=camp.id,
                    name=camp.name,
                    priority=camp.priority,
                    count=len(self.config.agents.names),
                )
        elif agent_mode:
            self.log.warn(  # noqa: G010 (twisted.logger has warn, not warning)
                "campaign {campaign} ({name}, {mode}) has no interviewers: the [agents] team "
                "works campaign {owner}; it will not dial until that campaign stops "
                "/ 没有坐席，该项目暂不拨号",
                campaign=camp.id,
                name=camp.name,
                mode=camp.mode,
                owner=self._agents_owner,
            )
        options: dict[str, Any] = {}
        if camp.mode == "predictive":
            options["target"] = camp.abandon_target
        tuning = camp.settings.get("pacing", {})
        if isinstance(tuning, dict):
            options.update(tuning)  # per-campaign pacing options (dialer campaign create --pacing)
        policy: Any = policy_for_mode(camp.mode, **options)
        ctl = CampaignController(
            camp,
            db=self.db,
            lines=self.lines,
            agents=agents,
            policy=policy,
            clock=self.clock,
            bus=self.bus,
            settings=self.config.dialer,
            rng=random.Random(self.rng.getrandbits(64)),
        )
        self.controllers[camp.id] = ctl
        if agent_mode and self._agents_owner is None:
            self._agents_owner = camp.id
        elif agent_mode:
            self._agentless.add(camp.id)
        self.metrics.watch_campaign(
            camp.id, ctl.live_count, lambda: ctl.ledger.figures(self.clock.seconds())
        )
        if self.config.agents.simulated and len(agents):
            seed = self.config.agents.seed
            self.desks[camp.id] = SimulatedDesk(
                ctl,
                self.bus,
                clock=self.clock,
                rng=random.Random(seed if seed is not None else self.rng.getrandbits(64)),
                wrap_mean=self.config.agents.wrap_mean,
            )
        self.log.info(
            "campaign {campaign} ({mode}) controller started", campaign=camp.id, mode=camp.mode
        )
        ctl.startService()
        return ctl


class DialerService(MultiService):
    """The root service; see the module docstring."""

    log = Logger()

    def __init__(
        self,
        config: DaemonConfig,
        reactor: Any,
        pool: Any,
        *,
        ami_endpoint: Callable[[AMIConfig], IStreamClientEndpoint] | None = None,
    ) -> None:
        """
        C{ami_endpoint} builds each AMI server's client endpoint (default: its
        C{endpoint} string through C{clientFromString}); tests pass the simulator's.
        """
        super().__init__()  # type: ignore[no-untyped-call]
        self.config = config
        self.reactor = reactor
        self.pool = pool
        self.bus = EventBus()
        self.metrics = Metrics(self.bus)
        self.lag = ReactorLag(self.metrics, reactor)
        self.lines: list[Line] = []
        for conf in config.ami:
            endpoint = (
                ami_endpoint(conf)
                if ami_endpoint is not None
                else clientFromString(reactor, conf.endpoint)  # type: ignore[no-untyped-call]
            )
            client = AMIClient(
                endpoint,
                conf.username,
                conf.secret,
                clock=reactor,
                md5=conf.md5,
                events=conf.events,  # the Login Events: mask ([[ami]] events)
            )
            client.setServiceParent(self)  # type: ignore[no-untyped-call]
            client.on_state(self._ami_state(conf.name))
            self.metrics.ami_up.labels(conf.name).set(0)
            self.lines.append(
                Line(conf.name, cast(Any, client), conf.lines, dial_template=conf.dial_template)
            )
        self.questionnaires = ScriptDirectory(Path(config.agi_scripts))
        self._agi_service(config).setServiceParent(self)  # type: ignore[no-untyped-call]
        site = Site(web_root(self.metrics, self.health))  # type: ignore[no-untyped-call]
        StreamServerEndpointService(
            serverFromString(reactor, config.http_endpoint),  # type: ignore[no-untyped-call]
            site,
        ).setServiceParent(self)
        self.supervisor = CampaignSupervisor(
            db=pool,
            lines=self.lines,
            bus=self.bus,
            metrics=self.metrics,
            config=config,
            clock=reactor,
            questionnaires=self.questionnaires,
        )
        # Not a child: it starts after and stops before the others, so controllers drain
        # their calls while AMI and FastAGI are still up (MultiService stops children
        # all at once).

    def _ami_state(self, name: str) -> Callable[[bool], None]:
        def changed(up: bool) -> None:
            self.bus.publish(AMIStateChanged(name, up, self.reactor.seconds()))

        return changed

    def _agi_service(self, config: DaemonConfig) -> Service:
        from dialer.agi.runner import PoolAnswerStore, SurveyRunner
        from dialer.agi.server import FastAGIFactory, fastagi_service

        runner = SurveyRunner(
            PoolAnswerStore(self.pool),
            self.questionnaires,
            self.reactor,
            bus=self.bus,  # SurveyFinished -> the controller classifies the attempt
        )
        factory = FastAGIFactory(self.reactor, {"survey": runner})
        return fastagi_service(self.reactor, config.agi_endpoint, factory)

    def health(self) -> Iterable[tuple[str, bool]]:
        yield "running", bool(self.running)
        for line in self.lines:
            yield f"ami:{line.name}", line.ami.ready

    def startService(self) -> None:
        self.pool.start()
        self.lag.start()
        super().startService()  # type: ignore[no-untyped-call]
        self.supervisor.startService()
        self.log.info(
            "dialer started: {servers} AMI server(s), FastAGI {agi}, HTTP {http}",
            servers=len(self.lines),
            agi=self.config.agi_endpoint,
            http=self.config.http_endpoint,
        )

    def stopService(self) -> Deferred[None]:
        return Deferred.fromCoroutine(self._stop())

    async def _stop(self) -> None:
        self.lag.stop()
        try:
            if self.supervisor.running:
                await self.supervisor.stopService()
            await defer.maybeDeferred(super().stopService)
        finally:
            self.pool.stop()
            self.metrics.close()
