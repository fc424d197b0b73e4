"""Re-derive the published claims of five serving papers with our engines (spec §6), and
restate the five systems in one common frame: $ per SLO-compliant token under one p99 contract
at the catalog's dated GPU prices. No per-paper factor is tuned: a miss is reported as a miss.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from costcorrect.catalog import Catalog, load_catalog
from costcorrect.catalog.published import ContractSpec, PublishedClaim, WorkloadSpec
from costcorrect.perf import Batch
from costcorrect.serving.analytic import Lengths, analyze
from costcorrect.serving.architectures import Architecture, Disaggregated
from costcorrect.serving.build import ServeSpec, build_architecture
from costcorrect.serving.contract import Contract, Verdict
from costcorrect.serving.cost import cost_per_token
from costcorrect.serving.goodput import simulated_capacity
from costcorrect.serving.simulator import simulate
from costcorrect.units import parse_quantity
from costcorrect.workload import RequestStream, poisson_arrivals, synthetic_stream

COMMON_CONTRACT = Contract(2.0, 0.1)  # p99 TTFT ≤ 2 s and p99 TPOT ≤ 100 ms
LOW_LOAD = 0.01  # req/s at which "lowest-load" latencies are measured
MISS = 0.25  # a prediction further than this from the published value is a miss
RULE_MISSED = "the claim's capacity rule is missed"


@dataclass(frozen=True)
class Reproduction:
    """A claim next to our prediction; ``error`` relative to the value or the nearest end of a
    published range (0 inside it); nan where not modelled."""

    claim: PublishedClaim
    predicted: float
    error: float
    note: str

    @property
    def modelled(self) -> bool:
        return self.claim.kind != "not_modelled"


@dataclass(frozen=True)
class FrameRow:
    """One system restated: its architecture and its paper's baseline on the paper's setup,
    both in $ per million SLO-compliant output tokens under ``COMMON_CONTRACT``."""

    system: str
    setup: str
    architecture: str
    usd_per_million: float
    baseline: str
    baseline_usd_per_million: float


def _stream(w: WorkloadSpec, seed: int, catalog: Catalog, hits: bool = True) -> RequestStream:
    hit = w.prefix_hit if hits else 0.0
    if w.name is not None:
        return synthetic_stream(
            w.name, 1.0, w.requests, seed, prefix_hit_ratio=hit, catalog=catalog
        )
    n = w.requests
    prompt = np.full(n, w.fixed_input, np.int64)
    cached = np.minimum(np.floor(prompt * hit), prompt - 1).astype(np.int64)
    return RequestStream(
        poisson_arrivals(1.0, n, seed),
        prompt,
        np.full(n, w.fixed_output, np.int64),
        cached,
        "fixed",
    )


def _arch(spec: dict, catalog: Catalog) -> Architecture:
    return build_architecture(ServeSpec(**spec), catalog)


def _judge(spec: ContractSpec, reference: tuple[float, float] | None) -> Callable:
    """SimResult → Verdict of the claim's capacity rule."""
    ttft = parse_quantity(spec.ttft, "time", "ttft") if spec.ttft else math.inf
    tpot = parse_quantity(spec.tpot, "time", "tpot") if spec.tpot else math.inf
    tbt = parse_quantity(spec.tbt, "time", "tbt") if spec.tbt else math.inf
    if reference is not None:
        ttft, tpot = spec.relative_ttft * reference[0], spec.relative_tpot * reference[1]
    q_ttft = spec.ttft_quantile or spec.quantile
    q_tpot = spec.tpot_quantile or spec.quantile
    q_tbt = spec.tbt_quantile or spec.quantile
    normalized = math.inf
    if spec.normalized_latency:
        normalized = parse_quantity(spec.normalized_latency, "time", "normalized_latency")

    def met(result) -> Verdict:
        steady = result.steady
        t, p = result.records.ttft_s[steady], result.records.tpot_s[steady]
        ttft_seen, tpot_seen = np.quantile(t, q_ttft), np.nanquantile(p, q_tpot)
        if math.isfinite(normalized):
            seen = normalized_latency(result)
            ok = seen <= normalized and not result.unstable
            return Verdict(ok, float(ttft_seen), seen, math.nan, "" if ok else RULE_MISSED)
        if spec.attainment is not None:
            share = float(np.mean((t <= ttft) & ((p <= tpot) | np.isnan(p))))
            ok = share >= spec.attainment
        else:
            share = math.nan
            ok = bool(
                ttft_seen <= ttft
                and (not math.isfinite(tpot) or tpot_seen <= tpot)
                and (not math.isfinite(tbt) or result.tbt_quantile(q_tbt) <= tbt)
            )
        ok = ok and not result.unstable
        return Verdict(ok, float(ttft_seen), float(tpot_seen), share, "" if ok else RULE_MISSED)

    return met


