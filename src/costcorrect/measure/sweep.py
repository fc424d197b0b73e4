"""The largest request rate meeting a contract: double the rate while every repeated trial
meets it, then bisect between the last good and first bad rate, within a total time budget;
a confirmation run at the answer (stepping down 10 % while it misses)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from costcorrect.measure.loadgen import LoadSpec, run_load
from costcorrect.measure.summary import RunSummary, summarize
from costcorrect.serving.contract import Contract


@dataclass(frozen=True)
class Trial:
    rate: float
    seed: int
    met: bool
    attainment: float
    ttft_p99_s: float
    tpot_p99_s: float


@dataclass(frozen=True)
class SweepResult:
    rate: float  # 0 when even the lowest rate misses
    confirmed: bool
    confirmation: RunSummary | None
    trials: list[Trial] = field(default_factory=list)
    wall_s: float = 0.0


def _trial(spec: LoadSpec, rate: float, seed: int, contract: Contract) -> tuple[Trial, RunSummary]:
    result = run_load(replace(spec, rate=rate, seed=seed, concurrency=None, arrivals_s=None))
    s = summarize(result.records, result.wall_s, contract, resamples=50, seed=seed)
    q99 = {k: v[-1].value for k, v in s.metrics.items()}
    return Trial(
        rate, seed, bool(s.contract_met), float(s.attainment), q99["ttft_s"], q99["tpot_s"]
    ), s


def sweep(
    spec: LoadSpec,
    contract: Contract,
    start_rate: float = 1.0,
    repeats: int = 2,
    max_seconds: float = 600.0,
    tolerance: float = 0.1,
) -> SweepResult:
    """Sweep ``spec`` (its request count or duration per trial) for ``contract``."""
    began = time.perf_counter()
    trials: list[Trial] = []
    seed = spec.seed

    def meets(rate: float) -> bool:
        nonlocal seed
        for _ in range(repeats):
            trial, _ = _trial(spec, rate, seed, contract)
            seed += 1
            trials.append(trial)
            if not trial.met:
                return False
        return True

    def time_left() -> bool:
        return time.perf_counter() - began < max_seconds

    good, bad = 0.0, None
    rate = start_rate
    while time_left():
        if meets(rate):
            good, rate = rate, rate * 2
        else:
            bad = rate
            break
    while bad is not None and time_left() and bad - good > tolerance * max(good, 1e-9):
        mid = (good + bad) / 2 if good > 0 else bad / 2
        if meets(mid):
            good = mid
        else:
            bad = mid
        if good == 0 and bad < start_rate / 64:
            break
    confirmation, confirmed = None, False
    for _ in range(3):
        if good <= 0:
            break
        trial, confirmation = _trial(spec, good, seed, contract)
        seed += 1
        trials.append(trial)
        if trial.met:
            confirmed = True
            break
        good *= 0.9
    return SweepResult(
        good if confirmed else 0.0, confirmed, confirmation, trials, time.perf_counter() - began
    )
