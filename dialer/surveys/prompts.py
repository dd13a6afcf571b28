"""
Prompts: how a prompt id becomes text and sound files, and how missing sound files are
made with an offline TTS.

Sound layout (relative to Asterisk's sounds directory, e.g. /var/lib/asterisk/sounds)::

    minyi/<script id>/<language>/<name>.wav     8 kHz, 16-bit, mono PCM

where C{<name>} is
  - C{<prompt id>} for a prompt without placeholders;
  - C{<prompt id>-<n>} for the n-th piece of literal text of a prompt with placeholders
    ("您对{unit}的工作是否满意?" is C{q_satisfaction-1}, C{unit-451202}, C{q_satisfaction-2});
  - C{unit-<unit code>} for a unit's name;
  - C{option-<scale or question id>-<code>} for an option's label (the C{{option}} placeholder).

Pieces are played one after another, the way Asterisk itself says numbers, so a new
unit needs one new recording (its name), not one per question.

Recorded human prompts are much better than TTS: put a file at the same path and
C{dialer prompts build} will never overwrite it. Files made by TTS are listed in
C{.tts.json} in each language directory (with a digest of the text), so they are
remade when the text changes and never confused with a human recording.

test-case-name: tests.surveys.test_prompts
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import string
import subprocess
import tempfile
import wave
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from dialer.errors import ConfigError
from dialer.surveys.model import Option, Question, Script

SOUND_ROOT = "minyi"
MANIFEST = ".tts.json"
RATE = 8000

_formatter = string.Formatter()
#: A literal piece made only of these is not worth a sound file.
_SILENT = re.compile(r"^[\s,.;:!?，。、；：！？…\-—]*$")


@dataclass(frozen=True)
class Piece:
    """One piece of a rendered prompt: its text and its sound name (no directory)."""

    text: str
    name: str


def sound_dir(script_id: str, language: str) -> str:
    """The directory of a script's sounds in one language, relative to the sounds root."""
    return f"{SOUND_ROOT}/{script_id}/{language}"


def option_owner(question: Question) -> str:
    return question.scale or question.id


def unit_text(script: Script, unit_code: str | None, language: str) -> str:
    if unit_code is None:
        return ""
    unit = script.units.get(unit_code)
    if unit is None:
        return unit_code
    return unit.name.get(language) or next(iter(unit.name.values()), unit_code)


def placeholders(text: str) -> list[str]:
    """The placeholder names used in a prompt text, in order."""
    return [field for _, field, _, _ in _formatter.parse(text) if field is not None]


def pieces(
    script: Script,
    prompt_id: str,
    language: str,
    *,
    unit_code: str | None = None,
    unit_name: str | None = None,
    question: Question | None = None,
    option: Option | None = None,
) -> list[Piece]:
    """Split a prompt into the pieces that are spoken one after another."""
    text = script.prompts[prompt_id].text[language]
    parsed = list(_formatter.parse(text))
    if all(field is None for _, field, _, _ in parsed):
        return [Piece(text, prompt_id)]
    out: list[Piece] = []
    for n, (literal, field, _, _) in enumerate(parsed, start=1):
        if literal and not _SILENT.match(literal):
            out.append(Piece(literal, f"{prompt_id}-{n}"))
        if field == "unit":
            name = unit_name or unit_text(script, unit_code, language)
            out.append(Piece(name, f"unit-{unit_code}"))
        elif field == "option" and option is not None and question is not None:
            label = option.label.get(language, "")
            out.append(Piece(label, f"option-{option_owner(question)}-{option.code}"))
    return out


def render(
    script: Script,
    prompt_id: str,
    language: str,
    *,
    unit_code: str | None = None,
    unit_name: str | None = None,
    question: Question | None = None,
    option: Option | None = None,
) -> tuple[str, tuple[str, ...]]:
    """The text of a prompt with placeholders filled in, and its sound names in order."""
    parts = pieces(
        script,
        prompt_id,
        language,
        unit_code=unit_code,
        unit_name=unit_name,
        question=question,
        option=option,
    )
    text_values = {
        "unit": unit_name or unit_text(script, unit_code, language),
        "option": option.label.get(language, "") if option is not None else "",
    }
    text = script.prompts[prompt_id].text[language].format_map(text_values)
    given = script.prompts[prompt_id].audio.get(language)
    if given is not None:
        return text, (given,)
    base = sound_dir(script.id, language)
    return text, tuple(f"{base}/{p.name}" for p in parts)


@dataclass(frozen=True)
class Sound:
    """A sound file a script needs: language, name, and the text to speak."""

    language: str
    name: str
    text: str

    def path(self, root: Path, script_id: str) -> Path:
        return root / sound_dir(script_id, self.language) / f"{self.name}.wav"


