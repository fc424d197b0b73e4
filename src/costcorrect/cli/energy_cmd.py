"""``costcorrect energy model|levers|arch|measure``: joules and dollars of power per token,
power cap vs SM clock locking, attention architectures, NVML measurement (thin over
:mod:`costcorrect.energy`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from costcorrect.cli.common import Json, StackOption, echo_json, run_guarded, stack_line, state

app = typer.Typer(no_args_is_help=True, help="Energy per token: power model, levers, measurement.")

Model = Annotated[str, typer.Option(help="catalog model")]
Gpu = Annotated[str, typer.Option(help="catalog GPU")]
Tp = Annotated[int, typer.Option(help="tensor-parallel GPUs")]
Kwh = Annotated[float, typer.Option(help="energy price, $/kWh")]
Pue = Annotated[float, typer.Option(help="facility power usage effectiveness")]
Duty = Annotated[
    float,
    typer.Option(
        min=0.001,
        max=1.0,
        help="share of wall time the engine runs kernels (1: back to back; the gaps between "
        "iterations draw idle plus the clock's overhead power)",
    ),
]


def _batches(text: str) -> list[int]:
    from costcorrect.errors import InputError

    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError("batches", text, "comma-separated whole numbers, e.g. 1,8,64") from None
    if not values or min(values) < 1:
        raise InputError("batches", text, "batch sizes ≥ 1")
    return values


def _deployment(model: str, gpu: str, tp: int, stack: str | None):
    from costcorrect.perf import Deployment

    return Deployment.from_names(model, gpu, tp, stack=stack, catalog=state.catalog())


@app.command("model")
def model_(
    model: Model = "llama-3.1-8b",
    gpu: Gpu = "H200",
    tp: Tp = 1,
    batches: Annotated[str, typer.Option(help="decode batch sizes")] = "1,8,32,64,128,256",
    context: Annotated[float, typer.Option(help="KV tokens per sequence (decode)")] = 1024,
    prompt: Annotated[int, typer.Option(min=1, help="prompt tokens (prefill)")] = 2048,
    usd_per_kwh: Kwh = 0.10,
    pue: Pue = 1.2,
    duty: Duty = 1.0,
    stack: StackOption = None,
    json_: Json = False,
) -> None:
    """Modelled power (W per GPU), time, J/token and energy $/M tokens of decode at each batch
    size and of one prefill, at the default clock (power-limited at TDP)."""

    def job() -> None:
        import pandas as pd

        from costcorrect.energy.levers import lever_study

        dep = _deployment(model, gpu, tp, stack)
        rows = []
        for phase, sizes, ctx in (("decode", _batches(batches), context), ("prefill", [1], prompt)):
            study = lever_study(
                dep,
                phase,
                sizes,
                ctx,
                clocks=2,
                caps_w=[],
                usd_per_kwh=usd_per_kwh,
                pue=pue,
                duty=duty,
            )
            rows += [dict(phase=phase, **vars(p)) for p in study.points if p.lever == "default"]
        frame = pd.DataFrame(rows).drop(columns=["lever", "setting"])
        if json_:
            echo_json(frame.to_dict("records"))
            return
        from costcorrect.cli.render import print_frame

        shown = frame.assign(ms_per_token=frame["seconds_per_token"] * 1e3)
        shown = shown.drop(columns=["seconds_per_token"])
        print_frame(
            shown,
            f"{model} on {tp}× {gpu}: W per GPU, J/token, "
            f"$/M tokens of energy at ${usd_per_kwh}/kWh, PUE {pue}, duty {duty:g}",
        )
        typer.echo(stack_line(dep))

    run_guarded(job)


@app.command()
def levers(
    model: Model = "llama-3.1-8b",
    gpu: Gpu = "H200",
    tp: Tp = 1,
    phase: Annotated[str, typer.Option(help="decode | prefill")] = "decode",
    batches: Annotated[str, typer.Option(help="batch sizes")] = "1,8,32,64,128,256",
    context: Annotated[float, typer.Option(help="decode: KV tokens; prefill: prompt")] = 1024,
    max_loss: Annotated[
        float, typer.Option(help="throughput-loss budget of the constrained optimum")
    ] = 0.05,
    usd_per_kwh: Kwh = 0.10,
    pue: Pue = 1.2,
    out: Annotated[Path | None, typer.Option(help="write every lever point as CSV")] = None,
    duty: Duty = 1.0,
    stack: StackOption = None,
    json_: Json = False,
) -> None:
    """Power cap vs SM clock locking: the energy-optimal locked clock per batch size (overall
    and within the throughput-loss budget) and each lever's Pareto set."""

    def job() -> None:
        import pandas as pd

        from costcorrect.energy.levers import lever_study

        dep = _deployment(model, gpu, tp, stack)
        study = lever_study(
            dep,
            phase,
            _batches(batches),
            context,
            usd_per_kwh=usd_per_kwh,
            pue=pue,
            max_loss=max_loss,
            duty=duty,
        )
        points = pd.DataFrame([vars(p) for p in study.points])
        optima = pd.DataFrame([vars(o) for o in study.optima])
        if out is not None:
            from costcorrect.io import atomic_write

            atomic_write(out, points.to_csv(index=False))
        if json_:
            echo_json(
                {
                    "optima": optima.to_dict("records"),
                    "pareto": {
                        lever: [vars(p) for p in study.pareto(lever)] for lever in ("clock", "cap")
                    },
                }
            )
            return
        from costcorrect.cli.render import print_frame

        print_frame(
            optima.round(3),
            f"{phase}: energy-optimal SM clock lock (× f_max) per "
            f"batch; budget = at most {max_loss:.0%} throughput loss",
        )
        caps = points[(points.lever == "cap")]
        bind = caps[caps.clock < 1]
        print_frame(
            pd.DataFrame({"batch": sorted(set(points.batch))})
            .assign(
                default_power_w=[
                    points[(points.lever == "default") & (points.batch == b)].power_w.iloc[0]
                    for b in sorted(set(points.batch))
                ],
                highest_binding_cap_w=[
                    bind[bind.batch == b].setting.max() if (bind.batch == b).any() else None
                    for b in sorted(set(points.batch))
                ],
            )
            .round(1),
            "power cap: binds only below the default power",
        )
        typer.echo(stack_line(dep))

    run_guarded(job)


