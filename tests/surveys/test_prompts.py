"""Tests for dialer.surveys.prompts: pieces, sound names, pinyin, and building with espeak-ng."""

from __future__ import annotations

import json
import shutil
import wave

import pytest

from dialer.surveys import loader, prompts
from tests.surveys.scripts import SMALL, caller_events

SCRIPT = loader.loads(SMALL, "small.yaml")
needs_tts = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("sox") is None,
    reason="needs espeak-ng and sox: apt-get install espeak-ng sox libsox-fmt-all (make debian-deps)",
)


def wav_info(path):
    with wave.open(str(path), "rb") as w:
        return w.getnchannels(), w.getframerate(), w.getsampwidth(), w.getnframes()


def test_pieces_split_at_placeholders():
    """A prompt with {unit} is spoken as text piece, unit name, text piece."""
    q_sat = SCRIPT.blocks[1].questions[0]
    text, audio = prompts.render(SCRIPT, "q_sat", "zh-CN", unit_code="U1", question=q_sat)
    assert text == "您对金城江区的工作是否满意？"
    assert audio == (
        "minyi/small/zh-CN/q_sat-1",
        "minyi/small/zh-CN/unit-U1",
        "minyi/small/zh-CN/q_sat-2",
    )
    text, audio = prompts.render(SCRIPT, "hello", "en")
    assert (text, audio) == ("Hello", ("minyi/small/en/hello",))


def test_needed_lists_each_sound_once():
    """needed() covers prompts, pieces, unit names and read-back labels, once each."""
    sounds = prompts.needed(SCRIPT)
    names = {(s.language, s.name): s.text for s in sounds}
    assert len(names) == len(sounds)
    assert names[("zh-CN", "q_sat-1")] == "您对"
    assert names[("en", "unit-U2")] == "Yizhou District"
    assert names[("zh-CN", "option-sat-3")] == "不满意"  # q_sat is confirmed: labels read back
    assert not any(n.startswith("option-q_why") for _, n in names)  # q_why is not
    assert ("en", "q_sat-2") not in names  # "?" alone is not worth a file
    assert ("zh-CN", "confirm") not in names and ("zh-CN", "confirm-1") in names


@pytest.mark.parametrize(
    ("text", "pinyin"),
    [
        ("满意请按1", "man3 yi4 qing3 an4 yi1"),
        ("请按#号键结束", "qing3 an4 jing3 hao4 jian4 jie2 shu4"),
        ("都安瑶族自治县", "du1 an1 yao2 zu2 zi4 zhi4 xian4"),
        ("。确认", "que4 ren4"),
        ("不了解", "bu4 liao3 jie3"),
    ],
)
def test_to_pinyin(text, pinyin):
    """Mandarin becomes tone-numbered pinyin for espeak-ng's cmn-latn-pinyin voice."""
    assert prompts.to_pinyin(text) == pinyin


@needs_tts
def test_build_makes_valid_asterisk_wavs(tmp_path):
    """Every needed file is an 8 kHz 16-bit mono WAV of speech; a second build makes none."""
    result = prompts.build(SCRIPT, tmp_path)
    needed = prompts.needed(SCRIPT)
    assert len(result.made) == len(needed)
    for sound in needed:
        path = sound.path(tmp_path, "small")
        channels, rate, width, frames = wav_info(path)
        assert (channels, rate, width) == (1, 8000, 2), path
        assert frames / rate > 0.15, path
    manifest = json.loads((tmp_path / "minyi/small/zh-CN/.tts.json").read_text())
    assert "q_sat-1" in manifest
    again = prompts.build(SCRIPT, tmp_path)
    assert again.made == [] and len(again.kept_tts) == len(needed)


@needs_tts
def test_build_keeps_human_recordings_and_remakes_changed_text(tmp_path):
    """A human recording is never overwritten; a TTS file whose text changed is remade."""
    prompts.build(SCRIPT, tmp_path)
    human = tmp_path / "minyi/small/zh-CN/hello.wav"
    manifest_path = human.parent / ".tts.json"
    manifest = json.loads(manifest_path.read_text())
    del manifest["hello"]  # as if a person had recorded it
    manifest_path.write_text(json.dumps(manifest))
    human.write_bytes(human.read_bytes())
    before = human.stat().st_mtime_ns
    changed = loader.loads(SMALL.replace("thanks: {zh-CN: 谢谢,", "thanks: {zh-CN: 非常感谢,"))
    result = prompts.build(changed, tmp_path)
    assert [p.name for p in result.made] == ["thanks.wav"]
    assert human in result.kept_human
    assert human.stat().st_mtime_ns == before
    forced = prompts.build(changed, tmp_path, force=True)
    assert human not in forced.made
    assert len(forced.made) == len(prompts.needed(changed)) - 1


