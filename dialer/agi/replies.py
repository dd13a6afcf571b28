# -*- test-case-name: tests.agi.test_replies -*-
"""
FastAGI wire format, as Asterisk 22 speaks it (pure: no Twisted, no clock).

Asterisk opens the session with an environment block of C{agi_name: value} lines
ended by an empty line; then we send one command per line and Asterisk answers each
with one reply line:

 - C{200 result=49 endpos=25760}: C{result} is a number or a string (C{GET DATA}
   returns the digits themselves, C{STREAM FILE}/C{WAIT FOR DIGIT} the ASCII code of
   the key), optionally followed by data in parentheses (C{(timeout)}, the value of a
   variable) and C{key=value} pairs (C{endpos=});
 - C{510 Invalid or unknown command};
 - C{511 Command Not Permitted on a dead channel or intercept routine};
 - C{520-Invalid command syntax.  Proper usage follows:} then free text lines, ended
   by C{520 End of proper usage.}

At any time Asterisk may send a bare C{HANGUP} line when the channel hangs up, even
between a command and that command's reply (see C{agi_b2_*} in the reference traces).

Commands are words separated by spaces; Asterisk groups a double-quoted word and
lets a backslash escape the next character, which is how L{quote} writes them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

# Bounds on what one peer may send us; anything larger is a malformed stream.
MAX_ENV_LINES = 256
MAX_USAGE_LINES = 256

HANGUP_LINE = "HANGUP"


# ---------------------------------------------------------------------------
# Errors: what a command's Deferred fails with
# ---------------------------------------------------------------------------


class AGIError(Exception):
    """Base of every FastAGI failure."""


class CallHungUp(AGIError):
    """The channel hung up (a C{HANGUP} line, or a 511 reply): the call is over.

    This is a normal end of a survey, not a bug: the runner keeps what it has.
    """


class DeadChannel(CallHungUp):
    """A 511 reply: the command is not permitted on a dead channel."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.text)
        self.reply = reply


