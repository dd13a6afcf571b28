"""
Reader for the reference Asterisk AMI traces (shared by the AMI client and simulator tests).

The traces live in C{TRACES} (C{../shared/asterisk-reference/traces}). Two kinds are read:

- C{<scenario>.ami.txt}: the transcript. Each record starts with a header line
  C{[+t] >>} (client to Asterisk) or C{[+t] <<} (Asterisk to client), optionally followed
  by a connection tag C{[name]}; untagged records belong to the connection named
  C{DEFAULT_CONNECTION} (C{"ami"}, which is also how the raw files name it). The record's
  lines follow, up to an empty line. A record is one of: the banner line
  (C{Asterisk Call Manager/11.0.0}), C{<<EOF>> (connection closed by Asterisk)}, or an AMI
  message. C{## [+t] text} lines are notes from the capture script.
- C{raw/<scenario>.<connection>.rx.raw.txt}: the exact bytes Asterisk sent on one connection.

Usage::

    from tests.traces import load, scenarios, raw_files

    trace = load("b0")                     # by scenario prefix, or a file name / Path
    trace.connections                      # ["ami"]; e: ["main", "bad1", "bad2"]
    for time, direction, msg in trace.messages("ami"):   # only AMI messages
        ...                                # direction is SENT (">>") or RECEIVED ("<<")
    trace.entries                          # every record incl. banner/EOF, file order
    trace.received_bytes("ami")            # wire bytes rebuilt from the transcript
    trace.raw_received("ami")              # bytes of the raw file (None if absent)
    trace.exchanges("ami")                 # [(sent Message, [replies until next send])]

All functions are pure file readers: no Twisted, no dialer imports except
C{dialer.ami.message}.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

from dialer.ami.message import Framer, Message

TRACES = Path(__file__).resolve().parents[1].parent / "shared" / "asterisk-reference" / "traces"
RAW = TRACES / "raw"

DEFAULT_CONNECTION = "ami"
SENT: Literal[">>"] = ">>"
RECEIVED: Literal["<<"] = "<<"
BANNER_PREFIX = "Asterisk Call Manager/"
EOF_MARK = "<<EOF>>"

_HEAD = re.compile(r"^\[\+(?P<t>[0-9.]+)\] (?P<dir>>>|<<)(?: \[(?P<conn>[^\]]+)\])?$")
_NOTE = re.compile(r"^## \[\+(?P<t>[0-9.]+)\] (?P<text>.*)$")

Kind = Literal["message", "banner", "eof"]


@dataclass(frozen=True)
class Entry:
    """One record of a transcript."""

    time: float
    direction: str  # SENT or RECEIVED
    connection: str
    kind: Kind
    message: Message | None  # None for banner and EOF records
    text: str  # the record's lines joined with "\n" (the banner line, the EOF line, ...)

    def wire(self) -> bytes:
        """The bytes this record stood for on the wire (b"" for EOF)."""
        if self.kind == "eof":
            return b""
        if self.kind == "banner":
            return (self.text + "\r\n").encode()
        lines = self.text.split("\n")
        return ("".join(line + "\r\n" for line in lines) + "\r\n").encode(
            "utf-8", "surrogateescape"
        )


@dataclass(frozen=True)
class Note:
    """A C{##} note from the capture script."""

    time: float
    text: str


@dataclass
class Trace:
    """A parsed C{*.ami.txt} transcript."""

    name: str  # scenario file stem without ".ami", e.g. "b0_originate_busy"
    path: Path
    title: str
    entries: list[Entry] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    @property
    def scenario(self) -> str:
        """The short scenario id: the part before the first underscore (C{b0c}, C{g1}, C{e})."""
        return self.name.split("_", 1)[0]

    @property
    def connections(self) -> list[str]:
        """Connection names in order of first appearance."""
        seen: dict[str, None] = {}
        for e in self.entries:
            seen.setdefault(e.connection, None)
        return list(seen)

    def connection(self, name: str = DEFAULT_CONNECTION) -> list[Entry]:
        """Every record of one connection, in file order."""
        return [e for e in self.entries if e.connection == name]

    def messages(
        self, name: str = DEFAULT_CONNECTION, direction: str | None = None
    ) -> list[tuple[float, str, Message]]:
        """C{(time, direction, Message)} for one connection's AMI messages (no banner, no EOF)."""
        return [
            (e.time, e.direction, e.message)
            for e in self.entries
            if e.connection == name
            and e.message is not None
            and (direction is None or e.direction == direction)
        ]

    def sent(self, name: str = DEFAULT_CONNECTION) -> list[Message]:
        """The messages the client sent on one connection."""
        return [m for _, _, m in self.messages(name, SENT)]

    def received(self, name: str = DEFAULT_CONNECTION) -> list[Message]:
        """The messages Asterisk sent on one connection."""
        return [m for _, _, m in self.messages(name, RECEIVED)]

    def exchanges(self, name: str = DEFAULT_CONNECTION) -> list[tuple[Message | None, list[Entry]]]:
        """
        The connection cut at each sent message: C{[(sent, [received entries until the next send])]}.

        The first item has C{sent=None} and holds what arrived before the first send (the banner).
        Received entries include the banner and EOF records.
        """
        out: list[tuple[Message | None, list[Entry]]] = [(None, [])]
        for e in self.connection(name):
            if e.direction == SENT:
                out.append((e.message, []))
            else:
                out[-1][1].append(e)
        return out

    def received_bytes(self, name: str = DEFAULT_CONNECTION) -> bytes:
        """What Asterisk sent on one connection, rebuilt from the transcript (CRLF)."""
        return b"".join(e.wire() for e in self.connection(name) if e.direction == RECEIVED)

    def sent_bytes(self, name: str = DEFAULT_CONNECTION) -> bytes:
        """What the client sent on one connection, rebuilt from the transcript (CRLF)."""
        return b"".join(e.wire() for e in self.connection(name) if e.direction == SENT)

    def closed_by_asterisk(self, name: str = DEFAULT_CONNECTION) -> bool:
        """True when the transcript records Asterisk closing this connection."""
        return any(e.kind == "eof" for e in self.connection(name))

    def raw_path(self, name: str = DEFAULT_CONNECTION) -> Path:
        """Where the raw received bytes of one connection would be."""
        return RAW / f"{self.name}.{name}.rx.raw.txt"

    def raw_received(self, name: str = DEFAULT_CONNECTION) -> bytes | None:
        """The raw file's bytes for one connection, or None when there is no raw file."""
        p = self.raw_path(name)
        return p.read_bytes() if p.exists() else None


def _finish(trace: Trace, head: re.Match[str], lines: list[str]) -> None:
    t = float(head["t"])
    direction = head["dir"]
    conn = head["conn"] or DEFAULT_CONNECTION
    text = "\n".join(lines)
    if len(lines) == 1 and lines[0].startswith(EOF_MARK):
        trace.entries.append(Entry(t, direction, conn, "eof", None, text))
    elif len(lines) == 1 and lines[0].startswith(BANNER_PREFIX):
        trace.entries.append(Entry(t, direction, conn, "banner", None, text))
    else:
        wire = "".join(line + "\r\n" for line in lines) + "\r\n"
        msgs = Framer().feed(wire.encode("utf-8", "surrogateescape"))
        if len(msgs) != 1:
            raise ValueError(f"{trace.path.name}: record at +{t} is not one AMI message")
        trace.entries.append(Entry(t, direction, conn, "message", msgs[0], text))


def parse(path: Path) -> Trace:
    """Parse one C{*.ami.txt} transcript."""
    text = path.read_text("utf-8", "surrogateescape")
    name = path.name.removesuffix(".txt").removesuffix(".ami")
    title = ""
    first = text.split("\n", 1)[0]
    if first.startswith("# AMI trace:"):
        title = first.removeprefix("# AMI trace:").strip()
    trace = Trace(name=name, path=path, title=title)
    head: re.Match[str] | None = None
    lines: list[str] = []
    for line in text.split("\n"):
        if head is not None:
            if line == "":
                _finish(trace, head, lines)
                head, lines = None, []
            else:
                lines.append(line)
            continue
        if line.startswith("##"):
            m = _NOTE.match(line)
            if m:
                trace.notes.append(Note(float(m["t"]), m["text"]))
            continue
        if line.startswith("#") or not line.strip():
            continue
        m = _HEAD.match(line)
        if m is None:
            raise ValueError(f"{path.name}: unexpected line {line!r}")
        head = m
    if head is not None and lines:
        _finish(trace, head, lines)
    return trace


def trace_paths() -> list[Path]:
    """Every C{*.ami.txt} transcript, sorted by name."""
    return sorted(TRACES.glob("*.ami.txt"))


def scenarios() -> list[str]:
    """Every transcript's name (C{"b0_originate_busy"}, ...), sorted."""
    return [p.name.removesuffix(".ami.txt") for p in trace_paths()]


@cache
def _load_path(path: Path) -> Trace:
    return parse(path)


def load(name: str | Path) -> Trace:
    """
    A transcript by path, full name (C{"b0_originate_busy"}) or scenario id (C{"b0"}).

    Results are cached; treat them as read-only.
    """
    if isinstance(name, Path):
        return _load_path(name)
    exact = TRACES / f"{name}.ami.txt"
    if exact.exists():
        return _load_path(exact)
    matches = [p for p in trace_paths() if p.name.split("_", 1)[0] == name]
    if len(matches) != 1:
        raise KeyError(f"no single AMI trace for scenario {name!r}")
    return _load_path(matches[0])


def all_traces() -> list[Trace]:
    """Every transcript, parsed."""
    return [_load_path(p) for p in trace_paths()]


def raw_files() -> list[Path]:
    """Every C{raw/*.rx.raw.txt} file (bytes received from Asterisk), sorted."""
    return sorted(RAW.glob("*.raw.txt"))
