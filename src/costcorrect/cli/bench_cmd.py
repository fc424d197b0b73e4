"""``costcorrect bench run|sweep``: measure a running OpenAI-compatible endpoint (vLLM, SGLang,
TGI, transformers serve …) under open-loop load — TTFT/TPOT/ITL distributions, goodput under a
contract, cost per SLO-compliant token (thin over :mod:`costcorrect.measure`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from costcorrect.cli.common import Json, echo_json, run_guarded, seed_option

app = typer.Typer(no_args_is_help=True, help="Measure a real deployment under load.")

Url = Annotated[str, typer.Option(help="server base URL, e.g. http://127.0.0.1:8000")]
Endpoint = Annotated[str, typer.Option(help="chat | completions")]
Requests = Annotated[int | None, typer.Option(help="requests to send")]
Duration = Annotated[float | None, typer.Option(help="or: seconds of arrivals")]
InLen = Annotated[
    str, typer.Option(help="input tokens: N, uniform:LO:HI, normal:M:SD, lognormal:MEDIAN:SIGMA")
]
OutLen = Annotated[str, typer.Option(help="output tokens (max_tokens), same forms")]
Ttft = Annotated[str | None, typer.Option(help="contract TTFT bound, e.g. 1s")]
Tpot = Annotated[str | None, typer.Option(help="contract TPOT bound, e.g. 50ms")]
Quantile = Annotated[float, typer.Option(help="contract quantile")]
Cost = Annotated[
    str | None,
    typer.Option("--gpus-cost", help="price of the GPUs behind the endpoint, e.g. '$2.99/h'"),
]
ApiKey = Annotated[
    str | None,
    typer.Option(
        envvar="OPENAI_API_KEY", help="bearer token for the server (default: $OPENAI_API_KEY)"
    ),
]
Header = Annotated[
    list[str] | None, typer.Option("--header", help="extra HTTP header 'Name: value' (repeatable)")
]
IgnoreEos = Annotated[
    bool,
    typer.Option(
        "--ignore-eos", help="ask the server (vLLM, SGLang) to generate every requested token"
    ),
]
Burstiness = Annotated[
    float,
    typer.Option(
        help="as vLLM's: the gamma shape of inter-arrival gaps; 1 = Poisson, < 1 burstier, "
        "> 1 smoother (CV = 1/√burstiness)"
    ),
]
Timeout = Annotated[float, typer.Option(help="per-request timeout, seconds")]
TokenizerPath = Annotated[
    str | None,
    typer.Option(
        "--tokenizer",
        help="a Hugging Face tokenizer.json: prompts of exactly --input-len tokens under it "
        "(needs the `tokenizers` package; default: about one word per token)",
    ),
]
Seed = seed_option("seed of arrivals and lengths")
Model = Annotated[str | None, typer.Option(help="model field to send (default: omitted)")]


def _spec(
    url,
    endpoint,
    rate,
    concurrency,
    trace,
    burstiness,
    requests,
    duration,
    input_len,
    output_len,
    timeout,
    seed,
    model,
    api_key=None,
    headers=None,
    ignore_eos=False,
    tokenizer=None,
    processes=1,
):
    from costcorrect.errors import InputError
    from costcorrect.measure.lengths import LengthDist
    from costcorrect.measure.loadgen import LoadSpec
    from costcorrect.measure.prompts import prompt_builder

    prompt_builder(tokenizer)  # a bad tokenizer is refused before any request

    pairs = []
    for header in headers or ():
        name, sep, value = header.partition(":")
        if not sep:
            raise InputError("header", header, "'Name: value'")
        pairs.append((name.strip(), value.strip()))
    if api_key:
        pairs.append(("Authorization", f"Bearer {api_key}"))

    arrivals = None
    if trace is not None:
        from costcorrect.workload.stream import read_trace

        arrivals = tuple(read_trace(trace).arrival_s.tolist())
    return LoadSpec(
        url,
        endpoint,
        rate,
        concurrency,
        burstiness,
        requests,
        duration,
        LengthDist.parse(input_len, "input_len"),
        LengthDist.parse(output_len, "output_len"),
        timeout,
        seed,
        model,
        arrivals,
        tuple(pairs),
        ignore_eos,
        tokenizer,
        processes,
    )


def _contract(ttft, tpot, quantile):
    if ttft is None and tpot is None:
        return None
    from costcorrect.serving.contract import Contract
    from costcorrect.units import parse_quantity

    return Contract(
        parse_quantity(ttft or "1h", "time", "ttft"),
        parse_quantity(tpot or "1h", "time", "tpot"),
        quantile,
    )


def _usd(cost):
    if cost is None:
        return None
    from costcorrect.units import parse_quantity

    return parse_quantity(cost, "usd_rate", "gpus_cost") * 3600


@app.command()
def run(
    url: Url = "http://127.0.0.1:8000",
    endpoint: Endpoint = "chat",
    rate: Annotated[float | None, typer.Option(help="open loop: requests/s")] = None,
    concurrency: Annotated[int | None, typer.Option(help="closed loop: users")] = None,
    trace: Annotated[
        Path | None,
        typer.Option(
            help="open loop: start times from a trace (CSV/JSONL/Parquet, as `serve simulate`)"
        ),
    ] = None,
    burstiness: Burstiness = 1.0,
    requests: Requests = None,
    duration: Duration = None,
    input_len: InLen = "128",
    output_len: OutLen = "64",
    timeout: Timeout = 60.0,
    seed: Seed = 0,
    model: Model = None,
    api_key: ApiKey = None,
    header: Header = None,
    ignore_eos: IgnoreEos = False,
    tokenizer: TokenizerPath = None,
    processes: Annotated[
        int,
        typer.Option(
            help="open loop: sending processes (request i from process i mod N; the arrival "
            "process unchanged) — for rates one event loop cannot keep (≳ 2,000 req/s)"
        ),
    ] = 1,
    ttft: Ttft = None,
    tpot: Tpot = None,
    quantile: Quantile = 0.99,
    gpus_cost: Cost = None,
    out: Annotated[
        Path | None,
        typer.Option(help="per-request records: .jsonl (written as requests end) or .parquet"),
    ] = None,
    json_: Json = False,
) -> None:
    """Send load, record every request (TTFT measured from its scheduled start), and print
    p50/p90/p95/p99 with intervals, goodput and $ per SLO-compliant token."""

    def job() -> None:
        from costcorrect.measure.probe import probe
        from costcorrect.measure.runner import run_and_record

        spec = _spec(
            url,
            endpoint,
            rate,
            concurrency,
            trace,
            burstiness,
            requests,
            duration,
            input_len,
            output_len,
            timeout,
            seed,
            model,
            api_key,
            header,
            ignore_eos,
            tokenizer,
            processes,
        )
        contract, usd = _contract(ttft, tpot, quantile), _usd(gpus_cost)
        probe(spec)
        summary, interrupted = run_and_record(spec, out, contract, usd)
        if json_:
            echo_json(summary.to_dict())
        else:
            from costcorrect.cli.render import print_bench

            print_bench(summary)
        if interrupted:
            typer.echo(
                f"interrupted: {summary.requests} finished requests kept"
                + (f" in {out}" if out else ""),
                err=True,
            )
            raise typer.Exit(130)

    run_guarded(job, together=False)  # records land as requests end, kept on any failure


@app.command()
def sweep(
    url: Url = "http://127.0.0.1:8000",
    endpoint: Endpoint = "chat",
    ttft: Ttft = "1s",
    tpot: Tpot = "100ms",
    quantile: Quantile = 0.99,
    start_rate: Annotated[
        float | None,
        typer.Option(help="first rate tried, requests/s (default: half the probed capacity)"),
    ] = None,
    requests: Annotated[
        int, typer.Option(min=1, help="requests per trial, at least (trials also last ≥ 5 s)")
    ] = 60,
    repeats: Annotated[int, typer.Option(help="trials per rate (all must meet)")] = 2,
    max_time: Annotated[float, typer.Option(help="total time budget, seconds")] = 600.0,
    input_len: InLen = "128",
    output_len: OutLen = "64",
    burstiness: Burstiness = 1.0,
    timeout: Timeout = 60.0,
    seed: Seed = 0,
    model: Model = None,
    api_key: ApiKey = None,
    header: Header = None,
    ignore_eos: IgnoreEos = False,
    tokenizer: TokenizerPath = None,
    gpus_cost: Cost = None,
    json_: Json = False,
) -> None:
    """The largest Poisson rate whose runs meet the contract and that the server keeps up
    with (a closed-loop capacity probe first; trials of ≥ 5 s; doubling, then bisection with
    repeated trials, within --max-time), confirmed by a fresh run, with its bracket."""

    def job() -> None:
        from costcorrect.cli.common import progress
        from costcorrect.measure.probe import probe
        from costcorrect.measure.sweep import sweep as do_sweep

        spec = _spec(
            url,
            endpoint,
            start_rate or 1.0,
            None,
            None,
            burstiness,
            requests,
            None,
            input_len,
            output_len,
            timeout,
            seed,
            model,
            api_key,
            header,
            ignore_eos,
            tokenizer,
        )
        contract = _contract(ttft, tpot, quantile)
        probe(spec)
        with progress("sweeping rates …"):
            result = do_sweep(spec, contract, start_rate, repeats, max_time)
        usd = _usd(gpus_cost)
        data = {
            "rate": result.rate,
            "bracket": list(result.bracket),
            "capacity_rps": result.capacity_rps,
            "confirmed": result.confirmed,
            "contract": contract.describe(),
            "wall_s": result.wall_s,
            "trials": [vars(t) for t in result.trials],
        }
        if usd is not None and result.confirmation is not None:
            good = result.confirmation.compliant_tokens_per_s
            data["usd_per_million_compliant_tokens"] = usd / 3600 / good * 1e6 if good else None
        if json_:
            echo_json(data)
            return
        import pandas as pd

        from costcorrect.cli.render import console, print_frame

        print_frame(pd.DataFrame(data["trials"]).round(4), f"trials ({contract.describe()})")
        verdict = "confirmed" if result.confirmed else "no rate met the contract"
        high = result.bracket[1]
        console.print(
            f"largest rate: [bold]{result.rate:.3g} req/s[/bold] ({verdict}; the first rate "
            f"that failed: {high:.3g} req/s; probed capacity {result.capacity_rps:.3g} req/s; "
            f"{result.wall_s:.0f} s)"
        )

    run_guarded(job)


@app.command()
def ingest(
    file: Annotated[Path, typer.Argument(help="a result file of another benchmark tool")],
    format_: Annotated[
        str, typer.Option("--format", help="vllm | aiperf | guidellm | inference-perf")
    ],
    out: Annotated[Path | None, typer.Option(help="write the records (.jsonl or .parquet)")] = None,
    ttft: Ttft = None,
    tpot: Tpot = None,
    quantile: Quantile = 0.99,
    gpus_cost: Cost = None,
    duration: Annotated[
        float | None,
        typer.Option(help="the run's length, s, for rates (default: from the records' times)"),
    ] = None,
    json_: Json = False,
) -> None:
    """Read vLLM / AIPerf / GuideLLM / inference-perf results into costcorrect's per-request
    records (units and TPOT/ITL definitions normalised) and summarise them like `bench run`."""

    def job() -> None:
        from costcorrect.measure.ingest import read_results
        from costcorrect.measure.records import write_records
        from costcorrect.measure.summary import summarize

        records = read_results(file, format_)
        ends = [r.scheduled_s + r.e2e_s for r in records if r.status == "ok"]
        wall = duration or (max(ends) if ends and max(ends) > 0 else float("nan"))
        if out is not None:
            write_records(out, records)
        summary = summarize(records, wall, _contract(ttft, tpot, quantile), _usd(gpus_cost))
        if json_:
            echo_json(summary.to_dict())
        else:
            from costcorrect.cli.render import print_bench

            print_bench(summary)

    run_guarded(job)


Runs = Annotated[list[Path], typer.Argument(help="records files (.jsonl/.parquet), one per run")]


def _model_and_gpu(model: str, gpu: str):
    from costcorrect.cli.common import state

    cat = state.catalog()
    return cat.models.get(model), cat.hardware.get(gpu)


@app.command()
def fit(
    runs: Runs,
    model: Annotated[str, typer.Option(help="catalog model served (add yours with --catalog)")],
    gpu: Annotated[str, typer.Option(help="catalog hardware it runs on")],
    max_seqs: Annotated[int, typer.Option(help="the engine's max running sequences")] = 256,
    token_budget: Annotated[
        int, typer.Option(help="the engine's tokens per iteration (vLLM max_num_batched_tokens)")
    ] = 512,
    stack: Annotated[str, typer.Option(help="name of the fitted calibration")] = "measured",
    out: Annotated[Path | None, typer.Option(help="write the fit as JSON (for `predict`)")] = None,
    calibration: Annotated[
        Path | None,
        typer.Option(help="also write a catalog calibration YAML (use with --catalog, --stack)"),
    ] = None,
    json_: Json = False,
) -> None:
    """Fit the serving model's per-iteration costs and request latency to measured runs
    (records of `bench run`, or `bench ingest --out`)."""

    def job() -> None:
        from costcorrect.io import atomic_write, data_date
        from costcorrect.measure.calibrate import fit_serving
        from costcorrect.measure.records import read_records

        spec, hw = _model_and_gpu(model, gpu)
        result = fit_serving(
            [read_records(p) for p in runs],
            spec,
            hw,
            max_seqs=max_seqs,
            token_budget=token_budget,
            stack=stack,
        )
        if out is not None:
            import json

            atomic_write(out, json.dumps(result.to_dict(), indent=2) + "\n")
        if calibration is not None:
            atomic_write(
                calibration,
                result.calibration_yaml(
                    f"costcorrect bench fit of {', '.join(p.name for p in runs)}", data_date(runs)
                ),
            )
        if json_:
            echo_json(result.to_dict())
            return
        _print_stats(
            result.train,
            f"fit: iteration overhead "
            f"{result.params.iteration_overhead_s * 1e3:.3f} ms, per sequence "
            f"{result.params.per_sequence_overhead_s * 1e3:.4f} ms, request latency "
            f"{result.request_latency_s * 1e3:.2f} ms — training runs",
        )

    run_guarded(job)


@app.command()
def predict(
    runs: Runs,
    fit_file: Annotated[Path, typer.Option("--fit", help="a `bench fit --out` JSON")],
    json_: Json = False,
) -> None:
    """Predict measured runs the fit did not see (their start times and lengths replayed
    through the simulator) and print the error of median and p99 TTFT and TPOT."""

    def job() -> None:
        from costcorrect.measure.calibrate import ServingFit, predict_run
        from costcorrect.measure.records import read_records

        result = ServingFit.read(fit_file)
        spec, hw = _model_and_gpu(result.model, result.hardware)
        pairs = [predict_run(result, spec, hw, read_records(p)) for p in runs]
        if json_:
            echo_json([{"measured": vars(m), "predicted": vars(p)} for m, p in pairs])
            return
        _print_stats(pairs, "held-out runs: measured vs predicted")

    run_guarded(job)


def _print_stats(pairs, title: str) -> None:
    import pandas as pd

    from costcorrect.cli.render import print_frame

    rows = []
    for measured, predicted in pairs:
        row = {"rate (req/s)": round(measured.rate, 2)}
        for name in ("ttft_p50_s", "tpot_p50_s", "ttft_p99_s", "tpot_p99_s"):
            m, p = getattr(measured, name), getattr(predicted, name)
            label = name.removesuffix("_s").replace("_", " ")
            row[f"{label} (ms)"] = f"{m * 1e3:.2f} → {p * 1e3:.2f} ({p / m - 1:+.0%})"
        rows.append(row)
    print_frame(pd.DataFrame(rows), title + " (measured → model, error)")
