"""Random call outcomes, PBX drops and reconnects: the controller's books always balance."""

import itertools
import random

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialer.campaign.controller import ControllerSettings
from dialer.campaign.dispositions import SurveyResult
from dialer.pacing.snapshot import Decision
from dialer.store import campaigns as store
from dialer.store.schema import campaign_contacts
from tests.campaign.ctlhelp import Rig


class Greedy:
    """Keeps 4 lines busy whatever the agents do (so some answers wait and get abandoned)."""

    mode = "predictive"

    def decide(self, snapshot):
        return Decision(max(0, min(4 - snapshot.lines_in_use, snapshot.free_lines)))


ACTIONS = [
    "busy",
    "no_answer",
    "answer_bridge_hangup",
    "answer_hangup",
    "answer_wait",
    "refuse",
    "drop",
    "kill",
    "ring",
]


@pytest.mark.slow
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(ACTIONS), min_size=5, max_size=40), st.integers(0, 2**16))
def test_books_balance(tmp_path_factory, script, seed):
    """Whatever happens, once every channel is gone: no live call, no line held, no contact locked,
    every attempt ended with a disposition, and no number had two live attempts."""
    rng = random.Random(seed)
    rig = Rig(
        tmp_path_factory.mktemp("r"),
        agents=2,
        per_unit=30,
        policy=Greedy(),
        settings=ControllerSettings(always_open=True, wrapup_timeout=30.0),
    )
    rig.start()
    ami = rig.ami
    for action in script:
        open_dials = [
            d for d in ami.dials if not d.result.called and d.channel_id not in ami.channels
        ]
        live = [d for d in ami.dials if d.channel_id in ami.channels]
        if action == "drop" and ami.ready:
            ami.drop()
            rig.step(rng.uniform(0.5, 3))
            ami.set_ready(True)
        elif action == "kill" and ami.ready:
            ami.kill()
            rig.step(rng.uniform(0.5, 3))
            ami.set_ready(True)
        elif action == "refuse":
            ami.refuse_next = "Extension does not exist."
        elif open_dials:
            d = rng.choice(open_dials)
            if action == "busy":
                ami.busy(d)
            elif action == "no_answer":
                ami.no_answer(d)
            elif action == "ring":
                ami.start(d)
            elif action.startswith("answer"):
                ami.answer(d)
                if action == "answer_bridge_hangup" and any(
                    r[0] == d.name and r[1] == "toagent" for r in ami.redirects
                ):
                    ami.bridge(d)
                    rig.step(rng.uniform(1, 20))
                    if d.channel_id in ami.channels:
                        ami.callee_hangs_up(d)
                    agent = next((a for a in rig.pool if a.state == "wrapping"), None)
                    if agent is not None:
                        rig.ctl.agent_result(agent.name, SurveyResult.COMPLETE)
                        rig.ctl.agent_ready(agent.name)
                elif action == "answer_hangup" and d.channel_id in ami.channels:
                    ami.callee_hangs_up(d)
        elif live:
            d = rng.choice(live)
            ami.callee_hangs_up(d)
        rig.step(rng.uniform(0, 3))
    # wind down: no new dials; hang up everything that is left; let timers run out
    with rig.engine.begin() as conn:
        store.thd_set_status(conn, rig.cid, "paused", rig.clock.seconds())
    rig.step(2.5)  # the controller reads the status
    for d in ami.dials:
        if d.channel_id in ami.channels:
            ami.callee_hangs_up(d)
        elif not d.result.called and ami.ready:
            ami.no_answer(d)
    for a in rig.pool:
        if a.state == "wrapping":
            rig.ctl.agent_ready(a.name)
    rig.step(40)
    rig.step(40)
    rows = rig.attempts()
    assert rig.ctl.live_count() == 0, rig.ctl.states()
    assert rig.lines[0].in_use == 0
    assert all(r["status"] == "ended" and r["disposition"] for r in rows)
    with rig.engine.connect() as conn:
        locked = conn.execute(
            sa.select(sa.func.count()).where(campaign_contacts.c.live_attempt_id.is_not(None))
        ).scalar()
    assert locked == 0
    # no contact had two overlapping attempts
    by_contact = {}
    for r in rows:
        by_contact.setdefault(r["contact_id"], []).append(r)
    for rs in by_contact.values():
        for a, b in itertools.pairwise(rs):
            assert b["created_at"] >= a["ended_at"]
    rig.ctl.stopService()
    rig.engine.dispose()
