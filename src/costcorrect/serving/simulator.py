"""Discrete-event, iteration-level simulation of a serving architecture on a request stream.

Exact under the performance model for any arrival process and length distribution; the inner
loops are compiled (:mod:`costcorrect.serving.kernels`). Returns per-request records and
steady-state statistics (warm-up and cool-down requests excluded).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from costcorrect.errors import InputError
from costcorrect.perf import Deployment
from costcorrect.serving import disaggregated_loop, kernels
from costcorrect.serving.architectures import (
    Architecture,
    Chunked,
    Colocated,
    Disaggregated,
    KVPool,
    Static,
)
from costcorrect.workload import RequestStream

DEFAULT_WARMUP = 0.1  # fraction of requests dropped at each end of the stream
#: bins of the time-between-tokens histogram: 0.1 ms to 1000 s, 40 per decade (6 % wide)
TBT_EDGES = np.geomspace(1e-4, 1e3, 7 * 40 + 1)
MIN_JUDGED_REQUESTS = 20  # fewer arrivals cannot show a queue outrunning the deployment
PROGRESS_SLICES = 50  # slices of simulated time a run with progress reports after


@dataclass(frozen=True)
class SimRecords:
    """Per-request outcome arrays (seconds), in arrival order."""

    arrival_s: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    first_token_s: np.ndarray
    completion_s: np.ndarray
    preemptions: np.ndarray

    @property
    def ttft_s(self) -> np.ndarray:
        return self.first_token_s - self.arrival_s

    @property
    def tpot_s(self) -> np.ndarray:
        """(completion − first token) / (D − 1); NaN for single-token outputs."""
        gaps = (self.output_tokens - 1).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(gaps > 0, (self.completion_s - self.first_token_s) / gaps, np.nan)

    @property
    def sojourn_s(self) -> np.ndarray:
        return self.completion_s - self.arrival_s

    @property
    def rejected(self) -> np.ndarray:
        """Requests turned away under overload (KV-pool early rejection): no tokens."""
        return np.isnan(self.first_token_s)

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(
            {
                "arrival_s": self.arrival_s,
                "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens,
                "first_token_s": self.first_token_s,
                "completion_s": self.completion_s,
                "ttft_s": self.ttft_s,
                "tpot_s": self.tpot_s,
                "preemptions": self.preemptions,
                "rejected": self.rejected,
            }
        )


@dataclass(frozen=True)
class SimResult:
    """Records plus where the GPU time went (seconds, summed over instances)."""

    architecture: str
    records: SimRecords
    busy_prefill_s: float
    busy_decode_s: float
    iterations: int
    steady: np.ndarray  # boolean mask of the requests inside the measurement window
    tbt_counts: np.ndarray  # histogram over TBT_EDGES of steady requests' inter-token intervals

    def tbt_quantile(self, q: float) -> float:
        """q-quantile (s) of the time between consecutive tokens over all steady tokens (the
        per-token TBT of Sarathi-Serve, not the per-request TPOT), to the bin's upper edge."""
        cumulative = np.cumsum(self.tbt_counts)
        if cumulative[-1] == 0:
            return float("nan")
        return float(TBT_EDGES[1 + np.searchsorted(cumulative, q * cumulative[-1])])

    @property
    def makespan_s(self) -> float:
        return float(np.nanmax(self.records.completion_s))

    @property
    def backlog_s(self) -> float:
        """How long after the last arrival the system needed to drain, seconds."""
        return self.makespan_s - float(self.records.arrival_s.max())

    @property
    def unstable(self) -> bool:
        """True when the load outran the deployment: draining took over a quarter of the
        arrival span (a stable queue drains within a few request lifetimes). A run of fewer
        than :data:`MIN_JUDGED_REQUESTS` requests, or with every arrival at once, cannot tell
        (one request's own latency is not a backlog) and is not called unstable."""
        arrivals = self.records.arrival_s
        span = float(arrivals.max() - arrivals.min())
        judgeable = arrivals.size >= MIN_JUDGED_REQUESTS and span > 0
        return judgeable and self.backlog_s > 0.25 * span


#: the accepted-length CDF of plain decoding: one token per iteration
_ONE_TOKEN = np.ones(1)
#: no KV reserved ahead: caches grow token by token (paged)
_PAGED = np.zeros(0, np.int64)


def _table(dep: Deployment, seed: int = 0) -> tuple:
    """What one iteration of ``dep`` costs and emits: its op table's arrays, MoE and window
    sizes, GEMM row tile, the accepted-length CDF of its speculation and the draws' ``seed``."""
    t = dep.op_table
    cdf = dep.speculation.cdf if dep.speculation else _ONE_TOKEN
    return (*t.arrays, t.moe_experts, t.moe_top_k, t.window, t.row_tile, cdf, seed)


