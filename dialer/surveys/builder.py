"""
Building a questionnaire's model (L{dialer.surveys.model}) from its YAML node tree:
L{Builder} reads every section, checks each value as it goes (reporting to the
L{Reader}), then hands the questions to L{dialer.surveys.logic} for the cross-checks.

test-case-name: tests.surveys.test_loader
"""

from __future__ import annotations

import difflib
import re
import string
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast

from yaml.nodes import MappingNode, Node, ScalarNode

from dialer.surveys.logic import QuestionDraft, check_logic
from dialer.surveys.model import (
    CONTACT_UNIT,
    OUTCOMES,
    PLACEHOLDERS,
    SCHEMA_VERSION,
    Block,
    Condition,
    Keys,
    LanguageMenu,
    Option,
    Outcome,
    Prompt,
    Question,
    Scale,
    Script,
    Unit,
)
from dialer.surveys.nodes import Reader, child, line_of
from dialer.surveys.schema import (
    AUDIO_EXTENSIONS,
    BLOCK_KEYS,
    DEFAULTABLE,
    ID_RE,
    KEY_CHARS,
    LANG_RE,
    OPTION_ENDS,
    OPTION_KEYS,
    QUESTION_KEYS,
    REQUIRED_TOP,
    SOUND_RE,
    TOP_KEYS,
    UNIT_RE,
)

__all__ = ["Builder", "placeholders_of"]

_formatter = string.Formatter()


