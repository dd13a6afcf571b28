"""
Load and check an C{ivr_scripts/*.yaml} questionnaire.

The YAML is read as a node tree (C{yaml.compose}) so that every problem names the
file, the line and the field, e.g.::

    ivr_scripts/hechi.yaml:88: blocks[1].questions[0].options[2].key: key '3' is used twice

All problems are collected, not just the first. Errors make the script unusable
(L{load} raises L{ScriptError}); warnings (an unused prompt, a C{goto} loop callers
can leave) are reported by L{check} and C{dialer survey check}.

The schema is described in C{ivr_scripts/README.md}.

This module holds the entry points (L{load}, L{loads}, L{check}, L{check_text},
L{check_units}) and re-exports L{Problem} and L{ScriptError}; the work is done by
L{dialer.surveys.problems} (L{Problem}, L{ScriptError}), L{dialer.surveys.schema} (keys
and name patterns), L{dialer.surveys.nodes} (the YAML node reader),
L{dialer.surveys.builder} (the model, section by section) and L{dialer.surveys.logic}
(references, unreachable questions, loops).

test-case-name: tests.surveys.test_loader
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from pathlib import Path

import yaml

from dialer.surveys.builder import Builder, placeholders_of
from dialer.surveys.model import Script
from dialer.surveys.nodes import YAML_LOADER, Reader
from dialer.surveys.problems import Problem, ScriptError, Severity

__all__ = [
    "Problem",
    "ScriptError",
    "Severity",
    "check",
    "check_text",
    "check_units",
    "load",
    "loads",
    "placeholders_of",
]


def load(path: str | Path) -> Script:
    """Read and validate a questionnaire file; raise L{ScriptError} listing every error."""
    return _script_or_raise(*check(path), str(path))


def loads(text: str, source: str = "<string>") -> Script:
    """Like L{load}, from a string."""
    return _script_or_raise(*check_text(text, source), source)


def _script_or_raise(script: Script | None, problems: list[Problem], source: str) -> Script:
    errors = [p for p in problems if p.severity == "error"]
    if errors or script is None:
        raise ScriptError(errors or [Problem(source, 1, "", "cannot be loaded")])
    return script


def check(path: str | Path) -> tuple[Script | None, list[Problem]]:
    """All problems of a file (errors and warnings) and, when there are no errors, the script."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [Problem(source, 0, "", "no such file / 文件不存在")]
    except UnicodeDecodeError as e:
        return None, [Problem(source, 1, "", f"not UTF-8 text ({e.reason}) / 文件须为 UTF-8")]
    except OSError as e:
        return None, [Problem(source, 0, "", f"cannot read: {e.strerror}")]
    return check_text(text, source)


def check_text(text: str, source: str = "<string>") -> tuple[Script | None, list[Problem]]:
    reader = Reader(source)
    try:
        root = yaml.compose(text, Loader=YAML_LOADER)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = int(mark.line) + 1 if mark is not None else 1
        return None, [Problem(source, line, "", f"YAML syntax: {e.problem or e}")]
    except yaml.YAMLError as e:
        return None, [Problem(source, 1, "", f"YAML: {e}")]
    if root is None:
        return None, [Problem(source, 1, "", "the file is empty")]
    script = Builder(reader).build(root)
    if script is not None:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
        script = dataclasses.replace(script, digest=digest)
    problems = sorted(reader.problems, key=lambda p: (p.line, p.severity != "error"))
    if any(p.severity == "error" for p in problems):
        return None, problems
    return script, problems


def check_units(script: Script, store_units: Mapping[str, tuple[str, str | None]]) -> list[Problem]:
    """Compare a script's units with the store's (code -> (name, English name)).

    A unit the store has but the script lacks is an error when the script asks about the
    contact's unit: every call for a contact of that unit would fail to start.
    """
    out: list[Problem] = []
    source = script.source
    missing = sorted(set(store_units) - set(script.units))
    if missing and script.uses_contact_unit():
        shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
        out.append(
            Problem(
                source,
                0,
                "units",
                f"{len(missing)} unit(s) of the store are not in the script: {shown}"
                " (their contacts cannot take this survey)",
            )
        )
    for code, unit in script.units.items():
        if code not in store_units:
            out.append(
                Problem(source, unit.line, f"units.{code}", "unit not in the store", "warning")
            )
            continue
        name, name_en = store_units[code]
        for lang, stored in (("zh-CN", name), ("en", name_en)):
            said = unit.name.get(lang)
            if said is not None and stored and said != stored:
                out.append(
                    Problem(
                        source,
                        unit.line,
                        f"units.{code}.{lang}",
                        f"name {said!r} differs from the store's {stored!r}",
                        "warning",
                    )
                )
    return out
