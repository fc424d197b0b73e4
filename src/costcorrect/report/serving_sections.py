"""Report sections about serving: the plan with its three-term waterfall, the contract
frontier, the disaggregation break-even, and measured runs against the fitted model."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from costcorrect.report.run import ScenarioResult
from costcorrect.report.widgets import add_diagonal, fig_html, table_html


def plan_section(r: ScenarioResult) -> str:
    best = r.plan.best
    rows = [
        [
            c.architecture,
            c.label,
            c.gpus,
            f"{c.sim_goodput_rps:.3f}",
            f"{c.goodput_error:+.1%}",
            f"{c.usd_per_million:.3f}",
        ]
        for c in best
    ]
    fig = go.Figure()
    for term, colour in (("prefill", "#4C72B0"), ("decode", "#55A868"), ("kv", "#C44E52")):
        fig.add_bar(
            name=f"{term} ($/M tokens)",
            x=[c.architecture for c in best],
            y=[getattr(c, f"{term}_usd_per_million") for c in best],
            marker_color=colour,
            hovertemplate="%{x}: $%{y:.3f} per M tokens<extra>" + term + "</extra>",
        )
    fig.update_layout(
        barmode="stack",
        title="Cost per SLO-compliant token: three terms",
        yaxis_title="$ per million output tokens",
    )
    margin = "" if math.isnan(r.plan.margin) else f" The winner leads by {r.plan.margin:.0%}."
    fleet = r.plan.fleet
    if fleet is not None:
        margin += f" {fleet.sentence(r.plan.demand_rps)}."
    flips = [s.case for s in r.plan.sensitivity if s.flips]
    sens = (
        f" The winner changes under: {', '.join(flips)}."
        if flips
        else " No sensitivity case changes the winner."
    )
    return (
        "<h2>Serving plan</h2>"
        + table_html(
            [
                "architecture",
                "configuration",
                "GPUs",
                "goodput (req/s, simulated)",
                "analytic vs simulated goodput",
                "$ per M tokens",
            ],
            rows,
        )
        + f"<p>{margin}{sens} Costs are the simulator's; {r.validation_note('perf')} "
        f"{r.validation_note('analytic')}</p>" + fig_html(fig, "fig-plan")
    )


#: a heat map's legend above the plot, right-aligned (its colour bar takes the right side)
LEGEND_ABOVE = {"orientation": "h", "x": 1, "xanchor": "right", "y": 1.0, "yanchor": "bottom"}


def frontier_section(r: ScenarioResult) -> str:
    f = r.frontier
    cheapest = np.min(f.cost, axis=0)
    winner = f.winner
    names = np.array([*f.architectures, "none meets it"], dtype=object)
    label = names[winner]  # −1 picks the last name
    config = np.take_along_axis(f.config, np.maximum(winner, 0)[None], 0)[0]
    finite = np.where(np.isfinite(cheapest), cheapest, np.nan)
    fig = go.Figure(
        go.Heatmap(
            x=f.tpot_s * 1e3,
            y=f.ttft_s,
            z=np.log10(finite),
            customdata=np.dstack([label, config, finite]),
            colorscale="Viridis",
            colorbar={"title": "log₁₀ $/M"},
            hovertemplate="p%{meta} TTFT ≤ %{y:.3g} s, TPOT ≤ %{x:.3g} ms<br>"
            "%{customdata[0]}: %{customdata[1]}<br>$%{customdata[2]:.2f} per M tokens"
            "<extra></extra>",
            meta=f"{f.quantile * 100:g}",
        )
    )
    fig.add_scatter(
        x=[r.contract.tpot_s * 1e3],
        y=[r.contract.ttft_s],
        mode="markers",
        marker={"symbol": "star", "size": 16, "color": "white", "line": {"width": 1}},
        name="this contract",
        hovertemplate="the scenario's contract<extra></extra>",
    )
    fig.update_layout(
        title="Cheapest $ per M SLO-compliant tokens over contracts (analytic engine)",
        xaxis={"title": "TPOT bound (ms)", "type": "log"},
        yaxis={"title": "TTFT bound (s)", "type": "log"},
        legend=LEGEND_ABOVE,
    )
    shares = [
        [
            name,
            f"{np.mean(winner == a):.0%}",
            f"{np.nanmin(np.where(winner == a, finite, np.nan)):.2f}",
        ]
        for a, name in enumerate(f.architectures)
        if np.any(winner == a)
    ]
    return (
        "<h2>Frontier</h2><p>Each contract of the grid (the scenario's bounds × ⅛…8 for TTFT, "
        "¼…4 for TPOT) priced by the analytic engine over every configuration; hover for the "
        f"winner. {r.validation_note('analytic')}</p>"
        + table_html(["architecture", "share of grid won", "lowest $ per M tokens"], shares)
        + fig_html(fig, "fig-frontier")
    )


def break_even_section(r: ScenarioResult) -> str:
    b = r.break_even
    log_ratio = np.log2(np.where(np.isfinite(b.ratio), b.ratio, np.nan))
    fig = go.Figure(
        go.Heatmap(
            x=b.io_ratio,
            y=b.y,
            z=log_ratio,
            zmid=0,
            colorscale="RdBu",
            reversescale=True,  # blue below 0: disaggregation is cheaper
            colorbar={"title": "log₂ ratio"},
            customdata=b.ratio,
            hovertemplate="input/output %{x:.3g}, %{y:.3g} req/s<br>disaggregated ÷ colocated "
            "$ = %{customdata:.3f}<extra></extra>",
        )
    )
    fig.add_scatter(
        x=b.boundary,
        y=b.y,
        mode="markers",
        marker={"color": "black", "symbol": "line-ns-open", "size": 12, "line": {"width": 2}},
        name="equal cost (first crossing per demand)",
        hovertemplate="equal cost at input/output %{x:.3g}, %{y:.3g} req/s<extra></extra>",
    )
    demand = r.scenario.demand_rps
    if demand is not None:
        fig.add_scatter(
            x=[r.io_ratio],
            y=[demand],
            mode="markers",
            marker={"symbol": "star", "size": 16, "color": "gold", "line": {"width": 1}},
            name="this scenario",
            hovertemplate="the scenario: input/output %{x:.3g}, %{y:.3g} req/s<extra></extra>",
        )
    else:
        fig.add_scatter(
            x=[r.io_ratio, r.io_ratio],
            y=[b.y.min(), b.y.max()],
            mode="lines",
            line={"dash": "dot", "color": "gold"},
            name="this workload",
            hovertemplate="the scenario's workload: input/output %{x:.3g}<extra></extra>",
        )
    fig.update_layout(
        title=f"Disaggregated ÷ colocated cost on {b.gpu} (TP{b.tp}); blue: disaggregation wins",
        xaxis={"title": "mean input ÷ mean output tokens", "type": "log"},
        yaxis={"title": "demand (req/s)", "type": "log"},
        legend=LEGEND_ABOVE,
    )
    wins = np.nanmean(b.ratio < 1)
    return (
        "<h2>Break-even: disaggregate or not</h2>"
        f"<p>Under the scenario's contract, disaggregated prefill/decode pools are cheaper on "
        f"{wins:.0%} of this grid of workload shapes and demands; the scenario's workload has "
        f"input/output = {r.io_ratio:.2f}. {r.validation_note('analytic')}</p>"
        + fig_html(fig, "fig-break-even")
    )


STATS = (
    ("ttft_p50_s", "TTFT p50"),
    ("ttft_p99_s", "TTFT p99"),
    ("tpot_p50_s", "TPOT p50"),
    ("tpot_p99_s", "TPOT p99"),
)


def measured_section(r: ScenarioResult) -> str:
    if not r.measured:
        return ""
    rows, fig = [], go.Figure()
    for run in r.measured:
        row = [run.label, "held out" if run.held_out else "fit", f"{run.measured.rate:.2f}"]
        for key, _ in STATS:
            m, p = getattr(run.measured, key), getattr(run.predicted, key)
            row.append(f"{m * 1e3:.1f} / {p * 1e3:.1f} ({p / m - 1:+.0%})")
        rows.append(row)
    for key, name in STATS:
        for held_out in (False, True):
            runs = [run for run in r.measured if run.held_out == held_out]
            if runs:
                fig.add_scatter(
                    x=[getattr(run.measured, key) * 1e3 for run in runs],
                    y=[getattr(run.predicted, key) * 1e3 for run in runs],
                    text=[run.label for run in runs],
                    mode="markers",
                    marker={"symbol": "circle" if held_out else "circle-open", "size": 10},
                    name=f"{name} ({'held out' if held_out else 'fit'})",
                    hovertemplate="%{text}: measured %{x:.1f} ms, predicted %{y:.1f} ms"
                    "<extra>" + name + "</extra>",
                )
    values = [
        getattr(getattr(run, side), key) * 1e3
        for run in r.measured
        for side in ("measured", "predicted")
        for key, _ in STATS
    ]
    add_diagonal(fig, min(values) / 1.5, max(values) * 1.5, "predicted = measured")
    fig.update_layout(
        title="Measured vs predicted latency",
        xaxis={"title": "measured (ms)", "type": "log"},
        yaxis={"title": "predicted (ms)", "type": "log"},
    )
    return (
        "<h2>Measured vs predicted</h2><p>The fitted simulator replays each run's own arrival "
        "times and lengths (`costcorrect bench fit|predict`). Cells: measured / predicted ms "
        "(error).</p>"
        + table_html(
            ["run", "role", "rate (req/s)", *[f"{n} (ms)" for _, n in STATS]],
            rows,
        )
        + fig_html(fig, "fig-measured")
    )
