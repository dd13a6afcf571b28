"""Tests for dialer.surveys.flow: every path of a small script, and random callers on the example."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialer.surveys import flow, loader
from dialer.surveys.model import AAPOR_CODES, OUTCOMES
from tests.surveys.scripts import EXAMPLE, MENU, SMALL, caller_events

SCRIPT = loader.loads(SMALL, "small.yaml")
FULL = loader.load(EXAMPLE)


def event(action):
    """Shorthand: "1" keys, None no input, "H" hang-up, "." done, (path, seconds) a recording."""
    if action is None:
        return flow.NoInput()
    if action == "H":
        return flow.Hangup()
    if action == ".":
        return flow.Done()
    if isinstance(action, tuple):
        return flow.RecordDone(*action)
    return flow.Digits(action)


def run(actions, script=SCRIPT, **kw):
    """Drive the flow; Answer steps are acknowledged automatically. Returns (steps, answers, end)."""
    kw.setdefault("unit_code", "U1")
    state, step = flow.start(script, **kw)
    steps, answers = [step], []
    todo = iter(actions)
    while not isinstance(step, flow.End):
        if isinstance(step, flow.Answer):
            answers.append(step)
            ev = flow.Done()
        else:
            ev = event(next(todo))
        state, step = flow.next_step(state, ev)
        steps.append(step)
    assert next(todo, "unused") == "unused", "actions left over"
    return steps, answers, step


def asked(steps):
    return [s.question_id for s in steps if isinstance(s, flow.Collect | flow.Record)]


def codes(answers):
    return [(a.question_id, a.code) for a in answers]


HAPPY = [".", "1", "1", "#", "5", "2", ("/rec/c.wav", 3.0), "."]


class TestPaths:
    def test_complete(self):
        """A cooperative caller answers everything and ends complete (AAPOR 1.1)."""
        steps, answers, end = run(HAPPY)
        assert codes(answers) == [
            ("consent", 1),
            ("q_sat", 1),
            ("q_num", 5),
            ("q_again", 2),
            ("q_rec", None),
        ]
        assert answers[1].unit_code == "U1" and answers[1].weight == 100.0
        assert answers[1].label == "满意" and answers[1].key == "1"
        assert answers[-1].recording == "/rec/c.wav" and answers[-1].seconds == 3.0
        assert (end.outcome, end.aapor, end.reason) == ("complete", "1.1", "finished")
        assert (end.answered, end.applicable) == (3, 3)
        assert isinstance(steps[-2], flow.Play)
        assert [s.prompt_id for s in steps[-2].prompts] == ["thanks"]
        assert steps[-2].prompts[0].role == "closing" and steps[0].prompts[0].role == "intro"

    def test_skip_logic_asks_why_only_after_not_satisfied(self):
        """q_why is asked after 不满意 (3) and skipped after 满意 (1)."""
        steps, answers, _ = run([".", "1", "3", "#", "2", "5", "2", None, "."])
        assert ("q_why", 2) in codes(answers)
        steps, _, _ = run(HAPPY)
        assert "q_why" not in asked(steps)

    def test_consent_declined(self):
        """Declining consent stores the answer, says goodbye and ends refused (2.11)."""
        steps, answers, end = run([".", "2", "."])
        assert codes(answers) == [("consent", 2)]
        assert (end.outcome, end.aapor, end.reason) == ("refused", "2.11", "declined")
        assert [s.prompt_id for s in steps[-2].prompts] == ["bye"]

    def test_invalid_key_retries_with_its_prompt_then_skips(self):
        """A wrong key gets the invalid prompt and the question again; too many skip it."""
        steps, answers, end = run([".", "1", "9", "9", "5", "2", None, "."])
        collects = [s for s in steps if isinstance(s, flow.Collect) and s.question_id == "q_sat"]
        assert [s.attempt for s in collects] == [1, 2]
        assert [p.prompt_id for p in collects[1].prompts] == ["invalid", "q_sat", "scale_hint"]
        assert [p.role for p in collects[1].prompts] == ["retry", "question", "keypad"]
        assert "q_sat" not in [a.question_id for a in answers]
        assert "q_why" not in asked(steps)  # no answer to q_sat: its condition is false
        assert (end.answered, end.applicable) == (2, 3)
        assert end.outcome == "partial"

    def test_no_input_retries_with_its_prompt(self):
        """A timeout gets the no-input prompt; the answer records how many there were."""
        steps, answers, _ = run([".", "1", None, "1", "#", "5", "2", None, "."])
        retry = [s for s in steps if isinstance(s, flow.Collect)][2]
        assert [p.prompt_id for p in retry.prompts] == ["no_input", "q_sat", "scale_hint"]
        sat = next(a for a in answers if a.question_id == "q_sat")
        assert (sat.no_input, sat.invalid) == (1, 0)

    def test_silent_line_at_consent_ends(self):
        """Nobody answering consent (on_fail: end) ends the call without starting."""
        _, answers, end = run([".", None, None, "."])
        assert answers == []
        assert (end.outcome, end.reason) == ("refused", "no_input")

    def test_star_repeats_then_counts_as_invalid(self):
        """* repeats the question once (max_repeats 1); a second * counts as a wrong key."""
        steps, _, _ = run([".", "1", "*", "*", "1", "#", "5", "2", None, "."])
        sat = [s for s in steps if isinstance(s, flow.Collect) and s.question_id == "q_sat"]
        assert [p.prompt_id for p in sat[1].prompts] == ["q_sat", "scale_hint"]
        assert [p.prompt_id for p in sat[2].prompts] == ["invalid", "q_sat", "scale_hint"]

    def test_confirm(self):
        """The choice is read back; # confirms, * asks again, no input accepts, other keys retry."""
        steps, answers, _ = run([".", "1", "3", "*", "1", "#", "5", "2", None, "."])
        confirms = [s for s in steps if isinstance(s, flow.Collect) and s.kind == "confirm"]
        assert confirms[0].prompts[0].text == "您选择的是不满意"
        assert confirms[0].prompts[0].audio == (
            "minyi/small/zh-CN/confirm-1",
            "minyi/small/zh-CN/option-sat-3",
        )
        assert confirms[0].keys == "#*"
        assert confirms[0].prompts[0].role == "confirm"
        assert ("q_sat", 1) in codes(answers)
        _, answers, _ = run([".", "1", "4", None, "5", "2", None, "."])
        assert ("q_sat", 4) in codes(answers)
        steps, answers, _ = run([".", "1", "4", "7", "1", "#", "5", "2", None, "."])
        assert ("q_sat", 1) in codes(answers)
        assert next(a for a in answers if a.question_id == "q_sat").invalid == 1

    def test_number_question_validates_digits_and_range(self):
        """Numbers outside 1..20 or longer than max_digits are wrong keys."""
        _, answers, _ = run([".", "1", "1", "#", "0", "12", "2", None, "."])
        assert ("q_num", 12) in codes(answers)
        q_num = next(a for a in answers if a.question_id == "q_num")
        assert q_num.invalid == 1 and q_num.key == "12"
        _, answers, _ = run([".", "1", "1", "#", "21", "123", "2", None, "."])
        assert "q_num" not in [a.question_id for a in answers]

    def test_goto_loop_is_cut_off(self):
        """Going round the q_num/q_again loop ends the call after max_visits."""
        actions = [".", "1", "1", "#"] + ["5", "1"] * 3 + ["."]
        steps, _, end = run(actions)
        assert asked(steps).count("q_num") == 3
        assert end.reason == "loop_limit"

    def test_record_nothing_skips(self):
        """No recording (or an empty one) stores nothing and goes on."""
        _, answers, end = run([".", "1", "1", "#", "5", "2", ("/r.wav", 0.0), "."])
        assert "q_rec" not in [a.question_id for a in answers]
        assert end.outcome == "complete"  # the comment is not substantive


