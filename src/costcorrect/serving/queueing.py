"""Queueing building blocks of the analytic serving engine (spec §4), numpy-vectorised.

Every argument may be an array; results are float64 arrays of the broadcast shape (0-d for scalar
inputs). Units are SI: times in seconds, rates in requests per second. Nothing loops over
elements: the only Python loops run over steps (Erlang-B recursion up to the largest server count,
terms of Erlang's M/D/1 sum).

Notation: arrival rate λ, mean service time E[S], servers c, offered load a = λ·E[S],
utilisation ρ = a/c, squared coefficients of variation ca² (inter-arrival times) and cs²
(service times).

Unstable queues (ρ ≥ 1) are not errors: waiting times and quantiles are +inf there, the
probability of waiting is 1 and the M/D/1 waiting-time CDF is 0. Invalid arguments (negative
rates or times, servers < 1, quantile levels outside (0, 1), …) raise :class:`InputError` naming
the argument.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from costcorrect.errors import InputError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

#: tolerance on Σ service_probs = 1 (probabilities are renormalised after the check)
_PROB_SUM_TOL = 1e-6
#: largest estimated rounding error ε·(1−ρ)·Σ|terms| accepted in Erlang's M/D/1 sum; measured
#: errors (against 80-digit decimal arithmetic) stay within 10× of the estimate
_MD1_MAX_ROUNDING = 1e-10
#: below this exponent a cumulative sum of e^x loses its early terms to underflow (e^−600 ≈ 1e-261)
_UNDERFLOW_EXPONENT = -600.0


# --- argument checks -------------------------------------------------------------------------


def _reject(name: str, arr: np.ndarray, bad: np.ndarray, expected: str) -> None:
    if np.any(bad):
        raise InputError(name, arr[bad].flat[0].item(), expected)


def _nonnegative(name: str, value: ArrayLike) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    _reject(name, arr, ~(np.isfinite(arr) & (arr >= 0.0)), "a finite number ≥ 0")
    return arr


def _positive(name: str, value: ArrayLike) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    _reject(name, arr, ~(np.isfinite(arr) & (arr > 0.0)), "a finite number > 0")
    return arr


def _finite(name: str, value: ArrayLike) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    _reject(name, arr, ~np.isfinite(arr), "a finite number")
    return arr


def _servers(value: ArrayLike) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    ok = np.isfinite(arr) & (arr >= 1.0) & (arr == np.round(arr))
    _reject("servers", arr, ~ok, "an integer ≥ 1")
    return arr.astype(np.int64)


def _level(value: ArrayLike) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    _reject("q", arr, ~((arr > 0.0) & (arr < 1.0)), "a probability in (0, 1)")
    return arr


# --- Erlang C and the G/G/c waiting time -----------------------------------------------------


def _erlang_b(c: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Erlang B for flat arrays: B(0) = 1, B(k) = a·B(k−1) / (k + a·B(k−1)), stopped at k = c.

    Configurations are sorted by c (descending) so step k updates only the prefix with c ≥ k:
    the work is Σc, and every intermediate value lies in [0, 1] (no overflow for large c).
    """
    b = np.ones_like(a)
    if c.size == 0:
        return b
    order = np.argsort(-c, kind="stable")
    c_sorted, a_sorted = c[order], a[order]
    active = np.searchsorted(-c_sorted, -np.arange(1, c_sorted[0] + 1), side="right")
    for k, n in enumerate(active, start=1):
        ab = a_sorted[:n] * b[:n]
        b[:n] = ab / (k + ab)
    out = np.empty_like(b)
    out[order] = b
    return out


