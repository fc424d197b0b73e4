"""``costcorrect correct``: cost per correct answer, C = CPM · R · (1 + ρ̄) / α, with its
elasticities and levers (thin over :mod:`costcorrect.correct.ledger`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from costcorrect.cli.common import (
    Json,
    StackOption,
    echo_json,
    progress,
    run_guarded,
    spinner_updates,
    state,
)


def correct(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(help="YAML with any of these options (keys as the flags, with _); flags win"),
    ] = None,
    model: Annotated[str | None, typer.Option(help="price from the catalog's API table")] = None,
    provider: Annotated[str | None, typer.Option(help="API provider of --model")] = None,
    input_price: Annotated[float | None, typer.Option(help="$ per M input tokens")] = None,
    output_price: Annotated[float | None, typer.Option(help="$ per M output tokens")] = None,
    cached_price: Annotated[float | None, typer.Option(help="$ per M cached input")] = None,
    split: Annotated[bool, typer.Option(help="price input and output separately")] = False,
    energy_usd_per_m: Annotated[
        float,
        typer.Option(
            help="self-hosted: energy $ per M generated tokens added to the output price "
            "(see `costcorrect energy model`)"
        ),
    ] = 0.0,
    answer_tokens: Annotated[float, typer.Option(help="tokens in a delivered answer")] = 300.0,
    input_tokens: Annotated[float, typer.Option(help="input tokens per attempt")] = 0.0,
    cached_fraction: Annotated[float, typer.Option(help="share of input from cache")] = 0.0,
    r: Annotated[float, typer.Option("--r", help="R: billed output / answer tokens")] = 1.0,
    rho: Annotated[float, typer.Option("--rho", help="ρ̄: extra rollouts per answer")] = 0.0,
    alpha: Annotated[float, typer.Option("--alpha", help="α: verifier accept rate")] = 1.0,
    json_: Json = False,
) -> None:
    """Cost per correct answer ($ per million answer tokens and per answer), its elasticities
    and which lever moves it most."""
    given = {k: v for k, v in locals().items() if k not in ("config", "ctx", "json_")}

    def job() -> None:
        from costcorrect.correct.ledger import OperatingPoint, Prices, cost_correct
        from costcorrect.errors import InputError

        v = given if config is None else _with_config(given, config, ctx)
        if v["model"] is not None:
            prices = Prices.from_catalog(v["model"], v["provider"])
        elif v["input_price"] is not None and v["output_price"] is not None:
            prices = Prices(v["input_price"], v["output_price"], v["cached_price"])
        else:
            raise InputError("price", "none", "--model, or --input-price and --output-price")
        prices = prices.plus_energy(v["energy_usd_per_m"])
        fields = ("answer_tokens", "input_tokens", "cached_fraction", "r", "rho", "alpha")
        op = OperatingPoint(*(v[name] for name in fields))
        result = cost_correct(prices, op, v["split"])
        if json_:
            echo_json(result.to_dict())
        else:
            from costcorrect.cli.render import print_cost_correct

            print_cost_correct(result)

    run_guarded(job)


def quantize(
    model: Annotated[str, typer.Option(help="catalog model")] = "llama-3.1-8b",
    weight_format: Annotated[
        str, typer.Option("--format", help="fp8 | int8 | awq-int4 | fp4 (against BF16)")
    ] = "fp8",
    gpu: Annotated[str, typer.Option(help="catalog GPU")] = "H100-SXM",
    tp: Annotated[int, typer.Option(min=1, help="tensor-parallel GPUs")] = 1,
    stack: StackOption = None,
    workload: Annotated[str, typer.Option(help="catalog workload")] = "sharegpt",
    ttft: Annotated[str, typer.Option(help="p-quantile TTFT bound")] = "1s",
    tpot: Annotated[str, typer.Option(help="p-quantile TPOT bound")] = "50ms",
    quantile: Annotated[float, typer.Option(help="contract quantile")] = 0.99,
    alpha: Annotated[float, typer.Option("--alpha", help="α of the BF16 model")] = 1.0,
    json_: Json = False,
) -> None:
    """The quantization trade: the format's cheaper $ per SLO-compliant token against its
    published accuracy loss (α · recovery), Cost-correct of both and the break-even loss."""

    def job() -> None:
        from costcorrect.correct.quantization import serving_quantization_trade
        from costcorrect.serving.contract import Contract
        from costcorrect.units import parse_quantity

        contract = Contract(
            parse_quantity(ttft, "time", "ttft"), parse_quantity(tpot, "time", "tpot"), quantile
        )
        trade = serving_quantization_trade(
            model, weight_format, gpu, tp, stack, workload, contract, alpha, catalog=state.catalog()
        )
        if json_:
            echo_json(trade.to_dict())
            return
        from costcorrect.cli.render import print_quantization_trade

        print_quantization_trade(trade)

    run_guarded(job)


def _with_config(values: dict, path: Path, ctx: typer.Context) -> dict:
    """``values`` with the YAML file's entries for every option not given on the command line."""
    import yaml

    from costcorrect.errors import InputError
    from costcorrect.io import load_yaml, read_text

    try:
        loaded = load_yaml(read_text(path, "config"), "config") or {}
    except (OSError, yaml.YAMLError) as err:
        raise InputError("config", str(path), f"a readable YAML mapping ({err})") from None
    if not isinstance(loaded, dict):
        raise InputError("config", str(path), "a YAML mapping of option: value")
    unknown = sorted(set(loaded) - set(values))
    if unknown:
        raise InputError("config", unknown[0], f"one of {', '.join(sorted(values))}")
    out = dict(values)
    for key, value in loaded.items():
        if ctx.get_parameter_source(key).name != "COMMANDLINE":
            out[key] = value
    return out


