"""Load traces of a serving fleet — utilisation (share of the fleet's capacity the traffic
needs) sampled at fixed steps — and the GPU-hours harvestable above an SLO safety margin.

At each step the serving side keeps ceil(u·N·(1 + margin)) of the N GPUs (at most N); the
rest can run rollouts for that step. Harvestable GPU-hours = Σ free GPUs × step / 3600.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from costcorrect.errors import InputError

SECONDS_PER_HOUR = 3600


@dataclass(frozen=True)
class LoadTrace:
    """Utilisation in [0, 1] at ``step_s``-second steps."""

    step_s: int
    utilisation: np.ndarray

    def __post_init__(self) -> None:
        if not (isinstance(self.step_s, int | np.integer) and self.step_s > 0):
            raise InputError("step_s", self.step_s, "a whole number of seconds > 0")
        u = np.asarray(self.utilisation, dtype=float)
        if u.ndim != 1 or u.size == 0:
            raise InputError("utilisation", u.shape, "a non-empty series")
        bad = ~((u >= 0) & (u <= 1))
        if bad.any():
            raise InputError("utilisation", float(u[bad][0]), "a share of capacity in [0, 1]")
        object.__setattr__(self, "utilisation", u)

    @property
    def hours(self) -> float:
        return self.utilisation.size * self.step_s / SECONDS_PER_HOUR


def diurnal_trace(
    days: float = 7.0,
    step_s: int = 300,
    peak: float = 0.85,
    trough: float = 0.25,
    noise: float = 0.04,
    seed: int = 0,
) -> LoadTrace:
    """A seeded diurnal trace: a daily sinusoid between ``trough`` and ``peak`` (peak at
    14:00) with a weekly dip on days 6–7 and AR(1) noise of standard deviation ``noise``."""
    if not 0 <= trough <= peak <= 1:
        raise InputError("peak", peak, f"0 ≤ trough ({trough}) ≤ peak ≤ 1")
    steps = round(days * 86400 / step_s)
    t = np.arange(steps) * step_s / 3600.0  # hours
    daily = 0.5 * (1 + np.cos(2 * np.pi * (t - 14.0) / 24.0))
    weekend = np.where((t // 24) % 7 >= 5, 0.8, 1.0)
    rng = np.random.default_rng(seed)
    shocks = rng.normal(0, noise * np.sqrt(1 - 0.9**2), steps)
    ar = np.zeros(steps)
    for i in range(1, steps):
        ar[i] = 0.9 * ar[i - 1] + shocks[i]
    u = (trough + (peak - trough) * daily) * weekend + ar
    return LoadTrace(step_s, np.clip(u, 0.0, 1.0))


def read_trace(
    path: str | Path,
    column: str = "utilisation",
    step_s: int | None = None,
    time_column: str = "time_s",
) -> LoadTrace:
    """A CSV/JSONL/Parquet trace: ``column`` in [0, 1] (or percent, if any value > 1 and all
    ≤ 100), evenly spaced by ``time_column`` seconds (or ``step_s``)."""
    from costcorrect.verify.data import column as get
    from costcorrect.verify.data import read_table

    frame = read_table(path)
    u = np.asarray(get(frame, column), dtype=float)
    if (u > 1).any() and (u <= 100).all():
        u = u / 100
    if step_s is None:
        times = np.asarray(get(frame, time_column), dtype=float)
        steps = np.diff(times)
        if times.size < 2 or not np.allclose(steps, steps[0]) or steps[0] <= 0:
            raise InputError(time_column, "uneven or too few times", "evenly spaced seconds")
        step_s = round(float(steps[0]))
    return LoadTrace(int(step_s), u)


@dataclass(frozen=True)
class Harvest:
    """GPUs kept for serving and free per step, and the harvestable GPU-hours."""

    fleet: int
    margin: float
    serving_gpus: np.ndarray
    free_gpus: np.ndarray
    gpu_hours: float
    fleet_gpu_hours: float

    @property
    def share(self) -> float:
        return self.gpu_hours / self.fleet_gpu_hours


def harvestable(trace: LoadTrace, fleet: int, margin: float = 0.2) -> Harvest:
    """GPU-hours free above serving's ``margin`` (headroom share above the load)."""
    if not (isinstance(fleet, int | np.integer) and fleet > 0):
        raise InputError("fleet", fleet, "a positive number of GPUs")
    if not 0 <= margin < math.inf:
        raise InputError("margin", margin, "a finite safety margin ≥ 0")
    serving = np.minimum(fleet, np.ceil(trace.utilisation * fleet * (1 + margin) - 1e-9))
    free = fleet - serving.astype(np.int64)
    seconds = int(free.sum()) * trace.step_s
    return Harvest(
        fleet,
        margin,
        serving.astype(np.int64),
        free,
        seconds / SECONDS_PER_HOUR,
        fleet * trace.hours,
    )
