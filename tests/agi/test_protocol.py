"""FastAGIProtocol over StringTransport: the b2/b3 traces replayed, hang-ups, timeouts, garbage."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet import defer
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from dialer.agi import replies
from dialer.agi.protocol import FastAGIProtocol
from dialer.agi.replies import (
    CallHungUp,
    CommandError,
    CommandTimeout,
    DeadChannel,
    MalformedStream,
    Reply,
    SessionClosed,
)
from tests.agi import traces

ENV = b"agi_network: yes\nagi_network_script: survey\nagi_uniqueid: 1.1\n\n"


class Harness:
    """A protocol on a StringTransport with a Clock; the session function is given per test."""

    def __init__(self, session=None, **kwargs):
        self.clock = Clock()
        self.session = session
        self.agi = None
        self.round_trips = []
        self.protocol = FastAGIProtocol(
            self.clock,
            self.route,
            round_trip=lambda verb, seconds: self.round_trips.append((verb, seconds)),
            **kwargs,
        )
        self.transport = StringTransport()
        self.protocol.makeConnection(self.transport)

    def route(self, env):
        if self.session is None:
            return None
        return self.session

    def feed(self, data, size=0):
        for piece in traces.chunks(data, size):
            self.protocol.dataReceived(piece)

    def written(self):
        return self.transport.value().decode().split("\n")[:-1]


def _outcome(d):
    """What a command Deferred ended with: the Reply, or the exception type."""
    box = []
    d.addCallbacks(box.append, lambda f: box.append(f.value))
    return box[0] if box else None


def _recorder(commands, *, dead_ok):
    """A session function sending C{commands} one by one and recording each outcome.

    With C{dead_ok} every command is sent as one Asterisk still serves after a hang-up
    (the trace's own script did that); without, the first hang-up ends the session.
    """
    results = []

    async def session(agi):
        for line in commands:
            try:
                results.append(await agi.send_command(line, dead_ok=dead_ok))
            except (CallHungUp, CommandError) as error:
                results.append(error)
                if isinstance(error, CallHungUp) and not dead_ok:
                    return

    return session, results


def _kinds(results):
    return [r.code if isinstance(r, Reply) else type(r).__name__ for r in results]


@pytest.mark.parametrize("size", traces.CHUNK_SIZES)
class TestTraceReplay:
    def test_b3_every_command(self, size):
        """b3 replayed: every trace command is written as recorded and gets its reply."""
        commands = traces.sent(traces.B3)
        session, results = _recorder(commands, dead_ok=True)
        h = Harness(session)
        h.feed(traces.received(traces.B3), size)
        assert h.written() == commands
        kinds = _kinds(results)
        assert kinds.count("CommandError") == 2  # 510 and the 520 block
        assert kinds[-1] == "DeadChannel"  # STREAM FILE after the hang-up: 511
        assert results[-2].data == "1"  # GET VARIABLE after HANGUP still answered
        usage = [r for r in results if isinstance(r, CommandError) and r.reply.code == 520]
        assert usage[0].reply.usage[0].startswith("Send the given file")
        assert h.transport.disconnecting  # we close; Asterisk never does

    def test_b3_digits(self, size):
        """b3: STREAM FILE gives '1' (ASCII 49), GET DATA '3', WAIT FOR DIGIT '#', then timeouts."""
        commands = traces.sent(traces.B3)
        session, results = _recorder(commands, dead_ok=True)
        h = Harness(session)
        h.feed(traces.received(traces.B3), size)
        by_command = dict(zip(commands, results, strict=True))
        assert replies.key_result(by_command['STREAM FILE demo-congrats "0123456789*#"']).key == "1"
        assert replies.digits_result(by_command["GET DATA beep 6000 1"]).digits == "3"
        assert replies.key_result(by_command["WAIT FOR DIGIT 5000"]).key == "#"
        assert replies.digits_result(by_command["GET DATA beep 2000 4"]).timed_out
        assert replies.key_result(by_command["WAIT FOR DIGIT 1000"]).key is None

    def test_b3_hangup_fails_pending(self, size):
        """b3 with hang-up rules: the HANGUP line fails the pending GET VARIABLE; nothing more is sent."""
        commands = traces.sent(traces.B3)
        session, results = _recorder(commands, dead_ok=False)
        h = Harness(session)
        h.feed(traces.received(traces.B3), size)
        assert type(results[-1]) is CallHungUp
        assert h.written() == commands[:-1]  # the last STREAM FILE was never sent
        assert h.protocol.hung_up
        assert h.transport.disconnecting

    def test_b2_replay(self, size):
        """b2: playback cut by the hang-up (-1, endpos>0), HANGUP line, then 511s on media commands."""
        commands = traces.sent(traces.B2)
        session, results = _recorder(commands, dead_ok=True)
        h = Harness(session)
        h.feed(traces.received(traces.B2), size)
        assert h.written() == commands
        assert _kinds(results) == [200, 200, 200, 200, "DeadChannel", "DeadChannel", 200]
        played = replies.key_result(results[2])
        assert played.failed and played.endpos == 44160
        assert h.protocol.env.args == ("test", "arg two")

    def test_b2_hangup_mid_command(self, size):
        """b2 with hang-up rules: the GET VARIABLE caught by HANGUP fails and the session ends."""
        commands = traces.sent(traces.B2)
        session, results = _recorder(commands, dead_ok=False)
        h = Harness(session)
        h.feed(traces.received(traces.B2), size)
        assert _kinds(results) == [200, 200, 200, "CallHungUp"]
        assert h.written() == commands[:4]
        assert h.transport.disconnecting


class TestHangup:
    def _started(self):
        h = Harness(lambda agi: defer.Deferred())  # a session that never ends by itself
        h.feed(ENV)
        return h, h.protocol

    def test_hangup_fails_pending_and_later(self):
        """A HANGUP line fails every pending command; their late replies are dropped in order."""
        h, agi = self._started()
        first = agi.send_command('STREAM FILE a ""')
        second = agi.send_command('STREAM FILE b ""')
        kept = agi.send_command("GET VARIABLE X", dead_ok=True)
        h.feed(b"HANGUP\n")
        assert isinstance(_outcome(first), CallHungUp)
        assert isinstance(_outcome(second), CallHungUp)
        assert kept.called is False
        h.feed(b"200 result=0 endpos=10\n200 result=0 endpos=0\n200 result=1 (v)\n")
        assert _outcome(kept).data == "v"

    def test_commands_after_hangup_not_sent(self):
        """After a hang-up a media command fails at once and writes nothing; dead_ok ones go out."""
        h, agi = self._started()
        h.feed(b"HANGUP\n")
        before = h.transport.value()
        assert isinstance(_outcome(agi.send_command("WAIT FOR DIGIT 1000")), CallHungUp)
        assert h.transport.value() == before
        agi.send_command('VERBOSE "x" 1', dead_ok=True)
        assert h.transport.value().endswith(b'VERBOSE "x" 1\n')

    def test_511_is_hangup(self):
        """A 511 reply fails with DeadChannel, a CallHungUp, and marks the channel hung up."""
        h, agi = self._started()
        d = agi.send_command('STREAM FILE beep ""')
        h.feed(b"511 Command Not Permitted on a dead channel or intercept routine\n")
        error = _outcome(d)
        assert isinstance(error, DeadChannel) and isinstance(error, CallHungUp)
        assert agi.hung_up

    def test_when_hung_up(self):
        """when_hung_up fires on the HANGUP line."""
        h, agi = self._started()
        d = agi.when_hung_up()
        assert not d.called
        h.feed(b"HANGUP\n")
        assert d.called

    def test_no_line_break_injection(self):
        """A command containing a line break is refused, not sent as two commands."""
        h, agi = self._started()
        before = h.transport.value()
        assert isinstance(_outcome(agi.send_command("VERBOSE x\nHANGUP")), ValueError)
        assert h.transport.value() == before

    def test_510_is_command_error(self):
        """A 510 reply fails that command only; the session goes on."""
        h, agi = self._started()
        d = agi.send_command("THIS IS NOT A COMMAND")
        h.feed(b"510 Invalid or unknown command\n")
        assert _outcome(d).reply.code == 510
        assert not h.transport.disconnecting


class TestTimeouts:
    def test_command_timeout_closes(self):
        """A command with no reply in time fails with CommandTimeout, as do later ones; we hang up the socket."""
        h = Harness(lambda agi: defer.Deferred(), command_timeout=5)
        h.feed(ENV)
        agi = h.protocol
        first = agi.send_command("ANSWER")
        second = agi.send_command('STREAM FILE x ""', timeout=60)
        h.clock.advance(4.9)
        assert not first.called
        h.clock.advance(0.2)
        assert isinstance(_outcome(first), CommandTimeout)
        assert isinstance(_outcome(second), CommandTimeout)
        assert h.transport.disconnecting
        assert isinstance(_outcome(agi.send_command("ANSWER")), SessionClosed)

    def test_trickling_peer_times_out(self):
        """A slow peer sending a byte a second and never a full reply still times out."""
        h = Harness(lambda agi: defer.Deferred(), command_timeout=5)
        h.feed(ENV)
        d = h.protocol.send_command("ANSWER")
        for byte in b"200 result=0":
            h.feed(bytes([byte]))
            h.clock.advance(1.0)
            if d.called:
                break
        assert isinstance(_outcome(d), CommandTimeout)
        assert h.transport.disconnecting

    def test_per_command_timeout(self):
        """A command's own timeout overrides the default."""
        h = Harness(lambda agi: defer.Deferred(), command_timeout=5)
        h.feed(ENV)
        d = h.protocol.send_command("GET DATA q 6000 1", timeout=20)
        h.clock.advance(10)
        assert not d.called
        h.feed(b"200 result=1\n")
        assert _outcome(d).result == "1"

    def test_reply_cancels_timer(self):
        """An answered command leaves no timer behind."""
        h = Harness(lambda agi: defer.Deferred())
        h.feed(ENV)
        h.protocol.send_command("ANSWER")
        h.feed(b"200 result=0\n")
        assert h.clock.getDelayedCalls() == []

    def test_environment_timeout(self):
        """A peer that connects and sends no environment block is dropped."""
        h = Harness(lambda agi: None, env_timeout=10)
        h.feed(b"agi_network: yes\n")
        h.clock.advance(10)
        assert h.transport.disconnecting

    def test_round_trip_observed(self):
        """The observer gets each command's verb and round-trip time, never its arguments."""
        h = Harness(lambda agi: defer.Deferred())
        h.feed(ENV)
        h.protocol.send_command("GET DATA q 6000 1")
        h.clock.advance(1.5)
        h.feed(b"200 result=1\n")
        assert h.round_trips == [("GET DATA", 1.5)]


class TestMalformed:
    @pytest.mark.parametrize(
        "garbage",
        [b"garbage\n", b"200 result\n", b"HTTP/1.1 400 Bad Request\r\n", b"x" * 9000],
    )
    def test_garbage_closes_session(self, garbage):
        """Garbage in place of a reply fails the pending command and closes this connection."""
        h = Harness(lambda agi: defer.Deferred())
        h.feed(ENV)
        d = h.protocol.send_command("ANSWER")
        h.feed(garbage)
        assert isinstance(_outcome(d), MalformedStream)
        assert h.transport.disconnecting

    def test_garbage_environment(self):
        """A connection that does not start with an environment block is closed, no session runs."""
        started = []
        h = Harness(lambda agi: started.append(agi))
        h.feed(b"GET / HTTP/1.0\n\n")
        assert h.transport.disconnecting
        assert started == []

    def test_unsolicited_reply(self):
        """A reply with no command pending is a malformed stream."""
        h = Harness(lambda agi: defer.Deferred())
        h.feed(ENV + b"200 result=0\n")
        assert h.transport.disconnecting


class TestLifecycle:
    def test_we_close_when_session_ends(self):
        """When the session function returns, we close the socket (Asterisk will not)."""

        async def session(agi):
            await agi.send_command("ANSWER")

        h = Harness(session)
        h.feed(ENV)
        assert not h.transport.disconnecting
        h.feed(b"200 result=0\n")
        assert h.transport.disconnecting
        assert not h.protocol.ended.called
        h.protocol.connectionLost()
        assert h.protocol.ended.called

    def test_session_bug_still_closes(self):
        """A session function that raises a bug is logged and the socket still closes."""

        async def session(agi):
            raise RuntimeError("bug")

        h = Harness(session)
        h.feed(ENV)
        assert h.transport.disconnecting

    def test_unknown_script_closes(self):
        """An unknown script is refused by closing the socket."""
        h = Harness(None)
        h.feed(ENV)
        assert h.transport.disconnecting

    def test_connection_lost_fails_pending(self):
        """If the connection drops, pending commands fail with SessionClosed and the session ends."""
        session_done = []

        async def session(agi):
            try:
                await agi.send_command("ANSWER")
            finally:
                session_done.append(True)

        h = Harness(session)
        h.feed(ENV)
        h.protocol.connectionLost()
        assert session_done == [True]
        assert h.protocol.ended.called

    def test_cancel_keeps_fifo(self):
        """Cancelling a command keeps its slot: the next reply goes to the next command."""
        h = Harness(lambda agi: defer.Deferred())
        h.feed(ENV)
        first = h.protocol.send_command("WAIT FOR DIGIT 1000")
        second = h.protocol.send_command("GET VARIABLE X")
        first.cancel()
        first.addErrback(lambda f: None)
        h.feed(b"200 result=0\n200 result=1 (x)\n")
        assert _outcome(second).data == "x"

    def test_crlf_tolerated(self):
        """Lines ending in CRLF are read like LF lines."""
        h = Harness(lambda agi: defer.Deferred())
        h.feed(ENV.replace(b"\n", b"\r\n"))
        d = h.protocol.send_command("ANSWER")
        h.feed(b"200 result=0\r\n")
        assert _outcome(d).result == "0"


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(min_value=1, max_value=4000), max_size=40))
def test_b3_any_split(cuts):
    """b3 split at arbitrary points gives the same commands and outcomes as fed whole."""
    data = traces.received(traces.B3)
    commands = traces.sent(traces.B3)
    whole_session, whole = _recorder(commands, dead_ok=True)
    Harness(whole_session).feed(data)
    session, results = _recorder(commands, dead_ok=True)
    h = Harness(session)
    start = 0
    for cut in sorted(set(cuts)):
        h.protocol.dataReceived(data[start:cut])
        start = max(start, cut)
    h.protocol.dataReceived(data[start:])
    assert h.written() == commands
    assert _kinds(results) == _kinds(whole)
    assert [r.result for r in results if isinstance(r, Reply)] == [
        r.result for r in whole if isinstance(r, Reply)
    ]


_PIECES = [b"200 result=", b"1", b"-1", b"HANGUP", b"\n", b"520-x", b"520 End", b" (", b")"]
_PIECES += [b" endpos=3", b"510 x", b"511 x", b"\r", b"\xff", b"agi_x: 1", b" "]
_STREAMS = st.one_of(
    st.binary(max_size=300), st.lists(st.sampled_from(_PIECES), max_size=60).map(b"".join)
)


@settings(max_examples=200, deadline=None)
@given(garbage=_STREAMS, size=st.integers(min_value=1, max_value=50))
def test_random_bytes_never_raise(garbage, size):
    """Whatever the peer sends, dataReceived never raises; the command is answered, failed or pending."""
    h = Harness(lambda agi: defer.Deferred())
    h.feed(ENV)
    d = h.protocol.send_command("ANSWER")
    h.feed(garbage, size)
    outcome = _outcome(d)
    assert outcome is None or isinstance(
        outcome, Reply | CallHungUp | CommandError | MalformedStream
    )
    if isinstance(outcome, MalformedStream):
        assert h.transport.disconnecting
