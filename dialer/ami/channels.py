# -*- test-case-name: tests.ami.test_channels -*-
"""
Live channels and bridges, tracked from AMI events: pure code (no Twisted, no clock).

Public names (stable):

- L{ChannelTracker}: C{handle(event)} for every AMI event. It follows C{Newchannel},
  C{Newstate}, C{Rename}, C{Newexten} and any event carrying a channel snapshot, C{LocalBridge}
  (links the two halves C{;1}/C{;2} of a Local channel), C{DialBegin}/C{DialEnd},
  C{BridgeCreate}/C{BridgeEnter}/C{BridgeLeave}/C{BridgeDestroy} and C{Hangup}.
  After a reconnect, C{start_resync()} then C{finish_resync(core_show_channel_events)}
  rebuilds the state from C{CoreShowChannels}; channels that are gone are returned and
  reported to C{on_gone} subscribers with C{cause=None} (we never saw their Hangup, e.g.
  after C{kill -9}).
  Look-ups: C{get(uniqueid)}, C{by_name(name)}, C{peer(uniqueid)} (the other Local half),
  C{bridged_with(uniqueid)}, C{bridge(bridge_id)}, C{channels()}, C{bridges()}, C{len()}.
  C{on_hangup(callback)}: C{callback(channel, cause)} when a Hangup event ends a channel;
  C{on_gone(callback)}: the same for channels found gone by a resync (cause None).
- L{Channel}, L{Bridge}: frozen snapshots.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from dialer.ami.message import Message

__all__ = ["Bridge", "Channel", "ChannelTracker"]


@dataclass(frozen=True)
class Channel:
    """A live channel as last reported by Asterisk."""

    uniqueid: str
    name: str
    linkedid: str | None = None
    state: int | None = None  # ChannelState: 0 Down, 4 Ring, 5 Ringing, 6 Up, 7 Busy
    state_desc: str | None = None
    context: str | None = None
    exten: str | None = None
    priority: str | None = None
    caller_id_num: str | None = None
    caller_id_name: str | None = None
    connected_num: str | None = None
    connected_name: str | None = None
    application: str | None = None
    bridge_id: str | None = None
    peer: str | None = None  # uniqueid of the other half of a Local pair
    dialed_by: str | None = None  # uniqueid of the channel whose Dial created this one
    dial_status: str | None = None  # the last DialEnd/DialState status for this destination

    @property
    def is_local(self) -> bool:
        """True for a C{Local/...} channel."""
        return self.name.startswith("Local/")

    @property
    def local_base(self) -> str | None:
        """C{Local/x@ctx-00000001} for C{Local/x@ctx-00000001;1}, else None."""
        if self.is_local and self.name[-2:] in (";1", ";2"):
            return self.name[:-2]
        return None

    @property
    def is_up(self) -> bool:
        """True when the channel is answered (state 6)."""
        return self.state == 6


@dataclass(frozen=True)
class Bridge:
    """A bridge and the uniqueids of the channels in it."""

    bridge_id: str
    bridge_type: str | None = None
    technology: str | None = None
    channels: frozenset[str] = field(default_factory=frozenset)


def _replace(ch: Channel, changes: dict[str, object]) -> Channel:
    """C{dataclasses.replace} without its per-call introspection (this runs for most events)."""
    for key in changes:
        if key not in _CHANNEL_FIELDS:
            raise TypeError(f"Channel has no field {key!r}")
    new = object.__new__(Channel)
    d = new.__dict__
    d.update(ch.__dict__)
    d.update(changes)
    return new


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _snapshot(event: Message, prefix: str = "") -> dict[str, object]:
    """The channel-snapshot fields of an event (optionally C{Dest}/C{LocalOne}-prefixed)."""
    out: dict[str, object] = {}
    for attr, key in (
        ("name", "Channel"),
        ("linkedid", "Linkedid"),
        ("state_desc", "ChannelStateDesc"),
        ("context", "Context"),
        ("exten", "Exten"),
        ("priority", "Priority"),
        ("caller_id_num", "CallerIDNum"),
        ("caller_id_name", "CallerIDName"),
        ("connected_num", "ConnectedLineNum"),
        ("connected_name", "ConnectedLineName"),
    ):
        value = event.get(prefix + key)
        if value is not None:
            out[attr] = value
    state = _int(event.get(prefix + "ChannelState"))
    if state is not None:
        out["state"] = state
    return out


_CHANNEL_FIELDS = frozenset(f.name for f in dataclasses.fields(Channel))

HangupCallback = Callable[[Channel, "int | None"], object]


class ChannelTracker:
    """Channels and bridges of one Asterisk, kept up to date from its AMI events."""

    def __init__(self) -> None:
        self._channels: dict[str, Channel] = {}
        self._names: dict[str, str] = {}
        self._bridges: dict[str, Bridge] = {}
        self._hangup_callbacks: list[HangupCallback] = []
        self._gone_callbacks: list[HangupCallback] = []
        self._resync: tuple[set[str], set[str]] | None = None  # (created, ended) since start
        self.stale = False  # True between a lost connection and the next resync

    # -- look-ups -------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._channels)

    def __contains__(self, uniqueid: object) -> bool:
        return uniqueid in self._channels

    def get(self, uniqueid: str) -> Channel | None:
        """The channel with this Uniqueid, or None."""
        return self._channels.get(uniqueid)

    def by_name(self, name: str) -> Channel | None:
        """The channel with this name (e.g. C{Local/10003@callee-00000001;1}), or None."""
        uid = self._names.get(name)
        return None if uid is None else self._channels.get(uid)

    def channels(self) -> list[Channel]:
        """Every live channel."""
        return list(self._channels.values())

    def bridges(self) -> list[Bridge]:
        """Every live bridge."""
        return list(self._bridges.values())

    def bridge(self, bridge_id: str) -> Bridge | None:
        """One bridge by id, or None."""
        return self._bridges.get(bridge_id)

    def peer(self, uniqueid: str) -> Channel | None:
        """The other half of a Local channel pair, or None."""
        ch = self._channels.get(uniqueid)
        if ch is None or ch.peer is None:
            return None
        return self._channels.get(ch.peer)

    def bridged_with(self, uniqueid: str) -> list[Channel]:
        """The other channels in this channel's bridge."""
        ch = self._channels.get(uniqueid)
        if ch is None or ch.bridge_id is None:
            return []
        bridge = self._bridges.get(ch.bridge_id)
        if bridge is None:
            return []
        return [
            self._channels[u]
            for u in sorted(bridge.channels)
            if u != uniqueid and u in self._channels
        ]

    def linked(self, linkedid: str) -> list[Channel]:
        """Every live channel of one call (same C{Linkedid})."""
        return [c for c in self._channels.values() if c.linkedid == linkedid]

    # -- subscriptions --------------------------------------------------------------

    def on_hangup(self, callback: HangupCallback) -> Callable[[], None]:
        """C{callback(channel, cause)} when a Hangup event ends a channel."""
        self._hangup_callbacks.append(callback)
        return lambda: self._hangup_callbacks.remove(callback)

    def on_gone(self, callback: HangupCallback) -> Callable[[], None]:
        """C{callback(channel, None)} for channels a resync found gone."""
        self._gone_callbacks.append(callback)
        return lambda: self._gone_callbacks.remove(callback)

    # -- updates --------------------------------------------------------------------

    def _put(self, ch: Channel) -> None:
        old = self._channels.get(ch.uniqueid)
        if old is not None and old.name != ch.name and self._names.get(old.name) == ch.uniqueid:
            del self._names[old.name]
        self._channels[ch.uniqueid] = ch
        self._names[ch.name] = ch.uniqueid

    def _update(self, uniqueid: str, **changes: object) -> Channel | None:
        ch = self._channels.get(uniqueid)
        if ch is None:
            return None
        new = _replace(ch, changes)
        self._put(new)
        return new

    def _add(self, uniqueid: str, fields: dict[str, object]) -> Channel:
        name = str(fields.pop("name", "") or "")
        ch = Channel(uniqueid=uniqueid, name=name, **fields)  # type: ignore[arg-type]
        self._put(ch)
        if self._resync is not None:
            self._resync[0].add(uniqueid)
        self._link_local_by_name(ch)
        return ch

    def _link_local_by_name(self, ch: Channel) -> None:
        base = ch.local_base
        if base is None or ch.peer is not None:
            return
        other_name = base + (";2" if ch.name.endswith(";1") else ";1")
        other_uid = self._names.get(other_name)
        if other_uid is not None and other_uid in self._channels:
            self._update(ch.uniqueid, peer=other_uid)
            self._update(other_uid, peer=ch.uniqueid)

    def handle(self, event: Message) -> None:
        """Apply one AMI event (events that say nothing about channels are ignored)."""
        name = event.name
        if name is None:
            return
        method = _HANDLERS.get(name)
        if method is not None:
            method(self, event)
            return
        uid = event.get("Uniqueid")
        if uid is None:
            return
        ch = self._channels.get(uid)
        if ch is None:
            return
        # Any other event about a channel carries its snapshot: keep state and place fresh.
        state = _int(event.get("ChannelState"))
        context = event.get("Context")
        exten = event.get("Exten")
        priority = event.get("Priority")
        if state is None:
            return
        if (state, context, exten, priority) != (ch.state, ch.context, ch.exten, ch.priority):
            self._update(
                uid,
                state=state,
                state_desc=event.get("ChannelStateDesc"),
                context=context,
                exten=exten,
                priority=priority,
            )

    def _newchannel(self, event: Message) -> None:
        uid = event.get("Uniqueid")
        if uid is None:
            return
        if uid in self._channels:
            self._update(uid, **_snapshot(event))
        else:
            self._add(uid, _snapshot(event))

    def _newexten(self, event: Message) -> None:
        uid = event.get("Uniqueid")
        if uid is None or uid not in self._channels:
            return
        fields = _snapshot(event)
        app = event.get("Application")
        if app is not None:
            fields["application"] = app
        self._update(uid, **fields)

    def _rename(self, event: Message) -> None:
        uid = event.get("Uniqueid")
        new_name = event.get("Newname")
        if uid is not None and new_name is not None:
            self._update(uid, name=new_name)

    def _local_bridge(self, event: Message) -> None:
        one = event.get("LocalOneUniqueid")
        two = event.get("LocalTwoUniqueid")
        if one is None or two is None:
            return
        for uid, prefix in ((one, "LocalOne"), (two, "LocalTwo")):
            if uid not in self._channels:
                self._add(uid, _snapshot(event, prefix))
        self._update(one, peer=two)
        self._update(two, peer=one)

    def _dial_begin(self, event: Message) -> None:
        dest = event.get("DestUniqueid")
        if dest is None:
            return
        if dest not in self._channels:
            self._add(dest, _snapshot(event, "Dest"))
        caller = event.get("Uniqueid")
        self._update(dest, dialed_by=caller, dial_status=None)

    def _dial_state(self, event: Message) -> None:
        dest = event.get("DestUniqueid")
        status = event.get("DialStatus")
        if dest is not None and status is not None:
            self._update(dest, dial_status=status)

    def _bridge_create(self, event: Message) -> None:
        bid = event.get("BridgeUniqueid")
        if bid is None:
            return
        old = self._bridges.get(bid)
        self._bridges[bid] = Bridge(
            bid,
            event.get("BridgeType"),
            event.get("BridgeTechnology"),
            old.channels if old is not None else frozenset(),
        )

    def _bridge_enter(self, event: Message) -> None:
        bid = event.get("BridgeUniqueid")
        uid = event.get("Uniqueid")
        if bid is None or uid is None:
            return
        if bid not in self._bridges:
            self._bridge_create(event)
        b = self._bridges[bid]
        self._bridges[bid] = dataclasses.replace(b, channels=b.channels | {uid})
        if uid not in self._channels:
            self._add(uid, _snapshot(event))
        fields = _snapshot(event)
        fields.pop("linkedid", None)
        self._update(uid, bridge_id=bid, **fields)

    def _bridge_leave(self, event: Message) -> None:
        bid = event.get("BridgeUniqueid")
        uid = event.get("Uniqueid")
        if bid is None or uid is None:
            return
        b = self._bridges.get(bid)
        if b is not None:
            self._bridges[bid] = dataclasses.replace(b, channels=b.channels - {uid})
        ch = self._channels.get(uid)
        if ch is not None and ch.bridge_id == bid:
            self._update(uid, bridge_id=None)

    def _bridge_destroy(self, event: Message) -> None:
        bid = event.get("BridgeUniqueid")
        if bid is None:
            return
        b = self._bridges.pop(bid, None)
        if b is None:
            return
        for uid in b.channels:
            ch = self._channels.get(uid)
            if ch is not None and ch.bridge_id == bid:
                self._update(uid, bridge_id=None)

    def _hangup(self, event: Message) -> None:
        uid = event.get("Uniqueid")
        if uid is None:
            return
        ch = self._remove(uid)
        if self._resync is not None:
            self._resync[1].add(uid)
        if ch is None:
            return
        cause = _int(event.get("Cause"))
        for callback in list(self._hangup_callbacks):
            callback(ch, cause)

    def _remove(self, uid: str) -> Channel | None:
        ch = self._channels.pop(uid, None)
        if ch is None:
            return None
        if self._names.get(ch.name) == uid:
            del self._names[ch.name]
        if ch.peer is not None:
            peer = self._channels.get(ch.peer)
            if peer is not None and peer.peer == uid:
                self._channels[peer.uniqueid] = dataclasses.replace(peer, peer=None)
        if ch.bridge_id is not None:
            b = self._bridges.get(ch.bridge_id)
            if b is not None:
                self._bridges[b.bridge_id] = dataclasses.replace(b, channels=b.channels - {uid})
        return ch

    # -- reconnects -----------------------------------------------------------------

    def connection_lost(self) -> None:
        """The AMI connection dropped: what we hold may be stale until the next resync."""
        self.stale = True

    def start_resync(self) -> None:
        """Call before sending C{CoreShowChannels}; events meanwhile are still applied."""
        self._resync = (set(), set())

    def finish_resync(self, items: Iterable[Message]) -> list[Channel]:
        """
        Rebuild from C{CoreShowChannel} events; return the channels found gone.

        A channel created by an event after C{start_resync} is kept even if the list
        (taken earlier) lacks it; one that hung up meanwhile is not brought back.
        """
        created, ended = self._resync if self._resync is not None else (set(), set())
        self._resync = None
        listed: dict[str, Message] = {}
        for item in items:
            uid = item.get("Uniqueid")
            if uid is not None and uid not in ended:
                listed[uid] = item
        gone = [
            ch
            for uid, ch in list(self._channels.items())
            if uid not in listed and uid not in created
        ]
        for ch in gone:
            self._remove(ch.uniqueid)
        bridges: dict[str, set[str]] = {}
        for uid, item in listed.items():
            fields = _snapshot(item)
            app = item.get("Application")
            if app is not None:
                fields["application"] = app
            bid = item.get("BridgeId") or None
            fields["bridge_id"] = bid
            if bid is not None:
                bridges.setdefault(bid, set()).add(uid)
            if uid in self._channels:
                self._update(uid, **fields)
            else:
                self._add(uid, fields)
        for ch in list(self._channels.values()):
            self._link_local_by_name(ch)
        # Bridges: keep those with live members; rebuild membership from the list.
        new_bridges: dict[str, Bridge] = {}
        for bid, members in bridges.items():
            old = self._bridges.get(bid)
            new_bridges[bid] = Bridge(
                bid,
                old.bridge_type if old else None,
                old.technology if old else None,
                frozenset(members),
            )
        for bid, b in self._bridges.items():
            if bid not in new_bridges:
                live = frozenset(u for u in b.channels if u in created and u in self._channels)
                if live:
                    new_bridges[bid] = dataclasses.replace(b, channels=live)
        self._bridges = new_bridges
        self.stale = False
        for ch in gone:
            for callback in list(self._gone_callbacks):
                callback(ch, None)
        return gone


_HANDLERS: dict[str, Callable[[ChannelTracker, Message], None]] = {
    "Newchannel": ChannelTracker._newchannel,
    "Newstate": ChannelTracker._newchannel,
    "Newexten": ChannelTracker._newexten,
    "Rename": ChannelTracker._rename,
    "LocalBridge": ChannelTracker._local_bridge,
    "DialBegin": ChannelTracker._dial_begin,
    "DialState": ChannelTracker._dial_state,
    "DialEnd": ChannelTracker._dial_state,
    "BridgeCreate": ChannelTracker._bridge_create,
    "BridgeEnter": ChannelTracker._bridge_enter,
    "BridgeLeave": ChannelTracker._bridge_leave,
    "BridgeDestroy": ChannelTracker._bridge_destroy,
    "Hangup": ChannelTracker._hangup,
}
