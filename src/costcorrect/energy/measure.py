"""Measure J/token on an NVIDIA GPU: NVML's total-energy counter read around windows of at
least ``MIN_WINDOW_S`` of prefill or decode iterations of a random-weight decoder of a real
architecture (a catalog model's shapes, bf16) in PyTorch. Reads only; never changes clocks or
power limits. Without NVML, PyTorch or a device, :func:`measure_energy` says why and
measures nothing. (Optional dependencies: ``pip install 'costcorrect[gpu]'``.)
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

from costcorrect.perf.torch_model import random_decoder

MIN_WINDOW_S = 0.1


@dataclass(frozen=True)
class Measurement:
    phase: str
    batch: int
    context: int
    tokens: int
    seconds: float
    joules: float

    @property
    def j_per_token(self) -> float:
        return self.joules / self.tokens


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

    def to_dict(self) -> dict:
        out = asdict(self)
        for entry, m in zip(out["measurements"], self.measurements, strict=True):
            entry["j_per_token"] = m.j_per_token
        return out


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


def _window(pynvml, handle, torch, step) -> tuple[float, float, int]:
    """Run ``step`` until ≥ MIN_WINDOW_S has passed; (seconds, joules, steps)."""
    torch.cuda.synchronize()
    start_mj = pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)
    start, steps = time.perf_counter(), 0
    while True:
        step()
        steps += 1
        torch.cuda.synchronize()
        elapsed = time.perf_counter() - start
        if elapsed >= MIN_WINDOW_S and steps >= 3:
            break
    joules = (pynvml.nvmlDeviceGetTotalEnergyConsumption(handle) - start_mj) / 1e3
    return elapsed, joules, steps


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
    layers = layers or spec.num_layers
    model, (kv_heads, head) = random_decoder(spec, layers)
    d = spec.hidden_size
    results = []
    with torch.inference_mode():
        for n in prompts:
            x = torch.randn(1, n, d, device="cuda", dtype=torch.bfloat16)

            def prefill(x=x):
                h = x
                for block in model:
                    h = block(h, None)

            prefill()
            seconds, joules, steps = _window(pynvml, handle, torch, prefill)
            results.append(Measurement("prefill", 1, n, n * steps, seconds, joules))
        for b in batches:
            x = torch.randn(b, 1, d, device="cuda", dtype=torch.bfloat16)
            cache = [
                torch.randn(2, b, kv_heads, context, head, device="cuda", dtype=torch.bfloat16)
                for _ in model
            ]

            def decode(x=x, cache=cache):
                h = x
                for block, kv in zip(model, cache, strict=True):
                    h = block(h, kv)

            decode()
            seconds, joules, steps = _window(pynvml, handle, torch, decode)
            results.append(Measurement("decode", b, context, b * steps, seconds, joules))
    name = pynvml.nvmlDeviceGetName(handle)
    limit = pynvml.nvmlDeviceGetEnforcedPowerLimit(handle) / 1e3
    return EnergyMeasurements(
        True,
        "",
        name if isinstance(name, str) else name.decode(),
        spec.name,
        layers,
        limit,
        results,
    )
