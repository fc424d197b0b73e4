"""The largest request rate meeting a contract that the deployment also keeps up with.

A capacity probe first (a closed loop of many users: the completions per second a saturated
server achieves) sets where the search starts and the highest rate worth trying. Each trial
holds its Poisson rate for at least ``min_trial_s`` and ``spec.requests`` requests, and passes
when the contract is met *and* completions keep pace with arrivals (over the middle 80 % of
each, so the drain at the end does not count: a server past saturation completes at its
capacity, not at the offered rate). Double the rate while every repeated trial passes, bisect
between the last good and first bad rate within a time budget, confirm the answer with a
fresh run (stepping down 10 % while it misses); the answer carries its bracket."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

import numpy as np

from costcorrect.errors import InputError
from costcorrect.measure.loadgen import LoadSpec, run_load
from costcorrect.measure.records import RequestRecord
from costcorrect.measure.summary import RunSummary, summarize
from costcorrect.serving.contract import Contract

MIN_TRIAL_S = 5.0  # a trial's arrivals span at least this long: a burst is not a rate
KEEP_UP = 0.9  # completions/s over arrivals/s below which the queue is growing
PROBE_USERS = 32  # closed-loop users of the capacity probe
PROBE_REQUESTS_PER_USER = 4
RATE_CAP = 2.0  # no trial above this multiple of the probed capacity


@dataclass(frozen=True)
class Trial:
    rate: float
    seed: int
    met: bool  # the contract held and the server kept up
    attainment: float
    ttft_p99_s: float
    tpot_p99_s: float
    offered_rps: float  # arrivals/s over the middle of the trial
    achieved_rps: float  # completions/s over the middle of the trial
    kept_up: bool


@dataclass(frozen=True)
class SweepResult:
    rate: float  # 0 when even the lowest rate misses
    confirmed: bool
    confirmation: RunSummary | None
    trials: list[Trial] = field(default_factory=list)
    wall_s: float = 0.0
    capacity_rps: float = math.nan  # the probe's saturated completions/s
    bracket: tuple[float, float] = (0.0, math.inf)  # last passing, first failing rate tried


def middle_rate(times: np.ndarray) -> float:
    """Events/s over the middle 80 % of ``times`` (robust to the run's start and drain)."""
    t = np.sort(times[np.isfinite(times)])
    if t.size < 5:
        return math.nan
    lo, hi = int(0.1 * (t.size - 1)), int(0.9 * (t.size - 1))
    span = t[hi] - t[lo]
    return (hi - lo) / span if span > 0 else math.inf


def keeping_up(records: list[RequestRecord]) -> tuple[float, float]:
    """(offered, achieved): arrivals/s and completions/s over the middle of a run; a request
    that failed never completes."""
    arrivals = np.array([r.scheduled_s for r in records])
    done = np.array([r.scheduled_s + r.e2e_s for r in records if r.status == "ok"])
    offered = middle_rate(arrivals)
    # completions counted against every request sent: failures lower the achieved rate
    achieved = middle_rate(done) * done.size / max(arrivals.size, 1)
    return offered, achieved


def probe_capacity(spec: LoadSpec) -> float:
    """Completions/s of ``spec``'s server under a closed loop of :data:`PROBE_USERS` users."""
    users = replace(
        spec,
        rate=None,
        concurrency=PROBE_USERS,
        requests=PROBE_USERS * PROBE_REQUESTS_PER_USER,
        duration_s=None,
        arrivals_s=None,
    )
    result = run_load(users)
    ok = sum(r.status == "ok" for r in result.records)
    return ok / result.wall_s if result.wall_s > 0 else math.nan


def _trial(
    spec: LoadSpec, rate: float, seed: int, contract: Contract, min_s: float, keep_up: float
) -> tuple[Trial, RunSummary]:
    trial = replace(spec, rate=rate, seed=seed, concurrency=None, arrivals_s=None)
    if spec.duration_s is None or spec.duration_s < min_s:  # at least min_s of arrivals
        n = max(spec.requests or 0, math.ceil(rate * min_s))
        trial = replace(trial, requests=n, duration_s=None)
    result = run_load(trial)
    s = summarize(result.records, result.wall_s, contract)
    offered, achieved = keeping_up(result.records)
    kept_up = not achieved < keep_up * offered  # too few requests to tell (NaN): kept up
    q99 = {k: v[-1].value for k, v in s.metrics.items()}
    return Trial(
        rate,
        seed,
        bool(s.contract_met) and kept_up,
        float(s.attainment),
        q99["ttft_s"],
        q99["tpot_s"],
        offered,
        achieved,
        kept_up,
    ), s


def sweep(
    spec: LoadSpec,
    contract: Contract,
    start_rate: float | None = None,
    repeats: int = 2,
    max_seconds: float = 600.0,
    tolerance: float = 0.1,
    min_trial_s: float = MIN_TRIAL_S,
    keep_up: float = KEEP_UP,
    capacity_rps: float | None = None,
) -> SweepResult:
    """Sweep ``spec`` for ``contract``: ``start_rate`` None starts at half the capacity,
    ``capacity_rps`` None probes it (trials stop at :data:`RATE_CAP` × capacity); a trial
    holds its rate ``min_trial_s`` and fails when completions/s < ``keep_up`` × arrivals/s."""
    if start_rate is not None and not 0 < start_rate < math.inf:
        raise InputError("start_rate", start_rate, "a rate > 0 in requests/s")
    began = time.perf_counter()
    trials: list[Trial] = []
    seed = spec.seed
    capacity = probe_capacity(spec) if capacity_rps is None else capacity_rps
    cap = RATE_CAP * capacity if math.isfinite(capacity) and capacity > 0 else math.inf
    start = start_rate if start_rate is not None else capacity / 2
    if not (math.isfinite(start) and start > 0):
        start = 1.0

    def meets(rate: float) -> bool:
        nonlocal seed
        for _ in range(repeats):
            trial, _ = _trial(spec, rate, seed, contract, min_trial_s, keep_up)
            seed += 1
            trials.append(trial)
            if not trial.met:
                return False
        return True

    def time_left() -> bool:
        return time.perf_counter() - began < max_seconds

    good, bad = 0.0, None
    rate = min(start, cap)
    while time_left():
        if meets(rate):
            good = rate
            if rate >= cap:  # beyond twice the probed capacity a pass is not credible
                bad = rate
                break
            rate = min(rate * 2, cap)
        else:
            bad = rate
            break
    while bad is not None and time_left() and bad - good > tolerance * max(good, 1e-9):
        mid = (good + bad) / 2 if good > 0 else bad / 2
        if meets(mid):
            good = mid
        else:
            bad = mid
        if good == 0 and bad < start / 64:
            break
    confirmation, confirmed = None, False
    for _ in range(3):
        if good <= 0:
            break
        trial, confirmation = _trial(spec, good, seed, contract, min_trial_s, keep_up)
        seed += 1
        trials.append(trial)
        if trial.met:
            confirmed = True
            break
        bad, good = good, good * 0.9
    return SweepResult(
        good if confirmed else 0.0,
        confirmed,
        confirmation,
        trials,
        time.perf_counter() - began,
        capacity,
        (good if confirmed else 0.0, bad if bad is not None else math.inf),
    )
