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
    return 0.5 * math.erfc(-z / _SQRT2)


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


@njit(cache=True, inline="always")
def _stalled_cdf(x, i, q, base, sd, gaps, weights, no_stall, cond, shape, scale):
    k = sd.shape[1]
    f = 0.0
    offset = x - base[i]
    for j in range(k):
        g = no_stall[i, j] * _phi_cdf(offset / max(sd[i, j], 1e-15))
        excess = offset * gaps[j]
        if excess > 0.0:
            c = 1.0 / (9.0 * shape[i, j])
            z = (np.cbrt(excess / scale[i, j] / shape[i, j]) - (1.0 - c)) / math.sqrt(c)
            g += cond[i, j] * _phi_cdf(z)
        f += weights[j] * g
    return f - q


@njit(parallel=True, cache=True)
def stalled_tpot_quantile(
    q, base, sd, gaps, weights, no_stall, cond, shape, scale, lo, hi, iterations
):
    """q-quantile of the colocated TPOT mixture: per class (..., K) an atom (no stall, mass
    ``no_stall``) smeared by N(base, sd²), plus a stalled part whose total over ``gaps`` steps
    is gamma(shape, scale) (Wilson–Hilferty CDF); classes weighted by ``weights``. Illinois
    regula falsi in [lo, hi]."""
    n = sd.shape[0]
    out = np.empty(n)
    for i in prange(n):
        a = lo[i]
        b = hi[i]
        fa = _stalled_cdf(a, i, q, base, sd, gaps, weights, no_stall, cond, shape, scale)
        fb = _stalled_cdf(b, i, q, base, sd, gaps, weights, no_stall, cond, shape, scale)
        side = 0
        for _ in range(iterations):
            if fb - fa == 0.0 or b - a <= 1e-7 * max(abs(b), 1e-9) or abs(fb) < 1e-9:
                break
            x = b - fb * (b - a) / (fb - fa)
            fx = _stalled_cdf(x, i, q, base, sd, gaps, weights, no_stall, cond, shape, scale)
            if fx * fb > 0.0:  # x replaces b
                b, fb = x, fx
                if side == 1:
                    fa *= 0.5
                side = 1
            else:
                a, fa = x, fx
                if side == -1:
                    fb *= 0.5
                side = -1
        out[i] = b if fb >= 0.0 else a
    return out
