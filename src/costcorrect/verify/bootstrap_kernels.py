"""Compiled Poisson bootstrap of calibration statistics (numba, parallel over resamples).

Each resample weights every (report, outcome) pair by an independent Poisson(1) count — the
Poisson bootstrap, which matches the multinomial bootstrap for large N and needs no index
arrays. Weights come from a counter-based hash of (seed, resample, pair), so results do not
depend on thread scheduling.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

MAX_WEIGHT = 10  # Poisson(1) weights are capped here: P(K > 10) ≈ 1e-8
#: P(K ≤ k) for K ~ Poisson(1), k = 0..MAX_WEIGHT − 1
POISSON1_CDF = np.cumsum([math.exp(-1.0) / math.factorial(k) for k in range(MAX_WEIGHT)])

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


@njit(cache=True, inline="always")
def _unit(seed, b, i):
    """Uniform [0, 1) from splitmix64 of the counter (seed, b, i)."""
    x = np.uint64(seed) * _GOLDEN + np.uint64(b) * _M1 + np.uint64(i) * _M2
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    x = x ^ (x >> np.uint64(31))
    return float(x >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(parallel=True, cache=True)
def poisson_bootstrap(terms, p, y, coarse, n_coarse, fine, n_fine, resamples, seed, cdf):
    """Per resample: weighted sums of the per-pair ``terms`` (m, N), total weight, and per
    coarse bin (Σw, Σw·p, Σw·y) and per fine cell (Σw, Σw·(y − p))."""
    m, n = terms.shape
    sums = np.zeros((resamples, m))
    total = np.zeros(resamples)
    bins = np.zeros((resamples, 3, n_coarse))
    cells = np.zeros((resamples, 2, n_fine))
    for b in prange(resamples):
        acc = np.zeros(m)
        bin_w = np.zeros(n_coarse)
        bin_p = np.zeros(n_coarse)
        bin_y = np.zeros(n_coarse)
        cell_w = np.zeros(n_fine)
        cell_r = np.zeros(n_fine)
        weight = 0.0
        for i in range(n):
            u = _unit(seed, b, i)
            w = 0.0  # Poisson(1) by inverse CDF, branch-free (capped at MAX_WEIGHT)
            for k in range(MAX_WEIGHT):
                w += u > cdf[k]
            weight += w
            for j in range(m):
                acc[j] += w * terms[j, i]
            k = coarse[i]
            bin_w[k] += w
            bin_p[k] += w * p[i]
            bin_y[k] += w * y[i]
            c = fine[i]
            cell_w[c] += w
            cell_r[c] += w * (y[i] - p[i])
        total[b] = weight
        sums[b] = acc
        bins[b, 0] = bin_w
        bins[b, 1] = bin_p
        bins[b, 2] = bin_y
        cells[b, 0] = cell_w
        cells[b, 1] = cell_r
    return sums, total, bins, cells
