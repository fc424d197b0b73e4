"""Paper-ready figures (matplotlib, PNG + SVG) of the frontier and break-even surfaces, each
saved beside the CSV it is drawn from."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display needed

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.ticker import NullFormatter

from costcorrect.io import atomic_write

#: one colour per architecture, the same in every figure
COLOURS = {
    "colocated": "#4C72B0",
    "chunked": "#55A868",
    "disaggregated": "#C44E52",
    "kvpool": "#8172B2",
}
FORMATS = ("png", "svg")


def save(fig, stem: Path, caption: str, bottom: float = 0.24) -> list[Path]:
    """Write ``fig`` as ``stem``.png and .svg (atomically) with ``caption`` below it
    (``bottom``: the figure fraction kept free for it)."""
    fig.subplots_adjust(bottom=bottom)
    fig.text(0.02, 0.01, caption, fontsize=7, wrap=True, va="bottom")
    paths = []
    for fmt in FORMATS:
        buffer = io.BytesIO()
        # no date and fixed SVG ids, so that regenerating a figure gives the same bytes
        metadata = {"Date": None} if fmt == "svg" else {}
        with plt.rc_context({"svg.hashsalt": "costcorrect"}):
            fig.savefig(buffer, format=fmt, dpi=160, bbox_inches="tight", metadata=metadata)
        path = stem.with_suffix(f".{fmt}")
        atomic_write(path, buffer.getvalue())
        paths.append(path)
    plt.close(fig)
    return paths


def frontier_figure(f, stem: Path) -> list[Path]:
    """Which architecture is cheapest at each contract, with cost contours of the cheapest and
    the Pareto points."""
    winner = f.winner.astype(float)
    winner[winner < 0] = np.nan
    cheapest = np.min(f.cost, axis=0)
    colours = [COLOURS.get(a, "#999999") for a in f.architectures]
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    ax.pcolormesh(
        f.tpot_s * 1e3,
        f.ttft_s,
        winner,
        cmap=ListedColormap(colours),
        vmin=-0.5,
        vmax=len(colours) - 0.5,
        shading="nearest",
        rasterized=True,  # a bitmap inside the SVG: small files, crisp axes and labels
    )
    finite = np.isfinite(cheapest)
    if finite.sum() > 3 and np.ptp(cheapest[finite]) > 0:
        levels = np.unique(np.quantile(cheapest[finite], [0.1, 0.3, 0.5, 0.7, 0.9]))
        lines = ax.contour(
            f.tpot_s * 1e3, f.ttft_s, np.where(finite, cheapest, np.nan), levels, colors="k"
        )
        ax.clabel(lines, fmt=lambda v: f"${v:,.2f}/M", fontsize=7)
    i, j = np.nonzero(f.pareto)
    ax.scatter(f.tpot_s[j] * 1e3, f.ttft_s[i], marker="o", s=14, facecolors="none", edgecolors="k")
    for name, colour in zip(f.architectures, colours, strict=True):
        ax.scatter([], [], marker="s", color=colour, label=name)
    ax.scatter([], [], marker="o", facecolors="none", edgecolors="k", label="Pareto point")
    ax.set_xscale("log")
    ax.set_yscale("log")
    q = f"p{f.quantile * 100:g}"
    ax.set_xlabel(f"{q} TPOT bound (ms)")
    ax.set_ylabel(f"{q} TTFT bound (s)")
    ax.set_title(f"Cheapest architecture per contract: {f.model}, {f.workload}")
    ax.legend(loc="upper left", fontsize=8, framealpha=0.9)
    caption = (
        "Colour: architecture with the lowest $ per million SLO-compliant output tokens "
        "(analytic engine, best configuration per architecture); white: no configuration "
        "meets the contract. Lines: cost of the cheapest option. Circles: Pareto set of "
        "(cost, TTFT, TPOT)."
    )
    return save(fig, stem, caption)


def break_even_figure(surfaces, stem: Path) -> list[Path]:
    """One panel per GPU: log₂(C_disaggregated / C_colocated) over input/output ratio × the
    surface's axis, the break-even contour in black."""
    from costcorrect.search.breakeven import AXES

    n = len(surfaces)
    cols = 2 if n > 1 else 1
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 4.0 * rows), squeeze=False)
    axis_name, unit = AXES[surfaces[0].axis]
    scale = 1e-9 if surfaces[0].axis == "kv-bandwidth" else 1.0
    mesh = None
    for ax, s in zip(axes.flat, surfaces, strict=False):
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.clip(np.log2(s.ratio), -2.0, 2.0)
        mesh = ax.pcolormesh(
            s.io_ratio,
            s.y * scale,
            z,
            cmap="RdBu",
            vmin=-2,
            vmax=2,
            shading="nearest",
            rasterized=True,
        )
        if np.nanmin(z) < 0 < np.nanmax(z):
            ax.contour(s.io_ratio, s.y * scale, np.nan_to_num(z, nan=2.0), [0.0], colors="k")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("mean input / output tokens")
        ax.set_ylabel(f"{axis_name} ({unit})")
        ax.set_title(f"{s.gpu} (TP{s.tp}), {s.model}", fontsize=10)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.subplots_adjust(right=0.84, hspace=0.4, wspace=0.3)
    bar = fig.colorbar(mesh, cax=fig.add_axes((0.87, 0.3, 0.02, 0.55)))
    bar.set_label("log₂(C_disaggregated / C_colocated)\nred: disaggregation cheaper")
    caption = (
        "Cost per million SLO-compliant output tokens, cheapest option on each side "
        "(colocated: whole-prompt or chunked; disaggregated: 1:1, 1:2, 2:1 prefill:decode), "
        "analytic engine, fleets of whole units. Black line: break-even. White: neither "
        "meets the contract; deep blue also where only colocation does."
    )
    return save(fig, stem, caption, bottom=0.14 if rows > 1 else 0.24)


