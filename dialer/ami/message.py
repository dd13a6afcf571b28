# -*- test-case-name: tests.ami.test_message -*-
"""
AMI messages and framing: pure code, no Twisted, no clock, used on both sides of the wire.

Public names (stable):

- L{Message}: an immutable AMI message. Headers are kept as an ordered tuple of
  C{(key, value)} pairs, so repeated headers (several C{Variable:} or C{Output:}) survive.
  Look-ups by key are case-insensitive, as Asterisk's own C{astman_get_header} is.
  C{Message.action(...)}, C{Message.response(...)}, C{Message.event(...)} build one;
  C{serialize()} gives the wire bytes (CRLF line ends, an empty line at the end).
- L{Framer}: an incremental parser. C{feed(data) -> list[Message]} accepts any chunking.
  With C{banner=True} (the client side) the first line, C{Asterisk Call Manager/11.0.0},
  which Asterisk sends with no empty line after it, is kept in C{Framer.banner} and not
  returned as a message. Both CRLF and bare LF line ends are accepted. Lines and messages
  are bounded; an over-long line, an over-long message or garbage raises a
  L{FramingError} subclass, after which the framer refuses further input (the caller
  should close the connection).
- L{FramingError}, L{LineTooLong}, L{MessageTooLong}, L{Garbage}: the framing errors.
- L{MessageError}: a message cannot be serialized (CR/LF in a value, a bad key).
- C{KIND_ACTION}, C{KIND_RESPONSE}, C{KIND_EVENT}: the values of L{Message.kind}.

Protocol facts used here (see the reference traces' README): messages are blocks of
C{Key: Value} lines ended by an empty line; header order is not fixed; a list action's
response carries C{EventList: start} and the list ends with an event carrying
C{EventList: Complete}; C{Command} output (Asterisk 14 and later) is one C{Output:} header
per line of output. Text is decoded as UTF-8 with C{surrogateescape}, so any byte sequence
that is not UTF-8 still round-trips unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Final, TypeAlias

__all__ = [
    "KIND_ACTION",
    "KIND_EVENT",
    "KIND_RESPONSE",
    "Framer",
    "FramingError",
    "Garbage",
    "Headers",
    "LineTooLong",
    "Message",
    "MessageError",
    "MessageTooLong",
]

KIND_ACTION: Final = "Action"
KIND_RESPONSE: Final = "Response"
KIND_EVENT: Final = "Event"

_KINDS: Final = {"action": KIND_ACTION, "response": KIND_RESPONSE, "event": KIND_EVENT}
_KINDS_EXACT: Final = {
    KIND_ACTION: KIND_ACTION,
    KIND_RESPONSE: KIND_RESPONSE,
    KIND_EVENT: KIND_EVENT,
}
_set = object.__setattr__

#: What the constructors accept as headers: pairs in order, or a mapping (one value per key;
#: a list/tuple value gives one header per item, e.g. C{{"Variable": ["A=1", "B=2"]}}).
Headers: TypeAlias = (
    Iterable[tuple[str, str]] | Mapping[str, str | int | float | bool | Iterable[str]]
)

_ENCODING: Final = "utf-8"
_ERRORS: Final = "surrogateescape"


class MessageError(ValueError):
    """A message cannot be put on the wire (a key or value would break the framing)."""


class FramingError(ValueError):
    """The byte stream is not AMI; the connection should be closed."""


class LineTooLong(FramingError):
    """A line is longer than the framer's C{max_line}."""


class MessageTooLong(FramingError):
    """A message is longer than the framer's C{max_message} bytes or C{max_headers} lines."""


class Garbage(FramingError):
    """A line in a message is not C{Key: Value} (or holds a NUL byte)."""


def _value_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _pairs(headers: Headers) -> list[tuple[str, str]]:
    if isinstance(headers, Mapping):
        out: list[tuple[str, str]] = []
        for key, value in headers.items():
            if isinstance(value, (str, int, float, bool)):
                out.append((key, _value_text(value)))
            else:
                out.extend((key, _value_text(v)) for v in value)
        return out
    return [(k, v) for k, v in headers]


