"""Goodput: the largest arrival rate at which a contract holds in steady state (spec §1),
found by bracketing and bisection on the arrival rate of a fixed set of requests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from costcorrect.errors import InputError
from costcorrect.serving.architectures import Architecture
from costcorrect.serving.contract import Contract, Verdict
from costcorrect.workload import RequestStream

VANISHING_LOAD = 1e-3  # requests/s treated as λ → 0 when testing feasibility
ANALYTIC_MAX_RATE = 1e4  # requests/s: upper end of the analytic search


@dataclass(frozen=True)
class Goodput:
    """λ* in requests/s (0 when the contract is impossible, with the reason), and the verdict
    at λ*."""

    rate_per_s: float
    verdict: Verdict | None
    reason: str
    evaluations: int


def find_goodput(
    judge: Callable[[float], Verdict],
    start_rate: float = 1.0,
    rel_tol: float = 0.01,
    vanishing_rate: float = VANISHING_LOAD,
    max_rate: float = 1e6,
) -> Goodput:
    """Bracket then bisect (geometrically) the largest rate with ``judge(rate).met``."""
    evaluations = 0

    def test(rate: float) -> Verdict:
        nonlocal evaluations
        evaluations += 1
        return judge(rate)

    low_verdict = test(vanishing_rate)
    if not low_verdict.met:
        return Goodput(
            0.0, low_verdict, f"impossible even at λ → 0: {low_verdict.reason}", evaluations
        )
    lo, lo_v = vanishing_rate, low_verdict
    hi = max(start_rate, vanishing_rate * 2)
    while True:
        v = test(hi)
        if not v.met:
            break
        lo, lo_v = hi, v
        hi *= 2.0
        if hi > max_rate:
            return Goodput(lo, lo_v, f"met up to the search limit {max_rate:g}/s", evaluations)
    if lo == vanishing_rate:  # the first guess failed: bracket from below
        lo = hi / 2.0
        while lo > vanishing_rate:
            v = test(lo)
            if v.met:
                lo_v = v
                break
            hi, lo = lo, lo / 2.0
        lo = max(lo, vanishing_rate)
    while hi / lo > 1.0 + rel_tol:
        mid = (lo * hi) ** 0.5
        v = test(mid)
        if v.met:
            lo, lo_v = mid, v
        else:
            hi = mid
    return Goodput(lo, lo_v, "", evaluations)


def simulated_capacity(
    arch: Architecture, base: RequestStream, rule: Callable, rel_tol: float = 0.01
) -> Goodput:
    """The largest rate at which ``rule(SimResult) -> Verdict`` holds under the simulator:
    ``base`` fixes the requests; only the rate is scaled."""
    from costcorrect.serving.simulator import simulate

    return find_goodput(
        lambda rate: rule(simulate(arch, base.scaled(rate))), start_rate=1.0, rel_tol=rel_tol
    )


def simulated_goodput(
    arch: Architecture, contract: Contract, base: RequestStream, rel_tol: float = 0.01
) -> Goodput:
    """Goodput under the simulator for ``contract``."""

    def judge(result) -> Verdict:
        r, m = result.records, result.steady
        return contract.judge(r.ttft_s[m], r.tpot_s[m])

    return simulated_capacity(arch, base, judge, rel_tol)


def analytic_goodput(
    arch: Architecture, contract: Contract, lengths, rel_tol: float = 0.005
) -> Goodput:
    """Goodput under the analytic engine: the largest rate whose predicted quantiles meet the
    contract, by vectorised grid refinement (each round evaluates 32 rates at once)."""
    from costcorrect.serving.analytic import analyze

    if contract.form != "quantile":
        raise InputError("form", contract.form, "'quantile' for the analytic engine")
    q = contract.quantile

    def predict(rates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        result = analyze(arch, lengths, rates, quantiles=(q,))
        return result.ttft_s[q], result.tpot_s[q]

    ttft, tpot = predict(np.array([VANISHING_LOAD]))
    floor = contract.judge_quantiles(float(ttft[0]), float(tpot[0]))
    if not floor.met:
        reason = f"impossible even at λ → 0: {floor.reason}"
        return Goodput(0.0, floor, reason, 1)
    lo, hi, evaluations = VANISHING_LOAD, ANALYTIC_MAX_RATE, 1
    while hi / lo > 1.0 + rel_tol:
        grid = np.geomspace(lo, hi, 32)
        ttft, tpot = predict(grid)
        evaluations += grid.size
        ok = (ttft <= contract.ttft_s) & (tpot <= contract.tpot_s)
        if ok.all():
            lo = hi
            break
        first_miss = int(np.argmax(~ok))
        if first_miss == 0:
            hi = grid[0]
            break
        lo, hi = grid[first_miss - 1], grid[first_miss]
    ttft, tpot = predict(np.array([lo]))
    return Goodput(
        float(lo), contract.judge_quantiles(float(ttft[0]), float(tpot[0])), "", evaluations + 1
    )
