# -*- test-case-name: tests.sim.test_wav -*-
"""
MixMonitor recordings: real RIFF WAVE files, PCM 16-bit mono 8000 Hz, as Asterisk writes.

The file is created with a 44-byte header when MixMonitor starts (so a "kill -9" leaves the
same unfinished 44-byte file Asterisk leaves, trace g3) and completed when the channel ends.
Speech comes from 8 kHz 16-bit mono WAV clips (e.g. C{shared/audio-fixtures/*_8k.wav}),
placed with pauses; otherwise the file holds digital silence, as with the reference's
silent simulated parties.
"""

from __future__ import annotations

import random
import struct
import wave
from pathlib import Path

__all__ = ["RATE", "Recording", "load_clips"]

RATE = 8000


def _header(data_bytes: int) -> bytes:
    return (
        b"RIFF"
        + struct.pack("<I", 36 + data_bytes)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, RATE, RATE * 2, 2, 16)
        + b"data"
        + struct.pack("<I", data_bytes)
    )


_CACHE: dict[tuple[Path, ...], list[bytes]] = {}


def load_clips(paths: list[Path]) -> list[bytes]:
    """PCM frames of the clips that are 8 kHz, 16-bit, mono (others skipped); read once."""
    key = tuple(paths)
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    clips = []
    for p in paths:
        try:
            with wave.open(str(p), "rb") as w:
                if (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (RATE, 2, 1):
                    clips.append(w.readframes(w.getnframes()))
        except (OSError, wave.Error, EOFError):
            continue
    _CACHE[key] = clips
    return clips


class Recording:
    """One MixMonitor file being written."""

    def __init__(self, path: Path, started: float, audio: list[Path], rng: random.Random) -> None:
        self.path = path
        self.started = started
        self._audio = audio
        self._rng = rng
        self.finished = False
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(_header(0))
            self.ok = True
        except OSError:
            self.ok = False

    def finish(self, seconds: float, *, speech: bool) -> None:
        """Write C{seconds} of audio (speech clips with pauses, or silence) and the header."""
        if self.finished or not self.ok:
            return
        self.finished = True
        nbytes = max(0, int(seconds * RATE)) * 2
        body = bytearray(nbytes)
        if speech and self._audio:
            clips = load_clips(self._audio)
            pos = int(0.5 * RATE) * 2
            while clips and pos < nbytes:
                clip = self._rng.choice(clips)
                chunk = clip[: nbytes - pos]
                body[pos : pos + len(chunk)] = chunk
                pos += len(chunk) + int(self._rng.uniform(0.4, 1.5) * RATE) * 2
        try:
            with self.path.open("wb") as f:
                f.write(_header(nbytes))
                f.write(bytes(body))
        except OSError:
            pass

    def abandon(self) -> None:
        """Leave the 44-byte unfinished file (the process was killed)."""
        self.finished = True