def _erlang_c(c: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Erlang C of validated arrays, 1.0 where a ≥ c."""
    c, a = np.broadcast_arrays(c, a)
    b = _erlang_b(c.ravel(), a.ravel()).reshape(a.shape)
    stable = a < c
    return np.divide(c * b, c - a * (1.0 - b), out=np.ones_like(b), where=stable)


def erlang_c(servers: ArrayLike, offered_load: ArrayLike) -> np.ndarray:
    """Probability that an arrival waits in M/M/c (Erlang C), dimensionless.

    ``C(c, a) = c·B(c, a) / (c − a·(1 − B(c, a)))`` with Erlang B from its recursion, stable for
    c up to thousands. ``servers`` c: integers ≥ 1; ``offered_load`` a = λ·E[S] (erlangs) ≥ 0.
    Returns 1.0 where a ≥ c (unstable: every arrival waits). For c = 1, C = a = ρ.
    """
    return _erlang_c(_servers(servers), _nonnegative("offered_load", offered_load))


def _wait_moments(
    rate: np.ndarray,
    mean_service: np.ndarray,
    scv_service: np.ndarray,
    servers: np.ndarray,
    scv_arrival: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(P(wait), E[W]) of validated arrays, broadcast; (1, inf) where unstable."""
    a = rate * mean_service
    variability = (scv_arrival + scv_service) / 2.0
    shape = np.broadcast_shapes(a.shape, servers.shape, variability.shape)
    p_wait = np.broadcast_to(_erlang_c(servers, a), shape)
    mean_wait = np.divide(
        p_wait * mean_service * variability,
        servers - a,
        out=np.full(shape, np.inf),
        where=a < servers,
    )
    return p_wait, mean_wait


def mgc_mean_wait(
    rate: ArrayLike,
    mean_service: ArrayLike,
    scv_service: ArrayLike,
    servers: ArrayLike,
    scv_arrival: ArrayLike = 1.0,
) -> np.ndarray:
    """Mean waiting time in queue E[W] (s) of G/G/c, Allen–Cunneen approximation.

    ``E[W] ≈ C(c, a) / (c·μ − λ) · (ca² + cs²) / 2`` with μ = 1/E[S], a = λ·E[S]. Exact for
    M/M/c (ca² = cs² = 1); for c = 1 and Poisson arrivals it is Pollaczek–Khinchine,
    ρ·E[S]·(1 + cs²) / (2·(1 − ρ)). ``rate`` λ (1/s), ``mean_service`` E[S] (s) and the SCVs are
    ≥ 0; ``servers`` c integers ≥ 1. Returns +inf where ρ = λ·E[S]/c ≥ 1.
    """
    return wait_moments(rate, mean_service, scv_service, servers, scv_arrival)[1]


def _wait_quantile(q: np.ndarray, p_wait: np.ndarray, mean_wait: np.ndarray) -> np.ndarray:
    """Quantile of "atom 1 − P(wait) at 0, else exponential with mean E[W]/P(wait)"."""
    in_tail = q > 1.0 - p_wait
    p = np.where(in_tail, p_wait, 1.0)
    quantile = np.where(in_tail, -np.log((1.0 - q) / p) * mean_wait / p, 0.0)
    return np.where(np.isinf(mean_wait), np.inf, quantile)


def wait_quantile(
    q: ArrayLike,
    rate: ArrayLike,
    mean_service: ArrayLike,
    scv_service: ArrayLike,
    servers: ArrayLike,
    scv_arrival: ArrayLike = 1.0,
) -> np.ndarray:
    """q-quantile of the waiting time in queue (s) of G/G/c.

    Approximation: W = 0 with probability 1 − P(wait), else exponential with mean E[W]/P(wait),
    where P(wait) = C(c, a) (Erlang C; ρ for c = 1) and E[W] is :func:`mgc_mean_wait`:
    ``w_q = 0`` if q ≤ 1 − P(wait), else ``−ln((1 − q)/P(wait)) · E[W]/P(wait)``. Exact for
    M/M/c. ``q`` in (0, 1); other arguments as in :func:`mgc_mean_wait`. +inf where ρ ≥ 1.
    """
    q = _level(q)
    p_wait, mean_wait = wait_moments(rate, mean_service, scv_service, servers, scv_arrival)
    return _wait_quantile(q, p_wait, mean_wait)


# --- waiting + service -----------------------------------------------------------------------


def _service_distribution(
    service_values: ArrayLike, service_probs: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """Validated (values, probs) broadcast to (..., K), probs renormalised, values sorted."""
    values = _nonnegative("service_values", service_values)
    probs = _nonnegative("service_probs", service_probs)
    for name, arr in (("service_values", values), ("service_probs", probs)):
        if arr.ndim == 0 or arr.shape[-1] == 0:
            raise InputError(name, arr.shape, "an array shaped (..., K) with K ≥ 1")
    values, probs = np.broadcast_arrays(values, probs)
    total = probs.sum(axis=-1)
    _reject("service_probs", total, ~(np.abs(total - 1.0) <= _PROB_SUM_TOL), "to sum to 1")
    probs = probs / total[..., None]
    if np.any(np.diff(values, axis=-1) < 0.0):
        order = np.argsort(values, axis=-1, kind="stable")
        values = np.take_along_axis(values, order, axis=-1)
        probs = np.take_along_axis(probs, order, axis=-1)
    return values, probs


def _log_partial_sums(probs: np.ndarray, exponent: np.ndarray, deep: np.ndarray) -> np.ndarray:
    """L_j = ln Σ_{k≤j} p_k·e^{x_k} along the last axis, for x_k ≤ 0 where p_k > 0.

    A plain cumulative sum of p_k·e^{x_k}, except on ``deep`` rows (some x_k below
    ``_UNDERFLOW_EXPONENT``), where the early terms would underflow: those use the slower
    log-sum-exp accumulation.
    """
    with np.errstate(divide="ignore"):  # ln 0 = −inf before the first support point
        partial = np.log(np.cumsum(probs * np.exp(np.minimum(exponent, 0.0)), axis=-1))
        if np.any(deep):
            log_terms = np.log(probs[deep]) + exponent[deep]
            partial[deep] = np.logaddexp.accumulate(log_terms, axis=-1)
    return partial


def _mixture_quantile(
    q: np.ndarray, values: np.ndarray, probs: np.ndarray, p_wait: np.ndarray, scale: np.ndarray
) -> np.ndarray:
    """Smallest t with F(t) = Σ_k p_k · P(W ≤ t − s_k) ≥ q, exactly, for sorted s_k.

    P(W ≤ x) = 1 − P(wait)·e^{−x/scale} for x ≥ 0. On the segment [s_j, s_{j+1}) the CDF is
    G_j(t) = P_j − P(wait)·Σ_{k≤j} p_k·e^{−(t−s_k)/scale} with P_j = Σ_{k≤j} p_k, and G_j ≤ F
    for every t ≥ s_j. So the quantile is min_j τ_j, τ_j the smallest t ≥ s_j with G_j(t) ≥ q:
    τ_j = max(s_j, s_max + scale·(ln P(wait) + L_j − ln(P_j − q))) where P_j > q, with
    L_j = ln Σ_{k≤j} p_k·e^{(s_k − s_max)/scale} (exponents ≤ 0: no overflow). Where nobody
    waits (P(wait) = 0 or scale = 0) it is the q-quantile of the service time.
    """
    cum = np.cumsum(probs, axis=-1)
    cum[..., -1] = 1.0
    gap = cum - q[..., None]
    service_q = np.take_along_axis(values, np.argmax(gap >= 0.0, axis=-1)[..., None], axis=-1)
    waits = (p_wait > 0.0) & (scale > 0.0)
    scale = np.where(waits, scale, 1.0)
    support = probs > 0.0
    s_min = np.min(np.where(support, values, np.inf), axis=-1)
    s_max = np.max(np.where(support, values, -np.inf), axis=-1)
    exponent = (values - s_max[..., None]) / scale[..., None]
    deep = (s_min - s_max) / scale < _UNDERFLOW_EXPONENT
    log_tail = np.log(np.where(waits, p_wait, 1.0))[..., None] + _log_partial_sums(
        probs, exponent, deep
    )
    log_gap = np.log(np.where(gap > 0.0, gap, 1.0))  # gap ≤ 0: never reaches q, τ_j = inf
    solved = s_max[..., None] + scale[..., None] * (log_tail - log_gap)
    tau = np.where(gap > 0.0, np.maximum(values, solved), np.inf)
    return np.where(waits, np.min(tau, axis=-1), service_q[..., 0])


def sojourn_quantile(
    q: ArrayLike,
    rate: ArrayLike,
    service_values: ArrayLike,
    service_probs: ArrayLike,
    servers: ArrayLike,
    scv_arrival: ArrayLike = 1.0,
) -> np.ndarray:
    """q-quantile (s) of waiting + service when the service time is discrete.

    ``service_values`` (s) and ``service_probs`` are shaped (..., K): per configuration, K
    support points s_k (any order) with probabilities p_k (Σp_k = 1; padding with p_k = 0 is
    allowed). The wait W is independent of the service time and distributed as in
    :func:`wait_quantile`, with E[S] = Σp_k·s_k and cs² = Σp_k·s_k²/E[S]² − 1. Returns the
    smallest t with ``F(t) = Σ_k p_k · P(W ≤ t − s_k) ≥ q``, solved exactly segment by segment
    between support points (no bisection; O(K log K) per configuration). The leading axes
    broadcast with the other arguments. +inf where ρ ≥ 1.
    """
    q = _level(q)
    rate = _nonnegative("rate", rate)
    servers = _servers(servers)
    scv_arrival = _nonnegative("scv_arrival", scv_arrival)
    values, probs = _service_distribution(service_values, service_probs)

    mean_service = np.sum(probs * values, axis=-1)
    mean_sq = mean_service**2
    variance = np.maximum(np.sum(probs * values**2, axis=-1) - mean_sq, 0.0)
    scv_service = np.divide(variance, mean_sq, out=np.zeros_like(mean_sq), where=mean_sq > 0.0)
    p_wait, mean_wait = _wait_moments(rate, mean_service, scv_service, servers, scv_arrival)

    shape = np.broadcast_shapes(q.shape, mean_wait.shape)
    unstable = np.isinf(mean_wait)
    scale = np.divide(
        mean_wait, p_wait, out=np.zeros(p_wait.shape), where=(p_wait > 0.0) & ~unstable
    )
    q, p_wait, scale = (np.broadcast_to(x, shape) for x in (q, p_wait, scale))
    values = np.broadcast_to(values, (*shape, values.shape[-1]))
    probs = np.broadcast_to(probs, values.shape)
    quantile = _mixture_quantile(q, values, probs, p_wait, scale)
    return np.where(unstable, np.inf, quantile)


# --- M/D/1 oracles ---------------------------------------------------------------------------


def md1_mean_wait(rate: ArrayLike, service: ArrayLike) -> np.ndarray:
    """Exact mean waiting time in queue (s) of M/D/1 (Pollaczek–Khinchine).

    ``E[W] = ρ·S / (2·(1 − ρ))`` with ρ = λ·S; ``rate`` λ (1/s) ≥ 0, ``service`` S (s) ≥ 0.
    Returns +inf where ρ ≥ 1.
    """
    rate = _nonnegative("rate", rate)
    service = _nonnegative("service", service)
    rho = rate * service
    return np.divide(
        rho * service, 2.0 * (1.0 - rho), out=np.full(rho.shape, np.inf), where=rho < 1.0
    )


def md1_wait_cdf(t: ArrayLike, rate: ArrayLike, service: ArrayLike) -> np.ndarray:
    """Exact waiting-time CDF P(W ≤ t) of M/D/1 (Erlang's formula), dimensionless.

    ``P(W ≤ t) = (1 − ρ) · Σ_{k=0}^{⌊t/S⌋} [λ(kS − t)]^k / k! · e^{−λ(kS − t)}``, ρ = λ·S;
    ``t`` (s) any finite number (0 below 0; 1 − ρ at 0), ``rate`` λ (1/s) ≥ 0, ``service``
    S (s) > 0. Returns 0 where ρ ≥ 1.

    The sum alternates and its first term is e^{λt}, so rounding error grows like
    ε·(1 − ρ)·Σ|terms|. That estimate is computed and an :class:`InputError` (field ``t``) is
    raised where it exceeds 1e-10 (absolute error then stays below ~1e-9): in practice λt ≲ 10
    at ρ = 0.5–0.9, ≲ 8 at ρ = 0.1, ≲ 14 at ρ = 0.99. A test oracle, not for tails far out.
    """
    t = _finite("t", t)
    rate = _nonnegative("rate", rate)
    service = _positive("service", service)
    t, rate, service = np.broadcast_arrays(t, rate, service)
    rho = rate * service
    stable = rho < 1.0
    last = np.where(stable, np.floor(t / service), -1.0)  # index of the last term; −1: none
    lam_t = np.where(stable, rate * np.maximum(t, 0.0), 0.0)
    eps = np.finfo(np.float64).eps
    expected = "λ·t small enough for Erlang's alternating M/D/1 sum (rounding error ≤ 1e-10)"
    # fail fast (and before e^{λt} overflows): the k = 0 term alone exceeds the error budget
    _reject(
        "t", t, eps * (1.0 - rho) * np.exp(np.minimum(lam_t, 700.0)) > _MD1_MAX_ROUNDING, expected
    )
    # terms with k ≥ e²·λt + 110 are below e^{−0.86k} < 1e-40: the sum stops there
    k_stop = min(last.max(initial=-1.0), math.ceil(math.e**2 * lam_t.max(initial=0.0)) + 110)

    total = np.zeros(t.shape)
    total_abs = np.zeros(t.shape)
    for k in range(int(k_stop) + 1):
        counts = k <= last
        x = np.where(counts, np.maximum(rate * (t - k * service), 0.0), 0.0)  # λ(t − kS)
        log_power = k * np.log(np.where(x > 0.0, x, 1.0))
        term = np.exp(log_power - math.lgamma(k + 1) + x)
        term = np.where(counts & ((x > 0.0) | (k == 0)), term, 0.0)  # 0^k = 0 for k ≥ 1
        total += term if k % 2 == 0 else -term
        total_abs += term
    _reject("t", t, eps * (1.0 - rho) * total_abs > _MD1_MAX_ROUNDING, expected)
    return np.where(stable, np.clip((1.0 - rho) * total, 0.0, 1.0), 0.0)


def wait_moments(
    rate: ArrayLike,
    mean_service: ArrayLike,
    scv_service: ArrayLike,
    servers: ArrayLike,
    scv_arrival: ArrayLike = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(P(wait), E[W] in s) of G/G/c under Allen–Cunneen; (1, inf) where unstable."""
    return _wait_moments(
        _nonnegative("rate", rate),
        _nonnegative("mean_service", mean_service),
        _nonnegative("scv_service", scv_service),
        _servers(servers),
        _nonnegative("scv_arrival", scv_arrival),
    )


def quantile_with_wait(
    q: ArrayLike,
    service_values: ArrayLike,
    service_probs: ArrayLike,
    p_wait: ArrayLike,
    mean_wait: ArrayLike,
) -> np.ndarray:
    """q-quantile (s) of W + S for a discrete service time S (shape (..., K)) and a wait W
    independent of it with an atom at 0 of mass 1 − ``p_wait`` and an exponential tail of mean
    ``mean_wait / p_wait`` (as :func:`sojourn_quantile`, but with the wait given, e.g. from a
    queue other than the one that serves S). +inf where ``mean_wait`` is inf."""
    q = _level(q)
    values, probs = _service_distribution(service_values, service_probs)
    p_wait = np.clip(np.asarray(p_wait, dtype=float), 0.0, 1.0)
    mean_wait = np.asarray(mean_wait, dtype=float)
    shape = np.broadcast_shapes(q.shape, p_wait.shape, mean_wait.shape, values.shape[:-1])
    unstable = np.broadcast_to(np.isinf(mean_wait), shape)
    scale = np.divide(
        mean_wait,
        p_wait,
        out=np.zeros(np.broadcast_shapes(p_wait.shape, mean_wait.shape)),
        where=(p_wait > 0.0) & np.isfinite(mean_wait),
    )
    q, p_wait, scale = (np.broadcast_to(x, shape) for x in (q, p_wait, scale))
    values = np.broadcast_to(values, (*shape, values.shape[-1]))
    probs = np.broadcast_to(probs, values.shape)
    return np.where(unstable, np.inf, _mixture_quantile(q, values, probs, p_wait, scale))
