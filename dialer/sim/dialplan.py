# -*- test-case-name: tests.sim.test_dialplan -*-
"""
A small reader for Asterisk C{extensions.conf} and the variable expansion the simulator needs.

Pure code: no Twisted, no clock. It understands the subset our C{asterisk_conf/} and the
reference rig use: C{[context]} sections, C{exten => EXTEN,PRIO,App(args)}, C{same => n,...},
numbered and C{n} priorities, C{_X.} style patterns (X, Z, N, [..], ., !), C{[globals]},
C{#include}/C{#tryinclude} (relative to the including file), C{;} comments and C{\\;}
(an escaped semicolon: a literal C{;}, the backslash removed, as Asterisk's config reader).
"""

from __future__ import annotations

import re
from collections import ChainMap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Dialplan",
    "DialplanError",
    "Step",
    "check_condition",
    "evaluate",
    "expand",
    "separate_args",
    "split_app",
    "split_args",
]


class DialplanError(ValueError):
    """The dialplan file cannot be read."""


@dataclass(frozen=True)
class Step:
    """One priority: the application name and its (unexpanded) argument string."""

    app: str
    data: str


@dataclass
class Dialplan:
    """Contexts -> extensions -> priorities, plus C{[globals]}."""

    contexts: dict[str, dict[str, dict[int, Step]]] = field(default_factory=dict)
    globals: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_file(cls, path: Path) -> Dialplan:
        """Read C{path} (and the files it includes)."""
        plan = cls()
        plan._read(path, set())
        return plan

    @classmethod
    def from_text(cls, text: str) -> Dialplan:
        """Read a dialplan held in a string (C{#include} is not allowed here)."""
        plan = cls()
        plan._parse(text, None, set())
        return plan

    def _read(self, path: Path, seen: set[Path]) -> None:
        path = path.resolve()
        if path in seen:
            raise DialplanError(f"{path}: included twice")
        seen.add(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise DialplanError(f"{path}: {e.strerror}") from e
        self._parse(text, path, seen)

    def _parse(self, text: str, path: Path | None, seen: set[Path]) -> None:
        context: str | None = None
        last_exten: str | None = None
        last_prio = 0
        where = str(path) if path else "<text>"
        for lineno, raw in enumerate(text.splitlines(), 1):
            line = _strip_comment(raw).strip()
            if not line:
                continue
            if line.startswith("#include") or line.startswith("#tryinclude"):
                if path is None:
                    raise DialplanError(f"{where}:{lineno}: #include in a string dialplan")
                name = line.split(None, 1)[1].strip().strip('"<>')
                target = path.parent / name
                if line.startswith("#tryinclude") and not target.exists():
                    continue
                self._read(target, seen)
                continue
            if line.startswith("["):
                m = re.match(r"\[([^\]]+)\]", line)
                if not m:
                    raise DialplanError(f"{where}:{lineno}: bad section header")
                context = m.group(1).strip()
                if context not in ("general", "globals"):
                    self.contexts.setdefault(context, {})
                last_exten = None
                continue
            if context is None:
                raise DialplanError(f"{where}:{lineno}: line outside a [context]")
            key, sep, value = line.partition("=")
            key = key.strip()
            value = value.lstrip(">").strip()
            if not sep:
                raise DialplanError(f"{where}:{lineno}: expected key = value")
            if context == "general":
                continue
            if context == "globals":
                self.globals[key] = value
                continue
            if key == "exten":
                exten, _, rest = value.partition(",")
                prio_text, _, app_text = rest.partition(",")
                exten = exten.strip()
            elif key == "same":
                if last_exten is None:
                    raise DialplanError(f"{where}:{lineno}: 'same' without a previous exten")
                exten = last_exten
                prio_text, _, app_text = value.partition(",")
            elif key == "include":
                continue
            else:
                raise DialplanError(f"{where}:{lineno}: unknown key {key!r}")
            prio_text = prio_text.strip()
            if prio_text == "n":
                prio = (last_prio + 1) if exten == last_exten else 1
            elif prio_text.isdigit():
                prio = int(prio_text)
            else:
                raise DialplanError(f"{where}:{lineno}: unsupported priority {prio_text!r}")
            app, data = split_app(app_text.strip())
            self.contexts[context].setdefault(exten, {})[prio] = Step(app, data)
            last_exten, last_prio = exten, prio

    def has_context(self, context: str) -> bool:
        """True when C{context} is defined."""
        return context in self.contexts

    def match(self, context: str, exten: str) -> str | None:
        """The extension key of C{context} that C{exten} matches (exact wins), or None."""
        ctx = self.contexts.get(context)
        if ctx is None:
            return None
        if exten in ctx:
            return exten
        for key in ctx:
            if key.startswith("_") and _pattern_matches(key[1:], exten):
                return key
        return None

    def step(self, context: str, exten: str, priority: int) -> Step | None:
        """The step at C{context,exten,priority}, or None when there is none."""
        key = self.match(context, exten)
        if key is None:
            return None
        return self.contexts[context][key].get(priority)


def _strip_comment(line: str) -> str:
    out: list[str] = []
    escaped = False
    for ch in line:
        if escaped:
            if ch == ";" and out and out[-1] == "\\":
                out.pop()  # "\\;" is a literal semicolon; Asterisk drops the backslash
            out.append(ch)
            escaped = False
        elif ch == "\\":
            out.append(ch)
            escaped = True
        elif ch == ";":
            break
        else:
            out.append(ch)
    return "".join(out)


def _pattern_matches(pattern: str, exten: str) -> bool:
    i = 0
    for j, ch in enumerate(pattern):
        if ch in ".!":
            return i < len(exten) or ch == "!"
        if i >= len(exten):
            return False
        c = exten[i]
        ch = ch.upper() if ch in "xzn" else ch  # Asterisk: x, z, n are wildcards too
        if ch == "X":
            ok = c.isdigit()
        elif ch == "Z":
            ok = c.isdigit() and c != "0"
        elif ch == "N":
            ok = c.isdigit() and c not in "01"
        elif ch == "[":
            end = pattern.index("]", j)
            ok = _in_class(pattern[j + 1 : end], c)
            return ok and _pattern_matches(pattern[end + 1 :], exten[i + 1 :])
        else:
            ok = ch == c
        if not ok:
            return False
        i += 1
    return i == len(exten)


def _in_class(spec: str, c: str) -> bool:
    k = 0
    while k < len(spec):
        if k + 2 < len(spec) and spec[k + 1] == "-":
            if spec[k] <= c <= spec[k + 2]:
                return True
            k += 3
        else:
            if spec[k] == c:
                return True
            k += 1
    return False


def split_app(text: str) -> tuple[str, str]:
    """C{"Dial(Local/a@b,30)"} -> C{("Dial", "Local/a@b,30")}; C{"Answer"} -> C{("Answer", "")}."""
    m = re.match(r"([A-Za-z0-9_]+)\s*(?:\((.*)\))?\s*$", text)
    if not m:
        raise DialplanError(f"bad application {text!r}")
    return m.group(1), m.group(2) or ""


def split_args(data: str) -> list[str]:
    """Split application arguments on commas outside C{${...}} and quotes."""
    out: list[str] = []
    depth = 0
    cur: list[str] = []
    quoted = False
    for ch in data:
        if ch == '"':
            quoted = not quoted
            cur.append(ch)
        elif ch == "{" and not quoted:
            depth += 1
            cur.append(ch)
        elif ch == "}" and not quoted:
            depth -= 1
            cur.append(ch)
        elif ch == "," and depth == 0 and not quoted:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


def separate_args(text: str, delim: str = ",") -> list[str]:
    """
    Split C{text} as Asterisk's C{ast_app_separate_args} does (used for an Originate's
    C{Variable:} header): on C{delim} outside parentheses, brackets and double quotes;
    the quotes are removed and a backslash makes the next character literal.
    """
    out: list[str] = []
    cur: list[str] = []
    paren = bracket = 0
    quote = False
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "(":
            paren += 1
        elif ch == ")":
            paren = max(paren - 1, 0)
        elif ch == "[":
            bracket += 1
        elif ch == "]":
            bracket = max(bracket - 1, 0)
        elif ch == '"' and delim != '"':
            quote = not quote
            i += 1
            continue
        elif ch == "\\":
            if i + 1 < len(text):
                cur.append(text[i + 1])
            i += 2
            continue
        elif ch == delim and not (paren or bracket or quote):
            out.append("".join(cur))
            cur = []
            i += 1
            continue
        cur.append(ch)
        i += 1
    out.append("".join(cur))
    return out


def expand(text: str, lookup: Mapping[str, str] | None = None, **extra: str) -> str:
    """
    Expand C{${NAME}}, C{${NAME:offset}} and C{${NAME:offset:length}} (Asterisk substring rules).

    Unknown names expand to the empty string, as in Asterisk. Function calls are looked up
    by their full text, e.g. C{"CALLERID(num)"}; a C{lookup} mapping may compute values
    on demand (a C{dict} subclass with C{__missing__}).
    """
    values: Mapping[str, str] = lookup if lookup is not None else {}
    if extra:
        values = ChainMap(dict(extra), values)  # type: ignore[arg-type]
    out: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("$[", i):
            depth = 1
            j = i + 2
            while j < len(text) and depth:
                if text[j] == "[":
                    depth += 1
                elif text[j] == "]":
                    depth -= 1
                j += 1
            out.append(evaluate(expand(text[i + 2 : j - 1], values)))
            i = j
        elif text.startswith("${", i):
            depth = 1
            j = i + 2
            while j < len(text) and depth:
                if text.startswith("${", j):
                    depth += 1
                    j += 2
                    continue
                if text[j] == "}":
                    depth -= 1
                j += 1
            inner = expand(text[i + 2 : j - 1], values)
            out.append(_lookup_var(inner, values))
            i = j
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


_TOKEN = re.compile(r'"[^"]*"|!=|<=|>=|=|<|>|[^\s"=!<>]+')
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}


