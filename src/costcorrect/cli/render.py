"""Rich rendering of results for people (tables with units); JSON output bypasses this."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from costcorrect.units import format_number, format_quantity

# Piped output is not squeezed to 80 columns.
console = Console() if sys.stdout.isatty() else Console(width=200)


def print_frame(frame, title: str) -> None:
    """A DataFrame as a rich table."""
    table = Table(title=title)
    for i, col in enumerate(frame.columns):
        table.add_column(str(col), no_wrap=i == 0)
    for row in frame.itertuples(index=False):
        table.add_row(*("" if v is None else format_number(v) for v in row))
    console.print(table)


def print_entry(entry: dict[str, Any], prefix: str = "") -> None:
    """A catalog entry as ``field  value  (source, date)`` lines."""
    table = Table(show_header=True)
    for col in ("field", "value", "source", "date"):
        table.add_column(col, overflow="fold")
    for key, value, source, date in _flatten(entry, prefix):
        table.add_row(key, value, source, date)
    console.print(table)


def print_calibration_entry(spec) -> None:
    """A calibration: where it comes from, then its parameters with their intervals."""
    console.print(
        f"[bold]{spec.name}[/bold] ({spec.hardware}, stack {spec.stack}): {spec.source}, "
        f"data of {spec.date}\nfitted on {spec.fitted_on}"
    )
    console.print(spec.held_out.sentence() if spec.held_out else "Not validated on held-out data.")
    from costcorrect.catalog.views import calibration_frame

    print_frame(
        calibration_frame(spec.params, spec.estimates),
        "parameters (efficiencies as fractions, attention traffic in bytes)",
    )


def _flatten(entry: dict[str, Any], prefix: str):
    for key, value in entry.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and "value" in value and "source" in value:
            yield name, str(value["value"]), str(value["source"]), str(value["date"])
        elif isinstance(value, dict):
            yield from _flatten(value, name + ".")
        else:
            yield name, str(value), "", ""


def print_step(result, title: str) -> None:
    """Per-op breakdown of one iteration (scalar StepTime)."""
    total = float(result.total_s)
    table = Table(title=f"{title}: {format_quantity(total, 'time')} per iteration")
    for col in ("op", "time", "share", "FLOP", "HBM bytes"):
        table.add_column(col, justify="right" if col != "op" else "left")
    for op, seconds in result.seconds.items():
        s, flop, nbytes = float(seconds), float(result.flop[op]), float(result.bytes[op])
        if s == 0:
            continue
        table.add_row(
            op,
            format_quantity(s, "time"),
            f"{s / total:.1%}",
            format_quantity(flop, "flop"),
            format_quantity(nbytes, "bytes"),
        )
    console.print(table)


def print_summary(s) -> None:
    """The ``demo`` deployment summary."""
    console.print(
        f"[bold]{s.model}[/bold] on {s.tp * s.pp}× {s.gpu} (TP {s.tp}, PP {s.pp}), "
        f"workload {s.workload} ({s.workload_origin}): mean prompt {s.mean_prompt_tokens:.0f} "
        f"tok, mean output "
        f"{s.mean_output_tokens:.0f} tok\nstack {s.validation}"
    )
    console.print(
        f"weights {format_quantity(s.weight_bytes_per_gpu, 'bytes')}/GPU · KV cache "
        f"{s.kv_capacity_tokens:,} tokens (max batch {s.max_batch}) · "
        f"price {format_quantity(s.price_usd_per_hour / 3600, 'usd_rate')} for the instance · "
        f"prefill of one mean prompt {format_quantity(s.prefill_s, 'time')}"
    )
    table = Table(title="decode at the workload's mean context (no queueing, no SLO)")
    for col in ("batch", "step (TPOT)", "output tok/s", "$ / M output tokens"):
        table.add_column(col, justify="right")
    for p in s.decode:
        table.add_row(
            str(p.batch),
            format_quantity(p.step_s, "time"),
            f"{p.output_tokens_per_s:,.0f}",
            f"${p.usd_per_million_output_tokens:,.3f}",
        )
    console.print(table)


def print_latency(architecture: str, s, tbt: dict[str, float]) -> None:
    """Percentiles with 95 % confidence intervals of a simulation, and the per-token time
    between tokens (``tbt``: name → seconds)."""
    table = Table(
        title=f"{architecture}: {s.requests:,} steady-state requests at "
        f"{s.arrival_rate_per_s:.3g} req/s, {s.output_tokens_per_s:,.0f} output tok/s"
    )
    for col in ("metric", "p50", "p90", "p99"):
        table.add_column(col, justify="right" if col != "metric" else "left")
    for name in ("ttft", "tpot"):
        cells = []
        for p in ("p50", "p90", "p99"):
            e = getattr(s, f"{name}_{p}_s")
            cells.append(
                f"{format_quantity(e.value, 'time')} "
                f"[{format_quantity(e.low, 'time')}, {format_quantity(e.high, 'time')}]"
            )
        table.add_row(name.upper(), *cells)
    table.add_row("TBT (per token)", *(format_quantity(v, "time") for v in tbt.values()))
    console.print(table)
    little = s.little_rate_x_sojourn
    if s.rejected_fraction > 0:
        console.print(f"rejected under overload: {s.rejected_fraction:.1%} of requests")
    console.print(
        f"Little's law: mean in system {s.mean_in_system:.2f} vs λ·W {little.value:.2f} "
        f"[{little.low:.2f}, {little.high:.2f}]"
    )


def print_cost(c) -> None:
    """Goodput and the three-term cost breakdown."""
    if c.goodput_rps <= 0:
        console.print(f"[bold]{c.architecture}[/bold]: goodput 0 — {c.reason}")
        return
    per_user = ""
    if c.tokens_per_s_per_user is not None:
        per_user = f", ≥ {c.tokens_per_s_per_user:,.0f} per user at the TPOT quantile"
    console.print(
        f"[bold]{c.architecture}[/bold] under {c.contract}: goodput {c.goodput_rps:.3g} req/s "
        f"({c.token_goodput_per_s:,.0f} {c.token_basis}/s, {c.tokens_per_s_per_gpu:,.0f} per "
        f"GPU{per_user}) on {c.gpus} GPU{'s' if c.gpus != 1 else ''} at "
        f"{format_quantity(c.usd_per_hour / 3600, 'usd_rate')}"
        + (f"; fleet of {c.fleet_replicas} replicas" if c.fleet_replicas else "")
    )
    if c.converged is not None:
        low, high = c.goodput_interval_rps
        state = "converged" if c.converged else "[bold red]NOT converged[/bold red]"
        console.print(
            f"simulated run: {c.simulated_requests:,} requests, {state} (goodput {low:.4g}–"
            f"{high:.4g} req/s at half and full length)"
        )
    table = Table(title=f"$ per million SLO-compliant {c.token_basis}")
    for col in ("term", "$/M", "share"):
        table.add_column(col, justify="right" if col != "term" else "left")
    for term, value in (
        ("prefill", c.prefill_usd_per_million),
        ("decode", c.decode_usd_per_million),
        ("KV-transfer tax", c.kv_usd_per_million),
        ("total", c.usd_per_million_tokens),
    ):
        table.add_row(term, f"${value:,.4f}", f"{value / c.usd_per_million_tokens:.1%}")
    console.print(table)


def print_plan(p) -> None:
    """Best configuration per architecture, the winner with its margin, and sensitivity."""
    demand = f", demand {p.demand_rps:g} req/s" if p.demand_rps else ""
    console.print(
        f"[bold]{p.model}[/bold] on {', '.join(p.gpus)}, workload {p.workload}, "
        f"{p.contract}{demand}: {len(p.screened)} configurations screened, answered in "
        f"{p.seconds:.1f} s"
    )
    console.print(p.lengths.sentence())
    table = Table(title="Cheapest confirmed configuration per architecture ($ per M output tokens)")
    for col in (
        "architecture",
        "configuration",
        "GPUs",
        "goodput sim",
        "analytic",
        "tok/s/user",
        "$/M total",
        "prefill",
        "decode",
        "KV tax",
    ):
        table.add_column(
            col, justify="left" if col in ("architecture", "configuration") else "right"
        )
    for c in p.best:
        gpus = f"{c.gpus}" + (f" ×{c.fleet_replicas}" if c.fleet_replicas else "")
        table.add_row(
            c.architecture,
            c.label,
            gpus,
            f"{c.sim_goodput_rps:.3g} req/s",
            f"{c.goodput_error:+.0%}",
            "" if c.tokens_per_s_per_user is None else f"≥ {c.tokens_per_s_per_user:,.0f}",
            f"${c.usd_per_million:,.3f}",
            f"${c.prefill_usd_per_million:,.3f}",
            f"${c.decode_usd_per_million:,.3f}",
            f"${c.kv_usd_per_million:,.3f}",
        )
    console.print(table)
    if p.engine_gaps:
        from costcorrect.serving.goodput import ENGINE_AGREEMENT

        console.print(
            f"[bold]Engines disagree[/bold] beyond their validated {ENGINE_AGREEMENT:.0%} "
            "(analytic goodput vs the simulator's, which the costs use): "
            + "; ".join(f"{c.label} {c.goodput_error:+.0%}" for c in p.engine_gaps)
        )
    unsettled = [c.label for c in p.best if c.converged is False]
    if unsettled:
        console.print(
            "[bold red]Not converged[/bold red] (two run lengths differ by more than 5 %): "
            + "; ".join(unsettled)
        )
    if p.winner is None:
        console.print("[bold red]No configuration meets the contract.[/bold red]")
        return
    margin = "" if p.margin != p.margin else f"; the next architecture costs {p.margin:.1%} more"
    console.print(f"Winner: [bold]{p.winner.architecture}[/bold] — {p.winner.label}{margin}.")
    if p.fleet is not None:
        console.print(p.fleet.sentence(p.demand_rps) + ".")
    for line in p.validation:
        console.print(f"Stack: {line}.")
    table = Table(title="Sensitivity (analytic, scaled to the simulator at the plan point)")
    for col in ("case", "winner", "margin", "decision"):
        table.add_column(col)
    for s in p.sensitivity:
        table.add_row(
            s.case,
            s.winner or "none meets the contract",
            "" if s.margin != s.margin else f"{s.margin:.1%}",
            "[bold]flips[/bold]" if s.flips else "holds",
        )
    console.print(table)


def print_reproduction(rows, frame) -> None:
    """Published vs predicted per claim, then the common frame."""
    from costcorrect.serving.reproduce_report import (
        error_text,
        predicted_text,
        published_text,
        usd_text,
    )

    table = Table(title="Published claims re-derived")
    for col in ("claim", "system", "what", "published", "predicted", "error"):
        table.add_column(
            col, justify="right" if col in ("published", "predicted", "error") else "left"
        )
    for r in rows:
        c = r.claim
        table.add_row(
            c.id,
            c.system,
            c.claim,
            published_text(c.published, c.unit),
            predicted_text(r),
            error_text(r),
        )
    console.print(table)
    if frame:
        table = Table(title="Common frame: $ per million SLO-compliant output tokens")
        for col in ("system", "workload", "configuration", "$/M", "baseline", "baseline $/M"):
            table.add_column(col)
        for f in frame:
            table.add_row(
                f.system,
                f.setup,
                f.architecture,
                usd_text(f.usd_per_million),
                f.baseline,
                usd_text(f.baseline_usd_per_million),
            )
        console.print(table)


def print_calibration(r) -> None:
    """Calibration metrics with their bootstrap intervals."""
    table = Table(
        title=f"Calibration of {r.n:,} reports ({r.resamples:,} bootstrap resamples, "
        f"{r.brier.level:.0%} intervals)"
    )
    for col in ("metric", "value", "interval"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    for name, iv in (
        ("Brier score (lower is better)", r.brier),
        ("log loss, nats (lower is better)", r.log_loss),
        ("spherical score (higher is better)", r.spherical),
        (f"ECE, {r.bins} {r.strategy} bins", r.ece),
        ("smooth ECE (kernel)", r.smooth_ece),
    ):
        table.add_row(name, f"{iv.value:.4f}", f"[{iv.low:.4f}, {iv.high:.4f}]")
    console.print(table)


def print_composition(c) -> None:
    """A composed pipeline: exact vs independence accept rate and the interaction terms."""
    console.print(
        f"[bold]{c.rule}[/bold] over {', '.join(c.verifiers)} on {c.instances:,} instances; "
        "marginal accept rates " + ", ".join(f"{p:.4f}" for p in c.marginals)
    )
    a = c.accept_rate
    console.print(
        f"pipeline accept rate {a.value:.4f} [{a.low:.4f}, {a.high:.4f}] vs "
        f"{c.independent_prediction:.4f} if independent: error {c.error:+.4f}"
    )
    table = Table(title="Interaction terms (sum = error)")
    table.add_column("verifiers")
    table.add_column("term", justify="right")
    for name, value in c.interactions.items():
        table.add_row(name, f"{value:+.5f}")
    console.print(table)


def print_cost_correct(c) -> None:
    """The ledger: C, its factors and the levers."""
    console.print(
        f"cost per correct answer: [bold]${c.usd_per_million_answer_tokens:,.3f}[/bold] per "
        f"million answer tokens (${c.usd_per_answer:,.5f} per answer); {c.pricing} CPM "
        f"${c.cpm_usd_per_m:,.3f}/M × R {c.reasoning_multiplier:g} × (1 + ρ̄) "
        f"{1 + c.extra_rollouts:g} ÷ α {c.accept_rate:g} ({c.attempts_per_answer:.3g} attempts "
        "per accepted answer)"
    )
    table = Table(title="Levers at this operating point")
    for col in ("lever", "move", "change in C", "elasticity"):
        table.add_column(col, justify="left" if col in ("lever", "move") else "right")
    for lever in c.levers:
        table.add_row(lever.lever, lever.step, f"{lever.change:+.2%}", f"{lever.elasticity:+.3f}")
    console.print(table)


def print_quantization_trade(t) -> None:
    """A format against BF16: CPM, α and Cost-correct of each, and the break-even loss."""
    a = t.accuracy
    measured = f"{a.quantized:g} vs {a.baseline:g}" if a.recovery is None else "recovery as printed"
    table = Table(title=f"{t.model}: {t.weight_format} against BF16 — {t.serving}")
    for col in ("", "$/M SLO-compliant tokens", "α", "Cost-correct $/M answer tokens"):
        table.add_column(col, justify="left" if not col else "right")
    table.add_row(
        "bf16",
        f"{t.baseline_usd_per_m:,.4f}",
        f"{t.alpha:.4f}",
        f"{t.baseline_cost_correct:,.4f}",
    )
    table.add_row(
        t.weight_format,
        f"{t.quantized_usd_per_m:,.4f}",
        f"{t.alpha_quantized:.4f}",
        f"{t.quantized_cost_correct:,.4f}",
    )
    console.print(table)
    verdict = "pays" if t.pays else "does not pay"
    console.print(
        f"{t.weight_format} {verdict}: CPM × {t.cpm_ratio:.3f} (−{1 - t.cpm_ratio:.1%}), accuracy "
        f"× {t.recovery:.4f} ({a.metric}: {measured}; {a.source}"
        + (f", read via {a.via}" if a.via else "")
        + f", {a.date}). Break-even: it pays while it loses less than {t.break_even_loss:.1%} "
        "of the accuracy."
    )


def print_bench(s) -> None:
    """A benchmark run's summary: counts, quantiles with intervals, contract and cost."""
    head = (
        f"{s.requests} requests ({', '.join(f'{k} {v}' for k, v in s.statuses.items())}) "
        f"in {s.wall_s:.1f} s: {s.request_rate:.2f} req/s, {s.output_tokens_per_s:,.0f} "
        "output tokens/s"
    )
    console.print(head)
    table = Table(title="latency (95 % order-statistic intervals)")
    table.add_column("metric")
    for q in s.metrics["ttft_s"]:
        table.add_column(f"p{q.q * 100:g}")
    for name, qs in s.metrics.items():
        table.add_row(
            name.removesuffix("_s"),
            *(
                f"{format_quantity(q.value, 'time')} [{format_quantity(q.low, 'time')}, "
                f"{format_quantity(q.high, 'time')}]"
                if q.value == q.value
                else "-"
                for q in qs
            ),
        )
    console.print(table)
    if s.lag_warning:
        console.print(f"[yellow]warning:[/yellow] {s.lag_warning}")
    if s.contract:
        verdict = "met" if s.contract_met else f"missed ({s.contract_reason})"
        console.print(
            f"contract {s.contract}: {verdict}; attainment {s.attainment:.1%}, "
            f"goodput {s.goodput_rps:.2f} req/s"
        )
    if s.usd_per_million_compliant_tokens is not None:
        console.print(
            f"${s.usd_per_million_compliant_tokens:,.3f} per million SLO-compliant "
            f"output tokens at ${s.usd_per_hour:.2f}/h"
        )


