"""
Online estimates the predictive pacer forecasts with.

Nothing here is told the true distributions: each estimate starts from a deliberately wrong,
cautious prior (answer rate 0.5, talk 300 s, wrap 30 s, ring 15 s...) with a small weight, and
learns from what the campaign observes, forgetting old observations exponentially:

  - L{AnswerRate}: the share of dials that reach a live person, over about the last 500 dials.  A
    dial is counted only once every dial made before it has had time to finish (the ring timeout),
    so the fast failures (busy, invalid) cannot bias the early estimate down.
  - L{DurationHistogram}: one-second histograms of the live ring time, of the time until a failed
    dial is known to have failed, of talk time and of wrap-up time.  Survival is computed from
    hazards, with calls still in progress counted as censored (Kaplan-Meier), so the first short
    interviews of a shift do not make talk time look short.
  - L{PacingModel}: the bundle the engine feeds and the pacer reads.  It turns the estimates into
    lookup tables (rebuilt every few seconds of C{now}), indexed by elapsed seconds:
      - C{talking_rows(e)[i, s]}: probability that an agent who has talked for C{e[i]} s is free
        (talk and wrap over) within C{s + grace} s;
      - C{agent_wrapping[w, s]}: the same for an agent C{w} s into wrap-up;
      - C{ringing[r, s]}: probability that a call undetermined after C{r} s turns into a live answer
        within the next C{s} s (0 <= s < horizon);
      - C{answer_pmf[s]}: distribution of a new call's live ring time, given that it answers.

Pure and deterministic: C{now} is passed in.

test-case-name: tests.pacing.test_estimators
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["AnswerRate", "DurationHistogram", "PacingModel", "Priors", "Tables"]

FloatArray = npt.NDArray[np.float64]


class AnswerRate:
    """
    Share of dials that reach a live person, with exponential forgetting over about C{window}
    dials, counted in dial order once every earlier dial must have finished.
    """

    def __init__(
        self,
        prior: float = 0.5,
        prior_weight: float = 20.0,
        window: float = 500.0,
        resolve_after: float = 30.0,
    ) -> None:
        self._keep = 1.0 - 1.0 / window
        self._live = prior * prior_weight
        self._total = prior_weight
        self._resolve_after = resolve_after
        self._pending: list[tuple[float, int, bool]] = []
        self._seq = 0
        self.observed = 0

    def observe(self, dialled_at: float, live: bool) -> None:
        """A dial made at C{dialled_at} turned out live (or not)."""
        self._seq += 1
        heapq.heappush(self._pending, (dialled_at, self._seq, live))

    def value(self, now: float) -> float:
        """The estimate as of C{now}."""
        cutoff = now - self._resolve_after
        pending = self._pending
        while pending and pending[0][0] <= cutoff:
            _, _, live = heapq.heappop(pending)
            self._live = self._live * self._keep + (1.0 if live else 0.0)
            self._total = self._total * self._keep + 1.0
            self.observed += 1
        return self._live / self._total


class DurationHistogram:
    """
    A forgetting histogram of durations on a one-second grid (the last bin holds everything
    longer).  Observations are weighted by a growing factor instead of decaying every bin, so an
    observation costs O(1).
    """

    def __init__(
        self, bins: int, prior: FloatArray, prior_weight: float, window: float = 1000.0
    ) -> None:
        if prior.shape != (bins,):
            raise ValueError("prior must have one weight per bin")
        self.bins = bins
        self._growth = 1.0 / (1.0 - 1.0 / window)
        self._inc = 1.0
        self._counts = prior / prior.sum() * prior_weight
        self.observed = 0
        self.total_seconds = 0.0

    def observe(self, seconds: float) -> None:
        """Add one duration."""
        self.observed += 1
        self.total_seconds += seconds
        self._inc *= self._growth
        self._counts[min(self.bins - 1, max(0, int(seconds)))] += self._inc
        if self._inc > 1e100:
            self._counts /= self._inc
            self._inc = 1.0

    def weights(self) -> FloatArray:
        """Current weight per bin, in units of one fresh observation."""
        w: FloatArray = self._counts / self._inc
        return w

    def pmf(self) -> FloatArray:
        """Normalised histogram."""
        w = self.weights()
        out: FloatArray = w / w.sum()
        return out

    def log_survival(
        self, censored: Sequence[float] | FloatArray = (), tail_hazard: float = 0.02
    ) -> FloatArray:
        """
        C{L[t] = log P(T >= t)} for t = 0..bins, by Kaplan-Meier with C{censored} (elapsed times
        of durations still running) counted in the risk set.  Where nobody is at risk, a constant
        hazard C{tail_hazard} per second is assumed.
        """
        events = self.weights()
        at_risk = np.cumsum(events[::-1])[::-1].copy()
        if len(censored):
            c = np.minimum(np.asarray(censored, dtype=np.float64), self.bins - 1).astype(np.int64)
            cens = np.bincount(c, minlength=self.bins).astype(np.float64)
            # a duration still running after e seconds was at risk in every bin up to e
            at_risk += np.cumsum(cens[::-1])[::-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            hazard = np.where(at_risk > 1e-6, events / at_risk, tail_hazard)
        hazard = np.clip(hazard, 0.0, 1.0 - 1e-12)
        hazard[-1] = max(hazard[-1], tail_hazard)
        log_s = np.zeros(self.bins + 1)
        np.cumsum(np.log1p(-hazard), out=log_s[1:])
        return log_s


def _lognormal_prior(bins: int, mean: float, sd: float) -> FloatArray:
    sigma2 = math.log(1.0 + (sd / mean) ** 2)
    mu = math.log(mean) - sigma2 / 2.0
    x = np.arange(bins, dtype=np.float64) + 0.5
    dens = np.exp(-((np.log(x) - mu) ** 2) / (2 * sigma2)) / x
    dens += 1e-9
    out: FloatArray = dens / dens.sum()
    return out


@dataclass(frozen=True)
class Priors:
    """Deliberately wrong starting beliefs, and how strongly they are held."""

    answer_rate: float = 0.5
    ring_mean: float = 15.0
    ring_sd: float = 8.0
    fail_mean: float = 10.0
    fail_sd: float = 10.0
    talk_mean: float = 300.0
    talk_sd: float = 200.0
    wrap_mean: float = 30.0
    wrap_sd: float = 15.0
    weight: float = 10.0


@dataclass(frozen=True)
class Tables:
    """Forecast tables (see the module docstring); built by L{PacingModel.tables}."""

    built_at: float
    answer_rate: float
    talk_log_survival: FloatArray
    talk_conv: FloatArray
    agent_wrapping: FloatArray
    ringing: FloatArray
    answer_pmf: FloatArray

    def talking_rows(self, elapsed: FloatArray) -> FloatArray:
        """C{[i, s]}: probability that an agent who has talked for C{elapsed[i]} s is free
        (talk and wrap-up over) within C{s + grace} s."""
        e = np.clip(elapsed, 0, PacingModel.TALK_BINS - 1).astype(np.int64)[:, None]
        k = np.arange(self.talk_conv.shape[0] + 1)[None, :]
        lt = self.talk_log_survival
        rem_cdf = 1.0 - np.exp(lt[e + k] - lt[e])  # P(R < k | T > e)
        rows: FloatArray = np.diff(rem_cdf, axis=1) @ self.talk_conv
        return rows


class PacingModel:
    """
    The online estimates of one campaign, fed by the engine and read by the pacer.

    @param ring_timeout: the originate timeout the engine uses: every dial's outcome is known
        at most this long (plus answering-machine detection) after it was made.
    @param grace: seconds an answered call may wait for an agent before it is abandoned.
    @param horizon: seconds ahead the forecast looks (a live answer later than this is ignored;
        default: the ring timeout plus the grace time).
    """

    TALK_BINS = 3600
    WRAP_BINS = 300
    RING_BINS = 64

    def __init__(
        self,
        *,
        ring_timeout: float = 25.0,
        grace: float = 2.0,
        horizon: int | None = None,
        priors: Priors | None = None,
        answer_window: float = 500.0,
        duration_window: float = 1000.0,
        rebuild_every: float = 10.0,
    ) -> None:
        pr = priors or Priors()
        self.grace = grace
        # a live answer comes before the ring timeout: look that far ahead, plus the grace
        self.horizon = horizon or math.ceil(ring_timeout + grace)
        self.rebuild_every = rebuild_every
        self.answer_rate = AnswerRate(
            pr.answer_rate, pr.weight * 2, answer_window, resolve_after=ring_timeout + 5.0
        )
        self.ring = DurationHistogram(
            self.RING_BINS,
            _lognormal_prior(self.RING_BINS, pr.ring_mean, pr.ring_sd),
            pr.weight,
            duration_window,
        )
        self.fail = DurationHistogram(
            self.RING_BINS,
            _lognormal_prior(self.RING_BINS, pr.fail_mean, pr.fail_sd),
            pr.weight,
            duration_window,
        )
        self.talk = DurationHistogram(
            self.TALK_BINS,
            _lognormal_prior(self.TALK_BINS, pr.talk_mean, pr.talk_sd),
            pr.weight,
            duration_window,
        )
        self.wrap = DurationHistogram(
            self.WRAP_BINS,
            _lognormal_prior(self.WRAP_BINS, pr.wrap_mean, pr.wrap_sd),
            pr.weight,
            duration_window,
        )
        self._tables: Tables | None = None

    # -- observations (the engine calls these) -------------------------------------------

    def observe_outcome(self, dialled_at: float, now: float, live: bool) -> None:
        """A dial made at C{dialled_at} became known at C{now} as a live answer or a failure
        (machine, no answer, busy, invalid, congestion...)."""
        (self.ring if live else self.fail).observe(now - dialled_at)
        self.answer_rate.observe(dialled_at, live)

    def observe_talk(self, seconds: float) -> None:
        """An agent finished a conversation of this length."""
        self.talk.observe(seconds)

    def observe_wrap(self, seconds: float) -> None:
        """An agent finished wrap-up of this length."""
        self.wrap.observe(seconds)

    # -- forecast tables (the pacer calls this) ---------------------------------------------

    def tables(self, now: float, talking_elapsed: Sequence[float] | FloatArray = ()) -> Tables:
        """The forecast tables, rebuilt if older than C{rebuild_every} seconds."""
        t = self._tables
        if t is None or now - t.built_at >= self.rebuild_every or now < t.built_at:
            t = self._tables = self._build(now, talking_elapsed)
        return t

    def _build(self, now: float, talking_elapsed: Sequence[float] | FloatArray) -> Tables:
        h = self.horizon
        g = math.ceil(self.grace)
        p = self.answer_rate.value(now)

        # wrap: P(W <= w + x | W > w) from log-survival
        lw = self.wrap.log_survival(tail_hazard=0.1)
        lw = np.concatenate([lw, lw[-1] - 0.1 * np.arange(1, h + g + 2)])
        w_idx = np.arange(self.WRAP_BINS)[:, None]
        x = np.arange(h)[None, :] + g
        agent_wrapping = 1.0 - np.exp(lw[w_idx + x] - lw[w_idx])

        # wrap CDF from zero, for the convolution with the remaining talk
        wrap_cdf = 1.0 - np.exp(lw[: h + g + 1] - lw[0])  # P(W < k) for k = 0..h+g

        # talk: P(R + W <= s + g | T > e), R the remaining talk; rows are made per decision
        # (L{Tables.talking_rows}) from the log-survival and the wrap convolution matrix
        lt = self.talk.log_survival(talking_elapsed, tail_hazard=0.01)
        lt = np.concatenate([lt, lt[-1] - 0.01 * np.arange(1, h + g + 2)])
        n = h + g
        toeplitz = np.zeros((n, n))
        for i in range(n):
            toeplitz[i, i:] = wrap_cdf[: n - i]
        # free[e, x] ~ P(R + W < x + 1): keep columns x = s + g - 1, s = 0..h-1
        conv = np.ascontiguousarray(toeplitz[:, g - 1 : g - 1 + h])

        # ringing calls: live answer within s given undetermined after r
        ring_pmf = self.ring.pmf()
        fail_pmf = self.fail.pmf()
        pad = np.zeros(h + 1)
        ring_cdf = np.concatenate([[0.0], np.cumsum(ring_pmf), pad + 1.0])  # P(R < k)
        fail_cdf = np.concatenate([[0.0], np.cumsum(fail_pmf), pad + 1.0])
        r_idx = np.arange(self.RING_BINS)[:, None]
        s = np.arange(h)[None, :]
        num = p * (ring_cdf[r_idx + s] - ring_cdf[r_idx])
        den = p * (1.0 - ring_cdf[r_idx]) + (1.0 - p) * (1.0 - fail_cdf[r_idx])
        with np.errstate(divide="ignore", invalid="ignore"):
            ringing = np.where(den > 1e-12, num / den, 0.0)
        ringing = np.clip(ringing, 0.0, 1.0)
        answer_pmf = ring_pmf[:h].copy()
        return Tables(
            built_at=now,
            answer_rate=p,
            talk_log_survival=lt,
            talk_conv=conv,
            agent_wrapping=agent_wrapping,
            ringing=ringing,
            answer_pmf=answer_pmf,
        )

    def summary(self, now: float) -> dict[str, float]:
        """Current estimates in plain figures, for reports."""
        return {
            "answer_rate": self.answer_rate.value(now),
            "ring_mean": float(np.dot(self.ring.pmf(), np.arange(self.RING_BINS) + 0.5)),
            "fail_mean": float(np.dot(self.fail.pmf(), np.arange(self.RING_BINS) + 0.5)),
            "talk_mean": float(np.dot(self.talk.pmf(), np.arange(self.TALK_BINS) + 0.5)),
            "wrap_mean": float(np.dot(self.wrap.pmf(), np.arange(self.WRAP_BINS) + 0.5)),
        }
