# -*- test-case-name: tests.sim.test_pbx -*-
"""
The simulated PBX core: channels, Local-channel pairs, bridges, a dialplan interpreter and
the AMI events they produce, modelled on the reference Asterisk 22 traces.

Nothing here touches a socket. Time comes from the injected C{clock} (C{IReactorTime});
randomness from the injected C{rng}. AMI sessions subscribe with L{PBX.subscribe}; FastAGI
connections are made through the injected C{agi_connect} callable (see L{dialer.sim.agi}).
"""

from __future__ import annotations

import contextlib
import random
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from dialer.ami.message import Message
from dialer.sim.dialplan import Dialplan, Step, check_condition, expand, split_args
from dialer.sim.profile import Profile, Reaction, agent_steps, callee_steps
from dialer.sim.respondent import Respondent
from dialer.sim.wav import Recording

__all__ = [
    "CAUSE_TEXT",
    "PBX",
    "Bridge",
    "Channel",
    "Hungup",
    "OriginateRequest",
    "Plan",
    "Planner",
    "Subscriber",
]

CAUSE_TEXT = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    21: "Call Rejected",
    34: "Circuit/channel congestion",
    38: "Network out of order",
}
STATE_DESC = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up", 7: "Busy"}
DOWN, RING, RINGING, UP, BUSY = 0, 4, 5, 6, 7

#: Seconds a sound file plays in the simulator (unknown files: C{DEFAULT_SOUND_SECONDS}).
SOUND_SECONDS = {
    "demo-thanks": 5.5,
    "demo-congrats": 13.0,
    "tt-monkeys": 16.0,
    "hello-world": 1.4,
    "beep": 0.42,
    "silence/1": 1.0,
}
DEFAULT_SOUND_SECONDS = 3.0
MISSING_SOUNDS = frozenset({"no-such-sound-file"})
#: The AMI header names of a channel snapshot, in Asterisk's order.
SNAPSHOT_KEYS = (
    "Channel",
    "ChannelState",
    "ChannelStateDesc",
    "CallerIDNum",
    "CallerIDName",
    "ConnectedLineNum",
    "ConnectedLineName",
    "Language",
    "AccountCode",
    "Context",
    "Exten",
    "Priority",
    "Uniqueid",
    "Linkedid",
)


def sound_seconds(name: str) -> float | None:
    """How long C{name} plays, or None when the file does not exist."""
    name = name.strip()
    if name in MISSING_SOUNDS:
        return None
    if name.startswith("sim/speech-"):
        try:
            return float(name.rsplit("-", 1)[1])
        except ValueError:
            return DEFAULT_SOUND_SECONDS
    return SOUND_SECONDS.get(name, DEFAULT_SOUND_SECONDS)


class Hungup(Exception):
    """The channel was hung up while an application ran."""


class Redirected(Exception):
    """The channel was moved elsewhere (AMI Redirect) while an application ran."""


class Subscriber(Protocol):
    """
    Something that receives AMI events (an AMI session). It may also have a
    C{wants(privilege) -> bool} method (see L{PBX.wants}); without one it gets everything.
    """

    def event(self, message: Message) -> None:
        """Deliver one event."""


@dataclass
class OriginateRequest:
    """A parsed Originate action."""

    channel: str
    context: str | None = None
    exten: str | None = None
    priority: int = 1
    application: str | None = None
    data: str = ""
    timeout: float = 30.0
    caller_num: str = "<unknown>"
    caller_name: str = "<unknown>"
    variables: list[tuple[str, str]] = field(default_factory=list)
    action_id: str | None = None
    channel_id: str | None = None
    other_channel_id: str | None = None
    is_async: bool = True


@dataclass(frozen=True)
class Plan:
    """
    What a called party (C{callee}) or an interviewer (C{agents}) does: the dialplan its
    answering leg runs, the outcome name counted in L{PBX.outcomes}, and whether it is a
    person who takes the IVR survey (a "respondent"; see L{dialer.sim.respondent}).
    """

    steps: list[Step]
    outcome: str | None = None
    respondent: bool = False
    #: What Asterisk's AMD() on the dialing side hears: "machine", "human", or None
    #: (derived: an answering respondent is a human).
    amd: str | None = None
    #: Seconds from the start of AMD() to its verdict (None: the profile's C{amd_*_after}).
    amd_after: float | None = None


#: C{planner(channel) -> Plan | None}: decides the behaviour of each new C{callee}/C{agents}
#: leg (C{channel.context}, C{channel.exten} say which); None falls back to the profile.
Planner = Callable[["Channel"], Plan | None]


@dataclass
class Bridge:
    """A two-party basic bridge made by Dial."""

    uniqueid: str
    caller: Channel
    callee: Channel
    created: float

    def headers(self, num: int) -> list[tuple[str, str]]:
        """The bridge snapshot headers."""
        return [
            ("BridgeUniqueid", self.uniqueid),
            ("BridgeType", "basic"),
            ("BridgeTechnology", "simple_bridge"),
            ("BridgeCreator", "<unknown>"),
            ("BridgeName", "<unknown>"),
            ("BridgeNumChannels", str(num)),
            ("BridgeVideoSourceMode", "none"),
        ]


class Dialing:
    """One outgoing Local leg being dialed: by Originate (C{caller} None) or by Dial()."""

    def __init__(self, out: Channel, caller: Channel | None, dial_string: str) -> None:
        self.out = out
        self.caller = caller
        self.dial_string = dial_string
        self.done = False
        self.result: defer.Deferred[str] = defer.Deferred()
        self.timer: Any = None
        self.originate: OriginateRequest | None = None
        self.reply: Callable[[bool], None] | None = None


