"""Adaptive self-consistency simulated: sample answers one at a time and stop when the vote is
decided — Aggarwal et al. (2023)'s Beta criterion on the two leading answers' counts
(v₁, v₂): stop once P(x > ½) > threshold for x ~ Beta(v₁ + 1, v₂ + 1), or at the budget.

Queries differ in difficulty: the correct answer's probability per sample is p ~ Beta(a, b),
the rest spread evenly over ``wrong_answers`` alternatives. The result feeds
:func:`costcorrect.route.patterns.adaptive_sampling`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import betainc

from costcorrect.errors import InputError
from costcorrect.route.patterns import PatternPoint, adaptive_sampling


@dataclass(frozen=True)
class ConsistencyRun:
    """Samples and accuracy of majority-of-budget vs adaptive stopping, and the oracle's
    samples (the fewest with the budget's verdict when that is correct, else 1)."""

    budget: int
    threshold: float
    mean_samples: float
    oracle_samples: float
    accuracy_fixed: float
    accuracy_adaptive: float

    def point(self) -> PatternPoint:
        drop = max(0.0, 1 - self.accuracy_adaptive / self.accuracy_fixed)
        return adaptive_sampling(self.budget, self.mean_samples, drop, self.oracle_samples)


def _majority_correct(counts: np.ndarray) -> np.ndarray:
    """Whether answer 0 (the correct one) leads; ties count as a coin flip's half."""
    lead = counts.max(axis=-1)
    tied = (counts == lead[..., None]).sum(axis=-1)
    return np.where(counts[..., 0] == lead, 1.0 / tied, 0.0)


def simulate_consistency(
    queries: int,
    budget: int = 40,
    threshold: float = 0.95,
    difficulty: tuple[float, float] = (2.0, 1.0),
    wrong_answers: int = 4,
    seed: int = 0,
) -> ConsistencyRun:
    """Simulate ``queries`` questions (seeded) under a sample ``budget``."""
    if budget < 2:
        raise InputError("budget", budget, "at least 2 samples")
    if not 0.5 < threshold < 1:
        raise InputError("threshold", threshold, "a stopping confidence in (0.5, 1)")
    if min(difficulty) <= 0:
        raise InputError("difficulty", difficulty, "Beta parameters (a, b) > 0")
    if wrong_answers < 1:
        raise InputError("wrong_answers", wrong_answers, "at least one wrong answer")
    rng = np.random.default_rng(seed)
    p = rng.beta(*difficulty, queries)
    u = rng.random((queries, budget))
    wrong = 1 + rng.integers(0, wrong_answers, (queries, budget))
    answers = np.where(u < p[:, None], 0, wrong)
    onehot = answers[..., None] == np.arange(wrong_answers + 1)
    counts = np.cumsum(onehot, axis=1)  # (queries, n, answers)
    top2 = -np.sort(-counts, axis=2)[..., :2]
    confident = betainc(top2[..., 1] + 1.0, top2[..., 0] + 1.0, 0.5) > threshold
    confident[:, -1] = True
    stop = confident.argmax(axis=1)
    rows = np.arange(queries)
    right = _majority_correct(counts)
    fixed = right[:, -1]
    adaptive = right[rows, stop]
    first_right = np.where((right >= 1).any(axis=1), (right >= 1).argmax(axis=1) + 1, 1)
    oracle = np.where(fixed >= 1, first_right, 1)
    return ConsistencyRun(
        budget,
        threshold,
        float(stop.mean() + 1),
        float(oracle.mean()),
        float(fixed.mean()),
        float(adaptive.mean()),
    )
