"""GPU microbenchmarks: time prefill and decode iterations of a random-weight model with a
catalog model's shapes (PyTorch, bf16) over batch × length grids, as rows of ``perf fit``'s
measurement table, and fit the perf model's parameters to them with a held-out check. Reads
only: clocks and power limits are left alone. Without PyTorch or a CUDA device,
:func:`gpu_microbenchmark` says why and measures nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pandas as pd

from costcorrect.perf.torch_model import decode_step, prefill_step, random_decoder

PREFILL_GRID = ((1, 128), (1, 512), (1, 2048), (4, 512), (8, 1024))  # (batch, prompt tokens)
DECODE_GRID = ((1, 512), (8, 512), (32, 1024), (64, 2048), (128, 1024))  # (batch, context)
REPEATS = 5


@dataclass(frozen=True)
class Microbenchmark:
    """Measured iteration times (``perf fit`` columns), or ``reason`` why there are none."""

    available: bool
    reason: str = ""
    device: str = ""
    rows: pd.DataFrame = field(default_factory=pd.DataFrame)


def _timer(torch, device: str):
    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    def measure(step) -> float:
        step()  # warm-up
        sync()
        times = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            step()
            sync()
            times.append(time.perf_counter() - start)
        return sorted(times)[len(times) // 2]

    return measure


def time_iterations(
    spec, gpu: str, device: str, layers: int | None = None, prefill=PREFILL_GRID, decode=DECODE_GRID
) -> pd.DataFrame:
    """Median-of-repeats seconds of each grid point on ``device`` (layers default: all)."""
    import torch

    blocks, kv = random_decoder(spec, layers or spec.num_layers, device)
    measure = _timer(torch, device)
    rows = []
    with torch.inference_mode():
        for batch, prompt in prefill:
            step = prefill_step(blocks, batch, prompt, device)
            rows.append(("prefill", batch, prompt, 0, measure(step)))
        for batch, context in decode:
            step = decode_step(blocks, kv, batch, context, device)
            rows.append(("decode", batch, 0, context, measure(step)))
            del step
    frame = pd.DataFrame(
        rows, columns=["phase", "batch_size", "prompt_tokens", "context_tokens", "time_s"]
    )
    return frame.assign(gpu=gpu, model=spec.name, tp=1, pp=1)


def gpu_microbenchmark(spec, gpu: str, layers: int | None = None) -> Microbenchmark:
    """Time the grids on the first CUDA device, or say why not."""
    try:
        import torch
    except ImportError:
        return Microbenchmark(
            False,
            "no NVIDIA device found: PyTorch is not installed (pip install 'costcorrect[gpu]')",
        )
    if not torch.cuda.is_available():
        return Microbenchmark(False, "no NVIDIA device found: none is visible to PyTorch")
    name = torch.cuda.get_device_name(0)
    return Microbenchmark(True, "", name, time_iterations(spec, gpu, "cuda", layers))
