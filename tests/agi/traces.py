"""
Reader for the reference FastAGI traces (C{agi_*.txt}): one wire line per record.

C{[+t] << line} is Asterisk to us, C{[+t] >> line} us to Asterisk, C{## ...} notes.
The environment block's terminator is written C{(empty line; terminator \\n)}.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import TRACES

B2 = TRACES / "agi_b2_caller_hangs_up_mid_command.txt"
B3 = TRACES / "agi_b3_full_survey_script.txt"

_LINE = re.compile(r"^\[\+(?P<t>[0-9.]+)\] (?P<dir><<|>>) ?(?P<text>.*)$")
EMPTY_MARK = "(empty line; terminator \\n)"


@dataclass(frozen=True)
class Line:
    time: float
    direction: str  # "<<" from Asterisk, ">>" to Asterisk
    text: str


def read(path: Path) -> list[Line]:
    """The wire lines of a trace, in order (notes dropped)."""
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        match = _LINE.match(raw)
        if match is None:
            continue
        text = match.group("text")
        if match.group("dir") == "<<" and text == EMPTY_MARK:
            text = ""
        lines.append(Line(float(match.group("t")), match.group("dir"), text))
    return lines


def received(path: Path) -> bytes:
    """Every byte Asterisk sent, LF-terminated lines, as on the wire."""
    return b"".join(line.text.encode() + b"\n" for line in read(path) if line.direction == "<<")


def sent(path: Path) -> list[str]:
    """The command lines the FastAGI server sent, in order."""
    return [line.text for line in read(path) if line.direction == ">>"]


def environment_bytes(path: Path) -> bytes:
    """The environment block only (up to and including the empty line)."""
    out = []
    for line in read(path):
        if line.direction != "<<":
            continue
        out.append(line.text.encode() + b"\n")
        if line.text == "":
            break
    return b"".join(out)


def chunks(data: bytes, size: int) -> list[bytes]:
    """C{data} cut into pieces of C{size} bytes (0 = whole)."""
    if size <= 0:
        return [data]
    return [data[i : i + size] for i in range(0, len(data), size)]


CHUNK_SIZES = (1, 2, 7, 64, 0)


def replies_to(path: Path, command: str, occurrence: int = 0) -> tuple[str, ...]:
    """The lines Asterisk sent after C{command} (its n-th occurrence) up to the next command."""
    seen = -1
    collecting = False
    out: list[str] = []
    for line in read(path):
        if line.direction == ">>":
            if collecting:
                break
            if line.text == command:
                seen += 1
                collecting = seen == occurrence
        elif collecting:
            out.append(line.text)
    if not collecting:
        raise KeyError(command)
    return tuple(out)
