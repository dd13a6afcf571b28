"""`dialer survey check FILE...` and `dialer survey try FILE`: validate and rehearse questionnaires."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from dialer.errors import InputError
from dialer.surveys import flow, loader
from dialer.surveys.model import Script
from dialer.surveys.prompts import audio_problem, needed, other_format


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("survey", help="questionnaires (ivr_scripts/) / 问卷")
    sub = parser.add_subparsers(dest="survey_command", metavar="ACTION", required=True)
    check = sub.add_parser(
        "check",
        help="validate questionnaire files / 检查问卷",
        description="Validate questionnaire files; every problem names file, line and field."
        " / 检查问卷文件，问题注明文件、行号和字段。",
    )
    check.add_argument(
        "files", nargs="+", metavar="FILE", help="ivr_scripts/*.yaml, or a directory of them"
    )
    check.add_argument("--strict", action="store_true", help="warnings fail too / 警告也视为错误")
    check.add_argument(
        "--sounds",
        metavar="DIR",
        help="also report sound files missing under DIR / 同时检查提示音文件",
    )
    check.set_defaults(func=run_check)
    rehearse = sub.add_parser(
        "try",
        help="walk a questionnaire on the terminal / 在终端试答问卷",
        description="Walk a questionnaire as a caller would: type keys, Enter alone = no input,"
        " 'h' = hang up. / 模拟来电者答题：输入按键，直接回车表示无输入，h 表示挂机。",
    )
    rehearse.add_argument("file", metavar="FILE")
    rehearse.add_argument("--unit", metavar="CODE", help="the contact's unit / 受访者所属单位")
    rehearse.add_argument("--language", metavar="LANG", help="e.g. zh-CN, en / 语言")
    rehearse.set_defaults(func=run_try)


def summary(script: Script) -> str:
    questions = len(script.questions())
    return (
        f"{len(script.blocks)} blocks, {questions} questions, {len(script.units)} units,"
        f" {len(script.languages)} languages ({', '.join(script.languages)}),"
        f" {len(script.prompts)} prompts, {len(needed(script))} sound files"
    )


def run_check(args: argparse.Namespace) -> int:
    failed = False
    names: list[str] = []
    for name in args.files:
        if Path(name).is_dir():
            found = sorted(str(p) for p in Path(name).glob("*.y*ml"))
            if not found:
                print(f"{name}: no .yaml files / 目录中没有问卷", file=sys.stderr)
                failed = True
            names.extend(found)
        else:
            names.append(name)
    for name in names:
        script, problems = loader.check(name)
        if script is not None and args.sounds:
            root = Path(args.sounds)
            for sound in needed(script):
                path = sound.path(root, script.id)
                present = path if path.exists() else other_format(path)
                if present is None:
                    problems.append(
                        loader.Problem(
                            name,
                            _line(script, sound.name),
                            f"sounds/{sound.language}",
                            f"missing {path}",
                            "warning",
                        )
                    )
                    continue
                trouble = audio_problem(present)
                if trouble is not None:
                    problems.append(
                        loader.Problem(
                            name,
                            _line(script, sound.name),
                            f"sounds/{sound.language}",
                            f"{present}: {trouble}",
                        )
                    )
        errors = [p for p in problems if p.severity == "error"]
        warnings = [p for p in problems if p.severity == "warning"]
        for problem in problems:
            print(problem, file=sys.stderr if problem.severity == "error" else sys.stdout)
        if errors or script is None:
            print(f"{name}: {len(errors)} error(s) / 错误, {len(warnings)} warning(s) / 警告")
            failed = True
        else:
            print(f"{name}: OK / 通过 — {summary(script)}; {len(warnings)} warning(s) / 警告")
            failed = failed or (args.strict and bool(warnings))
    return 1 if failed else 0


def _line(script: Script, sound_name: str) -> int:
    """The line defining what a sound file says (its prompt, unit or question)."""
    kind, _, rest = sound_name.partition("-")
    if kind == "unit" and rest in script.units:
        return script.units[rest].line
    if kind == "option":
        owner = rest.rsplit("-", 1)[0]
        if owner in script.scales:
            return script.scales[owner].line
        return next((q.line for _, q in script.questions() if q.id == owner), 0)
    prompt = script.prompts.get(kind)
    return prompt.line if prompt is not None else 0


def run_try(
    args: argparse.Namespace, stdin: TextIO | None = None, stdout: TextIO | None = None
) -> int:
    inp = stdin or sys.stdin
    out = stdout or sys.stdout
    script = loader.load(args.file)
    try:
        state, step = flow.start(script, unit_code=args.unit, language=args.language)
    except flow.FlowError as e:
        raise InputError(str(e)) from None

    def ask(prompt: str) -> flow.Event:
        out.write(prompt)
        out.flush()
        line = inp.readline()
        if line == "" or line.strip().lower() == "h":
            return flow.Hangup()
        keys = line.strip()
        return flow.Digits(keys) if keys else flow.NoInput()

    while not isinstance(step, flow.End):
        event: flow.Event
        if isinstance(step, flow.Play):
            for say in step.prompts:
                out.write(f"  ♪ {say.text}\n")
            event = ask(f"  [{step.escape or 'Enter'}] > ") if step.escape else flow.Done()
            if isinstance(event, flow.NoInput):
                event = flow.Done()
        elif isinstance(step, flow.Collect):
            for say in step.prompts:
                out.write(f"  ? {say.text}\n")
            event = ask(f"  {step.question_id} [{step.keys}] > ")
        elif isinstance(step, flow.Record):
            for say in step.prompts:
                out.write(f"  ● {say.text}\n")
            reply = ask(f"  {step.question_id} (type a comment, Enter = none) > ")
            if isinstance(reply, flow.Digits):
                event = flow.RecordDone(f"(typed) {reply.digits}", float(len(reply.digits)))
            else:
                event = reply
        else:
            shown = step.label if step.label is not None else step.code
            if step.recording is not None:
                shown = step.recording
            out.write(
                f"  = {step.question_id}{'@' + step.unit_code if step.unit_code else ''}: {shown}\n"
            )
            event = flow.Done()
        state, step = flow.next_step(state, event)
    out.write(
        f"end: {step.outcome} (AAPOR {step.aapor}), {step.reason},"
        f" {step.answered}/{step.applicable} answered\n"
    )
    return 0
