"""Tests for `dialer survey check|try` and `dialer prompts build|list`."""

from __future__ import annotations

import argparse
import io
import shutil
import wave

import pytest

from dialer import cli
from dialer.scripts import survey
from tests.surveys.scripts import EXAMPLE, MENU, SMALL


@pytest.fixture
def small(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(SMALL, encoding="utf-8")
    return path


def test_check_example_ok(capsys):
    """The shipped example passes with a summary line."""
    assert cli.main(["survey", "check", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "OK" in out and "93 units" in out and "0 warning(s)" in out


def test_check_a_directory(tmp_path, capsys):
    """A directory argument checks every .yaml in it; an empty one fails."""
    (tmp_path / "small.yaml").write_text(SMALL, encoding="utf-8")
    assert cli.main(["survey", "check", str(tmp_path)]) == 0
    assert "small.yaml: OK" in capsys.readouterr().out
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main(["survey", "check", str(empty)]) == 1


def test_check_reports_file_line_field(tmp_path, capsys):
    """A broken file fails with file:line: field: message lines on stderr."""
    bad = tmp_path / "bad.yaml"
    text = SMALL.replace("        prompt: q_why\n", "        promtp: q_why\n")
    bad.write_text(text, encoding="utf-8")
    line = text.splitlines().index("        promtp: q_why") + 1
    assert cli.main(["survey", "check", str(bad)]) == 1
    captured = capsys.readouterr()
    assert f"{bad}:{line}: blocks[0].questions[1].promtp: unknown key 'promtp'" in captured.err
    assert "error(s)" in captured.out


def test_check_strict_fails_on_warnings(small, capsys):
    """--strict turns the goto-loop warning into a failure."""
    assert cli.main(["survey", "check", str(small)]) == 0
    assert cli.main(["survey", "check", "--strict", str(small)]) == 1
    assert "warning: " in capsys.readouterr().out


def test_check_reports_missing_sounds(small, tmp_path, capsys):
    """--sounds lists sound files that are not there yet."""
    assert cli.main(["survey", "check", "--sounds", str(tmp_path / "snd"), str(small)]) == 0
    out = capsys.readouterr().out
    assert "missing " in out and "minyi/small/zh-CN/q_sat-1.wav" in out


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng and sox")
def test_prompts_build_and_list(small, tmp_path, capsys):
    """build makes the files and says human recordings are better; list shows their state."""
    snd = tmp_path / "snd"
    assert cli.main(["prompts", "build", "--sounds", str(snd), str(small)]) == 0
    out = capsys.readouterr().out
    assert "made " in out and "Recorded human prompts are much better" in out
    with wave.open(str(snd / "minyi/small/en/hello.wav"), "rb") as w:
        assert (w.getframerate(), w.getnchannels()) == (8000, 1)
    assert cli.main(["prompts", "list", "--sounds", str(snd), str(small)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(line.startswith("tts\t") for line in lines)
    assert any(line.endswith("\t金城江区") for line in lines)


def test_check_and_build_report_bad_human_recordings(small, tmp_path, capsys):
    """A 44.1 kHz recording dropped in is an error for check --sounds and build."""
    snd = tmp_path / "snd"
    path = snd / "minyi/small/zh-CN/hello.wav"
    path.parent.mkdir(parents=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(b"\0\1" * 4410)
    assert cli.main(["survey", "check", "--sounds", str(snd), str(small)]) == 1
    line = SMALL.splitlines().index("  hello: {zh-CN: 您好, en: Hello}") + 1
    assert f"small.yaml:{line}: sounds/zh-CN: {path}: 44100 Hz" in capsys.readouterr().err
    if shutil.which("espeak-ng") is not None:
        assert cli.main(["prompts", "build", "--sounds", str(snd), str(small)]) == 1
        assert f"{path}: 44100 Hz" in capsys.readouterr().err


def test_prompts_build_bad_script(tmp_path, capsys):
    """A script with errors stops the build with one line naming file and line."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema_version: 1\nid: x\n", encoding="utf-8")
    assert cli.main(["prompts", "build", "--sounds", str(tmp_path), str(bad)]) == 1
    assert f"{bad}:1:" in capsys.readouterr().err


def test_try_walks_the_script(small):
    """`survey try` plays texts, takes keys from stdin and prints the outcome."""
    keys = io.StringIO("\n1\n3\n#\n1\n5\n2\nmy comment\n")
    out = io.StringIO()
    args = argparse.Namespace(file=str(small), unit="U1", language=None)
    assert survey.run_try(args, keys, out) == 0
    text = out.getvalue()
    assert "您对金城江区的工作是否满意？" in text
    assert "您选择的是不满意" in text
    assert "= q_why@U1: 慢" in text
    assert "end: complete (AAPOR 1.1), finished, 4/4 answered" in text


def test_try_hang_up(small):
    """Typing h hangs up; end of input too."""
    out = io.StringIO()
    args = argparse.Namespace(file=str(small), unit="U1", language="en")
    assert survey.run_try(args, io.StringIO("\nh\n"), out) == 0
    assert "end: refused (AAPOR 2.11), hangup" in out.getvalue()


def test_show_outlines_the_questionnaire(small):
    """`survey show` prints questions, codes, skip logic and a length estimate."""
    out = io.StringIO()
    args = argparse.Namespace(file=str(small), language="en", sounds=None)
    assert survey.run_show(args, out) == 0
    text = out.getvalue()
    assert text.startswith("# Small\n")
    assert "**q_why** (choice) Why" in text
    assert "- _ask only if / 仅当 q_sat ∈ {3}_" in text
    assert "- key 3 = code 3: not satisfied (weight 0)" in text
    assert "- key 1 = code 1: again (→ q_num)" in text
    assert "- key 2 = code 2: decline (ends: refused)" in text
    assert "estimated from the text" in text


def test_length_estimate_uses_sound_files(small, tmp_path):
    """With sound files the estimate is their playing time (plus think time)."""
    script = survey.loader.load(small)
    guess = survey.estimate_seconds(script, "zh-CN")
    assert 10 < guess < 120
    snd = tmp_path / "snd"
    for sound in survey.needed(script):
        path = sound.path(snd, script.id)
        path.parent.mkdir(parents=True, exist_ok=True)
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(b"\0\0" * 80000)  # 10 s each
    timed = survey.estimate_seconds(script, "zh-CN", snd)
    assert timed > guess + 60


def test_check_units_against_the_store(tmp_path, capsys):
    """--units-from-db: the example matches the demo units; a missing unit is an error."""
    url = f"sqlite:///{tmp_path / 'dialer.db'}"
    assert cli.main(["--db", url, "db", "upgrade"]) == 0
    assert cli.main(["--db", url, "units", "import", "--demo"]) == 0
    capsys.readouterr()
    assert cli.main(["--db", url, "survey", "check", "--units-from-db", str(EXAMPLE)]) == 0
    assert "0 warning(s)" in capsys.readouterr().out
    text = EXAMPLE.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.startswith('  "D82"')]
    lines = [line.replace("金城江区", "金城江") for line in lines]
    short = tmp_path / "hechi_annual.yaml"
    short.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert cli.main(["--db", url, "survey", "check", "--units-from-db", str(short)]) == 1
    captured = capsys.readouterr()
    assert "1 unit(s) of the store are not in the script: D82" in captured.err
    assert "units.451202.zh-CN: name '金城江' differs from the store's '金城江区'" in captured.out


def test_show_language_menu(tmp_path):
    """`survey show` lists the language menu's keys."""
    path = tmp_path / "small.yaml"
    path.write_text(MENU, encoding="utf-8")
    out = io.StringIO()
    assert survey.run_show(argparse.Namespace(file=str(path), language=None, sounds=None), out) == 0
    assert "**Language menu / 语言选择** (1 = zh-CN, 2 = en; default zh-CN)" in out.getvalue()
