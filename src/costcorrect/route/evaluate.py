"""Routing on real per-query data: train routers on one split, predict the premium's sign from
the training split's (κ, Δ, γ), and measure the realised premium on the held-out split with
bootstrap intervals, beside RouteLLM's APGR/CPT and RouterBench's AIQ."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from costcorrect.route.measure import MeasureIntervals, RoutingMeasure, measure, measure_intervals
from costcorrect.route.metrics import (
    RouterMetrics,
    price_curve,
    ranking_curve,
    router_metrics,
)
from costcorrect.route.outcomes import Outcomes, fixed_choice
from costcorrect.route.routers import LogisticRouter, cascade_choice, fit_price, route_by_price

PRICE_SWEEP = np.geomspace(1e-3, 1e3, 61)  # multiples of the fitted price λ (K > 2 curves)


@dataclass(frozen=True)
class RoutingData:
    """Per-query outcomes of K options, the prompt texts (router features) and, optionally,
    a self-verification accept bit on the cheapest option's answer."""

    name: str
    outcomes: Outcomes
    texts: np.ndarray | None = None
    accepted: np.ndarray | None = None


@dataclass(frozen=True)
class OptionSummary:
    name: str
    accuracy: float
    cost_per_query: float
    cost_per_correct: float


@dataclass(frozen=True)
class RouterResult:
    """One router under one pricing: the training split's estimates (the prediction), the test
    split's measure with intervals, and the metrics."""

    router: str
    pricing: str
    train: RoutingMeasure
    test: RoutingMeasure
    intervals: MeasureIntervals
    metrics: RouterMetrics

    @property
    def predicted_pays(self) -> bool:
        return self.train.first_order > 0

    @property
    def routes_nothing(self) -> bool:
        """Whether the router sends every held-out query to the fixed option at no overhead,
        so that Π = 0 exactly in every resample whatever the threshold says."""
        return self.test.shares[self.test.fixed_option] == 1.0 and self.test.gamma == 0.0

    @property
    def sign_check(self) -> str:
        """The threshold's prediction against the held-out premium's 95 % interval: "tie" when
        the router routes nothing (no test of the threshold); else "pays" is confirmed by an
        interval above 0, "does not pay" by one at or below 0; otherwise "indeterminate"."""
        if self.routes_nothing:
            return "tie"
        low, high = self.intervals.premium.low, self.intervals.premium.high
        confirms_pays, confirms_not = low > 0, high <= 1e-12
        if not (confirms_pays or confirms_not):
            return "indeterminate"
        return "agrees" if self.predicted_pays == confirms_pays else "disagrees"


@dataclass(frozen=True)
class RoutingStudy:
    data: str
    train_queries: int
    test_queries: int
    options: list[OptionSummary]
    routers: list[RouterResult] = field(default_factory=list)

    def to_dict(self) -> dict:
        out = asdict(self)
        for entry, result in zip(out["routers"], self.routers, strict=True):
            entry["predicted_pays"] = result.predicted_pays
            entry["sign_check"] = result.sign_check
        return out


def _options(outcomes: Outcomes) -> list[OptionSummary]:
    acc = outcomes.correct.mean(axis=0)
    spend = outcomes.cost.mean(axis=0)
    return [
        OptionSummary(name, float(a), float(c), float(c / a) if a > 0 else float("inf"))
        for name, a, c in zip(outcomes.names, acc, spend, strict=True)
    ]


def _overhead(outcomes: Outcomes, share: float) -> float:
    """``share`` of the fixed policy's cost per query."""
    return share * float(outcomes.chosen(fixed_choice(outcomes))[0].mean())


def with_price_ratio(outcomes: Outcomes, ratio: float) -> Outcomes:
    """Two options: the dearer one's costs scaled so its mean cost per query is ``ratio`` ×
    the cheaper one's."""
    mean = outcomes.cost.mean(axis=0)
    cheap, dear = int(np.argmin(mean)), int(np.argmax(mean))
    cost = outcomes.cost.copy()
    cost[:, dear] *= ratio * mean[cheap] / mean[dear]
    return Outcomes(outcomes.names, cost, outcomes.correct)


def _result(
    router, pricing, train, test, train_choice, test_choice, overheads, curve, resamples, seed
) -> RouterResult:
    train_overhead, test_overhead = overheads
    point = measure(test, test_choice, test_overhead)
    return RouterResult(
        router,
        pricing,
        measure(train, train_choice, train_overhead),
        point,
        measure_intervals(test, test_choice, test_overhead, resamples, seed, point=point),
        router_metrics(curve, len(test.names) == 2),
    )


def evaluate_routing(
    data: RoutingData,
    seed: int = 0,
    test_share: float = 0.5,
    resamples: int = 1000,
    router_overhead: float = 0.0,
    price_ratios: tuple[float, ...] = (),
) -> RoutingStudy:
    """Train on a seeded split, predict from the training split's (κ, Δ, γ), measure on the
    rest. ``router_overhead``: the learned router's cost as a share of the fixed per-query
    cost. ``price_ratios`` (two options): also evaluate with the dearer option re-priced to
    each ratio × the cheaper one's mean cost per query (the routers are trained once)."""
    rng = np.random.default_rng(seed)
    n = data.outcomes.queries
    test_mask = np.zeros(n, bool)
    test_mask[rng.permutation(n)[: round(test_share * n)]] = True
    two = len(data.outcomes.names) == 2
    pricings = [("list prices", data.outcomes)]
    if two:
        pricings += [
            (f"dearer = {r:g}× cheaper", with_price_ratio(data.outcomes, r)) for r in price_ratios
        ]
    router = predicted = None
    if data.texts is not None:
        texts = np.asarray(data.texts, dtype=object)
        router = LogisticRouter(seed=seed).fit(texts[~test_mask], data.outcomes.correct[~test_mask])
        predicted = router.predict_correct(texts[test_mask])
    accepted = None if data.accepted is None else np.asarray(data.accepted)
    results = []
    for pricing, outcomes in pricings:
        train, test = outcomes.take(~test_mask), outcomes.take(test_mask)
        if router is not None:
            expected = train.cost.mean(axis=0)
            price = fit_price(train, router.crossfit_)
            if two:
                strong = int(np.argmax(expected))
                curve = ranking_curve(test, predicted[:, strong] - predicted[:, 1 - strong], seed)
            else:
                curve = price_curve(
                    test, [route_by_price(expected, predicted, price * m) for m in PRICE_SWEEP]
                )
            overhead = _overhead(train, router_overhead)
            results.append(
                _result(
                    "logistic on prompt text",
                    pricing,
                    train,
                    test,
                    route_by_price(expected, router.crossfit_, price),
                    route_by_price(expected, predicted, price),
                    (overhead, overhead),
                    curve,
                    resamples,
                    seed,
                )
            )
        if accepted is not None:
            train_choice, train_overhead = cascade_choice(train, accepted[~test_mask])
            test_choice, test_overhead = cascade_choice(test, accepted[test_mask])
            curve = (
                ranking_curve(test, 1 - accepted[test_mask], seed)
                if two
                else price_curve(test, [test_choice])
            )
            results.append(
                _result(
                    "cascade on self-verification",
                    pricing,
                    train,
                    test,
                    train_choice,
                    test_choice,
                    (train_overhead, test_overhead),
                    curve,
                    resamples,
                    seed,
                )
            )
    return RoutingStudy(
        data.name, int((~test_mask).sum()), int(test_mask.sum()), _options(data.outcomes), results
    )
