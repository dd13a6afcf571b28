"""
A fake AMI connection for controller tests: the operations the controller uses, and
helpers that play the event sequences of the reference traces (b0 busy, b1 no answer,
b5 answer + bridge, d redirect) for one originated call.

Kept honest by tests/campaign/test_fakeami.py, which checks that its events are shaped
like the reference traces' (same names and keys the controller reads).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from twisted.internet import defer
from twisted.python.failure import Failure

from dialer.ami.message import Message
from dialer.ami.protocol import (
    ActionFailed,
    ConnectionDropped,
    EventListResult,
    NotConnected,
    OriginateResult,
)
from dialer.campaign.outcomes import FAMILY, format_record


@dataclass
class Dial:
    """One Originate the fake received."""

    action_id: str
    channel: str  # the dial string
    context: str
    exten: str
    channel_id: str
    other_id: str
    kwargs: dict
    queued: defer.Deferred = field(default_factory=defer.Deferred)
    result: defer.Deferred = field(default_factory=defer.Deferred)
    name: str = ""  # the ;1 channel name once created

    @property
    def number(self) -> str:
        return self.channel.split("/", 1)[1].split("@", 1)[0]


class FakeHandle:
    def __init__(self, dial: Dial) -> None:
        self._dial = dial
        self._q: list = []
        self._r: list = []
        dial.queued.addBoth(self._fire_q)
        dial.result.addBoth(self._fire_r)
        self._qv = self._rv = None
        self._qdone = self._rdone = False

    def _fire_q(self, v):
        self._qdone, self._qv = True, v
        for d in self._q:
            (d.errback if isinstance(v, Exception | Failure) else d.callback)(v)
        return None

    def _fire_r(self, v):
        self._rdone, self._rv = True, v
        for d in self._r:
            (d.errback if isinstance(v, Exception | Failure) else d.callback)(v)
        return None

    def _observe(self, done, value, waiters):
        d = defer.Deferred()
        if done:
            (d.errback if isinstance(value, Exception | Failure) else d.callback)(value)
        else:
            waiters.append(d)
        return d

    def queued(self):
        return self._observe(self._qdone, self._qv, self._q)

    def result(self):
        return self._observe(self._rdone, self._rv, self._r)


class FakeAMI:
    """One fake Asterisk connection."""

    def __init__(self, name: str = "pbx1", *, ready: bool = True) -> None:
        self.name = name
        self._ready = ready
        self._state_cbs: list = []
        self._subs: list = []
        self.dials: list[Dial] = []
        self.by_uid: dict[str, Dial] = {}
        self.redirects: list[tuple[str, str, str]] = []
        self.hangups: list[str] = []
        self.channels: dict[str, Message] = {}  # uniqueid -> CoreShowChannel item
        self.on_originate = None  # hook(dial) called when Originate is sent
        self.refuse_next: str | None = None
        self.auto_queue = True
        self._seq = 0
        # the AstDB: the minyi-outcome hangup handler writes here when a channel that
        # pushed it hangs up (see _hangup_uid); DBGet/DBDel read and delete
        self.db: dict[tuple[str, str], str] = {}
        self.db_actions: list[tuple[str, str]] = []  # (action, key) in order

    # -- the interface the controller uses ---------------------------------------------

    @property
    def ready(self) -> bool:
        return self._ready

    def on_state(self, callback):
        self._state_cbs.append(callback)
        return lambda: self._state_cbs.remove(callback)

    def subscribe(self, name, callback):
        self._subs.append(callback)
        return lambda: self._subs.remove(callback)

    def originate(self, channel, **kw):
        dial = Dial(
            kw["action_id"],
            channel,
            kw["context"],
            kw["exten"],
            kw["channel_id"],
            kw["other_channel_id"],
            kw,
        )
        handle = FakeHandle(dial)
        if not self._ready:
            dial.queued.errback(NotConnected("down"))
            dial.result.errback(NotConnected("down"))
            return handle
        self.dials.append(dial)
        self.by_uid[dial.channel_id] = dial
        if self.on_originate is not None:
            self.on_originate(dial)
        if self.refuse_next is not None:
            err = ActionFailed(
                "Originate", Message.response("Error", [("Message", self.refuse_next)])
            )
            self.refuse_next = None
            dial.queued.errback(err)
            dial.result.errback(err)
            return handle
        if self.auto_queue:
            dial.queued.callback(
                Message.response("Success", [("Message", "Originate successfully queued")])
            )
        return handle

    def hangup(self, channel, cause=None):
        self.hangups.append(channel)
        for uid, item in list(self.channels.items()):
            if item.get("Channel") == channel:
                self._hangup_uid(uid, cause or 16)
                return defer.succeed(Message.response("Success", [("Message", "Channel Hungup")]))
        return defer.fail(
            ActionFailed("Hangup", Message.response("Error", [("Message", "No such channel")]))
        )

    def redirect(self, channel, context, exten, priority=1):
        for item in self.channels.values():
            if item.get("Channel") == channel:
                self.redirects.append((channel, context, exten))
                uid = item["Uniqueid"]
                self.channels[uid] = item.replace("Context", context).replace("Exten", exten)
                return defer.succeed(
                    Message.response("Success", [("Message", "Redirect successful")])
                )
        return defer.fail(
            ActionFailed(
                "Redirect",
                Message.response("Error", [("Message", f"Channel does not exist: {channel}")]),
            )
        )

    def core_show_channels(self):
        if not self._ready:
            return defer.fail(NotConnected("down"))
        return defer.succeed(list(self.channels.values()))

    def send_action(self, message, *, timeout=None):
        name = message.name or ""
        key = (message.get("Family") or "", message.get("Key") or "")
        self.db_actions.append((name, key[1]))
        if not self._ready:
            return defer.fail(NotConnected("down"))
        if name == "DBDel":
            if self.db.pop(key, None) is None:
                return defer.fail(
                    ActionFailed(
                        name,
                        Message.response(
                            "Error", [("Message", "Database entry could not be deleted")]
                        ),
                    )
                )
            return defer.succeed(
                Message.response("Success", [("Message", "Key deleted successfully")])
            )
        raise AssertionError(f"the fake does not do {name}")

    def send_list_action(self, message, *, timeout=None):
        name = message.name or ""
        key = (message.get("Family") or "", message.get("Key") or "")
        self.db_actions.append((name, key[1]))
        if not self._ready:
            return defer.fail(NotConnected("down"))
        assert name == "DBGet", name
        value = self.db.get(key)
        if value is None:
            return defer.fail(
                ActionFailed(
                    name, Message.response("Error", [("Message", "Database entry not found")])
                )
            )
        return defer.succeed(
            EventListResult(
                Message.response(
                    "Success", [("EventList", "start"), ("Message", "Result will follow")]
                ),
                (
                    Message.event(
                        "DBGetResponse", [("Family", key[0]), ("Key", key[1]), ("Val", value)]
                    ),
                ),
                Message.event("DBGetComplete", [("EventList", "Complete"), ("ListItems", "1")]),
            )
        )

    def record(self, call: Dial, **fields) -> None:
        """Write the AstDB record the hangup handler would write for C{call}."""
        attempt = dict(call.kwargs["variables"])["MINYI_ATTEMPT"]
        self.db[(FAMILY, attempt)] = format_record(token=call.action_id, **fields)

    def ended_while_away(self, call: Dial, **fields) -> None:
        """The call ended while no dialer listened: its channel is gone, its record written."""
        self.channels.pop(call.channel_id, None)
        self.record(call, **fields)

    # -- driving ---------------------------------------------------------------------------

    def set_ready(self, ready: bool) -> None:
        self._ready = ready
        for cb in list(self._state_cbs):
            cb(ready)

    def drop(self) -> None:
        """The connection is lost: pending originates fail with ConnectionDropped."""
        for d in self.dials:
            if not d.queued.called:
                d.queued.errback(ConnectionDropped("lost"))
            if not d.result.called:
                d.result.errback(ConnectionDropped("lost"))
        self.set_ready(False)

    def kill(self) -> None:
        """Asterisk was kill -9ed (g3): EOF, no Hangup events, every channel gone."""
        self.channels.clear()
        self.drop()

    def emit(self, name: str, **headers: str) -> None:
        msg = Message.event(name, list(headers.items()))
        for cb in list(self._subs):
            cb(msg)

    def _channel_item(self, uid, name, state, context, exten):
        return Message.event(
            "CoreShowChannel",
            [
                ("Channel", name),
                ("ChannelState", str(state)),
                ("ChannelStateDesc", {5: "Ringing", 6: "Up", 0: "Down"}.get(state, "Down")),
                ("Context", context),
                ("Exten", exten),
                ("Priority", "1"),
                ("Uniqueid", uid),
                ("Linkedid", uid),
                ("Application", "Wait"),
                ("BridgeId", ""),
            ],
        )

    def start(self, dial: Dial) -> None:
        """Newchannel ;1 and ;2, then ringing."""
        self._seq += 1
        base = f"Local/{dial.number}@callee-{self._seq:08x}"
        dial.name = base + ";1"
        self.channels[dial.channel_id] = self._channel_item(
            dial.channel_id, dial.name, 0, dial.context, dial.exten
        )
        self.emit(
            "Newchannel",
            Channel=dial.name,
            ChannelState="0",
            Uniqueid=dial.channel_id,
            Linkedid=dial.channel_id,
        )
        self.emit(
            "Newchannel",
            Channel=base + ";2",
            ChannelState="4",
            Uniqueid=dial.other_id,
            Linkedid=dial.channel_id,
        )
        self.emit(
            "Newstate",
            Channel=dial.name,
            ChannelState="5",
            Uniqueid=dial.channel_id,
            Linkedid=dial.channel_id,
        )
        self.channels[dial.channel_id] = self._channel_item(
            dial.channel_id, dial.name, 5, dial.context, dial.exten
        )

    def busy(self, dial: Dial) -> None:
        """b0: DialEnd BUSY, Hangup ;2 17, OriginateResponse 5, Hangup ;1 0."""
        if not dial.name:
            self.start(dial)
        self.emit("DialEnd", DestUniqueid=dial.channel_id, DialStatus="BUSY")
        self.emit("Hangup", Channel=dial.name[:-1] + "2", Uniqueid=dial.other_id, Cause="17")
        dial.result.callback(
            OriginateResult(
                False, 5, dial.channel, dial.channel_id, Message.event("OriginateResponse")
            )
        )
        self._hangup_uid(dial.channel_id, 0)

    def no_answer(self, dial: Dial) -> None:
        """b1: OriginateResponse 3, then both legs hang up with 19."""
        if not dial.name:
            self.start(dial)
        dial.result.callback(
            OriginateResult(
                False, 3, dial.channel, dial.channel_id, Message.event("OriginateResponse")
            )
        )
        self.emit("Hangup", Channel=dial.name[:-1] + "2", Uniqueid=dial.other_id, Cause="19")
        self._hangup_uid(dial.channel_id, 19)

    def answer(self, dial: Dial) -> None:
        """Newstate Up on ;1, OriginateResponse Success reason 4."""
        if not dial.name:
            self.start(dial)
        self.channels[dial.channel_id] = self._channel_item(
            dial.channel_id, dial.name, 6, dial.context, dial.exten
        )
        self.emit(
            "Newstate",
            Channel=dial.name,
            ChannelState="6",
            Uniqueid=dial.channel_id,
            Linkedid=dial.channel_id,
        )
        dial.result.callback(
            OriginateResult(True, 4, dial.name, dial.channel_id, Message.event("OriginateResponse"))
        )

    def bridge(self, dial: Dial) -> None:
        """The agent answered in toagent: BridgeEnter for our ;1."""
        self.emit(
            "BridgeEnter",
            Channel=dial.name,
            Uniqueid=dial.channel_id,
            BridgeUniqueid=f"br-{dial.channel_id}",
        )
        item = self.channels[dial.channel_id]
        self.channels[dial.channel_id] = item.replace("BridgeId", f"br-{dial.channel_id}")

    def agi(self, dial: Dial) -> None:
        self.emit("AGIExecStart", Channel=dial.name, Uniqueid=dial.channel_id, Command="ANSWER")

    def callee_hangs_up(self, dial: Dial, cause: int = 16) -> None:
        self.emit("Hangup", Channel=dial.name[:-1] + "2", Uniqueid=dial.other_id, Cause=str(cause))
        self._hangup_uid(dial.channel_id, cause)

    def _hangup_uid(self, uid, cause):
        item = self.channels.pop(uid, None)
        dial = self.by_uid.get(uid)
        if dial is not None and "CHANNEL(hangup_handler_push)" in dict(dial.kwargs["variables"]):
            up = item is not None and item.get("ChannelState") == "6"
            self.record(dial, cause=cause, state="Up" if up else "Down")
        name = (
            item.get("Channel")
            if item is not None
            else (self.by_uid[uid].name if uid in self.by_uid else "")
        )
        self.emit("Hangup", Channel=name or "", Uniqueid=uid, Cause=str(cause))
