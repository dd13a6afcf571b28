"""`dialer prompts build SCRIPT` / `dialer prompts list SCRIPT`: the sound files of a questionnaire."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from dialer.config import load_toml
from dialer.surveys import loader, prompts

DEFAULT_SOUNDS = "sounds"

ADVICE = (
    "Note: these prompts are synthetic (espeak-ng). Recorded human prompts are much better:"
    " record each text (8 kHz or better, mono), convert with"
    " `sox in.wav -r 8000 -c 1 -b 16 OUT.wav`, and put the file at the same path;"
    " `dialer prompts build` never overwrites a human recording."
    " `dialer prompts list SCRIPT` prints every file with its text.\n"
    "提示：以上为合成语音（espeak-ng）。真人录音效果好得多：按 `dialer prompts list` 列出的文本录音，"
    "转换为 8 kHz 16 位单声道 WAV 后放在同一路径即可，重新构建不会覆盖真人录音。"
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("prompts", help="prompt sound files / 提示音")
    sub = parser.add_subparsers(dest="prompts_command", metavar="ACTION", required=True)
    for name, func, doc in (
        (
            "build",
            run_build,
            "make missing sound files with espeak-ng / 用 espeak-ng 生成缺少的提示音",
        ),
        ("list", run_list, "list sound files, their text and state / 列出提示音文件及文本"),
    ):
        p = sub.add_parser(name, help=doc, description=doc)
        p.add_argument("script", metavar="SCRIPT", help="ivr_scripts/*.yaml / 问卷文件")
        p.add_argument(
            "--sounds",
            metavar="DIR",
            help=f"sounds root (default: $DIALER_SOUNDS, the config's [prompts] sounds, then"
            f" ./{DEFAULT_SOUNDS}) / 提示音根目录",
        )
        if name == "build":
            p.add_argument(
                "--force",
                action="store_true",
                help="remake every synthetic file (human recordings are kept) / 重新合成",
            )
            p.add_argument(
                "--jobs", type=int, default=None, help="parallel TTS processes / 并行合成进程数"
            )
        p.set_defaults(func=func)


def sounds_root(args: argparse.Namespace) -> Path:
    if getattr(args, "sounds", None):
        return Path(args.sounds)
    env = os.environ.get("DIALER_SOUNDS")
    if env:
        return Path(env)
    if getattr(args, "config", None):
        section = load_toml(args.config).get("prompts", {})
        if isinstance(section, dict) and isinstance(section.get("sounds"), str):
            return Path(section["sounds"])
    return Path(DEFAULT_SOUNDS)


def run_build(args: argparse.Namespace) -> int:
    script = loader.load(args.script)
    root = sounds_root(args)
    todo, _ = prompts.plan(script, root, force=args.force)
    if todo:
        prompts.check_tools()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not sys.stderr.isatty() or not todo,
        transient=False,
    ) as progress:
        task = progress.add_task("espeak-ng", total=len(todo))
        result = prompts.build(
            script,
            root,
            force=args.force,
            jobs=args.jobs,
            progress=lambda sound: progress.advance(task),
        )
    where = root / prompts.sound_dir(script.id, "<lang>")
    print(
        f"{where}: made {len(result.made)}, kept {len(result.kept_tts)} synthetic and"
        f" {len(result.kept_human)} human recording(s)"
        f" / 生成 {len(result.made)}，保留合成 {len(result.kept_tts)}，真人录音 {len(result.kept_human)}"
    )
    bad = result.unplayable()
    for path, problem in bad:
        print(f"{path}: {problem} / 录音格式不对", file=sys.stderr)
    if result.made or result.kept_tts:
        print(ADVICE)
    return 1 if bad else 0


def run_list(args: argparse.Namespace) -> int:
    script = loader.load(args.script)
    root = sounds_root(args)
    todo, result = prompts.plan(script, root)
    missing = {s.path(root, script.id) for s in todo}
    human = set(result.kept_human)
    for sound in prompts.needed(script):
        path = sound.path(root, script.id)
        if path in missing:
            state = "stale" if path.exists() else "missing"
        else:
            state = "human" if path in human else "tts"
        print(f"{state}\t{path}\t{sound.text}")
    return 0
