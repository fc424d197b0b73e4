"""``costcorrect measure gpu``: time prefill and decode iterations on an NVIDIA GPU and fit the
perf model to them (thin over :mod:`costcorrect.measure.gpu` and :mod:`costcorrect.perf.fit`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from costcorrect.cli.common import Json, echo_json, run_guarded, state

app = typer.Typer(no_args_is_help=True, help="Microbenchmarks on the local GPU.")


@app.command()
def gpu(
    model: Annotated[
        str, typer.Option(help="catalog model whose shapes are timed")
    ] = "llama-3.1-8b",
    gpu_name: Annotated[
        str, typer.Option("--gpu", help="catalog name of this GPU (for the fit)")
    ] = "H100-SXM",
    layers: Annotated[int | None, typer.Option(min=1, help="decoder layers (default: all)")] = None,
    out: Annotated[Path, typer.Option(help="measured iteration times (perf fit's CSV)")] = Path(
        "gpu_timings.csv"
    ),
    calibrations: Annotated[
        Path | None, typer.Option(help="also fit and write a calibration YAML")
    ] = None,
    json_: Json = False,
) -> None:
    """Time prefill and decode iterations of a random-weight model with the catalog model's
    shapes (reads only; clocks and limits untouched), write them in `perf fit`'s format and,
    with --calibrations, fit the perf model. Without an NVIDIA GPU it says so and exits 0."""

    def job() -> None:
        from costcorrect.io import atomic_write
        from costcorrect.measure.gpu import gpu_microbenchmark

        cat = state.catalog()
        cat.hardware.get(gpu_name)
        result = gpu_microbenchmark(cat.models.get(model), gpu_name, layers)
        if not result.available:
            if json_:
                echo_json({"available": False, "reason": result.reason})
            else:
                typer.echo(f"no measurement: {result.reason}")
            return
        fitted = None
        if calibrations is not None:  # fitted before anything is written: both files or none
            import datetime as dt

            from costcorrect.perf.fit import fit_measurement_table

            fitted = fit_measurement_table(
                result.rows,
                cat,
                gpu_name,
                "measured",
                source=f"costcorrect measure gpu {out.name}",
                date=dt.datetime.now(dt.UTC).date(),  # the day of the measurement
            )
        atomic_write(out, result.rows.to_csv(index=False))
        if fitted is not None:
            atomic_write(calibrations, fitted.to_yaml())
        if json_:
            echo_json(
                {
                    "available": True,
                    "device": result.device,
                    "out": str(out),
                    "rows": result.rows.to_dict(orient="records"),
                    "calibrations": None if fitted is None else str(calibrations),
                    "train_median_ape": None if fitted is None else fitted.train_median_ape,
                }
            )
            return
        typer.echo(f"{len(result.rows)} iteration times on {result.device} → {out}")
        typer.echo(result.rows.to_string(index=False))
        if fitted is not None:
            typer.echo(f"fitted: train median APE {fitted.train_median_ape:.1%} → {calibrations}")

    run_guarded(job)
