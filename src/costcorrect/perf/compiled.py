"""Compiled (numba) hot loops of the performance model, imported lazily so that importing
:mod:`costcorrect.perf` stays fast for the CLI."""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True)
def decode_rows(batch, compute0, compute1, memory0, memory1, add0, add1, moe, log_keep):
    """Σ_rows max(compute, memory) + the cheaper additive way, and its slope in the batch size,
    per batch (rows linear in B, ``add0``/``add1`` shaped (rows, ways); routed experts touched:
    E·(1 − e^{B·ln(1 − k/E)}))."""
    n, rows = batch.shape[0], compute0.shape[0]
    seconds = np.zeros(n)
    slope = np.zeros(n)
    for i in range(n):
        b = batch[i]
        if b <= 0.0:
            continue
        keep = math.exp(b * log_keep)
        for j in range(rows):
            compute = compute0[j] + b * compute1[j]
            memory = memory0[j] + b * memory1[j] + moe[j] * (1.0 - keep)
            if compute > memory:
                seconds[i] += compute
                slope[i] += compute1[j]
            else:
                seconds[i] += memory
                slope[i] += memory1[j] - moe[j] * log_keep * keep
            best = add0[j, 0] + b * add1[j, 0]
            best_slope = add1[j, 0]
            for w in range(1, add0.shape[1]):
                way = add0[j, w] + b * add1[j, w]
                if way < best:
                    best = way
                    best_slope = add1[j, w]
            seconds[i] += best
            slope[i] += best_slope
    return seconds, slope
