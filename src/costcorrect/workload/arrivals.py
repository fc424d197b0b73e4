"""Seeded arrival processes: sorted float64 arrival times in seconds, the first one near 0.

Times are cumulative sums of i.i.d. inter-arrival gaps, so the first request arrives one gap after
t = 0. Same seed → the same bytes.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

from costcorrect.errors import InputError

Seed = int | np.random.SeedSequence
"""A non-negative integer, or a :class:`numpy.random.SeedSequence` (e.g. a spawned child)."""


def poisson_arrivals(rate_per_s: float, n: int, seed: Seed) -> np.ndarray:
    """``n`` arrival times (s) of a Poisson process of ``rate_per_s`` requests/s."""
    rate, count = _positive("rate_per_s", rate_per_s), _count("n", n)
    return np.cumsum(_rng(seed).exponential(1.0 / rate, count))


def gamma_arrivals(rate_per_s: float, cv: float, n: int, seed: Seed) -> np.ndarray:
    """``n`` arrival times (s) with gamma inter-arrival gaps of mean ``1 / rate_per_s`` s and
    coefficient of variation ``cv`` (1: Poisson-like, > 1: bursty, < 1: regular)."""
    rate, cv, count = _positive("rate_per_s", rate_per_s), _positive("cv", cv), _count("n", n)
    shape = 1.0 / cv**2  # gamma(k, θ): mean kθ, CV 1/√k
    return np.cumsum(_rng(seed).gamma(shape, 1.0 / (rate * shape), count))


def _positive(field: str, value: float) -> float:
    """``value`` as a float, or :class:`InputError` unless it is finite and > 0."""
    if isinstance(value, bool) or not isinstance(value, Real) or not 0 < value < math.inf:
        raise InputError(field, value, "a finite number > 0")
    return float(value)


def _count(field: str, value: int) -> int:
    """``value`` as an int, or :class:`InputError` unless it is an integer ≥ 1."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise InputError(field, value, "an integer ≥ 1")
    return int(value)


def _rng(seed: Seed) -> np.random.Generator:
    if isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError("seed", seed, "a non-negative integer")
    return np.random.default_rng(int(seed))
