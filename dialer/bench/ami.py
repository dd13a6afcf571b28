"""AMI parsing speed: events parsed per second on one core, over the reference traces replayed many times.

Two figures:

- C{framer_events_per_s}: the pure L{dialer.ami.message.Framer} alone (bytes to Message).
- C{protocol_events_per_s}: the whole receive path of the client: L{AMIProtocol.dataReceived}
  (framing, response/event routing) plus an L{EventDispatcher} with one catch-all
  subscriber and the L{ChannelTracker}.

The input is every C{raw/*.rx.raw.txt} file (the bytes Asterisk sent), fed in chunks of
C{--chunk} bytes (default 1460, a TCP segment), C{--rounds} times. CPU time is process
time, so the figure is per core.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any, cast

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from dialer.ami.channels import ChannelTracker
from dialer.ami.message import Framer
from dialer.ami.protocol import AMIProtocol, EventDispatcher
from dialer.errors import InputError

_DEFAULT_TRACES = (
    Path(__file__).resolve().parents[2].parent / "shared" / "asterisk-reference" / "traces" / "raw"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--traces",
        type=Path,
        default=_DEFAULT_TRACES,
        help="folder of raw AMI traces (*.rx.raw.txt) / 原始 AMI 抓包目录",
    )
    parser.add_argument(
        "--rounds", type=int, default=200, help="times to replay all traces / 重放轮数"
    )
    parser.add_argument(
        "--chunk", type=int, default=1460, help="bytes per dataReceived call / 每次送入字节数"
    )


def _load(folder: Path) -> list[bytes]:
    files = sorted(folder.glob("*.rx.raw.txt"))
    if not files:
        raise InputError(
            f"no *.rx.raw.txt traces in {folder} / 目录中没有 AMI 原始抓包: use --traces DIR"
        )
    return [f.read_bytes() for f in files]


def _split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def run(args: argparse.Namespace) -> dict[str, Any]:
    blobs = _load(args.traces)
    chunked = [_split(b, max(1, args.chunk)) for b in blobs]
    total_bytes = sum(len(b) for b in blobs)

    # Count once.
    messages = events = 0
    for b in blobs:
        for m in Framer(banner=True).feed(b):
            messages += 1
            events += m.is_event

    # Framer alone.
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    parsed = 0
    for _ in range(args.rounds):
        for chunks in chunked:
            f = Framer(banner=True)
            for c in chunks:
                parsed += len(f.feed(c))
    framer_cpu = time.process_time() - cpu0
    framer_wall = time.perf_counter() - wall0

    # The client's whole receive path.
    clock: Any = Clock()  # no timer fires: nothing is sent
    seen = 0

    def count(_: object) -> None:
        nonlocal seen
        seen += 1

    cpu0 = time.process_time()
    for _ in range(args.rounds):
        for chunks in chunked:
            dispatcher = EventDispatcher()
            dispatcher.subscribe(None, count)
            tracker = ChannelTracker()

            def sink(e: Any, d: EventDispatcher = dispatcher, t: ChannelTracker = tracker) -> None:
                t.handle(e)
                d.dispatch(e)

            p = AMIProtocol(clock)
            p.event_sink = sink
            cast(Any, p).makeConnection(cast(Any, StringTransport)())
            for c in chunks:
                p.dataReceived(c)
    protocol_cpu = time.process_time() - cpu0

    rounds = args.rounds
    return {
        "traces": len(blobs),
        "rounds": rounds,
        "chunk_bytes": args.chunk,
        "messages_per_round": messages,
        "events_per_round": events,
        "framer_messages_parsed": parsed,
        "framer_cpu_s": round(framer_cpu, 3),
        "framer_wall_s": round(framer_wall, 3),
        "framer_events_per_s": round(events * rounds / framer_cpu) if framer_cpu else None,
        "framer_messages_per_s": round(messages * rounds / framer_cpu) if framer_cpu else None,
        "framer_mb_per_s": round(total_bytes * rounds / framer_cpu / 1e6, 1)
        if framer_cpu
        else None,
        "protocol_cpu_s": round(protocol_cpu, 3),
        "protocol_events_per_s": round(seen / protocol_cpu) if protocol_cpu else None,
    }
