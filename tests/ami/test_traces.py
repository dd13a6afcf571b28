"""
Tests for the reference-trace reader L{tests.traces} (shared with the simulator's tests).
"""

from __future__ import annotations

import pytest

from tests.traces import DEFAULT_CONNECTION, RECEIVED, SENT, all_traces, load, raw_files, scenarios


def test_every_transcript_and_raw_file_is_read():
    """All 24 transcripts parse, and every raw file belongs to a connection of one of them."""
    traces = all_traces()
    assert len(traces) == len(scenarios()) == 24
    expected = {t.raw_path(c) for t in traces for c in t.connections}
    assert set(raw_files()) == expected


@pytest.mark.parametrize("trace", all_traces(), ids=lambda t: t.scenario)
def test_rebuilt_bytes_equal_raw(trace):
    """The bytes rebuilt from each transcript connection equal the raw capture exactly."""
    for conn in trace.connections:
        assert trace.received_bytes(conn) == trace.raw_received(conn)


def test_connections_and_records():
    """Tagged connections are kept apart; banner and EOF records are typed; notes are read."""
    e = load("e")
    assert e.connections == ["main", "bad1", "bad2"]
    bad1 = e.connection("bad1")
    assert bad1[0].kind == "banner" and bad1[0].direction == RECEIVED
    assert bad1[-1].kind == "eof"
    assert e.closed_by_asterisk("bad1") and e.closed_by_asterisk("bad2")
    assert [m.name for m in e.sent("bad1")] == ["Ping", "CoreStatus", "Login"]
    g1 = load("g1_core_restart_now")
    assert g1.connections == [DEFAULT_CONNECTION, "after-restart-4"]
    assert any("reconnect attempt 4" in n.text for n in g1.notes)


def test_messages_and_exchanges():
    """messages() gives (time, direction, Message) in order; exchanges() cuts at each send."""
    b0 = load("b0")
    msgs = b0.messages()
    times = [t for t, _, _ in msgs]
    assert times == sorted(times)
    assert msgs[0][1] == SENT and msgs[0][2].name == "Login"
    exchanges = b0.exchanges()
    assert exchanges[0][0] is None and exchanges[0][1][0].kind == "banner"
    assert [s.name for s, _ in exchanges[1:]] == [m.name for m in b0.sent()]
    assert sum(len(r) for _, r in exchanges) == len(
        [e for e in b0.connection() if e.direction == RECEIVED]
    )


def test_load_by_id_is_unambiguous():
    """A scenario id picks one transcript; an unknown id raises KeyError."""
    assert load("b0").name == "b0_originate_busy"
    assert load("b0c").name == "b0c_originate_busy_with_channelid"
    with pytest.raises(KeyError):
        load("zz")