@app.command()
def arch(
    model: Model = "llama-3.1-8b",
    gpu: Gpu = "H200",
    tp: Tp = 1,
    prompt: Annotated[int, typer.Option(min=1, help="prompt tokens")] = 2048,
    batches: Annotated[str, typer.Option(help="decode batch sizes")] = "1,8,32,128",
    json_: Json = False,
) -> None:
    """GQA vs MLA vs SSM twins of one model: per-request energy (prefill + decode) over
    output length and batch size, and the output length where each repays its prefill."""

    def job() -> None:
        import pandas as pd

        from costcorrect.energy.architectures import request_energy

        cat = state.catalog()
        r = request_energy(
            cat.models.get(model), cat.hardware.get(gpu), prompt, batches=_batches(batches), tp=tp
        )
        rows = [
            {
                "variant": name,
                "output_tokens": int(o),
                "batch": int(b),
                "prefill_j": r.prefill_j[name],
                "decode_j": float(r.decode_j[name][i, j]),
                "total_j": float(r.total_j(name)[i, j]),
            }
            for name in r.prefill_j
            for i, o in enumerate(r.outputs)
            for j, b in enumerate(r.batches)
        ]
        crossover = {
            name: dict(zip(map(int, r.batches), map(float, v), strict=True))
            for name, v in r.crossover.items()
        }
        if json_:
            echo_json({"rows": rows, "crossover_output_tokens": crossover})
            return
        from costcorrect.cli.render import print_frame

        print_frame(pd.DataFrame(rows).round(2), f"J per request, prompt {prompt} tokens")
        print_frame(
            pd.DataFrame(crossover).rename_axis("batch").reset_index(),
            "output tokens from which the variant's request costs no more than GQA's",
        )

    run_guarded(job)


@app.command()
def measure(
    model: Model = "llama-3.1-8b",
    layers: Annotated[int | None, typer.Option(min=1, help="decoder layers (default: all)")] = None,
    out: Annotated[Path | None, typer.Option(help="write the measurements as JSON")] = None,
    json_: Json = False,
) -> None:
    """J/token of prefill and decode of a random-weight model of a real architecture,
    measured with NVML's energy counter over three windows of at least 1 s each, with a 95 %
    interval (reads only; clocks and limits are left alone). A window averaging above the
    board's power limit is a counter artefact: dropped and counted, never reported. Without an
    NVIDIA GPU it says so and exits 0."""

    def job() -> None:
        import json

        from costcorrect.energy.measure import measure_energy

        result = measure_energy(state.catalog().models.get(model), layers)
        if not result.available:
            echo_json(result.to_dict()) if json_ else typer.echo(f"no measurement: {result.reason}")
            return
        text = json.dumps(result.to_dict(), indent=2)
        if out is not None:
            from costcorrect.io import atomic_write

            atomic_write(out, text + "\n")
        typer.echo(text)
        if result.dropped:
            typer.echo(
                f"warning: {result.dropped} window(s) read above the {result.power_limit_w:.0f} W "
                "board limit and were dropped (energy-counter artefacts)",
                err=True,
            )

    run_guarded(job)
