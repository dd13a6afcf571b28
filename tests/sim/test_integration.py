"""
The team's real AMI client (L{dialer.ami.client.AMIClient}) and FastAGI server
(L{dialer.agi.server.FastAGIFactory}) against the simulator in virtual time, in memory.
"""

from __future__ import annotations

import random
import time

import pytest
from twisted.internet import task

from dialer.agi.server import FastAGIFactory
from dialer.ami.client import AMIClient
from dialer.ami.message import Message
from dialer.sim import LoopbackEndpoint, SimulatedPBX
from dialer.sim.profile import CalleeBehaviour, Dist, Profile
from dialer.sim.virtual import FastClock
from dialer.sim.virtual import run_for as jump_for
from tests.sim.harness import LAST_DIGIT, run_for


def _build(clock, profile, answers, seed=7):
    async def survey(session):
        await session.send_command("ANSWER")
        for q in range(3):
            reply = await session.send_command(f"GET DATA q{q} 3000 1")
            answers.append(reply.result)
        await session.send_command("HANGUP")

    agi = FastAGIFactory(clock, {"survey": survey})
    sim = SimulatedPBX(
        clock=clock,
        rng=random.Random(seed),
        profile=profile,
        agi_endpoint=lambda host, port: LoopbackEndpoint(clock, agi, port),
    )
    client = AMIClient(sim.ami_endpoint(), "dialer", "dialer", clock=clock, keepalive_interval=None)
    client.startService()
    return sim, client


def test_real_client_and_fastagi_server_run_a_survey_call():
    """Originate via the real AMI client; the sim runs survey -> real FastAGI server; reason 4."""
    clock = task.Clock()
    clock.advance(1_795_594_341)
    answers = []
    profile = Profile(mode="profile", callee=CalleeBehaviour(shares=(("answer", 1.0),)))
    sim, client = _build(clock, profile, answers)
    run_for(clock, 1.0)
    assert client.ready
    handle = client.originate(
        "Local/13800000000@callee",
        context="survey",
        exten="s",
        priority=1,
        timeout=30,
        caller_id='"Survey" <5550100>',
        variables={"CAMPAIGN": "t"},
    )
    result = handle.result()
    run_for(clock, 120.0, step=0.05)
    outcome = result.result if hasattr(result, "result") else None
    assert outcome is not None and outcome.success and outcome.reason == 4
    assert len(answers) == 3
    assert sim.live_channels() == 0
    client.stopService()


def test_last_digit_busy_gives_reason_5_to_the_real_client():
    """The real client sees OriginateResponse Reason 5 for a busy reference callee."""
    clock = task.Clock()
    clock.advance(1_795_594_341)
    _sim, client = _build(clock, LAST_DIGIT, [])
    run_for(clock, 1.0)
    d = client.originate(
        "Local/10000@callee", context="survey", exten="s", priority=1, timeout=25
    ).result()
    run_for(clock, 3.0)
    assert d.result.reason == 5 and not d.result.success
    client.stopService()


@pytest.mark.slow
def test_one_simulated_hour_takes_seconds():
    """20 calls kept up for one virtual hour (about 3,600 calls) cost seconds, not an hour."""
    clock = FastClock(1_795_594_341.0)
    profile = Profile(
        mode="profile",
        callee=CalleeBehaviour(
            shares=(("answer", 0.3), ("busy", 0.1), ("no_answer", 0.6)),
            ring=Dist("uniform", 2.0, 10.0, 2.0, 10.0),
            talk=Dist("uniform", 20.0, 60.0, 20.0, 60.0),
        ),
    )
    answers = []
    _sim, client = _build(clock, profile, answers)
    jump_for(clock, 1.0)
    # Like a busy dialer would: only the event classes it uses (no dialplan/cdr/dtmf noise).
    client.send_action(Message.action("Events", {"EventMask": "call,system,agi"}))
    results = []
    live = [0]

    def ended(result):
        live[0] -= 1
        return result

    def keep_dialing():
        for _ in range(max(0, 20 - live[0])):
            live[0] += 1
            d = client.originate(
                f"Local/139{len(results):08d}@callee",
                context="survey",
                exten="s",
                priority=1,
                timeout=30,
            ).result()
            results.append(d)
            d.addBoth(ended)

    loop = task.LoopingCall(keep_dialing)
    loop.clock = clock
    loop.start(1.0)
    started = time.process_time()
    jump_for(clock, 3600.0)
    cpu = time.process_time() - started
    loop.stop()
    done = [r.result for r in results if r.called and hasattr(r, "result")]
    reasons = {r.reason for r in done}
    assert {3, 4, 5} <= reasons  # no answer: the 30 s Originate timeout wins (reason 3)
    assert len(done) > 2500
    assert cpu < 30
    client.stopService()
