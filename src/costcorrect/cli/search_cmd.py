"""``costcorrect serve plan``: which architecture and configuration serve a model cheapest under
a contract (thin over :func:`costcorrect.search.plan`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from costcorrect.cli.common import echo_json, progress, run_guarded, state
from costcorrect.cli.serve_cmd import app


def _ints(text: str, name: str) -> tuple[int, ...]:
    from costcorrect.errors import InputError

    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise InputError(name, text, "comma-separated positive integers, e.g. 1,2,4") from None
    return values


def contract_from(ttft: str, tpot: str, quantile: float):
    """The quantile contract from human units."""
    from costcorrect.serving.contract import Contract
    from costcorrect.units import parse_quantity

    return Contract(
        parse_quantity(ttft, "time", "ttft-p99"), parse_quantity(tpot, "time", "tpot-p99"), quantile
    )


Executor = Annotated[str, typer.Option(help="local | process | ray")]
Address = Annotated[
    str | None, typer.Option(help="Ray cluster: auto or HOST:PORT (default: start a local one)")
]
Workers = Annotated[int | None, typer.Option(help="process/ray workers (default: CPUs)")]


@app.command()
def plan(
    model: Annotated[str, typer.Option(help="catalog model")] = "llama-3.1-70b",
    gpu: Annotated[str, typer.Option(help="catalog GPU type(s), comma-separated")] = "H100-SXM",
    workload: Annotated[str, typer.Option(help="catalog workload")] = "sharegpt",
    ttft_p99: Annotated[str, typer.Option("--ttft-p99", help="TTFT bound, e.g. 1s")] = "1s",
    tpot_p99: Annotated[str, typer.Option("--tpot-p99", help="TPOT bound, e.g. 50ms")] = "50ms",
    quantile: Annotated[float, typer.Option(help="contract quantile")] = 0.99,
    demand: Annotated[str | None, typer.Option(help="fleet demand, requests/s")] = None,
    max_gpus: Annotated[int, typer.Option(help="GPUs per deployment unit")] = 8,
    tp: Annotated[str, typer.Option(help="TP degrees to try")] = "1,2,4,8",
    pp: Annotated[str, typer.Option(help="PP degrees to try")] = "1",
    max_seqs: Annotated[str, typer.Option(help="max-batch values to try")] = "128,256,512",
    token_budget: Annotated[str, typer.Option(help="chunk budgets τ to try")] = "256,512,1024,2048",
    kv_link: Annotated[str, typer.Option(help="KV link per prefill instance")] = "50GB/s",
    prefix_hit: Annotated[
        float, typer.Option(help="prefix-cache hit ratio (enables kvpool)")
    ] = 0.0,
    requests: Annotated[int, typer.Option(help="simulated requests per confirmation")] = 4000,
    top_k: Annotated[int, typer.Option(help="configurations confirmed per architecture")] = 2,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    executor: Executor = "local",
    address: Address = None,
    workers: Workers = None,
    csv: Annotated[Path | None, typer.Option(help="write every screened configuration")] = None,
    json_: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Cheapest configuration per architecture (analytic screen, simulator confirmation), the
    winner and its margin, and when the decision flips (±20 % price and efficiency, contract)."""

    def job() -> None:
        import dataclasses

        from costcorrect.search import SearchSpace, make_executor
        from costcorrect.search import plan as run_plan
        from costcorrect.serving.architectures import KVLink
        from costcorrect.units import parse_quantity

        cat = state.catalog()
        contract = contract_from(ttft_p99, tpot_p99, quantile)
        space = SearchSpace(
            tp=_ints(tp, "tp"),
            pp=_ints(pp, "pp"),
            max_seqs=_ints(max_seqs, "max-seqs"),
            token_budgets=_ints(token_budget, "token-budget"),
            max_gpus=max_gpus,
            link=KVLink(parse_quantity(kv_link, "bandwidth", "kv-link"), 1e-3, 0.5),
        )
        rate = None if demand is None else parse_quantity(demand, "count", "demand")
        with make_executor(executor, address, workers) as ex, progress("planning …") as status:

            def report(message: str) -> None:
                if status is not None:
                    status.update(message)

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
                report,
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
