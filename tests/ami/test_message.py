"""
Tests for L{dialer.ami.message}: Message access, serialization, and the Framer.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.ami.message import (
    KIND_ACTION,
    KIND_EVENT,
    KIND_RESPONSE,
    Framer,
    Garbage,
    LineTooLong,
    Message,
    MessageError,
    MessageTooLong,
)
from tests.traces import all_traces, raw_files

# -- Message --------------------------------------------------------------------------


def test_repeated_headers_kept_in_order():
    """Repeated headers (Variable:) are all kept, in order, and get() returns the first."""
    m = Message.action("Originate", {"Variable": ["A=1", "B=2"], "Async": True}, action_id="x")
    assert m.get_all("Variable") == ["A=1", "B=2"]
    assert m.get("variable") == "A=1"
    assert m.headers == (
        ("Action", "Originate"),
        ("ActionID", "x"),
        ("Variable", "A=1"),
        ("Variable", "B=2"),
        ("Async", "true"),
    )


def test_kind_name_and_action_id():
    """kind/name come from the first Action/Response/Event header; OriginateResponse is an event."""
    ev = Message([("Event", "OriginateResponse"), ("ActionID", "o1"), ("Response", "Failure")])
    assert (ev.kind, ev.name, ev.action_id, ev.is_event) == (
        KIND_EVENT,
        "OriginateResponse",
        "o1",
        True,
    )
    resp = Message.response("Success", {"Message": "ok"}, action_id="a")
    assert (resp.kind, resp.name, resp.is_response) == (KIND_RESPONSE, "Success", True)
    act = Message([("ActionID", "q"), ("Action", "Ping")])
    assert (act.kind, act.name, act.is_action) == (KIND_ACTION, "Ping", True)
    assert Message([("Foo", "bar")]).kind is None


def test_lookup_is_case_insensitive_and_missing_keys():
    """get/[]/in ignore case; a missing key gives None, [] or KeyError."""
    m = Message([("ActionID", "1"), ("Output", "a"), ("output", "b")])
    assert m["actionid"] == "1"
    assert "OUTPUT" in m
    assert m.output == ["a", "b"]
    assert m.get("Nope") is None
    assert m.get_all("Nope") == []
    with pytest.raises(KeyError):
        m["Nope"]


def test_immutable():
    """A Message cannot be changed; derived copies leave the original alone."""
    m = Message.event("Hangup", {"Cause": "16"})
    with pytest.raises(AttributeError):
        m.foo = 1  # type: ignore[attr-defined]
    m2 = m.replace("Cause", "17").with_headers({"X": "y"})
    assert m.get("Cause") == "16"
    assert m2.get("Cause") == "17" and m2.get("X") == "y"
    assert m2.without("X") == m.replace("Cause", "17")


def test_serialize_wire_form():
    """serialize() writes 'Key: Value' CRLF lines and an empty line."""
    m = Message.action("Ping", action_id="p1")
    assert m.serialize() == b"Action: Ping\r\nActionID: p1\r\n\r\n"


@pytest.mark.parametrize(
    "headers",
    [[("Bad:Key", "v")], [("", "v")], [("K", "a\r\nAction: Hangup")], [("K\n", "v")]],
)
def test_serialize_refuses_injection(headers):
    """Keys with ':'/CR/LF, empty keys and values with line breaks cannot be serialized."""
    with pytest.raises(MessageError):
        Message(headers).serialize()


def test_event_list_marker():
    """event_list gives the EventList header lower-cased."""
    assert Message.response("Success", {"EventList": "start"}).event_list == "start"
    assert Message.event("StatusComplete", {"EventList": "Complete"}).event_list == "complete"
    assert Message.event("Newchannel").event_list is None


# -- Framer ---------------------------------------------------------------------------


def test_banner_is_not_a_message():
    """With banner=True the first line is kept as the banner, even with no empty line after it."""
    f = Framer(banner=True)
    out = f.feed(b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\nActionID: 1\r\n\r\n")
    assert f.banner == "Asterisk Call Manager/11.0.0"
    assert out == [Message([("Response", "Success"), ("ActionID", "1")])]


def test_banner_split_across_chunks():
    """The banner may arrive in pieces; nothing is returned until its line ends."""
    f = Framer(banner=True)
    assert f.feed(b"Asterisk Call") == []
    assert f.banner is None
    assert f.feed(b" Manager/11.0.0\r") == []
    assert f.feed(b"\nEvent: X\r\n\r\n") == [Message([("Event", "X")])]
    assert f.banner == "Asterisk Call Manager/11.0.0"


def test_bare_lf_and_blank_lines_between_messages():
    """Bare LF line ends are accepted and extra empty lines between messages are skipped."""
    f = Framer()
    out = f.feed(b"\r\nAction: Ping\nActionID: 1\n\n\r\n\nAction: Logoff\r\n\r\n")
    assert [m.name for m in out] == ["Ping", "Logoff"]


def test_value_details():
    """One space after the colon is dropped; empty values, colons in values and no-space forms work."""
    f = Framer()
    (m,) = f.feed(b"SystemName: \r\nOutput: a: b\r\nKey:x\r\nK:  two\r\n\r\n")
    assert m.headers == (("SystemName", ""), ("Output", "a: b"), ("Key", "x"), ("K", " two"))


def test_non_utf8_round_trips():
    """Bytes that are not UTF-8 survive parse and serialize unchanged."""
    wire = b"Event: X\r\nCallerIDName: Caf\xe9\r\n\r\n"
    (m,) = Framer().feed(wire)
    assert m.serialize() == wire


def test_over_long_line_raises_and_framer_stays_failed():
    """A line longer than max_line raises LineTooLong, and later feeds raise too."""
    f = Framer(max_line=64)
    with pytest.raises(LineTooLong):
        f.feed(b"Event: " + b"x" * 100)
    with pytest.raises(LineTooLong):
        f.feed(b"\r\n\r\n")


def test_over_long_line_in_pieces():
    """An over-long line is caught even when it is fed one byte at a time with no line end."""
    f = Framer(max_line=32)
    with pytest.raises(LineTooLong):
        for b in b"Event: X\r\nData: " + b"y" * 40:
            f.feed(bytes([b]))


def test_over_long_complete_line_in_unfinished_message():
    """A finished over-long line inside an unfinished message is caught before the message ends."""
    f = Framer(max_line=32)
    f.feed(b"Event: X\r\n")
    with pytest.raises(LineTooLong):
        f.feed(b"Data: " + b"y" * 40 + b"\r\nMore: 1\r\n" + b"Z: 1\r\n" * 3)


def test_over_long_line_in_complete_message():
    """An over-long line inside a message that arrives whole raises LineTooLong."""
    with pytest.raises(LineTooLong):
        Framer(max_line=32).feed(b"Event: X\r\nData: " + b"y" * 40 + b"\r\n\r\n")


def test_over_long_message():
    """A message longer than max_message raises MessageTooLong, complete or not."""
    with pytest.raises(MessageTooLong):
        Framer(max_message=100).feed(b"Event: X\r\n" + b"K: v\r\n" * 30)
    with pytest.raises(MessageTooLong):
        Framer(max_message=100).feed(b"Event: X\r\n" + b"K: v\r\n" * 30 + b"\r\n")


def test_over_long_banner():
    """A banner with no line end within max_line raises LineTooLong."""
    with pytest.raises(LineTooLong):
        Framer(banner=True, max_line=20).feed(b"A" * 30)


@pytest.mark.parametrize(
    "data",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"Event: X\r\nno colon here\r\n\r\n",
        b"E: \x00\r\n\r\n",
        b"Event: X\r\n:a: b\r\n\r\n",
        b"Event: X\r\nab\rcd: x\r\n\r\n",
        b"Event: X\r\nK: a\rb\r\n\r\n",
    ],
)
def test_garbage(data):
    """A line that is not 'Key: Value' or a NUL byte raises Garbage."""
    with pytest.raises(Garbage):
        Framer().feed(data)


def test_lone_cr_at_end_waits():
    """A CR at the end of the buffer between messages is not mistaken for content."""
    f = Framer()
    assert [m.name for m in f.feed(b"Event: A\r\n\r\n\r")] == ["A"]
    assert [m.name for m in f.feed(b"\nEvent: B\r\n\r\n")] == ["B"]
    assert f.buffered == 0


# -- properties -----------------------------------------------------------------------

_key = st.text(
    alphabet=st.characters(blacklist_characters=":\r\n", blacklist_categories=("Cs", "Zs", "Cc")),
    min_size=1,
    max_size=12,
)
_value = st.text(
    alphabet=st.characters(blacklist_characters="\r\n\x00", blacklist_categories=("Cs",)),
    max_size=30,
)
_message = st.lists(st.tuples(_key, _value), min_size=1, max_size=8).map(Message)


@given(st.lists(_message, max_size=6), st.data())
@settings(max_examples=300, deadline=None)
def test_round_trip_any_chunking(messages, data):
    """Serialized messages parse back to themselves however the bytes are split."""
    wire = b"".join(m.serialize() for m in messages)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=10)))
    f = Framer()
    out = []
    prev = 0
    for c in [*cuts, len(wire)]:
        out += f.feed(wire[prev:c])
        prev = c
    assert out == messages
    assert f.buffered == 0


@given(st.binary(max_size=300))
@settings(max_examples=300, deadline=None)
def test_arbitrary_bytes_never_crash(data):
    """Any bytes give messages or a FramingError, never another exception."""
    from dialer.ami.message import FramingError

    f = Framer(banner=True, max_line=64, max_message=256)
    try:
        for i in range(0, len(data), 5):
            f.feed(data[i : i + 5])
    except FramingError:
        pass


# -- reference traces -----------------------------------------------------------------


def _feed_chunks(data: bytes, size: int) -> tuple[list[Message], Framer]:
    f = Framer(banner=True)
    out: list[Message] = []
    for i in range(0, len(data), size):
        out += f.feed(data[i : i + size])
    return out, f


@pytest.mark.parametrize("path", raw_files(), ids=lambda p: p.name.removesuffix(".rx.raw.txt"))
@pytest.mark.parametrize("size", [1, 2, 7])
def test_raw_trace_any_chunk_size(path, size):
    """Every raw trace parses to the same messages in chunks of 1, 2 and 7 bytes as whole."""
    data = path.read_bytes()
    whole, f_whole = _feed_chunks(data, len(data))
    chunked, f = _feed_chunks(data, size)
    assert chunked == whole
    assert f.banner == f_whole.banner == "Asterisk Call Manager/11.0.0"
    assert f.buffered == 0


@pytest.mark.parametrize("trace", all_traces(), ids=lambda t: t.scenario)
def test_raw_trace_matches_transcript(trace):
    """The whole-feed parse of each raw file equals the transcript's received messages."""
    for conn in trace.connections:
        raw = trace.raw_received(conn)
        assert raw is not None
        whole, _ = _feed_chunks(raw, len(raw))
        assert whole == trace.received(conn)
        assert b"".join(m.serialize() for m in whole) in raw


def test_repeated_headers_in_traces():
    """The traces' Status with Variables and Command output keep every repeated header."""
    from tests.traces import load

    f = load("f")
    outputs = [m for m in f.received() if len(m.get_all("Output")) > 1]
    assert outputs, "core show channels concise should give several Output: lines"
    status = [m for m in f.received() if m.name == "Status" and len(m.get_all("Variable")) > 1]
    assert status


def test_large_message_trickled_byte_by_byte():
    """A 100 KB Command output fed one byte at a time parses (the buffer does not recopy)."""
    lines = [("Output", f"line {i} " + "x" * 40) for i in range(2000)]
    msg = Message.response("Success", lines, action_id="cmd")
    wire = msg.serialize()
    assert len(wire) > 100_000
    f = Framer()
    out = []
    for i in range(len(wire)):
        out += f.feed(wire[i : i + 1])
    assert out == [msg]
