"""``costcorrect serve simulate|cost``: what a deployment delivers under a contract, and at what
cost per SLO-compliant token."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from costcorrect.cli.common import (
    Concurrency,
    Json,
    Offline,
    StackOption,
    Think,
    echo_json,
    parse_ints,
    progress,
    progress_bar,
    run_guarded,
    seed_option,
    spinner_updates,
    state,
)

app = typer.Typer(no_args_is_help=True, help="Serving engines: simulate, goodput and cost.")

Arch = Annotated[
    str,
    typer.Option("--arch", help="colocated | chunked | static | disaggregated | kvpool"),
]
Model = Annotated[str, typer.Option(help="catalog model")]
Gpu = Annotated[str, typer.Option(help="catalog GPU (both pools unless overridden)")]
Tp = Annotated[int, typer.Option(min=1, help="tensor-parallel GPUs per instance")]
Pp = Annotated[
    int, typer.Option(min=1, help="pipeline stages per instance, each on its own micro-batch")
]
WeightFormat = Annotated[
    str | None, typer.Option(help="weights: bf16 | fp16 | fp8 | int8 | awq-int4 | fp4")
]
KvDtype = Annotated[str | None, typer.Option(help="KV cache: bf16 | fp16 | fp8 | int8")]
Speculative = Annotated[
    str | None,
    typer.Option(
        help="speculative decoding: draft=MODEL or eagle, optional k=N and accept=A (default: "
        "the catalog's measured acceptance for the model, else k=4, accept=0.8), e.g. "
        "draft=llama-3.1-8b,k=4,accept=0.8"
    ),
]
Reservation = Annotated[
    str | None,
    typer.Option(
        help="KV policy: paged (vLLM) | oracle | pow2 | max (Orca's reservations, simulated "
        "only; default paged, max for --arch static)"
    ),
]
KvMemory = Annotated[
    str | None,
    typer.Option(help="KV cache of the instance when a setup states it, e.g. 12GB"),
]
Replicas = Annotated[
    int, typer.Option(min=1, help="colocated/chunked: instances sharing the traffic")
]
Budget = Annotated[int, typer.Option(min=1, help="chunked: token budget τ per iteration")]
MaxTokens = Annotated[int, typer.Option(min=1, help="prefill batch token cap")]
MaxSeqs = Annotated[int, typer.Option(min=1, help="max sequences per instance")]
NPrefill = Annotated[int, typer.Option(min=1, help="disaggregated: prefill instances")]
NDecode = Annotated[int, typer.Option(min=1, help="disaggregated: decode instances")]
PrefillGpu = Annotated[str | None, typer.Option(help="disaggregated: prefill GPU type")]
DecodeGpu = Annotated[str | None, typer.Option(help="disaggregated: decode GPU type")]
PrefillTp = Annotated[int | None, typer.Option(min=1, help="disaggregated: prefill TP")]
DecodeTp = Annotated[int | None, typer.Option(min=1, help="disaggregated: decode TP")]
KvLink = Annotated[str, typer.Option(help="KV link bandwidth per prefill instance, e.g. 50GB/s")]
KvLatency = Annotated[str, typer.Option(help="KV transfer latency, e.g. 1ms")]
KvOverlap = Annotated[
    float, typer.Option(min=0.0, max=1.0, help="fraction of a transfer hidden by streaming")
]
Pool = Annotated[str, typer.Option(help="kvpool: prefix-pool read bandwidth")]
Reject = Annotated[
    str | None, typer.Option(help="kvpool: reject prompts that would wait longer, e.g. 2s")
]
Workload = Annotated[str, typer.Option(help="catalog workload (length distribution)")]
Trace = Annotated[str | None, typer.Option(help="replay a CSV/JSONL trace instead")]
Requests = Annotated[
    int, typer.Option(min=2, help="requests to generate (at least 2: a rate needs two arrivals)")
]
Isl = Annotated[
    int | None, typer.Option(help="fixed input tokens per request (with --osl; not --workload)")
]
Osl = Annotated[int | None, typer.Option(help="fixed output tokens per request (with --isl)")]


def _isl_osl(isl: int | None, osl: int | None) -> tuple[int, int] | None:
    """``(isl, osl)`` when both are given, None when neither; one alone is an input error."""
    from costcorrect.errors import InputError

    if (isl is None) != (osl is None):
        raise InputError("osl" if osl is None else "isl", "missing", "--isl and --osl together")
    return None if isl is None else (isl, osl)


Seed = seed_option()
PrefixHit = Annotated[float, typer.Option(help="prefix-cache hit ratio of prompts")]


def _spec(options: dict):
    """The :class:`ServeSpec` from a command's options (its ``locals()``)."""
    from dataclasses import fields

    from costcorrect.serving.build import ServeSpec

    names = {f.name for f in fields(ServeSpec)}
    return ServeSpec(
        architecture=options["arch"], **{k: v for k, v in options.items() if k in names}
    )


