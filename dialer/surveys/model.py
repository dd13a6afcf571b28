"""
A questionnaire as frozen dataclasses: what L{dialer.surveys.loader} makes of an
C{ivr_scripts/*.yaml} file, and what L{dialer.surveys.flow} walks.

Nothing here knows about Asterisk or a screen: prompts are ids with a text per
language; the keypad keys of an option are also what an interviewer's click sends.

test-case-name: tests.surveys.test_loader
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

SCHEMA_VERSION = 1

#: How a questionnaire can end. C{complete}/C{partial}/C{break_off} are decided from the
#: share of substantive questions answered (thresholds are data, see L{Script}).
Outcome = Literal["complete", "partial", "break_off", "refused", "ineligible"]
OUTCOMES: tuple[Outcome, ...] = ("complete", "partial", "break_off", "refused", "ineligible")

#: AAPOR Standard Definitions (telephone) final disposition codes for each outcome.
AAPOR_CODES: Mapping[Outcome, str] = {
    "complete": "1.1",
    "partial": "1.2",
    "refused": "2.11",
    "break_off": "2.12",
    "ineligible": "4.70",
}

QuestionKind = Literal["choice", "number", "record"]
OnFail = Literal["skip", "end"]

#: Placeholders a prompt text may contain.
PLACEHOLDERS = ("unit", "option")

#: The pseudo unit code in a block's C{units}: the unit of the sampled contact.
CONTACT_UNIT = "contact"


@dataclass(frozen=True)
class Prompt:
    """Something the system says: a text per language (C{{unit}}/C{{option}} placeholders allowed)."""

    id: str
    text: Mapping[str, str]
    line: int = 0
    #: Sound names given in the script (language -> name, e.g. an Asterisk sound such as
    #: C{beep}); without one, the file is C{minyi/<script>/<lang>/<id>} (see prompts.py).
    audio: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Option:
    """One answer of a choice question: the key pressed (or clicked), the stored code."""

    key: str
    code: int
    label: Mapping[str, str]
    #: Score weight of the option (e.g. 满意 100, 基本满意 80); None = not scored (不了解).
    weight: float | None = None
    #: Jump to this question of the same block after this answer (skip logic).
    goto: str | None = None
    #: End the questionnaire with this outcome after this answer (e.g. consent declined).
    end: Outcome | None = None
    line: int = 0


@dataclass(frozen=True)
class Scale:
    """A reusable list of options (the 满意/基本满意/不满意/不了解 scale is data)."""

    id: str
    options: tuple[Option, ...]
    #: Spoken after the question of every question using the scale ("满意请按1, ...").
    prompt: str | None = None
    line: int = 0


@dataclass(frozen=True)
class Condition:
    """C{ask_if}: ask only when question C{question} was answered with one of C{codes}."""

    question: str
    codes: tuple[int, ...]


@dataclass(frozen=True)
class Question:
    """One question. C{choice}: options by key; C{number}: digits; C{record}: a voice comment."""

    id: str
    kind: QuestionKind
    #: Prompt ids spoken in order to put the question (a scale's keypad hint comes last).
    prompts: tuple[str, ...]
    options: tuple[Option, ...] = ()
    scale: str | None = None
    #: Read the choice back and ask for the confirm key (C{#}); the repeat key (C{*}) re-asks.
    confirm: bool = False
    ask_if: tuple[Condition, ...] = ()
    #: Next question of the same block when no option says otherwise (default: the following one).
    goto: str | None = None
    #: Seconds to wait for the first key after the prompt.
    timeout: float = 6.0
    min_digits: int = 1
    max_digits: int = 1
    min_value: int | None = None
    max_value: int | None = None
    max_invalid: int = 2
    max_no_input: int = 2
    max_repeats: int = 3
    invalid_prompt: str = "invalid"
    no_input_prompt: str = "no_input"
    confirm_prompt: str = "confirm"
    #: What happens when the retries are used up: skip the question, or end (break-off).
    on_fail: OnFail = "skip"
    #: Counts towards complete/partial (consent, screeners and comments do not).
    substantive: bool = True
    #: C{record} only.
    max_seconds: int = 60
    silence_seconds: int = 5
    beep: bool = True
    line: int = 0

    def option_by_key(self, key: str) -> Option | None:
        for option in self.options:
            if option.key == key:
                return option
        return None


@dataclass(frozen=True)
class Block:
    """Questions asked once, or once per unit (C{units}: codes, C{"contact"} = the contact's unit)."""

    id: str
    questions: tuple[Question, ...]
    #: Empty: asked once, not about a unit. Otherwise the units it is asked about, in order.
    units: tuple[str, ...] = ()
    line: int = 0

    def index_of(self, question_id: str) -> int:
        for i, question in enumerate(self.questions):
            if question.id == question_id:
                return i
        raise KeyError(question_id)


@dataclass(frozen=True)
class Unit:
    """An evaluated unit (county/district or department) with its name per language."""

    code: str
    name: Mapping[str, str]
    line: int = 0


@dataclass(frozen=True)
class LanguageMenu:
    """Asked first when the caller's language is not known: a key per language."""

    #: Said in every language, one after another ("普通话请按1。For English, press 2.").
    prompt: str
    #: key -> language
    keys: Mapping[str, str]
    #: Seconds to wait; no key or a wrong key keeps the first language.
    timeout: float = 4.0
    line: int = 0


@dataclass(frozen=True)
class Keys:
    """Keys with a fixed meaning on every question."""

    repeat: str = "*"
    confirm: str = "#"
    #: Ends a voice recording.
    record_end: str = "#"


@dataclass(frozen=True)
class Script:
    """A whole questionnaire."""

    id: str
    title: Mapping[str, str]
    #: First = default.
    languages: tuple[str, ...]
    prompts: Mapping[str, Prompt]
    units: Mapping[str, Unit]
    scales: Mapping[str, Scale]
    #: Prompt ids played after answering the call.
    intro: tuple[str, ...]
    #: Block 0 holds the consent question when there is one (id C{"consent"}).
    blocks: tuple[Block, ...]
    #: Prompt ids played at the end, per outcome (none after a hang-up).
    closing: Mapping[Outcome, tuple[str, ...]]
    keys: Keys = field(default_factory=Keys)
    language_menu: LanguageMenu | None = None
    #: Share of applicable substantive questions answered for C{complete} / C{partial}.
    complete_min: float = 0.8
    partial_min: float = 0.5
    #: A question asked more often than this in one call (a C{goto} loop) ends the call.
    max_visits: int = 3
    schema_version: int = SCHEMA_VERSION
    source: str = "<string>"
    #: SHA-256 of the file's text (first 16 hex digits): which version of the questionnaire
    #: an answer was given to, when the file changes during a campaign.
    digest: str = ""

    def uses_contact_unit(self) -> bool:
        return any(CONTACT_UNIT in block.units for block in self.blocks)

    def questions(self) -> list[tuple[Block, Question]]:
        return [(block, q) for block in self.blocks for q in block.questions]
