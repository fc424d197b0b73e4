"""``costcorrect serve plan|frontier|break-even``: which architecture and configuration serve a
model cheapest under a contract, over a grid of contracts, and where colocation and
disaggregation cost the same (thin over :mod:`costcorrect.search`)."""

from __future__ import annotations

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
    run_guarded,
    seed_option,
    spinner_updates,
    state,
)
from costcorrect.cli.serve_cmd import app


def contract_from(ttft: str, tpot: str, quantile: float):
    """The quantile contract from human units."""
    from costcorrect.serving.contract import Contract
    from costcorrect.units import parse_quantity

    return Contract(
        parse_quantity(ttft, "time", "ttft-p99"), parse_quantity(tpot, "time", "tpot-p99"), quantile
    )


def _space(
    tp: str,
    pp: str,
    max_seqs: str,
    token_budget: str,
    max_gpus: int,
    kv_link: str,
    stack: str | None,
    weight_formats: str | None,
    kv_dtypes: str | None,
    speculative: str | None = None,
):
    from costcorrect.search import SearchSpace
    from costcorrect.serving.architectures import KVLink
    from costcorrect.units import parse_quantity

    return SearchSpace(
        tp=parse_ints(tp, "tp"),
        pp=parse_ints(pp, "pp"),
        max_seqs=parse_ints(max_seqs, "max-seqs"),
        token_budgets=parse_ints(token_budget, "token-budget"),
        max_gpus=max_gpus,
        link=KVLink(parse_quantity(kv_link, "bandwidth", "kv-link"), 1e-3, 0.5),
        stack=stack,
        weight_formats=_names(weight_formats),
        kv_dtypes=_names(kv_dtypes),
        speculations=_speculations(speculative),
    )


#: draft lengths ``plan``/``frontier`` try when ``--speculative`` names no k
SEARCHED_DRAFT_TOKENS = (2, 4, 6)


def _speculations(text: str | None) -> tuple:
    """Plain decoding, plus the speculation ``text`` at its k or at each searched k."""
    import dataclasses

    from costcorrect.perf.speculative import Speculation

    if text is None:
        return (None,)
    given = Speculation.parse(text, state.catalog())
    named_k = any(part.strip().startswith("k=") for part in text.split(","))
    ks = (given.k,) if named_k else SEARCHED_DRAFT_TOKENS
    return (None, *(dataclasses.replace(given, k=k) for k in ks))


def _names(text: str | None) -> tuple[str | None, ...]:
    """``a,b`` → ("a", "b"); None → (None,): the model's own."""
    return (None,) if text is None else tuple(v.strip() for v in text.split(","))


def _range(text: str, kind: str, name: str, points: int):
    """``LOW:HIGH`` in human units → ``points`` log-spaced SI values."""
    import numpy as np

    from costcorrect.errors import InputError
    from costcorrect.units import parse_quantity

    parts = text.split(":")
    if len(parts) != 2:
        raise InputError(name, text, "LOW:HIGH, e.g. 0.1s:10s")
    low, high = (parse_quantity(p, kind, name) for p in parts)
    if not 0 < low < high:
        raise InputError(name, text, "0 < LOW < HIGH")
    if points < 2:
        raise InputError("points", points, "at least 2 per axis")
    return np.geomspace(low, high, points)


