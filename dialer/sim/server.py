# -*- test-case-name: tests.sim.test_server -*-
"""
L{SimulatedPBX}: the simulator as a whole. It owns the current L{PBX} ("one Asterisk run"),
the AMI sessions, the AMI server factory, and the restart / stop / kill behaviour of
traces g1-g3. It runs on any C{IReactorTime}: the real reactor or a C{task.Clock}.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

from twisted.internet import defer
from twisted.internet.endpoints import connectProtocol
from twisted.internet.interfaces import IListeningPort, IReactorTime, IStreamClientEndpoint
from twisted.logger import Logger

from dialer.ami.message import Message
from dialer.sim.agi import AGIClientProtocol
from dialer.sim.ami import AMIServerFactory, AMISession
from dialer.sim.dialplan import Dialplan
from dialer.sim.loopback import LoopbackEndpoint
from dialer.sim.pbx import PBX, Planner
from dialer.sim.profile import Profile

__all__ = ["DEFAULT_DIALPLAN", "SimulatedPBX"]

#: The repository's Asterisk configuration (the sim runs exactly these contexts).
DEFAULT_DIALPLAN = Path(__file__).resolve().parents[2] / "asterisk_conf" / "extensions.conf"
SHUTDOWN_EVENT_DELAY = 1.1  # g1: Shutdown about 1.1 s after the hang-ups
CLOSE_DELAY = 0.015  # then EOF 10-25 ms later
RESTART_GAP = 0.75  # connections refused for about 0.75 s
BOOT_SECONDS = 0.17  # Login works before FullyBooted, which comes ~170 ms later
GLOBALS_SECONDS = 0.05  # the [globals] VarSet comes first


class SimulatedPBX:
    """
    A simulated Asterisk 22.

    @param agi_endpoint: C{(host, port) -> IStreamClientEndpoint} used by C{AGI()}; None
        means nothing listens (AGISTATUS=FAILURE, as in trace j).
    @param planner: optional C{channel -> Plan | None} deciding each callee/interviewer
        leg's behaviour (e.g. a pacing scenario's call fates); None uses the profile.
    """

    log = Logger()

    def __init__(
        self,
        *,
        clock: IReactorTime,
        rng: random.Random,
        profile: Profile,
        dialplan: Dialplan | None = None,
        recordings: Path | None = None,
        agi_endpoint: Callable[[str, int], Any] | None = None,
        users: dict[str, str] | None = None,
        audio: list[Path] | None = None,
        planner: Planner | None = None,
        prompt_keys: Mapping[str, str] | None = None,
    ) -> None:
        self.clock: Any = clock  # IReactorTime (Any: mypy lacks the zope plugin)
        self.rng = rng
        self.profile = profile
        self.dialplan = dialplan if dialplan is not None else Dialplan.from_file(DEFAULT_DIALPLAN)
        self.recordings = recordings
        self.agi_endpoint = agi_endpoint
        self.users = users if users is not None else {"dialer": "dialer"}
        self.audio = audio or []
        self.planner = planner
        self.prompt_keys = prompt_keys
        self.sessions: list[AMISession] = []
        #: The AstDB ((family, key) -> value): it outlives restarts and stops of the
        #: simulated Asterisk, as the real one's SQLite file does (not this process).
        self.database: dict[tuple[str, str], str] = {}
        self.factory = AMIServerFactory(self)
        self.pbx: PBX | None = None
        self.accepting = False
        self.booted = False
        self.on_down: Callable[[], None] | None = None
        self.on_up: Callable[[], None] | None = None
        self.start(booted=True)

    # -- lifecycle --------------------------------------------------------------------

    def start(self, *, booted: bool = True) -> None:
        """Start a fresh Asterisk run (counters from 0); C{booted=False} boots in 170 ms."""
        self.pbx = PBX(
            clock=self.clock,
            rng=self.rng,
            profile=self.profile,
            dialplan=self.dialplan,
            recordings=self.recordings,
            agi_connect=self._agi_connect if self.agi_endpoint is not None else None,
            audio=self.audio,
            planner=self.planner,
            prompt_keys=self.prompt_keys,
            database=self.database,
        )
        for s in self.sessions:
            self.pbx.subscribe(s)
        self.accepting = True
        self.booted = booted
        if self.on_up is not None:
            self.on_up()
        if not booted:
            self.clock.callLater(GLOBALS_SECONDS, self._globals_loaded)
            self.clock.callLater(BOOT_SECONDS, self._booted)

    def _globals_loaded(self) -> None:
        # While booting, the dialplan's [globals] are announced as VarSet on no channel (g1).
        if self.pbx is None:
            return
        for name, value in self.pbx.globals.items():
            self.pbx.emit(
                "VarSet",
                [
                    ("Privilege", "dialplan,all"),
                    ("Channel", "none"),
                    ("Uniqueid", "none"),
                    ("Variable", name),
                    ("Value", value),
                ],
            )

    def _booted(self) -> None:
        self.booted = True
        up = self.fully_booted()
        # After a restart Asterisk sends this one with Status first (trace g1).
        msg = Message.event(
            "FullyBooted",
            [
                ("Privilege", "system,all"),
                ("Status", "Fully Booted"),
                ("Uptime", up["Uptime"]),
                ("LastReload", up["LastReload"]),
            ],
        )
        for s in list(self.sessions):
            if s.authenticated:
                s.send(msg)

    def fully_booted(self) -> Message:
        """The FullyBooted event (Uptime since this run started)."""
        up = 0
        if self.pbx is not None:
            up = int(self.clock.seconds() - self.pbx.started)
        return Message.event(
            "FullyBooted",
            [
                ("Privilege", "system,all"),
                ("Uptime", str(up)),
                ("LastReload", str(up)),
                ("Status", "Fully Booted"),
            ],
        )

    def shutdown(self, *, restart: bool) -> None:
        """C{core restart now} / C{core stop now}: hang up all, Shutdown event, EOF."""
        pbx = self.pbx
        if pbx is None:
            return
        busy = any(not c.gone for c in pbx.channels.values())
        pbx.shutdown_hangup()

        def announce() -> None:
            msg = Message.event(
                "Shutdown",
                [
                    ("Privilege", "system,all"),
                    ("Shutdown", "Cleanly"),
                    ("Restart", "True" if restart else "False"),
                ],
            )
            for s in list(self.sessions):
                s.event(msg)
            self.clock.callLater(CLOSE_DELAY, self._go_down, restart)

        self.clock.callLater(SHUTDOWN_EVENT_DELAY if busy else 0.011, announce)

    def _go_down(self, restart: bool) -> None:
        if self.pbx is not None:
            self.pbx.stopped = True
        self.pbx = None
        self.accepting = False
        if self.on_down is not None:
            self.on_down()  # close the port first, so a reconnect after the EOF is refused
        for s in list(self.sessions):
            s.close()
        self.sessions.clear()
        if restart:
            self.clock.callLater(RESTART_GAP, self.start, booted=False)

    def kill(self) -> None:
        """Simulate C{kill -9}: EOF only, no events, unfinished recordings stay 44 bytes."""
        if self.pbx is not None:
            self.pbx.kill()
        self.pbx = None
        self.accepting = False
        for s in list(self.sessions):
            s.closing = True
            if s.transport is not None:
                cast(Any, s.transport).loseConnection()
        self.sessions.clear()
        if self.on_down is not None:
            self.on_down()

    # -- connections ----------------------------------------------------------------

    def ami_endpoint(self, port: int = 5038) -> IStreamClientEndpoint:
        """An in-memory C{IStreamClientEndpoint} (a L{LoopbackEndpoint}) to this AMI server."""
        endpoint = LoopbackEndpoint(
            self.clock, lambda: self.factory if self.accepting else None, port
        )
        return cast(IStreamClientEndpoint, endpoint)

    def _agi_connect(self, host: str, port: int) -> defer.Deferred[Any]:
        assert self.agi_endpoint is not None
        endpoint = self.agi_endpoint(host, port)
        d: defer.Deferred[Any] = connectProtocol(endpoint, AGIClientProtocol())  # type: ignore[no-untyped-call]
        return d

    # -- figures ----------------------------------------------------------------------

    def live_channels(self) -> int:
        """Channels up right now."""
        return 0 if self.pbx is None else sum(1 for c in self.pbx.channels.values() if not c.gone)


def listen_tcp(sim: SimulatedPBX, reactor: Any, port: int, interface: str) -> IListeningPort:
    """Listen for AMI on TCP; the port closes while the simulated Asterisk is down."""
    holder: dict[str, IListeningPort] = {}

    def up() -> None:
        if "port" not in holder:
            holder["port"] = reactor.listenTCP(port, sim.factory, interface=interface)

    def down() -> None:
        p = holder.pop("port", None)
        if p is not None:
            cast(Any, p).stopListening()

    sim.on_up, sim.on_down = up, down
    up()
    return holder["port"]
