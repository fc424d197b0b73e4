"""Closed-loop load: ``users`` clients, each sending its next request ``think_s`` after its
previous one completes (benchmark tools' ``--concurrency``; spec §1's open-loop rate is the
other mode).

Request ``i`` belongs to user ``i mod users``: requests ``0 … users − 1`` arrive at t = 0 and
request ``i`` at ``completion[i − users] + think_s``. The simulator's kernel generates those
arrivals as requests complete (completions happen in time order, so arrivals do too); with
replicas (and pipeline micro-batch schedulers), each serves an equal share of the users.
Disaggregated and KV-pool deployments run their closed loop in one event loop over the shared
prefill pool and the decode instances (:mod:`costcorrect.serving.disaggregated_loop`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from costcorrect.errors import InputError
from costcorrect.serving.architectures import Architecture
from costcorrect.serving.contract import Contract
from costcorrect.serving.goodput import Goodput
from costcorrect.serving.simulator import SimResult, simulate
from costcorrect.workload import RequestStream

REQUESTS_PER_USER = 50  # requests per user in a closed-loop run: Little's law within ~1 %


@dataclass(frozen=True)
class ClosedLoop:
    """A closed-loop run: the simulation (requests in arrival order) and its load."""

    users: int
    think_s: float
    result: SimResult

    @property
    def throughput_rps(self) -> float:
        """Requests per second over the steady window (a closed loop's arrival rate equals its
        completion rate)."""
        arrival = self.result.records.arrival_s[self.result.steady]
        return float((arrival.size - 1) / (arrival[-1] - arrival[0]))

    @property
    def output_tokens_per_s(self) -> float:
        r, m = self.result.records, self.result.steady
        return self.throughput_rps * float(r.output_tokens[m].mean())

    @property
    def per_user_tokens_per_s(self) -> float:
        """A user's decode speed: 1 / mean TPOT over the steady window (tokens/s)."""
        tpot = self.result.records.tpot_s[self.result.steady]
        return float(1.0 / np.nanmean(tpot))


def closed_loop(
    arch: Architecture,
    requests: RequestStream,
    users: int,
    think_s: float = 0.0,
    progress: Callable[[int, int], None] | None = None,
) -> ClosedLoop:
    """Simulate ``arch`` serving ``requests``' lengths to ``users`` closed-loop clients
    (``requests``' own arrival times are ignored); ``progress`` as :func:`simulate`'s."""
    if isinstance(users, bool) or not isinstance(users, int) or users < 1:
        raise InputError("concurrency", users, "a positive whole number of users")
    if not (np.isfinite(think_s) and think_s >= 0):
        raise InputError("think", think_s, "a think time ≥ 0 s")
    if requests.n < 2 * users:
        raise InputError("requests", requests.n, f"at least two per user ({2 * users})")
    result = simulate(arch, requests, users=users, think_s=think_s, progress=progress)
    return ClosedLoop(users, think_s, result)


def closed_loop_goodput(
    arch: Architecture,
    contract: Contract,
    requests: RequestStream,
    users: int,
    think_s: float = 0.0,
) -> Goodput:
    """The closed loop's throughput when ``contract`` holds over its steady window, else 0
    with the reason."""
    run = closed_loop(arch, requests, users, think_s)
    r, m = run.result.records, run.result.steady
    verdict = contract.judge(r.ttft_s[m], r.tpot_s[m])
    load = f"{users} users" + (f", think {think_s:g} s" if think_s else "")
    if not verdict.met:
        return Goodput(0.0, verdict, f"missed at {load}: {verdict.reason}", 1, requests.n)
    return Goodput(run.throughput_rps, verdict, f"closed loop: {load}", 1, requests.n)


@dataclass(frozen=True)
class ThroughputCurve:
    """Throughput per GPU against each user's speed over a ladder of concurrencies (the
    trade-off engine vendors publish): one row per concurrency."""

    architecture: str
    gpus: int
    rows: list[dict]

    def frame(self):
        import pandas as pd

        return pd.DataFrame(self.rows)


def throughput_curve(
    arch: Architecture,
    draw: Callable[[int], RequestStream],
    concurrencies: Sequence[int],
    think_s: float = 0.0,
    report: Callable[[str], None] | None = None,
) -> ThroughputCurve:
    """Closed-loop runs of ``arch`` at each of ``concurrencies`` users (``draw(n)``: ``n``
    requests of the workload): output tokens/s per GPU and per user, TTFT and TPOT medians."""
    say = report or (lambda _msg: None)
    rows = []
    for users in concurrencies:
        say(f"{users} users")
        run = closed_loop(arch, draw(REQUESTS_PER_USER * users), users, think_s)
        r, m = run.result.records, run.result.steady
        rows.append(
            {
                "users": users,
                "output_tokens_per_s_per_gpu": run.output_tokens_per_s / arch.gpus,
                "output_tokens_per_s_per_user": run.per_user_tokens_per_s,
                "requests_per_s": run.throughput_rps,
                "ttft_p50_s": float(np.nanmedian(r.ttft_s[m])),
                "tpot_p50_s": float(np.nanmedian(r.tpot_s[m])),
            }
        )
    return ThroughputCurve(arch.name, arch.gpus, rows)