def print_vcpd(v) -> None:
    """VCpD of the old and new stacks, each lever switched alone and the levers switched in
    turn, with the factors, their product and the interaction."""
    table = Table(title=f"VCpD of {v.model} — workload {v.workload}, {v.contract} (simulator)")
    for col in ("", "served as", "$/M SLO-compliant tokens", "α", "answer tokens per $", "factor"):
        table.add_column(col, justify="left" if col in ("", "served as") else "right")

    def row(p, factor: str) -> None:
        table.add_row(
            p.label, p.setup, f"{p.usd_per_million:,.4f}", f"{p.alpha:.4f}",
            f"{p.tokens_per_usd:,.0f}", factor,
        )  # fmt: skip

    row(v.old, "1")
    for p in v.levers:
        row(p, f"×{v.factors[p.label]:.2f} alone")
    for p in v.path:
        row(p, f"×{v.path_factors[p.label]:.2f} in turn")
    console.print(table)
    product = v.total_gain / v.interaction
    console.print(
        f"Old → new stack: ×{v.total_gain:.2f}. The four levers alone multiply to "
        f"×{product:.2f}: interaction ×{v.interaction:.3g} (1 = they compose; below 1 they "
        "overlap — each lever's gain alone partly removes the same bottleneck). Switched in turn "
        "(in the order above) their factors multiply to the total exactly; the waterfall "
        "(--figure) draws that path."
    )