def normalized_latency(result) -> float:
    """Mean over the steady requests of latency ÷ output tokens, seconds per token (Orca's and
    the vLLM paper's metric)."""
    r, m = result.records, result.steady
    return float(np.mean(r.sojourn_s[m] / r.output_tokens[m]))


def running_batch(result) -> float:
    """Time-averaged number of requests past their first token, over the middle of the run
    (from the 20 % quantile of first tokens to the 80 % quantile of completions): the batch a
    deployment holds, whether or not it keeps up with the arrivals."""
    r = result.records
    start, end = np.quantile(r.first_token_s, 0.2), np.quantile(r.completion_s, 0.8)
    inside = np.minimum(r.completion_s, end) - np.maximum(r.first_token_s, start)
    return float(np.clip(inside, 0.0, None).sum() / (end - start))


def _low_load_latency(arch: Architecture, stream: RequestStream, q: float) -> tuple[float, float]:
    result = simulate(arch, stream.scaled(LOW_LOAD))
    r, m = result.records, result.steady
    return float(np.quantile(r.ttft_s[m], q)), float(np.nanquantile(r.tpot_s[m], q))


def _error(predicted: float, published) -> float:
    if published is None or not math.isfinite(predicted):
        return math.nan
    if isinstance(published, tuple):
        lo, hi = published
        if lo <= predicted <= hi:
            return 0.0
        edge = lo if predicted < lo else hi
        return predicted / edge - 1.0 if edge > 0 else math.inf
    return predicted / published - 1.0


def reproduce_claim(claim: PublishedClaim, catalog: Catalog, seed: int = 0) -> Reproduction:
    """Our prediction for one claim (simulator for capacities, analytic for transfer shares)."""
    if claim.kind == "not_modelled":
        return Reproduction(claim, math.nan, math.nan, claim.reason)
    system = _arch(claim.system_spec, catalog)
    stream = _stream(claim.workload, seed, catalog)
    note = claim.reason
    if claim.kind == "decode_batch":
        value = running_batch(simulate(system, stream.scaled(claim.rate)))
    elif claim.kind == "kv_transfer_share":
        value = _transfer_share(claim, system, stream)
    elif claim.kind == "speculative_speedup":
        value, detail = _speculative_speedup(claim, system)
        note = (note + "; " if note else "") + detail
    else:
        reference = None
        baseline = _arch(claim.baseline_spec, catalog) if claim.baseline_spec else None
        base_stream = _stream(claim.workload, seed, catalog, hits=False)
        if claim.contract.relative_ttft is not None:
            if baseline is None:
                raise ValueError(f"{claim.id}: relative bounds need a baseline")
            reference = _low_load_latency(baseline, base_stream, claim.contract.quantile)
            note = (note + "; " if note else "") + (
                f"bounds {claim.contract.relative_ttft:g}× TTFT {reference[0]:.3g} s, "
                f"{claim.contract.relative_tpot:g}× TPOT {reference[1] * 1e3:.3g} ms"
            )
        met = _judge(claim.contract, reference)
        good = simulated_capacity(system, stream, met).rate_per_s
        if claim.kind == "goodput":
            value = good
        else:
            base_good = simulated_capacity(baseline, base_stream, met).rate_per_s
            if claim.per_gpu:
                good, base_good = good / system.gpus, base_good / baseline.gpus
            value = good / base_good if base_good > 0 else math.inf
            note = (
                (note + "; " if note else "")
                + f"{good:.3g} vs {base_good:.3g} req/s"
                + (" per GPU" if claim.per_gpu else "")
            )
    error = _error(value, claim.published)
    if claim.if_missed and math.isfinite(error) and abs(error) > MISS:
        note = (note + "; " if note else "") + "likely reason for the miss: " + claim.if_missed
    return Reproduction(claim, value, error, note)


