"""
Model-based predictive pacing.

At each tick the policy forecasts, on a one-second grid over the next C{horizon} seconds, how many
agents will be free for a call that a person answers at each instant, and launches new calls one
at a time while the call just added would, if answered, most likely find an agent:

  - For an instant C{s} ahead, the agents left for a new answer are
    C{D(s) = idle - waiting + busy agents free by s + grace - live answers by s of calls already
    dialled (including the new calls launched before it in this tick)}.  Each busy agent and each
    undetermined call is an independent Bernoulli term whose probability comes from the online
    estimates (L{dialer.pacing.estimators.PacingModel}): the talk and wrap survival given how long
    the agent has been in that state, and the posterior chance of a live answer given how long the
    call has rung.
  - The risk of a candidate call is C{sum_s w(s) P(D(s) <= 0)}, with C{w} the estimated live ring
    time distribution.  C{P(D(s) <= 0)} is the upper tail of a sum of Bernoulli terms: computed
    exactly (a truncated dynamic programme) for small teams, and by a skew-corrected normal
    approximation for large ones.
  - The candidate is launched while its risk is at most C{theta}.  C{theta} follows the
    campaign's abandonment budget (abandoned / live-answered, the worse of whole-campaign and
    rolling 24 h): it is proportional, in log space, to the surplus C{setpoint * live - abandoned}
    (so it tightens at once after abandonments), with a slow integral on top.  The set-point sits
    below the legal C{target} by a margin that shrinks as the ledger fills.  The controller never
    loosens on too few answers (Scrapy's AutoThrottle lesson: never let anomalies push towards
    aggression).

Pure: no clock, no I/O, no Twisted.

test-case-name: tests.pacing.test_predictive
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from dialer.pacing.estimators import PacingModel, Tables
from dialer.pacing.snapshot import Decision, PacingInput

__all__ = ["Predictive", "tail_exact", "tail_normal"]

FloatArray = npt.NDArray[np.float64]

_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _phi_cdf(x: FloatArray) -> FloatArray:
    """Standard normal CDF (Abramowitz-Stegun 7.1.26 erf, |error| < 1.5e-7)."""
    z = np.abs(x) / _SQRT2
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    erf = 1.0 - poly * np.exp(-z * z)
    out: FloatArray = 0.5 * (1.0 + np.sign(x) * erf)
    return out


def tail_normal(
    mean: FloatArray, var: FloatArray, third: FloatArray, k: int, n_terms: int
) -> FloatArray:
    """
    P(Z >= k) for Z a sum of C{n_terms} independent Bernoulli terms with these summed mean,
    variance and third central moment, by the refined (skew-corrected) normal approximation.
    """
    if k <= 0:
        return np.ones_like(mean)
    if k > n_terms:
        return np.zeros_like(mean)
    sd = np.sqrt(np.maximum(var, 1e-12))
    x = (k - 0.5 - mean) / sd
    gamma = third / (sd * sd * sd)
    below = _phi_cdf(x) + gamma * (1.0 - x * x) * np.exp(-0.5 * x * x) * _INV_SQRT_2PI / 6.0
    out: FloatArray = np.clip(1.0 - below, 0.0, 1.0)
    return out


def tail_exact(terms: FloatArray, k: int) -> FloatArray:
    """
    P(Z >= k) for each column of C{terms} (rows: Bernoulli terms, columns: instants), exactly,
    by a dynamic programme over the count truncated at C{k}.
    """
    n_terms, width = terms.shape
    if k <= 0:
        return np.ones(width)
    if k > n_terms:
        return np.zeros(width)
    dist = _exact_table(terms, k)
    out: FloatArray = dist[:, k]
    return out


def _exact_table(terms: FloatArray, k: int) -> FloatArray:
    width = terms.shape[1]
    dist = np.zeros((width, k + 1))
    dist[:, 0] = 1.0
    for b in terms:
        _add_term(dist, b)
    return dist


def _add_term(dist: FloatArray, b: FloatArray) -> None:
    # state k (the last column) absorbs: "k or more"
    moved = dist[:, :-1] * b[:, None]
    dist[:, :-1] -= moved
    dist[:, 1:] += moved


class Predictive:
    """
    Launch calls while the next one's chance of finding no agent is at most C{theta}.

    @param target: the legal cap on abandoned / live-answered (default 3 %).
    @param setpoint: the highest rate the controller steers the campaign to (default 29/30 of
        C{target}).
    @param setpoint_min: the lowest (default 2/3 of C{target}).
    @param margin_z: between the two, the set-point keeps C{margin_z} standard deviations of
        one control horizon's abandonments below the target: cautious while the ledger holds
        few answers, closer to the target as it fills (0: always C{setpoint}).
    @param theta: the starting risk threshold.
    @param gain: gain on log(theta) per unit of scaled budget surplus.
    @param gain_i: gain of the slow second integral, per control step.
    @param interval: seconds between steps of the slow integral.
    @param horizon_s: seconds over which budget deviations are corrected.
    @param min_answers: live answers needed before the controller may loosen.
    @param exact_below: use the exact tail while the count threshold is below this.
    @param max_launch: most calls launched in one tick.
    @param cold_theta: the most C{theta} may be while a single abandonment would put the ledger
        over C{target} (fewer than C{1 / target} live answers).
    """

    mode = "predictive"

    def __init__(
        self,
        target: float = 0.03,
        setpoint: float | None = None,
        setpoint_min: float | None = None,
        margin_z: float = 3.0,
        theta: float = 0.03,
        theta_min: float = 0.002,
        theta_max: float = 0.5,
        gain: float = 0.6,
        gain_i: float = 0.02,
        interval: float = 30.0,
        horizon_s: float = 1800.0,
        min_answers: int = 30,
        exact_below: int = 30,
        max_launch: int = 1000,
        cold_theta: float = 0.01,
    ) -> None:
        self.target = target
        # defaults scale with the target: 2.9 % and 2.0 % under the usual 3 %
        self.setpoint = target * 29 / 30 if setpoint is None else setpoint
        self.setpoint_min = target * 2 / 3 if setpoint_min is None else setpoint_min
        self.margin_z = margin_z
        self.current_setpoint = self.setpoint
        self.theta = theta
        self.theta_min = theta_min
        self.theta_max = theta_max
        self.gain = gain
        self.gain_i = gain_i
        self.interval = interval
        self.horizon_s = horizon_s
        self._log_ref = math.log(theta)
        self._start: float | None = None
        self.min_answers = min_answers
        self.exact_below = exact_below
        self.max_launch = max_launch
        self._last_control: float | None = None
        self.last_risk = 0.0
        self.cold_theta = cold_theta

    # -- control ------------------------------------------------------------------------------

    def _control(self, snapshot: PacingInput) -> None:
        """
        Set theta from the abandonment budget.

        The surplus C{S = setpoint * live - abandoned} (in calls) is the integral of the gap
        between the set-point and the instantaneous rate, so a threshold proportional to it in log
        space is an integral controller on the rate; a slow second integral (the reference
        threshold) removes the steady-state offset.  C{S} is scaled by the abandonments expected
        over C{horizon_s}, so a 5-agent and a 100-agent campaign react on the same time scale.
        """
        now = snapshot.now
        ledger = snapshot.ledger
        window = ledger.campaign
        if ledger.day.rate > window.rate:
            window = ledger.day
        live, abandoned = window.live_answered, window.abandoned
        if self._start is None:
            self._start = now
        elapsed = max(now - self._start, 1.0)
        # expected abandonments over the control horizon at the set-point
        per_second = live / elapsed if live >= self.min_answers else 0.0
        expected = self.target * per_second * self.horizon_s
        scale = math.sqrt(expected + 1.0)
        setpoint = self.setpoint
        if self.margin_z > 0:
            # keep z standard deviations of one horizon's abandonments below the target
            room = self.target - self.margin_z * scale / max(live, self.min_answers)
            setpoint = min(self.setpoint, max(self.setpoint_min, room))
        self.current_setpoint = setpoint
        surplus = (setpoint * live - abandoned) / scale
        if live < self.min_answers:
            surplus = min(surplus, 0.0)  # no loosening without evidence
        if self._last_control is None:
            self._last_control = now
        elif now - self._last_control >= self.interval:
            self._last_control = now
            if surplus != 0.0:
                self._log_ref += self.gain_i * max(-3.0, min(3.0, surplus))
                self._log_ref = max(
                    math.log(self.theta_min), min(math.log(self.theta_max), self._log_ref)
                )
        log_theta = self._log_ref + self.gain * max(-5.0, min(3.0, surplus))
        self.theta = min(self.theta_max, max(self.theta_min, math.exp(log_theta)))
        if self.target * live < 1.0:
            # Cold start: until the ledger can absorb one abandonment, a single one would put the
            # whole-campaign figure over the legal target (1 in 14 answers reads 7 %), so risk
            # hardly any.  Costs nothing measurable over a shift (the first few minutes at 20
            # agents); keeps short campaigns and demos honest.
            self.theta = min(self.theta, self.cold_theta)

    # -- decision -----------------------------------------------------------------------------

    def decide(self, snapshot: PacingInput) -> Decision:
        """Launch calls while the marginal call's risk of abandonment is at most theta."""
        self._control(snapshot)
        free_lines = min(snapshot.free_lines, self.max_launch)
        if free_lines <= 0 or snapshot.agents_logged_in == 0:
            return Decision(0)
        now = snapshot.now
        model: PacingModel = snapshot.model
        talking = np.asarray(snapshot.talking_since, dtype=np.float64)
        talking = now - talking
        tables = model.tables(now, talking)
        terms = self._terms(snapshot, tables, talking)
        n_busy = len(snapshot.talking_since) + len(snapshot.wrapping_since)
        k = len(snapshot.idle_since) - len(snapshot.waiting_since) + n_busy
        new = tables.ringing[0]
        weights = tables.answer_pmf
        wsum = weights.sum()
        if wsum <= 0:
            return Decision(0)
        weights = weights / wsum
        theta = self.theta
        launched = 0
        risk = 0.0
        n_terms = terms.shape[0]
        if k <= 0:
            self.last_risk = 1.0
            return Decision(0)
        if k < self.exact_below:
            dist = _exact_table(terms, k)
            while launched < free_lines:
                risk = float(np.dot(weights, dist[:, k])) if n_terms >= k else 0.0
                if risk > theta:
                    break
                _add_term(dist, new)
                n_terms += 1
                launched += 1
        else:
            mean = terms.sum(axis=0)
            v = terms * (1.0 - terms)
            var = v.sum(axis=0)
            third = (v * (1.0 - 2.0 * terms)).sum(axis=0)
            v_new = new * (1.0 - new)
            t_new = v_new * (1.0 - 2.0 * new)
            while launched < free_lines:
                risk = float(np.dot(weights, tail_normal(mean, var, third, k, n_terms)))
                if risk > theta:
                    break
                mean = mean + new
                var = var + v_new
                third = third + t_new
                n_terms += 1
                launched += 1
        self.last_risk = risk if launched < free_lines else 0.0
        return Decision(launched)

    @staticmethod
    def _terms(snapshot: PacingInput, tables: Tables, talking: FloatArray) -> FloatArray:
        """Bernoulli terms of the count that must stay below the threshold: one per busy agent
        (not yet free) and one per undetermined call (answered live by then)."""
        now = snapshot.now
        parts = []
        if len(talking):
            parts.append(1.0 - tables.talking_rows(talking))
        if snapshot.wrapping_since:
            w = now - np.asarray(snapshot.wrapping_since, dtype=np.float64)
            wi = np.clip(w, 0, PacingModel.WRAP_BINS - 1).astype(np.int64)
            parts.append(1.0 - tables.agent_wrapping[wi])
        if snapshot.ringing_since:
            r = now - np.asarray(snapshot.ringing_since, dtype=np.float64)
            ri = np.clip(r, 0, PacingModel.RING_BINS - 1).astype(np.int64)
            parts.append(tables.ringing[ri])
        if not parts:
            return np.zeros((0, tables.answer_pmf.shape[0]))
        return np.concatenate(parts, axis=0)
