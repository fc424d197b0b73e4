"""Training vs test-time allocation: the elasticity bar, published calibration points and the
query-volume × difficulty channel map.

    python -m costcorrect.validate allocation --write docs/allocation.md
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from costcorrect.allocate.curves import BestOfN, BetaCoverage, Fit, arc_elasticity, fit_curve
from costcorrect.allocate.threshold import (
    AllocationDecision,
    ChannelMap,
    allocation_threshold,
    channel_map,
    routed_cost,
)
from costcorrect.catalog.published_economics import AllocationPoint, allocation_points
from costcorrect.route.patterns import published_systems

SAMPLES = np.unique(np.geomspace(1, 1024, 60).round())
ACCURACIES = (1e-5, 1e-4, 0.001, 0.005, 0.01, 0.05, 0.2, 0.5, 0.9)
BETA_DIFFICULTIES = ((0.2, 2.0), (0.5, 0.5), (2.0, 1.0))
# The illustrative operating point of the channel map (assumptions, stated in the doc).
TRAINING_SPEND_USD = 5e6
COST_PER_GENERATION_USD = 0.002
GENERATIONS = 4.0


@dataclass(frozen=True)
class PointRow:
    point: AllocationPoint
    elasticity: float
    interval: tuple[float, float] | None  # 95 %, from each accuracy's Wilson interval


def elasticity_interval(point: AllocationPoint) -> tuple[float, float] | None:
    """95 % range of the arc elasticity when each end's accuracy is a share of the point's
    ``questions`` (Wilson intervals, the ends taken at their most apart and closest); None
    when the benchmark size is not stated."""
    if point.questions is None:
        return None
    from scipy.stats import binomtest

    def wilson(accuracy: float) -> tuple[float, float]:
        k = round(accuracy * point.questions)
        ci = binomtest(k, point.questions).proportion_ci(method="wilson")
        return max(ci.low, 1e-9), ci.high

    (lo_low, lo_high), (hi_low, hi_high) = wilson(point.low.accuracy), wilson(point.high.accuracy)
    span = np.log(point.high.compute / point.low.compute)
    return float(np.log(hi_low / lo_high) / span), float(np.log(hi_high / lo_low) / span)


@dataclass(frozen=True)
class AllocationReport:
    points: list[PointRow]
    search_fit: Fit
    eta_training: float
    best_of_n_max: dict[float, float]
    beta_max: dict[tuple[float, float], float]
    search_eta: dict[float, float]
    decisions: list[tuple[str, AllocationDecision]]
    channels: ChannelMap
    routed: list[tuple[str, float, float]]


def run() -> AllocationReport:
    points = [
        PointRow(
            p,
            arc_elasticity((p.low.compute, p.low.accuracy), (p.high.compute, p.high.accuracy)),
            elasticity_interval(p),
        )
        for p in allocation_points()
        if p.axis != "equivalence"
    ]
    brown = next(r.point for r in points if r.point.id.startswith("brown"))
    search = fit_curve(
        "power-law",
        [brown.low.compute, brown.high.compute],
        [brown.low.accuracy, brown.high.accuracy],
    )
    eta_training = next(r.elasticity for r in points if r.point.axis == "training")
    exponent = search.curve.B
    search_eta = {p: float(exponent * -np.log(p)) for p in ACCURACIES}
    decisions = []
    for row in points:
        if row.point.axis != "samples":
            continue
        decision = allocation_threshold(
            row.elasticity,
            eta_training,
            inference_spend=1.0,
            training_spend=1.0,
            cost_per_generation=COST_PER_GENERATION_USD,
            generations=GENERATIONS,
        )
        decisions.append((row.point.id, decision))
    channels = channel_map(
        exponent,
        GENERATIONS,
        eta_training,
        TRAINING_SPEND_USD,
        COST_PER_GENERATION_USD,
        np.geomspace(1e2, 1e10, 161),
        np.geomspace(1e-6, 0.99, 160),
    )
    routed = [
        (system.id, point.premium, routed_cost(1.0, point.premium))
        for system, point in published_systems()
    ]
    return AllocationReport(
        points,
        search,
        eta_training,
        {p: float(BestOfN(p).elasticity(SAMPLES).max()) for p in ACCURACIES},
        {ab: float(BetaCoverage(*ab).elasticity(SAMPLES).max()) for ab in BETA_DIFFICULTIES},
        search_eta,
        decisions,
        channels,
        routed,
    )


def _split_from_data(report: AllocationReport) -> str:
    """Whether the published points separate providers by their spend ratio D_I/D_T."""
    samples = [r for r in report.points if r.point.axis == "samples" and r.interval]
    training = next(r for r in report.points if r.point.axis == "training")
    highest = max(r.interval[1] for r in samples)
    t_high = training.interval[1] if training.interval else training.elasticity
    most = (highest - 1.0) / t_high  # the least negative left side within the intervals
    if highest < 1.0:
        return (
            "**Frontier vs commodity, from these data.** A provider's side of the threshold is "
            "set by its spend ratio D_I/D_T — low for a lab that trains as much as it serves, "
            "high for a host that serves open models and trains little. A split would need "
            "some test-time point whose left side (η^ρ − 1)/η^T is positive, so that "
            "providers below that spend ratio take rollouts and those above it take training. "
            f"Even at the top of each point's 95 % interval η^ρ stays below 1 (largest "
            f"{highest:.3f}), so the left side stays negative (at most {most:+.3f}, with η^T "
            "at the top of its interval) and every provider, whatever its D_I/D_T, falls on "
            "the training side at these operating points: **the published points show no "
            "frontier/commodity split.** Snell et al.'s "
            "curves are not in the catalog as accuracy pairs (their abstract states a "
            "FLOPs-matched equivalence, shown above for context), so they cannot be placed."
        )
    return (
        "**Frontier vs commodity, from these data.** Some test-time point's interval reaches "
        f"η^ρ = {highest:.3f} > 1: providers whose D_I/D_T is below (η^ρ − 1)/η^T could take "
        "rollouts, the rest training."
    )


def _split_sentence(channels: ChannelMap) -> str:
    wins = channels.break_even > 0
    if not wins.any():
        return (
            "At this operating point rollouts win nowhere on the map: training takes every dollar."
        )
    hardest = float(channels.accuracy[wins].max())
    return (
        f"Rollouts win only on tasks with single-sample accuracy below {hardest:.2g}, and only "
        f"below {channels.break_even.max():,.0f} queries at the hardest; every easier or "
        "more heavily served task falls on the training side — frontier work on the inference "
        "channel, commodity tiers on training."
    )


def report_markdown(report: AllocationReport, figure: str | None = None) -> str:
    """docs/allocation.md: every number computed here."""
    b = report.search_fit.curve.B
    threshold_accuracy = float(np.exp(-1 / b))
    lines = [
        "# Training vs test-time allocation",
        "",
        "Generated by `python -m costcorrect.validate allocation --write docs/allocation.md` "
        "(spec/economics.md §4). With cost per correct C ∝ n/α, the next dollar lowers C "
        "faster as rollouts iff **(η_α^ρ − 1)/η_α^T > D_I/D_T**; with D_I = Q·K·n the "
        "rollouts win below the break-even volume Q* = D_T·(η^ρ − 1)/(η^T·K·n). Library: "
        "`costcorrect.allocate`; CLI: `costcorrect allocate threshold|fit`.",
        "",
        "## The bar: rollouts must be more than unit-elastic",
        "",
        "Largest elasticity η = ∂ln α/∂ln n over n = 1…1024 samples:",
        "",
        "| single-sample accuracy p | best-of-n coverage 1 − (1−p)^n | verifier-guided search, "
        "−ln α = −ln p · n^(−B), at n = 1 |",
        "|---|---|---|",
        *(
            f"| {p:g} | {report.best_of_n_max[p]:.3f} | {report.search_eta[p]:.3f} |"
            for p in ACCURACIES
        ),
        "",
        "| Beta(a, b) difficulty of p | max η of averaged coverage 1 − B(a, b+n)/B(a, b) |",
        "|---|---|",
        *(f"| ({a:g}, {bb:g}) | {v:.3f} |" for (a, bb), v in report.beta_max.items()),
        "",
        "Plain best-of-n coverage never exceeds η = 1 (η = y/(e^y − 1) with "
        "y = −n·ln(1−p); averaging over a difficulty distribution keeps it ≤ 1 — a property "
        "test checks both), so it never clears the bar whatever the spend ratio. Search whose "
        f"accuracy follows the exponentiated power law (B = {b:.3f}, fitted to Brown et al.'s "
        f"two SWE-bench points) has η = B·(−ln α), above 1 only where α < e^(−1/B) = "
        f"{threshold_accuracy:.2g}: hard, low-α tasks.",
        "",
        "## Published calibration points",
        "",
        "Arc elasticities η = Δln α/Δln x between each report's two points "
        "(`src/costcorrect/catalog/data/allocation_points.yaml`, with references and how each "
        "value was checked):",
        "",
        "| point | setting | axis | from → to | η [95 %] | questions | how checked |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {r.point.id} | {r.point.setting} | {r.point.axis} | {r.point.low.accuracy:.3f} @ "
            f"{r.point.low.compute:g} → {r.point.high.accuracy:.3f} @ {r.point.high.compute:g} | "
            f"{r.elasticity:.3f}"
            + (f" [{r.interval[0]:.3f}, {r.interval[1]:.3f}]" if r.interval else "")
            + f" | {r.point.questions or '—'} | {r.point.checked} |"
            for r in report.points
        ),
        "",
        "Benchmark sizes, the unit of each accuracy's uncertainty: "
        + "; ".join(
            f"{r.point.id}: {r.point.questions_source}"
            for r in report.points
            if r.point.questions_source
        )
        + ".",
        "",
        "With η^T from the training point, the inference side of the threshold for each "
        "test-time point (the spend ratio D_I/D_T below which rollouts would win; negative "
        "means never):",
        "",
        "| test-time point | η^ρ | η^T | (η^ρ − 1)/η^T | rollouts can win? |",
        "|---|---|---|---|---|",
        *(
            f"| {name} | {d.eta_rollouts:.3f} | {d.eta_training:.3f} | {d.lhs:+.3f} | "
            f"{'yes, below D_I/D_T = ' + format(d.lhs, '.3f') if d.lhs > 0 else 'no'} |"
            for name, d in report.decisions
        ),
        "",
        "None of the published test-time points is more than unit-elastic between its two "
        "ends: at these operating points the next dollar belongs to training, however few "
        "queries are served. (The training point's compute ratio is an assumption; a larger "
        "ratio lowers η^T and raises the left side, but it stays negative while η^ρ < 1.)",
        "",
        _split_from_data(report),
        "",
        "## Which channel, by query volume and difficulty",
        "",
        f"Operating point (illustrative assumptions): training spend D_T = "
        f"${TRAINING_SPEND_USD:,.0f}, K = ${COST_PER_GENERATION_USD} per generation, "
        f"n = {GENERATIONS:g} generations per answer, η^T = {report.eta_training:.3f} (the "
        f"training point), verifier-guided search with B = {b:.3f}. Rollouts win where the "
        "volume is below Q*(p); Q* is zero wherever η^ρ ≤ 1.",
        "",
        "| single-sample accuracy p | η^ρ at n | Q* (queries) |",
        "|---|---|---|",
    ]
    for p in ACCURACIES:
        i = int(np.argmin(np.abs(report.channels.accuracy - p)))
        lines.append(
            f"| {report.channels.accuracy[i]:.3g} | {report.channels.eta_rollouts[i]:.3f} | "
            f"{report.channels.break_even[i]:,.0f} |"
        )
    if figure:
        lines += ["", f"![channel map]({figure})"]
    lines += [
        "",
        _split_sentence(report.channels),
        "",
        "## Composition with routing",
        "",
        "C_routed = C_channel · (1 − Π): each published system's premium applied to a "
        "channel cost of 1:",
        "",
        "| system | Π | C_routed / C_channel |",
        "|---|---|---|",
        *(f"| {name} | {premium:.3f} | {cost:.3f} |" for name, premium, cost in report.routed),
    ]
    return "\n".join(lines) + "\n"
