"""Power cap vs SM clock locking, for prefill and for decode across batch sizes: power, time
per token, J/token, energy $ per million tokens, the energy-optimal locked clock per batch
size (overall and within a throughput-loss budget), and each lever's Pareto set of
(tokens/s, J/token).

A board power cap binds only where the default clock's power exceeds it; the clock then drops
until the power fits (:func:`costcorrect.energy.iteration.capped_clock`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from costcorrect.energy.iteration import capped_clock, iteration_energy
from costcorrect.energy.power import PowerModel
from costcorrect.errors import InputError
from costcorrect.perf import Batch, Deployment
from costcorrect.serving.cost import JOULES_PER_KWH, PER_MILLION


def energy_usd_per_million(j_per_token, usd_per_kwh: float, pue: float):
    """Energy $ per million tokens at ``usd_per_kwh`` and facility ``pue``."""
    if not 0 <= usd_per_kwh < math.inf:
        raise InputError("usd_per_kwh", usd_per_kwh, "a finite energy price ≥ 0 in $/kWh")
    if not 1 <= pue < math.inf:
        raise InputError("pue", pue, "a finite power usage effectiveness ≥ 1")
    return np.asarray(j_per_token) * PER_MILLION / JOULES_PER_KWH * usd_per_kwh * pue


@dataclass(frozen=True)
class LeverPoint:
    """One setting of a lever at one batch size."""

    lever: Literal["default", "clock", "cap"]
    setting: float  # clock ratio, or cap in W per GPU
    batch: float
    clock: float
    power_w: float
    seconds_per_token: float
    tokens_per_s: float
    j_per_token: float
    energy_usd_per_million: float


@dataclass(frozen=True)
class Optimum:
    """The energy-optimal locked clock at one batch size: overall, and within the loss
    budget; savings and throughput losses relative to the default clock."""

    batch: float
    clock: float
    saving: float
    throughput_loss: float
    budget_clock: float
    budget_saving: float
    budget_throughput_loss: float


@dataclass(frozen=True)
class LeverStudy:
    phase: Literal["decode", "prefill"]
    gpu: str
    model: str
    context: float
    points: list[LeverPoint] = field(default_factory=list)
    optima: list[Optimum] = field(default_factory=list)
    max_loss: float = 0.05

    def pareto(self, lever: str) -> list[LeverPoint]:
        """Points of ``lever`` (with the default) not beaten on both tokens/s and J/token,
        per batch size."""
        keep = []
        for batch in sorted({p.batch for p in self.points}):
            pts = [p for p in self.points if p.batch == batch and p.lever in (lever, "default")]
            for p in pts:
                dominated = any(
                    q.tokens_per_s >= p.tokens_per_s
                    and q.j_per_token <= p.j_per_token
                    and (q.tokens_per_s > p.tokens_per_s or q.j_per_token < p.j_per_token)
                    for q in pts
                )
                if not dominated:
                    keep.append(p)
        return keep


def lever_study(
    dep: Deployment,
    phase: Literal["decode", "prefill"],
    batches,
    context: float,
    power: PowerModel | None = None,
    clocks: int = 41,
    caps_w=None,
    usd_per_kwh: float = 0.10,
    pue: float = 1.2,
    max_loss: float = 0.05,
    duty: float = 1.0,
) -> LeverStudy:
    """Sweep SM clock locks (``clocks`` ratios from 1 to the lowest lockable) and power caps
    (``caps_w``, default 30–100 % of TDP) for ``phase`` at each batch size. Decode: ``batch``
    sequences at ``context`` KV tokens; prefill: ``batch`` prompts of ``context`` tokens.
    ``duty``: the share of wall time the engine runs kernels (1: back to back; the gaps draw
    idle plus the clock's overhead power, :func:`energy.iteration.iteration_energy`)."""
    if phase not in ("decode", "prefill"):
        raise InputError("phase", phase, "decode or prefill")
    if not 0 <= max_loss < 1:
        raise InputError("max_loss", max_loss, "a throughput-loss budget in [0, 1)")
    power = power or PowerModel.for_hardware(dep.hardware)
    grid = np.linspace(1.0, power.clock_min, clocks)
    caps = np.asarray(caps_w if caps_w is not None else np.linspace(0.3, 1.0, 15) * power.tdp_w)
    study = LeverStudy(phase, dep.hardware.name, dep.model.name, context, max_loss=max_loss)

    def batch_of(b):
        return Batch.decode(b, context) if phase == "decode" else Batch.prefill(context, b)

    def point(lever, setting, b, it, i=None) -> LeverPoint:
        def pick(values) -> float:
            values = np.ravel(values)
            return float(values[0 if i is None or values.size == 1 else i])

        j = pick(it.j_per_token)
        return LeverPoint(
            lever,
            float(setting),
            float(b),
            pick(it.clock),
            pick(it.power_w),
            pick(it.time_s) / pick(it.tokens),
            pick(it.tokens_per_s),
            j,
            float(energy_usd_per_million(j, usd_per_kwh, pue)),
        )

    for b in np.atleast_1d(batches):
        batch = batch_of(b)
        x0 = capped_clock(dep, batch, power, power.tdp_w, duty)
        base = point("default", power.tdp_w, b, iteration_energy(dep, batch, power, x0, duty=duty))
        study.points.append(base)
        sweep = iteration_energy(dep, batch, power, np.minimum(grid, base.clock), duty=duty)
        study.points.extend(point("clock", grid[i], b, sweep, i) for i in range(len(grid)))
        for cap in caps:
            x = capped_clock(dep, batch, power, float(cap), duty)
            capped = iteration_energy(dep, batch, power, x, duty=duty)
            study.points.append(point("cap", cap, b, capped))
        j, tput = np.ravel(sweep.j_per_token), np.ravel(sweep.tokens_per_s)
        loss = 1 - tput / base.tokens_per_s
        best = int(np.argmin(j))
        within = np.flatnonzero(loss <= max_loss + 1e-12)
        pick = int(within[np.argmin(j[within])])
        study.optima.append(
            Optimum(
                float(b),
                float(grid[best]),
                1 - j[best] / base.j_per_token,
                float(loss[best]),
                float(grid[pick]),
                1 - j[pick] / base.j_per_token,
                float(loss[pick]),
            )
        )
    return study
