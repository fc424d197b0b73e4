"""Queueing blocks: Erlang C, Allen–Cunneen waits, wait and sojourn quantiles, M/D/1 oracles."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from costcorrect.errors import InputError
from costcorrect.serving.queueing import (
    erlang_c,
    md1_mean_wait,
    md1_wait_cdf,
    mgc_mean_wait,
    sojourn_quantile,
    wait_quantile,
)

# --- oracles -----------------------------------------------------------------------------------


def erlang_c_direct(c: int, a: float) -> float:
    """Textbook Erlang C with factorials (fine for small c)."""
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


def mixture_cdf(t, values, probs, p_wait, scale):
    """Σ_k p_k · P(W ≤ t − s_k) with P(W ≤ x) = 1 − P(wait)·e^{−x/scale}, x ≥ 0."""
    x = t[..., None] - values
    reached = 1.0 - p_wait[..., None] * np.exp(-np.maximum(x, 0.0) / scale[..., None])
    return np.sum(probs * np.where(x >= 0.0, reached, 0.0), axis=-1)


def sojourn_quantile_bisect(q, rate, values, probs, servers, scv_arrival=1.0):
    """Brute force: bisection on the mixture CDF, with the library's own P(wait) and E[W]."""
    mean = np.sum(probs * values, axis=-1)
    scv = np.sum(probs * values**2, axis=-1) / mean**2 - 1.0
    p_wait = erlang_c(servers, rate * mean)
    scale = mgc_mean_wait(rate, mean, scv, servers, scv_arrival) / p_wait
    lo = np.zeros_like(mean)
    hi = values.max(axis=-1) + 50.0 * scale + 1.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        reached = mixture_cdf(mid, values, probs, p_wait, scale) >= q
        hi, lo = np.where(reached, mid, hi), np.where(reached, lo, mid)
    return hi


def md1_quantile_exact(q: float, rate: float, service: float, upper: float) -> float:
    """q-quantile of the exact M/D/1 wait, by bisection on Erlang's CDF over [0, upper]."""
    lo, hi = 0.0, upper
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if md1_wait_cdf(mid, rate, service) >= q else (mid, hi)
    return hi


def mmc_waits(rng, rate, servers, customers, replications, warmup):
    """M/M/c (μ = 1) waits by the Kiefer–Wolfowitz recursion, replications side by side.

    ``work`` is the sorted vector of residual work at the servers seen by an arrival: the
    arrival waits work[0], adds its service there, then everything drains by the next gap.
    """
    gaps = rng.exponential(1.0 / rate, (customers, replications))
    service = rng.exponential(1.0, (customers, replications))
    work = np.zeros((replications, servers))
    waits = np.empty((customers, replications))
    for n in range(customers):
        waits[n] = work[:, 0]
        work[:, 0] += service[n]
        work = np.sort(np.maximum(work - gaps[n][:, None], 0.0), axis=1)
    return waits[warmup:].ravel()


def md1_waits(rng, rate, service, customers, warmup):
    """M/D/1 waits by Lindley's recursion in closed form: W_n = X_n − min(0, min_{k≤n} X_k)."""
    gaps = rng.exponential(1.0 / rate, customers - 1)
    x = np.concatenate([[0.0], np.cumsum(service - gaps)])
    return (x - np.minimum.accumulate(np.minimum(x, 0.0)))[warmup:]


# --- Erlang C ----------------------------------------------------------------------------------


@pytest.mark.parametrize("c", range(1, 9))
def test_erlang_c_matches_direct_formula(c):
    loads = np.linspace(0.01, 0.99, 25) * c
    expected = [erlang_c_direct(c, a) for a in loads]
    np.testing.assert_allclose(erlang_c(c, loads), expected, rtol=1e-12)


def test_erlang_c_single_server_is_utilisation():
    rho = np.linspace(0.0, 0.99, 12)
    np.testing.assert_allclose(erlang_c(1, rho), rho, rtol=1e-14)


def test_erlang_c_table_value():
    assert erlang_c(10, 8.0) == pytest.approx(0.4092, abs=1e-4)


