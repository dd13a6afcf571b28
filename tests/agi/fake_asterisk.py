"""
A scripted Asterisk for one FastAGI session, with a scripted caller (a test fake).

It sits on the far side of a L{FastAGIProtocol}'s transport: every command line the
protocol writes is answered, after C{delay} seconds on the test's Clock, with the reply
real Asterisk 22 gives (formats from C{agi_b2_*}/C{agi_b3_*}). What the caller does is a
list of actions consumed by the commands that wait for the caller:

 - C{"1"} (any key string): typed at the next GET DATA (digits as they are), or the
   first key at the next WAIT FOR DIGIT (ASCII code); C{">1"} presses 1 during the next
   STREAM FILE that lets 1 escape (barge-in);
 - C{SILENCE}: lets the next GET DATA / WAIT FOR DIGIT time out, or RECORD FILE record
   nothing;
 - C{("speak", seconds)}: talks for that long at the next RECORD FILE, then silence ends it;
   C{("speak#", seconds)} ends it with #;
 - C{HANGUP}: the caller hangs up during the next command that plays or waits: that
   command gets its hang-up reply, the bare C{HANGUP} line follows, later media
   commands get 511;
 - C{HANGUP_BEFORE_REPLY}: as HANGUP, with the C{HANGUP} line before the reply;
 - C{WEDGE}: the next command gets no reply at all;
 - C{GARBAGE}: the next command is answered with a line that is not FastAGI;
 - C{Raw(lines, prompt=False)}: the next command waiting for the caller (with
   C{prompt=True}: the next STREAM FILE) is answered with these exact lines, e.g.
   taken verbatim from a reference trace.

Replies are delivered C{chunk} bytes at a time (0: whole), to show that framing does
not depend on where TCP splits them.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from dialer.agi.protocol import FastAGIProtocol

SILENCE = "silence"
HANGUP = "hangup"
HANGUP_BEFORE_REPLY = "hangup-before-reply"
WEDGE = "wedge"
GARBAGE = "garbage"

DEAD = "511 Command Not Permitted on a dead channel or intercept routine"
MEDIA = ("STREAM FILE", "GET DATA", "WAIT FOR DIGIT", "RECORD FILE", "ANSWER", "CHANNEL STATUS")


@dataclass(frozen=True)
class Raw:
    lines: tuple[str, ...]
    prompt: bool = False
    #: Only a command starting with this takes it (others are answered as usual).
    match: str | None = None


def environment(script="survey", args=(), uniqueid="1795594831.2"):
    lines = [
        "agi_network: yes",
        f"agi_network_script: {script}",
        f"agi_request: agi://127.0.0.1:4573/{script}",
        "agi_channel: Local/10003@callee-00000001;1",
        "agi_language: en",
        "agi_type: Local",
        f"agi_uniqueid: {uniqueid}",
        "agi_version: 22.10.1",
        "agi_callerid: 5550100",
        "agi_calleridname: Survey Dialer",
        "agi_context: survey",
        "agi_extension: s",
        "agi_priority: 2",
        "agi_enhanced: 0.0",
        "agi_accountcode: ",
        "agi_threadid: 140212705183424",
    ]
    lines += [f"agi_arg_{n}: {a}" for n, a in enumerate(args, start=1)]
    return ("\n".join(lines) + "\n\n").encode()


class _Wire(StringTransport):
    def __init__(self, peer):
        super().__init__()
        self.peer = peer

    def write(self, data):
        super().write(data)
        self.peer.bytes_from_server(data)


def _words(line):
    """Split like Asterisk: quotes group, backslash escapes (enough for our commands)."""
    out, cur, quoted, escaped, started = [], [], False, False, False
    for ch in line:
        if escaped:
            cur.append(ch)
            escaped, started = False, True
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted, started = not quoted, True
        elif ch == " " and not quoted:
            if started:
                out.append("".join(cur))
            cur, started = [], False
        else:
            cur.append(ch)
            started = True
    if started:
        out.append("".join(cur))
    return out


class FakeAsterisk:
    """Asterisk's side of one FastAGI session with a scripted caller."""

    def __init__(
        self, protocol: FastAGIProtocol, clock: Clock, actions=(), *, variables=None, chunk=0
    ):
        self.protocol = protocol
        self.clock = clock
        self.actions = deque(actions)
        self.variables = dict(variables or {})
        self.commands: list[str] = []
        self.hung_up = False
        self.delay = 0.01
        self.chunk = chunk
        self._buffer = b""
        self.transport = _Wire(self)
        if protocol is not None:  # None: drive answer() by hand (e.g. over a pipe)
            protocol.makeConnection(self.transport)

    @property
    def closed_by_server(self):
        return self.transport.disconnecting

    def start(self, script="survey", args=(), env=None):
        self._deliver(env if env is not None else environment(script, args))

    def run(self, limit=10_000):
        """Advance the clock, call by call, until the server closes the socket."""
        for _ in range(limit):
            if self.closed_by_server:
                break
            calls = self.clock.getDelayedCalls()
            if not calls:
                break
            self.clock.advance(max(0.0, min(c.getTime() for c in calls) - self.clock.seconds()))
        if self.closed_by_server and not self.protocol.closed:
            self.protocol.connectionLost()

    # -- Asterisk side ---------------------------------------------------------

    def bytes_from_server(self, data):
        self._buffer += data
        while b"\n" in self._buffer:
            raw, self._buffer = self._buffer.split(b"\n", 1)
            line = raw.decode()
            self.commands.append(line)
            lines = self._answer(line)
            if lines is not None:
                self.clock.callLater(self.delay, self._send, lines)

    def _send(self, lines):
        if self.transport.disconnecting:
            return
        self._deliver(b"".join(line.encode() + b"\n" for line in lines))

    def _deliver(self, data):
        size = self.chunk or len(data)
        for i in range(0, len(data), size):
            if self.transport.disconnecting:
                return
            self.protocol.dataReceived(data[i : i + size])

    def _verb(self, line):
        for verb in (*MEDIA, "GET FULL VARIABLE", "GET VARIABLE", "VERBOSE", "HANGUP"):
            if line.startswith(verb):
                return verb
        return line.split(" ")[0]

    def _next_action(self):
        return self.actions.popleft() if self.actions else SILENCE

    def answer(self, line):
        """The reply lines to one command line (None: no reply), as the caller acts."""
        self.commands.append(line)
        return self._answer(line)

    def _answer(self, line):
        verb = self._verb(line)
        args = _words(line[len(verb) :].strip())
        if verb == "GET FULL VARIABLE":
            text = re.sub(r"\$\{(\w+)\}", lambda m: self.variables.get(m.group(1), ""), args[0])
            return [f"200 result=1 ({text})"]
        if verb == "GET VARIABLE":
            value = self.variables.get(args[0])
            return ["200 result=0" if value is None else f"200 result=1 ({value})"]
        if verb == "VERBOSE" or line.startswith("SET VARIABLE"):
            return ["200 result=1"]
        if verb == "HANGUP":
            self.hung_up = True
            return ["200 result=1", "HANGUP"]
        if verb not in MEDIA:
            return ["510 Invalid or unknown command"]
        if self.hung_up:
            return [DEAD]
        if verb == "ANSWER":
            return ["200 result=0"]
        if verb == "CHANNEL STATUS":
            return ["200 result=6"]
        first = self.actions[0] if self.actions else None
        if isinstance(first, Raw) and first.match is not None and not line.startswith(first.match):
            first = None
            if verb == "STREAM FILE":
                return ["200 result=0 endpos=8000"]
        escape = args[1] if verb == "STREAM FILE" and len(args) > 1 else ""
        barge = isinstance(first, str) and first.startswith(">") and first[1:2] in escape
        waits = verb != "STREAM FILE" or barge or (isinstance(first, Raw) and first.prompt)
        if verb == "STREAM FILE" and not waits:
            if self.actions and self.actions[0] in (HANGUP, HANGUP_BEFORE_REPLY):
                return self._hangup(self.actions.popleft(), "200 result=-1 endpos=4000")
            if self.actions and self.actions[0] in (WEDGE, GARBAGE):
                return self._odd(self.actions.popleft())
            return ["200 result=0 endpos=8000"]
        action = self._next_action()
        if action in (HANGUP, HANGUP_BEFORE_REPLY):
            reply = {
                "STREAM FILE": "200 result=-1 endpos=4000",
                "GET DATA": "200 result=-1",
                "WAIT FOR DIGIT": "200 result=-1",
                "RECORD FILE": "200 result=-1 (hangup) endpos=0",
            }[verb]
            return self._hangup(action, reply)
        if action in (WEDGE, GARBAGE):
            return self._odd(action)
        if isinstance(action, Raw):
            if "HANGUP" in action.lines:
                self.hung_up = True
            return list(action.lines)
        if verb == "STREAM FILE":
            key = action[1:]
            return [f"200 result={ord(key)} endpos=2000"]
        if verb == "GET DATA":
            if action == SILENCE:
                return ["200 result= (timeout)"]
            return [f"200 result={action.split('#')[0]}"]  # '#' ends the input
        if verb == "WAIT FOR DIGIT":
            if action == SILENCE:
                return ["200 result=0"]
            if len(action) > 1:
                self.actions.appendleft(action[1:])
            return [f"200 result={ord(action[0])}"]
        if verb == "RECORD FILE":
            if action == SILENCE:
                return ["200 result=1 (timeout) endpos=0"]
            kind, seconds = action
            endpos = int(seconds * 8000)
            if kind == "speak#":
                return [f"200 result=35 (dtmf) endpos={endpos}"]
            return [f"200 result=1 (timeout) endpos={endpos}"]
        raise AssertionError(line)

    def _hangup(self, action, reply):
        self.hung_up = True
        if action == HANGUP_BEFORE_REPLY:
            return ["HANGUP", reply]
        return [reply, "HANGUP"]

    def _odd(self, action):
        if action == WEDGE:
            return None
        return ["this is not fastagi"]