Model = Annotated[str, typer.Option(help="catalog model")]
Gpus = Annotated[str, typer.Option(help="catalog GPU type(s), comma-separated")]
Workload = Annotated[str, typer.Option(help="catalog workload")]
Quantile = Annotated[float, typer.Option(help="contract quantile")]
Demand = Annotated[str | None, typer.Option(help="fleet demand, requests/s")]
MaxGpus = Annotated[int, typer.Option(help="GPUs per deployment unit")]
TpOpt = Annotated[str, typer.Option("--tp", help="TP degrees to try")]
PpOpt = Annotated[str, typer.Option("--pp", help="PP degrees to try")]
WeightFormatsOpt = Annotated[
    str | None,
    typer.Option(
        "--weight-format",
        help="weight precisions to try, e.g. bf16,fp8,fp4 (default: the model's own)",
    ),
]
KvDtypesOpt = Annotated[
    str | None,
    typer.Option(
        "--kv-dtype", help="KV-cache precisions to try, e.g. bf16,fp8 (default: the model's own)"
    ),
]
SpeculativeOpt = Annotated[
    str | None,
    typer.Option(
        help="also try speculative decoding: draft=MODEL or eagle, accept=A (0.8); without k=N "
        "the search tries k = 2, 4, 6 beside plain decoding"
    ),
]
MaxSeqsOpt = Annotated[str, typer.Option("--max-seqs", help="max-batch values to try")]
BudgetOpt = Annotated[str, typer.Option("--token-budget", help="chunk budgets τ to try")]
KvLinkOpt = Annotated[str, typer.Option("--kv-link", help="KV link per prefill instance")]
PrefixHit = Annotated[float, typer.Option(help="prefix-cache hit ratio (enables kvpool)")]
Seed = seed_option()
Executor = Annotated[str, typer.Option(help="local | process | ray")]
Address = Annotated[
    str | None, typer.Option(help="Ray cluster: auto or HOST:PORT (default: start a local one)")
]
Workers = Annotated[int | None, typer.Option(help="process/ray workers (default: CPUs)")]


@app.command()
def plan(
    model: Model = "llama-3.1-70b",
    gpu: Gpus = "H100-SXM",
    workload: Workload = "sharegpt",
    ttft_p99: Annotated[str, typer.Option("--ttft-p99", help="TTFT bound, e.g. 1s")] = "1s",
    tpot_p99: Annotated[str, typer.Option("--tpot-p99", help="TPOT bound, e.g. 50ms")] = "50ms",
    quantile: Quantile = 0.99,
    demand: Demand = None,
    max_gpus: MaxGpus = 8,
    tp: TpOpt = "1,2,4,8",
    pp: PpOpt = "1",
    weight_format: WeightFormatsOpt = None,
    kv_dtype: KvDtypesOpt = None,
    speculative: SpeculativeOpt = None,
    max_seqs: MaxSeqsOpt = "128,256,512",
    token_budget: BudgetOpt = "256,512,1024,2048",
    kv_link: KvLinkOpt = "50GB/s",
    stack: StackOption = None,
    prefix_hit: PrefixHit = 0.0,
    offline: Offline = False,
    concurrency: Concurrency = None,
    think: Think = "0s",
    requests: Annotated[
        int, typer.Option(min=1, help="simulated requests per confirmation")
    ] = 4000,
    top_k: Annotated[
        int, typer.Option(min=1, help="configurations confirmed per architecture")
    ] = 2,
    seed: Seed = 0,
    executor: Executor = "local",
    address: Address = None,
    workers: Workers = None,
    csv: Annotated[Path | None, typer.Option(help="write every screened configuration")] = None,
    json_: Json = False,
) -> None:
    """Cheapest configuration per architecture (analytic screen, simulator confirmation), the
    winner and its margin, and when the decision flips (±20 % price and efficiency, contract)."""

    def job() -> None:
        import dataclasses

        from costcorrect.search import make_executor
        from costcorrect.search import plan as run_plan
        from costcorrect.serving.cost import Load
        from costcorrect.units import parse_quantity

        cat = state.catalog()
        contract = contract_from(ttft_p99, tpot_p99, quantile)
        space = _space(
            tp,
            pp,
            max_seqs,
            token_budget,
            max_gpus,
            kv_link,
            stack,
            weight_format,
            kv_dtype,
            speculative,
        )
        rate = None if demand is None else parse_quantity(demand, "count", "demand")
        think_s = parse_quantity(think, "time", "think")
        load = Load(offline=offline, users=concurrency or 0, think_s=think_s)
        with make_executor(executor, address, workers) as ex, progress("planning …") as status:
            result = run_plan(
                model,
                tuple(g.strip() for g in gpu.split(",")),
                workload,
                contract,
                rate,
                space,
                prefix_hit,
                requests,
                seed,
                top_k,
                ex,
                cat,
                spinner_updates(status),
                load,
            )
        if csv is not None:
            import pandas as pd

            from costcorrect.io import atomic_write

            frame = pd.DataFrame([dataclasses.asdict(r) for r in result.screened])
            atomic_write(csv, frame.to_csv(index=False))
        if json_:
            echo_json(result.to_dict())
        else:
            from costcorrect.cli.render import print_plan

            print_plan(result)

    run_guarded(job)


