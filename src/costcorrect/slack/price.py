"""The marginal-of-idle price of a rollout on harvested serving GPUs and what it does to cost
per correct and to the training-vs-test-time threshold.

m = c_idle / c_dedicated, where c_dedicated is the GPU's hourly price and c_idle the
incremental cost of using an already-paid idle GPU for an hour: the extra energy over idle
(at $/kWh × PUE), the time lost to weight synchronisation (a full model copy per sync over the
link), wear, and rollout work lost when serving takes the GPU back. Then

    Cost' = CPM · R · (1 + m·ρ̄) / α.

Threshold (spec §4) with rollouts at m: one more dollar of rollouts lowers ln C by
(η^ρ·(1 + mρ̄)/(mρ̄) − 1)/D_I, so inference wins iff that over η^T/D_T exceeds... read as
inference spend, the bar on the spend ratio becomes (η^ρ(1 + mρ̄)/(mρ̄) − 1)/η^T; read as
training spend (rollouts that generate training data), the harvested discount lowers D_T by
(1 − m)·rollout spend, so the bar (η^ρ − 1)/η^T applies to D_I/D_T'.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from costcorrect.errors import InputError
from costcorrect.serving.cost import JOULES_PER_KWH


@dataclass(frozen=True)
class IdlePrice:
    """The parts of c_idle in $ per GPU-hour, c_dedicated, and m."""

    energy_usd_per_h: float
    sync_usd_per_h: float
    wear_usd_per_h: float
    preemption_usd_per_h: float
    idle_usd_per_h: float
    dedicated_usd_per_h: float
    m: float

    def to_dict(self) -> dict:
        return asdict(self)


def _check(name: str, value: float, ok: bool, expected: str) -> None:
    if not (np.isfinite(value) and ok):
        raise InputError(name, value, expected)


def marginal_of_idle(
    dedicated_usd_per_h: float,
    rollout_power_w: float,
    idle_power_w: float,
    usd_per_kwh: float = 0.10,
    pue: float = 1.2,
    weights_bytes: float = 16e9,
    link_bytes_per_s: float = 50e9,
    syncs_per_hour: float = 12.0,
    wear_share: float = 0.05,
    preempted_share: float = 0.05,
) -> IdlePrice:
    """m for one GPU: energy (rollout − idle W), weight sync (``weights_bytes`` per sync over
    ``link_bytes_per_s``, ``syncs_per_hour``, charged at the dedicated price), wear
    (``wear_share`` of the dedicated price) and lost work (``preempted_share`` of the rollout
    hour redone)."""
    _check("dedicated_usd_per_h", dedicated_usd_per_h, dedicated_usd_per_h > 0, "a price > 0")
    _check(
        "rollout_power_w",
        rollout_power_w,
        rollout_power_w >= idle_power_w >= 0,
        f"W ≥ idle ({idle_power_w} W)",
    )
    _check("usd_per_kwh", usd_per_kwh, usd_per_kwh >= 0, "$/kWh ≥ 0")
    _check("pue", pue, pue >= 1, "a PUE ≥ 1")
    _check("link_bytes_per_s", link_bytes_per_s, link_bytes_per_s > 0, "bytes/s > 0")
    for name, value in (("weights_bytes", weights_bytes), ("syncs_per_hour", syncs_per_hour)):
        _check(name, value, value >= 0, "a value ≥ 0")
    for name, value in (("wear_share", wear_share), ("preempted_share", preempted_share)):
        _check(name, value, 0 <= value < 1, "a share in [0, 1)")
    energy = (rollout_power_w - idle_power_w) * 3600 / JOULES_PER_KWH * usd_per_kwh * pue
    sync_share = min(1.0, weights_bytes / link_bytes_per_s * syncs_per_hour / 3600)
    sync = sync_share * dedicated_usd_per_h
    wear = wear_share * dedicated_usd_per_h
    base = energy + sync + wear
    preemption = base * preempted_share / (1 - preempted_share)
    idle = base + preemption
    return IdlePrice(
        energy, sync, wear, preemption, idle, dedicated_usd_per_h, idle / dedicated_usd_per_h
    )


def cost_with_slack(cpm: float, r: float, rho: float, alpha: float, m: float) -> float:
    """Cost' = CPM · R · (1 + m·ρ̄) / α ($ per million answer tokens)."""
    _check("cpm", cpm, 0 <= cpm < math.inf, "a finite CPM ≥ 0 ($ per M tokens)")
    _check("r", r, 1 <= r < math.inf, "a finite R ≥ 1")
    _check("alpha", alpha, 0 < alpha <= 1, "α in (0, 1]")
    _check("m", m, m >= 0, "m ≥ 0")
    _check("rho", rho, rho >= 0, "ρ̄ ≥ 0")
    return cpm * r * (1 + m * rho) / alpha


def inference_bar(eta_rollouts: float, eta_training: float, rho: float, m) -> np.ndarray:
    """Spend ratio D_I/D_T below which rollouts win, rollouts read as inference spend at
    price m: (η^ρ·(1 + mρ̄)/(mρ̄) − 1)/η^T (m = 1, large ρ̄: the plain (η^ρ − 1)/η^T)."""
    m = np.asarray(m, dtype=float)
    return (eta_rollouts * (1 + m * rho) / (m * rho) - 1) / eta_training


def training_bar(eta_rollouts: float, eta_training: float, rollout_share: float, m) -> np.ndarray:
    """The same bar on D_I/D_T (D_T at dedicated prices) when rollouts are training spend:
    a ``rollout_share`` of D_T is rollouts, discounted to m, so D_T' = D_T(1 − (1−m)·share)
    and the bar (η^ρ − 1)/η^T on D_I/D_T' becomes that times (1 − (1−m)·share)."""
    m = np.asarray(m, dtype=float)
    return (eta_rollouts - 1) / eta_training * (1 - (1 - m) * rollout_share)
