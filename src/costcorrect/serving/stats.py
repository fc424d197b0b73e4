"""Steady-state statistics of simulated records: percentiles with batch-means confidence
intervals, throughput, and Little's-law bookkeeping."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats as sps

BATCHES = 20  # batch-means batches for confidence intervals
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a confidence interval (same unit)."""

    value: float
    low: float
    high: float


def t_half_width(samples: np.ndarray) -> float:
    """Half-width of the Student-t confidence interval (:data:`CONFIDENCE`) of the mean of
    independent ``samples`` (NaN below two)."""
    k = len(samples)
    if k < 2:
        return np.nan
    return float(sps.t.ppf(0.5 + CONFIDENCE / 2, k - 1) * np.std(samples, ddof=1) / np.sqrt(k))


def sample_mean_ci(samples: np.ndarray) -> Estimate:
    """Mean of independent ``samples`` (repeated measurements) with its Student-t interval."""
    v = np.asarray(samples, dtype=float)
    v = v[np.isfinite(v)]
    point = float(v.mean()) if v.size else np.nan
    half = t_half_width(v)
    return Estimate(point, point - half, point + half)


def quantile_ci(values: np.ndarray, q: float, batches: int = BATCHES) -> Estimate:
    """``q``-quantile of ``values`` (in arrival order) with a batch-means confidence interval:
    the quantile of each of ``batches`` consecutive batches, Student-t on their spread."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return Estimate(np.nan, np.nan, np.nan)
    point = float(np.quantile(v, q))
    k = min(batches, v.size // 10)
    if k < 2:
        return Estimate(point, np.nan, np.nan)
    half = t_half_width(np.array([np.quantile(b, q) for b in np.array_split(v, k)]))
    return Estimate(point, point - half, point + half)


def mean_ci(values: np.ndarray, batches: int = BATCHES) -> Estimate:
    """Mean with a batch-means confidence interval."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    point = float(v.mean()) if v.size else np.nan
    k = min(batches, v.size // 10)
    if k < 2:
        return Estimate(point, np.nan, np.nan)
    half = t_half_width(np.array([b.mean() for b in np.array_split(v, k)]))
    return Estimate(point, point - half, point + half)


def time_average_in_system(arrival: np.ndarray, completion: np.ndarray, t0: float, t1: float):
    """Time-average number of requests in the system over [t0, t1] (exact, event-based)."""
    inside = np.clip(np.minimum(completion, t1) - np.maximum(arrival, t0), 0.0, None)
    return float(inside.sum() / (t1 - t0))


@dataclass(frozen=True)
class LatencySummary:
    """p50/p90/p99 TTFT and TPOT (s) with CIs, throughput and Little's-law check."""

    requests: int
    ttft_p50_s: Estimate
    ttft_p90_s: Estimate
    ttft_p99_s: Estimate
    tpot_p50_s: Estimate
    tpot_p90_s: Estimate
    tpot_p99_s: Estimate
    arrival_rate_per_s: float
    output_tokens_per_s: float
    mean_in_system: float
    little_rate_x_sojourn: Estimate
    rejected_fraction: float

    def to_dict(self) -> dict:
        return asdict(self)


def summarize(records, steady: np.ndarray) -> LatencySummary:
    """Statistics of the requests inside the steady window (warm-up/cool-down excluded)."""
    arrival = records.arrival_s[steady]
    t0, t1 = float(arrival[0]), float(arrival[-1])
    span = t1 - t0
    rate = (arrival.size - 1) / span if span > 0 else np.nan
    sojourn = records.sojourn_s[steady]
    # Little: L over [t0, t1] counts everyone present, including requests outside the window;
    # rejected requests (KV-pool early rejection) leave at once and are not counted
    served = ~records.rejected
    mean_in = time_average_in_system(
        records.arrival_s[served], records.completion_s[served], t0, t1
    )
    rejected = float(records.rejected[steady].mean())
    rate_served = rate * (1.0 - rejected)
    little = mean_ci(sojourn)
    ttft, tpot = records.ttft_s[steady], records.tpot_s[steady]
    return LatencySummary(
        requests=int(arrival.size),
        ttft_p50_s=quantile_ci(ttft, 0.5),
        ttft_p90_s=quantile_ci(ttft, 0.9),
        ttft_p99_s=quantile_ci(ttft, 0.99),
        tpot_p50_s=quantile_ci(tpot, 0.5),
        tpot_p90_s=quantile_ci(tpot, 0.9),
        tpot_p99_s=quantile_ci(tpot, 0.99),
        arrival_rate_per_s=rate,
        output_tokens_per_s=float(records.output_tokens[steady & served].sum() / span)
        if span
        else np.nan,
        mean_in_system=mean_in,
        little_rate_x_sojourn=Estimate(
            rate_served * little.value, rate_served * little.low, rate_served * little.high
        ),
        rejected_fraction=rejected,
    )