def needed(script: Script) -> list[Sound]:
    """Every sound file the script can play, each once."""
    seen: dict[tuple[str, str], Sound] = {}
    uses_unit = uses_option = False
    for lang in script.languages:
        for prompt in script.prompts.values():
            text = prompt.text.get(lang)
            if text is None or lang in prompt.audio:
                continue  # a sound named in the script is not ours to build
            fields = placeholders(text)
            uses_unit |= "unit" in fields
            uses_option |= "option" in fields
            for p in pieces(script, prompt.id, lang):
                if p.name.startswith(("unit-", "option-")):
                    continue
                seen.setdefault((lang, p.name), Sound(lang, p.name, p.text))
    for lang in script.languages:
        if uses_unit:
            for code in script.units:
                name = f"unit-{code}"
                seen.setdefault((lang, name), Sound(lang, name, unit_text(script, code, lang)))
        if uses_option:
            for _, question in script.questions():
                if not question.confirm:
                    continue  # {option} is only said when a choice is read back
                for option in question.options:
                    name = f"option-{option_owner(question)}-{option.code}"
                    label = option.label.get(lang, "")
                    seen.setdefault((lang, name), Sound(lang, name, label))
    return list(seen.values())


# --- building sounds with espeak-ng ----------------------------------------------------

#: espeak-ng voices per language; Mandarin goes through pinyin (see L{to_pinyin}).
VOICES = {"zh-CN": "cmn-latn-pinyin", "zh": "cmn-latn-pinyin", "en": "en-us", "en-US": "en-us"}
_ZH_DIGITS = dict(zip("0123456789", "零一二三四五六七八九", strict=True))
_ZH_PUNCT = str.maketrans("，。、！？；：（）", ",.,!?;:  ")


def to_pinyin(text: str) -> str:
    """Hanzi to tone-numbered pinyin for C{espeak-ng -v cmn-latn-pinyin}.

    espeak-ng 1.51's C{cmn} voice reads Hanzi as English-spelled syllables plus tone
    numbers, so Mandarin is converted first (digits become 一二三, "*"/"#" 星号/井号).
    """
    try:
        from pypinyin import Style, lazy_pinyin
    except ImportError as error:  # pragma: no cover - depends on the install
        raise ConfigError(
            "Mandarin prompts need pypinyin: pip install 'minyi-dialer[prompts]'"
            " / 普通话提示音需要 pypinyin"
        ) from error
    _load_phrases()
    for sign, word in (("*号", "星号"), ("#号", "井号"), ("*", "星号"), ("#", "井号")):
        text = text.replace(sign, word)
    text = "".join(_ZH_DIGITS.get(c, c) for c in text).translate(_ZH_PUNCT)
    syllables = lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True)
    spoken = re.sub(r"\s+([,.!?;:])", r"\1", " ".join(s.strip() for s in syllables if s.strip()))
    return spoken.lstrip(",.!?;: ")


#: Readings pypinyin's dictionary gets wrong for the demo city's place names.
PHRASES = {"都安": [["dū"], ["ān"]]}
_phrases_loaded = False


def _load_phrases() -> None:
    global _phrases_loaded
    if not _phrases_loaded:
        from pypinyin import load_phrases_dict

        load_phrases_dict(PHRASES)
        _phrases_loaded = True


def tts_text(language: str, text: str) -> tuple[str, str]:
    """The espeak-ng voice and input text for a prompt text."""
    voice = VOICES.get(language, language.split("-")[0].lower())
    if voice == "cmn-latn-pinyin":
        return voice, to_pinyin(text)
    return voice, text.replace("*", " star ").replace("#", " pound ")


def digest(language: str, text: str) -> str:
    voice, spoken = tts_text(language, text)
    return hashlib.sha256(f"{voice}\0{spoken}".encode()).hexdigest()[:16]


def check_tools() -> None:
    """Raise ConfigError naming the Debian package when espeak-ng or sox is missing."""
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise ConfigError(
                f"{tool} not found: apt-get install espeak-ng sox libsox-fmt-all"
                f" / 未找到 {tool}，请安装"
            )