def test_erlang_c_large_server_counts_match_poisson_form():
    # Erlang B(c, a) = P(N = c) / P(N ≤ c), N ~ Poisson(a): an independent oracle for large c
    c = np.array([50, 200, 1000, 1000, 1000])
    a = np.array([45.0, 190.0, 900.0, 968.4, 999.0])
    b = stats.poisson.pmf(c, a) / stats.poisson.cdf(c, a)
    expected = c * b / (c - a * (1.0 - b))
    np.testing.assert_allclose(erlang_c(c, a), expected, rtol=1e-9)
    assert 0.2 < erlang_c(1000, 968.4) < 0.3  # Halfin–Whitt β = 1: P(wait) ≈ 0.22


def test_erlang_c_unstable_is_one():
    np.testing.assert_array_equal(erlang_c([1, 3, 10], [1.0, 3.5, 20.0]), 1.0)


# --- mean waits --------------------------------------------------------------------------------


@pytest.mark.parametrize(("c", "rho"), [(1, 0.5), (2, 0.3), (4, 0.8), (8, 0.95), (16, 0.7)])
def test_allen_cunneen_is_exact_for_mmc(c, rho):
    mean_service = 0.2
    rate = rho * c / mean_service
    exact = erlang_c_direct(c, rate * mean_service) / (c / mean_service - rate)
    assert mgc_mean_wait(rate, mean_service, 1.0, c) == pytest.approx(exact, rel=1e-12)


@pytest.mark.parametrize("rho", [0.1, 0.5, 0.9])
def test_single_server_poisson_is_pollaczek_khinchine(rho):
    s = 0.05
    rate = rho / s
    deterministic = rho * s / (2 * (1 - rho))
    assert mgc_mean_wait(rate, s, 0.0, 1) == pytest.approx(deterministic, rel=1e-12)
    assert md1_mean_wait(rate, s) == pytest.approx(deterministic, rel=1e-12)
    exponential = rho * s / (1 - rho)
    assert mgc_mean_wait(rate, s, 1.0, 1) == pytest.approx(exponential, rel=1e-12)


def test_arrival_variability_scales_the_wait():
    base = mgc_mean_wait(30.0, 0.1, 1.0, 4, 1.0)
    assert mgc_mean_wait(30.0, 0.1, 1.0, 4, 3.0) == pytest.approx(2.0 * base, rel=1e-12)


def test_no_load_no_wait():
    assert mgc_mean_wait(0.0, 1.0, 1.0, 3) == 0.0
    assert wait_quantile(0.99, 0.0, 1.0, 1.0, 3) == 0.0


def test_unstable_load_returns_inf():
    assert np.all(np.isinf(mgc_mean_wait([2.0, 2.5], 1.0, 0.5, 2)))
    assert np.isinf(md1_mean_wait(1.0, 1.0))
    assert np.isinf(wait_quantile(0.5, 5.0, 1.0, 1.0, 4))
    assert np.isinf(sojourn_quantile(0.5, 2.0, [[0.5, 1.0]], [[0.5, 0.5]], 1))[0]
    assert md1_wait_cdf(3.0, 1.2, 1.0) == 0.0


# --- wait quantile -----------------------------------------------------------------------------


@pytest.mark.parametrize("q", [0.3, 0.5, 0.9, 0.99])
def test_wait_quantile_is_exact_for_mmc(q):
    # M/M/c: P(W > t) = C·e^{−(cμ − λ)t}
    c, mean_service, rate = 4, 0.5, 6.0
    p_wait = erlang_c_direct(c, rate * mean_service)
    decay = c / mean_service - rate
    expected = max(0.0, math.log(p_wait / (1 - q)) / decay)
    assert wait_quantile(q, rate, mean_service, 1.0, c) == pytest.approx(expected, abs=1e-12)


def test_wait_quantile_atom_at_zero():
    # c = 1, ρ = 0.3: 70 % of arrivals do not wait
    assert wait_quantile(0.69, 0.3, 1.0, 0.0, 1) == 0.0
    assert wait_quantile(0.71, 0.3, 1.0, 0.0, 1) > 0.0


# --- M/D/1 exact CDF ---------------------------------------------------------------------------


def test_md1_cdf_at_zero_and_first_interval():
    rate, s = 0.5, 1.0
    assert md1_wait_cdf(0.0, rate, s) == pytest.approx(0.5, abs=1e-15)
    assert md1_wait_cdf(-1.0, rate, s) == 0.0
    t = np.linspace(0.0, 0.999, 7)  # one term on [0, S): (1 − ρ)·e^{λt}
    np.testing.assert_allclose(md1_wait_cdf(t, rate, s), 0.5 * np.exp(rate * t), rtol=1e-14)