class Message:
    """
    One AMI message: an immutable, ordered sequence of C{(key, value)} headers.

    Equality compares the header sequence exactly (order and key case included).
    """

    __slots__ = ("_headers", "_index")

    _headers: tuple[tuple[str, str], ...]
    _index: dict[str, str] | None  # lower-cased key -> first value

    def __init__(self, headers: Headers = ()) -> None:
        object.__setattr__(self, "_headers", tuple(_pairs(headers)))
        object.__setattr__(self, "_index", None)

    @classmethod
    def _trusted(cls, headers: tuple[tuple[str, str], ...]) -> Message:
        """Build from an already-validated tuple of pairs (the framer's fast path)."""
        msg = object.__new__(cls)
        _set(msg, "_headers", headers)
        _set(msg, "_index", None)
        return msg

    # -- constructors ---------------------------------------------------------------

    @classmethod
    def action(cls, name: str, headers: Headers = (), *, action_id: str | None = None) -> Message:
        """
        An action: C{Action: name}, then C{ActionID} (if given), then C{headers}.

        This is the order the reference capture script used for Originate.
        """
        pairs = [("Action", name)]
        if action_id is not None:
            pairs.append(("ActionID", action_id))
        pairs.extend(_pairs(headers))
        return cls._trusted(tuple(pairs))

    @classmethod
    def response(
        cls, status: str, headers: Headers = (), *, action_id: str | None = None
    ) -> Message:
        """A response (C{Success}, C{Error}, C{Goodbye}, ...): ActionID second, as Asterisk does."""
        pairs = [("Response", status)]
        if action_id is not None:
            pairs.append(("ActionID", action_id))
        pairs.extend(_pairs(headers))
        return cls._trusted(tuple(pairs))

    @classmethod
    def event(cls, name: str, headers: Headers = ()) -> Message:
        """An event: C{Event: name} then C{headers} (put C{ActionID} where Asterisk does)."""
        return cls._trusted((("Event", name), *_pairs(headers)))

    # -- immutability ---------------------------------------------------------------

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Message is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Message is immutable")

    # -- access ---------------------------------------------------------------------

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        """All headers, in wire order, repeated keys included."""
        return self._headers

    def _lookup(self) -> dict[str, str]:
        index = self._index
        if index is None:
            index = {}
            setdefault = index.setdefault  # the first value of a repeated key wins
            for key, value in self._headers:
                setdefault(key.lower(), value)
            _set(self, "_index", index)
        return index

    def get(self, key: str, default: str | None = None) -> str | None:
        """The value of the first header named C{key} (case-insensitive), or C{default}."""
        index = self._index
        if index is None:
            index = self._lookup()
        return index.get(key.lower(), default)

    def get_all(self, key: str) -> list[str]:
        """Every value of headers named C{key} (case-insensitive), in order."""
        lower = key.lower()
        if lower not in self._lookup():
            return []
        return [v for k, v in self._headers if k.lower() == lower]

    def __getitem__(self, key: str) -> str:
        value = self._lookup().get(key.lower())
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._lookup()

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._headers)

    def __len__(self) -> int:
        return len(self._headers)

    @property
    def kind(self) -> str | None:
        """C{"Action"}, C{"Response"} or C{"Event"}: the first of those keys present, else None."""
        headers = self._headers
        if headers:
            kind = _KINDS_EXACT.get(headers[0][0])
            if kind is not None:
                return kind
        for key, _ in headers:
            kind = _KINDS.get(key.lower())
            if kind is not None:
                return kind
        return None

    @property
    def name(self) -> str | None:
        """The value of the header that gives the kind (event name, action name, response status)."""
        headers = self._headers
        if headers and headers[0][0] in _KINDS_EXACT:
            return headers[0][1]
        for key, value in headers:
            if key.lower() in _KINDS:
                return value
        return None

    @property
    def is_event(self) -> bool:
        """True for an event (an C{OriginateResponse} event is an event, not a response)."""
        return self.kind == KIND_EVENT

    @property
    def is_response(self) -> bool:
        """True for a response to an action."""
        return self.kind == KIND_RESPONSE

    @property
    def is_action(self) -> bool:
        """True for an action (what a client sends)."""
        return self.kind == KIND_ACTION

    @property
    def action_id(self) -> str | None:
        """The C{ActionID} header, or None."""
        return self.get("ActionID")

    @property
    def event_list(self) -> str | None:
        """The C{EventList} header lower-cased (C{"start"}, C{"complete"}), or None."""
        value = self.get("EventList")
        return None if value is None else value.lower()

    @property
    def output(self) -> list[str]:
        """C{Command} output lines (Asterisk 14+: one C{Output:} header per line)."""
        return self.get_all("Output")

    def to_dict(self) -> dict[str, str]:
        """First value per key (original case of the first occurrence); repeats are dropped."""
        out: dict[str, str] = {}
        for key, value in self._headers:
            out.setdefault(key, value)
        return out

    # -- derived messages -------------------------------------------------------------

    def with_headers(self, headers: Headers) -> Message:
        """A copy with C{headers} appended."""
        return Message._trusted(self._headers + tuple(_pairs(headers)))

    def replace(self, key: str, value: str) -> Message:
        """A copy where the first C{key} header has C{value} (appended if absent); repeats dropped."""
        lower = key.lower()
        out: list[tuple[str, str]] = []
        done = False
        for k, v in self._headers:
            if k.lower() == lower:
                if not done:
                    out.append((k, value))
                    done = True
            else:
                out.append((k, v))
        if not done:
            out.append((key, value))
        return Message._trusted(tuple(out))

    def without(self, key: str) -> Message:
        """A copy with every C{key} header removed."""
        lower = key.lower()
        return Message._trusted(tuple((k, v) for k, v in self._headers if k.lower() != lower))

    # -- wire -----------------------------------------------------------------------

    def serialize(self) -> bytes:
        """
        The wire form: C{Key: Value\r\n} per header, then C{\r\n}.

        @raise MessageError: a key is empty or holds C{:}, CR or LF, or a value holds CR or LF.
        """
        headers = self._headers
        text = "".join([f"{k}: {v}\r\n" for k, v in headers]) + "\r\n"
        # One check over the whole text: each header must add exactly one CR, one LF and
        # (at least) one ':' before its value, and no key may be empty or hold ':'.
        n = len(headers)
        if text.count("\n") != n + 1 or text.count("\r") != n + 1:
            for key, value in headers:
                if "\r" in key or "\n" in key:
                    raise MessageError(f"bad AMI header name {key!r}")
                if "\r" in value or "\n" in value:
                    raise MessageError(f"AMI header {key!r} has a line break in its value")
        for key, _ in headers:
            if not key or ":" in key:
                raise MessageError(f"bad AMI header name {key!r}")
        return text.encode(_ENCODING, _ERRORS)

    # -- dunder -----------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return self._headers == other._headers

    def __hash__(self) -> int:
        return hash(self._headers)

    def __repr__(self) -> str:
        return f"Message({list(self._headers)!r})"