class TestHangup:
    @pytest.mark.parametrize(
        ("actions", "outcome", "answered", "applicable"),
        [
            (["H"], "refused", 0, 3),  # during the intro
            ([".", "H"], "refused", 0, 3),  # at consent
            ([".", "1", "H"], "break_off", 0, 3),  # at the first question
            ([".", "1", "1", "#", "H"], "break_off", 1, 3),
            ([".", "1", "1", "#", "5", "H"], "partial", 2, 3),
            ([".", "1", "1", "#", "5", "2", "H"], "complete", 3, 3),
        ],
    )
    def test_outcome_by_progress(self, actions, outcome, answered, applicable):
        """A hang-up ends at once with an outcome from the share answered; answers stand."""
        steps, _answers, end = run(actions)
        assert (end.outcome, end.reason) == (outcome, "hangup")
        assert (end.answered, end.applicable) == (answered, applicable)
        assert end.aapor == AAPOR_CODES[outcome]
        assert not isinstance(steps[-2], flow.Play) or steps[-2] is steps[0]

    def test_hangup_while_storing_keeps_the_answer(self):
        """A hang-up at an Answer step keeps that answer."""
        state, step = flow.start(SCRIPT, unit_code="U1")
        for ev in [flow.Done(), flow.Digits("1"), flow.Done(), flow.Digits("1"), flow.Digits("#")]:
            state, step = flow.next_step(state, ev)
        assert isinstance(step, flow.Answer) and step.question_id == "q_sat"
        state, end = flow.next_step(state, flow.Hangup())
        assert isinstance(end, flow.End) and end.answered == 1

    def test_hangup_during_closing_keeps_outcome(self):
        """Hanging up during the thanks does not change a complete outcome."""
        _steps, _, end = run([*HAPPY[:-1], "H"])
        assert (end.outcome, end.reason) == ("complete", "finished")


