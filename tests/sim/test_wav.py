"""MixMonitor files: header first, completed on finish, speech from 8 kHz clips."""

from __future__ import annotations

import random
import wave

from dialer.sim.wav import Recording, load_clips
from tests.conftest import AUDIO_FIXTURES


def test_header_only_until_finished(tmp_path):
    """A started recording is a 44-byte WAV header (what kill -9 leaves)."""
    rec = Recording(tmp_path / "a.wav", 0.0, [], random.Random(1))
    assert (tmp_path / "a.wav").stat().st_size == 44
    rec.abandon()
    rec.finish(3.0, speech=False)
    assert (tmp_path / "a.wav").stat().st_size == 44


def test_finished_file_is_8k_16bit_mono_of_the_right_length(tmp_path):
    """finish(2.5) writes 2.5 s; with speech the samples are not all zero."""
    clips = sorted(AUDIO_FIXTURES.glob("*_8k.wav"))
    assert load_clips(clips)  # the 8 kHz fixtures are usable; the 16 kHz one is skipped
    for name, speech in (("s.wav", False), ("v.wav", True)):
        rec = Recording(tmp_path / name, 0.0, clips, random.Random(2))
        rec.finish(2.5, speech=speech)
        with wave.open(str(tmp_path / name)) as w:
            assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (8000, 2, 1)
            assert w.getnframes() == 20000
            frames = w.readframes(w.getnframes())
        assert any(frames) is speech
