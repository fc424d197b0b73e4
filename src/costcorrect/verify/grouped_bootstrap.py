"""Poisson bootstrap of calibration statistics over groups of interchangeable pairs.

Each resample weights every (report, outcome) pair by an independent Poisson(1) count — the
Poisson bootstrap, which matches the multinomial bootstrap for large N and needs no index
arrays. Every statistic of the calibration report is a weighted sum within a coarse bin, a fine
cell or the whole sample, so pairs that share (fine cell, coarse bin, outcome) — at most
2 × (cells + bins) groups, whatever N — enter only through their group's sums. A group of ``n``
pairs gets weight W ~ Poisson(n) exactly (a sum of independent Poisson(1) counts), and a
weighted sum Σ wᵢ·xᵢ within it — given W, the total of W draws with replacement from the
group's values — its mean W·x̄ and variance W·s² (s²: the group's variance of x, tiny: its
reports lie within one fine cell) through a normal deviate. One resample costs O(groups), not
O(N): a million pairs with 1,000 resamples take about a second (``docs/benchmarks.md``).
"""

from __future__ import annotations

import numpy as np

RESAMPLES_PER_BLOCK = 100  # resamples drawn at once (bounded memory: ~ blocks × groups × 8 B)


def _segment_sums(values: np.ndarray, starts: np.ndarray, owners: np.ndarray, size: int):
    """Sums of ``values`` (…, groups) over runs of groups starting at ``starts``, placed at
    ``owners`` (each run's bin) in an array of ``size`` bins (empty bins: 0)."""
    out = np.zeros((*values.shape[:-1], size))
    out[..., owners] = np.add.reduceat(values, starts, axis=-1)
    return out


def poisson_bootstrap(
    terms: np.ndarray,
    p: np.ndarray,
    y: np.ndarray,
    coarse: np.ndarray,
    n_coarse: int,
    fine: np.ndarray,
    n_fine: int,
    resamples: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per resample: weighted sums of the per-pair ``terms`` (m, N) (``sums``, (resamples, m)),
    total weight, per coarse bin (Σw, Σw·p, Σw·y) and per fine cell (Σw, Σw·(y − p)).
    ``coarse`` and ``fine`` must both be non-decreasing in ``p`` (bins and cells of the report)."""
    outcome = (y > 0).astype(np.int64)
    key = (fine.astype(np.int64) * n_coarse + coarse) * 2 + outcome
    groups, member, count = np.unique(key, return_inverse=True, return_counts=True)
    g_y = (groups % 2).astype(float)
    g_coarse, g_fine = (groups // 2) % n_coarse, groups // 2 // n_coarse
    values = np.vstack([terms, p[None, :]])  # (m + 1, N)
    mean = np.stack([np.bincount(member, v, groups.size) for v in values]) / count
    square = np.stack([np.bincount(member, v * v, groups.size) for v in values]) / count
    spread = np.sqrt(np.maximum(square - mean**2, 0.0))
    runs = {}
    for name, owner in (("coarse", g_coarse), ("fine", g_fine)):
        starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        runs[name] = (starts, owner[starts])
    m = terms.shape[0]
    sums = np.empty((resamples, m))
    total = np.empty(resamples)
    bins = np.empty((resamples, 3, n_coarse))
    cells = np.empty((resamples, 2, n_fine))
    rng = np.random.default_rng(seed)
    for lo in range(0, resamples, RESAMPLES_PER_BLOCK):
        hi = min(lo + RESAMPLES_PER_BLOCK, resamples)
        weight = rng.poisson(count, (hi - lo, groups.size)).astype(float)
        noise = rng.standard_normal((m + 1, hi - lo, groups.size))
        weighted = weight * mean[:, None, :] + np.sqrt(weight) * spread[:, None, :] * noise
        sums[lo:hi] = weighted[:m].sum(axis=-1).T
        total[lo:hi] = weight.sum(axis=-1)
        per_coarse = np.stack([weight, weighted[m], weight * g_y], axis=1)
        bins[lo:hi] = _segment_sums(per_coarse, *runs["coarse"], n_coarse)
        per_fine = np.stack([weight, weight * g_y - weighted[m]], axis=1)
        cells[lo:hi] = _segment_sums(per_fine, *runs["fine"], n_fine)
    return sums, total, bins, cells