class CommandError(AGIError):
    """Asterisk refused the command (510 unknown command, 520 bad syntax)."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(f"{reply.code} {reply.text}")
        self.reply = reply


class CommandTimeout(AGIError):
    """No reply in time: the peer is slow or wedged, and the session is dropped."""


class MalformedStream(AGIError):
    """The peer sent something that is not FastAGI; the session is closed."""


class SessionClosed(AGIError):
    """The connection went away before the command was answered."""


# ---------------------------------------------------------------------------
# Environment block
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Environment:
    """The C{agi_*} variables Asterisk sends first, keys without the C{agi_} prefix."""

    variables: dict[str, str]

    @property
    def args(self) -> tuple[str, ...]:
        """C{agi_arg_1}, C{agi_arg_2}, ... in order (from C{AGI(url,arg1,arg2)})."""
        numbered: list[tuple[int, str]] = []
        for key, value in self.variables.items():
            if key.startswith("arg_") and key[4:].isdigit():
                numbered.append((int(key[4:]), value))
        return tuple(value for _, value in sorted(numbered))

    @property
    def script(self) -> str:
        """The script name to route on: C{agi_network_script} without slashes or query."""
        raw = self.variables.get("network_script", "")
        return raw.split("?", 1)[0].strip("/")

    def get(self, name: str, default: str = "") -> str:
        return self.variables.get(name, default)


class EnvironmentParser:
    """Collects environment lines; L{feed} returns the L{Environment} at the empty line."""

    def __init__(self) -> None:
        self._variables: dict[str, str] = {}
        self._lines = 0

    def feed(self, line: str) -> Environment | None:
        if line == "":
            if not self._variables:
                raise MalformedStream("empty environment block")
            return Environment(dict(self._variables))
        self._lines += 1
        if self._lines > MAX_ENV_LINES:
            raise MalformedStream(f"environment block longer than {MAX_ENV_LINES} lines")
        name, sep, value = line.partition(":")
        if not sep or not name.startswith("agi_") or not _NAME.fullmatch(name):
            raise MalformedStream(f"not an environment line: {line[:60]!r}")
        # `agi_accountcode: ` has an empty value after the separator's space.
        self._variables[name[4:]] = value[1:] if value.startswith(" ") else value
        return None


_NAME = re.compile(r"agi_[A-Za-z0-9_]+")


def parse_environment(lines: Iterable[str]) -> Environment:
    """Parse a whole environment block (the lines up to and including the empty one)."""
    parser = EnvironmentParser()
    for line in lines:
        env = parser.feed(line)
        if env is not None:
            return env
    raise MalformedStream("environment block not terminated by an empty line")


# ---------------------------------------------------------------------------
# Replies
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """One reply to one command.

    For 200 replies C{result} is the raw text after C{result=} (possibly empty),
    C{data} the text in parentheses or None, C{fields} the C{key=value} pairs after
    it. For 5xx replies C{text} is the message and C{usage} the 520 usage lines.
    """

    code: int
    result: str = ""
    data: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    text: str = ""
    usage: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.code == 200

    @property
    def value(self) -> int | None:
        """C{result} as an integer, or None when it is empty or not a number."""
        try:
            return int(self.result)
        except ValueError:
            return None

    @property
    def timed_out(self) -> bool:
        return self.data == "timeout"

    @property
    def endpos(self) -> int | None:
        raw = self.fields.get("endpos")
        return int(raw) if raw is not None and _INT.fullmatch(raw) else None


@dataclass(frozen=True)
class HangupNotice:
    """The unsolicited bare C{HANGUP} line."""


_INT = re.compile(r"-?\d+")
_RESULT = re.compile(r"200 result=(\S*)(?: (.*))?")
# Data in parentheses may itself hold spaces and parentheses (a variable's value); the
# greedy group takes everything up to the last ')' that is followed only by key=value pairs.
_DATA_TAIL = re.compile(r"\((.*)\)((?: [A-Za-z_]+=\S*)*)")
_FIELDS_ONLY = re.compile(r"(?:[A-Za-z_]+=\S*)(?: [A-Za-z_]+=\S*)*")


def parse_result_line(line: str) -> Reply:
    """Parse one C{200 result=...} line; raise L{MalformedStream} if it is not one."""
    match = _RESULT.fullmatch(line)
    if match is None:
        raise MalformedStream(f"not a reply line: {line[:60]!r}")
    result, rest = match.group(1), match.group(2)
    data: str | None = None
    fields_text = ""
    if rest:
        tail = _DATA_TAIL.fullmatch(rest)
        if tail is not None:
            data, fields_text = tail.group(1), tail.group(2).strip()
        elif _FIELDS_ONLY.fullmatch(rest):
            fields_text = rest
        else:
            raise MalformedStream(f"unexpected text after result: {line[:60]!r}")
    fields = dict(pair.split("=", 1) for pair in fields_text.split()) if fields_text else {}
    return Reply(code=200, result=result, data=data, fields=fields)


class ReplyParser:
    """Turns reply lines into L{Reply} and L{HangupNotice} values.

    L{feed} returns None while a multi-line 520 reply is still open. A C{HANGUP} line
    inside a 520 block is taken as usage text (Asterisk writes the block in one go).
    """

    def __init__(self) -> None:
        self._usage: list[str] | None = None

    def feed(self, line: str) -> Reply | HangupNotice | None:
        if self._usage is not None:
            if line.startswith("520 "):
                usage, self._usage = tuple(self._usage), None
                return Reply(code=520, text="Invalid command syntax.", usage=usage)
            if len(self._usage) >= MAX_USAGE_LINES:
                raise MalformedStream(f"520 usage text longer than {MAX_USAGE_LINES} lines")
            self._usage.append(line)
            return None
        if line == HANGUP_LINE:
            return HangupNotice()
        if line.startswith("200 "):
            return parse_result_line(line)
        if line.startswith("520-"):
            self._usage = []
            return None
        code, sep, text = line.partition(" ")
        if sep and code in ("510", "511", "520"):
            return Reply(code=int(code), text=text)
        raise MalformedStream(f"not a reply line: {line[:60]!r}")


# ---------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------


def quote(text: str) -> str:
    """Quote one argument the way Asterisk's parser reads it back."""
    _check_one_line(text)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def word(text: str) -> str:
    """A bare argument (file names, numbers); quoted only if it needs to be."""
    _check_one_line(text)
    if text == "" or any(c in text for c in ' \t"\\'):
        return quote(text)
    return text


def _check_one_line(text: str) -> None:
    if "\n" in text or "\r" in text or "\0" in text:
        raise ValueError("an AGI argument must not contain a line break or NUL")


def command(*parts: str) -> str:
    """Join already-formatted parts into one command line (without the newline)."""
    line = " ".join(parts)
    _check_one_line(line)
    return line


