"""``costcorrect perf step|fit|calibrate``: iteration time and its breakdown; fit to your
measurements or to an engine's measured kernel tables."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from costcorrect.cli.common import (
    Json,
    StackOption,
    echo_json,
    progress,
    run_guarded,
    stack_line,
    state,
)
from costcorrect.io import atomic_write

app = typer.Typer(no_args_is_help=True, help="Iteration-time model of prefill and decode steps.")


class Phase(StrEnum):
    prefill = "prefill"
    decode = "decode"


@app.command()
def step(
    model: str = typer.Option("llama-3.1-8b", help="catalog model name or alias"),
    gpu: str = typer.Option("H100-SXM", help="catalog GPU name or alias"),
    tp: int = typer.Option(1, help="tensor-parallel GPUs"),
    pp: int = typer.Option(1, help="pipeline stages"),
    phase: Phase = typer.Option(Phase.decode, help="prefill or decode iteration"),
    batch: int = typer.Option(1, help="sequences in the batch"),
    context: int = typer.Option(1024, help="decode: KV tokens per sequence"),
    prompt: int = typer.Option(1024, help="prefill: new tokens per sequence"),
    cached: int = typer.Option(0, help="prefill: cached prefix tokens per sequence"),
    weight_format: str | None = typer.Option(None, help="bf16|fp16|fp8|int8|awq-int4|fp4"),
    kv_dtype: str | None = typer.Option(None, help="bf16|fp16|fp8|int8"),
    stack: StackOption = None,
    json_: Json = False,
) -> None:
    """Time of one prefill or decode iteration, with its per-op breakdown."""

    def job() -> None:
        from costcorrect.errors import InputError
        from costcorrect.perf import Batch, Deployment, step_time

        for name, value in (("batch", batch), ("context", context), ("prompt", prompt)):
            if value < (1 if name != "context" else 0):
                raise InputError(name, value, "a positive integer")
        if cached < 0:
            raise InputError("cached", cached, "a number of cached tokens ≥ 0")
        dep = Deployment.from_names(
            model,
            gpu,
            tp,
            pp,
            stack=stack,
            catalog=state.catalog(),
            weight_format=weight_format,
            kv_dtype=kv_dtype,
        )
        dep.check_fits()
        work = (
            Batch.prefill(prompt, batch, cached)
            if phase is Phase.prefill
            else Batch.decode(batch, context)
        )
        result = step_time(dep, work)
        if json_:
            echo_json(
                {
                    "model": dep.model.name,
                    "gpu": dep.hardware.name,
                    "tp": tp,
                    "pp": pp,
                    "phase": phase.value,
                    **result.to_dict(),
                }
            )
            return
        from costcorrect.cli.render import print_step

        shape = f"batch {batch} × {prompt if phase is Phase.prefill else context} tokens"
        print_step(
            result, f"{phase.value} {dep.model.name} on {tp * pp}× {dep.hardware.name}, {shape}"
        )

    run_guarded(job)


@app.command()
def fit(
    measurements: Path = typer.Argument(..., help="CSV of measured iterations (see docs/perf.md)"),
    out: Path | None = typer.Option(None, help="write a calibration YAML entry here"),
    gpu: str | None = typer.Option(None, help="only rows of this GPU (default: the only one)"),
    stack: str = typer.Option("user", help="name of the software stack measured"),
    json_: Json = False,
) -> None:
    """Fit the model's efficiencies and overheads to your measured iteration times."""

    def job() -> None:
        from costcorrect.perf.fit import fit_measurement_file

        with progress(f"fitting {measurements} …"):
            result = fit_measurement_file(measurements, state.catalog(), gpu, stack)
        if out is not None:
            atomic_write(out, result.to_yaml())
        if json_:
            echo_json(result.to_dict())
        else:
            from costcorrect.catalog.calibrations import CalibrationSpec
            from costcorrect.cli.render import print_calibration_entry

            print_calibration_entry(CalibrationSpec.model_validate(result.to_dict()))

    run_guarded(job)


class KernelSource(StrEnum):
    aiconfigurator = "aiconfigurator"


class Engine(StrEnum):
    vllm = "vllm"
    sglang = "sglang"
    trtllm = "trtllm"


