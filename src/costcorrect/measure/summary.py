"""Summary of a run: counts by status, achieved rates, p50/p90/p95/p99 of TTFT, TPOT, ITL,
E2E and scheduling lag with bootstrap intervals, and — under an SLO contract — attainment,
goodput and cost per SLO-compliant output token at a given $/h."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from costcorrect.measure.records import RequestRecord
from costcorrect.serving.contract import Contract

QUANTILES = (0.5, 0.9, 0.95, 0.99)
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
        return asdict(self)


def quantiles(values, resamples: int = 500, seed: int = 0, level: float = 0.95) -> list[Quantile]:
    """p50/p90/p95/p99 of ``values`` (NaN dropped) with percentile-bootstrap intervals."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return [Quantile(q, np.nan, np.nan, np.nan) for q in QUANTILES]
    rng = np.random.default_rng(seed)
    draws = np.quantile(x[rng.integers(0, x.size, (resamples, x.size))], QUANTILES, axis=1)
    tail = (1 - level) / 2
    lows, highs = np.quantile(draws, [tail, 1 - tail], axis=1)
    point = np.quantile(x, QUANTILES)
    return [
        Quantile(q, float(v), float(lo), float(hi))
        for q, v, lo, hi in zip(QUANTILES, point, lows, highs, strict=True)
    ]


def summarize(
    records: list[RequestRecord],
    wall_s: float,
    contract: Contract | None = None,
    usd_per_hour: float | None = None,
    resamples: int = 500,
    seed: int = 0,
) -> RunSummary:
    ok = [r for r in records if r.status == "ok"]
    tokens = sum(r.output_tokens for r in ok)
    lag = np.array([r.lag_s for r in records if np.isfinite(r.lag_s)])
    metrics = {
        "ttft_s": quantiles([r.ttft_s for r in ok], resamples, seed),
        "tpot_s": quantiles([r.tpot_s for r in ok], resamples, seed + 1),
        "itl_s": quantiles([x for r in ok for x in r.itl_s], resamples, seed + 2),
        "e2e_s": quantiles([r.e2e_s for r in ok], resamples, seed + 3),
        "lag_s": quantiles(lag, resamples, seed + 4),
    }
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