def _speculative_speedup(claim: PublishedClaim, system: Architecture) -> tuple[float, str]:
    """Batch-1 time per token without ÷ with the claim's speculation (its acceptance solved from
    the source's measured mean accepted length), and what the op table predicts."""
    from dataclasses import replace

    from costcorrect.catalog.speculation import acceptance_from_length
    from costcorrect.perf.speculative import speculative_steps

    target = system.decoder
    given = target.speculation
    a = acceptance_from_length(claim.acceptance_length, given.k)
    plain = replace(target, speculation=None)
    w = claim.workload
    context = w.fixed_input + w.fixed_output / 2  # a sequence's mean KV over its decode
    step = speculative_steps(plain, replace(given, acceptance=a), [1], context)[0]
    return step.speedup, (
        f"a = {a:.3f} from {claim.acceptance_length:g} tokens per step at k = {given.k}; "
        f"predicted {step.decode_s * 1e3:.2f} ms plain, {step.tpot_s * 1e3:.2f} ms per token "
        f"speculative (a step of {(step.draft_s + step.verify_s) * 1e3:.2f} ms)"
    )


def _transfer_share(claim: PublishedClaim, system: Architecture, stream: RequestStream) -> float:
    """Transfer time of the mean prompt's KV over the claim's link, over its solo prefill time
    or over the mean request latency at low load."""
    bandwidth = parse_quantity(claim.link, "bandwidth", "link")
    prefill = system.prefill if isinstance(system, Disaggregated) else system.deployment
    prompt = stream.mean_input_tokens
    transfer = prompt * prefill.model.kv_bytes_per_token(prefill.kv_dtype) / bandwidth
    if claim.relative_to == "prefill":
        return transfer / float(prefill.op_table.total_s(Batch.prefill(prompt)))
    low = analyze(system, Lengths.from_stream(stream), [LOW_LOAD], quantiles=(0.5,))
    latency = low.ttft_s[0.5][0] + (stream.mean_output_tokens - 1.0) * low.tpot_s[0.5][0]
    return transfer / float(latency)


def common_frame(claims, catalog: Catalog, seed: int = 0) -> list[FrameRow]:
    """Each system (one claim marked ``frame``) and its baseline in $ per million output
    tokens under ``COMMON_CONTRACT`` (simulator goodput)."""
    rows = []
    for claim in claims:
        if not claim.frame:
            continue
        stream = _stream(claim.workload, seed, catalog)
        system = _arch(claim.system_spec, catalog)
        cost = cost_per_token(system, COMMON_CONTRACT, stream, engine="sim")
        base_cost, base_name = math.nan, "— (not modelled)"
        if claim.baseline_spec:
            baseline = _arch(claim.baseline_spec, catalog)
            base_stream = _stream(claim.workload, seed, catalog, hits=False)
            base_cost = cost_per_token(
                baseline, COMMON_CONTRACT, base_stream, engine="sim"
            ).usd_per_million_tokens
            base_name = _describe(claim.baseline_spec)
        rows.append(
            FrameRow(
                claim.system,
                _workload_label(claim.workload),
                _describe(claim.system_spec),
                cost.usd_per_million_tokens,
                base_name,
                base_cost,
            )
        )
    return rows


def _describe(spec: dict) -> str:
    s = ServeSpec(**spec)
    if s.architecture in ("disaggregated", "kvpool"):
        return (
            f"{s.architecture} {s.n_prefill}P(TP{s.prefill_tp or s.tp})+{s.n_decode}D"
            f"(TP{s.decode_tp or s.tp}), {s.model} on {s.gpu}"
        )
    extra = f" τ={s.token_budget}" if s.architecture == "chunked" else ""
    reps = f"{s.replicas}× " if s.replicas > 1 else ""
    return f"{s.architecture}{extra}, {reps}TP{s.tp} {s.model} on {s.gpu}"


def _workload_label(w: WorkloadSpec) -> str:
    base = w.name or f"fixed {w.fixed_input}/{w.fixed_output} tokens"
    return base + (f", {w.prefix_hit:.0%} prefix hits" if w.prefix_hit else "")


def reproduce_all(
    catalog: Catalog | None = None,
    ids: tuple[str, ...] = (),
    seed: int = 0,
    report: Callable[[str], None] | None = None,
) -> list[Reproduction]:
    """Every packaged claim (or those in ``ids``), in file order."""
    from costcorrect.catalog.published import load_published

    cat = catalog or load_catalog()
    say = report or (lambda _msg: None)
    out = []
    for claim in load_published():
        if ids and claim.id not in ids:
            continue
        say(f"{claim.id}: {claim.claim}")
        out.append(reproduce_claim(claim, cat, seed))
    return out
