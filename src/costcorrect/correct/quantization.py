"""The quantization trade in Cost-correct: a cheaper weight format lowers CPM and, by its
published accuracy loss, the accept rate α (α_q = α · recovery, at most 1; recovery =
quantized ÷ baseline accuracy from ``catalog.quantization``). With C = CPM · R · (1 + ρ̄) / α,

    C_q / C = (CPM_q / CPM) / recovery,

so a format pays while its relative accuracy loss 1 − recovery stays below its relative CPM
saving 1 − CPM_q / CPM: the break-even accuracy loss. CPM here is the serving layer's $ per
million SLO-compliant output tokens of the same model, GPU, stack, workload and contract in
each format."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from costcorrect.catalog.quantization import AccuracyEntry, accuracy_recovery
from costcorrect.correct.ledger import OperatingPoint, Prices, cost_correct
from costcorrect.errors import InputError


@dataclass(frozen=True)
class QuantizationTrade:
    """One format against BF16: $ per million SLO-compliant tokens of each, the published
    accuracy recovery, and Cost-correct of each at the accept rate ``alpha`` (BF16's)."""

    model: str
    weight_format: str
    serving: str  # GPU/stack, workload and contract both CPMs were computed at
    baseline_usd_per_m: float
    quantized_usd_per_m: float
    alpha: float
    accuracy: AccuracyEntry

    @property
    def cpm_ratio(self) -> float:
        return self.quantized_usd_per_m / self.baseline_usd_per_m

    @property
    def recovery(self) -> float:
        return self.accuracy.ratio

    @property
    def alpha_quantized(self) -> float:
        return quantized_accept_rate(self.alpha, self.accuracy)

    @property
    def baseline_cost_correct(self) -> float:
        """C of BF16, $ per million answer tokens (R = 1, ρ̄ = 0)."""
        return _cost_correct(self.baseline_usd_per_m, self.alpha)

    @property
    def quantized_cost_correct(self) -> float:
        return _cost_correct(self.quantized_usd_per_m, self.alpha_quantized)

    @property
    def break_even_loss(self) -> float:
        """The largest relative accuracy loss at which the format still pays: 1 − CPM_q/CPM."""
        return 1.0 - self.cpm_ratio

    @property
    def pays(self) -> bool:
        return self.quantized_cost_correct < self.baseline_cost_correct

    def to_dict(self) -> dict:
        out = asdict(self)
        out["accuracy"] = self.accuracy.model_dump(mode="json")
        for name in (
            "cpm_ratio",
            "recovery",
            "alpha_quantized",
            "baseline_cost_correct",
            "quantized_cost_correct",
            "break_even_loss",
            "pays",
        ):
            out[name] = getattr(self, name)
        return out


def quantized_accept_rate(alpha: float, accuracy: AccuracyEntry | None) -> float:
    """α of a quantized model: α · its published recovery, at most 1 (a recovery above 1 is
    within the benchmarks' noise); α itself for the baseline format (``accuracy`` None)."""
    return alpha if accuracy is None else min(1.0, alpha * accuracy.ratio)


def _cost_correct(cpm_usd_per_m: float, alpha: float) -> float:
    ledger = cost_correct(
        Prices(cpm_usd_per_m, cpm_usd_per_m), OperatingPoint(1.0, accept_rate=alpha)
    )
    return ledger.usd_per_million_answer_tokens


def quantization_trade(
    model: str,
    weight_format: str,
    baseline_usd_per_m: float,
    quantized_usd_per_m: float,
    alpha: float = 1.0,
    serving: str = "",
) -> QuantizationTrade:
    """The trade of ``weight_format`` for ``model`` given both formats' $ per million tokens
    and BF16's accept rate ``alpha``; the accuracy recovery is the catalog's published one."""
    if not 0 < alpha <= 1:
        raise InputError("alpha", alpha, "an accept rate in (0, 1]")
    for name, value in (("baseline", baseline_usd_per_m), ("quantized", quantized_usd_per_m)):
        if not 0 < value < float("inf"):
            raise InputError(name, value, "a finite $ per million tokens > 0 (a contract met)")
    accuracy = _published(model, weight_format)
    return QuantizationTrade(
        model, weight_format, serving, baseline_usd_per_m, quantized_usd_per_m, alpha, accuracy
    )


def _published(model: str, weight_format: str) -> AccuracyEntry:
    """The catalog's published accuracy of a quantized format (BF16 itself is refused)."""
    accuracy = accuracy_recovery(model, weight_format)
    if accuracy is None:
        raise InputError("format", weight_format, "a quantized format (fp8, int8, awq-int4, fp4)")
    return accuracy


def serving_quantization_trade(
    model: str = "llama-3.1-8b",
    weight_format: str = "fp8",
    gpu: str = "H100-SXM",
    tp: int = 1,
    stack: str | None = None,
    workload: str = "sharegpt",
    contract=None,
    alpha: float = 1.0,
    requests: int = 4000,
    seed: int = 0,
    catalog=None,
) -> QuantizationTrade:
    """:func:`quantization_trade` with both CPMs from the serving layer: $ per million
    SLO-compliant output tokens of ``model`` in BF16 and in ``weight_format`` on ``tp`` ×
    ``gpu`` (chunked prefill, today's engines' default; analytic engine) for ``workload``
    under ``contract`` (default p99 TTFT ≤ 1 s, p99 TPOT ≤ 50 ms)."""
    from costcorrect.catalog import load_catalog
    from costcorrect.perf.calibration import stack_validation
    from costcorrect.serving.build import ServeSpec, build_architecture, build_stream
    from costcorrect.serving.contract import Contract
    from costcorrect.serving.cost import cost_per_token

    _published(model, weight_format)  # refused before any serving computation
    cat = catalog or load_catalog()
    contract = contract or Contract(1.0, 0.05, 0.99)
    stream = build_stream(workload, 1.0, requests, seed, catalog=cat)
    usd_per_m = []
    for fmt in (None, weight_format):
        spec = ServeSpec("chunked", model, gpu, tp, stack=stack, weight_format=fmt)
        arch = build_architecture(spec, cat)
        usd_per_m.append(
            cost_per_token(arch, contract, stream, engine="analytic").usd_per_million_tokens
        )
    dep = arch.deployment
    serving = (
        f"{tp}× {gpu}, chunked prefill, workload {workload}, {contract.describe()}, analytic "
        f"engine; stack {stack_validation(cat, dep.hardware, dep.stack)}"
    )
    return quantization_trade(model, weight_format, usd_per_m[0], usd_per_m[1], alpha, serving)