def evaluate(expression: str) -> str:
    """
    The value of C{$[expression]} (variables already expanded), for the subset our
    dialplan uses: one operand, or two compared with C{= != < > <= >=}. As Asterisk's
    C{ast_expr}: double quotes around an operand are removed before comparing, two
    integers compare as numbers, anything else as strings, and a comparison gives
    C{1} or C{0}. Anything else is a syntax error: C{""}, as Asterisk gives after its
    warning.
    """
    tokens: list[str] = _TOKEN.findall(expression)
    if len(tokens) == 1:
        return tokens[0]
    if len(tokens) != 3 or tokens[1] not in _COMPARE:
        return ""
    a, b = (t[1:-1] if len(t) >= 2 and t[0] == t[-1] == '"' else t for t in (tokens[0], tokens[2]))
    left: int | str = a
    right: int | str = b
    if re.fullmatch(r"-?\d+", a) and re.fullmatch(r"-?\d+", b):
        left, right = int(a), int(b)
    return "1" if _COMPARE[tokens[1]](left, right) else "0"


def check_condition(value: str) -> bool:
    """Asterisk's C{pbx_checkcondition}: empty is false, an integer is its value, any
    other text is true."""
    text = value.strip()
    if not text:
        return False
    m = re.match(r"-?\d+", text)
    return int(m.group(0)) != 0 if m else True


def _get(values: Mapping[str, str], name: str) -> str:
    try:
        return values[name]
    except KeyError:
        return ""


def _lookup_var(inner: str, values: Mapping[str, str]) -> str:
    m = re.match(r"^([^:]+)(?::(-?\d+))?(?::(-?\d+))?$", inner)
    if not m or "(" in inner:
        return _get(values, inner)
    name, offset, length = m.group(1), m.group(2), m.group(3)
    value = _get(values, name)
    if offset is None:
        return value
    start = int(offset)
    if start < 0:
        start = max(0, len(value) + start)
    sub = value[start:]
    if length is not None:
        n = int(length)
        sub = sub[:n]
    return sub
