"""
The simulated PBX: a fake Asterisk 22 that speaks AMI (server) and FastAGI (client) as the
reference traces in C{shared/asterisk-reference/} show, and runs the contexts of
C{asterisk_conf/extensions.conf} (survey -> AGI, toagent -> MixMonitor + Dial, hold,
safeharbour) plus the acceptance rig's callees (C{extensions-testrig.conf}).

Public API (small on purpose)::

    from dialer.sim import SimulatedPBX, load_profile, LoopbackEndpoint

    sim = SimulatedPBX(
        clock=reactor_or_task_Clock,          # IReactorTime: real or virtual time
        rng=random.Random(seed),              # every random draw comes from here
        profile=load_profile(Path("dialer/sim/profiles/evening.toml")),
        recordings=Path("recordings"),        # MixMonitor WAVs (None: no files)
        agi_endpoint=lambda host, port: endpoint,  # where AGI() connects (None: nothing listens)
        planner=None,    # optional: channel -> Plan(steps, outcome, respondent) per callee/agent
        prompt_keys=None,  # optional: dialer.sim.respondent.prompt_keys_of(script)
    )
    sim.ami_endpoint()       # in-memory IStreamClientEndpoint to the AMI (no socket)
    sim.factory              # the AMI server factory, for reactor.listenTCP / listen_tcp()
    sim.shutdown(restart=True | False)   # `core restart now` / `core stop now` (traces g1, g2)
    sim.kill()               # kill -9: EOF only, no events (trace g3)
    sim.start()              # start again after kill() / stop
    sim.pbx.outcomes         # callee outcomes drawn so far (profile mode)

In virtual time (benchmarks, the campaign engine's pacing runs) give the sim a
C{task.Clock}, give the dialer's AMI client C{sim.ami_endpoint()} as its endpoint, and give
the sim C{agi_endpoint=lambda h, p: LoopbackEndpoint(clock, fastagi_server_factory)}: all
bytes then flow through L{dialer.sim.loopback} via C{clock.callLater(0, ...)}, so advancing
the clock runs everything, with no sockets. Eight simulated hours are C{clock.advance()}
calls in small steps (e.g. 10 ms).

On the real clock, C{dialer sim --ami HOST:PORT --agi HOST:PORT --profile FILE [--seed S]}
runs it as a process. C{Command: core restart now} / C{core stop now} over AMI shut it
down as Asterisk does; SIGKILL it to get g3.

Callers originate C{Local/<number>@callee} (the reference rig's way of calling a person:
a Local pair, exactly as in the traces) or C{PJSIP/<number>@trunk} (the production dial
template: one visible C{PJSIP/trunk-0000000N} channel whose far end, hidden, behaves like
the callee; there is no reference trace for SIP, so its event details are modelled on the
Local case). The answered leg then runs the target context. Interviewers are
C{Local/agentN@agents} or C{PJSIP/agentN} (simulated: they answer and talk for the
profile's talk time). Profiles: see L{dialer.sim.profile} and C{dialer/sim/profiles/}.

Fidelity (tests/sim/test_fidelity.py): every reference scenario a, b0-b9, b0c, b1x, c, d,
e, e2, f, g1-g3, h, j is replayed with the trace's own client actions and times; the
events a client acts on must match (names, channel roles, states, causes, reasons, dial
statuses, contexts/priorities/applications, AGI commands and results, digits, list
counts), in the same order per channel and across channels whenever the trace has them
more than 50 ms apart; every message has the trace's exact header names; VarSet, Cdr,
(Soft)HangupRequest and caller-id events match as multisets. Uniqueids, bridge ids,
timings and session ids may differ.

What is not simulated: other channel technologies (an Originate to them fails with
Reason 0 like an unknown technology), Queue(), music on hold, DeviceStateChange and
queue events, the "accept then reset" of a connection made during a restart, and
Originate Reason 1 (never seen with Local channels).
"""

from dialer.sim.dialplan import Step
from dialer.sim.loopback import LoopbackEndpoint
from dialer.sim.pbx import Plan, Planner
from dialer.sim.profile import Profile, ProfileError, load_profile
from dialer.sim.server import SimulatedPBX, listen_tcp
from dialer.sim.virtual import FastClock, run_for, run_until

__all__ = [
    "FastClock",
    "LoopbackEndpoint",
    "Plan",
    "Planner",
    "Profile",
    "ProfileError",
    "SimulatedPBX",
    "Step",
    "listen_tcp",
    "load_profile",
    "run_for",
    "run_until",
]