class TestStateAndShell:
    def test_events_after_end_return_end(self):
        """Once ended, every event returns the same End."""
        state, _step = flow.start(SCRIPT, unit_code="U1")
        state, end = flow.next_step(state, flow.Hangup())
        for ev in [flow.Digits("1"), flow.NoInput(), flow.Hangup(), flow.Done()]:
            state, again = flow.next_step(state, ev)
            assert again == end

    def test_states_are_immutable_so_a_desktop_can_go_back(self):
        """Feeding an old state again takes the other branch; the old state is unchanged."""
        state, _ = flow.start(SCRIPT, unit_code="U1")
        state, _ = flow.next_step(state, flow.Done())
        at_consent = state
        _, declined = flow.next_step(at_consent, flow.Digits("2"))
        _, agreed = flow.next_step(at_consent, flow.Digits("1"))
        assert declined.code == 2 and agreed.code == 1
        assert at_consent.phase == "ask" and at_consent.answers == ()

    def test_collect_describes_the_question_for_a_screen(self):
        """A Collect carries keys, labels and texts in the chosen language."""
        state, step = flow.start(SCRIPT, unit_code="U2", language="en")
        state, step = flow.next_step(state, flow.Done())
        state, step = flow.next_step(state, flow.Digits("1"))
        state, step = flow.next_step(state, flow.Done())
        assert step.question_id == "q_sat" and step.unit_code == "U2"
        assert [(c.key, c.code, c.label) for c in step.choices] == [
            ("1", 1, "satisfied"),
            ("3", 3, "not satisfied"),
            ("4", 4, "don't know"),
        ]
        assert step.prompts[0].text == "Satisfied with Yizhou District?"
        # "?" alone is not worth a sound file
        assert step.prompts[0].audio == ("minyi/small/en/q_sat-1", "minyi/small/en/unit-U2")
        assert (step.keys, step.max_digits, step.timeout) == ("134*", 1, 5.0)
        here = state.current()
        assert here is not None and here[2].id == "q_sat"

    def test_unit_name_override_changes_text_only(self):
        """unit_name replaces the unit's name in texts; audio still names the unit file."""
        steps, _, _ = run([".", "1", "H"], unit_name="某单位")
        q = steps[3]
        assert q.prompts[0].text == "您对某单位的工作是否满意？"
        assert "minyi/small/zh-CN/unit-U1" in q.prompts[0].audio

    def test_start_errors(self):
        """Unknown language, missing or unknown unit are refused at start."""
        with pytest.raises(flow.FlowError):
            flow.start(SCRIPT, unit_code="U1", language="fr")
        with pytest.raises(flow.FlowError):
            flow.start(SCRIPT)
        with pytest.raises(flow.FlowError):
            flow.start(SCRIPT, unit_code="U9")

    def test_intro_star_repeats_and_hash_skips(self):
        """During the intro * plays it again, # goes on."""
        state, step = flow.start(SCRIPT, unit_code="U1")
        assert step.escape == "*#"
        state, again = flow.next_step(state, flow.Digits("*"))
        assert again == step
        state, nxt = flow.next_step(state, flow.Digits("#"))
        assert isinstance(nxt, flow.Collect) and nxt.question_id == "consent"

    def test_block_over_listed_units(self):
        """A block listing units asks its questions once per unit; ask_if looks at the same unit."""
        script = loader.loads(SMALL.replace("units: [contact]", "units: [contact, U2]"))
        _steps, answers, end = run(
            [".", "1", "3", "#", "1", "1", "#", "5", "2", None, "."], script=script
        )
        sat = [(a.question_id, a.unit_code, a.code) for a in answers if a.question_id != "consent"]
        assert sat[:3] == [("q_sat", "U1", 3), ("q_why", "U1", 1), ("q_sat", "U2", 1)]
        assert "q_why" not in [q for q, u, _ in sat if u == "U2"]
        assert end.outcome == "complete" and end.applicable == 5

    def test_skip_from_a_desktop(self):
        """Skip leaves a question unanswered (missed) and goes on; also during a confirm."""
        state, step = flow.start(SCRIPT, unit_code="U1")
        for ev in [flow.Done(), flow.Digits("1"), flow.Done(), flow.Skip()]:
            state, step = flow.next_step(state, ev)
        assert step.question_id == "q_num"
        assert ("q_sat", "U1") in state.missed
        state, step = flow.next_step(state, flow.Skip())
        assert step.question_id == "q_again"

    def test_lenient_events(self):
        """Events that do not fit a step are read as no input rather than crashing."""
        state, step = flow.start(SCRIPT, unit_code="U1")
        state, step = flow.next_step(state, flow.RecordDone("/x", 1.0))  # at the intro: go on
        assert isinstance(step, flow.Collect)
        state, step = flow.next_step(state, flow.Done())  # at a Collect: no input
        assert next(p.prompt_id for p in step.prompts) == "no_input"


