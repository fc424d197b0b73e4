"""A prefill server that batches its queue: the embedded Markov chain at batch starts.

A free server takes every waiting prompt, up to ``c`` prompts (the token budget over the mean
prompt), into one batch; a batch of ``k`` prompts lasts T_k (gamma, mean ``mean_s[k-1]``,
variance ``var_s[k-1]``, seconds). With Poisson arrivals at rate λ the number waiting when a batch
starts is a Markov chain: from ``n`` waiting, ``k = min(n, c)`` leave and A_k arrive during T_k
(negative binomial: Poisson mixed over a gamma), and an empty queue restarts with the next
arrival. Its transition matrix is banded (at most ``c`` down, a few sd of A up), so the stationary
law costs one banded solve. From it, exactly for this model:

- P(wait) — the fraction of time the server is busy (an arrival to an idle server starts at once);
- E[W] — the mean time to the start of one's batch, by Little's law on the time-averaged number
  waiting, Σ π_n [(n − k)·E[T_k] + λ·E[T_k²]/2] / E[cycle] / λ;
- the batch a prompt rides in, customer-weighted: Σ π_n k² / Σ π_n k;
- the mean age of the batch in progress when a prompt arrives to a busy server,
  Σ π_n E[T_k²] / (2 Σ π_n E[T_k]).

Batching makes the server faster as its queue grows, so near saturation the wait is far below an
M/G/1 with the mean batch's per-prompt work. The chain is solved on a grid of loads and cached
per (batch-time table), so repeated calls for one deployment and workload cost an interpolation.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_banded
from scipy.special import gammaln

#: loads ρ_c = λ·E[T_c]/c (full batches) on which the chain is solved, as logits
GRID_LOGITS = np.linspace(np.log(1e-4 / (1 - 1e-4)), np.log(0.99 / 0.01), 32)
#: arrivals per batch are cut where their tail probability is negligible
ARRIVAL_TAIL_SD = 20.0
#: queue lengths kept: the stationary tail decays as e^(−γn), γ = 2·drift/Var(A); keep e^(−30)
TAIL_DECAYS = 30.0
MAX_STATES = 20_000  # at most this many queue lengths per chain (very near saturation)
#: batch times with a gamma shape above this are treated as deterministic (Poisson arrivals)
DETERMINISTIC_SHAPE = 1e6


@dataclass(frozen=True)
class BatchQueueState:
    """Per arrival rate: P(wait) (= the server's busy share), E[W] in s, the mean batch a prompt
    rides in (customer-weighted), the mean batch (batch-weighted) and the mean age (s) of the
    batch in progress found by a prompt that waits."""

    p_wait: np.ndarray
    mean_wait_s: np.ndarray
    batch: np.ndarray
    mean_batch: np.ndarray
    mean_age_s: np.ndarray


def _arrival_pmf(rate: float, mean_s: np.ndarray, var_s: np.ndarray, top: int) -> np.ndarray:
    """P(A_k = a) for a = 0..top, k = 1..c: Poisson(λ·T_k) arrivals, T_k gamma, i.e. negative
    binomial; Poisson where T_k is (nearly) deterministic; shape (c, top+1)."""
    shape = (mean_s**2 / var_s)[:, None]
    x = (rate * var_s / mean_s)[:, None]  # λ·scale
    a = np.arange(top + 1.0)[None, :]
    mean = rate * mean_s[:, None]
    poisson = a * np.log(mean) - mean - gammaln(a + 1.0)
    negative_binomial = (
        gammaln(a + shape)
        - gammaln(shape)
        - gammaln(a + 1.0)
        - shape * np.log1p(x)
        + a * (np.log(x) - np.log1p(x))
    )
    return np.exp(np.where(shape > DETERMINISTIC_SHAPE, poisson, negative_binomial))


def _solve_chain(rate: float, mean_s: np.ndarray, var_s: np.ndarray) -> tuple[float, ...]:
    """(P(wait), E[W], customer- and batch-weighted batch, mean age) of the chain at one
    arrival rate."""
    c = mean_s.size
    mean_a = rate * mean_s
    sd_a = np.sqrt(mean_a + rate**2 * var_s)
    top = int(np.ceil(mean_a.max() + ARRIVAL_TAIL_SD * sd_a.max())) + 1
    drift = c - mean_a[-1]  # customers cleared per full batch, net
    decay = 2.0 * max(drift, 1e-9) / sd_a[-1] ** 2
    states = int(np.clip(c + top + TAIL_DECAYS / decay, 64, MAX_STATES))
    pmf = _arrival_pmf(rate, mean_s, var_s, top)
    n = np.arange(1, states + 1)
    k = np.minimum(n, c)
    base = n - k
    # transition i → j with i, j state indices (n − 1); banded: j − i ∈ [−c, top]
    a = np.arange(top + 1)
    j = np.maximum(base[:, None] + a[None, :], 1) - 1
    i = np.broadcast_to((n - 1)[:, None], j.shape)
    prob = pmf[k - 1]
    j = np.minimum(j, states - 1)
    # lump the arrival tail beyond `top` into the top state only where it is within the band
    lower, upper = top, c
    rows = lower + upper + 1
    flat = ((upper + j - i) * states + i).ravel()
    ab = np.bincount(flat, weights=prob.ravel(), minlength=rows * states).reshape(rows, states)
    tail = np.clip(1.0 - prob.sum(axis=1), 0.0, None)
    last = states - 1
    near = last - (n - 1) <= lower
    ab[upper + last - (n - 1)[near], (n - 1)[near]] += tail[near]
    ab[upper, :] -= 1.0  # (Pᵀ − I)
    # fix π_1 = 1, drop state 1's equation: the rest is banded in the remaining unknowns
    rhs = -ab[upper + 1 : upper + 1 + lower, 0]
    sub = ab[:, 1:].copy()
    for col in range(min(upper, states - 1)):  # entries of the dropped row
        sub[upper - 1 - col, col] = 0.0
    b = np.zeros(states - 1)
    b[: rhs.size] = rhs[: states - 1]
    pi = np.concatenate([[1.0], solve_banded((lower, upper), sub, b)])
    pi = np.clip(pi, 0.0, None)
    pi /= pi.sum()
    t_k = mean_s[k - 1]
    t2_k = var_s[k - 1] + t_k**2
    idle = np.where(base == 0, pmf[k - 1, 0], 0.0) / rate
    cycle = np.sum(pi * (t_k + idle))
    waiting = np.sum(pi * (base * t_k + rate * t2_k / 2.0))
    busy = np.sum(pi * t_k) / cycle
    batch = np.sum(pi * k**2) / np.sum(pi * k)
    age = np.sum(pi * t2_k) / (2.0 * np.sum(pi * t_k))
    return busy, waiting / cycle / rate, batch, np.sum(pi * k), age


@functools.lru_cache(maxsize=256)
def _grid(mean_s: tuple[float, ...], var_s: tuple[float, ...]) -> tuple[np.ndarray, ...]:
    """The chain on the load grid: (ρ_c, P(wait), E[W], batch, mean batch, mean age)."""
    m, v = np.asarray(mean_s), np.asarray(var_s)
    load = 1.0 / (1.0 + np.exp(-GRID_LOGITS))
    rates = load * m.size / m[-1]
    solved = np.array([_solve_chain(float(r), m, v) for r in rates])
    return load, *solved.T


def batch_queue(rate: np.ndarray, mean_s: np.ndarray, var_s: np.ndarray) -> BatchQueueState:
    """The batching server at arrival rates ``rate`` (1/s) for batch times of 1..c prompts with
    means ``mean_s`` and variances ``var_s`` (s, s²). Unstable rates (λ·E[T_c] ≥ c) get
    P(wait) = 1 and E[W] = inf."""
    mean_s = np.asarray(mean_s, dtype=float)
    var_s = np.maximum(np.asarray(var_s, dtype=float), 1e-12 * mean_s**2)
    load, p_wait, wait, batch, mean_batch, age = _grid(
        tuple(mean_s.tolist()), tuple(var_s.tolist())
    )
    rate = np.asarray(rate, dtype=float)
    rho = rate * mean_s[-1] / mean_s.size
    headroom = np.maximum(1.0 - rho, 1e-300)
    x = np.log(np.maximum(rho, 1e-300)) - np.log(headroom)
    # interpolate ratios to what a server without batching would show (exact for c = 1, and
    # the right limits at both ends of the grid, where the ratios are held)
    second = var_s[0] + mean_s[0] ** 2

    def reference_wait(r, room):  # Pollaczek–Khinchine form, ρ_c in the denominator
        return r * second / 2.0 / room

    grid_rates = load * mean_s.size / mean_s[-1]
    busy = rho * np.interp(x, GRID_LOGITS, p_wait / load)
    ratio = np.interp(x, GRID_LOGITS, wait / reference_wait(grid_rates, 1.0 - load))
    mean_wait = ratio * reference_wait(rate, headroom)
    stable = rho < 1.0
    return BatchQueueState(
        p_wait=np.where(stable, np.clip(busy, 0.0, 1.0), 1.0),
        mean_wait_s=np.where(stable, mean_wait, np.inf),
        batch=np.where(stable, np.interp(x, GRID_LOGITS, batch), float(mean_s.size)),
        mean_batch=np.where(stable, np.interp(x, GRID_LOGITS, mean_batch), float(mean_s.size)),
        mean_age_s=np.interp(x, GRID_LOGITS, age),
    )