# An empty line: LF, optional CR, LF (covers CRLFCRLF, LFLF and mixes).
_END = re.compile(rb"\n\r?\n")
# One header line, anchored at a line start: a key (no ':', CR or LF), ':', one optional
# space, the value (no CR or LF), CR? LF. A message is valid when the number of matches
# equals the number of LFs: then every line matched from its start to its end.
_LINE = re.compile(r"(?m)^([^:\r\n]+):[ ]?([^\r\n]*)\r?\n")


class Framer:
    """
    Incremental AMI framer: bytes in, L{Message}s out, for either side of the wire.

    @ivar banner: the first line when C{banner=True} (e.g. C{"Asterisk Call Manager/11.0.0"}),
        None until it has arrived (and always None with C{banner=False}).
    """

    #: Default bounds. Asterisk's own inbound line limit is 1 KiB; its outbound lines
    #: (Command output, Status variables) can be longer, so be generous.
    MAX_LINE: Final = 16384
    MAX_MESSAGE: Final = 4 * 1024 * 1024
    MAX_HEADERS: Final = 100_000

    def __init__(
        self,
        banner: bool = False,
        *,
        max_line: int = MAX_LINE,
        max_message: int = MAX_MESSAGE,
        max_headers: int = MAX_HEADERS,
    ) -> None:
        self._want_banner = banner
        self.banner: str | None = None
        # Unconsumed bytes. A bytearray, so that a peer trickling a large message in tiny
        # pieces costs amortized O(1) per byte, not a copy of the whole buffer each time.
        self._buf = bytearray()
        self._scan = 0  # where to resume looking for an end-of-message in _buf
        self._max_line = max_line
        self._max_message = max_message
        self._max_headers = max_headers
        self._failed: FramingError | None = None
        self._checked = 0  # offset in _buf of the first line not yet length-checked

    @property
    def buffered(self) -> int:
        """Bytes received and not yet part of a complete message."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Message]:
        """
        Add received bytes; return the messages they complete, in order.

        @raise FramingError: over-long line or message, or garbage. The framer then stays
            failed: every later call raises the same error.
        """
        if self._failed is not None:
            raise self._failed
        try:
            return self._feed(data)
        except FramingError as e:
            self._failed = e
            self._buf = bytearray()
            raise

    def _feed(self, data: bytes) -> list[Message]:
        buf: bytes | bytearray
        if self._buf:
            buf = self._buf
            buf += data  # in place
        else:
            buf = data  # the common case: no copy
        if self._want_banner and self.banner is None:
            nl = buf.find(b"\n")
            if nl < 0:
                if len(buf) > self._max_line:
                    raise LineTooLong(f"banner line longer than {self._max_line} bytes")
                self._buf = bytearray(buf)
                return []
            line = buf[:nl]
            if len(line) > self._max_line:
                raise LineTooLong(f"banner line longer than {self._max_line} bytes")
            if line.endswith(b"\r"):
                line = line[:-1]
            if b"\x00" in line:
                raise Garbage("NUL byte in the banner line")
            self.banner = line.decode(_ENCODING, _ERRORS)
            buf = buf[nl + 1 :]
            self._scan = 0

        messages: list[Message] = []
        start = 0
        scan = self._scan
        n = len(buf)
        search = _END.search
        while True:
            # Skip empty lines between messages.
            while start < n and buf[start] in (10, 13):
                if buf[start] == 13 and start + 1 >= n:
                    break  # a lone CR at the end: wait for more
                start += 1
            if scan < start:
                scan = start
            m = search(buf, scan)
            if m is None:
                break
            end = m.start()
            messages.append(self._parse(buf, start, end))
            start = m.end()
            scan = start
        rest = buf[start:] if start else buf
        if start:
            self._checked = 0
        self._check_partial(rest)
        self._buf = rest if isinstance(rest, bytearray) else bytearray(rest)
        # Resume the search a little before the end: a terminator may straddle chunks.
        self._scan = max(0, len(rest) - 2)
        return messages

    def _check_partial(self, rest: bytes | bytearray) -> None:
        n = len(rest)
        if not n:
            return
        if n > self._max_message:
            raise MessageTooLong(f"message longer than {self._max_message} bytes")
        if n > self._max_line:
            # Check each line completed since the last look, then the partial last line.
            pos = self._checked
            find = rest.find
            while True:
                nl = find(b"\n", pos)
                if nl < 0:
                    break
                if nl - pos > self._max_line + 1:
                    raise LineTooLong(f"line longer than {self._max_line} bytes")
                pos = nl + 1
            if n - pos > self._max_line:
                raise LineTooLong(f"line longer than {self._max_line} bytes")
            self._checked = pos

    def _parse(self, buf: bytes | bytearray, start: int, end: int) -> Message:
        # ``end`` is the index of the LF that ends the last line; the line may end in CR.
        size = end - start
        if size > self._max_message:
            raise MessageTooLong(f"message longer than {self._max_message} bytes")
        text = buf[start : end + 1].decode(_ENCODING, _ERRORS)
        pairs = _LINE.findall(text)
        lines = text.count("\n")
        if len(pairs) != lines:
            # Some line is not "Key: Value" (or holds a stray CR).
            raise Garbage("a line in an AMI message is not 'Key: Value'")
        if lines > self._max_headers:
            raise MessageTooLong(f"message has more than {self._max_headers} lines")
        if "\x00" in text:
            raise Garbage("NUL byte in a message")
        if size > self._max_line:
            limit = self._max_line
            for line in text.split("\n"):
                if len(line) > limit and len(line.encode(_ENCODING, _ERRORS)) > limit + 1:
                    raise LineTooLong(f"line longer than {self._max_line} bytes")
        return Message._trusted(tuple(pairs))