def answer() -> str:
    return "ANSWER"


def hangup() -> str:
    return "HANGUP"


def channel_status() -> str:
    return "CHANNEL STATUS"


def verbose(message: str, level: int = 1) -> str:
    return command("VERBOSE", quote(message), str(level))


def get_variable(name: str) -> str:
    return command("GET VARIABLE", word(name))


def get_full_variable(expression: str) -> str:
    return command("GET FULL VARIABLE", quote(expression))


def set_variable(name: str, value: str) -> str:
    return command("SET VARIABLE", word(name), quote(value))


def stream_file(sound: str, escape_digits: str = "") -> str:
    return command("STREAM FILE", word(sound), quote(escape_digits))


def get_data(sound: str, timeout_ms: int, max_digits: int) -> str:
    return command("GET DATA", word(sound), str(int(timeout_ms)), str(int(max_digits)))


def wait_for_digit(timeout_ms: int) -> str:
    return command("WAIT FOR DIGIT", str(int(timeout_ms)))


def record_file(
    path: str,
    fmt: str = "wav",
    escape_digits: str = "#",
    timeout_ms: int = -1,
    *,
    beep: bool = True,
    silence_s: int | None = None,
) -> str:
    """C{RECORD FILE}: ends on an escape digit, after C{timeout_ms}, or after silence."""
    parts = ["RECORD FILE", word(path), word(fmt), quote(escape_digits), str(int(timeout_ms))]
    if beep or silence_s is not None:
        parts.append("BEEP" if beep else "0")
    if silence_s is not None:
        parts.append(f"s={int(silence_s)}")
    return command(*parts)


# ---------------------------------------------------------------------------
# What a reply means for the media commands
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyResult:
    """Outcome of C{STREAM FILE} / C{WAIT FOR DIGIT}: the key pressed, if any.

    C{failed} is True for C{result=-1}: the file is missing (C{endpos=0}) or the
    channel went away during playback (C{endpos} > 0).
    """

    key: str | None
    failed: bool = False
    endpos: int | None = None


def key_result(reply: Reply) -> KeyResult:
    """Read the ASCII-coded key of a C{STREAM FILE} or C{WAIT FOR DIGIT} reply."""
    value = reply.value
    if value is None:
        raise MalformedStream(f"expected a number in result=, got {reply.result!r}")
    if value < 0:
        return KeyResult(key=None, failed=True, endpos=reply.endpos)
    if value == 0:
        return KeyResult(key=None, endpos=reply.endpos)
    try:
        key = chr(value)
    except (ValueError, OverflowError):
        raise MalformedStream(f"key code out of range: {value}") from None
    return KeyResult(key=key, endpos=reply.endpos)


@dataclass(frozen=True)
class DigitsResult:
    """Outcome of C{GET DATA}: the digits typed (possibly empty) and whether it timed out."""

    digits: str
    timed_out: bool
    failed: bool = False


def digits_result(reply: Reply) -> DigitsResult:
    """Read a C{GET DATA} reply: the digits themselves, not ASCII codes."""
    if reply.result == "-1":
        return DigitsResult(digits="", timed_out=False, failed=True)
    if not all(c in "0123456789*#ABCD" for c in reply.result):
        raise MalformedStream(f"unexpected GET DATA result {reply.result!r}")
    return DigitsResult(digits=reply.result, timed_out=reply.timed_out)


@dataclass(frozen=True)
class RecordResult:
    """Outcome of C{RECORD FILE}: how it ended and how many samples were written."""

    key: str | None
    timed_out: bool
    failed: bool
    endpos: int | None
    #: The word in parentheses: timeout, dtmf, hangup, writefile (cannot write), randomerror.
    reason: str | None = None

    @property
    def hung_up(self) -> bool:
        """The recording ended because the channel went away (not a file or media error)."""
        return self.failed and self.reason not in ("writefile", "randomerror")


def record_result(reply: Reply) -> RecordResult:
    """Read a C{RECORD FILE} reply (C{200 result=1 (timeout) endpos=32000}, C{result=35 (dtmf)})."""
    value = reply.value
    if value is None:
        raise MalformedStream(f"expected a number in result=, got {reply.result!r}")
    if value < 0:
        return RecordResult(None, False, True, reply.endpos, reply.data)
    key = None
    if reply.data == "dtmf" and 0 < value < 0x110000:
        key = chr(value)
    return RecordResult(key, reply.timed_out, False, reply.endpos, reply.data)
