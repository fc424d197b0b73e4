"""Performance and cost-per-token summary of one deployment (no queueing, no SLO yet).

For a workload's mean prompt and output lengths it reports prefill times, the decode step at a
ladder of batch sizes up to the KV-cache limit, the resulting decode throughput and the
deployment's $ per million output tokens at that batch (GPU price ÷ token rate).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from costcorrect.catalog import Catalog, load_catalog
from costcorrect.perf import Batch, Deployment, step_time
from costcorrect.perf.calibration import stack_validation

BATCH_LADDER = (1, 8, 32, 64, 128, 256, 512)


@dataclass(frozen=True)
class DecodePoint:
    batch: int
    step_s: float
    output_tokens_per_s: float
    usd_per_million_output_tokens: float


@dataclass(frozen=True)
class DeploymentSummary:
    """What one instance holds, how fast it runs and what its output tokens cost."""

    model: str
    gpu: str
    tp: int
    pp: int
    stack: str
    validation: str  # the stack and the held-out error it was validated with
    workload: str
    workload_origin: str  # where the workload comes from (its catalog description's start)
    mean_prompt_tokens: float
    mean_output_tokens: float
    weight_bytes_per_gpu: float
    kv_capacity_tokens: int
    max_batch: int
    price_usd_per_hour: float
    prefill_s: float
    decode: tuple[DecodePoint, ...]

    def to_dict(self) -> dict:
        return asdict(self)


def summarize_deployment(
    model: str = "llama-3.1-70b",
    gpu: str = "H100-SXM",
    tp: int = 8,
    pp: int = 1,
    workload: str = "sharegpt",
    stack: str | None = None,
    catalog: Catalog | None = None,
) -> DeploymentSummary:
    """Summarise ``model`` on ``tp·pp`` ``gpu`` GPUs for ``workload``'s mean lengths."""
    cat = catalog or load_catalog()
    dep = Deployment.from_names(model, gpu, tp, pp, stack=stack, catalog=cat)
    dep.check_fits()
    wl = cat.workloads.get(workload)
    prompt, output = wl.mean_input_tokens, wl.mean_output_tokens
    context = prompt + output / 2.0  # mean KV length over a request's decode steps
    max_batch = int(min(dep.kv_capacity_tokens // (prompt + output), 4096))
    ladder = np.array(sorted({b for b in BATCH_LADDER if b < max_batch} | {max(max_batch, 1)}))
    steps = step_time(dep, Batch.decode(ladder, context)).total_s
    price_per_hour = dep.hardware.price_usd_per_hour * dep.gpus
    rates = ladder / steps
    decode = tuple(
        DecodePoint(int(b), float(s), float(r), float(price_per_hour / 3600.0 / r * 1e6))
        for b, s, r in zip(ladder, steps, rates, strict=True)
    )
    return DeploymentSummary(
        model=dep.model.name,
        gpu=dep.hardware.name,
        tp=tp,
        pp=pp,
        stack=dep.stack,
        validation=stack_validation(cat, dep.hardware, dep.stack),
        workload=wl.name,
        workload_origin=wl.origin,
        mean_prompt_tokens=prompt,
        mean_output_tokens=output,
        weight_bytes_per_gpu=dep.weight_bytes_per_gpu,
        kv_capacity_tokens=dep.kv_capacity_tokens,
        max_batch=max_batch,
        price_usd_per_hour=price_per_hour,
        prefill_s=float(step_time(dep, Batch.prefill(prompt)).total_s),
        decode=decode,
    )