def test_md1_cdf_tends_to_one():
    assert md1_wait_cdf(18.0, 0.5, 1.0) == pytest.approx(1.0, abs=1e-8)
    assert md1_wait_cdf(4.0, 2.0, 0.25) == pytest.approx(1.0, abs=1e-6)


def test_md1_cdf_integrates_to_pollaczek_khinchine_mean():
    # E[W] = ∫₀^∞ (1 − F(t)) dt, Gauss–Legendre on each [kS, (k+1)S] (F is smooth inside)
    rate, s = 0.5, 1.0
    nodes, weights = np.polynomial.legendre.leggauss(20)
    starts = np.arange(18.0)[:, None]
    t = starts + 0.5 * (nodes + 1.0)
    mean = np.sum(0.5 * weights * (1.0 - md1_wait_cdf(t, rate, s)))
    assert mean == pytest.approx(md1_mean_wait(rate, s), rel=1e-6)


def test_md1_cdf_refuses_large_lambda_t():
    with pytest.raises(InputError) as err:
        md1_wait_cdf(40.0, 0.9, 1.0)
    assert err.value.field == "t"


@pytest.mark.parametrize(("rho", "gap_090", "gap_099"), [(0.7, 0.054, 0.092), (0.8, 0.037, 0.058)])
def test_tail_approximation_against_exact_md1(rho, gap_090, gap_099):
    """The atom + exponential tail overestimates M/D/1 quantiles (conservative), by < 10 % here.

    Measured (approximation / exact − 1): ρ = 0.7: +5.4 % (q 0.9), +9.2 % (q 0.99);
    ρ = 0.8: +3.7 %, +5.8 %. Lighter loads are worse (ρ = 0.5: +6.2 %, +17 %).
    """
    for q, gap in ((0.9, gap_090), (0.99, gap_099)):
        approx = float(wait_quantile(q, rho, 1.0, 0.0, 1))
        exact = md1_quantile_exact(q, rho, 1.0, upper=approx)
        assert approx / exact - 1.0 == pytest.approx(gap, abs=1e-3)


# --- Monte Carlo -------------------------------------------------------------------------------


def test_mmc_monte_carlo_matches_exactly():
    """M/M/4 at ρ = 0.6, 3.2M customers (400 × 8000, 500 warm-up each).

    Measured with this seed: mean −0.4 %, q0.9 −0.2 %, q0.99 −0.5 %; seed-to-seed standard
    deviation ≈ 0.6 %, so the 3 % tolerance is ≈ 5 σ.
    """
    rate, c = 2.4, 4
    waits = mmc_waits(np.random.default_rng(0), rate, c, 8_000, 400, 500)
    assert waits.mean() == pytest.approx(mgc_mean_wait(rate, 1.0, 1.0, c), rel=0.03)
    for q in (0.9, 0.99):
        assert np.quantile(waits, q) == pytest.approx(wait_quantile(q, rate, 1.0, 1.0, c), rel=0.03)


def test_md1_monte_carlo():
    """M/D/1 at ρ = 0.8, 4M customers.

    Simulation against Pollaczek–Khinchine and Erlang's exact CDF, measured with this seed: mean
    −0.1 %, q0.9 −0.1 %, q0.99 −0.4 % (seed-to-seed σ ≈ 0.3 %, 0.2 %, 0.9 %; tolerance 3 %). The
    approximation's quantiles sit above the simulated ones by +3.8 % (q0.9) and +6.2 % (q0.99).
    """
    rate, s = 0.8, 1.0
    waits = md1_waits(np.random.default_rng(1), rate, s, 4_000_000, 100_000)
    assert waits.mean() == pytest.approx(md1_mean_wait(rate, s), rel=0.03)
    for q in (0.9, 0.99):
        simulated = np.quantile(waits, q)
        approx = float(wait_quantile(q, rate, s, 0.0, 1))
        assert simulated == pytest.approx(md1_quantile_exact(q, rate, s, upper=approx), rel=0.03)
        assert approx == pytest.approx(simulated, rel=0.10)


