"""Report sections about the answer's economics: the Cost-correct waterfall and levers, the
verifier audit, energy levers, the routing plane and the allocation threshold."""

from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go

from costcorrect.report.run import ScenarioResult
from costcorrect.report.widgets import add_diagonal, fig_html, table_html


def ledger_section(r: ScenarioResult) -> str:
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
        f"+ {r.energy_phrase()}, R = {a.reasoning_multiplier:g}, "
        f"ρ̄ = {a.extra_rollouts:g}, α = {c.accept_rate:.4g}{_alpha_note(r)}: "
        f"<b>${c.usd_per_million_answer_tokens:.3f}</b> per million answer tokens, "
        f"${c.usd_per_answer:.5f} per answer of {a.answer_tokens:g} tokens.</p>"
        + fig_html(fig, "fig-ledger")
        + fig_html(lever, "fig-levers")
    )


def _alpha_note(r: ScenarioResult) -> str:
    """Why α differs from the scenario's: the winner's quantized format and its published
    accuracy, or that none is published for it."""
    fmt, q = r.plan.winner.weight_format, r.quantization
    if q is not None:
        return html.escape(
            f" (the scenario's {r.scenario.answer.accept_rate:g} × {q.ratio:.4f}, the published "
            f"accuracy of {q.format} against BF16: {q.metric}, {q.source})"
        )
    if fmt not in (None, "bf16", "fp16", "fp32"):
        return html.escape(f" (as given: no published accuracy of {r.scenario.model} in {fmt})")
    return ""


def energy_section(r: ScenarioResult) -> str:
    s = r.levers
    if s is None:
        return (
            f"<h2>Energy</h2><p>Not modelled: {html.escape(r.energy_gpu)} has no power "
            "parameters in the catalog (docs/energy.md lists the GPUs that have them); the "
            "costs above leave energy out.</p>"
        )
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
        f"{r.validation_note('energy')})</p>"
        + table_html(
            ["batch", "best clock lock (× f_max, ≤ 5 % loss)", "energy saving", "throughput loss"],
            rows,
        )
        + fig_html(fig, "fig-energy")
    )


def routing_section(r: ScenarioResult) -> str:
    fig = go.Figure()
    for independent, name, symbol in (
        (True, "published, independently calibrated", "circle"),
        (False, "published, an input assumed or solved from the speedup", "circle-open"),
    ):
        shown = [(n, p) for n, p, ind in r.systems if ind == independent]
        fig.add_scatter(
            x=[p.gamma for _, p in shown],
            y=[p.kappa * p.delta for _, p in shown],
            mode="markers+text",
            marker={"symbol": symbol, "size": 9},
            text=[n for n, _ in shown],
            textposition="top center",
            name=name,
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
    add_diagonal(fig, 0, 1, "break-even κΔ = γ")
    fig.update_layout(
        title="Routing premium Π ≈ κΔ − γ",
        xaxis_title="γ (overhead share)",
        yaxis_title="κΔ (captured oracle saving)",
    )
    return "<h2>Routing</h2>" + text + fig_html(fig, "fig-routing")


def allocation_section(r: ScenarioResult) -> str:
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
        f"dollar goes to <b>{d.channel}</b>.</p>" + fig_html(fig, "fig-allocation")
    )


def verification_section(r: ScenarioResult) -> str:
    v = r.verification
    if v is None:
        return ""
    rec = v.record
    a = rec["pipeline_accept_rate"]
    names = [*rec["verifiers"], f"pipeline ({rec['rule']})", "if independent"]
    rates = [*rec["marginals"].values(), a["value"], rec["independence_prediction"]]
    fig = go.Figure(
        go.Bar(
            x=names,
            y=rates,
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [0] * len(rec["verifiers"]) + [a["high"] - a["value"], 0],
                "arrayminus": [0] * len(rec["verifiers"]) + [a["value"] - a["low"], 0],
            },
            hovertemplate="%{x}: accepts %{y:.1%}<extra></extra>",
        )
    )
    fig.update_layout(
        title="Accept rates: each verifier, the pipeline, and independence",
        yaxis={"title": "accept rate", "tickformat": ".0%"},
    )
    rows = [
        ["rows", f"{rec['dataset']['rows']:,} ({rec['dataset']['file']})"],
        ["pipeline accept rate α", f"{a['value']:.3f} [{a['low']:.3f}, {a['high']:.3f}]"],
        ["independence prediction", f"{rec['independence_prediction']:.3f}"],
        ["composition error (measured − independent)", f"{rec['composition_error']:+.3f}"],
    ]
    if "precision" in rec:
        p = rec["precision"]
        rows.append(
            ["P(correct | accepted)", f"{p['value']:.3f} [{p['low']:.3f}, {p['high']:.3f}]"]
        )
    if "cost_correct" in rec:
        c = rec["cost_correct"]["usd_per_million_answer_tokens"]
        if c["value"] is not None:
            rows.append(
                [
                    "C = CPM / α ($ per M answer tokens)",
                    f"{c['value']:.3f} [{c['low']:.3f}, {c['high']:.3f}]",
                ]
            )
    out = (
        "<h2>Verification audit</h2><p>The scenario's verifiers composed by the rule "
        f"<b>{rec['rule']}</b>; 95 % Wilson score intervals. A non-zero composition error is the "
        "covariance the per-verifier numbers alone cannot show.</p>"
        + table_html(["quantity", "value"], rows)
        + fig_html(fig, "fig-verification")
    )
    if v.reliability is not None:
        d = v.reliability
        rel = go.Figure()
        rel.add_scatter(
            x=d.mean_report,
            y=d.observed,
            mode="markers",
            marker={"size": 8 + 30 * np.sqrt(d.count / d.count.max())},
            customdata=d.count,
            name="bins",
            hovertemplate="confidence %{x:.2f}: correct %{y:.1%} of %{customdata} answers"
            "<extra></extra>",
        )
        add_diagonal(rel, 0, 1, "calibrated")
        rel.update_layout(
            title=f"Reliability of the confidence (ECE {v.ece:.3f})",
            xaxis={"title": "mean confidence", "range": [0, 1]},
            yaxis={"title": "observed frequency correct", "range": [0, 1]},
        )
        out += fig_html(rel, "fig-reliability")
    return out
