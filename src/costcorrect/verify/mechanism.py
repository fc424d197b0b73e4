"""Procuring verifier pairs (spec/economics.md §2): per-verifier (marginal) scoring vs the
joint scoring mechanism over the cross-product report space.

A report is a probability vector over outcomes; a strictly proper scoring rule S(q, j) is
maximised in expectation by reporting the true distribution. Payment = a + b·S, with (a, b)
chosen so every payment lies in [0, budget] (ex post individually rational, within budget);
the log score is bounded by flooring reports at ``floor``. Paying on the *joint* outcome of a
pair over K1 × K2 cells makes truthful joint reporting dominant; paying each verifier on its own
outcome only elicits marginals, which cannot tell apart pairs whose joint tables differ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from costcorrect.errors import InputError

RULES = ("log", "brier", "spherical")


def score(rule: str, report, outcome, floor: float = 1e-3) -> np.ndarray:
    """S(q, j) for reports ``report`` (..., K) and realised outcomes ``outcome`` (...)."""
    q = np.asarray(report, dtype=float)
    j = np.asarray(outcome)[..., None]
    given = np.take_along_axis(q, j, axis=-1)[..., 0]
    if rule == "log":
        return np.log(np.maximum(given, floor))
    if rule == "brier":
        return 2.0 * given - np.sum(q**2, axis=-1)
    if rule == "spherical":
        return given / np.linalg.norm(q, axis=-1)
    raise InputError("rule", rule, f"one of {', '.join(RULES)}")


def score_bounds(rule: str, k: int, floor: float = 1e-3) -> tuple[float, float]:
    """(min, max) of S over all reports and outcomes with ``k`` outcomes."""
    if rule == "log":
        return math.log(floor), 0.0
    if rule == "brier":
        return -1.0, 1.0
    if rule == "spherical":
        return 0.0, 1.0
    raise InputError("rule", rule, f"one of {', '.join(RULES)}")


@dataclass(frozen=True)
class Mechanism:
    """Pays a + b·S(report, outcome) on ``outcomes`` cells, within [0, budget]."""

    rule: str
    outcomes: int
    budget: float = 1.0
    floor: float = 1e-3

    def pay(self, report, outcome) -> np.ndarray:
        low, high = score_bounds(self.rule, self.outcomes, self.floor)
        s = score(self.rule, report, outcome, self.floor)
        return self.budget * (s - low) / (high - low)

    def expected_pay(self, report, truth) -> np.ndarray:
        """E_{j ~ truth}[pay(report, j)] for reports (..., K)."""
        report = np.asarray(report, dtype=float)
        cells = np.arange(self.outcomes)
        pays = self.pay(
            report[..., None, :], np.broadcast_to(cells, (*report.shape[:-1], len(cells)))
        )
        return pays @ np.asarray(truth, dtype=float)


def dsic_check(mechanism: Mechanism, truth, misreports: int = 20_000, seed: int = 0) -> float:
    """Largest expected gain of a misreport over truthful reporting, by brute force over
    random (Dirichlet) and nearby reports; ≤ 0 means truth-telling is dominant here."""
    truth = np.asarray(truth, dtype=float)
    rng = np.random.default_rng(seed)
    k = truth.size
    spread = rng.dirichlet(np.ones(k), misreports // 2)
    near = np.abs(truth + rng.normal(0, 0.02, (misreports - misreports // 2, k)))
    candidates = np.vstack([spread, near / near.sum(axis=1, keepdims=True)])
    honest = mechanism.expected_pay(truth[None, :], truth)[0]
    return float(np.max(mechanism.expected_pay(candidates, truth)) - honest)


@dataclass(frozen=True)
class RegretCurve:
    """Mean regret (in Cost-correct, relative to the best pair) of choosing a pair after N
    probes, for the joint mechanism and per-component procurement, the reference rate, and
    where per-component procurement ends with exact scores."""

    probes: np.ndarray
    joint: np.ndarray
    marginal: np.ndarray
    rate: np.ndarray
    pairs: int
    marginal_limit: float  # the marginal arm's regret with exact scores: the best-marginal pair

    @property
    def joint_slope(self) -> float:
        """Least-squares slope of log regret against log N (the rate predicts −0.5)."""
        return float(np.polyfit(np.log(self.probes), np.log(self.joint), 1)[0])


def selection_regret(
    k1: int = 30,
    k2: int = 30,
    probes=(100, 316, 1000, 3162, 10_000, 31_623, 100_000),
    trials: int = 400,
    cpm: float = 1.0,
    seed: int = 0,
) -> RegretCurve:
    """Seeded simulation: K1 × K2 candidate pairs composed by AND, the first verifier's
    candidates accepting 0.78–0.82 of answers, the second's 0.73–0.77, each pair with its own
    covariance (uniform over half its Fréchet range). The joint mechanism estimates every
    pair's accept rate from N joint outcomes and picks the cheapest estimated C = CPM/α. The
    marginal arm is per-component procurement: each verifier bought on its own score (its
    accept rate from N probes of its own), the pair being whatever the two choices make — blind
    to the covariance, so its regret stops falling where the best marginals are not the best
    pair."""
    if k1 < 1 or k2 < 1:
        raise InputError("pairs", (k1, k2), "at least one candidate of each verifier")
    rng = np.random.default_rng(seed)
    p1 = np.linspace(0.78, 0.82, k1)[:, None]
    p2 = np.linspace(0.73, 0.77, k2)[None, :]
    low = np.maximum(-p1 * p2, -(1 - p1) * (1 - p2))
    high = np.minimum(p1 * (1 - p2), p2 * (1 - p1))
    cov = 0.5 * (low + (high - low) * rng.random((k1, k2)))
    alpha = (p1 * p2 + cov).ravel()  # AND accept rate of each pair, row-major (i, j)
    cost = cpm / alpha
    best = cost.min()
    joint, marginal = [], []
    for n in probes:
        estimates = rng.binomial(n, alpha, size=(trials, alpha.size)) / n
        chosen = np.argmax(estimates, axis=1)  # the cheapest estimated C = CPM/α
        joint.append(float(np.mean(cost[chosen] - best)))
        first = np.argmax(rng.binomial(n, p1.ravel(), size=(trials, k1)), axis=1)
        second = np.argmax(rng.binomial(n, p2.ravel(), size=(trials, k2)), axis=1)
        marginal.append(float(np.mean(cost[first * k2 + second] - best)))
    n = np.asarray(probes, dtype=float)
    rate = np.sqrt((math.log(k1) + math.log(k2)) / n)
    limit = float(cost[(k1 - 1) * k2 + (k2 - 1)] - best)  # the top candidates of each
    return RegretCurve(n, np.array(joint), np.array(marginal), rate, k1 * k2, limit)