def test_recording_in_another_format_counts_as_human(tmp_path):
    """A .sln (or .gsm ...) file with the prompt's name is a human recording: nothing to make."""
    sounds = prompts.needed(SCRIPT)
    for sound in sounds:
        path = sound.path(tmp_path, "small").with_suffix(".sln")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\0\0" * 800)
    todo, result = prompts.plan(SCRIPT, tmp_path)
    assert todo == []
    assert len(result.kept_human) == len(sounds)
    assert prompts.build(SCRIPT, tmp_path).made == []


@pytest.mark.parametrize(
    ("rate", "channels", "words"),
    [(8000, 1, None), (44100, 1, "44100 Hz, 1 channel(s), 16-bit"), (8000, 2, "2 channel(s)")],
)
def test_audio_problem_names_wrong_formats(tmp_path, rate, channels, words):
    """A human recording at the wrong rate or in stereo is reported with the sox fix."""
    path = tmp_path / "hello.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\1\0" * channels * 800)
    problem = prompts.audio_problem(path)
    if words is None:
        assert problem is None
    else:
        assert problem is not None and words in problem and "sox IN -r 8000 -c 1" in problem
    (tmp_path / "x.wav").write_bytes(b"RIFF nonsense")
    assert "not a PCM WAV" in prompts.audio_problem(tmp_path / "x.wav")
    (tmp_path / "y.gsm").write_bytes(b"\0" * 34)
    assert "33" in prompts.audio_problem(tmp_path / "y.gsm")


@needs_tts
def test_text_starting_with_a_dash_is_spoken(tmp_path):
    """A prompt starting with "-" is spoken, not taken for an espeak-ng option."""
    target = tmp_path / "dash.wav"
    prompts.synthesize("en", "-3 degrees and falling", target)
    assert wav_info(target)[3] / 8000 > 0.8


def test_tts_failure_is_one_clear_error(tmp_path, monkeypatch):
    """A failing espeak-ng gives a ConfigError naming the sound, not a traceback."""
    import subprocess

    def fail(*args, **kwargs):
        raise subprocess.CalledProcessError(1, ["espeak-ng"], stderr=b"no voice cmn-latn-pinyin")

    monkeypatch.setattr(prompts, "check_tools", lambda: None)
    monkeypatch.setattr(prompts.subprocess, "run", fail)
    with pytest.raises(prompts.ConfigError, match=r"espeak-ng failed for .*no voice"):
        prompts.build(SCRIPT, tmp_path, jobs=1)


def test_missing_tools_are_named(monkeypatch):
    """Without espeak-ng the error says which Debian packages to install."""
    monkeypatch.setattr(prompts.shutil, "which", lambda name: None)
    with pytest.raises(prompts.ConfigError, match="apt-get install espeak-ng sox"):
        prompts.check_tools()


def test_every_sound_the_flow_plays_is_in_the_build_list():
    """Walking the example (every unit, both languages, random callers) plays only sounds build makes."""
    import random

    from dialer.surveys import flow
    from tests.surveys.scripts import EXAMPLE

    script = loader.load(EXAMPLE)
    made = {f"{prompts.sound_dir(script.id, s.language)}/{s.name}" for s in prompts.needed(script)}
    played: set[str] = set()
    rng = random.Random(5)
    for unit in sorted(script.units):
        for language in script.languages:
            for _ in range(3):
                state, step = flow.start(script, unit_code=unit, language=language)
                while not isinstance(step, flow.End):
                    for say in getattr(step, "prompts", ()):
                        assert "{" not in say.text, say
                        played.update(say.audio)
                    choices = [e for e in caller_events(step) if not isinstance(e, flow.Hangup)]
                    # mostly valid keys, so that walks go deep
                    keys = [
                        e for e in choices if isinstance(e, flow.Digits) and e.digits not in "*9"
                    ]
                    pool = keys if keys and rng.random() < 0.9 else choices
                    ev = rng.choice(pool)
                    if getattr(step, "question_id", "") in ("consent", "q_resident"):
                        ev = flow.Digits("1")  # agree, live here: reach the unit questions
                    state, step = flow.next_step(state, ev)
    assert played <= made, sorted(played - made)[:5]
    assert {f"minyi/hechi_annual/en/unit-{code}" for code in script.units} <= played
    assert "minyi/hechi_annual/zh-CN/option-satisfaction-3" in played


def test_named_sounds_are_played_not_built():
    """A prompt with audio is played by that name and left out of the build list."""
    text = SMALL.replace(
        "  bye: {zh-CN: 再见, en: Bye}\n", "  bye: {zh-CN: 再见, en: Bye, audio: vm-goodbye}\n"
    )
    script = loader.loads(text, "small.yaml")
    assert prompts.render(script, "bye", "en") == ("Bye", ("vm-goodbye",))
    assert not any(s.name == "bye" for s in prompts.needed(script))
