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


def _priced(price: str, served_as, gpu, weight_format, arch, reservation, speculative, default):
    """A :class:`PricedModel` from the command's options (``default``'s reason where the options
    are its own)."""
    from costcorrect.correct.compression import PricedModel
    from costcorrect.correct.stacks import Stack
    from costcorrect.errors import InputError

    provider, _, model = price.partition("/")
    if not (provider and model):
        raise InputError("price", price, "PROVIDER/MODEL of the catalog's API price table")
    stack = Stack(
        gpu, None if weight_format == "own" else weight_format, arch,
        None if speculative == "none" else speculative, served_as,
        None if reservation == "own" else reservation,
    )  # fmt: skip
    if (provider, model, stack) == (default.provider, default.api_model, default.stack):
        return default
    return PricedModel(provider, model, stack, f"as given: served as {served_as}")


def compression(
    old_price: Annotated[
        str, typer.Option(help="old price: PROVIDER/MODEL of the API price table")
    ] = "openai/text-davinci-003",
    old_served_as: Annotated[str, typer.Option(help="old: catalog model")] = "opt-175b",
    old_gpu: Annotated[str, typer.Option(help="old: GPU")] = "A100-80GB-SXM",
    old_format: Annotated[str, typer.Option(help="old: weight format ('own')")] = "own",
    old_arch: Annotated[str, typer.Option(help="old: batching architecture")] = "colocated",
    old_reservation: Annotated[
        str, typer.Option(help="old: KV reservation (paged|oracle|pow2|max; 'own')")
    ] = "max",
    old_speculative: Annotated[str, typer.Option(help="old: speculation ('none')")] = "none",
    new_price: Annotated[
        str, typer.Option(help="new price: PROVIDER/MODEL")
    ] = "google/gemini-1.5-flash-8b",
    new_served_as: Annotated[str, typer.Option(help="new: catalog model")] = "llama-3.1-8b",
    new_gpu: Annotated[str, typer.Option(help="new: GPU")] = "H100-SXM",
    new_format: Annotated[str, typer.Option(help="new: weight format ('own')")] = "fp8",
    new_arch: Annotated[str, typer.Option(help="new: batching architecture")] = "chunked",
    new_reservation: Annotated[str, typer.Option(help="new: KV reservation ('own')")] = "own",
    new_speculative: Annotated[
        str, typer.Option(help="new: speculation (draft=MODEL or eagle[,k=N,accept=A]; 'none')")
    ] = "eagle",
    workload: Annotated[str, typer.Option(help="catalog workload")] = "sharegpt-vllm",
    ttft: Annotated[str, typer.Option(help="p-quantile TTFT bound")] = "10s",
    tpot: Annotated[str, typer.Option(help="p-quantile TPOT bound")] = "200ms",
    quantile: Annotated[float, typer.Option(help="contract quantile")] = 0.99,
    requests: Annotated[
        int, typer.Option(min=100, help="simulated requests per stack (lengthened to converge)")
    ] = 4000,
    seed: Annotated[int, typer.Option(min=0, help="random seed (an integer ≥ 0)")] = 0,
    figure: Annotated[
        Path | None, typer.Option(help="write STEM.csv and the waterfall as STEM.png, STEM.svg")
    ] = None,
    json_: Json = False,
) -> None:
    """Public API price compression decomposed: two dated list prices of one capability class
    (default: the AI Index's GPT-3.5-level pair), each served as an assumed stack, the serving
    cost of each lever switched in turn (hardware, runtime, quantization, architecture) from
    the simulator, and the remainder — margin and what is not modelled."""

    def job() -> None:
        from costcorrect.correct.compression import NEW_MODEL, OLD_MODEL
        from costcorrect.correct.compression import compression as run_compression
        from costcorrect.serving.contract import Contract
        from costcorrect.units import parse_quantity

        contract = Contract(
            parse_quantity(ttft, "time", "ttft"), parse_quantity(tpot, "time", "tpot"), quantile
        )
        old = _priced(
            old_price, old_served_as, old_gpu, old_format, old_arch, old_reservation,
            old_speculative, OLD_MODEL,
        )  # fmt: skip
        new = _priced(
            new_price, new_served_as, new_gpu, new_format, new_arch, new_reservation,
            new_speculative, NEW_MODEL,
        )  # fmt: skip
        with progress("simulating …") as status:
            result = run_compression(
                old, new, workload, contract, requests, seed, state.catalog(),
                spinner_updates(status),
            )  # fmt: skip
        if figure is not None:
            from costcorrect.io import atomic_write
            from costcorrect.report.figures import compression_figure

            atomic_write(figure.with_suffix(".csv"), result.to_frame().to_csv(index=False))
            compression_figure(result, figure)
        if json_:
            echo_json(result.to_dict())
            return
        from costcorrect.cli.render import print_compression

        print_compression(result)

    run_guarded(job)
