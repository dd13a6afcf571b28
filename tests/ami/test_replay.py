"""
Replay of every reference AMI trace against L{AMIProtocol} (STYLE.md §6).

A scripted peer drives the protocol through its public API with the action each C{>>}
record shows (ActionIDs injected so they match), checks that what we wrote is that
action, then delivers the following C{<<} records in chunks of 1, 2, 7 bytes or whole.
At the end every Deferred must have the outcome the trace implies: the response, an
L{ActionFailed} carrying the C{Response: Error}, the C{OriginateResponse}, the list's
events, or L{ConnectionDropped} when Asterisk went away (g1, g2, g3). Nothing hangs.
"""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.python.failure import Failure

from dialer.ami.channels import ChannelTracker
from dialer.ami.message import Message
from dialer.ami.protocol import (
    ActionFailed,
    AMIProtocol,
    AuthenticationFailed,
    ConnectionDropped,
    EventListResult,
    Originate,
    OriginateResult,
)
from tests.ami.helpers import IdsFrom, connected, feed, lose, written
from tests.traces import all_traces

CHUNKS = [1, 2, 7, None]


def canonical(m: Message) -> list[tuple[str, str]]:
    return sorted(m.headers)


REQUIRED = {
    "Login": ("Username", "Secret"),
    "Originate": ("Channel",),
    "Hangup": ("Channel",),
    "Redirect": ("Channel", "Context", "Exten"),
    "Getvar": ("Variable",),
    "Setvar": ("Variable", "Value"),
    "Command": ("Command",),
}


def drive(p: AMIProtocol, m: Message) -> Any:
    """Ask the protocol, through its API, for the action C{m}; return what it gives back."""
    name = m.name
    h = m.get
    if name is None or any(h(k) is None for k in REQUIRED.get(name, ())):
        # Malformed on purpose (scenario e): send it as it is.
        return p.send_action(m)
    if name == "Login":
        return p.login(h("Username") or "", h("Secret") or "")
    if name == "Originate":
        timeout = h("Timeout")
        return p.originate(
            h("Channel") or "",
            context=h("Context"),
            exten=h("Exten"),
            priority=h("Priority"),
            application=h("Application"),
            data=h("Data"),
            timeout=int(timeout) / 1000 if timeout else None,
            caller_id=h("CallerID"),
            variables=[tuple(v.split("=", 1)) for v in m.get_all("Variable")],
            channel_id=h("ChannelId"),
            other_channel_id=h("OtherChannelId"),
            async_=(h("Async") or "").lower() == "true",
        )
    if name == "Hangup" and (h("Channel") or "").startswith("/"):
        return p.send_list_action(Message.action("Hangup", [("Channel", h("Channel") or "")]))
    if name == "Hangup":
        cause = h("Cause")
        return p.hangup(h("Channel") or "", None if cause is None else int(cause))
    if name == "Redirect":
        return p.redirect(
            h("Channel") or "", h("Context") or "", h("Exten") or "", h("Priority") or 1
        )
    if name == "Getvar":
        return p.getvar(h("Variable") or "", h("Channel"))
    if name == "Setvar":
        return p.setvar(h("Variable") or "", h("Value") or "", h("Channel"))
    if name == "Status":
        variables = h("Variables")
        return p.status(h("Channel"), variables.split(",") if variables else ())
    if name == "CoreShowChannels":
        return p.core_show_channels()
    if name == "BridgeList":
        return p.send_list_action(Message.action("BridgeList"))
    if name == "Command":
        return p.command(h("Command") or "")
    if name == "Ping":
        return p.ping()
    rest = [(k, v) for k, v in m.headers if k.lower() not in ("action", "actionid")]
    return p.send_action(Message.action(name, rest))


def outcome(d: Deferred[Any]) -> Any:
    """The current result of a Deferred (Failure included) without consuming it, or a marker."""
    box: list[Any] = []
    d.addBoth(lambda r: (box.append(r), r)[1])
    if not box:
        return "PENDING"
    r = box[0]
    if isinstance(r, Failure):
        d.addErrback(lambda f: None)
    return r


def connections():
    for trace in all_traces():
        for conn in trace.connections:
            yield pytest.param(trace, conn, id=f"{trace.scenario}-{conn}")


