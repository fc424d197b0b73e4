"""Time, power and energy of one iteration at an SM clock, from the perf model's op rows:
each op takes max(compute/x, memory·s(x)) + fixed seconds, so memory-bound decode barely slows
when the clock drops (s(x) = 1 down to the power model's ``memory_floor``, then floor/x) while
compute-bound prefill slows as 1/x. The fixed seconds (launches, sampling, synchronisation)
draw the model's ``overhead_w``. An engine that is not back to back runs its kernels a
``duty`` share of the wall time; the gap between iterations (scheduler, CPU) counts as fixed
seconds, so the board draws idle plus the clock's share of ``overhead_w`` there.

A board power cap binds only when the modelled power at the default clock exceeds it; the
GPU then lowers its clock until the power fits (:func:`capped_clock`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from costcorrect.energy.power import PowerModel
from costcorrect.errors import InputError
from costcorrect.perf import Batch, Deployment
from costcorrect.perf.roofline import _rows, additive_seconds


@dataclass(frozen=True)
class IterationEnergy:
    """One iteration (arrays broadcast over clocks × batch shape): seconds, W per GPU, J for
    the whole deployment, tokens it produces, J/token and tokens/s."""

    clock: np.ndarray
    time_s: np.ndarray
    power_w: np.ndarray
    energy_j: np.ndarray
    tokens: np.ndarray
    busy: np.ndarray
    compute: np.ndarray
    memory: np.ndarray
    overhead: np.ndarray

    @property
    def j_per_token(self) -> np.ndarray:
        return self.energy_j / self.tokens

    @property
    def tokens_per_s(self) -> np.ndarray:
        return self.tokens / self.time_s

    def to_dict(self) -> dict:
        out = {k: np.asarray(v).tolist() for k, v in asdict(self).items()}
        out["j_per_token"] = np.asarray(self.j_per_token).tolist()
        out["tokens_per_s"] = np.asarray(self.tokens_per_s).tolist()
        return out


def _op_seconds(dep: Deployment, batch: Batch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(compute s, memory s, fixed s) per op row at the default clock, shape (..., rows)."""
    table = dep.op_table
    q = table.quantities(batch)
    _, row_flop, row_bytes = _rows(
        q, table.flop, table.nbytes, table.flop_rate, table.byte_rate, table.additive
    )
    return (
        row_flop / table.flop_rate,
        row_bytes / table.byte_rate,
        additive_seconds(q, table.additive),
    )


def iteration_energy(
    dep: Deployment, batch: Batch, power: PowerModel, clock=1.0, tokens=None, duty: float = 1.0
) -> IterationEnergy:
    """The iteration of ``batch`` at clock ratio(s) ``clock`` (x = f/f_max; a leading axis
    when an array). ``tokens``: the tokens it produces (default: the batch's decode
    sequences, or its prefill tokens when it has none). ``duty``: the share of wall time the
    iteration's work occupies at the full clock (1: back to back); the rest is a gap of
    fixed length between iterations."""
    if not 0 < duty <= 1:
        raise InputError("duty", duty, "a share of wall time in (0, 1]")
    x = power.check_clock(clock)
    compute, memory, fixed = _op_seconds(dep, batch)
    xs = x.reshape(x.shape + (1,) * compute.ndim)
    stretched = memory * power.memory_stretch(xs)
    kernel = np.maximum(compute / xs, stretched)
    full_clock = np.maximum(compute, memory).sum(-1) + fixed.sum(-1)
    gap = full_clock * (1 / duty - 1)
    time = kernel.sum(-1) + fixed.sum(-1) + gap
    busy = kernel.sum(-1) / time
    comp = (compute / xs).sum(-1) / time
    mem = memory.sum(-1) / time  # HBM traffic per second: the stretch lowers it
    overhead = (fixed.sum(-1) + gap) / time
    watts = power.power(x.reshape(x.shape + (1,) * (time.ndim - x.ndim)), busy, comp, mem, overhead)
    if tokens is None:
        decode = np.asarray(batch.decode_seqs, dtype=float)
        tokens = np.where(decode > 0, decode, batch.tokens)
    return IterationEnergy(
        x,
        time,
        watts,
        watts * time * dep.gpus,
        np.asarray(tokens, float),
        busy,
        comp,
        mem,
        overhead,
    )


def capped_clock(
    dep: Deployment, batch: Batch, power: PowerModel, cap_w: float, duty: float = 1.0
) -> float:
    """The clock ratio a board power cap of ``cap_w`` W per GPU leaves for a (scalar) batch
    run at ``duty``: 1 when the default clock's power fits, else the highest clock whose power
    fits (the floor if none does)."""
    grid = np.linspace(1.0, power.clock_min, 400)
    watts = np.ravel(iteration_energy(dep, batch, power, grid, duty=duty).power_w)
    fits = np.flatnonzero(watts <= cap_w)
    return float(grid[fits[0]]) if fits.size else float(power.clock_min)