@app.command()
def simulate(
    rate: Annotated[
        str | None,
        typer.Option(
            help="arrival rate, requests/s (default 1; a --trace keeps its own times unless given)"
        ),
    ] = None,
    arch: Arch = "colocated",
    model: Model = "llama-3.1-8b",
    gpu: Gpu = "H100-SXM",
    tp: Tp = 1,
    pp: Pp = 1,
    stack: StackOption = None,
    weight_format: WeightFormat = None,
    kv_dtype: KvDtype = None,
    speculative: Speculative = None,
    reservation: Reservation = None,
    kv_memory: KvMemory = None,
    replicas: Replicas = 1,
    token_budget: Budget = 512,
    max_batch_tokens: MaxTokens = 8192,
    max_seqs: MaxSeqs = 256,
    n_prefill: NPrefill = 1,
    n_decode: NDecode = 1,
    prefill_gpu: PrefillGpu = None,
    decode_gpu: DecodeGpu = None,
    prefill_tp: PrefillTp = None,
    decode_tp: DecodeTp = None,
    kv_link: KvLink = "50GB/s",
    kv_latency: KvLatency = "0s",
    kv_overlap: KvOverlap = 0.0,
    pool_bandwidth: Pool = "25GB/s",
    reject_after: Reject = None,
    workload: Workload = "sharegpt",
    trace: Trace = None,
    isl: Isl = None,
    osl: Osl = None,
    requests: Requests = 5000,
    seed: Seed = 0,
    prefix_hit: PrefixHit = 0.0,
    concurrency: Concurrency = None,
    think: Think = "0s",
    out: Annotated[
        Path | None, typer.Option(help="write per-request records (.csv/.parquet)")
    ] = None,
    json_: Json = False,
) -> None:
    """Simulate the deployment on a request stream (at --rate, or --concurrency closed-loop
    users); print latency percentiles with 95 % CIs."""
    options = locals()

    def job() -> None:
        from costcorrect.errors import InputError
        from costcorrect.serving.build import build_architecture, build_stream
        from costcorrect.serving.closedloop import REQUESTS_PER_USER, closed_loop
        from costcorrect.serving.simulator import simulate as run
        from costcorrect.serving.stats import summarize
        from costcorrect.units import parse_quantity

        cat = state.catalog()
        spec = _spec(options)
        architecture = build_architecture(spec, cat)
        n = requests
        if concurrency and trace is None:  # a steady window long against the users
            n = max(n, REQUESTS_PER_USER * concurrency)
        stream = build_stream(
            workload,
            rate if rate is not None or trace is not None else "1",
            n,
            seed,
            trace,
            prefix_hit=prefix_hit,
            catalog=cat,
            isl_osl=_isl_osl(isl, osl),
        )
        loop = None
        with progress_bar("simulating requests") as update:
            if concurrency:
                think_s = parse_quantity(think, "time", "think")
                loop = closed_loop(architecture, stream, concurrency, think_s, update)
                result = loop.result
            else:
                result = run(architecture, stream, progress=update)
        if loop is None and result.unstable:
            raise InputError(
                "rate",
                f"{stream.rate_per_s:.3g} req/s",
                f"a load the deployment sustains (the queue was still draining "
                f"{result.backlog_s:.0f} s after the last arrival; see `serve cost` for goodput)",
            )
        summary = summarize(result.records, result.steady)
        if out is not None:
            _write_records(result.records.to_frame(), out)
        tbt = {f"tbt_p{q * 100:g}_s": result.tbt_quantile(q) for q in (0.5, 0.9, 0.99)}
        users = {}
        if loop is not None:
            users = {
                "concurrency": loop.users,
                "think_s": loop.think_s,
                "per_user_tokens_per_s": loop.per_user_tokens_per_s,
            }
        lengths = stream.length_stats(cat)
        if json_:
            echo_json(
                {
                    "architecture": result.architecture,
                    **summary.to_dict(),
                    **tbt,
                    **users,
                    "workload": asdict(lengths),
                }
            )
        else:
            from costcorrect.cli.render import print_latency

            typer.echo(lengths.sentence())
            print_latency(result.architecture, summary, tbt)
            if loop is not None:
                typer.echo(
                    f"closed loop: {loop.users} users (think {think}), "
                    f"{loop.per_user_tokens_per_s:.1f} output tok/s per user (1 / mean TPOT)"
                )

    run_guarded(job)