# --- sojourn quantile --------------------------------------------------------------------------


@pytest.mark.parametrize("q", [0.5, 0.9, 0.99])
def test_sojourn_of_single_point_is_service_plus_wait(q):
    rate, s, c = np.array([1.0, 5.0, 9.0]), 0.1, np.array([1, 1, 2])
    expected = s + wait_quantile(q, rate, s, 0.0, c)
    np.testing.assert_allclose(sojourn_quantile(q, rate, [s], [1.0], c), expected, rtol=1e-12)


def test_sojourn_matches_bisection_on_the_mixture():
    rng = np.random.default_rng(7)
    n, k = 60, 8
    values = rng.uniform(0.01, 2.0, (n, k))
    probs = rng.dirichlet(np.full(k, 0.5), n)
    servers = rng.integers(1, 9, n)
    rate = rng.uniform(0.05, 0.97, n) * servers / np.sum(values * probs, axis=-1)
    scv_arrival = rng.choice([0.0, 1.0, 2.5], n)
    for q in (0.3, 0.9, 0.99):
        got = sojourn_quantile(q, rate, values, probs, servers, scv_arrival)
        want = sojourn_quantile_bisect(q, rate, values, probs, servers, scv_arrival)
        np.testing.assert_allclose(got, want, rtol=1e-10)


def test_sojourn_is_the_smallest_t_reaching_q():
    values = np.array([[0.2, 0.4, 1.5], [1.0, 1.0, 3.0]])
    probs = np.array([[0.5, 0.3, 0.2], [0.6, 0.395, 0.005]])
    rate, servers, q = np.array([1.0, 1.2]), np.array([1, 2]), 0.99
    t = sojourn_quantile(q, rate, values, probs, servers)
    mean = np.sum(values * probs, axis=-1)
    scv = np.sum(values**2 * probs, axis=-1) / mean**2 - 1
    p_wait = erlang_c(servers, rate * mean)
    scale = mgc_mean_wait(rate, mean, scv, servers) / p_wait
    assert np.all(mixture_cdf(t, values, probs, p_wait, scale) >= q - 1e-12)
    assert np.all(mixture_cdf(t * (1 - 1e-9), values, probs, p_wait, scale) < q)


def test_sojourn_order_and_padding_do_not_matter():
    values = np.array([0.3, 0.1, 0.9, 0.5])
    probs = np.array([0.2, 0.4, 0.1, 0.3])
    ref = sojourn_quantile(0.95, 2.0, values, probs, 1)
    order = np.argsort(values)
    padded_v = np.concatenate([[7.0, 0.0], values[order], [0.0]])
    padded_p = np.concatenate([[0.0, 0.0], probs[order], [0.0]])
    assert sojourn_quantile(0.95, 2.0, values[order], probs[order], 1) == pytest.approx(ref)
    assert sojourn_quantile(0.95, 2.0, padded_v, padded_p, 1) == pytest.approx(ref)


def test_sojourn_without_waiting_is_the_service_quantile():
    values, probs = [0.1, 0.2, 0.4], [0.5, 0.3, 0.2]
    assert sojourn_quantile(0.5, 0.0, values, probs, 1) == 0.1
    assert sojourn_quantile(0.6, 0.0, values, probs, 1) == 0.2
    # deterministic arrivals and service: E[W] = 0 although Erlang C > 0
    assert sojourn_quantile(0.9, 5.0, [0.1], [1.0], 1, scv_arrival=0.0) == 0.1


def test_sojourn_with_wait_scale_far_below_the_service_spread():
    # c − a = 60 servers of slack: wait scale ≈ 1e-3 s against a 1 s spread of service times, so
    # e^{−spread/scale} underflows; P(wait) ≈ 0.2 (Halfin–Whitt) keeps the tail relevant
    c, values, probs = 2500, np.array([1.0, 2.0]), np.array([0.995, 0.005])
    rate = (c - 60) / np.sum(values * probs)
    for q in (0.9, 0.99):
        got = sojourn_quantile(q, rate, values, probs, c, scv_arrival=0.0)
        want = sojourn_quantile_bisect(q, rate, values, probs, c, scv_arrival=0.0)
        assert got > 1.0
        assert got == pytest.approx(want, rel=1e-12)