class Builder:
    """Builds the L{Script} model from the node tree, reporting problems to the reader."""

    def __init__(self, reader: Reader) -> None:
        self.r = reader
        self.languages: tuple[str, ...] = ()
        self.prompt_nodes: dict[str, Node] = {}
        self.prompts: dict[str, Prompt] = {}
        self.used_prompts: set[str] = set()
        self.units: dict[str, Unit] = {}
        self.scales: dict[str, Scale] = {}
        self.used_scales: set[str] = set()
        self.keys = Keys()
        self.defaults: dict[str, Any] = {}
        self.question_ids: dict[str, str] = {}  # id -> path of its first definition

    # top level

    def build(self, root: Node) -> Script | None:
        r = self.r
        top = r.mapping(root, "", TOP_KEYS)
        if top is None:
            return None
        for key in REQUIRED_TOP:
            if key not in top:
                r.error(root, key, "required key is missing")
        version = None
        if "schema_version" in top:
            node = top["schema_version"][1]
            version = r.integer(node, "schema_version")
            if version is not None and version != SCHEMA_VERSION:
                newer = version > SCHEMA_VERSION
                r.error(
                    node,
                    "schema_version",
                    f"version {version} is not supported (this dialer reads {SCHEMA_VERSION})"
                    + ("; upgrade the dialer" if newer else ""),
                )
                return None
        script_id = r.text(top["id"][1], "id", pattern=ID_RE) if "id" in top else None
        stem = Path(r.source).stem
        if script_id is not None and r.source.endswith((".yaml", ".yml")) and stem != script_id:
            r.warn(
                top["id"][1],
                "id",
                f"id {script_id!r} differs from the file name {stem!r}"
                " (campaigns name the file; sounds live under the id)",
            )
        if "languages" in top:
            self.languages = self._languages(top["languages"][1])
        if not self.languages:
            return None
        title = self._texts(top["title"][1], "title") if "title" in top else {}
        if "prompts" in top:
            self._prompts(top["prompts"][1])
        if "keys" in top:
            self.keys = self._keys(top["keys"][1])
        if "defaults" in top:
            self._defaults(top["defaults"][1])
        complete_min, partial_min = 0.8, 0.5
        if "outcomes" in top:
            complete_min, partial_min = self._outcomes(top["outcomes"][1])
        max_visits = 3
        if "max_visits" in top:
            max_visits = r.integer(top["max_visits"][1], "max_visits", 1, 100) or 3
        if "units" in top:
            self._units(top["units"][1])
        if "scales" in top:
            self._scales(top["scales"][1])
        intro: tuple[str, ...] = ()
        if "intro" in top:
            intro = tuple(self._prompt_refs(top["intro"][1], "intro"))
            self._placeholders(intro, top["intro"][1], "intro")
        language_menu = None
        if "language_menu" in top:
            language_menu = self._language_menu(top["language_menu"][1])
        blocks: list[Block] = []
        drafts: list[tuple[Block, list[QuestionDraft], Node]] = []
        if "consent" in top:
            consent = self._consent(top["consent"][1])
            if consent is not None:
                block = Block("consent", (consent.question,), (), line_of(top["consent"][1]))
                blocks.append(block)
                drafts.append((block, [consent], top["consent"][1]))
        if "blocks" in top:
            for block, block_drafts, node in self._blocks(top["blocks"][1]):
                blocks.append(block)
                drafts.append((block, block_drafts, node))
        closing: dict[Outcome, tuple[str, ...]] = {}
        if "closing" in top:
            closing = self._closing(top["closing"][1])
        elif "blocks" in top:
            r.warn(root, "closing", "no closing prompts: callers hear no thanks or goodbye")
        check_logic(self.r, drafts)
        if not any(p.severity == "error" for p in r.problems):
            self._check_unused()  # after an error, "unused" is mostly noise
        if script_id is None or any(p.severity == "error" for p in r.problems):
            return None
        return Script(
            id=script_id,
            title=title,
            languages=self.languages,
            prompts=self.prompts,
            units=self.units,
            scales=self.scales,
            intro=intro,
            blocks=tuple(blocks),
            closing=closing,
            keys=self.keys,
            language_menu=language_menu,
            complete_min=complete_min,
            partial_min=partial_min,
            max_visits=max_visits,
            schema_version=version or SCHEMA_VERSION,
            source=r.source,
        )

    def _languages(self, node: Node) -> tuple[str, ...]:
        out: list[str] = []
        for value, item in self.r.id_list(node, "languages"):
            if not LANG_RE.match(value):
                self.r.error(item, "languages", f"{value!r} is not a language tag like zh-CN or en")
            elif value in out:
                self.r.error(item, "languages", f"{value!r} is listed twice")
            else:
                out.append(value)
        if not out:
            self.r.error(node, "languages", "at least one language is needed")
        return tuple(out)

    def _texts(
        self, node: Node, path: str, *, what: str = "text", extra: frozenset[str] = frozenset()
    ) -> dict[str, str]:
        """A mapping language -> text; every script language must be there (C{extra} keys skipped)."""
        entries = self.r.mapping(node, path)
        if entries is None:
            return {}
        out: dict[str, str] = {}
        for lang, (key_node, value_node) in entries.items():
            if lang in extra:
                continue
            if lang not in self.languages:
                self.r.error(
                    key_node,
                    f"{path}.{lang}",
                    f"language {lang!r} is not in languages ({', '.join(self.languages)})",
                )
                continue
            text = self.r.text(value_node, f"{path}.{lang}")
            if text is not None:
                out[lang] = text
        for lang in self.languages:
            if lang not in entries:
                self.r.error(node, f"{path}.{lang}", f"missing {what} for language {lang!r}")
        return out

    def _keys(self, node: Node) -> Keys:
        entries = self.r.mapping(node, "keys", {"repeat", "confirm", "record_end"})
        if entries is None:
            return Keys()
        values: dict[str, str] = {}
        for name, (_, value_node) in entries.items():
            value = self.r.text(value_node, f"keys.{name}")
            if value is None:
                continue
            if len(value) != 1 or value not in KEY_CHARS:
                self.r.error(value_node, f"keys.{name}", f"{value!r} is not one key of {KEY_CHARS}")
                continue
            values[name] = value
        keys = Keys(**values)
        if keys.repeat == keys.confirm:
            self.r.error(node, "keys", f"repeat and confirm are both {keys.repeat!r}")
        return keys

    def _defaults(self, node: Node) -> None:
        entries = self.r.mapping(node, "defaults", DEFAULTABLE)
        if entries is None:
            return
        for name, (_, value_node) in entries.items():
            value = self._question_field(name, value_node, f"defaults.{name}")
            if value is not None:
                self.defaults[name] = value

    def _outcomes(self, node: Node) -> tuple[float, float]:
        entries = self.r.mapping(node, "outcomes", {"complete_min", "partial_min"})
        complete_min, partial_min = 0.8, 0.5
        if entries is None:
            return complete_min, partial_min
        if "complete_min" in entries:
            value = self.r.number(entries["complete_min"][1], "outcomes.complete_min", 0.0, 1.0)
            complete_min = value if value is not None else complete_min
        if "partial_min" in entries:
            value = self.r.number(entries["partial_min"][1], "outcomes.partial_min", 0.0, 1.0)
            partial_min = value if value is not None else partial_min
        if partial_min > complete_min:
            self.r.error(node, "outcomes.partial_min", "must not be above complete_min")
        return complete_min, partial_min

    def _prompts(self, node: Node) -> None:
        entries = self.r.mapping(node, "prompts")
        if entries is None:
            return
        for pid, (key_node, value_node) in entries.items():
            path = f"prompts.{pid}"
            if not ID_RE.match(pid):
                self.r.error(key_node, path, f"{pid!r} is not a valid prompt id ({ID_RE.pattern})")
                continue
            texts = self._texts(value_node, path, what="prompt text", extra=frozenset({"audio"}))
            audio = self._audio(value_node, path)
            for lang in audio:
                if lang in texts and placeholders_of(texts[lang]):
                    self.r.error(
                        value_node,
                        f"{path}.audio",
                        f"a prompt with placeholders is spoken in pieces; it cannot name one"
                        f" sound file ({lang})",
                    )
            for lang, text in texts.items():
                try:
                    fields = [f for _, f, spec, conv in _formatter.parse(text) if f is not None]
                except ValueError as e:
                    self.r.error(value_node, f"{path}.{lang}", f"bad placeholder: {e}")
                    continue
                for f in fields:
                    if f not in PLACEHOLDERS:
                        self.r.error(
                            value_node,
                            f"{path}.{lang}",
                            f"unknown placeholder {{{f}}}; use {{unit}} or {{option}}"
                            " (write {{ and }} for a brace)",
                        )
            placeholder_sets = {
                lang: {f for _, f, _, _ in _safe_parse(text) if f} for lang, text in texts.items()
            }
            if len({frozenset(s) for s in placeholder_sets.values()}) > 1:
                self.r.warn(value_node, path, "the languages do not use the same placeholders")
            self.prompt_nodes[pid] = key_node
            self.prompts[pid] = Prompt(pid, texts, line_of(key_node), audio)

    def _audio(self, node: Node, path: str) -> dict[str, str]:
        """A prompt's C{audio}: one sound name for every language, or one per language."""
        audio_node = child(node, "audio")
        if audio_node is None:
            return {}
        where = f"{path}.audio"
        if isinstance(audio_node, ScalarNode):
            name = self.r.text(audio_node, where)
            names: dict[str, str] = {lang: name for lang in self.languages} if name else {}
        else:
            names = {}
            for lang, (key_node, value_node) in (self.r.mapping(audio_node, where) or {}).items():
                if lang not in self.languages:
                    self.r.error(
                        key_node, f"{where}.{lang}", f"language {lang!r} is not in languages"
                    )
                    continue
                name = self.r.text(value_node, f"{where}.{lang}")
                if name is not None:
                    names[lang] = name
        out: dict[str, str] = {}
        for lang, name in names.items():
            if not SOUND_RE.match(name):
                self.r.error(
                    audio_node,
                    where,
                    f"{name!r} is not an Asterisk sound name (letters, digits, _-/ ; no spaces)",
                )
            elif name.rsplit("/", 1)[-1].rpartition(".")[2] in AUDIO_EXTENSIONS:
                self.r.error(audio_node, where, f"{name!r}: give the sound without its extension")
            else:
                out[lang] = name
        return out

    def _units(self, node: Node) -> None:
        entries = self.r.mapping(node, "units")
        if entries is None:
            return
        for code, (key_node, value_node) in entries.items():
            path = f"units.{code}"
            if not UNIT_RE.match(code):
                self.r.error(
                    key_node, path, f"{code!r} is not a valid unit code ({UNIT_RE.pattern})"
                )
                continue
            if code == CONTACT_UNIT:
                self.r.error(key_node, path, f"{CONTACT_UNIT!r} is reserved")
                continue
            names = self._texts(value_node, path, what="unit name")
            self.units[code] = Unit(code, names, line_of(key_node))

    def _scales(self, node: Node) -> None:
        entries = self.r.mapping(node, "scales")
        if entries is None:
            return
        for sid, (key_node, value_node) in entries.items():
            path = f"scales.{sid}"
            if not ID_RE.match(sid):
                self.r.error(key_node, path, f"{sid!r} is not a valid scale id ({ID_RE.pattern})")
                continue
            hint = None
            options_node = value_node
            if isinstance(value_node, MappingNode):
                scale_entries = self.r.mapping(value_node, path, {"options", "prompt"})
                if scale_entries is None:
                    continue
                if "prompt" in scale_entries:
                    hint = self._prompt_ref(scale_entries["prompt"][1], f"{path}.prompt")
                if "options" not in scale_entries:
                    self.r.error(value_node, f"{path}.options", "required key is missing")
                    continue
                options_node = scale_entries["options"][1]
                path = f"{path}.options"
            options = self._options(options_node, path, goto_nodes={}, allow_jumps=False)
            self.scales[sid] = Scale(sid, tuple(options), hint, line_of(key_node))

    def _options(
        self, node: Node, path: str, *, goto_nodes: dict[str, Node], allow_jumps: bool = True
    ) -> list[Option]:
        items = self.r.sequence(node, path)
        if items is None:
            return []
        if not items:
            self.r.error(node, path, "at least one option is needed")
        out: list[Option] = []
        seen_keys: dict[str, int] = {}
        seen_codes: dict[int, int] = {}
        for i, item in enumerate(items):
            sub = f"{path}[{i}]"
            entries = self.r.mapping(item, sub, OPTION_KEYS)
            if entries is None:
                continue
            for required in ("key", "code", "label"):
                if required not in entries:
                    self.r.error(item, f"{sub}.{required}", "required key is missing")
            key = code = None
            if "key" in entries:
                key_node = entries["key"][1]
                key = self.r.text(key_node, f"{sub}.key")
                if key is not None:
                    if len(key) != 1 or not key.isdigit():
                        self.r.error(key_node, f"{sub}.key", f"{key!r} is not one digit 0-9")
                        key = None
                    elif key in seen_keys:
                        self.r.error(
                            key_node,
                            f"{sub}.key",
                            f"key {key!r} is used twice (first on line {seen_keys[key]})",
                        )
                        key = None
                    else:
                        seen_keys[key] = line_of(key_node)
            if "code" in entries:
                code_node = entries["code"][1]
                code = self.r.integer(code_node, f"{sub}.code", -(2**31), 2**31 - 1)
                if code is not None and code in seen_codes:
                    self.r.error(
                        code_node,
                        f"{sub}.code",
                        f"code {code} is used twice (first on line {seen_codes[code]})",
                    )
                    code = None
                elif code is not None:
                    seen_codes[code] = line_of(code_node)
            label = (
                self._texts(entries["label"][1], f"{sub}.label", what="label")
                if ("label" in entries)
                else {}
            )
            weight = None
            if "weight" in entries:
                w_node = entries["weight"][1]
                if not (isinstance(w_node, ScalarNode) and w_node.tag.endswith(":null")):
                    weight = self.r.number(w_node, f"{sub}.weight", -1e9, 1e9)
            goto = end = None
            if "goto" in entries:
                g_node = entries["goto"][1]
                if not allow_jumps:
                    self.r.error(
                        g_node,
                        f"{sub}.goto",
                        "a shared scale cannot jump; use the question's goto or its own options",
                    )
                else:
                    goto = self.r.text(g_node, f"{sub}.goto")
                    if goto is not None and key is not None:
                        goto_nodes[key] = g_node
            if "end" in entries:
                e_node = entries["end"][1]
                value = self.r.text(e_node, f"{sub}.end")
                if value is not None and value not in OPTION_ENDS:
                    self.r.error(
                        e_node, f"{sub}.end", f"{value!r} is not one of {', '.join(OPTION_ENDS)}"
                    )
                elif value is not None:
                    if not allow_jumps:
                        self.r.error(e_node, f"{sub}.end", "a shared scale cannot end the call")
                    end = cast(Outcome, value)
                if goto is not None and end is not None:
                    self.r.error(e_node, sub, "an option cannot have both goto and end")
            if key is not None and code is not None:
                out.append(Option(key, code, label, weight, goto, end, line_of(item)))
        return out

    def _prompt_ref(self, node: Node, path: str) -> str | None:
        pid = self.r.text(node, path)
        if pid is None:
            return None
        if pid not in self.prompts:
            hint = difflib.get_close_matches(pid, sorted(self.prompts), n=1)
            did = f"; did you mean {hint[0]!r}?" if hint else ""
            self.r.error(node, path, f"no prompt {pid!r} in prompts{did}")
            return None
        self.used_prompts.add(pid)
        return pid

    def _prompt_refs(self, node: Node, path: str) -> list[str]:
        out = []
        for _, item in self.r.id_list(node, path):
            pid = self._prompt_ref(item, path)
            if pid is not None:
                out.append(pid)
        return out

    def _question_field(self, name: str, node: Node, path: str) -> Any:
        r = self.r
        if name == "timeout":
            return r.number(node, path, 0.5, 60)
        if name in ("max_invalid", "max_no_input", "max_repeats"):
            return r.integer(node, path, 0, 10)
        if name in ("invalid_prompt", "no_input_prompt", "confirm_prompt"):
            return self._prompt_ref(node, path)
        if name == "on_fail":
            value = r.text(node, path)
            if value is not None and value not in ("skip", "end"):
                r.error(node, path, f"{value!r} is not skip or end")
                return None
            return value
        if name in ("confirm", "beep", "substantive"):
            return r.boolean(node, path)
        if name == "max_seconds":
            return r.integer(node, path, 1, 600)
        if name == "silence_seconds":
            return r.integer(node, path, 0, 60)
        if name in ("min_digits", "max_digits"):
            return r.integer(node, path, 1, 20)
        if name in ("min_value", "max_value"):
            return r.integer(node, path, 0, 10**20)
        raise AssertionError(name)  # pragma: no cover

    def _placeholders(
        self,
        pids: Sequence[str],
        node: Node,
        path: str,
        *,
        unit_ok: bool = False,
        option_ok: bool = False,
    ) -> None:
        """Flag {unit}/{option} in prompts said where there is no unit / no option to say."""
        for pid in pids:
            for lang, text in self.prompts[pid].text.items():
                fields = {f for _, f, _, _ in _safe_parse(text) if f}
                if "unit" in fields and not unit_ok:
                    self.r.error(
                        node,
                        path,
                        f"prompt {pid!r} says {{unit}} ({lang}) where "
                        "there is no unit (only questions of blocks with units)",
                    )
                    break
                if "option" in fields and not option_ok:
                    self.r.error(
                        node,
                        path,
                        f"prompt {pid!r} says {{option}} ({lang}): only "
                        "a confirm_prompt can read the choice back",
                    )
                    break

    def _keys_announced(
        self, prompts: Sequence[str], options: Sequence[Option], node: Node, path: str
    ) -> None:
        """Warn when a keypad question never says one of its keys ("press 5 for ...")."""
        for lang in self.languages:
            said = " ".join(self.prompts[pid].text.get(lang, "") for pid in prompts)
            words = set(re.findall(r"[a-z]+", said.lower()))
            silent = [
                o.key
                for o in options
                if o.key not in said
                and not any(n in said for n in _NUMERALS_ZH[o.key])
                and _NUMERALS_EN[o.key] not in words
            ]
            if silent:
                self.r.warn(
                    node,
                    path,
                    f"key(s) {', '.join(silent)} never said in {lang}: callers cannot know them",
                )

    def _language_menu(self, node: Node) -> LanguageMenu | None:
        r = self.r
        entries = r.mapping(node, "language_menu", {"prompt", "keys", "timeout"})
        if entries is None:
            return None
        for required in ("prompt", "keys"):
            if required not in entries:
                r.error(node, f"language_menu.{required}", "required key is missing")
        prompt = None
        if "prompt" in entries:
            prompt = self._prompt_ref(entries["prompt"][1], "language_menu.prompt")
            if prompt is not None:
                self._placeholders([prompt], entries["prompt"][1], "language_menu.prompt")
        keys: dict[str, str] = {}
        if "keys" in entries:
            keys_node = entries["keys"][1]
            for key, (key_node, value_node) in (
                r.mapping(keys_node, "language_menu.keys") or {}
            ).items():
                where = f"language_menu.keys.{key}"
                lang = r.text(value_node, where)
                if len(key) != 1 or not key.isdigit():
                    r.error(key_node, where, f"{key!r} is not one digit 0-9")
                elif lang is not None and lang not in self.languages:
                    r.error(value_node, where, f"language {lang!r} is not in languages")
                elif lang is not None and lang in keys.values():
                    r.error(value_node, where, f"language {lang!r} has two keys")
                elif lang is not None:
                    keys[key] = lang
            if len(keys) < 2:
                r.error(keys_node, "language_menu.keys", "a menu needs at least two languages")
            for lang in self.languages:
                if keys and lang not in keys.values() and lang != self.languages[0]:
                    r.warn(keys_node, "language_menu.keys", f"no key chooses {lang!r}")
        timeout = 4.0
        if "timeout" in entries:
            value = r.number(entries["timeout"][1], "language_menu.timeout", 0.5, 60)
            timeout = value if value is not None else timeout
        if prompt is None or len(keys) < 2:
            return None
        return LanguageMenu(prompt, keys, timeout, line_of(node))

    def _consent(self, node: Node) -> QuestionDraft | None:
        draft = self._question(node, "consent", in_units=False, forced_id="consent")
        if draft is None:
            return None
        q = draft.question
        options_node = child(node, "options") or node
        if q.kind != "choice":
            self.r.error(node, "consent", "consent must be a choice question")
        elif not any(o.end == "refused" for o in q.options):
            self.r.error(
                options_node,
                "consent.options",
                "no option ends with refused: how does a caller decline?",
            )
        elif all(o.end is not None for o in q.options):
            self.r.error(
                options_node, "consent.options", "every option ends the call: nobody can agree"
            )
        return draft

    def _question(
        self, node: Node, path: str, *, in_units: bool, forced_id: str | None = None
    ) -> QuestionDraft | None:
        r = self.r
        entries = r.mapping(node, path, QUESTION_KEYS - ({"id"} if forced_id else set()))
        if entries is None:
            return None
        qid = forced_id
        if forced_id is None:
            if "id" not in entries:
                r.error(node, f"{path}.id", "required key is missing")
            else:
                qid = r.text(entries["id"][1], f"{path}.id", pattern=ID_RE)
                if qid == "consent":
                    r.error(
                        entries["id"][1],
                        f"{path}.id",
                        "'consent' is reserved for the top-level consent question",
                    )
                    qid = None
        if qid is not None:
            if qid in self.question_ids:
                r.error(
                    entries["id"][1] if "id" in entries else node,
                    f"{path}.id",
                    f"question {qid!r} is defined twice (first at {self.question_ids[qid]})",
                )
                qid = None
            else:
                self.question_ids[qid] = f"{path} line {line_of(node)}"
        values: dict[str, Any] = dict(self.defaults)
        for name in QUESTION_KEYS - {"id", "type", "prompt", "scale", "options", "ask_if", "goto"}:
            if name in entries:
                value = self._question_field(name, entries[name][1], f"{path}.{name}")
                if value is not None:
                    values[name] = value
        kind = "choice" if ("options" in entries or "scale" in entries) else None
        if "type" in entries:
            kind = r.text(entries["type"][1], f"{path}.type")
            if kind not in (None, "choice", "number", "record"):
                r.error(
                    entries["type"][1], f"{path}.type", f"{kind!r} is not choice, number or record"
                )
                kind = None
        elif kind is None:
            r.error(node, f"{path}.type", "say type: choice, number or record (or give options)")
        prompts: list[str] = []
        if "prompt" not in entries:
            r.error(node, f"{path}.prompt", "required key is missing")
        else:
            prompts = self._prompt_refs(entries["prompt"][1], f"{path}.prompt")
            if not prompts:
                r.error(entries["prompt"][1], f"{path}.prompt", "name at least one prompt")
        goto_nodes: dict[str, Node] = {}
        options: list[Option] = []
        scale = None
        if kind == "choice":
            if "scale" in entries and "options" in entries:
                r.error(entries["options"][1], path, "give either scale or options, not both")
            elif "scale" in entries:
                scale_node = entries["scale"][1]
                scale = r.text(scale_node, f"{path}.scale")
                if scale is not None and scale not in self.scales:
                    r.error(scale_node, f"{path}.scale", f"no scale {scale!r} in scales")
                    scale = None
                elif scale is not None:
                    self.used_scales.add(scale)
                    options = list(self.scales[scale].options)
                    hint = self.scales[scale].prompt
                    if hint is not None and hint not in prompts:
                        prompts.append(hint)
            elif "options" in entries:
                options = self._options(
                    entries["options"][1], f"{path}.options", goto_nodes=goto_nodes
                )
            else:
                r.error(node, path, "a choice question needs scale or options")
            for option in options:
                if option.key in (self.keys.repeat, self.keys.confirm):
                    r.error(node, path, f"option key {option.key!r} is the repeat/confirm key")
        else:
            for name in ("scale", "options"):
                if name in entries:
                    r.error(
                        entries[name][1], f"{path}.{name}", f"only choice questions have {name}"
                    )
            if values.get("confirm"):
                if "confirm" in entries:
                    r.error(
                        entries["confirm"][1],
                        f"{path}.confirm",
                        "only choice questions can be confirmed",
                    )
                values["confirm"] = False
        if kind == "number":
            lo, hi = values.get("min_digits", 1), values.get("max_digits", 1)

            def at(name: str) -> Node:
                return entries[name][1] if name in entries else node

            if lo > hi:
                r.error(
                    at("min_digits"), f"{path}.min_digits", f"min_digits {lo} > max_digits {hi}"
                )
            vlo, vhi = values.get("min_value"), values.get("max_value")
            if vlo is not None and vhi is not None and vlo > vhi:
                r.error(at("min_value"), f"{path}.min_value", f"min_value {vlo} > max_value {vhi}")
            if vhi is not None and len(str(vhi)) > hi:
                r.error(
                    at("max_value"),
                    f"{path}.max_value",
                    f"max_value {vhi} needs more than {hi} digits",
                )
        elif kind in ("choice", "record"):
            for name in ("min_digits", "max_digits", "min_value", "max_value"):
                if name in entries:
                    r.error(
                        entries[name][1], f"{path}.{name}", f"only number questions have {name}"
                    )
                    values.pop(name, None)
        if kind != "record":
            for name in ("max_seconds", "silence_seconds", "beep"):
                if name in entries:
                    r.error(
                        entries[name][1], f"{path}.{name}", f"only record questions have {name}"
                    )
        if values.get("confirm"):
            cp = values.get("confirm_prompt", "confirm")
            if cp not in self.prompts:
                r.error(
                    node, f"{path}.confirm_prompt", f"confirm is on but there is no prompt {cp!r}"
                )
            else:
                self.used_prompts.add(cp)
                if any(
                    "option" not in placeholders
                    for placeholders in (
                        [f for _, f, _, _ in _safe_parse(t) if f]
                        for t in self.prompts[cp].text.values()
                    )
                ):
                    r.warn(
                        node,
                        f"{path}.confirm_prompt",
                        f"prompt {cp!r} does not read the choice back ({{option}})",
                    )
        if kind in ("choice", "number"):
            for name, default in (("invalid_prompt", "invalid"), ("no_input_prompt", "no_input")):
                pid = values.get(name, default)
                if pid not in self.prompts:
                    r.error(
                        node,
                        f"{path}.{name}",
                        f"no prompt {pid!r} for retries (define it in prompts, or set {name})",
                    )
                else:
                    self.used_prompts.add(pid)
        prompt_node = entries["prompt"][1] if "prompt" in entries else node
        self._placeholders(prompts, prompt_node, f"{path}.prompt", unit_ok=in_units)
        for name, default in (("invalid_prompt", "invalid"), ("no_input_prompt", "no_input")):
            pid = values.get(name, default)
            if kind in ("choice", "number") and pid in self.prompts:
                where = entries[name][1] if name in entries else node
                self._placeholders([pid], where, f"{path}.{name}", unit_ok=in_units)
        if values.get("confirm") and values.get("confirm_prompt", "confirm") in self.prompts:
            where = entries["confirm_prompt"][1] if "confirm_prompt" in entries else node
            cp = values.get("confirm_prompt", "confirm")
            self._placeholders(
                [cp], where, f"{path}.confirm_prompt", unit_ok=in_units, option_ok=True
            )
        if kind == "choice" and prompts and options:
            self._keys_announced(prompts, options, prompt_node, f"{path}.prompt")
        ask_if: list[Condition] = []
        ask_if_nodes: dict[str, Node] = {}
        if "ask_if" in entries:
            cond_entries = r.mapping(entries["ask_if"][1], f"{path}.ask_if")
            for ref, (ref_node, codes_node) in (cond_entries or {}).items():
                codes_raw = (
                    [codes_node]
                    if isinstance(codes_node, ScalarNode)
                    else r.sequence(codes_node, f"{path}.ask_if.{ref}") or []
                )
                codes = [r.integer(c, f"{path}.ask_if.{ref}") for c in codes_raw]
                if not codes_raw:
                    r.error(codes_node, f"{path}.ask_if.{ref}", "list at least one code")
                ask_if.append(Condition(ref, tuple(c for c in codes if c is not None)))
                ask_if_nodes[ref] = ref_node
        goto = None
        if "goto" in entries:
            goto = r.text(entries["goto"][1], f"{path}.goto")
            if goto is not None:
                goto_nodes[""] = entries["goto"][1]
        if qid is None or not prompts or kind is None:
            return None
        question = Question(
            id=qid,
            kind=cast(Any, kind),
            prompts=tuple(prompts),
            options=tuple(options),
            scale=scale,
            ask_if=tuple(ask_if),
            goto=goto,
            line=line_of(node),
            **{k: v for k, v in values.items() if k != "substantive"},
            substantive=values.get("substantive", forced_id is None and kind != "record"),
        )
        return QuestionDraft(question, node, path, ask_if_nodes, goto_nodes)

    def _blocks(self, node: Node) -> Iterator[tuple[Block, list[QuestionDraft], Node]]:
        items = self.r.sequence(node, "blocks")
        if items is None:
            return
        if not items:
            self.r.error(node, "blocks", "at least one block is needed")
        seen: dict[str, int] = {"consent": 0}
        for i, item in enumerate(items):
            path = f"blocks[{i}]"
            entries = self.r.mapping(item, path, BLOCK_KEYS)
            if entries is None:
                continue
            bid = None
            if "id" not in entries:
                self.r.error(item, f"{path}.id", "required key is missing")
            else:
                bid = self.r.text(entries["id"][1], f"{path}.id", pattern=ID_RE)
                if bid is not None and bid in seen:
                    self.r.error(
                        entries["id"][1],
                        f"{path}.id",
                        f"block {bid!r} is defined twice"
                        + ("" if bid == "consent" else f" (first on line {seen[bid]})"),
                    )
                    bid = None
                elif bid is not None:
                    seen[bid] = line_of(item)
            units: list[str] = []
            if "units" in entries:
                for code, code_node in self.r.id_list(entries["units"][1], f"{path}.units"):
                    if code != CONTACT_UNIT and code not in self.units:
                        self.r.error(
                            code_node,
                            f"{path}.units",
                            f"no unit {code!r} in units (or use {CONTACT_UNIT!r})",
                        )
                    elif code in units:
                        self.r.error(code_node, f"{path}.units", f"unit {code!r} is listed twice")
                    else:
                        units.append(code)
                if not units:
                    self.r.error(entries["units"][1], f"{path}.units", "list at least one unit")
            if CONTACT_UNIT in units and not self.units:
                self.r.error(
                    entries["units"][1],
                    f"{path}.units",
                    "the contact's unit is asked about but there is no units list to name it",
                )
            drafts: list[QuestionDraft] = []
            if "questions" not in entries:
                self.r.error(item, f"{path}.questions", "required key is missing")
            else:
                qs = self.r.sequence(entries["questions"][1], f"{path}.questions") or []
                if not qs:
                    self.r.error(
                        entries["questions"][1],
                        f"{path}.questions",
                        "at least one question is needed",
                    )
                for j, q_node in enumerate(qs):
                    draft = self._question(q_node, f"{path}.questions[{j}]", in_units=bool(units))
                    if draft is not None:
                        drafts.append(draft)
            if bid is not None:
                block = Block(bid, tuple(d.question for d in drafts), tuple(units), line_of(item))
                yield block, drafts, item

    def _closing(self, node: Node) -> dict[Outcome, tuple[str, ...]]:
        entries = self.r.mapping(node, "closing", set(OUTCOMES))
        out: dict[Outcome, tuple[str, ...]] = {}
        for outcome, (_, value_node) in (entries or {}).items():
            pids = tuple(self._prompt_refs(value_node, f"closing.{outcome}"))
            self._placeholders(pids, value_node, f"closing.{outcome}")
            out[cast(Outcome, outcome)] = pids
        if entries is not None and "complete" not in entries:
            self.r.warn(node, "closing.complete", "no thanks for a completed interview")
        return out

    def _check_unused(self) -> None:
        for pid, node in self.prompt_nodes.items():
            if pid not in self.used_prompts and pid not in _IMPLICIT_PROMPTS:
                self.r.warn(node, f"prompts.{pid}", f"prompt {pid!r} is never used")
        for sid, scale in self.scales.items():
            if sid not in self.used_scales:
                self.r.warn(scale.line, f"scales.{sid}", f"scale {sid!r} is never used")


_IMPLICIT_PROMPTS: frozenset[str] = frozenset()


_NUMERALS_ZH = dict(
    zip(
        "0123456789",
        ["零〇", "一幺", "二两", "三", "四", "五", "六", "七", "八", "九"],
        strict=True,
    )
)
_NUMERALS_EN = dict(
    zip(
        "0123456789",
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"],
        strict=True,
    )
)


def placeholders_of(text: str) -> set[str]:
    return {f for _, f, _, _ in _safe_parse(text) if f}


def _safe_parse(text: str) -> list[tuple[str, str | None, str | None, str | None]]:
    try:
        return list(_formatter.parse(text))
    except ValueError:
        return []
