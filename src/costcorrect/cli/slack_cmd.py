"""``costcorrect slack``: harvestable GPU-hours of a serving fleet, the marginal-of-idle
rollout price and its effect on cost per correct (thin over :mod:`costcorrect.slack`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from costcorrect.cli.common import Json, echo_json, run_guarded, seed_option, state


def slack(
    trace: Annotated[
        Path | None,
        typer.Option(
            help="CSV/JSONL/Parquet of utilisation "
            "(column utilisation, time_s); default: a "
            "seeded 7-day diurnal trace"
        ),
    ] = None,
    fleet: Annotated[int, typer.Option(help="serving GPUs")] = 64,
    margin: Annotated[float, typer.Option(help="serving headroom above the load")] = 0.2,
    gpu: Annotated[str, typer.Option(help="catalog GPU (price, idle power)")] = "H100-SXM",
    model: Annotated[str, typer.Option(help="catalog model whose rollouts run")] = "llama-3.1-8b",
    usd_per_kwh: Annotated[float, typer.Option(help="energy price, $/kWh")] = 0.10,
    pue: Annotated[float, typer.Option(help="facility PUE")] = 1.2,
    syncs_per_hour: Annotated[float, typer.Option(help="weight syncs per hour")] = 12.0,
    wear: Annotated[float, typer.Option(help="wear as a share of the GPU-hour price")] = 0.05,
    preempted: Annotated[
        float, typer.Option(help="share of rollout work lost to preemption")
    ] = 0.05,
    cpm: Annotated[float, typer.Option(help="CPM, $ per M tokens, for Cost'")] = 1.0,
    r: Annotated[float, typer.Option("--r", help="R")] = 1.0,
    rho: Annotated[float, typer.Option("--rho", help="ρ̄: extra rollouts per answer")] = 15.0,
    alpha: Annotated[float, typer.Option("--alpha", help="α")] = 1.0,
    seed: seed_option("seed of the synthetic trace") = 0,
    json_: Json = False,
) -> None:
    """Harvestable GPU-hours above the SLO margin, the marginal-of-idle price m, the
    effective rollout price and Cost' = CPM · R · (1 + m·ρ̄) / α."""

    def job() -> None:
        from costcorrect.slack.study import slack_study
        from costcorrect.slack.trace import diurnal_trace, read_trace

        load = read_trace(trace) if trace is not None else diurnal_trace(seed=seed)
        result = slack_study(
            load,
            fleet,
            margin,
            state.catalog(),
            gpu,
            model,
            usd_per_kwh,
            pue,
            syncs_per_hour,
            wear,
            preempted,
            cpm,
            r,
            rho,
            alpha,
        )
        if json_:
            echo_json(result.to_dict())
            return
        from costcorrect.cli.render import console

        h, p = result.harvest, result.price
        console.print(
            f"{fleet} GPUs over {load.hours:.0f} h: [bold]{h.gpu_hours:,.0f}[/bold] "
            f"GPU-hours harvestable above a {margin:.0%} margin ({h.share:.0%} of the "
            "fleet's hours)"
        )
        console.print(
            f"marginal-of-idle m = {p.m:.3f}: rollouts at ${p.idle_usd_per_h:.3f}/GPU-h "
            f"vs ${p.dedicated_usd_per_h:.2f} dedicated (energy ${p.energy_usd_per_h:.3f},"
            f" sync ${p.sync_usd_per_h:.3f}, wear ${p.wear_usd_per_h:.3f}, preemption "
            f"${p.preemption_usd_per_h:.3f})"
        )
        console.print(
            f"Cost' = CPM·R·(1 + m·ρ̄)/α = ${result.cost_slack:.3f} vs "
            f"${result.cost_dedicated:.3f} per M answer tokens dedicated"
        )

    run_guarded(job)
