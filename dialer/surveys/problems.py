"""
What the questionnaire checks report: a L{Problem} (file, line, field path, message,
severity) with a short Chinese gloss, and L{ScriptError}, raised when a script has errors.

test-case-name: tests.surveys.test_loader
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from dialer.errors import InputError

__all__ = ["Problem", "ScriptError", "Severity"]

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One finding: where (file, line, field path) and what."""

    source: str
    line: int
    field: str
    message: str
    severity: Severity = "error"

    @property
    def zh(self) -> str:
        """A short Chinese gloss of the message (the message itself is English)."""
        for words, gloss in _GLOSSES:
            if words in self.message:
                return gloss
        return ""

    def __str__(self) -> str:
        tag = "" if self.severity == "error" else "warning: "
        where = f"{self.field}: " if self.field else ""
        gloss = f" / {self.zh}" if self.zh else ""
        return f"{self.source}:{self.line}: {tag}{where}{self.message}{gloss}"


#: Message fragments and their Chinese gloss, most specific first.
_GLOSSES: tuple[tuple[str, str], ...] = (
    ("YAML syntax", "YAML 语法错误"),
    ("unknown key", "未知字段"),
    ("required key is missing", "缺少必填字段"),
    ("for language", "缺少该语言的文本"),
    ("not in languages", "语言未在 languages 中声明"),
    ("unreachable", "无法到达的问题"),
    ("loop without exit", "无出口的循环"),
    ("goto loop", "跳转循环"),
    ("twice", "重复"),
    ("is not one digit", "按键须为一位数字"),
    ("placeholder", "占位符错误"),
    ("{unit}", "此处没有单位可读"),
    ("{option}", "只有确认提示可读出选项"),
    ("no prompt", "提示音未定义"),
    ("no question", "问题不存在"),
    ("no unit", "单位不存在"),
    ("no scale", "量表不存在"),
    ("never used", "未使用"),
    ("never said", "提示中没有说出该按键"),
    ("out of range", "超出范围"),
    ("quote it", "请加引号"),
    ("expected", "类型错误"),
    ("is not supported", "版本不支持"),
    ("refused", "受访者无法拒绝"),
    ("nobody can agree", "受访者无法同意"),
    ("missing ", "文件缺失"),
    ("differs from the file name", "问卷 id 与文件名不一致"),
    ("not in the script", "单位不在问卷中"),
    ("not in the store", "单位不在数据库中"),
    ("differs from the store", "名称与数据库不一致"),
)


class ScriptError(InputError):
    """A questionnaire has errors; C{problems} lists them all, the message shows the first."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        more = len(self.problems) - 1
        suffix = f" (and {more} more problem(s) / 另有 {more} 处问题)" if more > 0 else ""
        super().__init__(f"{self.problems[0]}{suffix}")