class Channel:
    """One simulated channel (a half of a Local pair)."""

    def __init__(
        self,
        pbx: PBX,
        name: str,
        uniqueid: str,
        linkedid: str,
        context: str,
        exten: str,
        state: int,
    ) -> None:
        self.pbx = pbx
        self.name = name
        self.uniqueid = uniqueid
        self.linkedid = linkedid
        self.context = context
        self.exten = exten
        self.priority = 1
        self.state = state
        self.cid_num = "<unknown>"
        self.cid_name = "<unknown>"
        self.conn_num = "<unknown>"
        self.conn_name = "<unknown>"
        self.vars: dict[str, str] = {}
        self.app = ""
        self.app_data = ""
        self.created = pbx.clock.seconds()
        self.answered_at: float | None = None
        self.bridge: Bridge | None = None
        self.bridged_seconds = 0.0
        self.bridged_since: float | None = None
        self.peer: Channel | None = None  # the other half of the Local pair
        self.is_one = name.endswith(";1")
        self.cause: int | None = None
        self.soft_hangup = False
        self.gone = False
        self.disposition: str | None = None
        self.dialing: Dialing | None = None  # set on ;1 while it is being dialed
        self.steps: list[Step] | None = None  # inline dialplan (callee / agent)
        self.steps_context = ""
        self.respondent = False
        self.amd: str | None = None  # on a callee leg: "machine" / "human" (what AMD() hears)
        self.amd_after: float | None = None  # seconds from AMD() to its verdict
        self.person: Respondent | None = None  # the respondent's state (lazily made)
        self.recordings: list[Recording] = []
        self.agi: Any = None
        self.redirect_to: tuple[str, str, int] | None = None
        self.hangup_handlers: list[str] = []  # CHANNEL(hangup_handler_push), oldest first
        self.dial_peer_name = ""
        self._waiter: defer.Deferred[str | None] | None = None
        self._wait_call: Any = None
        self._wait_digits: str | None = None
        self._wait_media = False
        self._wait_bridge = False
        self.media_pending = False
        self.requested = False  # hung up from outside (peer, bridge, AMI, shutdown)
        self.no_cdr = False  # Dial()'s outgoing leg: its CDR is the caller's
        self.dropping = False  # already being dropped by its dialer (busy/congestion)
        self.hidden = False  # the far end of a simulated PJSIP call: no events, not listed
        self.done: defer.Deferred[None] = defer.Deferred()

    # -- snapshot -------------------------------------------------------------------

    def snapshot(self, prefix: str = "") -> list[tuple[str, str]]:
        """The channel snapshot headers (C{prefix} e.g. C{"Dest"}, C{"LocalOne"})."""
        values = (
            self.name,
            str(self.state),
            STATE_DESC.get(self.state, "Unknown"),
            self.cid_num,
            self.cid_name,
            self.conn_num,
            self.conn_name,
            "en",
            "",
            self.context,
            self.exten,
            str(self.priority),
            self.uniqueid,
            self.linkedid,
        )
        return [(prefix + k, v) for k, v in zip(SNAPSHOT_KEYS, values, strict=True)]

    @property
    def tech(self) -> str:
        """The channel technology (always C{Local} here)."""
        return self.name.split("/", 1)[0]

    def variables(self) -> dict[str, str]:
        """Variables visible to expansions (globals, channel, and the built-ins).

        Functions read by their full text: C{CALLERID(num|name)}, C{CHANNEL(state)},
        C{CDR(answer,u)} and C{DB(family/key)} (the AstDB, looked up when read).
        """
        values = _Values(self.pbx.database)
        values.update(self.pbx.globals)
        values.update(self.vars)
        values.update(
            EXTEN=self.exten,
            CONTEXT=self.context,
            UNIQUEID=self.uniqueid,
            CHANNEL=self.name,
            HANGUPCAUSE=str(self.cause or 0),
            EPOCH=str(int(self.pbx.clock.seconds())),
        )
        values["CALLERID(num)"] = "" if self.cid_num == "<unknown>" else self.cid_num
        values["CALLERID(name)"] = "" if self.cid_name == "<unknown>" else self.cid_name
        values["CHANNEL(state)"] = STATE_DESC.get(self.state, "Unknown")
        values["CDR(answer,u)"] = f"{self.answered_at or 0.0:.6f}"
        return values

    # -- waiting --------------------------------------------------------------------

    def wait(
        self,
        seconds: float | None,
        *,
        digits: str | None = None,
        media: bool = False,
        bridge: bool = False,
    ) -> defer.Deferred[str | None]:
        """
        Sleep C{seconds} (None: forever). Fires None on timeout, a digit when one of
        C{digits} ("" = any) arrives, None early when C{media} and the peer plays audio;
        fails with L{Hungup}/L{Redirected} when the channel is hung up or redirected.
        """
        if self.soft_hangup:
            return defer.fail(Hungup())
        if self.redirect_to is not None:
            return defer.fail(Redirected())
        d: defer.Deferred[str | None] = defer.Deferred()
        self._waiter = d
        self._wait_digits = digits
        self._wait_media = media
        self._wait_bridge = bridge
        if seconds is not None:
            self._wait_call = self.pbx.clock.callLater(max(seconds, 0.0), self._wake, None)
        return d

    def _take_waiter(self) -> defer.Deferred[str | None] | None:
        d, self._waiter = self._waiter, None
        if self._wait_call is not None and self._wait_call.active():
            self._wait_call.cancel()
        self._wait_call = None
        return d

    def _wake(self, value: str | None) -> None:
        d = self._take_waiter()
        if d is not None:
            d.callback(value)

    def _interrupt(self, exc: Exception) -> None:
        d = self._take_waiter()
        if d is not None:
            d.errback(exc)

    def digit(self, digit: str) -> None:
        """A DTMF digit arrived on this channel."""
        wanted = self._wait_digits
        if self._waiter is not None and wanted is not None and (wanted == "" or digit in wanted):
            self._wake(digit)

    def bridge_ended(self) -> None:
        """The other party left the bridge this channel's Dial() made."""
        if self._waiter is not None and self._wait_bridge:
            self._wake(None)

    def media_started(self) -> None:
        """The other side started sending audio (ends an Answer()'s media wait)."""
        if self._waiter is not None and self._wait_media:
            self._wake(None)
        else:
            self.media_pending = True

    def request_hangup(self, cause: int | None) -> None:
        """Ask the channel to hang up; the running application ends with L{Hungup}."""
        if self.gone:
            return
        if self.cause is None and cause is not None:
            self.cause = cause
        self.soft_hangup = True
        self.requested = True
        self._interrupt(Hungup())
        if self.agi is not None:
            self.agi.channel_hungup()

    def redirect(self, context: str, exten: str, priority: int) -> None:
        """Move the channel to C{context,exten,priority} (AMI Redirect)."""
        self.redirect_to = (context, exten, priority)
        if self.agi is not None:
            # Asterisk's async goto looks like a hang-up to the AGI script (HANGUP notice,
            # media commands fail); the channel moves on once the server closes the socket.
            self._interrupt(Hungup())
            self.agi.channel_hungup()
            return
        self._interrupt(Redirected())


class _Values(dict[str, str]):
    """Channel variables, plus C{DB(family/key)} read from the AstDB when asked for."""

    def __init__(self, database: Mapping[tuple[str, str], str]) -> None:
        super().__init__()
        self._database = database

    def __missing__(self, name: str) -> str:
        if name.startswith("DB(") and name.endswith(")"):
            family, _, key = name[3:-1].partition("/")
            return self._database.get((family.strip(), key.strip()), "")
        raise KeyError(name)


def _now_text(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch))


