"""How selecting a verifier pair from probes scales with the candidates K1, K2 and the probes
N, on both sides of the √((log K1 + log K2)/N) rate.

- **Upper side.** Picking the pair with the best estimated accept rate loses at most twice the
  largest estimation error over the K1·K2 pairs, E[max |α̂ − α|]. Simulated with exact
  binomial estimates (seeded) over a grid of K1, K2 and N and fitted as
  log E = a + b·log N + c·log(log K1 + log K2): the union bound's rate says b = −½, c = ½.
- **Lower side.** A needle instance: every pair accepts α₀ except one that accepts α₀ + Δ.
  Best-estimate selection misses the needle with probability P(its estimate falls below the
  largest of the K − 1 others), so the regret is Δ·P(miss); with the gap Δ chosen worst for
  each K and N (normal approximation of the estimates, integrated by quadrature) it is
  σ/√N · max_t t·(1 − ∫φ(z − t)Φ(z)^(K−1) dz), σ² = α₀(1 − α₀) — at least a constant times
  √((log K1 + log K2)/N) on the grid, so no selection from N probes per pair does better
  than the rate by more than a constant on such instances."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from costcorrect.errors import InputError

#: candidate grids (K1, K2) and probe counts of the default study
GRID_K = ((2, 2), (4, 4), (8, 8), (16, 16), (32, 32), (64, 64), (4, 64))
GRID_N = (100, 1_000, 10_000, 100_000)
ALPHA0 = 0.6  # the needle instance's common accept rate (σ² = α₀(1 − α₀))
_Z = np.linspace(-10.0, 14.0, 4801)  # quadrature nodes for the needle's miss probability
_GAPS = np.linspace(0.02, 10.0, 1000)  # needle gaps in units of σ/√N


def max_estimation_error(
    pairs: int, probes: int, alpha: float = ALPHA0, trials: int = 200, seed: int = 0
) -> float:
    """E[max over ``pairs`` of |α̂ − α|], each α̂ from ``probes`` binomial draws (seeded)."""
    rng = np.random.default_rng(seed)
    estimates = rng.binomial(probes, alpha, size=(trials, pairs)) / probes
    return float(np.abs(estimates - alpha).max(axis=1).mean())


def needle_regret(pairs: int, probes: int, alpha: float = ALPHA0) -> float:
    """Worst-gap regret of best-estimate selection on the needle instance, in accept rate
    (normal approximation; the gap maximising Δ·P(miss))."""
    if pairs < 2:
        return 0.0
    log_others = (pairs - 1) * norm.logcdf(_Z)
    pick = np.trapezoid(norm.pdf(_Z[None, :] - _GAPS[:, None]) * np.exp(log_others), _Z, axis=1)
    sigma = math.sqrt(alpha * (1.0 - alpha) / probes)
    return float(sigma * np.max(_GAPS * (1.0 - pick)))


@dataclass(frozen=True)
class RegretScaling:
    """The grid's rows and the fits: the upper side's exponents in N and in log K1 + log K2,
    and the lower side's constant and exponent."""

    rows: object  # pandas DataFrame: k1, k2, probes, rate, max_error, needle_regret
    upper_slope_probes: float
    upper_slope_log_pairs: float
    lower_constant: float  # min over the grid of needle regret ÷ √((log K1 + log K2)/N)
    lower_slope_log_pairs: float

    def to_dict(self) -> dict:
        return {
            "rows": self.rows.to_dict(orient="records"),
            "upper_slope_probes": self.upper_slope_probes,
            "upper_slope_log_pairs": self.upper_slope_log_pairs,
            "lower_constant": self.lower_constant,
            "lower_slope_log_pairs": self.lower_slope_log_pairs,
        }


def regret_scaling(grid_k=GRID_K, grid_n=GRID_N, trials: int = 200, seed: int = 0) -> RegretScaling:
    """Both sides of the rate over ``grid_k`` × ``grid_n`` (see the module docstring)."""
    import pandas as pd

    if not (isinstance(trials, int) and trials >= 1):
        raise InputError("trials", trials, "a positive number of simulated selections")
    rows = []
    for i, (k1, k2) in enumerate(grid_k):
        if k1 < 1 or k2 < 1 or k1 * k2 < 2:
            raise InputError("pairs", (k1, k2), "at least two candidate pairs")
        for j, n in enumerate(grid_n):
            rows.append(
                {
                    "k1": k1,
                    "k2": k2,
                    "probes": n,
                    "rate": math.sqrt((math.log(k1) + math.log(k2)) / n),
                    "max_error": max_estimation_error(
                        k1 * k2, n, trials=trials, seed=seed + 97 * i + j
                    ),
                    "needle_regret": needle_regret(k1 * k2, n),
                }
            )
    frame = pd.DataFrame(rows)
    log_pairs = np.log(np.log(frame["k1"]) + np.log(frame["k2"]))
    design = np.column_stack([np.ones(len(frame)), np.log(frame["probes"]), log_pairs])
    upper = np.linalg.lstsq(design, np.log(frame["max_error"]), rcond=None)[0]
    lower = np.linalg.lstsq(design, np.log(frame["needle_regret"]), rcond=None)[0]
    constant = float((frame["needle_regret"] / frame["rate"]).min())
    return RegretScaling(frame, float(upper[1]), float(upper[2]), constant, float(lower[2]))
