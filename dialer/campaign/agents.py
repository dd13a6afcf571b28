"""
Agents (interviewers) as the campaign controller sees them (pure; times are passed in).

An agent is C{idle} (ready for a call), C{reserved} (an answered call is being moved to
them), C{talking} (bridged), C{wrapping} (the call ended, the form is being finished)
or C{paused}. The controller gives a live answer to the agent idle the longest. The
agent desktop (or, in the simulator, a simulated desk) reports the interview result
and readiness; L{AgentPool.snapshot} gives the pacer the times each agent entered
their state.
"""

# test-case-name: tests.campaign.test_agents

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class AgentState(enum.StrEnum):
    IDLE = "idle"
    RESERVED = "reserved"
    TALKING = "talking"
    WRAPPING = "wrapping"
    PAUSED = "paused"


@dataclass
class Agent:
    name: str
    exten: str  # the extension in the agent context that reaches this agent (toagent,<exten>,1)
    state: AgentState = AgentState.PAUSED
    since: float = 0.0
    attempt_id: int | None = None


@dataclass(frozen=True)
class AgentTimes:
    """The pacer's view: when each agent entered their current state."""

    idle_since: tuple[float, ...]
    talking_since: tuple[float, ...]
    wrapping_since: tuple[float, ...]


class AgentPool:
    """The agents of one campaign."""

    def __init__(self, agents: Iterable[Agent] = ()) -> None:
        self._agents: dict[str, Agent] = {}
        for a in agents:
            self._agents[a.name] = a

    def __len__(self) -> int:
        return len(self._agents)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(list(self._agents.values()))

    def get(self, name: str) -> Agent | None:
        return self._agents.get(name)

    def add(self, name: str, exten: str | None = None, *, now: float, ready: bool = True) -> Agent:
        agent = Agent(name, exten or name, AgentState.IDLE if ready else AgentState.PAUSED, now)
        self._agents[name] = agent
        return agent

    def remove(self, name: str) -> None:
        self._agents.pop(name, None)

    def idle_count(self) -> int:
        return sum(1 for a in self._agents.values() if a.state is AgentState.IDLE)

    def take_idle(self, now: float, attempt_id: int) -> Agent | None:
        """Reserve the agent idle the longest for C{attempt_id}, or None."""
        idle = [a for a in self._agents.values() if a.state is AgentState.IDLE]
        if not idle:
            return None
        agent = min(idle, key=lambda a: (a.since, a.name))
        agent.state, agent.since, agent.attempt_id = AgentState.RESERVED, now, attempt_id
        return agent

    def reserve(self, name: str, now: float, attempt_id: int) -> Agent | None:
        """Reserve C{name} (if idle) for C{attempt_id}: preview mode, the agent who asked
        for the dial gets the call. None if the agent is unknown or not idle."""
        agent = self._agents.get(name)
        if agent is None or agent.state is not AgentState.IDLE:
            return None
        agent.state, agent.since, agent.attempt_id = AgentState.RESERVED, now, attempt_id
        return agent

    def talking(self, name: str, now: float, attempt_id: int) -> None:
        agent = self._agents.get(name)
        if agent is not None and agent.state is not AgentState.TALKING:
            agent.state, agent.since, agent.attempt_id = AgentState.TALKING, now, attempt_id

    def wrapping(self, name: str, now: float) -> None:
        agent = self._agents.get(name)
        if agent is not None and agent.state in (AgentState.TALKING, AgentState.RESERVED):
            agent.state, agent.since = AgentState.WRAPPING, now

    def ready(self, name: str, now: float) -> bool:
        """The agent is ready for the next call; False if unknown or already idle."""
        agent = self._agents.get(name)
        if agent is None or agent.state is AgentState.IDLE:
            return False
        agent.state, agent.since, agent.attempt_id = AgentState.IDLE, now, None
        return True

    def pause(self, name: str, now: float) -> None:
        agent = self._agents.get(name)
        if agent is not None and agent.state is AgentState.IDLE:
            agent.state, agent.since = AgentState.PAUSED, now

    def release(self, name: str, now: float) -> None:
        """A reservation fell through (the call hung up before reaching the agent)."""
        agent = self._agents.get(name)
        if agent is not None and agent.state is AgentState.RESERVED:
            agent.state, agent.since, agent.attempt_id = AgentState.IDLE, now, None

    def times(self) -> AgentTimes:
        idle, talking, wrapping = [], [], []
        for a in self._agents.values():
            if a.state is AgentState.IDLE:
                idle.append(a.since)
            elif a.state in (AgentState.TALKING, AgentState.RESERVED):
                talking.append(a.since)
            elif a.state is AgentState.WRAPPING:
                wrapping.append(a.since)
        return AgentTimes(tuple(idle), tuple(talking), tuple(wrapping))