@app.command()
def calibrate(
    source: KernelSource = typer.Option(
        ..., "--from", help="measured kernel tables: NVIDIA aiconfigurator-core's (optional extra)"
    ),
    gpu: str = typer.Option("H200", help="catalog GPU: A100-80GB-SXM, H100-SXM, H200 or B200"),
    engine: Engine = typer.Option(Engine.vllm, help="serving engine whose kernels were measured"),
    data: Path | None = typer.Option(
        None, help="aiconfigurator-core's systems/data folder (default: the installed package's)"
    ),
    out: Path | None = typer.Option(None, help="write a calibration YAML entry here"),
    json_: Json = False,
) -> None:
    """Fit a stack of today's engine to its measured GEMM, attention and all-reduce kernels;
    print the held-out error per op class and the fitted parameters."""

    def job() -> None:
        from costcorrect.perf.engine_calibration import calibrate_stack

        with progress(f"fitting {engine.value} on {gpu} to {source.value}'s kernel tables …"):
            result = calibrate_stack(state.catalog(), gpu, engine.value, data)
        from costcorrect.perf.fit import calibrations_yaml

        entry = result.to_dict()
        if out is not None:
            atomic_write(out, calibrations_yaml([entry]))
        if json_:
            echo_json({**entry, "held_out_by_op": result.held_out.to_dict(orient="records")})
            return
        from costcorrect.catalog.calibrations import CalibrationSpec
        from costcorrect.cli.render import print_calibration_entry, print_frame

        print_frame(result.held_out, f"held-out relative error of {result.stack} on {gpu}")
        print_calibration_entry(CalibrationSpec.model_validate(entry))

    run_guarded(job)


@app.command()
def speculative(
    model: str = typer.Option("llama-3.1-70b", help="target model (catalog name or alias)"),
    draft: str = typer.Option(
        "llama-3.1-8b", help="draft model on the same GPUs, or 'eagle' (a one-layer head)"
    ),
    gpu: str = typer.Option("H100-SXM", help="catalog GPU name or alias"),
    tp: int = typer.Option(4, min=1, help="tensor-parallel GPUs (target and draft)"),
    k: int = typer.Option(4, help="draft tokens proposed per step (1–16)"),
    accept: float = typer.Option(0.8, help="per-token acceptance rate, [0, 1)"),
    context: int = typer.Option(1024, min=0, help="KV tokens per sequence"),
    batches: str = typer.Option("1,4,16,64,256", help="decode batch sizes"),
    stack: StackOption = None,
    json_: Json = False,
) -> None:
    """Speculative decoding at each batch size: draft steps, the verify step of k + 1 tokens,
    tokens accepted per step and the time per output token against plain decoding."""

    def job() -> None:
        from dataclasses import replace

        from costcorrect.errors import InputError
        from costcorrect.perf import Deployment
        from costcorrect.perf.calibration import stack_validation
        from costcorrect.perf.speculative import (
            Speculation,
            accepted_tokens,
            speculative_steps,
        )

        try:
            sizes = [float(b) for b in batches.split(",")]
        except ValueError:
            raise InputError("batches", batches, "comma-separated batch sizes") from None
        cat = state.catalog()
        target = Deployment.from_names(model, gpu, tp, stack=stack, catalog=cat)
        if not 0 <= accept < 1:
            raise InputError("accept", accept, "a per-token acceptance rate in [0, 1)")
        speculation = Speculation.parse(f"draft={draft},k={k},accept={accept}", cat)
        replace(target, speculation=speculation).check_fits()
        steps = speculative_steps(target, speculation, sizes, context)
        mean, var = accepted_tokens(accept, k)
        helper = speculation.draft_deployment(target)
        validated = stack_validation(cat, target.hardware, target.stack)
        if json_:
            echo_json(
                {
                    "model": target.model.name,
                    "draft": helper.model.name,
                    "gpu": target.hardware.name,
                    "tp": tp,
                    "stack": validated,
                    "tokens_per_step": {"mean": mean, "variance": var},
                    "steps": [s.to_dict() for s in steps],
                }
            )
            return
        import pandas as pd

        from costcorrect.cli.render import print_frame

        frame = pd.DataFrame(
            {
                "batch": [s.batch for s in steps],
                "draft_ms": [s.draft_s * 1e3 for s in steps],
                "verify_ms": [s.verify_s * 1e3 for s in steps],
                "plain_tpot_ms": [s.decode_s * 1e3 for s in steps],
                "speculative_tpot_ms": [s.tpot_s * 1e3 for s in steps],
                "speedup": [s.speedup for s in steps],
            }
        )
        print_frame(
            frame.round(3),
            f"{target.model.name} drafted by {helper.model.name} on {tp}× {gpu}: k = {k}, "
            f"acceptance {accept:g} → {mean:.2f} tokens per step (sd {var**0.5:.2f}), "
            f"context {context:,}",
        )
        paying = [s.batch for s in steps if s.speedup > 1]
        typer.echo(
            f"pays up to batch {max(paying):g} of those tried"
            if paying
            else "pays at no batch tried"
        )
        typer.echo(stack_line(target))

    run_guarded(job)
