"""The extensions.conf reader and variable expansion used by the simulator."""

from __future__ import annotations

import pytest

from dialer.sim.dialplan import Dialplan, DialplanError, Step, expand, split_args
from dialer.sim.server import DEFAULT_DIALPLAN


@pytest.fixture(scope="module")
def plan():
    return Dialplan.from_file(DEFAULT_DIALPLAN)


def test_product_and_rig_contexts_are_read(plan):
    """asterisk_conf defines survey/toagent/hold/safeharbour and includes the callee rig."""
    for ctx in ("survey", "toagent", "hold", "safeharbour", "agents", "callee", "callee-d9"):
        assert plan.has_context(ctx)
    assert plan.step("survey", "s", 2) == Step("AGI", "agi://127.0.0.1:4573/survey")
    assert plan.step("toagent", "s", 2) == Step("MixMonitor", "${MONITOR_DIR}/${UNIQUEID}.wav")
    assert plan.globals["MONITOR_DIR"] == "/var/spool/asterisk/monitor"


def test_patterns_follow_asterisk_wildcards(plan):
    """_X. matches numbers; _a. matches agent7; N is a wildcard so _agent. misses agent1."""
    assert plan.match("callee", "10003") == "_X."
    assert plan.match("callee", "agent1") is None
    assert plan.match("toagent", "agent7") == "_a."
    rig = Dialplan.from_text("[t]\nexten => _agent.,1,NoOp()\nexten => _N[0-4]X,1,NoOp()\n")
    assert rig.match("t", "agent1") is None
    assert rig.match("t", "249") == "_N[0-4]X"
    assert rig.match("t", "159") is None


def test_same_n_numbers_priorities():
    """'same => n' continues the previous extension's priorities."""
    rig = Dialplan.from_text(
        "[c]\nexten => s,1,NoOp(a)\n same => n,Wait(2)\n same => n,Hangup(16)\n"
    )
    assert [rig.step("c", "s", p) for p in (1, 2, 3, 4)] == [
        Step("NoOp", "a"),
        Step("Wait", "2"),
        Step("Hangup", "16"),
        None,
    ]


def test_errors_name_the_line():
    """A line outside any context is reported with its line number."""
    with pytest.raises(DialplanError, match=":2:"):
        Dialplan.from_text("; comment\nexten => s,1,NoOp()\n")


def test_expand_substrings_and_unknown_names():
    """${EXTEN:-1} is the last digit; unknown variables expand to nothing."""
    values = {"EXTEN": "10003", "CAMPAIGN": "test"}
    assert expand("callee-d${EXTEN:-1},${EXTEN},1", values) == "callee-d3,10003,1"
    assert expand("${EXTEN:1:2}|${NOPE}|${CAMPAIGN}", values) == "00||test"


def test_split_args_respects_quotes():
    """Commas inside quotes or ${...} do not split arguments."""
    assert split_args('a,"b,c",${X,Y},d') == ["a", '"b,c"', "${X,Y}", "d"]


def test_expressions_and_conditions_as_asterisk():
    """$[...] compares quoted strings and integers (1/0); GotoIf's condition: empty false, integers by value, text true."""
    from dialer.sim.dialplan import check_condition, evaluate

    values = {"DIALSTATUS": "NOANSWER", "N": "10"}
    assert expand('$["${DIALSTATUS}" != "ANSWER"]?survey,s,1', values) == "1?survey,s,1"
    assert expand('$["${DIALSTATUS}" = "NOANSWER"]', values) == "1"
    assert expand('$["${NOPE}" != "ANSWER"]', values) == "1"  # unset: still a valid expression
    assert expand("$[${N} > 9]|$[${N} < 9]", values) == "1|0"
    assert evaluate("10 = 010") == "1"  # integers compare as numbers
    assert evaluate("a b c d") == ""
    assert [check_condition(v) for v in ("", " ", "0", "1", "-2", "12abc", "no")] == [
        False,
        False,
        False,
        True,
        True,
        True,
        True,
    ]
