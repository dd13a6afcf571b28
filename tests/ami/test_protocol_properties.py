"""
Property tests for L{AMIProtocol}: whatever Asterisk answers (or not), in whatever order
and chunking, and wherever the connection drops, every Deferred fires exactly as the
replies say and none is left pending; no timer is left behind.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.task import Clock
from twisted.python.failure import Failure

from dialer.ami.message import Message
from dialer.ami.protocol import (
    ActionFailed,
    ActionTimeout,
    ConnectionDropped,
    EventListResult,
    OriginateResult,
)
from tests.ami.helpers import IdsFrom, connected, feed, lose

KINDS = st.sampled_from(["ping", "list", "originate"])
FATES = st.sampled_from(["success", "error", "silent"])


def replies_for(kind: str, aid: str, fate: str, n_items: int) -> list[bytes]:
    if fate == "silent":
        return []
    if fate == "error":
        return [
            Message.response("Error", {"Message": "No such channel"}, action_id=aid).serialize()
        ]
    if kind == "ping":
        return [Message.response("Success", {"Ping": "Pong"}, action_id=aid).serialize()]
    if kind == "list":
        out = [Message.response("Success", {"EventList": "start"}, action_id=aid).serialize()]
        out += [
            Message.event("CoreShowChannel", [("ActionID", aid), ("Uniqueid", str(i))]).serialize()
            for i in range(n_items)
        ]
        out.append(
            Message.event(
                "CoreShowChannelsComplete",
                [("ActionID", aid), ("EventList", "Complete"), ("ListItems", str(n_items))],
            ).serialize()
        )
        return out
    return [
        Message.response(
            "Success", {"Message": "Originate successfully queued"}, action_id=aid
        ).serialize(),
        Message.event(
            "OriginateResponse", [("ActionID", aid), ("Response", "Failure"), ("Reason", "5")]
        ).serialize(),
    ]


def result_of(d):
    box = []
    d.addBoth(lambda r: (box.append(r), None)[1])
    return box[0] if box else "PENDING"


@given(
    st.lists(st.tuples(KINDS, FATES, st.integers(0, 3)), min_size=1, max_size=6),
    st.randoms(use_true_random=False),
    st.integers(1, 40),
    st.booleans(),
    st.booleans(),
)
@settings(max_examples=120, deadline=None)
def test_every_deferred_fires(actions, rnd, chunk, drop_early, let_time_pass):
    """Each action ends as its replies say; silence ends in a timeout or ConnectionDropped."""
    clock = Clock()
    ids = [f"id{i}" for i in range(len(actions))]
    p, t = connected(clock, action_timeout=5.0, id_factory=IdsFrom(list(ids)))
    handles = []
    for kind, _, _ in actions:
        if kind == "ping":
            handles.append(p.ping())
        elif kind == "list":
            handles.append(p.send_list_action(Message.action("CoreShowChannels")))
        else:
            handles.append(p.originate("Local/1@callee", context="s", exten="s", timeout=10))
    # Interleave the reply streams of all actions, each kept in its own order.
    streams = [
        list(replies_for(kind, aid, fate, n))
        for (kind, fate, n), aid in zip(actions, ids, strict=True)
    ]
    wire = b""
    while any(streams):
        s = rnd.choice([s for s in streams if s])
        wire += s.pop(0)
    cut = len(wire) // 2 if drop_early else len(wire)
    feed(p, wire[:cut], chunk)
    if let_time_pass:
        clock.advance(100.0)
    lose(p, t)
    assert clock.getDelayedCalls() == []
    for (kind, fate, n), h in zip(actions, handles, strict=True):
        outcomes = (
            [result_of(h.queued()), result_of(h.result())]
            if kind == "originate"
            else [result_of(h)]
        )
        for r in outcomes:
            assert r != "PENDING"
            if isinstance(r, Failure):
                assert r.check(ActionFailed, ActionTimeout, ConnectionDropped)
                if fate == "error" and not drop_early:
                    assert r.check(ActionFailed)
            else:
                assert fate == "success"
        if fate == "success" and not drop_early and not isinstance(outcomes[-1], Failure):
            if kind == "list":
                assert isinstance(outcomes[0], EventListResult) and len(outcomes[0].events) == n
            if kind == "originate":
                assert isinstance(outcomes[1], OriginateResult) and outcomes[1].reason == 5
        if fate == "success" and not drop_early:
            assert not isinstance(outcomes[-1], Failure)