@pytest.mark.parametrize("size", CHUNKS, ids=lambda s: f"chunk{s or 'whole'}")
@pytest.mark.parametrize(("trace", "conn"), list(connections()))
def test_replay(trace, conn, size):
    """Our actions equal the trace's; replies in any chunking give the trace's outcomes."""
    clock = Clock()
    ids = IdsFrom()
    p, t = connected(clock, banner=False, id_factory=ids)
    tracker = ChannelTracker()
    events: list[Message] = []

    def sink(e: Message) -> None:
        events.append(e)
        tracker.handle(e)

    p.event_sink = sink
    calls: list[tuple[Message, Any]] = []
    closed = False
    for sent, replies in trace.exchanges(conn):
        if sent is not None:
            if sent.action_id is None:
                # A bare Ping with no ActionID: we always add one, so send it raw.
                t.write(sent.serialize())
                assert written(t) == [sent]
            else:
                ids.ids = [sent.action_id]
                calls.append((sent, drive(p, sent)))
                (ours,) = written(t)
                assert canonical(ours) == canonical(sent)
        data = b"".join(e.wire() for e in replies)
        feed(p, data, size)
        if any(e.kind == "eof" for e in replies):
            lose(p, t)
            closed = True
    received = trace.received(conn)
    if not closed:
        lose(p, t)
    assert p.banner == "Asterisk Call Manager/11.0.0"

    responses = {m.action_id: m for m in received if m.is_response and m.action_id}
    orig_events = {m.action_id: m for m in received if m.is_event and m.name == "OriginateResponse"}
    for sent, result in calls:
        aid = sent.action_id
        response = responses.get(aid)
        if isinstance(result, Originate):
            queued = outcome(result.queued())
            final = outcome(result.result())
        else:
            queued = outcome(result)
            final = None
        if response is None:
            # Asterisk went away before answering: the action failed, it did not hang.
            assert isinstance(queued, Failure) and queued.check(ConnectionDropped), (aid, queued)
            continue
        if response.name == "Error":
            assert isinstance(queued, Failure), (aid, queued)
            error = queued.value
            assert isinstance(error, ActionFailed) and error.response == response
            if sent.name == "Login":
                assert isinstance(error, AuthenticationFailed) == (
                    response.get("Message") == "Authentication failed"
                )
            if final is not None:
                assert isinstance(final, Failure) and final.value is error
            continue
        assert not isinstance(queued, Failure), (aid, queued)
        if isinstance(result, Originate):
            assert queued == response
            event = orig_events.get(aid)
            if event is not None:
                assert isinstance(final, OriginateResult) and final.message == event
                assert final.success == (event.get("Response") == "Success")
                assert final.reason == int(event["Reason"])
            elif sent.get("Async"):
                assert isinstance(final, Failure) and final.check(ConnectionDropped)
            else:
                assert isinstance(final, OriginateResult) and final.success
        elif sent.name == "Getvar":
            assert queued == response.get("Value")
        elif sent.name == "Command":
            assert queued == response.output
        elif sent.name == "CoreShowChannels":
            items = [m for m in received if m.name == "CoreShowChannel" and m.action_id == aid]
            assert queued == items
        elif response.event_list == "start":
            assert isinstance(queued, EventListResult)
            assert queued.response == response
            assert queued.complete is not None
            assert len(queued.events) == int(queued.complete["ListItems"])
        else:
            assert queued == response

    # List items went to their action, everything else to the subscribers.
    list_ids = {aid for aid, r in responses.items() if r.event_list == "start"}
    expected_events = [
        m for m in received if m.is_event and not (m.action_id in list_ids and m.action_id)
    ]
    assert events == expected_events
    if trace.scenario != "g3":
        assert len(tracker) == 0
    assert clock.getDelayedCalls() == []


def test_concurrent_originates_h():
    """Three Originates sent back to back get their own results, whatever the event order."""
    trace = next(t for t in all_traces() if t.scenario == "h")
    p, t = connected(id_factory=IdsFrom(["batch-0", "batch-2", "batch-4"]))
    handles = {}
    for sent in trace.sent()[1:4]:
        handles[sent.action_id] = drive(p, sent)
    written(t)
    feed(p, trace.received_bytes()[len(b"Asterisk Call Manager/11.0.0\r\n") :], 7)
    reasons = {aid: outcome(h.result()).reason for aid, h in handles.items()}
    assert reasons == {"batch-0": 5, "batch-2": 4, "batch-4": 8}
    answered = outcome(handles["batch-2"].result())
    assert answered.success and answered.channel.startswith("Local/20002@callee-")
    lose(p, t)
