"""The router metrics users know, beside cost per correct answer.

- RouteLLM (Ong et al. 2024): PGR = (acc − acc_weak)/(acc_strong − acc_weak) as a function of
  the share of calls to the strong model; APGR = its average over shares 0…1; CPT(x) = the
  smallest share of strong calls with PGR ≥ x.
- RouterBench (Hu et al. 2024): AIQ = area under the non-decreasing convex hull of the
  router's (cost, quality) points, divided by the cost range.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from costcorrect.route.outcomes import Outcomes

SHARES = np.linspace(0, 1, 101)


@dataclass(frozen=True)
class RouterMetrics:
    """APGR, CPT(50 %), CPT(80 %) (None for more than two options) and AIQ."""

    apgr: float | None
    cpt50: float | None
    cpt80: float | None
    aiq: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class OperatingCurve:
    """Share of queries on the strong (or not the cheapest) option, accuracy and mean cost per
    query, one entry per operating point."""

    strong_share: np.ndarray
    accuracy: np.ndarray
    cost: np.ndarray


def ranking_curve(outcomes: Outcomes, benefit: np.ndarray, seed: int = 0) -> OperatingCurve:
    """Two options (weak = cheaper): send the top share of queries by ``benefit`` to the
    strong one, for shares 0, 0.01, …, 1 (ties in a seeded random order)."""
    weak = int(np.argmin(outcomes.cost.mean(axis=0)))
    strong = 1 - weak
    tie_break = np.random.default_rng(seed).random(outcomes.queries)
    order = np.lexsort((tie_break, -np.asarray(benefit, dtype=float)))
    n = outcomes.queries
    gain_acc = np.concatenate(
        [[0.0], np.cumsum((outcomes.correct[:, strong] - outcomes.correct[:, weak])[order])]
    )
    gain_cost = np.concatenate(
        [[0.0], np.cumsum((outcomes.cost[:, strong] - outcomes.cost[:, weak])[order])]
    )
    taken = np.round(SHARES * n).astype(int)
    return OperatingCurve(
        SHARES,
        (outcomes.correct[:, weak].sum() + gain_acc[taken]) / n,
        (outcomes.cost[:, weak].sum() + gain_cost[taken]) / n,
    )


def price_curve(outcomes: Outcomes, choices: list[np.ndarray]) -> OperatingCurve:
    """The operating points of several routing choices (e.g. a sweep of the price λ)."""
    cheap = int(np.argmin(outcomes.cost.mean(axis=0)))
    cost, right = zip(*(outcomes.chosen(c) for c in choices), strict=True)
    return OperatingCurve(
        np.array([np.mean(c != cheap) for c in choices]),
        np.array([r.mean() for r in right]),
        np.array([c.mean() for c in cost]),
    )


def pgr(curve: OperatingCurve) -> np.ndarray:
    """Performance gap recovered at each share."""
    weak, strong = curve.accuracy[0], curve.accuracy[-1]
    return (curve.accuracy - weak) / (strong - weak)


def apgr(curve: OperatingCurve) -> float:
    return float(np.trapezoid(pgr(curve), curve.strong_share))


def cpt(curve: OperatingCurve, target: float) -> float:
    """Smallest share of strong calls reaching PGR ≥ ``target`` (1 if never)."""
    hit = pgr(curve) >= target - 1e-12
    return float(curve.strong_share[hit.argmax()]) if hit.any() else 1.0


def aiq(cost: np.ndarray, quality: np.ndarray) -> float:
    """Area under the non-decreasing convex hull of (cost, quality), over the cost range."""
    order = np.argsort(cost, kind="stable")
    c, q = np.asarray(cost)[order], np.maximum.accumulate(np.asarray(quality)[order])
    hull: list[tuple[float, float]] = []
    for point in zip(c.tolist(), q.tolist(), strict=True):
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (x2 - x1) * (point[1] - y1) - (y2 - y1) * (point[0] - x1) >= 0:
                hull.pop()  # the middle point lies on or below the chord: not on the hull
            else:
                break
        hull.append(point)
    xs, ys = np.array(hull).T
    span = c[-1] - c[0]
    return float(np.trapezoid(ys, xs) / span) if span > 0 else float(q[-1])


def router_metrics(curve: OperatingCurve, two_options: bool = True) -> RouterMetrics:
    """APGR, CPT(50 %), CPT(80 %) and AIQ of an operating curve."""
    quality = aiq(curve.cost, curve.accuracy)
    if not two_options:
        return RouterMetrics(None, None, None, quality)
    return RouterMetrics(apgr(curve), cpt(curve, 0.5), cpt(curve, 0.8), quality)
