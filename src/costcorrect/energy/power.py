"""Board power of one GPU during an iteration, and how clocks change it.

    P = idle + memory·u_mem + x·v(x)²·(clock·u_busy + compute·u_compute + overhead·u_fixed)

x = f/f_max (the SM clock); v(x) = V/V_max, flat at ``voltage_min`` below ``voltage_knee`` and
rising linearly to 1 at x = 1; u_busy: share of the iteration with kernels running;
u_compute: share with tensor cores busy; u_mem: share with HBM streaming; u_fixed: share in
the perf model's fixed per-op seconds (launches, sampling, synchronisation) and any idle gap
between iterations. Compute time scales as 1/x; memory time does not until the clock falls
below ``memory_floor``, where the SMs can no longer issue loads fast enough to keep HBM busy
and memory time grows as memory_floor/x (:mod:`costcorrect.energy.iteration`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from costcorrect.catalog.hardware import Hardware
from costcorrect.catalog.power import power_spec
from costcorrect.errors import InputError

TBPS = 1e12


@dataclass(frozen=True)
class PowerModel:
    """Per-GPU power parameters in W (see the module docstring) and the clock range."""

    gpu: str
    idle_w: float
    memory_w: float  # at full HBM bandwidth
    clock_w: float
    compute_w: float
    overhead_w: float
    tdp_w: float
    clock_min: float  # x at the lowest lockable SM clock
    voltage_knee: float
    voltage_min: float
    memory_floor: float = 0.0  # x below which memory-bound time grows as memory_floor/x

    @classmethod
    def for_hardware(cls, hardware: Hardware, prior: bool = False) -> PowerModel:
        """The catalog's (fitted) parameters, or with ``prior`` the values a fit starts from."""
        spec = power_spec(hardware.name)
        bandwidth_tbps = hardware.hbm_bytes_per_s.value / TBPS

        def pick(v) -> float:
            return v.prior if prior and v.prior is not None else v.value

        return cls(
            hardware.name,
            hardware.idle_power_w.value,
            pick(spec.memory_w_per_tbps) * bandwidth_tbps,
            pick(spec.clock_w),
            pick(spec.compute_w),
            pick(spec.overhead_w),
            hardware.tdp_w.value,
            hardware.sm_clock_min_hz.value / hardware.sm_clock_max_hz.value,
            spec.voltage_knee.value,
            spec.voltage_min.value,
            spec.memory_clock_floor.value,
        )

    def check_clock(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        if not ((x >= self.clock_min - 1e-9) & (x <= 1 + 1e-9)).all():
            bad = x[~((x >= self.clock_min - 1e-9) & (x <= 1 + 1e-9))].flat[0]
            raise InputError(
                "clock", float(bad), f"a clock ratio in [{self.clock_min:.3f}, 1] of f_max"
            )
        return x

    def memory_stretch(self, x) -> np.ndarray:
        """How many times longer memory-bound work takes at clock ratio ``x`` (1 at or above
        the floor)."""
        return np.maximum(1.0, self.memory_floor / np.asarray(x, dtype=float))

    def voltage(self, x) -> np.ndarray:
        """V(x)/V_max."""
        x = np.asarray(x, dtype=float)
        rise = (x - self.voltage_knee) / (1 - self.voltage_knee)
        return self.voltage_min + (1 - self.voltage_min) * np.clip(rise, 0.0, 1.0)

    def power(self, x, busy, compute, memory, overhead=0.0) -> np.ndarray:
        """W per GPU at clock ratio ``x`` with the given activity shares (vectorised)."""
        x = np.asarray(x, dtype=float)
        active = self.clock_w * busy + self.compute_w * compute + self.overhead_w * overhead
        dynamic = x * self.voltage(x) ** 2 * active
        return self.idle_w + self.memory_w * memory + dynamic
