"""Measure J/token on an NVIDIA GPU: NVML's total-energy counter read around :data:`REPEATS`
windows of at least ``MIN_WINDOW_S`` each of prefill or decode iterations of a random-weight
decoder of a real architecture (a catalog model's shapes, bf16) in PyTorch, with a Student-t
interval over the windows. A window whose average power exceeds the board's enforced limit is
a counter artefact (the counter advances in steps; on an H200 limited to 700 W, 0.1 s windows
read 941 W): it is dropped and counted, never reported. Reads only; never changes clocks or
power limits. Without NVML, PyTorch or a device, :func:`measure_energy` says why and measures
nothing. (Optional dependencies: ``pip install 'costcorrect[gpu]'``.)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from costcorrect.perf.torch_model import decode_step, prefill_step, random_decoder
from costcorrect.serving.stats import Estimate, sample_mean_ci

MIN_WINDOW_S = 1.0  # long against the energy counter's update steps
REPEATS = 3  # windows per measurement, for the interval
OVER_LIMIT = 1.05  # a window averaging above this × the enforced power limit is dropped


@dataclass(frozen=True)
class Window:
    """One counter window: seconds, joules and iterations run."""

    seconds: float
    joules: float
    steps: int

    @property
    def watts(self) -> float:
        return self.joules / self.seconds


@dataclass(frozen=True)
class Measurement:
    """One phase × batch × context: the kept windows and how many were dropped as above the
    board limit."""

    phase: str
    batch: int
    context: int
    tokens_per_step: int
    windows: list[Window]
    dropped: int = 0

    @property
    def j_per_token(self) -> Estimate:
        """Mean J per token over the kept windows, with its interval (NaN if none was kept)."""
        return sample_mean_ci(
            np.array([w.joules / (w.steps * self.tokens_per_step) for w in self.windows])
        )

    @property
    def watts(self) -> float:
        seconds = sum(w.seconds for w in self.windows)
        return sum(w.joules for w in self.windows) / seconds if seconds else math.nan

    def to_dict(self) -> dict:
        def plain(x: float) -> float | None:
            return None if math.isnan(x) else x

        e = self.j_per_token
        return {
            "phase": self.phase,
            "batch": self.batch,
            "context": self.context,
            "windows": len(self.windows),
            "dropped_above_limit": self.dropped,
            "seconds": sum(w.seconds for w in self.windows),
            "watts": plain(self.watts),
            "j_per_token": plain(e.value),
            "j_per_token_low": plain(e.low),
            "j_per_token_high": plain(e.high),
        }


@dataclass(frozen=True)
class EnergyMeasurements:
    """What was measured, or ``reason`` why nothing was."""

    available: bool
    reason: str = ""
    device: str = ""
    model: str = ""
    layers: int = 0
    power_limit_w: float = 0.0
    measurements: list[Measurement] = field(default_factory=list)

    @property
    def dropped(self) -> int:
        """Windows dropped as above the board limit, over every measurement."""
        return sum(m.dropped for m in self.measurements)

    def to_dict(self) -> dict:
        return {
            "available": self.available,
            "reason": self.reason,
            "device": self.device,
            "model": self.model,
            "layers": self.layers,
            "power_limit_w": self.power_limit_w,
            "min_window_s": MIN_WINDOW_S,
            "measurements": [m.to_dict() for m in self.measurements],
        }


def _nvml():
    try:
        import pynvml
    except ImportError:
        return None, (
            "no NVIDIA device found: NVML is not available here "
            "(pip install 'costcorrect[gpu]' on a machine with an NVIDIA GPU)"
        )
    try:
        pynvml.nvmlInit()
        if pynvml.nvmlDeviceGetCount() == 0:
            return None, "no NVIDIA device found"
    except pynvml.NVMLError as err:
        return None, f"no NVIDIA device found (NVML: {err})"
    return pynvml, ""


def _window(pynvml, handle, sync: Callable[[], None], step, clock) -> Window:
    """Run ``step`` until ≥ :data:`MIN_WINDOW_S` has passed on ``clock`` (at least 3 steps)."""
    sync()
    start_mj = pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)
    start, steps = clock(), 0
    while True:
        step()
        steps += 1
        sync()
        elapsed = clock() - start
        if elapsed >= MIN_WINDOW_S and steps >= 3:
            break
    joules = (pynvml.nvmlDeviceGetTotalEnergyConsumption(handle) - start_mj) / 1e3
    return Window(elapsed, joules, steps)


def measure_windows(
    pynvml,
    handle,
    sync: Callable[[], None],
    step: Callable[[], None],
    limit_w: float,
    clock: Callable[[], float] = time.perf_counter,
    repeats: int = REPEATS,
) -> tuple[list[Window], int]:
    """``repeats`` windows of ``step`` (``sync`` waits for the device; ``clock`` in seconds):
    the windows kept and how many were dropped for averaging above ``OVER_LIMIT`` ×
    ``limit_w`` watts."""
    windows = [_window(pynvml, handle, sync, step, clock) for _ in range(repeats)]
    kept = [w for w in windows if w.watts <= OVER_LIMIT * limit_w]
    return kept, len(windows) - len(kept)


def measure_energy(
    spec,
    layers: int | None = None,
    prompts=(512, 2048),
    batches=(1, 8, 32, 64),
    context: int = 1024,
) -> EnergyMeasurements:
    """J/token of prefill (one prompt of each length) and decode (each batch at ``context``
    KV tokens) for a random-weight model with ``spec``'s shapes (``layers``: default all)."""
    pynvml, reason = _nvml()
    if pynvml is None:
        return EnergyMeasurements(False, reason)
    try:
        import torch
    except ImportError:
        return EnergyMeasurements(
            False, "PyTorch is not installed (pip install 'costcorrect[gpu]')"
        )
    if not torch.cuda.is_available():
        return EnergyMeasurements(False, "no NVIDIA device found: none is visible to PyTorch")
    handle = pynvml.nvmlDeviceGetHandleByIndex(torch.cuda.current_device())
    limit = pynvml.nvmlDeviceGetEnforcedPowerLimit(handle) / 1e3
    layers = layers or spec.num_layers
    blocks, kv = random_decoder(spec, layers)
    sync = torch.cuda.synchronize
    results = []
    with torch.inference_mode():
        for n in prompts:
            step = prefill_step(blocks, 1, n, "cuda")
            step()
            kept, dropped = measure_windows(pynvml, handle, sync, step, limit)
            results.append(Measurement("prefill", 1, n, n, kept, dropped))
        for b in batches:
            step = decode_step(blocks, kv, b, context, "cuda")
            step()
            kept, dropped = measure_windows(pynvml, handle, sync, step, limit)
            results.append(Measurement("decode", b, context, b, kept, dropped))
            del step
    name = pynvml.nvmlDeviceGetName(handle)
    return EnergyMeasurements(
        True,
        "",
        name if isinstance(name, str) else name.decode(),
        spec.name,
        layers,
        limit,
        results,
    )