def _write_records(frame, out: Path) -> None:
    import io

    from costcorrect.errors import InputError
    from costcorrect.io import atomic_write

    if out.suffix == ".csv":
        atomic_write(out, frame.to_csv(index=False))
    elif out.suffix == ".parquet":
        buffer = io.BytesIO()
        try:
            frame.to_parquet(buffer, index=False)
        except ImportError:
            raise InputError(
                "out", str(out), "a .csv file (install pyarrow for .parquet)"
            ) from None
        atomic_write(out, buffer.getvalue())
    else:
        raise InputError("out", str(out), "a path ending in .csv or .parquet")


@app.command()
def cost(
    ttft: Annotated[str, typer.Option(help="TTFT bound, e.g. 1s")] = "1s",
    tpot: Annotated[str, typer.Option(help="TPOT bound, e.g. 50ms")] = "50ms",
    quantile: Annotated[float, typer.Option(help="contract quantile")] = 0.99,
    form: Annotated[str, typer.Option(help="quantile | attainment (DistServe)")] = "quantile",
    attainment: Annotated[float, typer.Option(help="attainment form: fraction")] = 0.9,
    engine: Annotated[
        str | None,
        typer.Option(help="analytic | sim (default: analytic; sim for --offline/--concurrency)"),
    ] = None,
    demand: Annotated[str | None, typer.Option(help="fleet mode: demand, requests/s")] = None,
    total_tokens: Annotated[bool, typer.Option(help="per input+output token")] = False,
    energy_usd_per_kwh: Annotated[float, typer.Option(help="add energy at this $/kWh")] = 0.0,
    power: Annotated[
        str,
        typer.Option(
            help="energy at: tdp (upper bound) | modelled (the energy model's decode power)"
        ),
    ] = "tdp",
    pue: Annotated[float, typer.Option(help="facility power usage effectiveness")] = 1.0,
    network_usd_per_gb: Annotated[float, typer.Option(help="$ per GB of KV moved")] = 0.0,
    converge: Annotated[
        bool,
        typer.Option(
            help="sim: size the run by Little's law (≥ 4 requests per sequence slot) and double "
            "it until two lengths agree within 5 %"
        ),
    ] = True,
    offline: Offline = False,
    concurrency: Concurrency = None,
    think: Think = "0s",
    arch: Arch = "colocated",
    model: Model = "llama-3.1-8b",
    gpu: Gpu = "H100-SXM",
    tp: Tp = 1,
    pp: Pp = 1,
    stack: StackOption = None,
    weight_format: WeightFormat = None,
    kv_dtype: KvDtype = None,
    speculative: Speculative = None,
    reservation: Reservation = None,
    kv_memory: KvMemory = None,
    replicas: Replicas = 1,
    token_budget: Budget = 512,
    max_batch_tokens: MaxTokens = 8192,
    max_seqs: MaxSeqs = 256,
    n_prefill: NPrefill = 1,
    n_decode: NDecode = 1,
    prefill_gpu: PrefillGpu = None,
    decode_gpu: DecodeGpu = None,
    prefill_tp: PrefillTp = None,
    decode_tp: DecodeTp = None,
    kv_link: KvLink = "50GB/s",
    kv_latency: KvLatency = "0s",
    kv_overlap: KvOverlap = 0.0,
    pool_bandwidth: Pool = "25GB/s",
    reject_after: Reject = None,
    workload: Workload = "sharegpt",
    trace: Trace = None,
    isl: Isl = None,
    osl: Osl = None,
    requests: Requests = 4000,
    seed: Seed = 0,
    prefix_hit: PrefixHit = 0.0,
    json_: Json = False,
) -> None:
    """Goodput under an SLO contract and $ per million SLO-compliant tokens, split into
    prefill + decode + KV-transfer tax."""
    options = locals()

    def job() -> None:
        from costcorrect.errors import InputError
        from costcorrect.serving.build import build_architecture, build_stream
        from costcorrect.serving.closedloop import REQUESTS_PER_USER
        from costcorrect.serving.contract import Contract
        from costcorrect.serving.cost import Load, Pricing, cost_per_token
        from costcorrect.serving.goodput import REQUESTS_PER_SLOT, sequence_slots
        from costcorrect.units import parse_quantity

        cat = state.catalog()
        spec = _spec(options)
        architecture = build_architecture(spec, cat)
        contract = Contract(
            parse_quantity(ttft, "time", "ttft"),
            parse_quantity(tpot, "time", "tpot"),
            quantile,
            form,
            attainment,
        )
        n = requests
        think_s = parse_quantity(think, "time", "think")
        simulated = offline or concurrency or architecture.simulated_only
        mode = engine or ("sim" if simulated else "analytic")
        if trace is None and concurrency:  # a steady window long against the users
            n = max(n, REQUESTS_PER_USER * concurrency)
        elif (converge or offline) and mode == "sim" and trace is None:  # Little's law
            n = max(n, REQUESTS_PER_SLOT * sequence_slots(architecture))
        fixed = _isl_osl(isl, osl)
        stream = build_stream(
            workload, 1.0, n, seed, trace, prefix_hit=prefix_hit, catalog=cat, isl_osl=fixed
        )
        rate = None if demand is None else parse_quantity(demand, "count", "demand")
        with progress(f"searching goodput ({mode}) …"):
            watts = None
            if power == "modelled":
                from costcorrect.energy.model import serving_power_w

                watts = serving_power_w(architecture)
            elif power != "tdp":
                raise InputError("power", power, "tdp or modelled")
            pricing = Pricing(energy_usd_per_kwh, pue, network_usd_per_gb, watts)
            # longer runs draw fresh requests of the workload; a trace is replayed
            draw = None
            if trace is None:

                def draw(n: int):
                    return build_stream(
                        workload, 1.0, n, seed, prefix_hit=prefix_hit, catalog=cat, isl_osl=fixed
                    )

            load = Load(converge, offline, concurrency or 0, think_s, draw)
            result = cost_per_token(
                architecture, contract, stream, total_tokens, rate, mode, pricing, load
            )
        lengths = stream.length_stats(cat)
        speculation = architecture.decoder.speculation
        if json_:
            extra = {"speculative": speculation.to_dict() if speculation else None}
            echo_json({**result.to_dict(), **extra, "workload": asdict(lengths)})
        else:
            from costcorrect.cli.render import print_cost

            typer.echo(lengths.sentence())
            print_cost(result)
            if speculation is not None:
                typer.echo(speculation.sentence())

    run_guarded(job)