Cache = Annotated[
    Path | None,
    typer.Option(
        envvar="COSTCORRECT_CACHE",
        help="reuse the answer of the same sweep (same arguments and catalog) stored in this "
        "folder, and store new ones there (default: $COSTCORRECT_CACHE, else no cache)",
    ),
]


@app.command()
def frontier(
    model: Model = "llama-3.1-70b",
    gpu: Gpus = "H100-SXM",
    workload: Workload = "sharegpt",
    ttft_range: Annotated[str, typer.Option(help="TTFT bounds LOW:HIGH")] = "0.1s:10s",
    tpot_range: Annotated[str, typer.Option(help="TPOT bounds LOW:HIGH")] = "10ms:200ms",
    points: Annotated[
        int, typer.Option(min=2, max=1000, help="log-spaced bounds per axis (2–1,000)")
    ] = 16,
    quantile: Quantile = 0.99,
    demand: Demand = None,
    max_gpus: MaxGpus = 8,
    tp: TpOpt = "1,2,4,8",
    pp: PpOpt = "1",
    weight_format: WeightFormatsOpt = None,
    kv_dtype: KvDtypesOpt = None,
    speculative: SpeculativeOpt = None,
    max_seqs: MaxSeqsOpt = "128,256,512",
    token_budget: BudgetOpt = "256,512,1024,2048",
    kv_link: KvLinkOpt = "50GB/s",
    stack: StackOption = None,
    prefix_hit: PrefixHit = 0.0,
    seed: Seed = 0,
    executor: Executor = "local",
    address: Address = None,
    workers: Workers = None,
    out: Annotated[
        Path, typer.Option(help="output stem: writes STEM.csv, STEM.png and STEM.svg")
    ] = Path("frontier"),
    cache: Cache = None,
    json_: Json = False,
) -> None:
    """Cheapest architecture and cost over a grid of contracts (p TTFT × p TPOT), the Pareto
    set of (cost, TTFT, TPOT), as CSV and a figure (analytic engine)."""

    def job() -> None:
        from costcorrect.io import atomic_write
        from costcorrect.search import make_executor
        from costcorrect.search.cache import cached
        from costcorrect.search.frontier import contract_frontier, describe_winner_regions
        from costcorrect.units import parse_quantity

        cat = state.catalog()
        ttft = _range(ttft_range, "time", "ttft-range", points)
        tpot = _range(tpot_range, "time", "tpot-range", points)
        space = _space(
            tp,
            pp,
            max_seqs,
            token_budget,
            max_gpus,
            kv_link,
            stack,
            weight_format,
            kv_dtype,
            speculative,
        )
        rate = None if demand is None else parse_quantity(demand, "count", "demand")
        with make_executor(executor, address, workers) as ex, progress("sweeping …") as status:
            result = cached(contract_frontier, cache)(
                model,
                tuple(g.strip() for g in gpu.split(",")),
                workload,
                ttft,
                tpot,
                quantile,
                rate,
                space,
                prefix_hit,
                seed=seed,
                executor=ex,
                catalog=cat,
                report=spinner_updates(status),
            )
        frame = result.to_frame()
        from costcorrect.report.figures import frontier_figure

        atomic_write(out.with_suffix(".csv"), frame.to_csv(index=False))
        figures = frontier_figure(result, out)
        lines = describe_winner_regions(result)
        if json_:
            echo_json(
                {
                    "regions": lines,
                    "pareto": frame[frame["pareto"]].to_dict(orient="records"),
                    "files": [str(out.with_suffix(".csv")), *map(str, figures)],
                }
            )
        else:
            typer.echo("\n".join(lines))
            typer.echo(
                f"{int(result.pareto.sum())} Pareto points; wrote {out.with_suffix('.csv')}, "
                + ", ".join(map(str, figures))
            )

    run_guarded(job)


