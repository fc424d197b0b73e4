"""Where the next dollar goes. With C ∝ n/α (n = 1 + ρ̄ generations per answer), inference
spend D_I ∝ n and training spend D_T, one more dollar lowers ln C by (η_α^ρ − 1)/D_I on the
inference channel and by η_α^T/D_T on the training channel, so inference wins iff

    (η_α^ρ − 1) / η_α^T > D_I / D_T.

D_I = Q·K·n for Q queries at K $ per generation, so there is a break-even volume
Q* = D_T·(η^ρ − 1)/(η^T·K·n): below it the rollouts win, above it training does. When
η^ρ ≤ 1 (plain best-of-n coverage, always) no volume makes rollouts win.

Routing composes multiplicatively: C_routed = C_channel · (1 − Π).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

from costcorrect.errors import InputError


@dataclass(frozen=True)
class AllocationDecision:
    """The threshold at one operating point: both sides, the winning channel, the break-even
    query volume (None without a per-query cost) and how much each dollar lowers ln C."""

    eta_rollouts: float
    eta_training: float
    spend_ratio: float  # D_I / D_T
    lhs: float  # (η^ρ − 1) / η^T
    channel: Literal["inference", "training"]
    inference_gain_per_usd: float  # −∂ln C/∂D_I
    training_gain_per_usd: float  # −∂ln C/∂D_T
    break_even_queries: float | None

    def to_dict(self) -> dict:
        return asdict(self)


def _check_positive(name: str, value: float, expected: str) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise InputError(name, value, expected)


def break_even_volume(
    eta_rollouts: float,
    eta_training: float,
    training_spend: float,
    cost_per_generation: float,
    generations: float,
) -> float:
    """Q* = D_T·(η^ρ − 1)/(η^T·K·n); 0 when η^ρ ≤ 1 (rollouts never win)."""
    _check_positive("eta_training", eta_training, "η_α^T > 0")
    _check_positive("training_spend", training_spend, "D_T > 0 in $")
    _check_positive("cost_per_generation", cost_per_generation, "K > 0 in $ per generation")
    _check_positive("generations", generations, "n = 1 + ρ̄ ≥ 1 generations per answer")
    gain = max(eta_rollouts - 1.0, 0.0)
    return training_spend * gain / (eta_training * cost_per_generation * generations)


def allocation_threshold(
    eta_rollouts: float,
    eta_training: float,
    inference_spend: float,
    training_spend: float,
    cost_per_generation: float | None = None,
    generations: float = 1.0,
) -> AllocationDecision:
    """Which channel the next dollar should go to, from the two elasticities and spends."""
    if not (
        isinstance(eta_rollouts, int | float) and math.isfinite(eta_rollouts) and eta_rollouts >= 0
    ):
        raise InputError("eta_rollouts", eta_rollouts, "η_α^ρ ≥ 0")
    _check_positive("eta_training", eta_training, "η_α^T > 0")
    _check_positive("inference_spend", inference_spend, "D_I > 0 in $")
    _check_positive("training_spend", training_spend, "D_T > 0 in $")
    lhs = (eta_rollouts - 1) / eta_training
    ratio = inference_spend / training_spend
    q_star = None
    if cost_per_generation is not None:
        q_star = break_even_volume(
            eta_rollouts, eta_training, training_spend, cost_per_generation, generations
        )
    return AllocationDecision(
        eta_rollouts,
        eta_training,
        ratio,
        lhs,
        "inference" if lhs > ratio else "training",
        (eta_rollouts - 1) / inference_spend,
        eta_training / training_spend,
        q_star,
    )


def routed_cost(channel_cost: float, premium: float) -> float:
    """C_routed = C_channel · (1 − Π)."""
    if not premium < 1:
        raise InputError("premium", premium, "Π < 1")
    return channel_cost * (1 - premium)


@dataclass(frozen=True)
class ChannelMap:
    """Winning channel over query volume × single-sample accuracy (the task's difficulty):
    ``inference[i, j]`` is True where rollouts win at volume ``queries[j]`` and accuracy
    ``accuracy[i]``; ``break_even[i]`` is Q* for that difficulty."""

    queries: np.ndarray
    accuracy: np.ndarray
    inference: np.ndarray
    break_even: np.ndarray
    eta_rollouts: np.ndarray


def channel_map(
    search_exponent: float,
    generations: float,
    eta_training: float,
    training_spend: float,
    cost_per_generation: float,
    queries: np.ndarray,
    accuracy: np.ndarray,
) -> ChannelMap:
    """Verifier-guided search with −ln α(n) = −ln p · n^(−B) (Brown et al.'s form anchored at
    the single-sample accuracy p): η^ρ = B·(−ln α(n)) at n generations. Rollouts win below
    the break-even volume, which is zero wherever η^ρ ≤ 1 (easy tasks)."""
    _check_positive("search_exponent", search_exponent, "B > 0")
    p = np.asarray(accuracy, dtype=float)
    if not ((p > 0) & (p < 1)).all():
        raise InputError("accuracy", p[~((p > 0) & (p < 1))][0], "accuracies in (0, 1)")
    eta = search_exponent * (-np.log(p)) * generations**-search_exponent
    q_star = np.array(
        [
            break_even_volume(e, eta_training, training_spend, cost_per_generation, generations)
            for e in eta
        ]
    )
    q = np.asarray(queries, dtype=float)
    return ChannelMap(q, p, q[None, :] < q_star[:, None], q_star, eta)
