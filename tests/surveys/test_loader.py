"""Tests for dialer.surveys.loader: the model it builds and every check's file/line/field."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialer.surveys import loader
from dialer.surveys.model import CONTACT_UNIT
from tests.surveys.scripts import EXAMPLE, SMALL

DATA = Path(__file__).resolve().parents[2] / "dialer" / "data" / "hechi_units.csv"


def mutate(old: str, new: str) -> str:
    assert SMALL.count(old) == 1, old
    return SMALL.replace(old, new)


def line_of(text: str, needle: str) -> int:
    """The line of the first occurrence of needle (needle@N: of the N-th)."""
    needle, _, nth = needle.partition("@")
    count = int(nth or 1)
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            count -= 1
            if count == 0:
                return number
    raise AssertionError(needle)


def errors(text: str) -> list[loader.Problem]:
    _, problems = loader.check_text(text, "s.yaml")
    return [p for p in problems if p.severity == "error"]


# (what, old, new, needle of the expected line, field, words of the message)
CASES = [
    (
        "unknown top key",
        "intro: [hello]\n",
        "intro: [hello]\ncolour: red\n",
        "colour:",
        "colour",
        "unknown key 'colour'",
    ),
    (
        "misspelt top key",
        "languages: [zh-CN, en]",
        "langauges: [zh-CN, en]",
        "langauges",
        "langauges",
        "did you mean 'languages'",
    ),
    (
        "misspelt question key",
        "        prompt: q_why\n",
        "        promtp: q_why\n",
        "promtp",
        "blocks[0].questions[1].promtp",
        "did you mean 'prompt'",
    ),
    (
        "missing prompt language",
        'q_why: {zh-CN: 原因？慢请按1，其他请按2, en: "Why? Slow 1, other 2"}',
        "q_why: {zh-CN: 原因？慢请按1，其他请按2}",
        "q_why: {zh-CN",
        "prompts.q_why.en",
        "missing prompt text for language 'en'",
    ),
    (
        "prompt in unknown language",
        'q_why: {zh-CN: 原因？慢请按1，其他请按2, en: "Why? Slow 1, other 2"}',
        'q_why: {zh-CN: 原因？慢请按1，其他请按2, en: "Why? Slow 1, other 2", fr: Pourquoi}',
        "q_why: {zh-CN",
        "prompts.q_why.fr",
        "not in languages",
    ),
    (
        "option key twice",
        '{key: "2", code: 2, label: {zh-CN: 其他',
        '{key: "1", code: 2, label: {zh-CN: 其他',
        "code: 2, label: {zh-CN: 其他",
        "blocks[0].questions[1].options[1].key",
        "key '1' is used twice",
    ),
    (
        "option code twice",
        '{key: "2", code: 2, label: {zh-CN: 其他',
        '{key: "2", code: 1, label: {zh-CN: 其他',
        "label: {zh-CN: 其他",
        "blocks[0].questions[1].options[1].code",
        "code 1 is used twice",
    ),
    (
        "option key not a digit",
        '{key: "2", code: 2, label: {zh-CN: 其他',
        '{key: "*", code: 2, label: {zh-CN: 其他',
        "label: {zh-CN: 其他",
        "blocks[0].questions[1].options[1].key",
        "not one digit",
    ),
    (
        "unreachable by goto",
        "        max_value: 20\n",
        "        max_value: 20\n        goto: q_rec\n",
        "- id: q_again",
        "blocks[1].questions[1]",
        "'q_again' is unreachable",
    ),
    (
        "unreachable by ask_if order",
        "      - id: q_num\n",
        "      - id: q_num\n        ask_if: {q_again: [1]}\n",
        "ask_if: {q_again",
        "blocks[1].questions[0].ask_if.q_again",
        "never asked (unreachable)",
    ),
    (
        "loop without exit",
        "label: {zh-CN: 继续, en: go on}}",
        "label: {zh-CN: 继续, en: go on}, goto: q_num}",
        "- id: q_num",
        "blocks[1].questions[0]",
        "loop without exit",
    ),
    (
        "loop of gotos without exit",
        "        max_value: 20\n",
        "        max_value: 20\n        goto: q_num\n",
        "- id: q_num",
        "blocks[1].questions[0]",
        "loop without exit: every answer to q_num",
    ),
    (
        "goto unknown question",
        "label: {zh-CN: 继续, en: go on}}",
        "label: {zh-CN: 继续, en: go on}, goto: q_nope}",
        "goto: q_nope",
        "blocks[1].questions[1].options[key 2].goto",
        "no question 'q_nope'",
    ),
    (
        "goto into another block",
        "label: {zh-CN: 继续, en: go on}}",
        "label: {zh-CN: 继续, en: go on}, goto: q_sat}",
        "goto: q_sat",
        "blocks[1].questions[1].options[key 2].goto",
        "goto stays in its block",
    ),
    (
        "ask_if code not an option",
        "ask_if: {q_sat: [3]}",
        "ask_if: {q_sat: [3, 7]}",
        "ask_if: {q_sat",
        "blocks[0].questions[1].ask_if.q_sat",
        "[7] are not options",
    ),
    (
        "ask_if on a recording",
        "      - id: q_rec\n        type: record\n        prompt: q_rec\n",
        "      - id: q_rec\n        type: record\n        prompt: q_rec\n      - id: q_after\n        prompt: q_why\n"
        "        ask_if: {q_rec: [1]}\n        options:\n          - {key: '1', code: 1, label: {zh-CN: a, en: a}}\n",
        "ask_if: {q_rec",
        "blocks[1].questions[3].ask_if.q_rec",
        "no codes to test",
    ),
    (
        "unknown placeholder",
        'q_why: {zh-CN: 原因？慢请按1，其他请按2, en: "Why? Slow 1, other 2"}',
        'q_why: {zh-CN: "原因{units}", en: "Why? Slow 1, other 2"}',
        "q_why: {zh-CN",
        "prompts.q_why.zh-CN",
        "unknown placeholder {units}",
    ),
    (
        "unit outside a unit block",
        "        prompt: q_num\n",
        "        prompt: [q_num, q_sat]\n",
        "prompt: [q_num, q_sat]",
        "blocks[1].questions[0].prompt",
        "where there is no unit",
    ),
    (
        "option outside confirm",
        "intro: [hello]",
        "intro: [hello, confirm]",
        "intro: [hello",
        "intro",
        "only a confirm_prompt",
    ),
    (
        "unit in a closing prompt",
        "  refused: [bye]",
        "  refused: [bye, q_sat]",
        "refused: [bye, q_sat]",
        "closing.refused",
        "where there is no unit",
    ),
    (
        "duplicate YAML key",
        "  hello: {zh-CN: 您好, en: Hello}\n",
        "  hello: {zh-CN: 您好, en: Hello}\n  hello: {zh-CN: 你好, en: Hi}\n",
        "hello: {zh-CN: 你好",
        "prompts.hello",
        "appears twice",
    ),
    (
        "schema too new",
        "schema_version: 1",
        "schema_version: 2",
        "schema_version",
        "schema_version",
        "upgrade the dialer",
    ),
    (
        "consent without a way to decline",
        "label: {zh-CN: 不同意, en: decline}, end: refused}",
        "label: {zh-CN: 不同意, en: decline}}",
        "label: {zh-CN: 同意,",
        "consent.options",
        "no option ends with refused",
    ),
    (
        "duplicate question id",
        "      - id: q_why\n",
        "      - id: q_sat\n",
        "- id: q_sat@2",
        "blocks[0].questions[1].id",
        "defined twice",
    ),
    (
        "unknown unit",
        "units: [contact]",
        "units: [contact, U9]",
        "units: [contact, U9]",
        "blocks[0].units",
        "no unit 'U9'",
    ),
    (
        "unknown prompt",
        "        prompt: q_why\n",
        "        prompt: q_whyy\n",
        "prompt: q_whyy",
        "blocks[0].questions[1].prompt",
        "did you mean 'q_why'",
    ),
    (
        "unknown scale",
        "        scale: sat\n",
        "        scale: satisfaction\n",
        "scale: satisfaction",
        "blocks[0].questions[0].scale",
        "no scale 'satisfaction'",
    ),
    (
        "bad outcome",
        "end: refused}",
        "end: angry}",
        "end: angry",
        "consent.options[1].end",
        "not one of complete, refused, ineligible",
    ),
    (
        "number range",
        "        max_value: 20\n",
        "        max_value: 200\n",
        "max_value: 200",
        "blocks[1].questions[0].max_value",
        "needs more than 2 digits",
    ),
    (
        "timeout out of range",
        "  timeout: 5\n",
        "  timeout: 500\n",
        "timeout: 500",
        "defaults.timeout",
        "out of range",
    ),
    (
        "repeat key equals confirm key",
        "defaults:\n",
        "keys: {repeat: '#'}\ndefaults:\n",
        "keys:",
        "keys",
        "repeat and confirm are both '#'",
    ),
    (
        "missing unit name",
        '"U2": {zh-CN: 宜州区, en: Yizhou District}',
        '"U2": {zh-CN: 宜州区}',
        '"U2"',
        "units.U2.en",
        "missing unit name for language 'en'",
    ),
    (
        "record field on a choice",
        "        confirm: true\n",
        "        confirm: true\n        max_seconds: 5\n",
        "max_seconds: 5",
        "blocks[0].questions[0].max_seconds",
        "only record questions",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "needle", "field", "words"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_check_names_line_and_field(old, new, needle, field, words):
    """Each broken script yields an error naming the right line and field."""
    text = mutate(old, new)
    found = errors(text)
    want_line = line_of(text, needle)
    matching = [p for p in found if p.field == field and words in p.message]
    assert matching, f"no error {field}: {words!r} in {[str(p) for p in found]}"
    assert matching[0].line == want_line, str(matching[0])
    assert matching[0].source == "s.yaml"


def test_small_script_model():
    """The small script becomes the expected blocks, questions and options."""
    script = loader.loads(SMALL, "small.yaml")
    assert [b.id for b in script.blocks] == ["consent", "unit", "more"]
    assert script.blocks[1].units == (CONTACT_UNIT,)
    q_sat = script.blocks[1].questions[0]
    assert q_sat.prompts == ("q_sat", "scale_hint")  # the scale's keypad hint comes last
    assert [(o.key, o.code, o.weight) for o in q_sat.options] == [
        ("1", 1, 100.0),
        ("3", 3, 0.0),
        ("4", 4, None),
    ]
    assert q_sat.confirm and q_sat.timeout == 5.0 and q_sat.max_invalid == 1
    consent = script.blocks[0].questions[0]
    assert not consent.substantive and consent.on_fail == "end"
    assert consent.options[1].end == "refused"
    assert script.blocks[2].questions[2].kind == "record"
    assert not script.blocks[2].questions[2].substantive
    assert script.blocks[2].questions[1].options[0].goto == "q_num"
    assert script.closing["complete"] == ("thanks",)
    assert len(script.digest) == 16
    assert loader.loads(SMALL + "\n# a comment\n", "small.yaml").digest != script.digest


def test_goto_loop_with_exit_is_a_warning():
    """A goto loop callers can leave is reported as a warning, not an error."""
    script, problems = loader.check_text(SMALL, "small.yaml")
    assert script is not None
    assert [p.severity for p in problems] == ["warning"]
    assert "goto loop through q_num, q_again" in problems[0].message


def test_unused_prompt_is_a_warning():
    """A prompt nobody uses is a warning with its line."""
    text = mutate(
        "  bye: {zh-CN: 再见, en: Bye}\n",
        "  bye: {zh-CN: 再见, en: Bye}\n  spare: {zh-CN: 备用, en: Spare}\n",
    )
    script, problems = loader.check_text(text, "s.yaml")
    assert script is not None
    unused = [p for p in problems if "never used" in p.message]
    assert [(p.line, p.field) for p in unused] == [(line_of(text, "spare:"), "prompts.spare")]


def test_id_differs_from_file_name_is_a_warning():
    """A script whose id is not its file name gets a warning on the id line."""
    _, problems = loader.check_text(SMALL, "other.yaml")
    named = [p for p in problems if p.field == "id"]
    assert [(p.severity, p.line) for p in named] == [("warning", line_of(SMALL, "id: small"))]


def test_yaml_syntax_error_names_the_line():
    """A YAML syntax error is one problem naming its line."""
    text = mutate(
        '  q_why: {zh-CN: 原因？慢请按1，其他请按2, en: "Why? Slow 1, other 2"}\n',
        '  q_why: {zh-CN: 原因？慢请按1，其他请按2, en: "Why? Slow 1, other 2"\n',
    )
    found = errors(text)
    assert len(found) == 1
    assert found[0].message.startswith("YAML syntax")
    assert found[0].line >= line_of(text, "q_why: {zh-CN")


def test_missing_required_keys():
    """A file without prompts or blocks says which required keys are missing."""
    found = errors("schema_version: 1\nid: x\nlanguages: [zh-CN]\n")
    assert {p.field for p in found} >= {"prompts", "blocks"}
    assert all(p.line == 1 for p in found)


def test_all_problems_are_collected():
    """Several mistakes are all reported, in line order."""
    text = mutate("languages: [zh-CN, en]", "langauges: [zh-CN, en]\nlanguages: [zh-CN, en]")
    text = text.replace("        prompt: q_why\n", "        prompt: q_whyy\n")
    text = text.replace(
        '{key: "2", code: 2, label: {zh-CN: 其他', '{key: "1", code: 2, label: {zh-CN: 其他'
    )
    found = errors(text)
    assert len(found) >= 3
    assert [p.line for p in found] == sorted(p.line for p in found)


def test_script_error_message(tmp_path):
    """load raises ScriptError whose message is file:line: field: message (+ count)."""
    path = tmp_path / "bad.yaml"
    path.write_text(mutate("languages: [zh-CN, en]", "langauges: [zh-CN, en]"), encoding="utf-8")
    with pytest.raises(loader.ScriptError) as caught:
        loader.load(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:")
    assert any("langauges: unknown key" in str(p) for p in caught.value.problems)
    assert any(str(p).endswith(" / 未知字段") for p in caught.value.problems)


def test_missing_and_binary_files(tmp_path):
    """A missing file and a non-UTF-8 file are one clear problem each."""
    _, problems = loader.check(tmp_path / "nope.yaml")
    assert "no such file" in problems[0].message
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage\x81")
    _, problems = loader.check(binary)
    assert "not UTF-8" in problems[0].message
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    _, problems = loader.check(empty)
    assert "empty" in problems[0].message


def test_example_is_clean():
    """The shipped example loads with no errors and no warnings."""
    script, problems = loader.check(EXAMPLE)
    assert problems == []
    assert script is not None
    assert script.languages == ("zh-CN", "en")
    assert [o.code for o in script.scales["satisfaction"].options] == [1, 2, 3, 4]
    assert [o.label["zh-CN"] for o in script.scales["satisfaction"].options] == [
        "满意",
        "基本满意",
        "不满意",
        "不了解",
    ]


def test_example_units_match_demo_data():
    """The example's units are the demo city's 93 units with the same names."""
    script = loader.load(EXAMPLE)
    with DATA.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert {r["code"]: (r["name"], r["name_en"]) for r in rows} == {
        code: (u.name["zh-CN"], u.name["en"]) for code, u in script.units.items()
    }
    counties = [r for r in rows if r["kind"] == "county"]
    assert len(counties) == 11


_LINES = SMALL.splitlines()
_edits = st.lists(
    st.tuples(
        st.sampled_from(["drop", "dup", "value", "indent", "key"]),
        st.integers(0, len(_LINES) - 1),
        st.sampled_from(
            ["", "1", "-1", "x", "[]", "{}", "yes", "null", "q_sat", "'{unit}'", "3.5"]
        ),
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=_edits)
def test_damaged_scripts_never_crash_the_checker(edits):
    """Random damage to a valid script gives problems with lines, never an exception."""
    lines = list(_LINES)
    for kind, i, value in edits:
        i %= len(lines)
        if kind == "drop":
            del lines[i]
        elif kind == "dup":
            lines.insert(i, lines[i])
        elif kind == "value" and ":" in lines[i]:
            lines[i] = lines[i].split(":", 1)[0] + ": " + value
        elif kind == "indent":
            lines[i] = "  " + lines[i]
        elif kind == "key" and ":" in lines[i]:
            lines[i] = lines[i].replace(":", f"{value}x:", 1)
        if not lines:
            lines = ["x: 1"]
    text = "\n".join(lines) + "\n"
    script, problems = loader.check_text(text, "small.yaml")
    if script is None:
        assert any(p.severity == "error" for p in problems)
    for p in problems:
        assert 0 <= p.line <= len(lines) + 1, str(p)
        assert str(p).startswith("small.yaml:")


def test_key_never_said_is_a_warning():
    """A keypad question whose prompts never say one of its keys gets a warning per language."""
    text = SMALL.replace("满意请按1，不满意请按3，不了解请按4", "满意请按1，不满意请按3")
    script, problems = loader.check_text(text, "small.yaml")
    assert script is not None
    said = [p for p in problems if "never said" in p.message]
    assert [(p.line, p.field, p.message.split(":")[0]) for p in said] == [
        (
            line_of(text, "        prompt: q_sat"),
            "blocks[0].questions[0].prompt",
            "key(s) 4 never said in zh-CN",
        )
    ]


def test_prompt_audio_names_a_sound():
    """A prompt may name its sound (one for all languages, or per language)."""
    text = SMALL.replace(
        "  bye: {zh-CN: 再见, en: Bye}\n",
        "  bye: {zh-CN: 再见, en: Bye, audio: vm-goodbye}\n"
        "  tone: {zh-CN: 提示音, en: tone, audio: {zh-CN: custom/tone_zh, en: beep}}\n",
    ).replace("intro: [hello]", "intro: [tone, hello]")
    script = loader.loads(text, "small.yaml")
    assert script.prompts["bye"].audio == {"zh-CN": "vm-goodbye", "en": "vm-goodbye"}
    assert script.prompts["tone"].audio == {"zh-CN": "custom/tone_zh", "en": "beep"}


@pytest.mark.parametrize(
    ("audio", "words"),
    [
        ("beep.wav", "without its extension"),
        ("'my file'", "not an Asterisk sound name"),
        ("{fr: beep}", "not in languages"),
    ],
)
def test_prompt_audio_errors(audio, words):
    """A sound name with an extension, a space or an unknown language is an error."""
    text = SMALL.replace(
        "  bye: {zh-CN: 再见, en: Bye}\n", f"  bye: {{zh-CN: 再见, en: Bye, audio: {audio}}}\n"
    )
    found = errors(text)
    assert any(words in p.message and p.field.startswith("prompts.bye.audio") for p in found), found
    assert all(p.line == line_of(text, "  bye:") for p in found)


def test_prompt_audio_with_placeholders_is_an_error():
    """A prompt said in pieces ({unit}) cannot name one sound file."""
    text = SMALL.replace(
        'q_sat: {zh-CN: "您对{unit}的工作是否满意？", en: "Satisfied with {unit}?"}',
        'q_sat: {zh-CN: "您对{unit}的工作是否满意？", en: "Satisfied with {unit}?", audio: x}',
    )
    assert any("spoken in pieces" in p.message for p in errors(text))


MENU_LINE = 'language_menu: {prompt: hello, keys: {"1": zh-CN, "2": en}}\nintro: [hello]'


def test_language_menu_is_read():
    """language_menu: a prompt, a key per language and a timeout."""
    script = loader.loads(SMALL.replace("intro: [hello]", MENU_LINE), "small.yaml")
    assert script.language_menu is not None
    assert dict(script.language_menu.keys) == {"1": "zh-CN", "2": "en"}
    assert script.language_menu.timeout == 4.0


@pytest.mark.parametrize(
    ("menu", "field", "words"),
    [
        ('{prompt: hello, keys: {"1": zh-CN, "2": fr}}', "language_menu.keys.2", "'fr' is not in"),
        ('{prompt: hello, keys: {"1": zh-CN, "2": zh-CN}}', "language_menu.keys.2", "two keys"),
        ('{prompt: hello, keys: {"1": zh-CN, "x": en}}', "language_menu.keys.x", "not one digit"),
        ('{prompt: hello, keys: {"1": zh-CN}}', "language_menu.keys", "at least two"),
        ('{prompt: nope, keys: {"1": zh-CN, "2": en}}', "language_menu.prompt", "no prompt"),
        ('{keys: {"1": zh-CN, "2": en}}', "language_menu.prompt", "required key"),
    ],
)
def test_language_menu_errors(menu, field, words):
    """Bad language menus are errors on the menu's line."""
    text = SMALL.replace("intro: [hello]", f"language_menu: {menu}\nintro: [hello]")
    found = [p for p in errors(text) if p.field == field and words in p.message]
    assert found, errors(text)
    assert found[0].line == line_of(text, "language_menu:")
