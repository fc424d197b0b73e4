"""Measure a routing policy on per-query outcomes: cost per correct answer of the best fixed
option, the oracle and the router, and the premium's factors Δ, κ, γ estimated from them, with
bootstrap intervals over the queries.

- Δ = 1 − C_oracle / C_fixed;
- κ = (C_fixed − C_router) / (C_fixed − C_oracle), the router's choices without its overhead;
- γ = Σ overhead / Σ cost of the fixed policy;
- Π = 1 − C_routed / C_fixed, the router's choices with its overhead.

Π = κΔ − γ·(A_fixed / A_routed) exactly, where A is the number of correct answers, so the
first-order rule κΔ − γ differs from Π only through the accuracy ratio.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from costcorrect.route.outcomes import Outcomes, cost_per_correct, fixed_choice, oracle_choice
from costcorrect.verify.calibration import Interval

CHUNK = 64  # bootstrap resamples per vectorised block


@dataclass(frozen=True)
class RoutingMeasure:
    """One routing policy measured against the fixed and oracle policies (costs in the
    outcomes' unit per correct answer)."""

    queries: int
    fixed_option: str
    fixed_cost_per_correct: float
    oracle_cost_per_correct: float
    router_cost_per_correct: float  # the router's choices, overhead excluded
    routed_cost_per_correct: float  # overhead included
    delta: float
    kappa: float
    gamma: float
    premium: float
    first_order: float  # κΔ − γ
    accuracy: float
    shares: dict[str, float]

    def to_dict(self) -> dict:
        return asdict(self)


def measure(outcomes: Outcomes, choice: np.ndarray, overhead=0.0) -> RoutingMeasure:
    """Δ, κ, γ and Π of the policy ``choice`` with router ``overhead`` per query (one number
    or one per query, in the outcomes' cost unit)."""
    choice = np.asarray(choice, dtype=np.int64)
    fixed = fixed_choice(outcomes)
    c_fixed = cost_per_correct(outcomes, fixed)
    c_oracle = cost_per_correct(outcomes, oracle_choice(outcomes))
    c_router = cost_per_correct(outcomes, choice)
    c_routed = cost_per_correct(outcomes, choice, overhead)
    delta = 1 - c_oracle / c_fixed
    kappa = (c_fixed - c_router) / (c_fixed - c_oracle) if c_fixed > c_oracle else np.nan
    fixed_spend = outcomes.chosen(fixed)[0].sum()
    gamma = float(np.broadcast_to(overhead, choice.shape).sum() / fixed_spend)
    counts = np.bincount(choice, minlength=len(outcomes.names)) / outcomes.queries
    return RoutingMeasure(
        outcomes.queries,
        outcomes.names[fixed[0]],
        c_fixed,
        c_oracle,
        c_router,
        c_routed,
        float(delta),
        float(kappa),
        gamma,
        float(1 - c_routed / c_fixed),
        float(kappa * delta - gamma),
        float(outcomes.chosen(choice)[1].mean()),
        dict(zip(outcomes.names, counts.tolist(), strict=True)),
    )


@dataclass(frozen=True)
class MeasureIntervals:
    """Bootstrap percentile intervals of Π, Δ and κ (queries resampled, the fixed option and
    the oracle re-solved in every resample)."""

    premium: Interval
    delta: Interval
    kappa: Interval
    resamples: int


def _weighted_oracle(cost, correct, weights, price, iterations: int = 50) -> np.ndarray:
    """Dinkelbach per resample: the oracle's cost per correct under each row of ``weights``,
    starting from the fixed policy's ``price`` per row."""
    shape = (len(price), *cost.shape)
    for _ in range(iterations):
        pick = np.argmin(cost[None] - price[:, None, None] * correct[None], axis=2)[..., None]
        spent = np.take_along_axis(np.broadcast_to(cost, shape), pick, 2)[..., 0]
        hit = np.take_along_axis(np.broadcast_to(correct, shape), pick, 2)[..., 0]
        new = (weights * spent).sum(1) / np.maximum((weights * hit).sum(1), 1e-300)
        if np.all(new >= price * (1 - 1e-12)):
            break
        price = np.minimum(price, new)
    return price


def measure_intervals(
    outcomes: Outcomes,
    choice: np.ndarray,
    overhead=0.0,
    resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    point: RoutingMeasure | None = None,
) -> MeasureIntervals:
    """Percentile intervals of Π, Δ and κ from a Poisson bootstrap over the queries
    (``point``: the full-sample :func:`measure`, when already computed)."""
    point = point or measure(outcomes, choice, overhead)
    cost, correct = outcomes.cost, outcomes.correct
    chosen_cost, chosen_correct = outcomes.chosen(np.asarray(choice, dtype=np.int64))
    extra = np.broadcast_to(np.asarray(overhead, dtype=float), chosen_cost.shape)
    rng = np.random.default_rng(seed)
    draws = {"premium": [], "delta": [], "kappa": []}
    for start in range(0, resamples, CHUNK):
        w = rng.poisson(1.0, (min(CHUNK, resamples - start), outcomes.queries)).astype(float)
        fixed = (w @ cost / np.maximum(w @ correct, 1e-300)).min(axis=1)
        hits = np.maximum(w @ chosen_correct, 1e-300)
        router = (w @ chosen_cost) / hits
        routed = (w @ (chosen_cost + extra)) / hits
        oracle = _weighted_oracle(cost, correct, w, fixed.copy())
        draws["premium"].append(1 - routed / fixed)
        draws["delta"].append(1 - oracle / fixed)
        draws["kappa"].append((fixed - router) / np.where(fixed > oracle, fixed - oracle, np.nan))
    tail = (1 - level) / 2

    def interval(name: str, value: float) -> Interval:
        values = np.concatenate(draws[name])
        values = values[np.isfinite(values)]
        if values.size == 0:  # κ is undefined when the oracle saves nothing
            return Interval(value, np.nan, np.nan, level)
        low, high = np.quantile(values, [tail, 1 - tail])
        return Interval(value, float(low), float(high), level)

    return MeasureIntervals(
        interval("premium", point.premium),
        interval("delta", point.delta),
        interval("kappa", point.kappa),
        resamples,
    )