@app.command()
def curve(
    arch: Arch = "chunked",
    model: Model = "llama-3.1-8b",
    gpu: Gpu = "H100-SXM",
    tp: Tp = 1,
    pp: Pp = 1,
    stack: StackOption = None,
    weight_format: WeightFormat = None,
    kv_dtype: KvDtype = None,
    speculative: Speculative = None,
    reservation: Reservation = None,
    kv_memory: KvMemory = None,
    replicas: Replicas = 1,
    token_budget: Budget = 2048,
    max_batch_tokens: MaxTokens = 8192,
    max_seqs: MaxSeqs = 256,
    workload: Workload = "sharegpt",
    isl: Isl = None,
    osl: Osl = None,
    concurrency: Annotated[
        str, typer.Option(help="users per run, comma-separated")
    ] = "1,2,4,8,16,32,64,128,256",
    think: Think = "0s",
    seed: Seed = 0,
    out: Annotated[
        Path, typer.Option(help="output stem: writes STEM.csv, STEM.png and STEM.svg")
    ] = Path("curve"),
    json_: Json = False,
) -> None:
    """Throughput per GPU against tokens/s per user over a ladder of concurrencies (closed-loop
    simulations): the trade-off engine vendors publish, as a table, CSV and figure."""
    options = locals()

    def job() -> None:
        from costcorrect.io import atomic_write
        from costcorrect.report.figures import throughput_curve_figure
        from costcorrect.serving.build import build_architecture, build_stream
        from costcorrect.serving.closedloop import throughput_curve
        from costcorrect.units import parse_quantity

        cat = state.catalog()
        architecture = build_architecture(_spec(options), cat)
        users = parse_ints(concurrency, "concurrency")
        think_s = parse_quantity(think, "time", "think")
        fixed = _isl_osl(isl, osl)

        def draw(n: int):
            return build_stream(workload, 1.0, n, seed, catalog=cat, isl_osl=fixed)

        with progress("simulating closed loops …") as status:
            result = throughput_curve(architecture, draw, users, think_s, spinner_updates(status))
        frame = result.frame()
        atomic_write(out.with_suffix(".csv"), frame.to_csv(index=False))
        label = (
            f"{model} on {architecture.gpus}× {gpu} ({arch}, "
            f"{architecture.deployment.stack}), {workload if fixed is None else f'{isl}/{osl}'}"
        )
        figures = throughput_curve_figure(result, label, out)
        if json_:
            echo_json({"architecture": result.architecture, "gpus": result.gpus,
                       "rows": result.rows, "files": [str(out.with_suffix(".csv")),
                       *map(str, figures)]})  # fmt: skip
        else:
            from costcorrect.cli.render import print_frame
            from costcorrect.units import format_quantity

            shown = frame.assign(
                output_tokens_per_s_per_gpu=frame["output_tokens_per_s_per_gpu"].round(0),
                output_tokens_per_s_per_user=frame["output_tokens_per_s_per_user"].round(1),
                requests_per_s=frame["requests_per_s"].round(3),
                ttft_p50_s=[format_quantity(v, "time") for v in frame["ttft_p50_s"]],
                tpot_p50_s=[format_quantity(v, "time") for v in frame["tpot_p50_s"]],
            ).rename(
                columns={
                    "output_tokens_per_s_per_gpu": "output tok/s per GPU",
                    "output_tokens_per_s_per_user": "output tok/s per user",
                    "requests_per_s": "req/s",
                    "ttft_p50_s": "TTFT p50",
                    "tpot_p50_s": "TPOT p50",
                }
            )
            print_frame(shown, f"{label}: closed-loop throughput against per-user speed")
            typer.echo(f"wrote {out.with_suffix('.csv')}, {', '.join(map(str, figures))}")

    run_guarded(job)
