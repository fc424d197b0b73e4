"""One self-contained HTML answer per scenario: inline CSS and plotly's offline bundle (no
network at view time), a one-sentence answer on top, interactive figures with units in their
hover labels, and the provenance of every catalog number used. Renders only: every number comes
from :func:`costcorrect.report.run.run_scenario`."""

from __future__ import annotations

import html
import math

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from costcorrect.report.run import ScenarioResult

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1100px;color:#222;line-height:1.45}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
.answer{background:#f3f7fb;border-left:4px solid #4C72B0;padding:.8rem 1rem;font-size:1.1rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left}
.note{color:#666;font-size:.85rem}
"""


def _fig(fig: go.Figure, div_id: str) -> str:
    fig.update_layout(
        template="plotly_white", height=420, margin={"l": 60, "r": 20, "t": 50, "b": 50}
    )
    return fig.to_html(
        full_html=False, include_plotlyjs=False, div_id=div_id, config={"displaylogo": False}
    )


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def answer_sentence(r: ScenarioResult) -> str:
    w = r.plan.winner
    if w is None:
        return (
            f"No configuration of {r.scenario.model} on {', '.join(r.scenario.gpus)} meets "
            f"{r.plan.contract}."
        )
    err = w.goodput_error
    return (
        f"Serving {r.scenario.model} on {', '.join(r.scenario.gpus)} under {r.plan.contract}, "
        f"the cheapest configuration is {w.label} ({w.architecture}) at "
        f"${w.usd_per_million:.2f} per million SLO-compliant output tokens (simulated; the "
        f"analytic engine is {err:+.0%} on its goodput), and a correct answer costs "
        f"${r.ledger.usd_per_answer:.4f} with energy at ${r.energy_usd_per_m:.3f}/M tokens."
    )


def _plan_section(r: ScenarioResult) -> str:
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
    flips = [s.case for s in r.plan.sensitivity if s.flips]
    sens = (
        f" The winner changes under: {', '.join(flips)}."
        if flips
        else " No sensitivity case changes the winner."
    )
    return (
        "<h2>Serving plan</h2>"
        + _table(
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
        + f"<p>{margin}{sens}</p>"
        + _fig(fig, "fig-plan")
    )


def _ledger_section(r: ScenarioResult) -> str:
    c = r.ledger
    a = r.scenario.answer
    cpm = c.cpm_usd_per_m
    steps = [
        cpm,
        cpm * (c.reasoning_multiplier - 1),
        cpm * c.reasoning_multiplier * c.extra_rollouts,
        cpm * c.reasoning_multiplier * (1 + c.extra_rollouts) * (1 / c.accept_rate - 1),
    ]
    fig = go.Figure(
        go.Waterfall(
            x=["CPM", "× R", "× (1 + ρ̄)", "÷ α", "Cost-correct"],
            measure=["absolute", "relative", "relative", "relative", "total"],
            y=[*steps, 0],
            hovertemplate="%{x}: $%{y:.3f} per M answer tokens<extra></extra>",
        )
    )
    fig.update_layout(
        title="Cost per correct answer ($ per million answer tokens)",
        yaxis_title="$ per million answer tokens",
    )
    lever = go.Figure(
        go.Bar(
            x=[lv.lever for lv in c.levers],
            y=[lv.change * 100 for lv in c.levers],
            hovertemplate="%{x}: %{y:.2f} % of C<extra></extra>",
        )
    )
    lever.update_layout(
        title="One step of each lever: change of Cost-correct", yaxis_title="% change of C"
    )
    return (
        "<h2>Cost-correct</h2>"
        f"<p>C = CPM · R · (1 + ρ̄) / α with CPM = serving ${r.plan.winner.usd_per_million:.3f} "
        f"+ energy ${r.energy_usd_per_m:.3f} per M tokens, R = {a.reasoning_multiplier:g}, "
        f"ρ̄ = {a.extra_rollouts:g}, α = {a.accept_rate:g}: "
        f"<b>${c.usd_per_million_answer_tokens:.3f}</b> per million answer tokens, "
        f"${c.usd_per_answer:.5f} per answer of {a.answer_tokens:g} tokens.</p>"
        + _fig(fig, "fig-ledger")
        + _fig(lever, "fig-levers")
    )


def _energy_section(r: ScenarioResult) -> str:
    s = r.levers
    fig = go.Figure()
    for lever, dash in (("clock", "solid"), ("cap", "dot")):
        for batch in sorted({p.batch for p in s.points}):
            pts = sorted(
                (p for p in s.points if p.lever == lever and p.batch == batch),
                key=lambda p: p.setting,
            )
            fig.add_scatter(
                x=[p.tokens_per_s for p in pts],
                y=[p.j_per_token for p in pts],
                mode="lines+markers",
                line={"dash": dash},
                name=f"batch {batch:g}: {'clock lock' if lever == 'clock' else 'power cap'}",
                hovertemplate="%{x:.0f} tokens/s, %{y:.4f} J/token<extra></extra>",
            )
    fig.update_layout(
        title=f"{s.model} decode on {s.gpu}: clock lock vs power cap",
        xaxis_title="tokens/s",
        yaxis_title="J per token",
    )
    rows = [
        [
            f"{o.batch:g}",
            f"{o.budget_clock:.2f}",
            f"{o.budget_saving:.1%}",
            f"{o.budget_throughput_loss:.1%}",
        ]
        for o in s.optima
    ]
    return (
        "<h2>Energy</h2><p>Energy adds "
        f"${r.energy_usd_per_m:.4f} per million decoded tokens (modelled power; "
        "docs/energy.md gives the model's 7 % held-out error on ML.ENERGY).</p>"
        + _table(
            ["batch", "best clock lock (× f_max, ≤ 5 % loss)", "energy saving", "throughput loss"],
            rows,
        )
        + _fig(fig, "fig-energy")
    )


def _routing_section(r: ScenarioResult) -> str:
    fig = go.Figure()
    fig.add_scatter(
        x=[p.gamma for _, p in r.systems],
        y=[p.kappa * p.delta for _, p in r.systems],
        mode="markers+text",
        text=[n for n, _ in r.systems],
        textposition="top center",
        name="published systems",
        hovertemplate="%{text}: γ %{x:.3f}, κΔ %{y:.3f}<extra></extra>",
    )
    text = ""
    if r.routing is not None:
        m = r.routing
        fig.add_scatter(
            x=[m.gamma],
            y=[m.kappa * m.delta],
            mode="markers",
            marker={"size": 14, "symbol": "star"},
            name="this scenario",
            hovertemplate="γ %{x:.3f}, κΔ %{y:.3f}<extra>scenario</extra>",
        )
        text = (
            f"<p>Your router (κ {m.kappa:g}, Δ {m.delta:g}, γ {m.gamma:g}): premium "
            f"{m.premium:+.3f} — routing {'pays' if m.pays else 'does not pay'}; its verdict "
            f"flips with a {m.robustness.joint:.0%} joint disclosure error.</p>"
        )
    fig.add_scatter(
        x=[0, 1],
        y=[0, 1],
        mode="lines",
        line={"color": "black"},
        name="break-even κΔ = γ",
        hoverinfo="skip",
    )
    fig.update_layout(
        title="Routing premium Π ≈ κΔ − γ",
        xaxis_title="γ (overhead share)",
        yaxis_title="κΔ (captured oracle saving)",
    )
    return "<h2>Routing</h2>" + text + _fig(fig, "fig-routing")


def _allocation_section(r: ScenarioResult) -> str:
    d = r.allocation
    if d is None:
        return ""
    fig = go.Figure(
        go.Bar(
            x=["inference", "training"],
            y=[d.inference_gain_per_usd * 1e6, d.training_gain_per_usd * 1e6],
            hovertemplate="%{x}: %{y:.3g} per $M<extra></extra>",
        )
    )
    fig.update_layout(
        title="How much the next $1M lowers ln(cost per correct)", yaxis_title="−Δ ln C per $1M"
    )
    return (
        "<h2>Training vs test-time</h2>"
        f"<p>(η^ρ − 1)/η^T = {d.lhs:+.3f} against D_I/D_T = {d.spend_ratio:.3f}: the next "
        f"dollar goes to <b>{d.channel}</b>.</p>" + _fig(fig, "fig-allocation")
    )


def render(r: ScenarioResult) -> str:
    """The report as one HTML string."""
    provenance = _table(["number", "value", "source", "date"], [list(p) for p in r.provenance])
    body = "".join(
        [
            f"<h1>{html.escape(r.scenario.title)}</h1>",
            f'<p class="answer" id="answer">{html.escape(answer_sentence(r))}</p>',
            _plan_section(r) if r.plan.best else "",
            _ledger_section(r) if r.ledger else "",
            _energy_section(r) if r.levers else "",
            _routing_section(r),
            _allocation_section(r),
            "<h2>Provenance</h2>",
            f'<p class="note">costcorrect {html.escape(r.version)}, seed {r.scenario.seed}, '
            f"{r.scenario.requests:,} simulated requests per confirmation. Validation: "
            "docs/validation.md (perf and serving engines), docs/energy.md (power model), "
            "docs/routing.md (premium rule).</p>",
            provenance,
        ]
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(r.scenario.title)}</title><style>{CSS}</style>"
        f"<script type='text/javascript'>{get_plotlyjs()}</script></head>"
        f"<body>{body}</body></html>"
    )