def vcpd(
    model: Annotated[str, typer.Option(help="catalog model")] = "llama-3.1-8b",
    workload: Annotated[str, typer.Option(help="catalog workload")] = "sharegpt",
    ttft: Annotated[str, typer.Option(help="p-quantile TTFT bound")] = "10s",
    tpot: Annotated[str, typer.Option(help="p-quantile TPOT bound")] = "200ms",
    quantile: Annotated[float, typer.Option(help="contract quantile")] = 0.99,
    old_gpu: Annotated[str, typer.Option(help="old stack: GPU")] = "A100-80GB-SXM",
    new_gpu: Annotated[str, typer.Option(help="new stack: GPU")] = "H100-SXM",
    new_format: Annotated[str, typer.Option(help="new stack: weight format")] = "fp8",
    new_speculative: Annotated[
        str,
        typer.Option(
            help="new stack: speculative decoding (draft=MODEL or eagle, k=N, accept=A; 'none' "
            "for plain decoding); a bare draft takes the catalog's measured acceptance"
        ),
    ] = "eagle",
    alpha: Annotated[float, typer.Option("--alpha", help="α of the old stack's model")] = 1.0,
    requests: Annotated[int, typer.Option(min=100, help="simulated requests per stack")] = 4000,
    seed: Annotated[int, typer.Option(min=0, help="random seed (an integer ≥ 0)")] = 0,
    figure: Annotated[
        Path | None, typer.Option(help="write STEM.csv and the waterfall as STEM.png, STEM.svg")
    ] = None,
    json_: Json = False,
) -> None:
    """Verified capability per dollar (answer tokens per $, α·10⁶/CPM) of a model on an old
    stack (request-level batching, BF16, plain decoding) and a new one (continuous batching,
    quantized, speculative, newer GPU): each lever's factor from the engines, their product
    and the interaction left over."""

    def job() -> None:
        from costcorrect.correct.vcpd import NEW_STACK, OLD_STACK, Stack
        from costcorrect.correct.vcpd import vcpd as run_vcpd
        from costcorrect.serving.contract import Contract
        from costcorrect.units import parse_quantity

        contract = Contract(
            parse_quantity(ttft, "time", "ttft"), parse_quantity(tpot, "time", "tpot"), quantile
        )
        old = Stack(old_gpu, OLD_STACK.weight_format, OLD_STACK.architecture, None)
        speculative = None if new_speculative == "none" else new_speculative
        new = Stack(new_gpu, new_format, NEW_STACK.architecture, speculative)
        with progress("simulating …") as status:
            result = run_vcpd(
                model, old, new, workload, contract, alpha, requests, seed, state.catalog(),
                spinner_updates(status),
            )  # fmt: skip
        if figure is not None:
            from costcorrect.io import atomic_write
            from costcorrect.report.figures import vcpd_waterfall_figure

            atomic_write(figure.with_suffix(".csv"), result.to_frame().to_csv(index=False))
            vcpd_waterfall_figure(result, figure)
        if json_:
            echo_json(result.to_dict())
            return
        from costcorrect.cli.render import print_vcpd

        print_vcpd(result)

    run_guarded(job)