@app.command("break-even")
def break_even(
    axis: Annotated[str, typer.Option(help="y axis: rate | kv-bandwidth | slack")] = "rate",
    gpus: Annotated[
        str, typer.Option(help="GPU generations, comma-separated")
    ] = "A100-80GB-SXM,H100-SXM,H200,B200",
    model: Model = "llama-3.1-70b",
    workload: Workload = "sharegpt",
    points: Annotated[int, typer.Option(help="grid points per axis")] = 40,
    io_range: Annotated[str, typer.Option(help="input/output ratios LOW:HIGH")] = "0.25:64",
    y_range: Annotated[
        str | None, typer.Option(help="y range LOW:HIGH (default: 0.5:200, 1GB/s:400GB/s, 0.5:8)")
    ] = None,
    ttft_p99: Annotated[str, typer.Option("--ttft-p99", help="base TTFT bound")] = "2s",
    tpot_p99: Annotated[str, typer.Option("--tpot-p99", help="base TPOT bound")] = "100ms",
    demand: Annotated[str, typer.Option(help="demand when not on an axis, req/s")] = "20",
    kv_link: KvLinkOpt = "50GB/s",
    stack: StackOption = None,
    seed: Seed = 0,
    executor: Executor = "local",
    address: Address = None,
    workers: Workers = None,
    out: Annotated[
        Path, typer.Option(help="output stem: STEM.csv, STEM.npz, STEM.png, STEM.svg")
    ] = Path("break_even"),
    cache: Cache = None,
    json_: Json = False,
) -> None:
    """Where colocation (best of plain/chunked) and disaggregation cost the same, per GPU
    generation: cost-ratio arrays, break-even boundaries and contour figures."""

    def job() -> None:
        import io

        import numpy as np
        import pandas as pd

        from costcorrect.errors import InputError
        from costcorrect.io import atomic_write
        from costcorrect.search import make_executor
        from costcorrect.search.breakeven import AXES, break_even
        from costcorrect.search.cache import cached
        from costcorrect.serving.architectures import KVLink
        from costcorrect.units import parse_quantity

        if axis not in AXES:
            raise InputError("axis", axis, f"one of {', '.join(AXES)}")
        cat = state.catalog()
        contract = contract_from(ttft_p99, tpot_p99, 0.99)
        x = _range(io_range, "count", "io-range", points)
        kind = {"rate": "count", "kv-bandwidth": "bandwidth", "slack": "count"}[axis]
        default = {"rate": "0.5:200", "kv-bandwidth": "1GB/s:400GB/s", "slack": "0.5:8"}[axis]
        y = _range(y_range or default, kind, "y-range", points)
        link = KVLink(parse_quantity(kv_link, "bandwidth", "kv-link"), 1e-3, 0.5)
        rate = parse_quantity(demand, "count", "demand")
        surfaces, run = [], cached(break_even, cache)
        with make_executor(executor, address, workers) as ex, progress("sweeping …") as status:
            for gpu in (g.strip() for g in gpus.split(",")):
                surfaces.append(
                    run(
                        gpu,
                        model,
                        workload,
                        axis,
                        x,
                        y,
                        contract,
                        rate,
                        link,
                        seed=seed,
                        stack=stack,
                        executor=ex,
                        catalog=cat,
                        report=spinner_updates(status),
                    )
                )
        from costcorrect.report.figures import break_even_figure

        frame = pd.DataFrame([row for s in surfaces for row in s.to_rows()])
        atomic_write(out.with_suffix(".csv"), frame.to_csv(index=False))
        arrays = io.BytesIO()
        np.savez(
            arrays,
            gpus=np.array([s.gpu for s in surfaces]),
            io_ratio=x,
            y=y,
            cost_ratio=np.stack([s.ratio for s in surfaces]),
            boundary=np.stack([s.boundary for s in surfaces]),
        )
        atomic_write(out.with_suffix(".npz"), arrays.getvalue())
        figures = break_even_figure(surfaces, out)
        summary = [
            {
                "gpu": s.gpu,
                "tp": s.tp,
                "disaggregation_cheaper_share": float(np.nanmean(s.ratio < 1.0)),
                "median_boundary_io_ratio": float(np.nanmedian(s.boundary))
                if np.isfinite(s.boundary).any()
                else None,
            }
            for s in surfaces
        ]
        if json_:
            echo_json({"axis": axis, "surfaces": summary, "files": [str(p) for p in figures]})
        else:
            for row in summary:
                boundary = row["median_boundary_io_ratio"]
                where = "no crossing" if boundary is None else f"median break-even {boundary:.3g}"
                typer.echo(
                    f"{row['gpu']} (TP{row['tp']}): disaggregation cheaper on "
                    f"{row['disaggregation_cheaper_share']:.0%} of the grid, {where} "
                    "input/output tokens"
                )
            typer.echo(
                f"wrote {out.with_suffix('.csv')}, {out.with_suffix('.npz')}, "
                + ", ".join(map(str, figures))
            )

    run_guarded(job)


