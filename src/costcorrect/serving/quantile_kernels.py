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
    q, base, sd, gaps, weights, no_stall, cond, shape, scale, class_scale, lo, hi, iterations
):
    """q-quantile of the colocated TPOT mixture: per class (..., K) an atom (no stall, mass
    ``no_stall``) smeared by N(base, sd²), plus a stalled part whose total over ``gaps`` steps
    is gamma(shape, scale) (Wilson–Hilferty CDF), the class's time × ``class_scale`` (K,);
    classes weighted by ``weights``. Newton steps kept inside the shrinking bracket [lo, hi],
    bisecting where a step leaves it (the CDF has a steep atom)."""
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
        widest = 0.0
        for j in range(k):
            widest = max(widest, sd[i, j])
        x = min(max((base[i] + 2.0 * widest) * class_scale.max(), a), b)  # the atoms' tail
        done = False
        for _ in range(iterations):
            f = 0.0
            dens = 0.0
            for j in range(k):
                offset = x / class_scale[j] - base[i]
                z = offset * inv_sd[j]
                f += atom[j] * _phi_cdf(z)
                dens += atom[j] * inv_sd[j] * math.exp(-0.5 * z * z) / _SQRT2PI / class_scale[j]
                if offset > 0.0:
                    root = np.cbrt(offset * per_gap[j])
                    z = (root - shift[j]) * inv_width[j]
                    f += stalled[j] * _phi_cdf(z)
                    dens += (
                        stalled[j]
                        * inv_width[j]
                        * math.exp(-0.5 * z * z)
                        / _SQRT2PI
                        * per_gap[j]
                        / (3.0 * max(root * root, 1e-300))
                        / class_scale[j]
                    )
            if abs(f - q) <= 1e-10:
                done = True
                break
            if f < q:
                a = x
            else:
                b = x
            if b - a <= 1e-6 * b:  # relative precision far below the model's accuracy
                break
            step = x - (f - q) / dens if dens > 0.0 else 0.5 * (a + b)
            x = step if a < step < b else 0.5 * (a + b)
        out[i] = x if done else b
    return out


@njit(cache=True)
def _sojourn_cdf(x, row, weights, p, theta, rho, age, cap, start, bend):
    """(F(x), F'(x) away from the atoms) of :func:`batched_sojourn_quantile`'s mixture."""
    f = 0.0
    dens = 0.0
    for j in range(row.shape[0]):
        y = x - row[j]
        if y < 0.0:
            continue
        f += weights[j] * (1.0 - p)  # the atom: no wait
        if y > start:
            if y <= bend:
                w = (y - rho * age) / (1.0 + rho)
                slope = 1.0 / (1.0 + rho)
            else:
                w = y - cap
                slope = 1.0
            survive = math.exp(-max(w, 0.0) / theta)
            f += weights[j] * p * (1.0 - survive)
            dens += weights[j] * p * survive / theta * slope
    return f, dens


@njit(parallel=True, cache=True)
def batched_sojourn_quantile(q, values, weights, p_wait, theta, rho, age, cap, iterations):
    """q-quantile of TTFT = v + h(W) for a prompt of class j (values (N, K), ``weights`` (K,))
    at a batching server: W is 0 with mass 1 − ``p_wait``, else exponential with mean
    ``theta``; a prompt that waited w rides with the prompts that arrived during the batch in
    progress, h(w) = w + min(ρ·(w + age), cap) (work ρ per second over that batch's age and
    the wait, at most a full batch ``cap``). h is piecewise linear, so the CDF and its density
    are closed form. The CDF jumps only at the classes' no-wait atoms: a search over the
    sorted atoms finds the quantile on one (exactly) or between two, where Newton steps kept
    inside the bracket converge. All per-row arrays are (N,)."""
    n, k = values.shape
    out = np.empty(n)
    for i in prange(n):
        r = rho[i]
        m = cap[i]
        th = max(theta[i], 1e-300)
        p = p_wait[i]
        ag = age[i]
        start = min(r * ag, m)  # h(0+)
        bend = max(m / max(r, 1e-300) - ag, 0.0) + m  # h(w*): past it the batch is full
        row = values[i]
        order = np.argsort(row)
        # lowest atom with F ≥ q, by bisection over the sorted atoms
        if _sojourn_cdf(row[order[k - 1]], row, weights, p, th, r, ag, m, start, bend)[0] < q:
            a = row[order[k - 1]]
            tail = theta[i] * (math.log(max(p, 1e-300) / (1.0 - q)) + 1.0)
            b = a + (1.0 + r) * max(tail, 0.0) + start + m + 1e-12
        else:
            lo_j = 0
            hi_j = k - 1
            while lo_j < hi_j:
                mid = (lo_j + hi_j) // 2
                f_mid = _sojourn_cdf(row[order[mid]], row, weights, p, th, r, ag, m, start, bend)
                if f_mid[0] >= q:
                    hi_j = mid
                else:
                    lo_j = mid + 1
            b = row[order[hi_j]]
            below = 0.0 if hi_j == 0 else row[order[hi_j - 1]]
            f_below = _sojourn_cdf(b, row, weights, p, th, r, ag, m, start, bend)[0]
            for j in range(k):  # F just below the atom at b
                if row[j] == b:
                    f_below -= weights[j] * (1.0 - p)
            if f_below < q:
                out[i] = b  # q falls in the jump at b
                continue
            a = below
        x = 0.5 * (a + b)
        for _ in range(iterations):
            f, dens = _sojourn_cdf(x, row, weights, p, th, r, ag, m, start, bend)
            if abs(f - q) <= 1e-13:
                break
            if f < q:
                a = x
            else:
                b = x
            if b - a <= 1e-12 * b:
                x = b
                break
            step = x - (f - q) / dens if dens > 0.0 else 0.5 * (a + b)
            x = step if a < step < b else 0.5 * (a + b)
        out[i] = x
    return out