def _check_fits(stream: RequestStream, kv_tokens: int, where: str) -> None:
    longest = int((stream.input_tokens + stream.output_tokens).max())
    if longest > kv_tokens:
        raise InputError(
            "workload",
            f"a request of {longest} tokens",
            f"requests that fit the {where} KV cache of {kv_tokens} tokens",
        )


def _instance(
    dep: Deployment,
    kv_tokens: int,
    arrival,
    todo,
    context,
    output,
    emitted,
    chunked,
    budget,
    max_seqs,
    read_s,
    counted,
    users: int = 0,
    think_s: float = 0.0,
    seed: int = 0,
    reserve: np.ndarray = _PAGED,
    static: bool = False,
    progress: Callable[[int], None] | None = None,
) -> tuple:
    """One instance's run (:func:`kernels.simulate_instance`); with ``progress``, in slices
    of simulated time, calling ``progress(requests finished)`` after each."""
    settings = (chunked, budget, max_seqs, kv_tokens, read_s, counted, TBT_EDGES, users, think_s)
    if progress is None:
        return kernels.simulate_instance(
            arrival, todo, context, output, emitted, *_table(dep, seed), *settings, reserve, static
        )
    n = arrival.shape[0]
    inst, requests, tbt = kernels.start_instance(
        arrival, todo, context, emitted, max_seqs, users, TBT_EDGES
    )
    order, todo_left, held_context, emitted_now, held, fetched, last, first, done, preempted = (
        requests
    )
    table = _table(dep, seed)
    span = float(arrival.max() - arrival.min()) if not users else 0.0
    while True:
        finished, now = int(inst.counters[kernels.FINISHED]), float(inst.clock[kernels.CLOCK_NOW])
        if finished >= n:
            break
        # slices of about a fiftieth of the run: the arrival span, else the pace so far
        expected = now * n / finished if finished else max(span, 2.0 * now, 1.0)
        kernels.advance(
            inst, order, arrival, todo_left, todo, held_context, context, output, emitted_now,
            held, fetched, last, first, done, preempted, counted, table, chunked, budget,
            max_seqs, kv_tokens, read_s, TBT_EDGES, tbt, n, users, think_s,
            now + expected / PROGRESS_SLICES, False, reserve, static,
        )  # fmt: skip
        progress(int(inst.counters[kernels.FINISHED]))
    busy = (inst.clock[kernels.CLOCK_PREFILL_BUSY], inst.clock[kernels.CLOCK_DECODE_BUSY])
    return first, done, preempted, *busy, inst.counters[kernels.ITERATIONS], tbt


def _reservations(arch: Colocated, stream: RequestStream) -> np.ndarray:
    """KV tokens each request reserves on admission under ``arch.reservation`` (empty: paged,
    nothing reserved ahead)."""
    final = (stream.input_tokens + stream.output_tokens).astype(np.int64)
    if arch.reservation == "oracle":
        return final
    if arch.reservation == "pow2":
        return (2 ** np.ceil(np.log2(final))).astype(np.int64)
    if arch.reservation == "max":
        return np.full(stream.n, arch.max_model_len, np.int64)
    return _PAGED


def _split_round_robin(order: np.ndarray, parts: int) -> list[np.ndarray]:
    return [order[k::parts] for k in range(parts)]