@app.command()
def reproduce(
    claim: Annotated[
        list[str] | None, typer.Option("--claim", help="only these claim ids (repeatable)")
    ] = None,
    seed: Seed = 0,
    frame: Annotated[
        bool, typer.Option(help="also restate the systems in the common frame")
    ] = True,
    write: Annotated[Path | None, typer.Option(help="write the report (markdown) here")] = None,
    figure: Annotated[
        Path | None,
        typer.Option(help="published-vs-predicted figure stem: STEM.png, STEM.svg, STEM.csv"),
    ] = None,
    json_: Json = False,
) -> None:
    """Re-derive the five serving papers' published claims with our engines: published vs
    predicted with the error, and every system in one frame ($ per SLO-compliant token)."""

    def job() -> None:
        from costcorrect.catalog.published import load_published
        from costcorrect.errors import InputError
        from costcorrect.serving.reproduce import common_frame, reproduce_all

        cat = state.catalog()
        ids = tuple(claim or ())
        known = {c.id for c in load_published()}
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise InputError("claim", unknown[0], f"one of {', '.join(sorted(known))}")
        with progress("re-deriving published claims …") as status:
            rows = reproduce_all(cat, ids, seed, spinner_updates(status))
            frame_rows = common_frame([r.claim for r in rows], cat, seed) if frame else []
        import os

        from costcorrect.io import atomic_write
        from costcorrect.serving.reproduce import MISS
        from costcorrect.serving.reproduce_report import figure_frame, report_markdown, to_records

        shown = None
        if figure is not None:
            from costcorrect.report.figures import reproduce_figure

            table = figure_frame(rows)
            atomic_write(figure.with_suffix(".csv"), table.to_csv(index=False))
            reproduce_figure(table, figure, MISS)
            where = write.parent if write is not None else Path.cwd()
            shown = Path(os.path.relpath(figure.with_suffix(".png"), where)).as_posix()
        if write is not None:
            atomic_write(write, report_markdown(rows, frame_rows, shown))
        if json_:
            echo_json(to_records(rows, frame_rows))
        else:
            from costcorrect.cli.render import print_reproduction

            print_reproduction(rows, frame_rows)

    run_guarded(job)
