"""
Simulated interviewers' desks: until the agent desktop exists (another issue), these
give each finished agent call a result after a wrap-up time and make the agent ready.

The simulated PBX plays the agents' voice legs (C{Local/agentN@agents}); this plays
their keyboards. Randomness and time are injected.
"""

# test-case-name: tests.campaign.test_controller_sim

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from twisted.internet.interfaces import IReactorTime

from dialer.campaign.controller import CampaignController
from dialer.campaign.dispositions import SurveyResult
from dialer.events import AgentWrapping, EventBus

# Share of agent calls ending with each result (the rest: complete).
DEFAULT_RESULTS: dict[str, float] = {"refusal": 0.15, "partial": 0.05, "callback": 0.05}


class SimulatedDesk:
    """Answers L{AgentWrapping} with a result and readiness after a gamma wrap-up time."""

    def __init__(
        self,
        controller: CampaignController,
        bus: EventBus,
        *,
        clock: IReactorTime,
        rng: random.Random,
        wrap_mean: float = 10.0,
        wrap_shape: float = 4.0,
        results: Mapping[str, float] | None = None,
        callback_after: float = 3600.0,
    ) -> None:
        self.controller = controller
        self.clock: Any = clock
        self.rng = rng
        self.wrap_mean = wrap_mean
        self.wrap_shape = wrap_shape
        self.results = dict(DEFAULT_RESULTS if results is None else results)
        self.callback_after = callback_after
        self._unsubscribe = bus.subscribe(AgentWrapping, self._wrapping)

    def stop(self) -> None:
        self._unsubscribe()

    def _draw(self) -> SurveyResult:
        x = self.rng.random()
        for name, share in self.results.items():
            if x < share:
                return SurveyResult(name)
            x -= share
        return SurveyResult.COMPLETE

    def _wrapping(self, event: AgentWrapping) -> None:
        if event.campaign_id != self.controller.campaign.id:
            return
        wrap = self.rng.gammavariate(self.wrap_shape, self.wrap_mean / self.wrap_shape)
        self.clock.callLater(wrap, self._done, event.agent)

    def _done(self, agent: str) -> None:
        result = self._draw()
        callback_at = None
        if result is SurveyResult.CALLBACK:
            callback_at = self.clock.seconds() + self.callback_after
        self.controller.agent_result(agent, result, callback_at)
        self.controller.agent_ready(agent)