#: one marker colour per paper's system in the published-vs-predicted figure
SYSTEM_COLOURS = {
    "vLLM": "#4C72B0",
    "Sarathi-Serve": "#55A868",
    "DistServe": "#C44E52",
    "Splitwise": "#8172B2",
    "Mooncake": "#CCB974",
}


def reproduce_figure(frame, stem: Path, band: float) -> list[Path]:
    """Predicted ÷ published per re-derived claim (1 inside a published range; against its
    nearest end outside it), log scale, with the ±``band`` miss threshold shaded. ``frame``
    has columns id, system and error (predicted ÷ published − 1)."""
    ratio = 1.0 + frame["error"].to_numpy(dtype=float)
    n = len(frame)
    fig, ax = plt.subplots(figsize=(6.4, 0.32 * n + 1.6))
    ax.axvspan(1 - band, 1 + band, color="0.88", label=f"within ±{band:.0%}")
    ax.axvline(1.0, color="k", lw=1)
    y = np.arange(n)[::-1]
    for system in dict.fromkeys(frame["system"]):
        pick = (frame["system"] == system).to_numpy()
        colour = SYSTEM_COLOURS.get(system, "#999999")
        ax.scatter(ratio[pick], y[pick], color=colour, s=30, label=system, zorder=3)
    ax.set_yticks(y, frame["id"], fontsize=8)
    ax.set_xscale("log")
    span = max(np.max(np.abs(np.log10(ratio))), np.log10(1 + band)) * 1.15
    ax.set_xlim(10**-span, 10**span)
    ticks = [t for t in (0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20) if 10**-span <= t <= 10**span]
    ax.set_xticks(ticks, [f"{t:g}×" for t in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("predicted ÷ published (1: inside a published range)")
    ax.set_title("Five serving papers: re-derived claims")
    ax.legend(fontsize=7, loc="lower right", framealpha=0.9)
    caption = (
        "One row per re-derived claim of docs/reproduce.md, each on its paper's own setup "
        "(capacity ratios, goodputs, batch sizes, KV-transfer shares). No per-paper factor is "
        "fitted; the notes in the report give the likely reason for each miss."
    )
    return save(fig, stem, caption, bottom=0.18)


def regret_figure(curve, stem: Path) -> list[Path]:
    """Regret of choosing a verifier pair after N probes: the joint mechanism vs per-component
    procurement, with the √((log K1 + log K2)/N) rate, log-log."""
    fig, ax = plt.subplots(figsize=(6.0, 4.6))
    ax.loglog(
        curve.probes, curve.joint, "o-", label=f"joint mechanism (slope {curve.joint_slope:.2f})"
    )
    ax.loglog(curve.probes, curve.marginal, "s--", label="per-component procurement")
    ax.axhline(
        curve.marginal_limit, color="#999999", lw=1, label="its limit: the best-marginal pair"
    )
    scale = curve.joint[0] / curve.rate[0]
    ax.loglog(
        curve.probes, curve.rate * scale, ":", color="k", label="√((log K1 + log K2)/N), scaled"
    )
    ax.set_xlabel("probes N")
    ax.set_ylabel("regret in Cost-correct (× CPM)")
    ax.set_title(f"Selecting among {curve.pairs} verifier pairs")
    ax.legend(fontsize=8)
    caption = (
        "Each pair's accept rate is its verifiers' marginals' product plus its own covariance. "
        "Buying each verifier on its own score converges to the best-marginal pair, which the "
        "covariance makes a costlier pipeline; scoring the joint outcome finds the cheapest "
        "with regret falling as N^-1/2 (seeded simulation, AND composition)."
    )
    return save(fig, stem, caption)


def reliability_figure(diagram, stem: Path, title: str) -> list[Path]:
    """Observed frequency against mean report per bin (marker area ∝ count), with the
    diagonal of perfect calibration."""
    fig, ax = plt.subplots(figsize=(4.8, 4.8))
    ax.plot([0, 1], [0, 1], color="k", lw=1, label="perfectly calibrated")
    size = 400 * diagram.count / diagram.count.max()
    ax.scatter(
        diagram.mean_report,
        diagram.observed,
        s=size,
        color=COLOURS["colocated"],
        label="bins (area ∝ count)",
        zorder=3,
    )
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("mean reported probability")
    ax.set_ylabel("observed frequency of correct")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    return save(fig, stem, "Reliability diagram; distance from the diagonal is miscalibration.")


def routing_plane_figure(systems, empirical, stem: Path) -> list[Path]:
    """Published systems and measured routers on the κΔ–γ plane: routing pays above the
    diagonal κΔ = γ. ``systems``: (label, κΔ, γ, independently calibrated); ``empirical``:
    (label, κΔ, γ) estimates."""
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    points = [(g, o) for _, g, o, _ in systems] + [(g, o) for _, g, o in empirical]
    values = [v for pair in points for v in pair if np.isfinite(v)]
    top = max(1.0, max(values, default=1.0)) * 1.05
    low = min(0.0, min(values, default=0.0)) * 1.05
    line = np.array([low, top])
    ax.fill_between(line, line, top, color="#55A868", alpha=0.08, label="routing pays: κΔ > γ")
    ax.plot(line, line, color="k", lw=1, label="break-even κΔ = γ")
    colour = COLOURS["disaggregated"]
    for label, gain, overhead, independent in systems:
        face = colour if independent else "none"
        ax.scatter(overhead, gain, s=40, facecolors=face, edgecolors=colour, zorder=3)
        ax.annotate(label, (overhead, gain), fontsize=7, xytext=(4, 3), textcoords="offset points")
    shown = [(g, o) for _, g, o in empirical if np.isfinite(g) and np.isfinite(o)]
    if shown:
        gains, overheads = np.array(shown).T
        ax.scatter(
            overheads,
            gains,
            s=18,
            marker="s",
            color=COLOURS["colocated"],
            zorder=3,
            label="RouteLLM data: learned router / cascade (training estimates)",
        )
    ax.scatter([], [], s=40, color=colour, label="published, independently calibrated")
    ax.scatter(
        [], [], s=40, facecolors="none", edgecolors=colour, label="published, not independent"
    )
    ax.set_xlim(low, top)
    ax.set_ylim(low, top)
    ax.set_xlabel("γ: router overhead / baseline cost")
    ax.set_ylabel("κΔ: share of the oracle saving captured × oracle saving")
    ax.set_title("Routing premium Π ≈ κΔ − γ")
    ax.legend(fontsize=7, loc="lower right")
    caption = (
        "Each published system's own parameters mapped to (κ, Δ, γ) by its pattern "
        "(routing_systems.yaml); hollow: an input assumed or solved from the published "
        "speedup, so the point is placed, not tested; squares: routers trained on RouteLLM's "
        "outcomes at list and re-scaled prices. Distance above the diagonal is the premium."
    )
    return save(fig, stem, caption)


def channel_figure(channels, stem: Path, caption: str) -> list[Path]:
    """Which channel the next dollar should go to over query volume × single-sample accuracy,
    with the break-even volume Q*(p)."""
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    ax.pcolormesh(
        channels.queries,
        channels.accuracy,
        channels.inference.astype(float),
        cmap=ListedColormap([COLOURS["colocated"], COLOURS["disaggregated"]]),
        vmin=0,
        vmax=1,
        shading="nearest",
        rasterized=True,
    )
    wins = channels.break_even > 0
    ax.plot(
        channels.break_even[wins],
        channels.accuracy[wins],
        color="k",
        lw=1.2,
        label="break-even volume Q*",
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("queries served (Q)")
    ax.set_ylabel("single-sample accuracy p (task difficulty)")
    ax.scatter(
        [],
        [],
        marker="s",
        color=COLOURS["disaggregated"],
        label="next dollar: rollouts (inference)",
    )
    ax.scatter([], [], marker="s", color=COLOURS["colocated"], label="next dollar: training")
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title("Frontier vs commodity: where the next dollar goes")
    return save(fig, stem, caption)


def energy_levers_figure(study, batches, stem: Path) -> list[Path]:
    """Tokens/s vs J/token of every SM clock lock and power cap setting at a few batch sizes
    (decode); the default clock starred."""
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    for batch, colour in zip(batches, ("#4C72B0", "#55A868", "#C44E52", "#8172B2"), strict=False):
        for lever, marker, style in (("clock", "o", "-"), ("cap", "s", ":")):
            pts = sorted(
                (p for p in study.points if p.batch == batch and p.lever == lever),
                key=lambda p: p.setting,
            )
            ax.plot(
                [p.tokens_per_s for p in pts],
                [p.j_per_token for p in pts],
                style,
                marker=marker,
                ms=3,
                color=colour,
                label=f"batch {batch:g}: {'clock lock' if lever == 'clock' else 'power cap'}",
            )
        base = next(p for p in study.points if p.lever == "default" and p.batch == batch)
        ax.scatter(base.tokens_per_s, base.j_per_token, s=60, marker="*", color=colour, zorder=4)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("decode throughput (tokens/s)")
    ax.set_ylabel("energy (J per token)")
    ax.set_title(f"{study.model} decode on {study.gpu}: clock lock vs power cap")
    ax.legend(fontsize=6, ncol=2)
    caption = (
        "Stars: default clock. Lower clock locks move down (less energy) at almost constant "
        "throughput until decode turns compute-bound, then left; caps above the default "
        "power sit on the star, lower caps act as a clock lock."
    )
    return save(fig, stem, caption)


def threshold_shift_figure(m, inference, training, stem: Path, caption: str) -> list[Path]:
    """The spend-ratio bar D_I/D_T below which rollouts win, against the rollout price m, for
    the two readings of harvested rollouts."""
    fig, ax = plt.subplots(figsize=(6.0, 4.4))
    ax.plot(m, inference, color=COLOURS["disaggregated"], label="rollouts as inference spend")
    ax.plot(m, training, color=COLOURS["colocated"], label="rollouts as training spend")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xlabel("marginal-of-idle price m = c_idle / c_dedicated")
    ax.set_ylabel("bar on D_I / D_T (rollouts win below it)")
    ax.set_title("Where the next dollar goes, with harvested rollouts")
    ax.legend(fontsize=8)
    return save(fig, stem, caption)


def throughput_curve_figure(curve, label: str, stem: Path) -> list[Path]:
    """Output tokens/s per GPU against tokens/s per user, one point per concurrency."""
    frame = curve.frame()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    x, y = frame["output_tokens_per_s_per_user"], frame["output_tokens_per_s_per_gpu"]
    ax.plot(x, y, "o-", color=COLOURS.get(curve.architecture, "#4C72B0"))
    for users, xi, yi in zip(frame["users"], x, y, strict=True):
        ax.annotate(f"{users}", (xi, yi), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xlabel("output tokens/s per user (1 / mean TPOT)")
    ax.set_ylabel("output tokens/s per GPU")
    ax.set_title(label, fontsize=9)
    ax.grid(alpha=0.3)
    caption = (
        "Closed loop (N users, each sending its next request when the previous completes; "
        "labels: N). Simulated by costcorrect serve curve."
    )
    return save(fig, stem, caption, bottom=0.18)


def vcpd_waterfall_figure(v, stem: Path) -> list[Path]:
    """VCpD from the old stack to the new one on a log axis, the levers switched in turn (their
    factors multiply to the total), each lever's factor alone marked beside its step."""
    fig, ax = plt.subplots(figsize=(7.2, 4.2))
    level = v.old.tokens_per_usd
    floor = min(p.tokens_per_usd for p in (v.old, *v.path)) / 4  # where the end bars start
    ax.bar(0, level - floor, bottom=floor, color="#999999")
    labels = ["old stack"]
    alone = list(v.factors.values())
    for i, (name, factor) in enumerate(v.path_factors.items(), start=1):
        top = level * factor
        colour = "#55A868" if factor >= 1 else "#C44E52"
        ax.bar(i, abs(top - level), bottom=min(level, top), color=colour)
        ax.text(
            i, max(level, top), f"×{factor:.2f}\n(alone ×{alone[i - 1]:.2f})",
            ha="center", va="bottom", fontsize=7,
        )  # fmt: skip
        labels.append(name)
        level = top
    ax.bar(len(labels), v.new.tokens_per_usd - floor, bottom=floor, color="#4C72B0")
    labels.append("new stack")
    ax.set_yscale("log")
    ax.set_xticks(range(len(labels)), labels, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("answer tokens per $ (α × 10⁶ / CPM)")
    ax.set_title(f"VCpD of {v.model}: ×{v.total_gain:.1f} from the old stack to the new")
    ceiling = max(p.tokens_per_usd for p in (v.old, *v.path)) * 4  # room for the labels
    ax.set_ylim(floor, ceiling)
    caption = (
        f"{v.model}, workload {v.workload}, {v.contract}; old: {v.old.setup}; new: "
        f"{v.new.setup}. Levers switched in turn (simulator); alone: the same lever switched "
        f"on the old stack only — their product ×{v.total_gain / v.interaction:.3g}, "
        f"interaction ×{v.interaction:.3g}."
    )
    return save(fig, stem, caption, bottom=0.3)


def compression_figure(c, stem: Path) -> list[Path]:
    """A waterfall on a log $ axis from the old price to the new: each lever divides the old
    price by its modelled factor, the remainder closes the gap to the new price."""
    fig, ax = plt.subplots(figsize=(7.2, 4.2))
    steps = [*c.factors.items(), ("remainder", c.remainder)]
    levels = [c.old_price.usd_per_million_output]
    for _, factor in steps:
        levels.append(levels[-1] / factor)
    floor, ceiling = min(levels) / 4, max(levels) * 4
    ax.bar(0, levels[0] - floor, bottom=floor, color="#999999")
    for i, ((name, factor), before, after) in enumerate(
        zip(steps, levels[:-1], levels[1:], strict=True), start=1
    ):
        colour = "#999999" if name == "remainder" else ("#55A868" if factor >= 1 else "#C44E52")
        ax.bar(i, abs(before - after), bottom=min(before, after), color=colour)
        ax.text(i, max(before, after), f"÷{factor:.3g}", ha="center", va="bottom", fontsize=7)
    ax.bar(len(steps) + 1, levels[-1] - floor, bottom=floor, color="#4C72B0")
    labels = ["old price", *(name for name, _ in steps), "new price"]
    ax.set_yscale("log")
    ax.set_ylim(floor, ceiling)
    ax.set_xticks(range(len(labels)), labels, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel(f"$ per million output tokens ({c.workload})")
    ax.set_title(
        f"{c.old_price.model} ({c.old_price.date}) → {c.new_price.model} ({c.new_price.date}): "
        f"÷{c.price_ratio:,.0f}",
        fontsize=9,
    )
    caption = (
        f"Old stack: {c.path[0].setup}; new: {c.path[-1].setup}. Levers switched in turn, each "
        f"factor the simulated $/M SLO-compliant tokens before ÷ after ({c.contract}); the "
        f"remainder ×{c.remainder:.3g} is the price ratio ÷ the modelled cost ratio."
    )
    return save(fig, stem, caption, bottom=0.3)


def curriculum_figure(run, threshold: float, stem: Path) -> list[Path]:
    """Self-play under a verifier with given error rates: the setter's sound share, the
    solver's accuracy and the flawed share of each round's training examples."""
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    rounds = np.arange(1, run.sound_share.size + 1)
    ax.plot(rounds, run.sound_share, label="setter: sound share", color="#4C72B0")
    ax.plot(rounds, run.solver_accuracy, label="solver accuracy (sound tasks)", color="#55A868")
    ax.plot(rounds, run.corrupted_share, label="flawed share of training examples", color="#C44E52")
    ax.axhline(threshold, color="#999999", ls="--", lw=1, label="accuracy where flawed pays more")
    ax.set_xlabel("self-play round")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7, loc="center right")
    v = run.verifier
    caption = (
        f"Verifier false accept {v.false_accept:g}, false reject {v.false_reject:g}. The setter is "
        "rewarded when the verifier accepts a task and the solver fails it; once the solver is "
        "good at sound tasks, flawed tasks the verifier lets through pay more."
    )
    return save(fig, stem, caption)