# --- vectorisation -----------------------------------------------------------------------------


def test_array_results_equal_elementwise_scalar_calls():
    rng = np.random.default_rng(3)
    n = 12
    servers = rng.integers(1, 30, n)
    mean_service = rng.uniform(0.01, 1.0, n)
    rate = rng.uniform(0.1, 1.1, n) * servers / mean_service  # some unstable
    scv, scv_a, q = rng.uniform(0, 3, n), rng.uniform(0, 2, n), rng.uniform(0.05, 0.999, n)
    values = rng.uniform(0.01, 1.0, (n, 5))
    probs = rng.dirichlet(np.ones(5), n)

    def check(f, *arrays, **kw):
        got = f(*arrays, **kw)
        want = [f(*(a[i] for a in arrays), **kw) for i in range(n)]
        np.testing.assert_allclose(got, np.array(want, dtype=float), rtol=1e-13)

    check(erlang_c, servers, rate * mean_service)
    check(mgc_mean_wait, rate, mean_service, scv, servers, scv_a)
    check(wait_quantile, q, rate, mean_service, scv, servers, scv_a)
    check(sojourn_quantile, q, rate * 0.5, values, probs, servers, scv_a)
    check(md1_mean_wait, rate / servers, mean_service)
    check(md1_wait_cdf, q * 3.0, rate / servers, mean_service)


def test_broadcasting_shapes():
    rate = np.array([[0.5], [1.0], [3.0]])
    servers = np.array([1, 2, 4, 8])
    assert mgc_mean_wait(rate, 0.4, 1.0, servers).shape == (3, 4)
    assert wait_quantile(np.array([0.9, 0.99])[:, None, None], rate, 0.4, 1.0, servers).shape == (
        2,
        3,
        4,
    )
    got = sojourn_quantile(0.9, rate, [[0.2, 0.6]], [[0.5, 0.5]], servers)
    assert got.shape == (3, 4)
    assert sojourn_quantile(0.9, 1.0, [0.2, 0.6], [0.5, 0.5], 1).shape == ()
    scv_arrival = np.array([0.0, 1.0, 2.0])
    np.testing.assert_allclose(mgc_mean_wait(1.0, 0.5, 1.0, 1, scv_arrival), [0.25, 0.5, 0.75])
    assert sojourn_quantile(0.9, 1.0, [0.5], [1.0], 1, scv_arrival).shape == (3,)


# --- bad arguments -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: erlang_c(0, 0.5), "servers"),
        (lambda: erlang_c(2.5, 0.5), "servers"),
        (lambda: erlang_c(2, -0.1), "offered_load"),
        (lambda: mgc_mean_wait(-1.0, 1.0, 1.0, 1), "rate"),
        (lambda: mgc_mean_wait(1.0, [0.1, -1.0], 1.0, 1), "mean_service"),
        (lambda: mgc_mean_wait(1.0, 0.1, np.nan, 1), "scv_service"),
        (lambda: mgc_mean_wait(1.0, 0.1, 1.0, 1, -2.0), "scv_arrival"),
        (lambda: wait_quantile(1.0, 1.0, 0.1, 1.0, 1), "q"),
        (lambda: wait_quantile(0.0, 1.0, 0.1, 1.0, 1), "q"),
        (lambda: sojourn_quantile(1.5, 1.0, [0.1], [1.0], 1), "q"),
        (lambda: sojourn_quantile(0.9, 1.0, [0.1, -0.2], [0.5, 0.5], 1), "service_values"),
        (lambda: sojourn_quantile(0.9, 1.0, [0.1, 0.2], [0.5, 0.6], 1), "service_probs"),
        (lambda: sojourn_quantile(0.9, 1.0, 0.1, 1.0, 1), "service_values"),
        (lambda: sojourn_quantile(0.9, 1.0, [0.1], [1.0], 0), "servers"),
        (lambda: md1_mean_wait(1.0, -0.5), "service"),
        (lambda: md1_wait_cdf(1.0, 0.5, 0.0), "service"),
        (lambda: md1_wait_cdf(np.inf, 0.5, 1.0), "t"),
    ],
)
def test_bad_arguments_raise_input_error(call, field):
    with pytest.raises(InputError) as err:
        call()
    assert err.value.field == field
