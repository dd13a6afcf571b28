"""
The lines a campaign dials on: one L{Line} per AMI connection (one Asterisk), its
capacity shared out between the campaigns that use it (by priority), and its circuit
breaker (a trunk failing every call is no longer dialed).

The functions take the L{CampaignController} whose lines they look at or count on.
"""

# test-case-name: tests.campaign.test_lines

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from twisted.internet.defer import Deferred

from dialer.ami.message import Message
from dialer.events import DialingPaused, LineBreaker
from dialer.store import campaigns as store

if TYPE_CHECKING:
    from dialer.campaign.controller import CampaignController


class OriginateHandle(Protocol):
    def queued(self) -> Deferred[Message]: ...

    def result(self) -> Deferred[Any]: ...


class AMI(Protocol):
    """What the controller uses of L{dialer.ami.client.AMIClient}."""

    @property
    def ready(self) -> bool: ...

    def on_state(self, callback: Callable[[bool], object]) -> Callable[[], None]: ...

    def subscribe(
        self, name: str | None, callback: Callable[[Message], object]
    ) -> Callable[[], None]: ...

    def originate(self, channel: str, **kwargs: Any) -> OriginateHandle: ...

    def hangup(self, channel: str, cause: int | None = None) -> Deferred[Message]: ...

    def redirect(
        self, channel: str, context: str, exten: str, priority: int | str = 1
    ) -> Deferred[Message]: ...

    def core_show_channels(self) -> Deferred[list[Message]]: ...

    # Optional, looked up with getattr (an event-level stand-in such as the engine
    # benchmark's has neither; then no AstDB record is read or deleted):
    # send_action(message, *, timeout) -> Deferred[Message]  (DBDel)
    # send_list_action(message, *, timeout) -> Deferred[EventListResult]  (DBGet)


@dataclass(eq=False)
class Line:
    """One AMI connection (one Asterisk) and the lines it may hold at once.

    Shared by every controller that dials through it: C{in_use} counts them all.
    """

    name: str
    ami: AMI
    capacity: int
    in_use: int = 0
    dial_template: str | None = None  # this trunk's dial string; None: the campaign's
    # campaign id -> (priority, lines it could use): capacity goes to higher priority first
    demand: dict[int, tuple[int, int]] = field(default_factory=dict)
    # the circuit breaker: technical failures in a row (Outcome.technical), and since when
    # the line is not dialed because of them (None: closed)
    failures: int = 0
    tripped_at: float | None = None

    def allowance(self, campaign_id: int) -> int:
        """Lines C{campaign_id} may hold here: capacity is shared out by priority (then
        campaign id), each up to its demand; what is left goes to the highest priority."""
        members = sorted(self.demand.items(), key=lambda kv: (-kv[1][0], kv[0]))
        if not members:
            return self.capacity
        remaining = self.capacity
        shares: dict[int, int] = {}
        for cid, (_prio, wanted) in members:
            shares[cid] = min(max(wanted, 0), remaining)
            remaining -= shares[cid]
        shares[members[0][0]] += remaining
        return shares.get(campaign_id, 0)

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.in_use) if self.ami.ready else 0


def lines_from(items: Iterable[tuple[str, AMI, int]]) -> list[Line]:
    """L{Line}s from (name, AMI client, capacity) triples."""
    return [Line(name, ami, capacity) for name, ami, capacity in items]


def is_usable(ctl: CampaignController, line: Line) -> bool:
    return line.ami.ready and line.name in ctl._reconciled and line.tripped_at is None


def choose_line(ctl: CampaignController) -> Line | None:
    usable = [line for line in ctl.lines if is_usable(ctl, line) and free_lines(ctl, line) > 0]
    if not usable:
        return None
    return max(usable, key=lambda line: (free_lines(ctl, line), -ctl.lines.index(line)))


def free_lines(ctl: CampaignController, line: Line) -> int:
    """Lines this campaign may still seize on C{line} (its priority share)."""
    own = sum(1 for t in ctl._track.values() if t.line is line and not t.finishing)
    return max(0, min(line.free, line.allowance(ctl.campaign.id) - own))


def register_demand(ctl: CampaignController, now: float) -> None:
    """Tell the shared lines how many lines this campaign could use now."""
    if ctl.dialing_blocked(now) is not None:
        wanted = 0
    elif ctl.campaign.mode == "ivr-only":
        cap = getattr(ctl.policy, "line_cap", None)
        wanted = int(cap) if cap is not None else sum(line.capacity for line in ctl.lines)
    else:
        agents = sum(1 for a in ctl.agents if a.state.value != "paused")
        per_agent = 1 if ctl.campaign.mode in ("preview", "progressive") else 3
        wanted = agents * per_agent
    for line in ctl.lines:
        line.demand[ctl.campaign.id] = (ctl.campaign.priority, wanted)


def breaker_count(ctl: CampaignController, line: Line, technical: bool, now: float) -> None:
    """Count a finished call on C{line}: a misconfigured trunk fails every call
    (coded C{failed}, not counted as an attempt, retried in 5 min) and would redial
    every contact forever; after C{breaker_threshold} technical failures in a row the
    line is not dialed any more."""
    threshold = ctl.settings.breaker_threshold
    if not technical:
        line.failures = 0
        if line.tripped_at is not None:
            close_breaker(ctl, line, now, "a call got through")
        return
    if not line.ami.ready:
        return  # the connection dropped: that is a line down, not a trunk fault
    line.failures += 1
    if threshold <= 0 or line.failures < threshold or line.tripped_at is not None:
        return
    line.tripped_at = now
    ctl.log.error(
        "campaign {campaign}: line {line}: {failures} technical failures in a row "
        "(failed / congestion / no route); not dialing on it until a call gets through "
        "or the campaign is resumed (dialer campaign resume). Check the trunk and the "
        "dial template. / 线路 {line} 连续 {failures} 次技术性失败, 已停止在该线路拨号; "
        "请检查中继和拨号模板, 然后恢复活动",
        campaign=ctl.campaign.id,
        line=line.name,
        failures=line.failures,
    )
    ctl.bus.publish(LineBreaker(line.name, True, line.failures, now))
    if ctl.status == "running" and all(x.tripped_at is not None for x in ctl.lines):
        # nothing left to dial on: the campaign is paused, so that its status says so
        # and the operator's `dialer campaign resume` (after fixing the trunk) clears it
        ctl.log.error(
            "campaign {campaign}: every line's circuit breaker is open; campaign paused "
            "(dialer campaign resume after fixing the trunk) / 所有线路熔断, 活动已暂停",
            campaign=ctl.campaign.id,
        )
        ctl.status = "paused"
        ctl._track_write(
            ctl.db.do_with_transaction(store.thd_set_status, ctl.campaign.id, "paused", now)
        )
        ctl.bus.publish(DialingPaused(ctl.campaign.id, True, "circuit breaker", now))


def close_breaker(ctl: CampaignController, line: Line, now: float, why: str) -> None:
    line.tripped_at = None
    line.failures = 0
    ctl.log.info(
        "campaign {campaign}: line {line} dialed again ({why}) / 线路恢复拨号",
        campaign=ctl.campaign.id,
        line=line.name,
        why=why,
    )
    ctl.bus.publish(LineBreaker(line.name, False, 0, now))
    ctl.wake()
