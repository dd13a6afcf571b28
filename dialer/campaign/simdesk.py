"""
Simulated interviewers' desks: until the agent desktop exists (another issue), these
give each finished agent call a result after a wrap-up time and make the agent ready.

The simulated PBX plays the agents' voice legs (C{Local/agentN@agents}); this plays
their keyboards. Randomness and time are injected.

In preview mode each desk asks for its next contact when it is ready (at the start,
after each wrap-up, and a few seconds after a previewed call that never reached it
ended): the controller reserves the contact for that agent, shows it
(L{ContactPreviewed}), dials it and gives its live answer to that agent.
"""

# test-case-name: tests.campaign.test_controller_sim

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from twisted.internet.interfaces import IReactorTime

from dialer.campaign.controller import CampaignController
from dialer.campaign.dispositions import SurveyResult
from dialer.events import AgentWrapping, CallBridged, CallEnded, ContactPreviewed, EventBus

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
        preview_think: float = 3.0,
    ) -> None:
        self.controller = controller
        self.clock: Any = clock
        self.rng = rng
        self.wrap_mean = wrap_mean
        self.wrap_shape = wrap_shape
        self.results = dict(DEFAULT_RESULTS if results is None else results)
        self.callback_after = callback_after
        self.preview_think = preview_think  # seconds before asking again after a miss
        self.preview = controller.campaign.mode == "preview"
        self._previewed: dict[int, str] = {}  # attempt -> the agent it was reserved for
        self._unsubscribe = [bus.subscribe(AgentWrapping, self._wrapping)]
        if self.preview:
            self._unsubscribe += [
                bus.subscribe(ContactPreviewed, self._shown),
                bus.subscribe(CallBridged, self._reached),
                bus.subscribe(CallEnded, self._ended),
            ]
            for agent in controller.agents:
                if agent.state.value == "idle":
                    controller.request_dial(agent.name)

    def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    def _shown(self, event: ContactPreviewed) -> None:
        if event.campaign_id == self.controller.campaign.id:
            self._previewed[event.attempt_id] = event.agent

    def _reached(self, event: CallBridged) -> None:
        if event.campaign_id == self.controller.campaign.id:
            self._previewed.pop(event.attempt_id, None)  # its wrap-up asks again

    def _ended(self, event: CallEnded) -> None:
        if event.campaign_id != self.controller.campaign.id:
            return
        agent = self._previewed.pop(event.attempt_id, None)
        if agent is not None:
            # no answer, busy, machine ...: the agent reads the next contact
            self.clock.callLater(self.preview_think, self._ask, agent)

    def _ask(self, agent: str) -> None:
        desk = self.controller.agents.get(agent)
        if desk is not None and desk.state.value == "idle":
            self.controller.request_dial(agent)

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
        if self.preview:
            self._ask(agent)
