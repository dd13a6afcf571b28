# -*- test-case-name: tests.sim.test_agi -*-
"""
The simulator's FastAGI client: it connects to the dialer's FastAGI server as Asterisk's
C{AGI(agi://...)} does, sends the environment block (LF line ends), executes commands and
answers C{200 result=...}, C{510}, C{511} and multi-line C{520} as in C{agi_b2_*}/C{agi_b3_*}.

When the channel hangs up it sends the bare C{HANGUP} line (before the reply to the next
command, or 50 ms later if none comes) and never closes the socket itself: the AGI
application, and so the channel's C{Hangup} event, waits until the server closes it.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twisted.internet import defer
from twisted.internet.protocol import connectionDone
from twisted.logger import Logger
from twisted.protocols.basic import LineOnlyReceiver
from twisted.python.failure import Failure

from dialer.sim.dialplan import expand
from dialer.sim.profile import Reaction
from dialer.sim.wav import RATE

if TYPE_CHECKING:
    from dialer.sim.pbx import PBX, Channel

__all__ = ["AGIClientProtocol", "AGISession", "parse_command", "run_agi"]

AGI_VERSION = "22.10.1"
NOTICE_DELAY = 0.05
DEAD = "511 Command Not Permitted on a dead channel or intercept routine"
USAGE_STREAM_FILE = [
    "520-Invalid command syntax.  Proper usage follows:",
    "Send the given file, allowing playback to be interrupted by the given digits, if any. "
    "Returns <literal>0</literal> if playback completes without a digit being pressed, or the "
    "ASCII numerical value of the digit if one was pressed, or <literal>-1</literal> on error or "
    "if the channel was disconnected. If musiconhold is playing before calling stream file it "
    "will be automatically stopped and will not be restarted after completion.",
    "It sets the following channel variables upon completion:",
    "<variable>PLAYBACKSTATUS</variable>: The status of the playback attempt as a text string.",
    "    <value>SUCCESS</value>",
    "    <value>FAILED</value>",
    "520 End of proper usage.",
]


def parse_command(line: str) -> list[str]:
    """Split an AGI command line into words as Asterisk does (quotes group, backslash escapes)."""
    words: list[str] = []
    cur: list[str] = []
    in_word = False
    quoted = False
    escaped = False
    for ch in line:
        if escaped:
            cur.append(ch)
            escaped = False
            in_word = True
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
            in_word = True
        elif ch in " \t" and not quoted:
            if in_word:
                words.append("".join(cur))
                cur = []
                in_word = False
        else:
            cur.append(ch)
            in_word = True
    if in_word:
        words.append("".join(cur))
    return words


class AGIClientProtocol(LineOnlyReceiver):
    """The wire side: LF-delimited lines to and from the FastAGI server."""

    delimiter = b"\n"
    MAX_LENGTH = 65536
    log = Logger()

    def __init__(self) -> None:
        self.session: AGISession | None = None
        self.closed: defer.Deferred[None] = defer.Deferred()
        self.connected_ = False

    def connectionMade(self) -> None:
        self.connected_ = True

    def send(self, line: str) -> None:
        """Write one line (LF-terminated)."""
        transport: Any = self.transport
        if transport is not None and self.connected_:
            transport.write(line.encode("utf-8", "surrogateescape") + b"\n")

    def lineReceived(self, line: bytes) -> None:
        if self.session is not None:
            self.session.command_line(line.rstrip(b"\r").decode("utf-8", "surrogateescape"))

    def lineLengthExceeded(self, line: bytes) -> None:
        self.log.warn("FastAGI server sent an over-long line; closing")  # noqa: G010
        transport: Any = self.transport
        if transport is not None:
            transport.loseConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.connected_ = False
        if not self.closed.called:
            self.closed.callback(None)


class AGISession:
    """One FastAGI session bound to a channel."""

    log = Logger()

    def __init__(self, pbx: PBX, chan: Channel, proto: AGIClientProtocol) -> None:
        self.pbx = pbx
        self.chan = chan
        self.proto = proto
        self.queue: list[str] = []
        self.busy = False
        self.notice_pending = False
        self.notice_sent = False
        self.hangup_command = False
        self._notice_call: Any = None

    def start(self, url: str, script: str, args: list[str]) -> None:
        """Send the environment block."""
        c = self.chan
        env = [
            ("network", "yes"),
            ("network_script", script),
            ("request", url),
            ("channel", c.name),
            ("language", "en"),
            ("type", c.tech),
            ("uniqueid", c.uniqueid),
            ("version", AGI_VERSION),
            ("callerid", "unknown" if c.cid_num == "<unknown>" else c.cid_num),
            ("calleridname", "unknown" if c.cid_name == "<unknown>" else c.cid_name),
            ("callingpres", "0"),
            ("callingani2", "0"),
            ("callington", "0"),
            ("callingtns", "0"),
            ("dnid", "unknown"),
            ("rdnis", "unknown"),
            ("context", c.context),
            ("extension", c.exten),
            ("priority", str(c.priority)),
            ("enhanced", "0.0"),
            ("accountcode", ""),
            ("threadid", str(self.pbx.rng.randrange(10**14, 10**15))),
        ]
        env += [(f"arg_{i}", a) for i, a in enumerate(args, 1)]
        for k, v in env:
            self.proto.send(f"agi_{k}: {v}")
        self.proto.send("")

    # -- hang-up notice -----------------------------------------------------------------

    def channel_hungup(self) -> None:
        """The channel hung up: a HANGUP line is due."""
        if self.notice_sent or self.notice_pending:
            return
        self.notice_pending = True
        if not self.busy:
            self._arm_notice()

    def _arm_notice(self) -> None:
        if self._notice_call is None and self.notice_pending:
            self._notice_call = self.pbx.clock.callLater(NOTICE_DELAY, self._send_notice)

    def _send_notice(self) -> None:
        if self._notice_call is not None and self._notice_call.active():
            self._notice_call.cancel()
        self._notice_call = None
        if self.notice_pending and not self.notice_sent:
            self.notice_pending = False
            self.notice_sent = True
            self.proto.send("HANGUP")

    # -- commands -----------------------------------------------------------------------

    def command_line(self, line: str) -> None:
        """A command arrived from the server."""
        if self.notice_pending:
            self._send_notice()
        self.queue.append(line)
        if not self.busy:
            self._next()

    def _next(self) -> None:
        while self.queue and not self.busy:
            line = self.queue.pop(0)
            self.busy = True
            d = defer.Deferred.fromCoroutine(self._execute(line))
            d.addErrback(self._crashed, line)
            d.addBoth(self._done)

    def _crashed(self, f: Failure, line: str) -> None:
        self.log.failure("simulated AGI command crashed: {line}", f, line=line[:80])
        self.proto.send("200 result=-1")

    def _done(self, _: object) -> None:
        self.busy = False
        if self.notice_pending:
            self._arm_notice()
        if self.queue:
            self._next()

    async def _execute(self, line: str) -> None:
        chan = self.chan
        cmd_id = str(self.pbx.rng.randrange(10**8, 2**31))
        self.pbx.chan_event("AGIExecStart", chan, [("CommandId", cmd_id), ("Command", line)])
        reply = await self._run(parse_command(line))
        lines = reply if isinstance(reply, list) else [reply]
        for out in lines:
            self.proto.send(out)
        code, result = _result_text(lines[-1])
        if lines[-1].startswith("200 result=-1"):
            code = "-1"  # Asterisk reports result -1 as ResultCode -1 (b2, b3)
        self.pbx.chan_event(
            "AGIExecEnd",
            chan,
            [("CommandId", cmd_id), ("Command", line), ("ResultCode", code), ("Result", result)],
        )

    async def _run(self, words: list[str]) -> str | list[str]:
        upper = [w.upper() for w in words]
        for n in (3, 2, 1):
            name = " ".join(upper[:n])
            handler = _COMMANDS.get(name)
            if handler is not None and len(upper) >= n:
                needs_media, min_args, fn = handler
                args = words[n:]
                if len(args) < min_args:
                    return _usage(name)
                if needs_media and (self.chan.soft_hangup or self.chan.redirect_to is not None):
                    return DEAD
                try:
                    result: str | list[str] = await fn(self, args)
                except (ValueError, IndexError):
                    return _usage(name)
                return result
        return "510 Invalid or unknown command"

    # -- helpers for commands ----------------------------------------------------------

    async def play(
        self, seconds: float, escape: str, *, sound: str = ""
    ) -> tuple[str | None, float, bool]:
        """Play audio of C{seconds}; return (digit or None, elapsed, hung up)."""
        from dialer.sim.pbx import Hungup

        chan = self.chan
        start = self.pbx.clock.seconds()
        if chan.peer is not None:
            chan.peer.media_started()
        allowed = "".join(d for d in escape if d in "0123456789*#")
        person = self.pbx.respondent(chan) if allowed else None
        if person is not None:
            self.pbx.respond(chan, person.playback(start, sound, allowed, seconds))
        try:
            digit = await chan.wait(seconds, digits=allowed if allowed else None)
        except Hungup:
            return None, self.pbx.clock.seconds() - start, True
        return digit, self.pbx.clock.seconds() - start, False


def _usage(name: str) -> list[str]:
    if name == "STREAM FILE":
        return list(USAGE_STREAM_FILE)
    return [
        "520-Invalid command syntax.  Proper usage follows:",
        f"Usage: {name} (see 'agi show commands' in Asterisk)",
        "520 End of proper usage.",
    ]


def _result_text(line: str) -> tuple[str, str]:
    code = line[:3]
    if code == "510":
        return code, "Invalid or unknown command"
    if code == "511":
        return code, "Command Not Permitted on a dead channel or intercept routine"
    if code == "520":
        return code, "Usage"
    m = re.match(r"200 result=(-?\d+)", line)
    if m and m.group(1) == "-1":
        return code, "Failure"
    if m and m.group(1) == "-2":
        return code, "Unknown Result"
    return code, "Success"


def _samples(seconds: float) -> int:
    return int(seconds * RATE)


Command = Callable[[AGISession, list[str]], Any]


async def c_answer(s: AGISession, args: list[str]) -> str:
    from dialer.sim.pbx import UP

    if s.chan.state != UP:
        s.pbx._set_state(s.chan, UP)
    return "200 result=0"


async def c_hangup(s: AGISession, args: list[str]) -> str:
    chan = s.chan
    if args and args[0] != chan.name:
        other = s.pbx.find(args[0])
        if other is None:
            return "200 result=-1"
        s.pbx.hangup_channel(other, None)
        return "200 result=1"
    if not chan.soft_hangup:
        s.hangup_command = True
        s.pbx.chan_event("SoftHangupRequest", chan, [("Cause", "32")])
        chan.request_hangup(None)
    return "200 result=1"


async def c_verbose(s: AGISession, args: list[str]) -> str:
    return "200 result=1"


async def c_noop(s: AGISession, args: list[str]) -> str:
    return "200 result=0"


async def c_set_variable(s: AGISession, args: list[str]) -> str:
    s.pbx.set_var(s.chan, args[0], args[1] if len(args) > 1 else "")
    return "200 result=1"


async def c_get_variable(s: AGISession, args: list[str]) -> str:
    values = s.chan.variables()
    name = args[0]
    if name in values:
        return f"200 result=1 ({values[name]})"
    return "200 result=0"


async def c_get_full_variable(s: AGISession, args: list[str]) -> str:
    return f"200 result=1 ({expand(args[0], s.chan.variables())})"


async def c_channel_status(s: AGISession, args: list[str]) -> str:
    return f"200 result={s.chan.state}"


async def c_stream_file(s: AGISession, args: list[str]) -> str:
    from dialer.sim.pbx import sound_seconds

    seconds = sound_seconds(args[0])
    if seconds is None:
        return "200 result=-1 endpos=0"
    escape = args[1] if len(args) > 1 else ""
    digit, elapsed, hung = await s.play(seconds, escape, sound=args[0])
    # Asterisk reports an interrupted playback as FAILED (b2, b3).
    s.pbx.set_var(s.chan, "PLAYBACKSTATUS", "FAILED" if hung or digit else "SUCCESS")
    if hung:
        return f"200 result=-1 endpos={_samples(elapsed)}"
    if digit:
        return f"200 result={ord(digit)} endpos={_samples(elapsed)}"
    return f"200 result=0 endpos={_samples(seconds)}"


async def c_control_stream_file(s: AGISession, args: list[str]) -> str:
    from dialer.sim.pbx import sound_seconds

    seconds = sound_seconds(args[0])
    if seconds is None:
        return "200 result=-1 endpos=0"
    digit, _, hung = await s.play(seconds, args[1] if len(args) > 1 else "", sound=args[0])
    s.pbx.set_var(s.chan, "CPLAYBACKSTATUS", "FAILED" if hung else "SUCCESS")
    s.pbx.set_var(s.chan, "CPLAYBACKOFFSET", "-1")
    if hung:
        return "200 result=-1 endpos=-1"
    return f"200 result={ord(digit) if digit else 0} endpos=-1"


async def c_get_data(s: AGISession, args: list[str]) -> str:
    from dialer.sim.pbx import Hungup, sound_seconds

    chan = s.chan
    timeout = int(args[1]) / 1000.0 if len(args) > 1 and int(args[1]) > 0 else 6.0
    max_digits = int(args[2]) if len(args) > 2 else 1024
    prompt = sound_seconds(args[0]) or 0.0
    if chan.peer is not None:
        chan.peer.media_started()
    person = s.pbx.respondent(chan)
    if person is not None:
        now = s.pbx.clock.seconds()
        s.pbx.respond(chan, person.get_data(now, args[0], prompt, max_digits))
    got = ""
    try:
        first = await chan.wait(prompt, digits="") if prompt else None
        if first is not None:
            if first == "#":
                return "200 result="
            got += first
        while len(got) < max_digits:
            digit = await chan.wait(timeout, digits="")
            if digit is None:
                return f"200 result={got} (timeout)"
            if digit == "#":
                break
            got += digit
    except Hungup:
        return "200 result=-1"
    return f"200 result={got}"


async def c_wait_for_digit(s: AGISession, args: list[str]) -> str:
    from dialer.sim.pbx import Hungup

    ms = int(args[0])
    person = s.pbx.respondent(s.chan)
    if person is not None:
        s.pbx.respond(s.chan, person.wait_for_digit(s.pbx.clock.seconds()))
    try:
        digit = await s.chan.wait(None if ms < 0 else ms / 1000.0, digits="")
    except Hungup:
        return "200 result=-1"
    return f"200 result={ord(digit) if digit else 0}"


async def c_say(s: AGISession, args: list[str]) -> str:
    text = args[0]
    seconds = 0.85 * max(len(text), 1)
    digit, _, hung = await s.play(seconds, args[1] if len(args) > 1 else "")
    if hung:
        return "200 result=-1"
    return f"200 result={ord(digit) if digit else 0}"


async def c_record_file(s: AGISession, args: list[str]) -> str:
    from dialer.sim.pbx import Hungup
    from dialer.sim.wav import Recording

    path, fmt, escape, timeout_ms = args[0], args[1], args[2], int(args[3])
    chan = s.chan
    beep = any(a.upper() == "BEEP" for a in args[4:])
    if beep:
        try:
            await chan.wait(0.42)
        except Hungup:
            return "200 result=-1 (hangup) endpos=0"
    start = s.pbx.clock.seconds()
    limit = timeout_ms / 1000.0 if timeout_ms > 0 else None
    allowed = "".join(d for d in escape if d in "0123456789*#")
    silence = None
    for a in args[4:]:
        if a.lower().startswith("s="):
            with contextlib.suppress(ValueError):
                silence = float(a[2:]) or None
    wait_for = limit
    by_silence = False  # silence detection will end it (the caller stops talking)
    person = s.pbx.respondent(chan)
    if person is not None:
        plan = person.record(start, limit)
        talking = plan.speech > 0
        if plan.end == "hangup":
            s.pbx.respond(chan, Reaction(hangup_after=plan.speech))
        elif plan.end == "key" and "#" in allowed:
            s.pbx.respond(chan, Reaction(digits=((plan.speech, "#"),)))
        elif silence is not None:  # the caller stops talking: silence ends the recording
            ends = plan.speech + silence
            by_silence = limit is None or ends < limit
            wait_for = ends if limit is None else min(limit, ends)
    else:
        talking = chan.peer is not None and chan.peer.app == "Playback"
    rec = None
    if s.pbx.recordings is not None and fmt.lower() == "wav":
        rec = Recording(Path(f"{path}.{fmt}"), start, s.pbx.audio, s.pbx.rng)
    try:
        digit = await chan.wait(wait_for, digits=allowed or None)
    except Hungup:
        digit = None
        hung = True
    else:
        hung = False
    elapsed = s.pbx.clock.seconds() - start
    if rec is not None:
        rec.finish(elapsed, speech=talking)
    endpos = _samples(elapsed) if talking else 0
    if by_silence and silence is not None and not hung and digit is None:
        # Asterisk cuts the trailing silence but one second (res_agi handle_recordfile:
        # ast_stream_rewind(fs, silence - 1000)); a caller who said nothing leaves 1 s.
        endpos = _samples(max(elapsed - silence + 1.0, 0.0))
    if hung:
        return f"200 result=-1 (hangup) endpos={endpos}"
    if digit:
        return f"200 result={ord(digit)} (dtmf) endpos={endpos}"
    return f"200 result=1 (timeout) endpos={endpos}"


async def c_exec(s: AGISession, args: list[str]) -> str:
    from dialer.sim.pbx import _APPS, Hungup

    app = args[0]
    handler = _APPS.get(app.lower())
    if handler is None:
        return "200 result=-2"
    data = " ".join(args[1:])
    try:
        await handler(s.pbx, s.chan, data)
    except Hungup:
        return "200 result=-1"
    return "200 result=0"


async def c_database_put(s: AGISession, args: list[str]) -> str:
    s.pbx.database[(args[0], args[1])] = args[2]
    return "200 result=1"


async def c_database_get(s: AGISession, args: list[str]) -> str:
    value = s.pbx.database.get((args[0], args[1]))
    return "200 result=0" if value is None else f"200 result=1 ({value})"


async def c_database_del(s: AGISession, args: list[str]) -> str:
    return "200 result=1" if s.pbx.database.pop((args[0], args[1]), None) else "200 result=0"


async def c_set_where(s: AGISession, args: list[str]) -> str:
    return "200 result=0"


#: command words -> (needs a live channel, minimum number of arguments, handler)
_COMMANDS: dict[str, tuple[bool, int, Command]] = {
    "ANSWER": (True, 0, c_answer),
    "HANGUP": (False, 0, c_hangup),
    "VERBOSE": (False, 1, c_verbose),
    "NOOP": (False, 0, c_noop),
    "SET VARIABLE": (False, 1, c_set_variable),
    "GET VARIABLE": (False, 1, c_get_variable),
    "GET FULL VARIABLE": (False, 1, c_get_full_variable),
    "CHANNEL STATUS": (False, 0, c_channel_status),
    "STREAM FILE": (True, 2, c_stream_file),
    "CONTROL STREAM FILE": (True, 2, c_control_stream_file),
    "GET DATA": (True, 1, c_get_data),
    "WAIT FOR DIGIT": (True, 1, c_wait_for_digit),
    "SAY NUMBER": (True, 2, c_say),
    "SAY DIGITS": (True, 2, c_say),
    "SAY ALPHA": (True, 2, c_say),
    "RECORD FILE": (True, 4, c_record_file),
    "EXEC": (True, 1, c_exec),
    "DATABASE PUT": (False, 3, c_database_put),
    "DATABASE GET": (False, 2, c_database_get),
    "DATABASE DEL": (False, 2, c_database_del),
    "SET CONTEXT": (False, 1, c_set_where),
    "SET EXTENSION": (False, 1, c_set_where),
    "SET PRIORITY": (False, 1, c_set_where),
}


def parse_url(url: str) -> tuple[str, int, str] | None:
    """C{agi://host[:port]/script} -> (host, port, script); None if not a FastAGI URL."""
    m = re.match(r"agi://([^/:]+)(?::(\d+))?/?(.*)$", url)
    if not m:
        return None
    return m.group(1), int(m.group(2) or 4573), m.group(3)


async def run_agi(pbx: PBX, chan: Channel, args: list[str]) -> str:
    """
    The AGI() application: connect, run the session until the server closes the socket.

    @return: the AGISTATUS (C{SUCCESS}, C{FAILURE} or C{HANGUP}).
    """
    parsed = parse_url(args[0].strip()) if args else None
    if parsed is None or pbx.agi_connect is None:
        return "FAILURE"
    host, port, script = parsed
    try:
        proto = await pbx.agi_connect(host, port)
    except Exception:
        return "FAILURE"
    if not isinstance(proto, AGIClientProtocol):
        return "FAILURE"
    session = AGISession(pbx, chan, proto)
    proto.session = session
    chan.agi = session
    session.start(args[0].strip(), script, args[1:])
    if chan.soft_hangup:
        session.channel_hungup()
    await proto.closed
    chan.agi = None
    if session.hangup_command:
        return "FAILURE"  # what Asterisk reports after the script's own HANGUP (b3)
    return "HANGUP" if chan.soft_hangup or chan.redirect_to is not None else "SUCCESS"