def print_compression(c) -> None:
    """The two price points, the serving-cost path with each lever's factor, the remainder and
    the assumptions."""
    for label, p in (("old", c.old_price), ("new", c.new_price)):
        console.print(
            f"{label}: {p.provider}/{p.model} on {p.date}: ${p.input_usd_per_million:g} / "
            f"${p.output_usd_per_million:g} per M input / output tokens = "
            f"${p.usd_per_million_output:,.4f} per M output tokens of {c.workload} ({p.source})"
        )
    table = Table(title=f"serving cost, levers switched in turn — {c.contract} (simulator)")
    for col in ("", "served as", "$/M SLO-compliant tokens", "converged", "factor"):
        table.add_column(col, justify="left" if col in ("", "served as") else "right")
    factors = c.factors
    for step in c.path:
        low, high = step.usd_interval or (step.usd_per_million, step.usd_per_million)
        table.add_row(
            step.label, step.setup, f"{step.usd_per_million:,.4f} [{low:,.4f}, {high:,.4f}]",
            {True: "yes", False: "NO", None: "—"}[step.converged],
            f"÷{factors[step.label]:.2f}" if step.label in factors else "",
        )  # fmt: skip
    console.print(table)
    console.print(
        f"Price ÷{c.price_ratio:,.1f} over {c.years:.2f} years (÷{c.annual_factor:,.2f} a year); "
        f"modelled serving cost ÷{c.modelled_ratio:,.1f} (the factors' product); remainder "
        f"×{c.remainder:.3g} — margin and what is not modelled (below 1: prices fell less than "
        "the modelled cost)."
    )
    if any(step.converged is False for step in c.path):
        console.print("[red]Some simulated costs did not converge: read them as estimates.[/red]")
    console.print("Assumptions:")
    for line in c.assumptions:
        console.print(f"  - {line}")


