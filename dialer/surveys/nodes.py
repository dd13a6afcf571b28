"""
Reading a questionnaire's YAML node tree (C{yaml.compose}): L{Reader} converts values
and collects every L{Problem} with the line it comes from; L{child} and L{line_of} are
the node helpers the model builder shares.

test-case-name: tests.surveys.test_loader
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any, cast

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from dialer.surveys.problems import Problem

__all__ = ["YAML_LOADER", "Reader", "child", "line_of"]

_constructor = SafeConstructor()
#: libyaml's parser when PyYAML has it (the example composes in 15 ms instead of 200 ms).
YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def line_of(node: Node) -> int:
    return int(node.start_mark.line) + 1


@dataclass
class Reader:
    """Walks the node tree, converting values and collecting problems."""

    source: str
    problems: list[Problem] = field(default_factory=list)

    def error(self, node: Node | int, path: str, message: str) -> None:
        line = node if isinstance(node, int) else line_of(node)
        self.problems.append(Problem(self.source, line, path, message))

    def warn(self, node: Node | int, path: str, message: str) -> None:
        line = node if isinstance(node, int) else line_of(node)
        self.problems.append(Problem(self.source, line, path, message, "warning"))

    def mapping(
        self, node: Node, path: str, allowed: set[str] | None = None
    ) -> dict[str, tuple[Node, Node]] | None:
        """A mapping's entries by key (key node, value node); flags duplicates and unknown keys."""
        if not isinstance(node, MappingNode):
            self.error(node, path, f"expected a mapping, found {_kind(node)}")
            return None
        out: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.error(key_node, path, "keys must be plain values")
                continue
            key = str(key_node.value)
            sub = f"{path}.{key}" if path else key
            if key in out:
                self.error(
                    key_node,
                    sub,
                    f"key {key!r} appears twice (the first is on line {line_of(out[key][0])})",
                )
                continue
            if allowed is not None and key not in allowed:
                hint = difflib.get_close_matches(key, sorted(allowed), n=1)
                did = f"; did you mean {hint[0]!r}?" if hint else ""
                self.error(key_node, sub, f"unknown key {key!r}{did}")
                continue
            out[key] = (key_node, value_node)
        return out

    def sequence(self, node: Node, path: str) -> list[Node] | None:
        if not isinstance(node, SequenceNode):
            self.error(node, path, f"expected a list, found {_kind(node)}")
            return None
        return list(node.value)

    def scalar(self, node: Node, path: str) -> Any:
        if not isinstance(node, ScalarNode):
            self.error(node, path, f"expected a single value, found {_kind(node)}")
            return _MISSING
        try:
            return _constructor.construct_object(node)
        except ConstructorError as e:
            self.error(node, path, f"cannot read value: {e.problem}")
            return _MISSING

    def text(self, node: Node, path: str, *, pattern: re.Pattern[str] | None = None) -> str | None:
        value = self.scalar(node, path)
        if value is _MISSING:
            return None
        if isinstance(value, bool):
            self.error(
                node,
                path,
                f'expected text, found {node.value!r} read as {value}: quote it ("{node.value}")',
            )
            return None
        if not isinstance(value, str | int):
            self.error(node, path, f"expected text, found {value!r}")
            return None
        text = str(value)
        if not text.strip():
            self.error(node, path, "must not be empty")
            return None
        if pattern is not None and not pattern.match(text):
            self.error(node, path, f"{text!r} is not a valid name (pattern {pattern.pattern})")
            return None
        return text

    def integer(
        self, node: Node, path: str, low: int | None = None, high: int | None = None
    ) -> int | None:
        value = self.scalar(node, path)
        if value is _MISSING:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(node, path, f"expected a whole number, found {value!r}")
            return None
        if (low is not None and value < low) or (high is not None and value > high):
            self.error(node, path, f"{value} is out of range [{low}, {high}]")
            return None
        return value

    def number(self, node: Node, path: str, low: float, high: float) -> float | None:
        value = self.scalar(node, path)
        if value is _MISSING:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.error(node, path, f"expected a number, found {value!r}")
            return None
        if not low <= value <= high:
            self.error(node, path, f"{value} is out of range [{low}, {high}]")
            return None
        return float(value)

    def boolean(self, node: Node, path: str) -> bool | None:
        value = self.scalar(node, path)
        if value is _MISSING:
            return None
        if not isinstance(value, bool):
            self.error(node, path, f"expected true or false, found {value!r}")
            return None
        return value

    def id_list(self, node: Node, path: str) -> list[tuple[str, Node]]:
        """A list of names, or a single name."""
        items = [node] if isinstance(node, ScalarNode) else self.sequence(node, path) or []
        out = []
        for i, item in enumerate(items):
            sub = path if isinstance(node, ScalarNode) else f"{path}[{i}]"
            value = self.text(item, sub)
            if value is not None:
                out.append((value, item))
        return out


class _Missing:
    pass


_MISSING: Any = _Missing()


def _kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return f"{node.value!r}"


def child(node: Node, key: str) -> Node | None:
    if isinstance(node, MappingNode):
        for k, v in node.value:
            if isinstance(k, ScalarNode) and k.value == key:
                return cast(Node, v)
    return None
