"""Compiled per-configuration quantile solves of the analytic engine (numba, parallel over
configurations): the mixtures over length classes have no closed-form quantile."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)


@njit(cache=True, inline="always")
def _phi_cdf(z):
    """Standard normal CDF (Abramowitz & Stegun 26.2.17, absolute error < 7.5e-8)."""
    x = abs(z)
    if x > 9.0:  # Φ(−9) ≈ 1e-19
        return 1.0 if z > 0.0 else 0.0
    t = 1.0 / (1.0 + 0.2316419 * x)
    poly = t * (
        0.319381530 + t * (-0.356563782 + t * (1.781477937 + t * (-1.821255978 + t * 1.330274429)))
    )
    tail = math.exp(-0.5 * x * x) / _SQRT2PI * poly
    return 1.0 - tail if z > 0.0 else tail


@njit(parallel=True, cache=True)
def normal_mixture_quantile(mean, sd, weights, q, z_q, iterations):
    """q-quantile of each row's mixture of normals (mean, sd shaped (N, K); ``weights`` (K,)):
    Newton steps from the moment-matched normal's quantile (``z_q`` = Φ⁻¹(q)), kept inside a
    shrinking bracket."""
    n, k = mean.shape
    out = np.empty(n)
    for i in prange(n):
        lo = np.inf
        hi = -np.inf
        m1 = 0.0
        m2 = 0.0
        for j in range(k):
            s = max(sd[i, j], 1e-12)
            lo = min(lo, mean[i, j] - 8.0 * s)
            hi = max(hi, mean[i, j] + 8.0 * s)
            m1 += weights[j] * mean[i, j]
            m2 += weights[j] * (s * s + mean[i, j] * mean[i, j])
        spread = math.sqrt(max(m2 - m1 * m1, 0.0))
        x = min(max(m1 + z_q * spread, lo), hi)
        for _ in range(iterations):
            f = 0.0
            dens = 0.0
            for j in range(k):
                s = max(sd[i, j], 1e-12)
                z = (x - mean[i, j]) / s
                f += weights[j] * _phi_cdf(z)
                dens += weights[j] * math.exp(-0.5 * z * z) / s
            f = f - q
            dens = dens / _SQRT2PI
            if f < 0.0:
                lo = x
            else:
                hi = x
            step = x - f / max(dens, 1e-300)
            x = step if lo < step < hi else 0.5 * (lo + hi)
        out[i] = x
    return out


@njit(parallel=True, cache=True)
def stalled_tpot_quantile(
    q, base, sd, gaps, weights, no_stall, cond, shape, scale, lo, hi, iterations
):
    """q-quantile of the colocated TPOT mixture: per class (..., K) an atom (no stall, mass
    ``no_stall``) smeared by N(base, sd²), plus a stalled part whose total over ``gaps`` steps
    is gamma(shape, scale) (Wilson–Hilferty CDF); classes weighted by ``weights``. Bisection
    in [lo, hi] (the CDF has a steep atom, which defeats secant methods)."""
    n, k = sd.shape
    out = np.empty(n)
    for i in prange(n):
        # per-class constants, so the bisection loop only multiplies, cbrt's and exp's
        atom = np.empty(k)
        inv_sd = np.empty(k)
        stalled = np.empty(k)
        per_gap = np.empty(k)
        shift = np.empty(k)
        inv_width = np.empty(k)
        for j in range(k):
            c = 1.0 / (9.0 * shape[i, j])
            atom[j] = weights[j] * no_stall[i, j]
            inv_sd[j] = 1.0 / max(sd[i, j], 1e-15)
            stalled[j] = weights[j] * cond[i, j]
            per_gap[j] = gaps[j] / (scale[i, j] * shape[i, j])
            shift[j] = 1.0 - c
            inv_width[j] = 1.0 / math.sqrt(c)
        a = lo[i]
        b = hi[i]
        for _ in range(iterations):
            if b - a <= 1e-6 * b:  # relative precision far below the model's accuracy
                break
            x = 0.5 * (a + b)
            offset = x - base[i]
            f = 0.0
            for j in range(k):
                f += atom[j] * _phi_cdf(offset * inv_sd[j])
                if offset > 0.0:
                    f += stalled[j] * _phi_cdf(
                        (np.cbrt(offset * per_gap[j]) - shift[j]) * inv_width[j]
                    )
            if f < q:
                a = x
            else:
                b = x
        out[i] = b
    return out
