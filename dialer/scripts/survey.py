"""`dialer survey check|try|show`: validate, rehearse and print questionnaires."""

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
        "files",
        nargs="+",
        metavar="FILE",
        help="ivr_scripts/*.yaml, or a directory of them / 问卷文件或目录",
    )
    check.add_argument("--strict", action="store_true", help="warnings fail too / 警告也视为错误")
    check.add_argument(
        "--sounds",
        metavar="DIR",
        help="also report sound files missing under DIR / 同时检查提示音文件",
    )
    check.add_argument(
        "--units-from-db",
        action="store_true",
        help="compare the script's units with the store's (--db) / 与数据库中的单位核对",
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
    show = sub.add_parser(
        "show",
        help="print a questionnaire as a readable outline / 打印问卷大纲",
        description="Print the questionnaire as Markdown for review (questions, options, codes,"
        " skip logic) with an estimate of its length. / 以 Markdown 打印问卷，供审阅。",
    )
    show.add_argument("file", metavar="FILE")
    show.add_argument("--language", metavar="LANG", help="e.g. zh-CN, en / 语言")
    show.add_argument(
        "--sounds",
        metavar="DIR",
        help="time the estimate with the sound files under DIR / 按 DIR 下的提示音估算时长",
    )
    show.set_defaults(func=run_show)


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
    store_units = _store_units(args) if getattr(args, "units_from_db", False) else None
    for name in names:
        script, problems = loader.check(name)
        if script is not None and store_units is not None:
            problems.extend(loader.check_units(script, store_units))
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


def _store_units(args: argparse.Namespace) -> dict[str, tuple[str, str | None]]:
    import sqlalchemy as sa

    from dialer.store.connect import engine_from_args
    from dialer.store.schema import units

    engine = engine_from_args(args)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(units.c.code, units.c.name, units.c.name_en)).all()
    finally:
        engine.dispose()
    return {row.code: (row.name, row.name_en) for row in rows}


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


#: Speaking rates for the length estimate when there are no sound files.
_CHARS_PER_SECOND = {"zh": 4.5}
_WORDS_PER_SECOND = 2.6
#: Seconds a caller takes to press a key after a question.
_THINK_SECONDS = 2.5


def _speech_seconds(text: str, language: str) -> float:
    rate = _CHARS_PER_SECOND.get(language.split("-")[0])
    if rate is not None:
        return sum(1 for c in text if c.isalnum()) / rate
    return len(text.split()) / _WORDS_PER_SECOND


def _sound_seconds(path: Path) -> float | None:
    import wave

    try:
        with wave.open(str(path), "rb") as w:
            return w.getnframes() / float(w.getframerate())
    except (OSError, wave.Error, EOFError):
        return None


def estimate_seconds(script: Script, language: str, sounds: Path | None = None) -> float:
    """Length of a complete interview, with unconditional questions answered at once."""
    from dialer.surveys.prompts import pieces

    unit = next(iter(script.units), None)

    def say(pid: str) -> float:
        total = 0.0
        for piece in pieces(script, pid, language, unit_code=unit):
            timed = None
            if sounds is not None:
                from dialer.surveys.prompts import sound_dir

                timed = _sound_seconds(
                    sounds / sound_dir(script.id, language) / f"{piece.name}.wav"
                )
            total += timed if timed is not None else _speech_seconds(piece.text, language)
        return total

    seconds = sum(say(pid) for pid in script.intro)
    for block in script.blocks:
        times = max(1, len(block.units))
        for question in block.questions:
            if question.ask_if:
                continue
            asked = sum(say(pid) for pid in question.prompts)
            if question.kind == "record":
                asked += 10.0  # a short comment
            else:
                asked += _THINK_SECONDS
            if question.confirm:
                asked += say(question.confirm_prompt) + _THINK_SECONDS
            seconds += asked * times
    seconds += sum(say(pid) for pid in script.closing.get("complete", ()))
    return seconds


def run_show(args: argparse.Namespace, stdout: TextIO | None = None) -> int:
    out = stdout or sys.stdout
    script = loader.load(args.file)
    lang = args.language or script.languages[0]
    if lang not in script.languages:
        raise InputError(
            f"language {lang!r} not in {', '.join(script.languages)} / 问卷不支持该语言"
        )

    def text(pid: str) -> str:
        return script.prompts[pid].text[lang]

    def label(names: Any) -> str:
        return str(names.get(lang) or next(iter(names.values()), ""))

    w = out.write
    w(f"# {label(script.title) if script.title else script.id}\n\n")
    w(
        f"`{script.id}` · schema {script.schema_version} · digest {script.digest} ·"
        f" {', '.join(script.languages)}\n\n"
    )
    if script.language_menu is not None:
        menu = script.language_menu
        choices = ", ".join(f"{k} = {lang}" for k, lang in menu.keys.items())
        w(f"**Language menu / 语言选择** ({choices}; default {script.languages[0]})\n\n")
        w(f"> {text(menu.prompt)}\n\n")
    if script.intro:
        w("**Intro / 开场**\n\n")
        for pid in script.intro:
            w(f"> {text(pid)}\n")
        w("\n")
    names = {code: label(u.name) for code, u in script.units.items()}
    for block in script.blocks:
        if block.units:
            about = ", ".join(
                "the contact's unit / 受访者所属单位" if c == "contact" else names.get(c, c)
                for c in block.units
            )
            w(f"## {block.id} — for each unit / 按单位: {about}\n\n")
        else:
            w(f"## {block.id}\n\n")
        for question in block.questions:
            said = " ".join(text(pid) for pid in question.prompts)
            w(f"**{question.id}** ({question.kind}) {said}\n\n")
            notes = []
            if question.ask_if:
                conds = "; ".join(
                    f"{c.question} ∈ {{{', '.join(map(str, c.codes))}}}" for c in question.ask_if
                )
                notes.append(f"ask only if / 仅当 {conds}")
            if question.confirm:
                notes.append("read back, # confirms / 复述确认")
            if question.goto:
                notes.append(f"then / 然后 → {question.goto}")
            if not question.substantive:
                notes.append("not substantive / 非实质题")
            if question.kind == "number":
                notes.append(
                    f"{question.min_digits}-{question.max_digits} digits,"
                    f" {question.min_value}..{question.max_value}"
                )
            if question.kind == "record":
                notes.append(
                    f"≤ {question.max_seconds} s, ends on # or {question.silence_seconds} s silence"
                )
            else:
                notes.append(
                    f"timeout {question.timeout:g} s, {question.max_invalid} wrong keys,"
                    f" {question.max_no_input} silences, then {question.on_fail}"
                )
            for note in notes:
                w(f"- _{note}_\n")
            for o in question.options:
                extra = []
                if o.weight is not None:
                    extra.append(f"weight {o.weight:g}")
                if o.goto:
                    extra.append(f"→ {o.goto}")
                if o.end:
                    extra.append(f"ends: {o.end}")
                tail = f" ({'; '.join(extra)})" if extra else ""
                w(f"- key {o.key} = code {o.code}: {label(o.label)}{tail}\n")
            w("\n")
    if script.closing:
        w("**Closing / 结束语**\n\n")
        for outcome, pids in script.closing.items():
            w(f"- {outcome}: {' '.join(text(pid) for pid in pids)}\n")
        w("\n")
    sounds = Path(args.sounds) if getattr(args, "sounds", None) else None
    seconds = estimate_seconds(script, lang, sounds)
    how = "timed from the sound files" if sounds is not None else "estimated from the text"
    w(f"Complete interview / 完整访问: about {seconds / 60:.1f} min ({how}).\n")
    return 0
