"""``costcorrect allocate threshold|fit``: whether the next dollar goes to training or to
test-time rollouts (thin over :mod:`costcorrect.allocate`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from costcorrect.cli.common import Json, echo_json, run_guarded

app = typer.Typer(no_args_is_help=True, help="Training vs test-time compute allocation.")


@app.command()
def threshold(
    eta_rollouts: Annotated[
        float, typer.Option(help="η_α^ρ = ∂ln α/∂ln n, accuracy elasticity in rollouts")
    ],
    eta_training: Annotated[
        float, typer.Option(help="η_α^T = ∂ln α/∂ln T, accuracy elasticity in training compute")
    ],
    inference_spend: Annotated[str, typer.Option(help="D_I, e.g. '$2M'")],
    training_spend: Annotated[str, typer.Option(help="D_T, e.g. '$10M'")],
    cost_per_generation: Annotated[
        str | None,
        typer.Option(help="K, $ per generation, e.g. '$0.002' (gives the break-even query volume)"),
    ] = None,
    generations: Annotated[float, typer.Option(help="n = 1 + ρ̄ generations per answer")] = 1.0,
    json_: Json = False,
) -> None:
    """(η^ρ − 1)/η^T against D_I/D_T: which channel the next dollar should go to, and the
    break-even query volume Q*."""

    def job() -> None:
        from costcorrect.allocate.threshold import allocation_threshold
        from costcorrect.units import parse_quantity

        decision = allocation_threshold(
            eta_rollouts,
            eta_training,
            parse_quantity(inference_spend, "usd", "inference_spend"),
            parse_quantity(training_spend, "usd", "training_spend"),
            None
            if cost_per_generation is None
            else parse_quantity(cost_per_generation, "usd", "cost_per_generation"),
            generations,
        )
        if json_:
            echo_json(decision.to_dict())
            return
        from costcorrect.cli.render import console

        d = decision
        console.print(
            f"(η^ρ − 1)/η^T = ({d.eta_rollouts:g} − 1)/{d.eta_training:g} = "
            f"{d.lhs:+.4f}  vs  D_I/D_T = {d.spend_ratio:.4f}"
        )
        console.print(
            f"next dollar → [bold]{d.channel}[/bold]  (−∂ln C per $: inference "
            f"{d.inference_gain_per_usd:.3g}, training {d.training_gain_per_usd:.3g})"
        )
        if d.break_even_queries is not None:
            q = d.break_even_queries
            console.print(
                "break-even volume Q* = "
                + (
                    f"{q:,.0f} queries: rollouts win below it"
                    if q > 0
                    else "0: rollouts never win (η^ρ ≤ 1)"
                )
            )

    run_guarded(job)


@app.command()
def fit(
    data: Annotated[
        Path, typer.Argument(help="CSV, JSONL or Parquet of (compute, accuracy) points")
    ],
    form: Annotated[
        str, typer.Option(help="power-law | beta-coverage | log-linear | training")
    ] = "power-law",
    compute_column: Annotated[
        str, typer.Option(help="column of compute (samples or training FLOP)")
    ] = "compute",
    accuracy_column: Annotated[str, typer.Option(help="column of accuracy in [0, 1]")] = "accuracy",
    json_: Json = False,
) -> None:
    """Fit an accuracy curve to (compute, accuracy) points; print its parameters, RMSE and the
    elasticity η at each point."""

    def job() -> None:
        from costcorrect.allocate.curves import fit_curve
        from costcorrect.verify.data import column, read_table

        frame = read_table(data)
        result = fit_curve(
            form,
            column(frame, compute_column).to_numpy(float),
            column(frame, accuracy_column).to_numpy(float),
        )
        if json_:
            echo_json(result.to_dict())
            return
        import pandas as pd

        from costcorrect.cli.render import console, print_frame

        params = ", ".join(f"{k} = {v:.4g}" for k, v in result.to_dict()["parameters"].items())
        console.print(f"{form}: {params}; RMSE {result.rmse:.4f} in accuracy")
        print_frame(
            pd.DataFrame(
                {
                    "compute": result.compute,
                    "accuracy": result.accuracy,
                    "η": [round(e, 4) for e in result.elasticity],
                }
            ),
            "elasticity at each point (η > 1: more rollouts lower cost per correct)",
        )

    run_guarded(job)
