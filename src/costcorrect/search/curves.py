"""Latency against load, once per configuration, then goodput for any number of contracts.

The analytic engine gives p-quantile TTFT and TPOT at many rates in one vectorised call; a
contract's goodput is where the (running maximum of the) curves cross its bounds, found by
interpolation in log-rate. Frontiers and break-even surfaces need goodput at hundreds of
contracts per configuration, which this makes one sweep plus a search per contract.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from costcorrect.serving.analytic import Lengths, analyze
from costcorrect.serving.architectures import Architecture

LOWEST_RATE = 1e-3  # requests/s, the λ → 0 end (as the goodput search)
HIGHEST_RATE = 1e4
SWEEP_POINTS = 320  # log-spaced over the range: 5 % apart
EDGE_POINTS = 48  # between the last stable and the first unstable sweep point: 0.15 % apart


@dataclass(frozen=True)
class LatencyCurve:
    """``rates`` (req/s, increasing) and the running maxima of p-quantile TTFT and TPOT (s)
    up to each rate (inf where unstable)."""

    rates: np.ndarray
    ttft_s: np.ndarray
    tpot_s: np.ndarray


def latency_curve(arch: Architecture, lengths: Lengths, quantile: float = 0.99) -> LatencyCurve:
    """Sweep ``arch`` from λ → 0 up, in one vectorised call, then refine the edge of stability
    (where latencies turn infinite) to 0.15 % in a second."""

    def evaluate(rates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        result = analyze(arch, lengths, rates, quantiles=(quantile,))
        return result.ttft_s[quantile], result.tpot_s[quantile]

    rates = np.geomspace(LOWEST_RATE, HIGHEST_RATE, SWEEP_POINTS)
    ttft, tpot = evaluate(rates)
    ok = np.isfinite(ttft) & np.isfinite(tpot)
    if ok.any() and not ok.all():
        j = int(np.flatnonzero(ok)[-1])
        extra = np.geomspace(rates[j], rates[j + 1], EDGE_POINTS + 2)[1:-1]
        more_ttft, more_tpot = evaluate(extra)
        rates = np.concatenate([rates[: j + 1], extra, rates[j + 1 :]])
        ttft = np.concatenate([ttft[: j + 1], more_ttft, ttft[j + 1 :]])
        tpot = np.concatenate([tpot[: j + 1], more_tpot, tpot[j + 1 :]])
    ttft = np.maximum.accumulate(np.nan_to_num(ttft, nan=np.inf))
    tpot = np.maximum.accumulate(np.nan_to_num(tpot, nan=np.inf))
    return LatencyCurve(rates, ttft, tpot)


def _crossing(rates: np.ndarray, latency: np.ndarray, bound: np.ndarray) -> np.ndarray:
    """Rate where a non-decreasing ``latency`` reaches ``bound`` (log-rate interpolation):
    0 if it starts above, inf if it never gets there."""
    k = np.searchsorted(latency, bound, side="right")  # rates meeting the bound
    inside = (k > 0) & (k < rates.size)
    lo = np.clip(k - 1, 0, rates.size - 1)
    hi = np.clip(k, 0, rates.size - 1)
    y0, y1 = latency[lo], latency[hi]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(np.isfinite(y1) & (y1 > y0), (bound - y0) / (y1 - y0), 0.0)
    log_rate = np.log(rates[lo]) + np.clip(frac, 0.0, 1.0) * np.log(rates[hi] / rates[lo])
    return np.where(inside, np.exp(log_rate), np.where(k == 0, 0.0, np.inf))


def goodput_from_curve(curve: LatencyCurve, ttft_bound, tpot_bound) -> np.ndarray:
    """Goodput (req/s) for contracts with these bounds (s, broadcast): the lower of the two
    crossings, capped at the sweep's end (the highest stable rate); 0 if impossible."""
    t = np.asarray(ttft_bound, dtype=float)
    p = np.asarray(tpot_bound, dtype=float)
    rate = np.minimum(
        _crossing(curve.rates, curve.ttft_s, t), _crossing(curve.rates, curve.tpot_s, p)
    )
    stable_top = curve.rates[np.isfinite(curve.ttft_s) & np.isfinite(curve.tpot_s)]
    cap = stable_top[-1] if stable_top.size else 0.0
    return np.minimum(rate, cap)
