"""
The questionnaire schema as data: the keys each section may have, the required ones,
and the patterns names must match (described for authors in C{ivr_scripts/README.md}).

test-case-name: tests.surveys.test_loader
"""

from __future__ import annotations

import re

TOP_KEYS = {
    "schema_version",
    "id",
    "title",
    "languages",
    "defaults",
    "keys",
    "outcomes",
    "max_visits",
    "language_menu",
    "units",
    "scales",
    "prompts",
    "intro",
    "consent",
    "blocks",
    "closing",
}
REQUIRED_TOP = ("schema_version", "id", "languages", "prompts", "blocks")
#: Question fields a C{defaults:} section may set.
DEFAULTABLE = {
    "timeout",
    "max_invalid",
    "max_no_input",
    "max_repeats",
    "invalid_prompt",
    "no_input_prompt",
    "confirm_prompt",
    "on_fail",
    "confirm",
    "max_seconds",
    "silence_seconds",
    "beep",
}
QUESTION_KEYS = DEFAULTABLE | {
    "id",
    "type",
    "prompt",
    "scale",
    "options",
    "ask_if",
    "goto",
    "min_digits",
    "max_digits",
    "min_value",
    "max_value",
    "substantive",
}
OPTION_KEYS = {"key", "code", "label", "weight", "goto", "end"}
BLOCK_KEYS = {"id", "units", "questions"}
KEY_CHARS = "0123456789*#"
ID_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
UNIT_RE = re.compile(r"^[A-Za-z0-9_]{1,32}$")
SOUND_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./-]{0,200}$")
AUDIO_EXTENSIONS = {"wav", "gsm", "sln", "sln16", "ulaw", "alaw", "g722", "wav16", "mp3", "ogg"}
LANG_RE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
#: Outcomes an option may end with (partial/break-off are computed, not chosen).
OPTION_ENDS = ("complete", "refused", "ineligible")