def _key(state):
    return tuple(getattr(state, f.name) for f in dataclasses.fields(state) if f.name != "script")


def _with_skip(step):
    """A caller's actions plus the desktop's Skip."""
    events = caller_events(step)
    if isinstance(step, flow.Collect | flow.Record):
        events.append(flow.Skip())
    return events


@pytest.mark.slow
def test_every_path_of_the_small_script_ends():
    """All reachable states, every caller action: no crash, no cycle, every leaf is an End."""
    # ~53,000 states and ~206,000 transitions (with Skip); units and languages do not change the shape.
    for unit in ("U1",):
        for language in ("zh-CN",):
            start = flow.start(SCRIPT, unit_code=unit, language=language)
            colour: dict[tuple, int] = {}  # 1 = on the path, 2 = done
            ends: set[str] = set()
            stack = [(start, iter(_with_skip(start[1])))]
            colour[_key(start[0])] = 1
            while stack:
                (state, _step), todo = stack[-1]
                ev = next(todo, None)
                if ev is None:
                    colour[_key(state)] = 2
                    stack.pop()
                    continue
                nxt_state, nxt_step = flow.next_step(state, ev)
                if isinstance(nxt_step, flow.End):
                    ends.add(nxt_step.outcome)
                    assert nxt_step.answered <= nxt_step.applicable or nxt_step.applicable == 0
                    continue
                k = _key(nxt_state)
                assert colour.get(k) != 1, f"cycle through {nxt_step}"
                if colour.get(k) == 2:
                    continue
                colour[k] = 1
                stack.append(((nxt_state, nxt_step), iter(_with_skip(nxt_step))))
            assert ends == {"complete", "partial", "break_off", "refused"}
            assert len(colour) > 50_000


digits = st.text(alphabet="0123456789*#", max_size=3)
events = st.one_of(
    digits.map(flow.Digits),
    st.just(flow.NoInput()),
    st.just(flow.Done()),
    st.builds(flow.RecordDone, st.just("/r.wav"), st.floats(0, 120)),
    st.just(flow.Skip()),
)