def simulate(
    arch: Architecture,
    stream: RequestStream,
    warmup: float = DEFAULT_WARMUP,
    users: int = 0,
    think_s: float = 0.0,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> SimResult:
    """Simulate ``arch`` serving ``stream``; replicas/instances (and a pipeline's micro-batch
    schedulers, see :attr:`Colocated.schedulers`) get requests round-robin.
    ``users`` > 0: closed loop (:mod:`costcorrect.serving.closedloop`), ``stream``'s arrival
    times ignored; records come back in arrival order. ``seed``: of the accepted-length draws
    of a speculative deployment (each request's draws are its own, whatever its batch).
    ``progress(finished, total)``: called as requests finish (colocated and chunked runs report
    in slices of simulated time; a disaggregated run once, at its end)."""
    if not 0 <= warmup < 0.5:
        raise InputError("warmup", warmup, "a fraction in [0, 0.5)")
    if users and not isinstance(arch, Disaggregated) and users % arch.schedulers:
        raise InputError(
            "concurrency",
            users,
            f"a multiple of the {arch.schedulers} batch schedulers (replicas × pipeline stages)",
        )
    n = stream.n
    arrival = np.array(stream.arrival_s)  # closed loop: written by the kernel
    inp, out = stream.input_tokens.astype(np.int64), stream.output_tokens.astype(np.int64)
    cached = stream.cached_tokens.astype(np.int64)
    first = np.empty(n)
    done = np.empty(n)
    preempt = np.zeros(n, np.int64)
    busy_p = busy_d = 0.0
    iterations = 0
    lo, hi = int(n * warmup), int(np.ceil(n * (1 - warmup)))
    steady = np.zeros(n, bool)
    steady[lo:hi] = True
    tbt = np.zeros(TBT_EDGES.size - 1, np.int64)
    if isinstance(arch, Disaggregated):
        _check_fits(stream, arch.decode.kv_capacity_tokens, "decode instance")
        read_s = (
            arch.kv_bytes_per_token / arch.pool_bytes_per_s if isinstance(arch, KVPool) else 0.0
        )
        pool_cached = cached if isinstance(arch, KVPool) else np.zeros(n, np.int64)
        reject = arch.reject_after_s if isinstance(arch, KVPool) else np.inf
    if users and isinstance(arch, Disaggregated):
        link = arch.link
        arrival, first, done, preempt, busy_p, busy_d, iterations, tbt = (
            disaggregated_loop.simulate_disaggregated_closed(
                users,
                think_s,
                inp - pool_cached,
                pool_cached,
                inp,
                out,
                arch.kv_bytes_per_token,
                _table(arch.prefill, seed),
                _table(arch.decode, seed),
                arch.n_prefill,
                arch.n_decode,
                arch.max_batch_tokens,
                arch.max_seqs,
                arch.decode.kv_capacity_tokens,
                read_s,
                reject,
                link.bytes_per_s,
                link.latency_s,
                link.overlap,
                steady,
                TBT_EDGES,
            )
        )
    elif isinstance(arch, Disaggregated):
        ready, where, busy = kernels.simulate_prefill_pool(
            stream.arrival_s,
            inp - pool_cached,
            pool_cached,
            *_table(arch.prefill, seed),
            arch.n_prefill,
            arch.max_batch_tokens,
            read_s,
            reject,
        )
        busy_p += busy
        link = arch.link
        served = np.flatnonzero(where >= 0)
        landed = np.full(n, np.nan)  # rejected requests get no token
        landed[served] = kernels.transfer_kv(
            ready[served],
            where[served],
            inp[served] * arch.kv_bytes_per_token,
            arch.n_prefill,
            link.bytes_per_s,
            link.latency_s,
            link.overlap,
        )
        first[:] = landed
        done[:] = landed  # single-token outputs finish with their first token
        order = served[np.argsort(landed[served], kind="stable")]
        order = order[out[order] > 1]
        for part in _split_round_robin(order, arch.n_decode):
            _, d, p, _, bd, it, h = _instance(
                arch.decode,
                arch.decode.kv_capacity_tokens,
                landed[part],
                np.zeros(len(part), np.int64),
                inp[part],
                out[part],
                np.ones(len(part), np.int64),
                False,
                arch.max_batch_tokens,
                arch.max_seqs,
                0.0,
                steady[part],
                seed=seed,
            )
            tbt += h
            done[part] = d
            preempt[part] = p
            busy_d += bd
            iterations += it
    else:
        dep, kv_tokens = arch.deployment, arch.scheduler_kv_tokens
        _check_fits(stream, kv_tokens, "micro-batch" if dep.pp > 1 else "instance")
        chunked = isinstance(arch, Chunked)
        budget = arch.token_budget if chunked else arch.max_batch_tokens
        reserve = _reservations(arch, stream)
        if reserve.size and reserve.max() > kv_tokens:
            raise InputError(
                "max_model_len",
                int(reserve.max()),
                f"reservations that fit the instance's KV cache of {kv_tokens} tokens",
            )
        offset = 0
        for part in _split_round_robin(np.arange(n), arch.schedulers):
            arriving = arrival[part]
            report = None
            if progress is not None:
                report = (lambda base: lambda finished: progress(base + finished, n))(offset)
            offset += len(part)
            f, d, p, bp, bd, it, h = _instance(
                dep,
                kv_tokens,
                arriving,
                inp[part] - cached[part],
                cached[part],
                out[part],
                np.zeros(len(part), np.int64),
                chunked,
                budget,
                arch.max_seqs,
                0.0,
                steady[part],
                users // arch.schedulers,
                think_s,
                seed,
                reserve[part] if reserve.size else _PAGED,
                isinstance(arch, Static),
                report,
            )
            arrival[part] = arriving
            tbt += h
            first[part], done[part], preempt[part] = f, d, p
            busy_p += bp
            busy_d += bd
            iterations += it
    if progress is not None:
        progress(n, n)
    by_arrival = np.argsort(arrival, kind="stable") if users else np.arange(n)
    records = SimRecords(*(a[by_arrival] for a in (arrival, inp, out, first, done, preempt)))
    return SimResult(arch.name, records, busy_p, busy_d, iterations, steady, tbt)
