"""Summary of a run: counts by status, achieved rates, p50/p90/p95/p99 of TTFT, TPOT, ITL,
E2E and scheduling lag with distribution-free (order-statistic) intervals, and — under an SLO
contract — attainment, goodput and cost per SLO-compliant output token at a given $/h."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field, replace

import numpy as np
from scipy.stats import binom

from costcorrect.measure.records import RequestRecord
from costcorrect.serving.contract import Contract

QUANTILES = (0.5, 0.9, 0.95, 0.99)
#: our metric → vLLM's name for it (`vllm bench serve` results: mean_ttft_ms, p99_e2el_ms, …)
VLLM_METRICS = {"ttft_s": "ttft", "tpot_s": "tpot", "itl_s": "itl", "e2e_s": "e2el"}
LAG_WARNING_S = 0.010  # p99 scheduling lag above which the client could not keep up


@dataclass(frozen=True)
class Quantile:
    q: float
    value: float
    low: float
    high: float


@dataclass(frozen=True)
class RunSummary:
    requests: int
    completed: int
    statuses: dict[str, int]
    wall_s: float
    request_rate: float
    output_tokens_per_s: float
    metrics: dict[str, list[Quantile]]
    moments: dict[str, tuple[float, float]]  # metric → (mean, standard deviation), seconds
    total_input_tokens: int
    total_output_tokens: int
    lag_warning: str
    contract: str | None = None
    attainment: float | None = None
    contract_met: bool | None = None
    contract_reason: str = ""
    goodput_rps: float | None = None
    compliant_tokens_per_s: float | None = None
    usd_per_hour: float | None = None
    usd_per_million_compliant_tokens: float | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Our fields, plus vLLM's `vllm bench serve` result names (ms, per second of the run)."""
        return {**asdict(self), **self.vllm_names()}

    def vllm_names(self) -> dict[str, float | int]:
        """The summary under `vllm bench serve`'s result keys: ``duration``, ``completed``,
        ``request_throughput``, ``output_throughput``, and ``mean_/median_/std_/pNN_`` of
        ``ttft``, ``tpot``, ``itl`` and ``e2el`` in milliseconds."""
        out: dict[str, float | int] = {
            "duration": self.wall_s,
            "completed": self.completed,
            "total_input_tokens": self.total_input_tokens,
            "total_output_tokens": self.total_output_tokens,
            "request_throughput": self.completed / self.wall_s if self.wall_s > 0 else np.nan,
            "output_throughput": self.output_tokens_per_s,
            "total_token_throughput": (self.total_input_tokens + self.total_output_tokens)
            / self.wall_s
            if self.wall_s > 0
            else np.nan,
        }
        for ours, theirs in VLLM_METRICS.items():
            mean, std = self.moments[ours]
            out[f"mean_{theirs}_ms"] = mean * 1e3
            out[f"std_{theirs}_ms"] = std * 1e3
            for q in self.metrics[ours]:
                key = "median" if q.q == 0.5 else f"p{q.q * 100:g}"
                out[f"{key}_{theirs}_ms"] = q.value * 1e3
        return out


def quantiles(values, level: float = 0.95) -> list[Quantile]:
    """p50/p90/p95/p99 of ``values`` (NaN dropped) with distribution-free intervals: the order
    statistics between which the true quantile lies with probability ≥ ``level`` (the count
    of values below it is binomial), so memory is one sorted copy of the values."""
    x = np.sort(np.asarray(values, dtype=float).ravel())
    x = x[np.isfinite(x)]
    if x.size == 0:
        return [Quantile(q, np.nan, np.nan, np.nan) for q in QUANTILES]
    n, qs, tail = x.size, np.asarray(QUANTILES), (1 - level) / 2
    low = np.clip(binom.ppf(tail, n, qs).astype(int) - 1, 0, n - 1)
    high = np.clip(binom.ppf(1 - tail, n, qs).astype(int), 0, n - 1)
    point = np.quantile(x, qs)
    return [
        Quantile(float(q), float(v), float(x[lo]), float(x[hi]))
        for q, v, lo, hi in zip(qs, point, low, high, strict=True)
    ]


def _mean_std(values: np.ndarray) -> tuple[float, float]:
    x = values[np.isfinite(values)]
    return (float(x.mean()), float(x.std())) if x.size else (np.nan, np.nan)


def summarize(
    records: list[RequestRecord],
    wall_s: float,
    contract: Contract | None = None,
    usd_per_hour: float | None = None,
) -> RunSummary:
    ok = [r for r in records if r.status == "ok"]
    tokens = sum(r.output_tokens for r in ok)
    lag = np.array([r.lag_s for r in records if np.isfinite(r.lag_s)])
    samples = {
        "ttft_s": np.array([r.ttft_s for r in ok]),
        "tpot_s": np.array([r.tpot_s for r in ok]),
        "itl_s": np.array([x for r in ok for x in r.itl_s]),
        "e2e_s": np.array([r.e2e_s for r in ok]),
        "lag_s": lag,
    }
    metrics = {name: quantiles(values) for name, values in samples.items()}
    moments = {name: _mean_std(values) for name, values in samples.items()}
    p99_lag = float(np.quantile(lag, 0.99)) if lag.size else 0.0
    warning = (
        f"p99 scheduling lag {p99_lag * 1e3:.1f} ms: the client could not keep the "
        "schedule, so TTFT includes client queueing"
        if p99_lag > LAG_WARNING_S
        else ""
    )
    summary = RunSummary(
        len(records),
        len(ok),
        dict(Counter(r.status for r in records)),
        wall_s,
        len(records) / wall_s if wall_s > 0 else np.nan,
        tokens / wall_s if wall_s > 0 else np.nan,
        metrics,
        moments,
        sum(r.prompt_tokens or r.input_tokens_requested for r in ok),
        tokens,
        warning,
    )
    if contract is None:
        return summary
    # every request counts: failed ones are misses (TTFT NaN → inf in the contract)
    ttft = np.array([r.ttft_s if r.status == "ok" else np.nan for r in records])
    tpot = np.array([r.tpot_s if r.status == "ok" else np.nan for r in records])
    verdict = contract.judge(ttft, tpot)
    compliant = [
        r
        for r, t, p in zip(records, ttft, tpot, strict=True)
        if r.status == "ok" and t <= contract.ttft_s and (np.isnan(p) or p <= contract.tpot_s)
    ]
    good_tokens = sum(r.output_tokens for r in compliant) / wall_s
    usd = None
    if usd_per_hour is not None:
        usd = usd_per_hour / 3600 / good_tokens * 1e6 if good_tokens > 0 else float("inf")
    return replace(
        summary,
        contract=contract.describe(),
        attainment=verdict.attainment,
        contract_met=verdict.met,
        contract_reason=verdict.reason,
        goodput_rps=len(compliant) / wall_s,
        compliant_tokens_per_s=good_tokens,
        usd_per_hour=usd_per_hour,
        usd_per_million_compliant_tokens=usd,
    )