def _check_end(step, stored, unit):
    assert isinstance(step, flow.End), "did not end"
    assert step.outcome in OUTCOMES
    assert step.aapor == AAPOR_CODES[step.outcome]
    assert step.answered <= step.applicable
    options = {q.id: {o.code for o in q.options} for _, q in FULL.questions()}
    for answer in stored:
        if answer.kind == "choice":
            assert answer.code in options[answer.question_id]
        if answer.unit_code is not None:
            assert answer.unit_code == unit


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sequence=st.lists(events, max_size=150),
    hang_at=st.none() | st.integers(0, 150),
    unit=st.sampled_from(sorted(FULL.units)),
    language=st.sampled_from(FULL.languages),
)
def test_random_callers_never_crash_and_always_end(sequence, hang_at, unit, language):
    """Any event sequence on the example: no crash, valid answers, and silence ends the call."""
    if hang_at is not None:
        sequence = [*sequence[:hang_at], flow.Hangup()]
    state, step = flow.start(FULL, unit_code=unit, language=language)
    stored: list[flow.Answer] = []
    for ev in [*sequence, *([flow.NoInput()] * 400)]:
        if isinstance(step, flow.End):
            break
        if isinstance(step, flow.Answer):
            stored.append(step)
        state, step = flow.next_step(state, ev)
    _check_end(step, stored, unit)
    state, again = flow.next_step(state, flow.Digits("1"))
    assert again == step


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), unit=st.sampled_from(sorted(FULL.units)))
def test_random_plausible_callers_reach_every_outcome_safely(data, unit):
    """Callers choosing among plausible actions at each step always end within 300 steps."""
    state, step = flow.start(FULL, unit_code=unit)
    stored: list[flow.Answer] = []
    for _ in range(300):
        if isinstance(step, flow.End):
            break
        if isinstance(step, flow.Answer):
            stored.append(step)
        choices = caller_events(step)
        # hang up rarely, so that most walks go deep
        ev = data.draw(st.sampled_from([e for e in choices if not isinstance(e, flow.Hangup)]))
        if data.draw(st.integers(0, 60)) == 0:
            ev = flow.Hangup()
        state, step = flow.next_step(state, ev)
    _check_end(step, stored, unit)


class TestLanguageMenu:
    def test_menu_when_language_unknown(self):
        """Without a language the caller chooses one; the menu is said in every language."""
        script = loader.loads(MENU, "small.yaml")
        state, step = flow.start(script, unit_code="U1")
        assert isinstance(step, flow.Collect) and step.kind == "language"
        assert [(s.text, s.audio) for s in step.prompts] == [
            ("普通话请按1", ("minyi/small/zh-CN/lang_menu",)),
            ("For English, press 2", ("minyi/small/en/lang_menu",)),
        ]
        assert (step.keys, step.timeout) == ("12", 3.0)
        state, step = flow.next_step(state, flow.Digits("2"))
        assert state.language == "en" and step.prompts[0].text == "Hello"

    @pytest.mark.parametrize("event", [flow.NoInput(), flow.Digits("7"), flow.Done()])
    def test_no_choice_keeps_the_default(self, event):
        """Silence or a wrong key keeps the first language and goes on."""
        script = loader.loads(MENU, "small.yaml")
        state, _ = flow.start(script, unit_code="U1")
        state, step = flow.next_step(state, event)
        assert state.language == "zh-CN" and step.prompts[0].text == "您好"

    def test_known_language_skips_the_menu(self):
        """A language given at start (e.g. from the channel) skips the menu."""
        script = loader.loads(MENU, "small.yaml")
        _, step = flow.start(script, unit_code="U1", language="en")
        assert isinstance(step, flow.Play) and step.prompts[0].text == "Hello"

    def test_hangup_at_the_menu(self):
        """Hanging up at the menu is a refusal before the interview started."""
        script = loader.loads(MENU, "small.yaml")
        state, _ = flow.start(script, unit_code="U1")
        _, end = flow.next_step(state, flow.Hangup())
        assert (end.outcome, end.reason) == ("refused", "hangup")