class PBX:
    """
    The simulated Asterisk: state plus behaviour. One instance per "Asterisk run"; a
    restart builds a new one (counters start again from 0, as in trace g1).
    """

    log = Logger()

    def __init__(
        self,
        *,
        clock: IReactorTime,
        rng: random.Random,
        profile: Profile,
        dialplan: Dialplan,
        recordings: Path | None,
        agi_connect: Callable[[str, int], defer.Deferred[Any]] | None = None,
        audio: list[Path] | None = None,
        planner: Planner | None = None,
        prompt_keys: Mapping[str, str] | None = None,
        database: dict[tuple[str, str], str] | None = None,
    ) -> None:
        # zope interfaces are not understood by mypy here; keep the injected clock as Any.
        self.clock: Any = clock
        self.rng = rng
        self.profile = profile
        self.dialplan = dialplan
        self.recordings = recordings
        self.agi_connect = agi_connect
        self.audio = audio or []
        self.planner = planner
        #: What simulated respondents understand the prompts to ask for (L{Respondent}).
        self.prompt_keys = prompt_keys or {}
        self.globals: dict[str, str] = dict(dialplan.globals)
        if recordings is not None:
            self.globals["MONITOR_DIR"] = str(recordings)
        self.started = float(cast(Any, clock).seconds())
        self._epoch = int(self.started)
        self._seq = 0
        self._local_counter = 0
        self._sip_counter = 0
        self.channels: dict[str, Channel] = {}
        self.bridges: dict[str, Bridge] = {}
        self.subscribers: list[Subscriber] = []
        self.processed_calls = 0
        #: The AstDB: (family, key) -> value. Owned by the L{SimulatedPBX}, so it outlives
        #: a restart as Asterisk's (an SQLite file) does.
        self.database: dict[tuple[str, str], str] = {} if database is None else database
        self.stopped = False
        self.outcomes: dict[str, int] = {}

    # -- plumbing -------------------------------------------------------------------

    def subscribe(self, subscriber: Subscriber) -> None:
        """Receive every event from now on."""
        self.subscribers.append(subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Stop receiving events."""
        if subscriber in self.subscribers:
            self.subscribers.remove(subscriber)

    def emit(self, name: str, headers: list[tuple[str, str]]) -> None:
        """Send an event to every subscriber."""
        if self.stopped:
            return
        msg = Message.event(name, headers)
        for s in list(self.subscribers):
            s.event(msg)

    def wants(self, privilege: str) -> bool:
        """
        True when some subscriber would send an event of C{privilege} (e.g. C{"dialplan,all"}):
        one without a C{wants} method takes everything; an AMI session says by its event mask.
        Events nobody reads are not built (most of a busy PBX's VarSet/Newexten/Cdr when the
        client logged in without those classes).
        """
        for s in self.subscribers:
            wants = getattr(s, "wants", None)
            if wants is None or wants(privilege):
                return True
        return False

    def chan_event(
        self, name: str, chan: Channel, extra: list[tuple[str, str]] | None = None
    ) -> None:
        """An event about one channel: privilege, snapshot, then C{extra}."""
        if chan.hidden:
            return
        priv = _PRIVILEGE.get(name, "call,all")
        if not self.wants(priv):
            return
        self.emit(name, [("Privilege", priv), *chan.snapshot(), *(extra or [])])

    def bridge_event(self, name: str, chan: Channel, bridge: Bridge, num: int) -> None:
        """BridgeEnter/BridgeLeave: bridge snapshot first, then the channel's."""
        if chan.hidden:
            return
        self.emit(name, [("Privilege", "call,all"), *bridge.headers(num), *chan.snapshot()])

    def next_uniqueid(self) -> str:
        """C{<epoch at start>.<sequence>}, as Asterisk numbers channels."""
        uid = f"{self._epoch}.{self._seq}"
        self._seq += 1
        return uid

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        d = defer.Deferred.fromCoroutine(coro)
        d.addErrback(lambda f: self.log.failure("simulated channel crashed", f))

    def find(self, name: str) -> Channel | None:
        """A live channel by name."""
        chan = self.channels.get(name)
        return chan if chan is not None and not chan.gone else None

    def set_var(self, chan: Channel, name: str, value: str) -> None:
        """Set a channel variable (a VarSet event)."""
        chan.vars[name] = value
        self.chan_event("VarSet", chan, [("Variable", name), ("Value", value)])

    def assign(self, chan: Channel, name: str, value: str) -> None:
        """C{Set(name=value)}: a function write for C{NAME(...)}, else a variable."""
        name = name.strip()
        if name.endswith(")") and "(" in name:
            self.write_function(chan, name, value)
        else:
            self.set_var(chan, name, value)

    def write_function(self, chan: Channel, name: str, value: str) -> None:
        """
        Write a dialplan function (no VarSet, as Asterisk): C{DB(family/key)} puts an AstDB
        entry, C{CHANNEL(hangup_handler_push)} adds a hangup handler
        (C{[[context,]exten,]priority}) that runs when the channel hangs up. Other
        functions are kept as variables of that name.
        """
        func, _, arg = name[:-1].partition("(")
        func, arg = func.strip().upper(), arg.strip()
        if func == "DB":
            family, _, key = arg.partition("/")
            if family.strip() and key.strip():
                self.database[(family.strip(), key.strip())] = value
            else:
                self.log.warn("simulated PBX: DB() needs family/key, got {arg}", arg=arg)  # noqa: G010
            return
        if func == "CHANNEL" and arg.lower() == "hangup_handler_push":
            chan.hangup_handlers.append(value)
            self.chan_event("HangupHandlerPush", chan, [("Handler", value)])
            return
        self.set_var(chan, name, value)

    def _handler_location(self, chan: Channel, handler: str) -> tuple[str, str, int] | None:
        parts = [p.strip() for p in split_args(handler.split("(", 1)[0])]
        try:
            if len(parts) == 3:
                return parts[0], parts[1], int(parts[2])
            if len(parts) == 2:
                return chan.context, parts[0], int(parts[1])
            return chan.context, chan.exten, int(parts[0])
        except ValueError:
            return None

    def run_hangup_handlers(self, chan: Channel) -> None:
        """
        Run C{chan}'s hangup handlers (most recently pushed first), as Asterisk does in
        C{ast_hangup()} before the Hangup event: each is a Gosub ending in C{Return()}.
        Only applications that finish at once are simulated here (Set, NoOp, ...);
        one that would wait ends its handler, like any application on a hung-up channel.
        """
        handlers, chan.hangup_handlers = chan.hangup_handlers, []
        saved = (chan.context, chan.exten, chan.priority, chan.app, chan.app_data)
        for handler in reversed(handlers):
            self.chan_event("HangupHandlerRun", chan, [("Handler", handler)])
            where = self._handler_location(chan, handler)
            if where is None:
                self.log.warn("simulated PBX: bad hangup handler {handler}", handler=handler)  # noqa: G010
                continue
            context, exten, priority = where
            for _ in range(100):  # a handler is short; no endless loop on a bad dialplan
                step = self.dialplan.step(context, exten, priority)
                if step is None or step.app.lower() == "return":
                    break
                data = self._enter(chan, context, exten, priority, step)
                d = defer.Deferred.fromCoroutine(self._app(chan, step.app, data))
                outcome: list[object] = []
                d.addBoth(outcome.append)
                if not outcome or isinstance(outcome[0], Exception | Failure):
                    if not outcome:
                        d.cancel()
                        d.addErrback(lambda _: None)
                    break
                goto = outcome[0]
                if isinstance(goto, tuple):
                    context, exten, priority = goto
                else:
                    priority += 1
        chan.context, chan.exten, chan.priority, chan.app, chan.app_data = saved

    def _bridge_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    # -- Local channels ---------------------------------------------------------------

    def _local_pair(
        self,
        exten: str,
        context: str,
        linkedid: str | None,
        uid1: str | None = None,
        uid2: str | None = None,
    ) -> tuple[Channel, Channel]:
        base = f"Local/{exten}@{context}-{self._local_counter:08x}"
        self._local_counter += 1
        u1 = uid1 or self.next_uniqueid()
        u2 = uid2 or (f"{uid1}-2" if uid1 else self.next_uniqueid())
        link = linkedid or u1
        one = Channel(self, base + ";1", u1, link, context, exten, DOWN)
        two = Channel(self, base + ";2", u2, link, context, exten, RING)
        one.peer, two.peer = two, one
        self.channels[one.name] = one
        self.channels[two.name] = two
        self.chan_event("Newchannel", one)
        self.chan_event("Newchannel", two)
        return one, two

    def _far_pair(
        self,
        tech: str,
        endpoint: str,
        exten: str,
        far_context: str,
        linkedid: str | None,
        uid: str | None = None,
    ) -> tuple[Channel, Channel]:
        """
        A simulated SIP call: the visible outgoing channel (C{PJSIP/trunk-00000001}) and a
        hidden far end (the called person or interviewer) that runs the callee/agent plan.
        """
        name = f"{tech}/{endpoint}-{self._sip_counter:08x}"
        self._sip_counter += 1
        u1 = uid or self.next_uniqueid()
        one = Channel(self, name, u1, linkedid or u1, "default", exten, DOWN)
        one.is_one = True
        two = Channel(
            self, f"far/{exten}@{far_context}", f"{u1}-far", one.linkedid, far_context, exten, RING
        )
        two.hidden = True
        two.is_one = False
        one.peer, two.peer = two, one
        self.channels[one.name] = one
        self.chan_event("Newchannel", one)
        return one, two

    def _new_leg(
        self,
        target: str,
        linkedid: str | None,
        uid: str | None = None,
        other_uid: str | None = None,
    ) -> tuple[Channel, Channel, str, bool] | None:
        """
        Channels for a dial string: C{Local/exten@context} (a Local pair) or
        C{PJSIP/number@endpoint} / C{PJSIP/agentN} (simulated SIP). Returns
        (outgoing leg, answering leg, dial string as DialBegin shows it, is_local), or None
        for a technology the simulator does not have.
        """
        tech, _, rest = target.partition("/")
        if tech == "Local" and "@" in rest:
            exten, _, context = rest.partition("@")
            context = context.split("/", 1)[0]
            one, two = self._local_pair(exten, context, linkedid, uid, other_uid)
            return one, two, rest, True
        if tech in ("PJSIP", "SIP") and rest:
            number, at, endpoint = rest.partition("@")
            if not at:
                endpoint = number
            far = "agents" if not at and number.startswith("agent") else "callee"
            one, two = self._far_pair(tech, endpoint, number, far, linkedid, uid)
            return one, two, rest, False
        return None

    def _local_bridge_event(self, one: Channel, two: Channel) -> None:
        self.emit(
            "LocalBridge",
            [
                ("Privilege", "call,all"),
                *one.snapshot("LocalOne"),
                *two.snapshot("LocalTwo"),
                ("Context", two.context),
                ("Exten", two.exten),
                ("LocalOptimization", "Yes"),
            ],
        )

    def _dial_event(self, name: str, dialing: Dialing, extra: list[tuple[str, str]]) -> None:
        headers: list[tuple[str, str]] = [("Privilege", "call,all")]
        if dialing.caller is not None:
            headers += dialing.caller.snapshot()
        headers += dialing.out.snapshot("Dest")
        self.emit(name, headers + extra)

    def _set_state(self, chan: Channel, state: int) -> None:
        if chan.state != state:
            chan.state = state
            self.chan_event("Newstate", chan)

    # -- Originate ------------------------------------------------------------------

    def originate_check(self, req: OriginateRequest) -> str | None:
        """A synchronous error message for C{req}, or None when it can be queued."""
        if not req.channel:
            return "Channel not specified"
        if req.application is None:
            ctx = req.context or "default"
            if self.dialplan.step(ctx, req.exten or "s", req.priority) is None:
                return "Extension does not exist."
        return None

    def originate(self, req: OriginateRequest, reply: Callable[[bool], None] | None) -> None:
        """
        Start an originate (after L{originate_check} passed). C{reply(ok)} is called once the
        outcome is known (for a synchronous Originate); the OriginateResponse event is sent
        when C{req.action_id} is async (the caller decides by passing C{reply=None}).
        """
        leg = self._new_leg(req.channel, req.channel_id, req.channel_id, req.other_channel_id)
        if leg is None:
            self._originate_response(req, None, 0)
            if reply is not None:
                reply(False)
            return
        one, two, rest, local = leg
        context = two.context
        if not self.dialplan.has_context(context) and context not in _SIMULATED_CONTEXTS:
            self.chan_event("Newexten", one, _app_headers(one, "AppDial2", "(Outgoing Line)"))
            self._cdr(two, "FAILED")
            self._hangup_event(two, 0)
            self._originate_response(req, None, 0)
            self._hangup_event(one, 0)
            self._cdr(one, "FAILED")
            if reply is not None:
                reply(False)
            return
        self.chan_event("Newexten", one, _app_headers(one, "AppDial2", "(Outgoing Line)"))
        one.app, one.app_data = "AppDial2", "(Outgoing Line)"
        for name, value in reversed(req.variables):
            self.assign(one, name, value)
        one.cid_num, one.cid_name = req.caller_num, req.caller_name
        one.conn_num, one.conn_name = req.caller_num, req.caller_name
        self.chan_event("NewCallerid", one, [("CID-CallingPres", _PRES)])
        self.chan_event("NewConnectedLine", one)
        for name, value in req.variables:
            if "(" not in name:  # Local copies variables to ;2, not function writes
                self.set_var(two, name, value)
        two.cid_num, two.cid_name = req.caller_num, req.caller_name
        two.conn_num, two.conn_name = req.caller_num, req.caller_name
        self.chan_event("NewCallerid", two, [("CID-CallingPres", _PRES)])
        self.chan_event("NewConnectedLine", two)
        if local:
            self._local_bridge_event(one, two)
        dialing = Dialing(one, None, rest)
        dialing.originate = req
        dialing.reply = reply
        one.dialing = dialing
        self._dial_event("DialBegin", dialing, [("DialString", rest)])
        dialing.timer = self.clock.callLater(req.timeout, self._dial_timeout, dialing)
        self._start_callee(two)
        self.processed_calls += 1

    def _start_callee(self, two: Channel) -> None:
        plan = self.planner(two) if self.planner is not None else None
        if plan is not None:
            two.steps, two.steps_context = list(plan.steps), two.context
            two.respondent = plan.respondent
            two.amd = plan.amd or ("human" if plan.respondent else None)
            two.amd_after = plan.amd_after
            if plan.outcome is not None:
                self.outcomes[plan.outcome] = self.outcomes.get(plan.outcome, 0) + 1
        elif two.context == "callee" and self.profile.mode == "profile":
            outcome, steps = callee_steps(self.profile, two.exten, self.rng)
            two.steps, two.steps_context = steps, two.context
            two.respondent = outcome == "answer"
            two.amd = {"answer": "human", "machine": "machine"}.get(outcome)
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        elif two.context == "agents":
            two.steps, two.steps_context = agent_steps(self.profile, two.exten, self.rng), "agents"
        self._spawn(self.run(two, two.context, two.exten, 1))

    def _originate_response(self, req: OriginateRequest, chan: Channel | None, reason: int) -> None:
        if not req.is_async:
            return
        headers: list[tuple[str, str]] = [("Privilege", "call,all")]
        if req.action_id is not None:
            headers.append(("ActionID", req.action_id))
        ok = reason == 4 and chan is not None
        headers += [
            ("Response", "Success" if ok else "Failure"),
            ("Channel", chan.name if ok and chan else req.channel),
            ("Context", req.context or ""),
            ("Exten", req.exten or ""),
            ("Reason", str(reason)),
            ("Uniqueid", chan.uniqueid if ok and chan else (req.channel_id or "<unknown>")),
            ("CallerIDNum", req.caller_num),
            ("CallerIDName", req.caller_name),
        ]
        self.emit("OriginateResponse", headers)

    def _finish_dialing(self, dialing: Dialing, status: str) -> None:
        dialing.done = True
        dialing.out.dialing = None
        if dialing.timer is not None and dialing.timer.active():
            dialing.timer.cancel()
        if not dialing.result.called:
            dialing.result.callback(status)

    def _dial_timeout(self, dialing: Dialing) -> None:
        if dialing.done:
            return
        one, two = dialing.out, dialing.out.peer
        assert two is not None
        dialing.done = True
        one.dialing = None
        self.chan_event("HangupRequest", two, [("Cause", "19")])
        if dialing.originate is not None:
            self._originate_response(dialing.originate, None, 3)
            if dialing.reply is not None:
                dialing.reply(False)
        else:
            self._dial_event("DialEnd", dialing, [("DialStatus", "NOANSWER")])
        one.disposition = two.disposition = "NO ANSWER"
        self._hangup_event(one, 19)
        self._cdr(one)
        one.gone = True
        self.channels.pop(one.name, None)
        two.request_hangup(19)
        if not dialing.result.called:
            dialing.result.callback("NOANSWER")

    def _callee_signal(self, two: Channel, signal: str) -> None:
        """The ;2 leg signalled ringing / answer / busy / congestion to the dialing ;1."""
        one = two.peer
        if one is None or one.dialing is None or one.dialing.done:
            return
        dialing = one.dialing
        if signal == "ringing":
            self._set_state(one, RINGING)
            self._dial_event("DialState", dialing, [("DialStatus", "RINGING")])
            return
        if signal == "answer":
            self._set_state(two, UP)
            self._set_state(one, UP)
            now = self.clock.seconds()
            one.answered_at = two.answered_at = now
            if dialing.caller is not None:
                caller = dialing.caller
                self.set_var(caller, "DIALSTATUS", "ANSWER")
                self.set_var(caller, "DIALEDPEERNAME", one.name)
                self.set_var(caller, "DIALEDPEERNUMBER", dialing.dial_string)
            self._dial_event("DialEnd", dialing, [("DialStatus", "ANSWER")])
            self._finish_dialing(dialing, "ANSWER")
            req = dialing.originate
            if req is not None:
                if req.application is not None:
                    one.context, one.exten, one.priority = "", "", 1
                    start = None
                else:
                    start = (req.context or "default", req.exten or "s", req.priority)
                    one.context, one.exten, one.priority = start
                self._originate_response(req, one, 4)
                if dialing.reply is not None:
                    dialing.reply(True)
                if start is not None:
                    self._spawn(self.run(one, *start))
                else:
                    self._spawn(self._run_application(one, req.application or "", req.data))
            return
        status, reason, cause = {
            "busy": ("BUSY", 5, 17),
            "congestion": ("CONGESTION", 8, 34),
        }[signal]
        self._set_state(two, BUSY)
        self._dial_event("DialEnd", dialing, [("DialStatus", status)])
        two.cause = cause
        disposition = "BUSY" if signal == "busy" else "FAILED"
        one.disposition = two.disposition = disposition
        self.chan_event("HangupRequest", two, [("Cause", "0")])
        req = dialing.originate
        self._finish_dialing(dialing, status)
        if req is not None:
            self._originate_response(req, None, reason)
            if dialing.reply is not None:
                dialing.reply(False)
        # The dialing side drops its ;1: the ;2 leg ends with its own cause, then ;1 with 0.
        # A SIP channel itself carries the far end's cause.
        one.cause = cause if two.hidden else 0
        one.dropping = True
        two.request_hangup(cause)

    # -- the dialplan interpreter -------------------------------------------------------

    def _step(self, chan: Channel, context: str, exten: str, priority: int) -> Step | None:
        if chan.steps is not None and context == chan.steps_context:
            if 1 <= priority <= len(chan.steps):
                return chan.steps[priority - 1]
            return None
        return self.dialplan.step(context, exten, priority)

    def _enter(self, chan: Channel, context: str, exten: str, priority: int, step: Step) -> str:
        """Put C{chan} on C{step} (as Asterisk does, with a Newexten event); return its expanded data."""
        chan.context, chan.exten, chan.priority = context, exten, priority
        data = expand(step.data, chan.variables())
        chan.app, chan.app_data = step.app, data
        self.chan_event(
            "Newexten",
            chan,
            [("Extension", exten), ("Application", step.app), ("AppData", data)],
        )
        return data

    async def run(self, chan: Channel, context: str, exten: str, priority: int) -> None:
        """Run the dialplan on C{chan} from C{context,exten,priority} until it ends."""
        try:
            while True:
                if chan.redirect_to is not None:
                    context, exten, priority = chan.redirect_to
                    chan.redirect_to = None
                if chan.soft_hangup:
                    break
                step = self._step(chan, context, exten, priority)
                if step is None:
                    chan.cause = chan.cause if chan.cause is not None else 16
                    break
                data = self._enter(chan, context, exten, priority, step)
                try:
                    goto = await self._app(chan, step.app, data)
                except Redirected:
                    continue
                if goto is not None:
                    context, exten, priority = goto
                else:
                    priority += 1
        except Hungup:
            pass
        self._finish(chan)

    async def _run_application(self, chan: Channel, app: str, data: str) -> None:
        chan.app, chan.app_data = app, data
        with contextlib.suppress(Hungup, Redirected):
            await self._app(chan, app, data)
        if chan.cause is None:
            chan.cause = 16
        self._finish(chan)

    async def _app(self, chan: Channel, app: str, data: str) -> tuple[str, str, int] | None:
        handler = _APPS.get(app.lower())
        if handler is None:
            self.log.warn("simulated PBX: application {app} not simulated; skipped", app=app)  # noqa: G010
            return None
        result: tuple[str, str, int] | None = await handler(self, chan, data)
        return result

    # -- ending channels ----------------------------------------------------------------

    def _hangup_event(self, chan: Channel, cause: int) -> None:
        if chan.hangup_handlers:
            chan.cause = cause  # HANGUPCAUSE as the Hangup event will say
            self.run_hangup_handlers(chan)
        self.chan_event(
            "Hangup", chan, [("Cause", str(cause)), ("Cause-txt", CAUSE_TEXT.get(cause, "Unknown"))]
        )

    def _cdr(self, chan: Channel, disposition: str | None = None) -> None:
        if chan.no_cdr or chan.hidden or not self.wants("cdr,all"):
            return
        now = self.clock.seconds()
        disp = (
            disposition
            or chan.disposition
            or ("ANSWERED" if chan.answered_at is not None else "NO ANSWER")
        )
        caller = f'"{chan.cid_name}" <{chan.cid_num}>' if chan.cid_num != "<unknown>" else ""
        billable = int(now - chan.answered_at) if chan.answered_at is not None else 0
        self.emit(
            "Cdr",
            [
                ("Privilege", "cdr,all"),
                ("AccountCode", ""),
                ("Source", "" if chan.cid_num == "<unknown>" else chan.cid_num),
                ("Destination", chan.exten),
                ("DestinationContext", chan.context),
                ("CallerID", caller),
                ("Channel", chan.name),
                ("DestinationChannel", chan.dial_peer_name),
                ("LastApplication", chan.app),
                ("LastData", chan.app_data),
                ("StartTime", _now_text(chan.created)),
                ("AnswerTime", _now_text(chan.answered_at) if chan.answered_at else ""),
                ("EndTime", _now_text(now)),
                ("Duration", str(int(now - chan.created))),
                ("BillableSeconds", str(billable)),
                ("Disposition", disp),
                ("AMAFlags", "DOCUMENTATION"),
                ("UniqueID", chan.uniqueid),
                ("UserField", ""),
            ],
        )

    def _finish(self, chan: Channel) -> None:
        """The channel's dialplan ended: leave bridges, notify the Local peer, Hangup."""
        if chan.gone:
            return
        chan.gone = True
        cause = chan.cause if chan.cause is not None else 0
        dialing = chan.dialing
        peer = chan.peer
        if dialing is not None and not dialing.done:
            # A ;1 being dialed is hung up (Hangup action, shutdown, Dial() caller gone).
            self._dial_event("DialEnd", dialing, [("DialStatus", "CANCEL")])
            req = dialing.originate
            self._finish_dialing(dialing, "CANCEL")
            if req is not None:
                self._originate_response(req, None, 0)
                if dialing.reply is not None:
                    dialing.reply(False)
        if peer is not None and not peer.gone and peer.dialing is not None:
            # ;2 ended before answering: the dial fails with NOANSWER (b1x, b6, b7).
            pd = peer.dialing
            self.chan_event("HangupRequest", peer, [("Cause", str(cause))])
            self._cdr(chan)
            self._hangup_event(chan, cause)
            self._dial_event("DialEnd", pd, [("DialStatus", "NOANSWER")])
            req = pd.originate
            self._finish_dialing(pd, "NOANSWER")
            if req is not None:
                self._originate_response(req, None, 0)
                if pd.reply is not None:
                    pd.reply(False)
            peer.cause = cause
            peer.gone = True
            self._hangup_event(peer, cause)
            self._cdr(peer)
            self.channels.pop(peer.name, None)
            self.channels.pop(chan.name, None)
            self._stop_recordings(peer)
            self._stop_recordings(chan)
            chan.done.callback(None)
            peer.done.callback(None)
            return
        if chan.bridge is not None:
            self._leave_bridge(chan, cause)
        if chan.requested:
            self.chan_event("SoftHangupRequest", chan, [("Cause", "16")])
        if peer is not None and not peer.gone and not peer.dropping:
            self.chan_event("HangupRequest", peer, [("Cause", str(cause))])
        self._cdr(chan)
        self._hangup_event(chan, cause)
        self.channels.pop(chan.name, None)
        self._stop_recordings(chan)
        if peer is not None and not peer.gone:
            if peer.is_one and (peer.agi is None) and peer.app in ("AppDial", "AppDial2"):
                # An outgoing ;1 has no dialplan of its own: it ends right away.
                peer.cause = cause if peer.cause is None else peer.cause
                self.clock.callLater(0, self._end_now, peer)
            else:
                peer.request_hangup(cause)
        chan.done.callback(None)

    def _end_now(self, chan: Channel) -> None:
        chan.soft_hangup = True
        self._finish(chan)

    def _leave_bridge(self, chan: Channel, cause: int) -> None:
        bridge = chan.bridge
        assert bridge is not None
        other = bridge.callee if chan is bridge.caller else bridge.caller
        now = self.clock.seconds()
        for c in (chan, other):
            if c.bridged_since is not None:
                c.bridged_seconds += now - c.bridged_since
                c.bridged_since = None
        self.bridge_event("BridgeLeave", chan, bridge, 1)
        self.set_var(chan, "BRIDGEPEER", "")
        self.bridge_event("BridgeLeave", other, bridge, 0)
        self.set_var(other, "BRIDGEPEER", "")
        self.emit("BridgeDestroy", [("Privilege", "call,all"), *bridge.headers(0)])
        self.bridges.pop(bridge.uniqueid, None)
        chan.bridge = other.bridge = None
        if other is bridge.callee:
            # The Dial() caller left: its outgoing leg is hung up with the same cause.
            other.cause = cause if other.cause is None else other.cause
            self.clock.callLater(0, self._end_now, other)
        else:
            # The dialed party left: the caller's Dial() returns.
            other.bridge_ended()

    def _stop_recordings(self, chan: Channel) -> None:
        for rec in chan.recordings:
            seconds = chan.bridged_seconds or (self.clock.seconds() - rec.started)
            rec.finish(seconds, speech=chan.respondent or _peer_respondent(chan))
        chan.recordings = []

    # -- actions used by AMI -------------------------------------------------------------

    def hangup_channel(self, chan: Channel, cause: int | None) -> None:
        """The AMI Hangup action on C{chan}."""
        if cause is None:
            cause = 16 if chan.bridge is not None else 0
        chan.requested = True
        if chan.dialing is not None or (chan.is_one and chan.app in ("AppDial", "AppDial2")):
            chan.cause = cause
            chan.soft_hangup = True
            self._finish(chan)
            return
        chan.request_hangup(cause)

    def shutdown_hangup(self) -> None:
        """Hang up every channel (core stop/restart now): SoftHangupRequest Cause=4."""
        for chan in list(self.channels.values()):
            if not chan.gone:
                self.chan_event("SoftHangupRequest", chan, [("Cause", "4")])
        for chan in self.channels.values():
            # Bridged legs end with 16, legs sitting in an application with 0; the
            # interviewer's ;2 inherits from its ;1 (trace g1).
            if chan.cause is None and not (chan.context == "agents" and not chan.is_one):
                chan.cause = 16 if chan.bridge is not None else 0
        for chan in list(self.channels.values()):
            if not chan.gone:
                if chan.dialing is not None or chan.app in ("AppDial", "AppDial2"):
                    chan.soft_hangup = True
                    self._finish(chan)
                else:
                    chan.request_hangup(16 if chan.bridge is not None else 0)

    def kill(self) -> None:
        """Vanish (kill -9): no events, recordings left unfinished."""
        self.stopped = True
        for chan in list(self.channels.values()):
            chan.gone = True
            chan._take_waiter()
            for rec in chan.recordings:
                rec.abandon()
        self.channels.clear()

    def send_dtmf(self, source: Channel, digit: str) -> defer.Deferred[None]:
        """C{source} sends C{digit}: the Local peer sees DTMFBegin/End (Received)."""
        target = source.peer

        def begin() -> None:
            if target is not None and not target.gone:
                self.chan_event("DTMFBegin", target, [("Digit", digit), ("Direction", "Received")])

        def end() -> None:
            if target is not None and not target.gone:
                self.chan_event(
                    "DTMFEnd",
                    target,
                    [("Digit", digit), ("DurationMs", "100"), ("Direction", "Received")],
                )
                target.digit(digit)

        self.clock.callLater(0.1, begin)
        self.clock.callLater(0.2, end)
        d: defer.Deferred[None] = defer.Deferred()
        self.clock.callLater(0.45, d.callback, None)
        return d

    def respondent(self, chan: Channel) -> Respondent | None:
        """The simulated person the IVR on C{chan} talks to, if any (see L{Respondent})."""
        callee = chan.peer
        if callee is None or not callee.respondent or callee.gone:
            return None
        if callee.person is None:
            callee.person = Respondent(self.profile.respondent, self.rng, self.prompt_keys)
        return callee.person

    def respond(self, chan: Channel, reaction: Reaction) -> None:
        """Carry out what the respondent on C{chan}'s peer decided: keys, or a hang-up."""
        callee = chan.peer
        if callee is None:
            return
        if reaction.hangup_after is not None:
            self.clock.callLater(reaction.hangup_after, self.respondent_hangs_up, callee)
            return
        for delay, digit in reaction.digits:

            def press(digit: str = digit) -> None:
                if not callee.gone:
                    self.send_dtmf(callee, digit)

            # send_dtmf delivers the digit 0.2 s after it starts
            self.clock.callLater(max(delay - 0.2, 0.0), press)

    def respondent_hangs_up(self, callee: Channel) -> None:
        """The respondent puts the phone down (normal clearing)."""
        if not callee.gone:
            callee.cause = 16
            self.chan_event("SoftHangupRequest", callee, [("Cause", "16")])
            callee.request_hangup(16)


def _peer_respondent(chan: Channel) -> bool:
    """True when the person on the other Local half is a simulated (speaking) respondent."""
    return chan.peer is not None and chan.peer.respondent


_PRES = "0 (Presentation Allowed, Not Screened)"
_SIMULATED_CONTEXTS = frozenset({"agents", "callee"})
_PRIVILEGE = {
    "Newexten": "dialplan,all",
    "HangupHandlerPush": "dialplan,all",
    "HangupHandlerRun": "dialplan,all",
    "VarSet": "dialplan,all",
    "DTMFBegin": "dtmf,all",
    "DTMFEnd": "dtmf,all",
    "AGIExecStart": "agi,all",
    "AGIExecEnd": "agi,all",
    "UserEvent": "user,all",
}


def _app_headers(chan: Channel, app: str, data: str) -> list[tuple[str, str]]:
    return [("Extension", chan.exten), ("Application", app), ("AppData", data)]


# -- applications ---------------------------------------------------------------------

AppResult = tuple[str, str, int] | None
AppHandler = Callable[[PBX, Channel, str], Coroutine[Any, Any, AppResult]]


async def app_noop(pbx: PBX, chan: Channel, data: str) -> AppResult:
    """NoOp(): nothing."""
    return None


async def app_goto(pbx: PBX, chan: Channel, data: str) -> AppResult:
    """Goto([[context,]exten,]priority)."""
    parts = split_args(data)
    if len(parts) == 3:
        return parts[0], parts[1], int(parts[2])
    if len(parts) == 2:
        return chan.context, parts[0], int(parts[1])
    return chan.context, chan.exten, int(parts[0])


async def app_gotoif(pbx: PBX, chan: Channel, data: str) -> AppResult:
    """GotoIf(condition?[label_if_true][:label_if_false]); labels as for Goto()."""
    condition, sep, branches = data.partition("?")
    if not sep:
        pbx.log.warn("simulated PBX: GotoIf without '?'; ignored")  # noqa: G010
        return None
    if_true, _, if_false = branches.partition(":")
    label = if_true if check_condition(condition) else if_false
    if not label.strip():
        return None
    return await app_goto(pbx, chan, label)


async def app_set(pbx: PBX, chan: Channel, data: str) -> AppResult:
    """Set(NAME=value) or Set(FUNCTION(args)=value)."""
    name, _, value = data.partition("=")
    pbx.assign(chan, name.strip(), value)
    return None


async def app_return(pbx: PBX, chan: Channel, data: str) -> AppResult:
    """Return(): the end of a Gosub (a hangup handler ends here)."""
    return None


async def app_wait(pbx: PBX, chan: Channel, data: str) -> AppResult:
    """Wait(seconds)."""
    await chan.wait(float(data or 0))
    return None


async def app_ringing(pbx: PBX, chan: Channel, data: str) -> AppResult:
    """Ringing(): the dialing side sees RINGING."""
    pbx._callee_signal(chan, "ringing")
    return None


async def app_answer(pbx: PBX, chan: Channel, data: str) -> AppResult:
    """Answer(): up; waits up to 0.5 s for the first media frame, like Asterisk."""
    if chan.state == UP:
        return None
    if chan.peer is not None and chan.peer.dialing is not None:
        pbx._callee_signal(chan, "answer")
    else:
        pbx._set_state(chan, UP)
        chan.answered_at = pbx.clock.seconds()
    if not chan.media_pending:
        await chan.wait(0.5, media=True)
    return None


async def app_busy(pbx: PBX, chan: Channel, data: str) -> AppResult:
    """Busy([timeout])."""
    pbx._callee_signal(chan, "busy")
    await chan.wait(float(data or 0) or None)
    return None


async def app_congestion(pbx: PBX, chan: Channel, data: str) -> AppResult:
    """Congestion([timeout])."""
    pbx._callee_signal(chan, "congestion")
    await chan.wait(float(data or 0) or None)
    return None


async def app_hangup(pbx: PBX, chan: Channel, data: str) -> AppResult:
    """Hangup([cause])."""
    pbx.chan_event("SoftHangupRequest", chan, [("Cause", "16")])
    if chan.cause is None:
        chan.cause = int(data) if data.strip().isdigit() else 16
    chan.soft_hangup = True
    raise Hungup()


async def app_playback(pbx: PBX, chan: Channel, data: str) -> AppResult:
    """Playback(file): plays for the file's length."""
    seconds = sound_seconds(split_args(data)[0])
    if chan.peer is not None:
        chan.peer.media_started()
    try:
        await chan.wait(seconds or 0.0)
    except Hungup:
        pbx.set_var(chan, "PLAYBACKSTATUS", "FAILED")
        raise
    pbx.set_var(chan, "PLAYBACKSTATUS", "SUCCESS" if seconds is not None else "FAILED")
    return None


async def app_senddtmf(pbx: PBX, chan: Channel, data: str) -> AppResult:
    """SendDTMF(digits)."""
    for digit in split_args(data)[0]:
        if chan.soft_hangup:
            raise Hungup()
        await pbx.send_dtmf(chan, digit)
    return None


async def app_mixmonitor(pbx: PBX, chan: Channel, data: str) -> AppResult:
    """MixMonitor(file): records the call to a real WAV file."""
    path = split_args(data)[0]
    pbx.set_var(chan, "MIXMONITOR_FILENAME", path)
    if pbx.recordings is not None:
        chan.recordings.append(Recording(Path(path), pbx.clock.seconds(), pbx.audio, pbx.rng))
    pbx.chan_event("MixMonitorStart", chan)
    return None


async def app_dial(pbx: PBX, chan: Channel, data: str) -> AppResult:
    """Dial(Local/exten@context[,timeout]): bridges the caller with the answering leg."""
    args = split_args(data)
    target = args[0]
    timeout = float(args[1]) if len(args) > 1 and args[1].strip() else None
    for name in (
        "DIALSTATUS",
        "DIALEDPEERNUMBER",
        "DIALEDPEERNAME",
        "ANSWEREDTIME",
        "ANSWEREDTIME_MS",
        "DIALEDTIME",
        "DIALEDTIME_MS",
        "RINGTIME",
        "RINGTIME_MS",
        "PROGRESSTIME",
        "PROGRESSTIME_MS",
    ):
        pbx.set_var(chan, name, "")
    started = pbx.clock.seconds()
    leg = pbx._new_leg(target, chan.linkedid)
    if leg is None:
        pbx.set_var(chan, "DIALSTATUS", "CHANUNAVAIL")
        return None
    one, two, rest, local = leg
    pbx.set_var(one, "DIALEDPEERNUMBER", rest)
    one.no_cdr = True
    one.exten = "s"
    pbx.chan_event("Newexten", one, _app_headers(one, "AppDial", "(Outgoing Line)"))
    one.app, one.app_data = "AppDial", "(Outgoing Line)"
    one.cid_num, one.cid_name = "s", chan.cid_name
    one.conn_num, one.conn_name = "s", chan.cid_name
    pbx.chan_event("NewCallerid", one, [("CID-CallingPres", _PRES)])
    pbx.chan_event("NewConnectedLine", one)
    pbx.set_var(two, "DIALEDPEERNUMBER", rest)
    two.cid_num, two.cid_name = chan.cid_num, chan.cid_name
    two.conn_num, two.conn_name = chan.cid_num, chan.cid_name
    pbx.chan_event("NewCallerid", two, [("CID-CallingPres", _PRES)])
    pbx.chan_event("NewConnectedLine", two)
    if local:
        pbx._local_bridge_event(one, two)
    dialing = Dialing(one, chan, rest)
    one.dialing = dialing
    pbx._dial_event("DialBegin", dialing, [("DialString", rest)])
    if timeout is not None:
        dialing.timer = pbx.clock.callLater(timeout, pbx._dial_timeout, dialing)
    pbx._start_callee(two)

    def caller_gone(_: object) -> None:
        if not dialing.done:
            one.cause = chan.cause
            pbx._end_now(one)

    chan_wait = chan.wait(None)

    def on_caller_gone(f: Any) -> Any:
        caller_gone(None)
        return f

    chan_wait.addErrback(on_caller_gone)
    status = await _first(dialing.result, chan_wait)
    chan._take_waiter()
    if status != "ANSWER":
        if not chan.soft_hangup and status in ("NOANSWER", "BUSY", "CONGESTION"):
            pbx.set_var(chan, "DIALSTATUS", status)
        if chan.soft_hangup:
            raise Hungup()
        return None
    one.exten = ""
    bridge = Bridge(pbx._bridge_id(), chan, one, pbx.clock.seconds())
    pbx.bridges[bridge.uniqueid] = bridge
    pbx.emit("BridgeCreate", [("Privilege", "call,all"), *bridge.headers(0)])
    pbx.chan_event(
        "Newexten",
        one,
        [("Extension", ""), ("Application", "AppDial"), ("AppData", "(Outgoing Line)")],
    )
    chan.dial_peer_name = one.name
    now = pbx.clock.seconds()
    one.bridge = chan.bridge = bridge
    one.bridged_since = chan.bridged_since = now
    pbx.bridge_event("BridgeEnter", one, bridge, 1)
    pbx.bridge_event("BridgeEnter", chan, bridge, 2)
    pbx.set_var(one, "BRIDGEPEER", chan.name)
    pbx.set_var(chan, "BRIDGEPEER", one.name)
    answered = now
    try:
        await chan.wait(None, bridge=True)
    except Redirected:
        # Moved elsewhere (AMI Redirect): the caller leaves the bridge; the dialed leg ends.
        if chan.bridge is not None:
            pbx._leave_bridge(chan, 16)
        raise
    finally:
        end = pbx.clock.seconds()
        if not chan.gone:
            pbx.set_var(chan, "ANSWEREDTIME", str(int(end - answered)))
            pbx.set_var(chan, "ANSWEREDTIME_MS", str(int((end - answered) * 1000)))
            pbx.set_var(chan, "DIALEDTIME", str(int(end - started)))
            pbx.set_var(chan, "DIALEDTIME_MS", str(int((end - started) * 1000)))
            pbx.set_var(chan, "DIALSTATUS", "ANSWER")
    return None


async def _first(a: defer.Deferred[str], b: defer.Deferred[str | None]) -> str | None:
    """Whichever of C{a} (dial result) and C{b} (caller wait) fires first."""
    d: defer.Deferred[str | None] = defer.Deferred()

    def got(value: object) -> object:
        if not d.called:
            d.callback(value)  # type: ignore[arg-type]
        return value

    def failed(f: Any) -> None:
        if not d.called:
            d.errback(f)

    a.addCallback(got)
    b.addCallbacks(got, failed)
    result = await d
    return result


async def app_agi(pbx: PBX, chan: Channel, data: str) -> AppResult:
    """AGI(agi://host:port/script,args...): runs a FastAGI session (see L{dialer.sim.agi})."""
    from dialer.sim.agi import run_agi

    status = await run_agi(pbx, chan, split_args(data))
    pbx.set_var(chan, "AGISTATUS", status)
    if chan.soft_hangup:
        raise Hungup()
    if chan.redirect_to is not None:
        raise Redirected()
    return None


#: app_amd's defaults (amd.conf): initial silence, greeting, after-greeting silence and total
#: analysis time, in milliseconds; AMD()'s first four arguments override them.
AMD_DEFAULTS = (2500, 1500, 800, 5000)


def amd_verdict(pbx: PBX, chan: Channel, data: str) -> tuple[float, str, str]:
    """
    What AMD(C{data}) on C{chan} decides and after how many seconds: (seconds, AMDSTATUS,
    AMDCAUSE). The truth is the answering leg's L{Channel.amd}; the profile's C{[callee]}
    C{amd_machine_after}/C{amd_human_after} give the time (unless the plan fixed it) and
    C{amd_false_machine}/C{amd_false_human} the error rates. A party AMD cannot classify
    (not a simulated callee), or a verdict later than the total analysis time, is
    C{NOTSURE} with C{TOOLONG-<total>}.
    """
    params = list(AMD_DEFAULTS)
    for i, arg in enumerate(split_args(data)[: len(params)]):
        if arg.strip().isdigit():
            params[i] = int(arg.strip())
    _initial, greeting, after_greeting, total = params
    callee = chan.peer
    truth = callee.amd if callee is not None else None
    cb = pbx.profile.callee
    if truth == "machine":
        seconds = callee.amd_after if callee is not None and callee.amd_after is not None else None
        if seconds is None:
            seconds = cb.amd_machine_after.sample(pbx.rng)
        wrong = cb.amd_false_human > 0 and pbx.rng.random() < cb.amd_false_human
    elif truth == "human":
        seconds = callee.amd_after if callee is not None and callee.amd_after is not None else None
        if seconds is None:
            seconds = cb.amd_human_after.sample(pbx.rng)
        wrong = cb.amd_false_machine > 0 and pbx.rng.random() < cb.amd_false_machine
    else:
        return total / 1000.0, "NOTSURE", f"TOOLONG-{total}"
    if seconds * 1000.0 > total:
        return total / 1000.0, "NOTSURE", f"TOOLONG-{total}"
    machine = (truth == "machine") != wrong
    if machine:
        # app_amd: a greeting longer than C{greeting} ms is a machine
        return seconds, "MACHINE", f"LONGGREETING-{max(int(seconds * 1000), greeting)}-{greeting}"
    return seconds, "HUMAN", f"HUMAN-{after_greeting}-{after_greeting}"


async def app_amd(pbx: PBX, chan: Channel, data: str) -> AppResult:
    """
    AMD([initialSilence,[greeting,[afterGreetingSilence,[totalAnalysisTime,...]]]]): listens
    to the answering party and sets AMDSTATUS (MACHINE, HUMAN, NOTSURE, HANGUP) and AMDCAUSE,
    as app_amd does (two VarSet events, status first). A hang-up while listening gives
    AMDSTATUS=HANGUP with an empty AMDCAUSE; a Redirect leaves both unset.
    """
    seconds, status, cause = amd_verdict(pbx, chan, data)
    try:
        if seconds > 0 or chan.soft_hangup or chan.redirect_to is not None:
            await chan.wait(seconds)
    except Hungup:
        if not chan.gone:
            pbx.set_var(chan, "AMDSTATUS", "HANGUP")
            pbx.set_var(chan, "AMDCAUSE", "")
        raise
    pbx.set_var(chan, "AMDSTATUS", status)
    pbx.set_var(chan, "AMDCAUSE", cause)
    return None


async def app_userevent(pbx: PBX, chan: Channel, data: str) -> AppResult:
    """UserEvent(name[,Key: value[,...]]): a C{UserEvent} (class user) with those headers."""
    name, *body = split_args(data)
    extra = [("UserEvent", name.strip())]
    for item in body:
        key, sep, value = item.partition(":")
        if sep and key.strip():
            extra.append((key.strip(), value.strip()))
    pbx.chan_event("UserEvent", chan, extra)
    return None


async def app_queue(pbx: PBX, chan: Channel, data: str) -> AppResult:
    """Queue(): not simulated beyond a failed status."""
    pbx.set_var(chan, "QUEUESTATUS", "JOINEMPTY")
    return None


_APPS: dict[str, AppHandler] = {
    "noop": app_noop,
    "goto": app_goto,
    "gotoif": app_gotoif,
    "set": app_set,
    "return": app_return,
    "wait": app_wait,
    "ringing": app_ringing,
    "answer": app_answer,
    "busy": app_busy,
    "congestion": app_congestion,
    "hangup": app_hangup,
    "playback": app_playback,
    "senddtmf": app_senddtmf,
    "mixmonitor": app_mixmonitor,
    "dial": app_dial,
    "agi": app_agi,
    "queue": app_queue,
    "amd": app_amd,
    "userevent": app_userevent,
}
