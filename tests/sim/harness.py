"""Test helpers: an in-memory AMI client and a scripted FastAGI server for the simulator."""

from __future__ import annotations

import random
from pathlib import Path

from twisted.internet import protocol, task
from twisted.protocols.basic import LineOnlyReceiver

from dialer.ami.message import Framer, Message
from dialer.sim.loopback import LoopbackEndpoint
from dialer.sim.profile import Profile
from dialer.sim.server import SimulatedPBX

LAST_DIGIT = Profile(mode="last-digit")


class AMIRecorder(protocol.Protocol):
    """Collects every message the simulator sends; C{send} writes an action."""

    def __init__(self, clock=None, name="main"):
        self.framer = Framer(banner=True)
        self.messages: list[tuple[float, Message]] = []
        self.clock = clock
        self.name = name
        self.closed = False

    def dataReceived(self, data):
        for m in self.framer.feed(data):
            self.messages.append((self.clock.seconds() if self.clock else 0.0, m))

    def connectionLost(self, reason=None):
        self.closed = True

    def send(self, name, headers=(), action_id=None):
        self.transport.write(Message.action(name, headers, action_id=action_id).serialize())

    def send_raw(self, msg: Message):
        self.transport.write(msg.serialize())

    def events(self, name=None):
        return [m for _, m in self.messages if m.is_event and (name is None or m.name == name)]

    def responses(self):
        return [m for _, m in self.messages if m.is_response]

    def response(self, action_id):
        for _, m in self.messages:
            if m.is_response and m.action_id == action_id:
                return m
        return None


class ScriptedAGIServer(LineOnlyReceiver):
    """A FastAGI server that sends C{script} commands one by one, then closes after C{linger}."""

    delimiter = b"\n"

    def __init__(self, script, clock, linger=5.0):
        self.script = list(script)
        self.clock = clock
        self.linger = linger
        self.env: list[str] = []
        self.in_env = True
        self.log: list[tuple[float, str, str]] = []  # (time, direction, line)
        self.replies: list[str] = []
        self.closed = False

    def lineReceived(self, line):
        text = line.decode()
        self.log.append((self.clock.seconds(), "<<", text))
        if self.in_env:
            if text == "":
                self.in_env = False
                self._next()
            else:
                self.env.append(text)
            return
        if text == "HANGUP":
            return
        if text.startswith("520-"):
            self.in_usage = True
        if getattr(self, "in_usage", False):
            self.replies.append(text)
            if text.startswith("520 "):
                self.in_usage = False
                self._next()
            return
        self.replies.append(text)
        self._next()

    def _next(self):
        if self.script:
            cmd = self.script.pop(0)
            self.log.append((self.clock.seconds(), ">>", cmd))
            self.transport.write(cmd.encode() + b"\n")
        else:
            self.clock.callLater(self.linger, self.transport.loseConnection)

    def connectionLost(self, reason=None):
        self.closed = True


class AGIFactory(protocol.Factory):
    def __init__(self, script, clock, linger=5.0):
        self.script = script
        self.clock = clock
        self.linger = linger
        self.sessions: list[ScriptedAGIServer] = []

    def buildProtocol(self, addr):
        p = ScriptedAGIServer(self.script, self.clock, self.linger)
        self.sessions.append(p)
        return p


def make_sim(
    clock,
    *,
    profile=LAST_DIGIT,
    agi_factory=None,
    recordings: Path | None = None,
    seed=1,
    audio=None,
    dialplan=None,
):
    """A simulator on C{clock}; AGI goes to C{agi_factory} in memory (None: nothing listens)."""
    endpoint = None
    if agi_factory is not None:

        def endpoint(host, port):
            return LoopbackEndpoint(clock, agi_factory, port)

    return SimulatedPBX(
        clock=clock,
        rng=random.Random(seed),
        profile=profile,
        recordings=recordings,
        agi_endpoint=endpoint,
        audio=audio,
        dialplan=dialplan,
    )


def connect_client(sim, clock, name="main"):
    """Connect an L{AMIRecorder} in memory; returns it (banner already received after pump)."""
    rec = AMIRecorder(clock, name)

    class F(protocol.Factory):
        def buildProtocol(self, addr):
            return rec

    sim.ami_endpoint().connect(F())
    clock.advance(0)
    return rec


def login(rec, clock, action_id="login-1"):
    rec.send("Login", [("Username", "dialer"), ("Secret", "dialer")], action_id=action_id)
    clock.advance(0)


def run_for(clock, seconds, step=0.01):
    """Advance C{clock} by C{seconds} in small steps."""
    end = clock.seconds() + seconds
    while clock.seconds() < end - 1e-9:
        clock.advance(min(step, end - clock.seconds()))


def new_clock(start=1795594341.0):
    c = task.Clock()
    c.advance(start)
    return c


def originate_into_hold(rec, clock, seconds, step=0.05, number="13800000000"):
    """Originate one call to the simulated callee into C{hold}, then run the clock C{seconds}."""
    rec.send(
        "Originate",
        [
            ("Channel", f"Local/{number}@callee"),
            ("Context", "hold"),
            ("Exten", "s"),
            ("Priority", "1"),
            ("Async", "true"),
        ],
        action_id="o",
    )
    run_for(clock, seconds, step=step)
