"""Per-query outcomes of K options (models, or compute levels of one model) and the cost per
correct answer of routing policies over them.

A policy is a choice of one option per query (an int array). Its cost per correct answer is
(Σ cost of the chosen options + router overhead) / Σ correctness of the chosen options;
correctness may be 0/1 or a probability. The best fixed policy sends every query to the one
option with the lowest cost per correct; the oracle picks per query, solving the ratio exactly
by Dinkelbach's iteration (for a fixed price λ of a correct answer the problem separates per
query: choose argmin cost − λ·correct).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from costcorrect.errors import InputError


@dataclass(frozen=True)
class Outcomes:
    """``cost[i, k]`` ($ or any one unit) and ``correct[i, k]`` (in [0, 1]) of query i on
    option k, with the options' names."""

    names: tuple[str, ...]
    cost: np.ndarray
    correct: np.ndarray

    def __post_init__(self) -> None:
        cost = np.asarray(self.cost, dtype=float)
        correct = np.asarray(self.correct, dtype=float)
        if cost.ndim != 2 or cost.shape != correct.shape or cost.shape[0] == 0:
            raise InputError(
                "outcomes",
                f"cost {cost.shape}, correct {correct.shape}",
                "two equal (queries × options) arrays with at least one query",
            )
        if len(self.names) != cost.shape[1]:
            raise InputError("names", len(self.names), f"{cost.shape[1]} option names")
        bad_cost = ~(np.isfinite(cost) & (cost >= 0))
        if bad_cost.any():
            raise InputError("cost", float(cost[bad_cost][0]), "finite costs ≥ 0")
        bad_correct = ~((correct >= 0) & (correct <= 1))
        if bad_correct.any():
            raise InputError("correct", float(correct[bad_correct][0]), "0/1 or a probability")
        object.__setattr__(self, "cost", cost)
        object.__setattr__(self, "correct", correct)

    @property
    def queries(self) -> int:
        return self.cost.shape[0]

    def take(self, rows: np.ndarray) -> Outcomes:
        """The outcomes of the queries ``rows`` (indices or a mask)."""
        return Outcomes(self.names, self.cost[rows], self.correct[rows])

    def chosen(self, choice: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(cost, correct) per query of the options ``choice``."""
        rows = np.arange(self.queries)
        return self.cost[rows, choice], self.correct[rows, choice]


def cost_per_correct(outcomes: Outcomes, choice: np.ndarray, overhead=0.0) -> float:
    """(Σ chosen cost + Σ overhead) / Σ chosen correctness (inf if nothing is correct);
    ``overhead``: the router's cost per query, one number or one per query."""
    cost, correct = outcomes.chosen(choice)
    hits = correct.sum()
    spent = cost.sum() + np.broadcast_to(overhead, cost.shape).sum()
    return float(spent / hits) if hits > 0 else np.inf


def fixed_choice(outcomes: Outcomes) -> np.ndarray:
    """Every query to the option with the lowest cost per correct answer."""
    hits = outcomes.correct.sum(axis=0)
    ratio = np.where(hits > 0, outcomes.cost.sum(axis=0) / np.maximum(hits, 1e-300), np.inf)
    return np.full(outcomes.queries, int(np.argmin(ratio)))


def price_choice(cost: np.ndarray, correct: np.ndarray, price: float) -> np.ndarray:
    """Per query the option minimising cost − ``price`` · correct (ties to the cheaper)."""
    return np.argmin(cost - price * correct + 1e-12 * cost, axis=1)


def oracle_choice(outcomes: Outcomes, iterations: int = 100) -> np.ndarray:
    """The per-query choice with the lowest cost per correct answer (Dinkelbach)."""
    choice = fixed_choice(outcomes)
    price = cost_per_correct(outcomes, choice)
    if not np.isfinite(price):
        return choice
    for _ in range(iterations):
        candidate = price_choice(outcomes.cost, outcomes.correct, price)
        new_price = cost_per_correct(outcomes, candidate)
        if not new_price < price * (1 - 1e-12):
            break
        choice, price = candidate, new_price
    return choice