def print_curriculum(reward, sampled: dict, threshold: float, run, cost) -> None:
    """The setter's reward in closed form beside a sample, the break-even solver accuracy, the
    self-play drift and the verifier's price per clean training example."""
    v = reward.verifier
    table = Table(title="setter reward per proposed task — closed form vs 200,000 sampled")
    for col in ("", "closed form", "sampled"):
        table.add_column(col, justify="left" if not col else "right")
    for name, label in (
        ("expected_reward", "E[R] = P(accepted, solver fails)"),
        ("accepted_share", "accepted by the verifier"),
        ("corrupted_share", "flawed share of rewarded tasks"),
    ):
        table.add_row(label, f"{getattr(reward, name):.4f}", f"{sampled[name]:.4f}")
    console.print(table)
    console.print(
        f"A flawed task pays the setter more than a sound one once the solver is right on more "
        f"than {threshold:.1%} of sound tasks (1 − f(1 − s_f)/(1 − r), f = {v.false_accept:g}, "
        f"r = {v.false_reject:g})."
    )
    last = run.sound_share.size
    first = run.first_round_corrupted_above(0.1)
    console.print(
        f"Self-play over {last:,} rounds: sound share {run.sound_share[0]:.2f} → "
        f"{run.sound_share[-1]:.2f}, solver accuracy {run.solver_accuracy[0]:.2f} → "
        f"{run.solver_accuracy[-1]:.2f}, flawed share of training examples "
        f"{run.corrupted_share[-1]:.2f} in the last round"
        + (f" (above 10 % from round {first})." if first else " (never above 10 %).")
    )
    total = cost.examples * cost.usd_per_clean_example
    console.print(
        f"Ledger, training channel, at the starting shares: "
        f"{cost.verifier_calls_per_example:.2f} verifier calls per "
        f"clean training example, ${cost.usd_per_clean_example:.4g} per clean example "
        f"({cost.verifier_share:.0%} of it the verifier's), ${total:,.0f} for "
        f"{cost.examples:,.0f} examples."
    )
    if cost.decision is not None:
        d = cost.decision
        console.print(
            f"Allocation threshold with that training spend: (η^ρ − 1)/η^T = {d.lhs:.3g} vs "
            f"D_I/D_T = {d.spend_ratio:.3g} → the next dollar goes to {d.channel}."
        )
    console.print(
        "Assumed (inputs, not measured): the error rates, shares and accuracies above, "
        f"${cost.setter_usd:g} / ${cost.verifier_usd:g} / ${cost.solver_usd:g} per setter, "
        "verifier and solver call, the self-play's learning and setter rates "
        "(`verify.curriculum.self_play`)"
        + (", η^ρ, η^T and D_I." if cost.decision is not None else ".")
    )
