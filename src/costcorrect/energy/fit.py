"""Fit a GPU's power parameters to measured (activity, power) points.

P − idle = memory·u_mem + x·v(x)²·(clock·u_busy + compute·u_compute + overhead·u_fixed) is
linear in the four parameters. Decode-dominated measurements barely identify some of them
(the tensor-core term above all), so the fit is a ridge regression toward the catalog's prior
values — each parameter's prior standard deviation is PRIOR_SPREAD × its prior, the
measurements' is NOISE_W — solved as non-negative least squares on the augmented system.
The voltage curve is held at its catalog values. Each parameter gets the posterior's 95 %
interval (clipped at 0) and its data share: the part of its posterior precision that the
measurements, not the prior, contribute (as ``perf.fit`` reports for the perf model).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import nnls

from costcorrect.catalog.calibrations import Estimate
from costcorrect.energy.power import PowerModel
from costcorrect.errors import InputError
from costcorrect.perf.fit import Z95

NOISE_W = 15.0  # measurement scatter of a steady-state power reading, W
PRIOR_SPREAD = 0.5  # prior standard deviation as a share of each prior value
PARAMETERS = ("memory_w", "clock_w", "compute_w", "overhead_w")


@dataclass(frozen=True)
class PowerFit:
    """The fitted model, its RMSE in W, the points' count and each fitted parameter's
    estimate (W)."""

    model: PowerModel
    rmse_w: float
    points: int
    estimates: dict[str, Estimate]


def fit_power(prior: PowerModel, busy, compute, memory, overhead, power_w, clock=1.0) -> PowerFit:
    """Memory, clock, compute and overhead W fitted to measured per-GPU ``power_w`` at the
    given activity shares and clock ratios, shrunk toward ``prior`` (idle kept)."""
    columns = (busy, compute, memory, overhead, power_w)
    arrays = [np.asarray(a, dtype=float).ravel() for a in columns]
    n = arrays[0].size
    if n < 2 or any(a.size != n for a in arrays):
        raise InputError("points", n, "two or more points with every column")
    busy, compute, memory, overhead, watts = arrays
    if not ((watts > 0) & np.isfinite(watts)).all():
        raise InputError("power_w", float(watts[~(watts > 0)][0]), "measured W > 0")
    x = np.broadcast_to(np.asarray(clock, dtype=float).ravel(), (n,))
    scale = x * prior.voltage(x) ** 2
    design = np.column_stack([memory, scale * busy, scale * compute, scale * overhead]) / NOISE_W
    target = (watts - prior.idle_w) / NOISE_W
    theta0 = np.array([getattr(prior, name) for name in PARAMETERS])
    spread = np.maximum(PRIOR_SPREAD * theta0, 1.0)
    coef, _ = nnls(
        np.vstack([design, np.diag(1 / spread)]), np.concatenate([target, theta0 / spread])
    )
    model = replace(prior, **dict(zip(PARAMETERS, map(float, coef), strict=True)))
    fitted = model.power(x, busy, compute, memory, overhead)
    prior_precision = 1 / spread**2
    variance = np.diag(np.linalg.inv(design.T @ design + np.diag(prior_precision)))
    estimates = {
        name: Estimate(
            low=float(max(c - Z95 * np.sqrt(v), 0.0)),
            high=float(c + Z95 * np.sqrt(v)),
            data_share=float(np.clip(1 - v * prior_precision[j], 0.0, 1.0)),
        )
        for j, (name, c, v) in enumerate(zip(PARAMETERS, coef, variance, strict=True))
    }
    return PowerFit(model, float(np.sqrt(np.mean((fitted - watts) ** 2))), n, estimates)
