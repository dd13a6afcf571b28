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

Callers originate C{Local/<number>@callee} (the reference rig's way of calling a person);
the answered leg then runs the target context. Interviewers are C{Local/agentN@agents}
(simulated: they answer and talk for the profile's talk time). Profiles: see
L{dialer.sim.profile} and C{dialer/sim/profiles/}.

What is not simulated: PJSIP/other channel technologies (an Originate to them fails with
Reason 0 like an unknown technology), Queue(), music on hold, DeviceStateChange and
queue events, the "accept then reset" of a connection made during a restart.
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
