"""Synthetic routing workloads with known (κ, Δ, γ), to test the premium's first-order rule
against a measured router.

The local model of spec/economics.md §3: query i has an optimal log-compute level
x*_i = z_i ~ N(0, 1); answered at level x it is correct with probability
exp(−v·(x − x*_i)²/2); the levels are priced equally, so cost per correct is 1 / accuracy.
The best fixed level (x = 0) then costs √(1 + v) per correct, the oracle 1, so Δ = 1 − 1/√(1+v)
sets v. The router sees a signal s = √κ·z + √(1−κ)·e (e ~ N(0, 1)), whose R² for x* is κ; it
regresses the oracle's level on s over a training half and routes the other half to the
nearest level. Its overhead is γ times the fixed policy's per-query cost.

For this loss the exact premium is 1 − √((1 + v(1−κ)) / (1 + v)) − γ: it equals κΔ − γ to
first order in v (near the optimum) and falls short of it by up to 8 % of Δ at Δ = 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from costcorrect.route.measure import RoutingMeasure, measure
from costcorrect.route.outcomes import Outcomes, fixed_choice, oracle_choice
from costcorrect.route.premium import check_parameters

LEVELS = 81
SPAN = 4.0  # levels cover ±SPAN standard deviations of x*


@dataclass(frozen=True)
class SyntheticWorkload:
    """Outcomes over equally priced compute levels, the router's signal and the truth."""

    outcomes: Outcomes
    levels: np.ndarray
    optimum: np.ndarray
    signal: np.ndarray
    kappa: float
    delta: float
    gamma: float

    def exact_premium(self) -> float:
        """Population premium of the Bayes router for this loss."""
        v = 1 / (1 - self.delta) ** 2 - 1
        return float(1 - np.sqrt((1 + v * (1 - self.kappa)) / (1 + v)) - self.gamma)


def matched_compute_workload(
    queries: int, kappa: float, delta: float, gamma: float, seed: int, levels: int = LEVELS
) -> SyntheticWorkload:
    """A seeded workload of ``queries`` queries with true (κ, Δ, γ)."""
    check_parameters(kappa, delta, gamma)
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(queries)
    signal = np.sqrt(kappa) * z + np.sqrt(1 - kappa) * rng.standard_normal(queries)
    grid = np.linspace(-SPAN, SPAN, levels)
    v = 1 / (1 - delta) ** 2 - 1
    correct = np.exp(-v * (grid[None, :] - z[:, None]) ** 2 / 2)
    names = tuple(f"x={x:+.2f}" for x in grid)
    outcomes = Outcomes(names, np.ones_like(correct), correct)
    return SyntheticWorkload(outcomes, grid, z, signal, kappa, delta, gamma)


def route_by_signal(workload: SyntheticWorkload, seed: int) -> RoutingMeasure:
    """Train the signal router on a random half, measure it on the other half (overhead
    γ · the training half's fixed per-query cost)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(workload.outcomes.queries)
    train, test = np.sort(order[::2]), np.sort(order[1::2])
    seen = workload.outcomes.take(train)
    target = workload.levels[oracle_choice(seen)]
    slope, intercept = np.polyfit(workload.signal[train], target, 1)
    predicted = intercept + slope * workload.signal[test]
    choice = np.abs(predicted[:, None] - workload.levels[None, :]).argmin(axis=1)
    per_query = seen.chosen(fixed_choice(seen))[0].mean()
    return measure(workload.outcomes.take(test), choice, workload.gamma * per_query)


@dataclass(frozen=True)
class ScenarioResult:
    kappa: float
    delta: float
    gamma: float
    premium: float  # measured on the held-out half
    first_order: float  # κΔ − γ from the true parameters

    @property
    def error_share_of_delta(self) -> float:
        return abs(self.premium - self.first_order) / self.delta


@dataclass(frozen=True)
class ThresholdCheck:
    """The first-order rule against measured routers: the worst |Π − (κΔ − γ)|/Δ over a grid
    near the optimum, and the share of random scenarios (|κΔ − γ| > ``margin``) where the
    measured premium's sign matches κΔ > γ."""

    near_optimum: list[ScenarioResult]
    max_error_near_optimum: float
    scenarios: int
    queries: int
    margin: float
    agreement: float


NEAR_DELTAS = (0.05, 0.1, 0.2)
NEAR_KAPPAS = (0.25, 0.5, 0.75, 1.0)
NEAR_GAMMAS = (0.0, 0.03)


def _scenario(kappa, delta, gamma, queries, seed) -> ScenarioResult:
    workload = matched_compute_workload(queries, kappa, delta, gamma, seed)
    measured = route_by_signal(workload, seed + 1)
    return ScenarioResult(kappa, delta, gamma, measured.premium, kappa * delta - gamma)


def threshold_check(
    scenarios: int = 1000,
    queries: int = 2000,
    near_queries: int = 20000,
    margin: float = 0.02,
    seed: int = 0,
) -> ThresholdCheck:
    """Run the grid near the optimum and ``scenarios`` random (κ ~ U(0, 1),
    Δ ~ U(0.01, 0.5), γ ~ U(0, 0.3)) workloads, all seeded."""
    near = [
        _scenario(k, d, g, near_queries, seed + i)
        for i, (d, k, g) in enumerate(
            (d, k, g) for d in NEAR_DELTAS for k in NEAR_KAPPAS for g in NEAR_GAMMAS
        )
    ]
    rng = np.random.default_rng(seed)
    agree = done = 0
    while done < scenarios:
        kappa, delta, gamma = rng.uniform(0, 1), rng.uniform(0.01, 0.5), rng.uniform(0, 0.3)
        if abs(kappa * delta - gamma) <= margin:
            continue
        result = _scenario(kappa, delta, gamma, queries, seed + 1000 + 2 * done)
        agree += (result.premium > 0) == (result.first_order > 0)
        done += 1
    return ThresholdCheck(
        near,
        max(r.error_share_of_delta for r in near),
        scenarios,
        queries,
        margin,
        agree / scenarios,
    )
