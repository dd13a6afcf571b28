"""Small questionnaires for the survey tests (the full example lives in ivr_scripts/)."""

from __future__ import annotations

from pathlib import Path

from dialer.surveys import flow

EXAMPLE = Path(__file__).resolve().parents[2] / "ivr_scripts" / "hechi_annual.yaml"

#: A compact script with every feature: intro, consent, screener, per-unit block with
#: confirm and skip logic, a number, a goto loop with an exit, a voice comment.
SMALL = """\
schema_version: 1
id: small
title: {zh-CN: 小问卷, en: Small}
languages: [zh-CN, en]
defaults:
  timeout: 5
  max_invalid: 1
  max_no_input: 1
  max_repeats: 1
scales:
  sat:
    prompt: scale_hint
    options:
      - {key: "1", code: 1, weight: 100, label: {zh-CN: 满意, en: satisfied}}
      - {key: "3", code: 3, weight: 0, label: {zh-CN: 不满意, en: not satisfied}}
      - {key: "4", code: 4, label: {zh-CN: 不了解, en: "don't know"}}
prompts:
  hello: {zh-CN: 您好, en: Hello}
  consent: {zh-CN: 同意请按1，不同意请按2, en: Press 1 to agree or 2 to decline}
  q_sat: {zh-CN: "您对{unit}的工作是否满意？", en: "Satisfied with {unit}?"}
  scale_hint: {zh-CN: 满意请按1，不满意请按3，不了解请按4, en: "Satisfied 1, not satisfied 3, don't know 4"}
  q_why: {zh-CN: 原因？慢请按1，其他请按2, en: "Why? Slow 1, other 2"}
  q_num: {zh-CN: 次数, en: How many}
  q_again: {zh-CN: 再来一次请按1，继续请按2, en: "Again press 1, go on press 2"}
  q_rec: {zh-CN: 请留言, en: Speak now}
  confirm: {zh-CN: "您选择的是{option}", en: "You chose {option}"}
  invalid: {zh-CN: 输入有误, en: Wrong key}
  no_input: {zh-CN: 没有收到, en: No input}
  thanks: {zh-CN: 谢谢, en: Thanks}
  bye: {zh-CN: 再见, en: Bye}
intro: [hello]
consent:
  prompt: consent
  options:
    - {key: "1", code: 1, label: {zh-CN: 同意, en: agree}}
    - {key: "2", code: 2, label: {zh-CN: 不同意, en: decline}, end: refused}
  on_fail: end
blocks:
  - id: unit
    units: [contact]
    questions:
      - id: q_sat
        prompt: q_sat
        scale: sat
        confirm: true
      - id: q_why
        prompt: q_why
        ask_if: {q_sat: [3]}
        options:
          - {key: "1", code: 1, label: {zh-CN: 慢, en: slow}}
          - {key: "2", code: 2, label: {zh-CN: 其他, en: other}}
  - id: more
    questions:
      - id: q_num
        type: number
        prompt: q_num
        max_digits: 2
        min_value: 1
        max_value: 20
      - id: q_again
        prompt: q_again
        options:
          - {key: "1", code: 1, label: {zh-CN: 再来, en: again}, goto: q_num}
          - {key: "2", code: 2, label: {zh-CN: 继续, en: go on}}
      - id: q_rec
        type: record
        prompt: q_rec
units:
  "U1": {zh-CN: 金城江区, en: Jinchengjiang District}
  "U2": {zh-CN: 宜州区, en: Yizhou District}
closing:
  complete: [thanks]
  partial: [thanks]
  break_off: [bye]
  refused: [bye]
"""


#: SMALL with a language menu.
MENU = SMALL.replace(
    "intro: [hello]",
    'language_menu: {prompt: lang_menu, keys: {"1": zh-CN, "2": en}, timeout: 3}\nintro: [hello]',
).replace(
    "  hello: {zh-CN: 您好, en: Hello}\n",
    "  hello: {zh-CN: 您好, en: Hello}\n"
    '  lang_menu: {zh-CN: 普通话请按1, en: "For English, press 2"}\n',
)


def caller_events(step):
    """Every distinct thing a caller can do at a step (one wrong key stands for all)."""
    out: list[flow.Event] = [flow.Hangup()]
    if isinstance(step, flow.Answer):
        return [flow.Done(), flow.Hangup()]
    if isinstance(step, flow.Play):
        return [flow.Done(), flow.Digits("*"), flow.Hangup()]
    if isinstance(step, flow.Record):
        return [flow.RecordDone("/r", 2.0), flow.NoInput(), flow.Hangup()]
    assert isinstance(step, flow.Collect)
    out += [flow.NoInput(), flow.Digits("*"), flow.Digits("9")]
    if step.kind in ("choice", "language"):
        out += [flow.Digits(c.key) for c in step.choices]
    elif step.kind == "confirm":
        out += [flow.Digits("#")]
    else:
        out += [flow.Digits("0"), flow.Digits("7"), flow.Digits("20")]
    return out
