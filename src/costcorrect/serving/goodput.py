"""Goodput: the largest arrival rate at which a contract holds in steady state (spec §1),
found by bracketing and bisection on the arrival rate of a fixed set of requests.

A simulated goodput is only a steady-state figure when the run is long against the deployment's
concurrency: a few thousand requests entering 8 × 1,024 free sequence slots never queue, so any
rate "meets" the contract. With ``converge`` the run is sized by Little's law (at least
:data:`REQUESTS_PER_SLOT` requests per sequence slot) and doubled until two run lengths agree
within :data:`CONVERGED` (at most :data:`MAX_DOUBLINGS` times); the answer says whether they did,
with the last two estimates as its interval. No rate above the deployment's saturation
throughput (the same requests all arriving at t = 0: requests ÷ makespan) is searched: a queue
fed faster than that grows without bound, however loose the contract."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np

from costcorrect.errors import InputError
from costcorrect.serving.architectures import Architecture, Disaggregated
from costcorrect.serving.contract import Contract, Verdict
from costcorrect.workload import RequestStream

VANISHING_LOAD = 1e-3  # requests/s treated as λ → 0 when testing feasibility
#: the analytic engine's goodput agreement with the simulator that docs/validation.md validates
#: (analytic ÷ simulated − 1 within ±10 %); a larger gap in an answer is flagged
ENGINE_AGREEMENT = 0.10
ANALYTIC_MAX_RATE = 1e4  # requests/s: upper end of the analytic search
REQUESTS_PER_SLOT = 4  # simulated requests per concurrent sequence slot, at least
CONVERGED = 0.05  # two run lengths whose goodputs agree this closely have converged
MAX_DOUBLINGS = 3  # run-length doublings before a search says it did not converge
SATURATION_WINDOW = (0.1, 0.9)  # completion quantiles between which saturation is measured


@dataclass(frozen=True)
class Goodput:
    """λ* in requests/s (0 when the contract is impossible, with the reason), and the verdict
    at λ*. A converged simulated goodput also carries its run length in ``requests``, whether
    two run lengths agreed (``converged``; None where not checked) and the two estimates as
    ``interval`` (req/s)."""

    rate_per_s: float
    verdict: Verdict | None
    reason: str
    evaluations: int
    requests: int | None = None
    converged: bool | None = None
    interval: tuple[float, float] | None = None


def _bracket_steps(step: float) -> Iterator[float]:
    """Bracketing factors: ``step`` twice, then squared at each further miss, at most 2
    (doubling) — a good guess keeps its small steps, a poor one still brackets in a few."""
    yield step
    while True:
        yield step
        step = min(step * step, 2.0)


def find_goodput(
    judge: Callable[[float], Verdict],
    start_rate: float = 1.0,
    rel_tol: float = 0.01,
    vanishing_rate: float = VANISHING_LOAD,
    max_rate: float = 1e6,
    limit: str = "the search limit",
    step: float = 2.0,
) -> Goodput:
    """Bracket (from ``start_rate``, by factors of ``step`` — small when the start is a good
    guess — widening after the second miss, :func:`_bracket_steps`) then bisect
    (geometrically) the largest rate up to ``max_rate`` (described as ``limit`` when it is met)
    with ``judge(rate).met``."""
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
    up = _bracket_steps(step)
    while True:
        v = test(hi)
        if not v.met:
            break
        lo, lo_v = hi, v
        if hi >= max_rate:
            return Goodput(lo, lo_v, f"met up to {limit} {max_rate:.4g} req/s", evaluations)
        hi = min(hi * next(up), max_rate)
    if lo == vanishing_rate:  # the first guess failed: bracket from below
        down = _bracket_steps(step)
        lo = hi / next(down)
        while lo > vanishing_rate:
            v = test(lo)
            if v.met:
                lo_v = v
                break
            hi, lo = lo, lo / next(down)
        lo = max(lo, vanishing_rate)
    while hi / lo > 1.0 + rel_tol:
        mid = (lo * hi) ** 0.5
        v = test(mid)
        if v.met:
            lo, lo_v = mid, v
        else:
            hi = mid
    return Goodput(lo, lo_v, "", evaluations)


#: bracketing factor of a search that starts from an estimate (another engine's or a shorter
#: run's goodput): the estimate ± 10 % usually brackets the answer at once
NEAR_STEP = 1.1


def simulated_capacity(
    arch: Architecture,
    base: RequestStream,
    rule: Callable,
    rel_tol: float = 0.01,
    max_rate: float = 1e6,
    limit: str = "the search limit",
    estimate: float | None = None,
) -> Goodput:
    """The largest rate up to ``max_rate`` (``limit``) at which ``rule(SimResult) -> Verdict``
    holds under the simulator: ``base`` fixes the requests; only the rate is scaled. The
    search brackets from 1 req/s by doubling, or from an ``estimate`` (req/s) by
    :data:`NEAR_STEP` — fewer runs, the same answer within ``rel_tol`` where the contract holds
    below a rate and fails above it."""
    from costcorrect.serving.simulator import simulate

    near = estimate is not None and estimate > VANISHING_LOAD
    return find_goodput(
        lambda rate: rule(simulate(arch, base.scaled(rate))),
        start_rate=min(estimate if near else 1.0, max_rate),
        rel_tol=rel_tol,
        max_rate=max_rate,
        limit=limit,
        step=NEAR_STEP if near else 2.0,
    )


def saturation_rate(arch: Architecture, requests: RequestStream) -> float:
    """Requests/s ``arch`` completes when all of ``requests`` arrive at t = 0 (offline), over
    the middle of the run (completions between the ``SATURATION_WINDOW`` quantiles: no ramp-up,
    no drain of the last long requests)."""
    from costcorrect.serving.simulator import simulate

    offline = replace(requests, arrival_s=np.zeros(requests.n))
    done = simulate(arch, offline, warmup=0.0).records.completion_s
    low, high = np.nanquantile(done, SATURATION_WINDOW)
    return float(np.diff(SATURATION_WINDOW)[0] * requests.n / (high - low))


def simulated_goodput(
    arch: Architecture,
    contract: Contract,
    base: RequestStream,
    rel_tol: float = 0.01,
    converge: bool = False,
    draw: Callable[[int], RequestStream] | None = None,
    estimate: float | None = None,
) -> Goodput:
    """Goodput under the simulator for ``contract``: on ``base`` as given, or with
    ``converge`` on a run sized and extended until it converges (module docstring). Longer runs
    take ``draw(n)``'s ``n`` requests (a synthetic workload's fresh draw), else ``base``'s
    repeated (:func:`repeated`: a trace replayed), and start their search at the shorter run's
    answer; the first starts at ``estimate`` (req/s, e.g. the analytic engine's) when given."""

    def judge(result) -> Verdict:
        r, m = result.records, result.steady
        return contract.judge(r.ttft_s[m], r.tpot_s[m])

    if not converge:
        return simulated_capacity(arch, base, judge, rel_tol, estimate=estimate)
    stream = _source(base, draw)
    n = max(base.n, REQUESTS_PER_SLOT * sequence_slots(arch))
    first = stream(n)
    saturation = saturation_rate(arch, first)
    limit = "the deployment's saturation throughput (offline)"
    good = simulated_capacity(arch, first, judge, rel_tol, saturation, limit, estimate)
    evaluations = good.evaluations + 1
    for _ in range(MAX_DOUBLINGS):
        n *= 2
        longer = simulated_capacity(
            arch, stream(n), judge, rel_tol, saturation, limit, good.rate_per_s
        )
        evaluations += longer.evaluations
        low, high = sorted((good.rate_per_s, longer.rate_per_s))
        agree = low == high or (low > 0 and high / low - 1 <= CONVERGED)
        good = replace(
            longer, evaluations=evaluations, requests=n, converged=agree, interval=(low, high)
        )
        if agree:
            break
    if not good.converged:
        note = (
            f"not converged: {good.interval[0]:.4g}–{good.interval[1]:.4g} req/s at "
            f"{n // 2:,} and {n:,} requests"
        )
        good = replace(good, reason="; ".join(filter(None, (good.reason, note))))
    return good


def offline_throughput(
    arch: Architecture, base: RequestStream, draw: Callable[[int], RequestStream] | None = None
) -> Goodput:
    """Offline mode (MLPerf Offline, a batch job): every request at t = 0 and no latency
    contract; the rate is :func:`saturation_rate` over a run sized as a converged search's
    first run (``draw``/``base`` as in :func:`simulated_goodput`)."""
    n = max(base.n, REQUESTS_PER_SLOT * sequence_slots(arch))
    rate = saturation_rate(arch, _source(base, draw)(n))
    reason = f"offline: {n:,} requests at t = 0, no latency contract"
    return Goodput(rate, None, reason, 1, requests=n)


def _source(
    base: RequestStream, draw: Callable[[int], RequestStream] | None
) -> Callable[[int], RequestStream]:
    """``n`` → ``n`` requests: ``draw``'s fresh ones, else ``base``'s repeated."""
    return draw if draw is not None else (lambda n: repeated(base, n))


def decode_schedulers(arch: Architecture) -> int:
    """Independent decode batches of ``arch``: its decode instances, or its replicas' pipeline
    micro-batch schedulers."""
    return arch.n_decode if isinstance(arch, Disaggregated) else arch.schedulers


def sequence_slots(arch: Architecture) -> int:
    """Sequences ``arch`` can decode at once: its decode batches × their batch limit."""
    return decode_schedulers(arch) * arch.max_seqs


def repeated(base: RequestStream, n: int) -> RequestStream:
    """``n`` requests: ``base``'s requests repeated in order, each copy's arrivals continuing
    after the previous copy's at ``base``'s mean rate."""
    copies = -(-n // base.n)
    period = base.duration_s + base.duration_s / max(base.n - 1, 1)
    shift = np.repeat(np.arange(copies) * period, base.n)[:n]
    index = np.tile(np.arange(base.n), copies)[:n]
    return RequestStream(
        base.arrival_s[index] + shift,
        base.input_tokens[index],
        base.output_tokens[index],
        base.cached_tokens[index],
        base.name,
    )


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


#: probability midpoints whose quantiles average to a distribution's mean (∫ Q(p) dp)
MEAN_LEVELS = tuple((k + 0.5) / 20 for k in range(20))


def analytic_saturation(arch: Architecture, lengths, rel_tol: float = 0.005) -> float:
    """The largest arrival rate (req/s) at which the analytic engine's queues are stable: the
    analytic engine's offline throughput."""
    from costcorrect.serving.analytic import analyze

    lo, hi = VANISHING_LOAD, ANALYTIC_MAX_RATE
    while hi / lo > 1.0 + rel_tol:
        grid = np.geomspace(lo, hi, 32)
        stable = analyze(arch, lengths, grid, quantiles=(0.5,)).stable
        if stable.all():
            return float(hi)
        first_miss = int(np.argmax(~stable))
        if first_miss == 0:
            return 0.0
        lo, hi = grid[first_miss - 1], grid[first_miss]
    return float(lo)


def analytic_closed_loop(
    arch: Architecture, lengths, users: int, think_s: float = 0.0, rel_tol: float = 0.005
) -> float:
    """Throughput (req/s) of ``users`` closed-loop clients under the analytic engine: the rate
    λ at which Little's law fills the system with them — the decode batches of every batch
    scheduler + λ·(mean TTFT + think) = users (mean TTFT: the average of its quantiles at
    :data:`MEAN_LEVELS`)."""
    from costcorrect.serving.analytic import analyze

    def users_at(rates: np.ndarray) -> np.ndarray:
        result = analyze(arch, lengths, rates, quantiles=MEAN_LEVELS)
        ttft = np.mean([result.ttft_s[q] for q in MEAN_LEVELS], axis=0)
        present = result.decode_batch * decode_schedulers(arch) + rates * (ttft + think_s)
        return np.where(result.stable & np.isfinite(present), present, np.inf)

    lo, hi = VANISHING_LOAD, analytic_saturation(arch, lengths)
    if hi <= lo:
        return 0.0
    while hi / lo > 1.0 + rel_tol:
        grid = np.geomspace(lo, hi, 32)
        over = users_at(grid) >= users
        if not over.any():
            return float(hi)  # the users never fill the system below saturation
        first = int(np.argmax(over))
        if first == 0:
            return float(grid[0])
        lo, hi = grid[first - 1], grid[first]
    return float(lo)


def analytic_load_goodput(
    arch: Architecture,
    contract: Contract,
    lengths,
    users: int = 0,
    think_s: float = 0.0,
) -> Goodput:
    """The analytic engine's answer for the offline mode (``users`` = 0: the saturation rate,
    no contract) or a closed loop of ``users`` (its throughput if ``contract`` holds there)."""
    from costcorrect.serving.analytic import analyze

    if not users:
        rate = analytic_saturation(arch, lengths)
        return Goodput(rate, None, "offline (analytic): the largest stable arrival rate", 1)
    rate = analytic_closed_loop(arch, lengths, users, think_s)
    q = contract.quantile
    result = analyze(arch, lengths, [max(rate, VANISHING_LOAD)], quantiles=(q,))
    verdict = contract.judge_quantiles(float(result.ttft_s[q][0]), float(result.tpot_s[q][0]))
    load = f"{users} users" + (f", think {think_s:g} s" if think_s else "")
    if not verdict.met:
        return Goodput(0.0, verdict, f"missed at {load}: {verdict.reason}", 1)
    return Goodput(rate, verdict, f"closed loop (analytic): {load}", 1)
