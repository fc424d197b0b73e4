"""Public API price compression decomposed into stack changes: two dated list prices of one
capability class, the stacks each was (assumed to be) served on, and the serving cost of each
step from the simulator.

The old price point is served on the old stack; the levers are switched one after another —
hardware (GPU: $/FLOP and HBM), runtime (batching, paging, speculative decoding), quantization
(weight format), architecture (the model: size, MoE active share, GQA/MLA KV bytes) — to the new
stack. Each lever's factor is the $ per million SLO-compliant output tokens before it ÷ after
it; the factors multiply to the modelled cost ratio exactly. The price ratio ÷ that is the
remainder: the change in margin and in everything not modelled (TPUs vs GPUs, utilisation,
pricing strategy). Both prices are taken per output token of the same workload (input tokens at
their price, at the workload's mean prompt and answer lengths), as the serving cost is."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass

from costcorrect.catalog import Catalog, load_catalog
from costcorrect.catalog.prices import ApiPrice, find_api_price
from costcorrect.correct.stacks import Stack, serve_stack
from costcorrect.errors import InputError
from costcorrect.perf.speculative import Speculation
from costcorrect.serving.build import build_stream
from costcorrect.serving.contract import Contract
from costcorrect.serving.cost import Load

PER_MILLION = 1e6
DAYS_PER_YEAR = 365.25
#: the levers in the order they are switched → the :class:`Stack` fields each takes
LEVERS: dict[str, tuple[str, ...]] = {
    "hardware": ("gpu",),
    "runtime": ("architecture", "reservation", "speculative"),
    "quantization": ("weight_format",),
    "architecture": ("model",),
}


@dataclass(frozen=True)
class PricedModel:
    """An API model's dated list price and the catalog model and stack it is assumed to be
    served as (``why``: the reason for that assumption)."""

    provider: str
    api_model: str
    stack: Stack
    why: str


#: the seed's example, the Stanford AI Index 2025's GPT-3.5-level class (its "280-fold" fall):
#: text-davinci-003 in 2022–23 against Gemini-1.5-Flash-8B in late 2024
OLD_MODEL = PricedModel(
    "openai",
    "text-davinci-003",
    Stack("A100-80GB-SXM", None, "colocated", None, "opt-175b", "max"),
    "assumed: a 175B GPT-3-architecture model (OPT-175B matches GPT-3's shape; OpenAI never "
    "stated text-davinci-003's size) on A100s, 2022's iteration-level batching with KV reserved "
    "to the maximum length (Orca), 16-bit weights, plain decoding",
)
NEW_MODEL = PricedModel(
    "google",
    "gemini-1.5-flash-8b",
    Stack("H100-SXM", "fp8", "chunked", "eagle", "llama-3.1-8b"),
    "assumed: an 8B dense GQA model (Google states 8B parameters, not the architecture; "
    "Llama-3.1-8B stands in) on H100s (Google serves on TPUs), continuous batching with chunked "
    "prefill, FP8, EAGLE speculation at vLLM's measured acceptance",
)


@dataclass(frozen=True)
class PricePoint:
    """A dated list price taken per output token of the workload ($ per million)."""

    provider: str
    model: str
    date: str
    source: str
    input_usd_per_million: float
    output_usd_per_million: float
    usd_per_million_output: float


@dataclass(frozen=True)
class Step:
    """One stack on the path: the lever just switched (``old stack`` first), what was served,
    its $ per million SLO-compliant output tokens and whether its simulated goodput converged
    (two run lengths agreeing; the $ at each)."""

    label: str
    stack: Stack
    setup: str
    usd_per_million: float
    converged: bool | None
    usd_interval: tuple[float, float] | None


@dataclass(frozen=True)
class Compression:
    """Two price points and the serving-cost path between their stacks."""

    workload: str
    contract: str
    old_price: PricePoint
    new_price: PricePoint
    path: tuple[Step, ...]
    assumptions: tuple[str, ...]

    @property
    def price_ratio(self) -> float:
        """Old price ÷ new price (per output token of the workload)."""
        return self.old_price.usd_per_million_output / self.new_price.usd_per_million_output

    @property
    def factors(self) -> dict[str, float]:
        """Each lever's cost before ÷ after, in path order (they multiply to
        :attr:`modelled_ratio`)."""
        pairs = zip(self.path[:-1], self.path[1:], strict=True)
        return {b.label: a.usd_per_million / b.usd_per_million for a, b in pairs}

    @property
    def modelled_ratio(self) -> float:
        """Old stack's serving cost ÷ new stack's."""
        return self.path[0].usd_per_million / self.path[-1].usd_per_million

    @property
    def remainder(self) -> float:
        """Price ratio ÷ modelled cost ratio: margin and everything not modelled (> 1: prices
        fell faster than the modelled cost)."""
        return self.price_ratio / self.modelled_ratio

    @property
    def years(self) -> float:
        """Years between the two price dates."""
        new, old = (dt.date.fromisoformat(p.date) for p in (self.new_price, self.old_price))
        days = new - old
        return days.days / DAYS_PER_YEAR

    @property
    def annual_factor(self) -> float:
        """The price ratio per year between the two dates."""
        return self.price_ratio ** (1 / self.years)

    def to_frame(self):
        """One row per factor (levers, then the remainder) with its share of the log ratio."""
        import pandas as pd

        factors = {**self.factors, "remainder (margin, not modelled)": self.remainder}
        total = math.log(self.price_ratio)
        rows = [
            {
                "factor": name,
                "ratio": value,
                "share_of_log_price_ratio": math.log(value) / total if total else math.nan,
                "served_as": step.setup if step else "",
                "usd_per_million_tokens": step.usd_per_million if step else math.nan,
            }
            for (name, value), step in zip(factors.items(), (*self.path[1:], None), strict=True)
        ]
        return pd.DataFrame(rows)

    def to_dict(self) -> dict:
        return {
            "workload": self.workload,
            "contract": self.contract,
            "old_price": asdict(self.old_price),
            "new_price": asdict(self.new_price),
            "path": [asdict(s) for s in self.path],
            "price_ratio": self.price_ratio,
            "factors": self.factors,
            "modelled_ratio": self.modelled_ratio,
            "remainder": self.remainder,
            "years": self.years,
            "annual_factor": self.annual_factor,
            "assumptions": list(self.assumptions),
        }


def _gpu_price(catalog: Catalog, gpu: str) -> str:
    price = catalog.hardware.get(gpu).price_usd_per_s
    return f"{gpu} ${price.value * 3600:.2f}/h ({price.source}, {price.date})"


def price_point(price: ApiPrice, mean_input: float, mean_output: float) -> PricePoint:
    """``price`` per output token of a workload with these mean prompt and answer lengths."""
    per_output = (
        price.input_usd_per_token * mean_input + price.output_usd_per_token * mean_output
    ) / mean_output
    return PricePoint(
        price.provider,
        price.model,
        price.date.isoformat(),
        price.source,
        price.input_usd_per_token * PER_MILLION,
        price.output_usd_per_token * PER_MILLION,
        per_output * PER_MILLION,
    )


def compression(
    old: PricedModel = OLD_MODEL,
    new: PricedModel = NEW_MODEL,
    workload: str = "sharegpt-vllm",
    contract: Contract | None = None,
    requests: int = 4000,
    seed: int = 0,
    catalog: Catalog | None = None,
    progress=None,
) -> Compression:
    """Decompose ``old``'s price ÷ ``new``'s into the :data:`LEVERS` switched in turn from
    ``old.stack`` to ``new.stack`` and the remainder. Each stack's cost comes from converged
    simulated goodput (runs from ``requests`` requests of ``workload``, lengthened until two
    agree) under ``contract``, default p99 TTFT ≤ 10 s and p99 TPOT ≤ 200 ms. The default
    workload is ShareGPT as the 2023 papers served it (prompt + answer ≤ 2,048 tokens: the old
    model's context)."""
    cat = catalog or load_catalog()
    contract = contract or Contract(10.0, 0.2, 0.99)
    stream = build_stream(workload, 1.0, requests, seed, catalog=cat)
    mean_in, mean_out = float(stream.input_tokens.mean()), float(stream.output_tokens.mean())
    prices = [
        price_point(find_api_price(m.api_model, m.provider), mean_in, mean_out) for m in (old, new)
    ]
    if prices[1].date <= prices[0].date:
        raise InputError(
            "new", f"{new.provider}/{new.api_model} ({prices[1].date})",
            f"a price dated after the old one ({prices[0].date})",
        )  # fmt: skip

    def step(label: str, stack: Stack) -> Step:
        if progress is not None:
            progress(label)
        served = serve_stack(stack, stream, contract, cat, label, Load(converge=True))
        return Step(
            label, stack, served.setup, served.usd_per_million, served.converged,
            served.usd_interval,
        )  # fmt: skip

    path, stack = [step("old stack", old.stack)], old.stack
    for lever, fields in LEVERS.items():
        stack = stack.switched(fields, new.stack)
        path.append(step(lever, stack))
    assumptions = (
        f"old price {old.provider}/{old.api_model}: {old.why}",
        f"new price {new.provider}/{new.api_model}: {new.why}",
        f"both prices per output token of {workload} (mean {mean_in:.0f} prompt, "
        f"{mean_out:.0f} answer tokens)",
        "GPU rental: "
        + "; ".join(_gpu_price(cat, gpu) for gpu in dict.fromkeys((old.stack.gpu, new.stack.gpu)))
        + " — one date for both stacks, so the fall of rental prices between the two price "
        "dates sits in the remainder, not the hardware factor (`--set hardware.GPU."
        "price_usd_per_s=…` poses others)",
        f"speculative decoding without a measured acceptance for the model: k = "
        f"{Speculation.k}, a = {Speculation.acceptance} per drafted token",
        f"levers switched in the order {', '.join(LEVERS)}: another order gives other factors "
        "with the same product",
    )
    return Compression(workload, contract.describe(), *prices, tuple(path), assumptions)
