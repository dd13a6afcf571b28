"""
Tests for L{dialer.ami.channels.ChannelTracker}, mostly by replaying the reference traces.
"""

from __future__ import annotations

import pytest

from dialer.ami.channels import ChannelTracker
from dialer.ami.message import Message
from tests.traces import all_traces, load


def replay(tracker: ChannelTracker, messages, upto=None):
    for i, m in enumerate(messages):
        if upto is not None and i >= upto:
            break
        if m.is_event:
            tracker.handle(m)


def check_invariants(tracker: ChannelTracker) -> None:
    names = {c.name: c for c in tracker.channels()}
    for c in tracker.channels():
        base = c.local_base
        if base is not None:
            other = names.get(base + (";2" if c.name.endswith(";1") else ";1"))
            if other is not None:
                assert c.peer == other.uniqueid, c.name
        if c.bridge_id is not None:
            b = tracker.bridge(c.bridge_id)
            assert b is not None and c.uniqueid in b.channels
    for b in tracker.bridges():
        for uid in b.channels:
            assert uid in tracker


@pytest.mark.parametrize(
    "trace",
    [t for t in all_traces() if t.scenario != "g3"],
    ids=lambda t: t.scenario,
)
def test_every_channel_ends(trace):
    """Replaying a trace leaves no channel or bridge; each Hangup's Cause reaches on_hangup."""
    for conn in trace.connections:
        tracker = ChannelTracker()
        causes: list[int | None] = []
        tracker.on_hangup(lambda ch, cause, causes=causes: causes.append(cause))
        events = [m for m in trace.received(conn) if m.is_event]
        for m in events:
            tracker.handle(m)
            check_invariants(tracker)
        assert len(tracker) == 0 and tracker.bridges() == []
        expected = [int(m["Cause"]) for m in events if m.name == "Hangup"]
        assert causes == expected


def test_local_pair_and_bridge_b5():
    """In b5 the Local halves are linked and the callee's ;1 is bridged with the agent's ;1."""
    trace = load("b5")
    msgs = trace.received()
    enters = [i for i, m in enumerate(msgs) if m.name == "BridgeEnter"]
    tracker = ChannelTracker()
    replay(tracker, msgs, upto=enters[1] + 1)
    callee = tracker.get("dialer-call-0005")
    assert callee is not None and callee.name.endswith(";1") and callee.is_up
    assert tracker.peer(callee.uniqueid).uniqueid == "dialer-call-0005-2"
    (other,) = tracker.bridged_with(callee.uniqueid)
    assert other.name.startswith("Local/agent1@agents-") and other.name.endswith(";1")
    assert other.dialed_by == callee.uniqueid and other.dial_status == "ANSWER"
    assert tracker.peer(other.uniqueid).name.endswith(";2")
    assert len(tracker.linked("dialer-call-0005")) == 4


def test_dial_status_b0():
    """DialBegin/DialEnd record who dialed and the DialStatus on the destination."""
    msgs = load("b0").received()
    end = next(i for i, m in enumerate(msgs) if m.name == "DialEnd")
    tracker = ChannelTracker()
    replay(tracker, msgs, upto=end + 1)
    (dest,) = [c for c in tracker.channels() if c.dial_status is not None]
    assert dest.dial_status == "BUSY" and dest.name.endswith(";1")


def test_resync_from_core_show_channels_matches_events_f():
    """Rebuilding from the f trace's CoreShowChannels list equals the event-built state."""
    msgs = load("f").received()
    complete = next(
        i
        for i, m in enumerate(msgs)
        if m.name == "CoreShowChannelsComplete" and m.get("ListItems") == "4"
    )
    from_events = ChannelTracker()
    replay(from_events, msgs, upto=complete)
    items = [m for m in msgs[:complete] if m.name == "CoreShowChannel"]
    assert len(items) == 4
    rebuilt = ChannelTracker()
    rebuilt.start_resync()
    assert rebuilt.finish_resync(items) == []

    def view(t: ChannelTracker):
        return sorted((c.uniqueid, c.name, c.bridge_id, c.peer, c.state) for c in t.channels())

    assert view(rebuilt) == view(from_events)
    assert sorted(b.channels for b in rebuilt.bridges()) == sorted(
        b.channels for b in from_events.bridges()
    )


def test_kill9_then_resync_reports_all_gone_g3():
    """After kill -9 (g3) no Hangup comes; an empty CoreShowChannels reports every channel gone."""
    tracker = ChannelTracker()
    replay(tracker, load("g3").received())
    assert len(tracker) == 4 and len(tracker.bridges()) == 1
    gone: list[tuple[str, int | None]] = []
    tracker.on_gone(lambda ch, cause: gone.append((ch.name, cause)))
    tracker.connection_lost()
    assert tracker.stale
    tracker.start_resync()
    lost = tracker.finish_resync([])
    assert len(lost) == 4 and len(gone) == 4 and all(c is None for _, c in gone)
    assert len(tracker) == 0 and tracker.bridges() == [] and not tracker.stale


def test_resync_race():
    """Channels created during a resync are kept; ones that hung up meanwhile are not revived."""
    tracker = ChannelTracker()
    tracker.handle(Message.event("Newchannel", {"Channel": "SIP/a-1", "Uniqueid": "old"}))
    tracker.start_resync()
    tracker.handle(Message.event("Newchannel", {"Channel": "SIP/b-2", "Uniqueid": "new"}))
    tracker.handle(Message.event("Hangup", {"Uniqueid": "old", "Cause": "16"}))
    listed = [Message.event("CoreShowChannel", {"Channel": "SIP/a-1", "Uniqueid": "old"})]
    assert tracker.finish_resync(listed) == []
    assert [c.uniqueid for c in tracker.channels()] == ["new"]


def test_rename():
    """A Rename event changes the name used by by_name()."""
    tracker = ChannelTracker()
    tracker.handle(Message.event("Newchannel", {"Channel": "SIP/a-1", "Uniqueid": "u"}))
    tracker.handle(
        Message.event("Rename", {"Channel": "SIP/a-1", "Newname": "SIP/b-1", "Uniqueid": "u"})
    )
    assert tracker.by_name("SIP/a-1") is None
    assert tracker.by_name("SIP/b-1").uniqueid == "u"