def synthesize(language: str, text: str, target: Path, *, speed: int = 150) -> None:
    """Speak C{text} into C{target}: 8 kHz, 16-bit signed, mono WAV, peak -3 dBFS."""
    voice, spoken = tts_text(language, text)
    if voice == "cmn-latn-pinyin":
        speed = max(speed, 160)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dialer-tts-") as tmp:
        raw = Path(tmp) / "raw.wav"
        # The text goes through stdin: as an argument, "-3 ..." would be read as an option.
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), "--stdin"],
            input=spoken.encode("utf-8"),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        part = target.with_name(f".{target.name}.part")
        subprocess.run(
            [
                "sox",
                str(raw),
                "-t",
                "wav",
                "-r",
                str(RATE),
                "-c",
                "1",
                "-b",
                "16",
                "-e",
                "signed-integer",
                str(part),
                "norm",
                "-3",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        os.replace(part, target)


#: Other formats Asterisk plays; a file in one of them counts as a human recording.
OTHER_FORMATS = (".sln", ".sln16", ".gsm", ".ulaw", ".alaw", ".g722", ".wav16")


def other_format(path: Path) -> Path | None:
    """A sibling of C{path} in another Asterisk format, if there is one."""
    for suffix in OTHER_FORMATS:
        candidate = path.with_suffix(suffix)
        if candidate.exists():
            return candidate
    return None


def audio_problem(path: Path) -> str | None:
    """Why Asterisk cannot play C{path} as a prompt, or None when it looks right."""
    try:
        size = path.stat().st_size
    except OSError as e:
        return f"cannot read: {e.strerror}"
    if size == 0:
        return "empty file"
    fix = f"convert: sox IN -r {RATE} -c 1 -b 16 -e signed-integer {path.name}"
    if path.suffix == ".wav":
        try:
            with wave.open(str(path), "rb") as w:
                channels, rate, width, frames = (
                    w.getnchannels(),
                    w.getframerate(),
                    w.getsampwidth(),
                    w.getnframes(),
                )
        except (wave.Error, EOFError):
            return f"not a PCM WAV file; {fix}"
        if (channels, rate, width) != (1, RATE, 2):
            return (
                f"{rate} Hz, {channels} channel(s), {8 * width}-bit: Asterisk's wav needs"
                f" {RATE} Hz 16-bit mono; {fix}"
            )
        if frames == 0:
            return "no audio in the file"
    elif path.suffix == ".sln" and size % 2:
        return "odd size: not 16-bit signed linear"
    elif path.suffix == ".gsm" and size % 33:
        return "size is not a multiple of 33: not raw GSM 06.10 frames"
    return None


@dataclass(frozen=True)
class BuildResult:
    made: list[Path]
    kept_tts: list[Path]
    kept_human: list[Path]

    def unplayable(self) -> list[tuple[Path, str]]:
        """Human recordings Asterisk cannot play as they are."""
        out = []
        for path in self.kept_human:
            problem = audio_problem(path)
            if problem is not None:
                out.append((path, problem))
        return out


def _read_manifest(directory: Path) -> dict[str, str]:
    try:
        data = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def plan(script: Script, root: Path, *, force: bool = False) -> tuple[list[Sound], BuildResult]:
    """Which sounds to make: missing ones, and TTS ones whose text changed (all TTS with force)."""
    todo: list[Sound] = []
    kept_tts: list[Path] = []
    kept_human: list[Path] = []
    manifests: dict[str, dict[str, str]] = {}
    for sound in needed(script):
        path = sound.path(root, script.id)
        manifest = manifests.setdefault(sound.language, _read_manifest(path.parent))
        other = other_format(path)
        if not path.exists() and other is not None:
            kept_human.append(other)  # a recording in another format Asterisk plays
        elif not path.exists():
            todo.append(sound)
        elif sound.name not in manifest:
            kept_human.append(path)
        elif force or manifest[sound.name] != digest(sound.language, sound.text):
            todo.append(sound)
        else:
            kept_tts.append(path)
    return todo, BuildResult([], kept_tts, kept_human)


def build(
    script: Script,
    root: Path,
    *,
    force: bool = False,
    jobs: int | None = None,
    progress: Callable[[Sound], None] | None = None,
) -> BuildResult:
    """Make the missing sounds of C{script} under C{root} with espeak-ng; keep human ones."""
    todo, result = plan(script, root, force=force)
    if not todo:
        return result
    check_tools()
    made: list[Path] = []

    def one(sound: Sound) -> Sound:
        try:
            synthesize(sound.language, sound.text, sound.path(root, script.id))
        except subprocess.CalledProcessError as e:
            detail = (e.stderr or b"").decode("utf-8", "replace").strip().splitlines()
            raise ConfigError(
                f"{e.cmd[0]} failed for {sound.language}/{sound.name}"
                f" ({detail[-1] if detail else f'exit {e.returncode}'}) / 合成失败"
            ) from None
        return sound

    workers = jobs or min(8, os.cpu_count() or 1)
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for sound in pool.map(one, todo):
                made.append(sound.path(root, script.id))
                if progress is not None:
                    progress(sound)
    finally:
        _write_manifests(script, root, [s for s in todo if s.path(root, script.id) in made])
    return BuildResult(made, result.kept_tts, result.kept_human)


def _write_manifests(script: Script, root: Path, made: Iterable[Sound]) -> None:
    by_lang: dict[str, list[Sound]] = {}
    for sound in made:
        by_lang.setdefault(sound.language, []).append(sound)
    for lang, sounds in by_lang.items():
        directory = root / sound_dir(script.id, lang)
        manifest = _read_manifest(directory)
        for sound in sounds:
            manifest[sound.name] = digest(sound.language, sound.text)
        tmp = directory / f"{MANIFEST}.part"
        tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, directory / MANIFEST)
