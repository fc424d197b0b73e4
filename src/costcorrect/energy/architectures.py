"""Attention architectures and energy per request: one base model (default Llama-3.1-8B) with
its attention swapped for MLA (DeepSeek-V3's latent ranks) or a fixed-state linear/SSM mixer
(Mamba-2 / Gated-DeltaNet style, state 128), everything else equal. Per request: prefill
energy of the prompt plus decode energy of each output token at the batch size (KV context
grows; taken at its mean), and the output length beyond which a variant's cheaper decode
repays its heavier prefill.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from costcorrect.catalog.models import MLAConfig, ModelSpec, SSMConfig
from costcorrect.energy.iteration import iteration_energy
from costcorrect.energy.power import PowerModel
from costcorrect.perf import Batch, Deployment

MLA = MLAConfig(
    q_lora_rank=1536,
    kv_lora_rank=512,
    qk_nope_head_dim=128,
    qk_rope_head_dim=64,
    v_head_dim=128,
)
SSM = SSMConfig(state_size=128, expand=2, head_dim=64)
CROSSOVER_MAX_TOKENS = 131072


def variants(base: ModelSpec) -> dict[str, ModelSpec]:
    """The base model (its own attention, e.g. GQA) and its MLA and SSM twins."""
    return {
        "GQA": base,
        "MLA": base.model_copy(
            update={
                "name": f"{base.name}-mla",
                "mla": MLA,
                "num_key_value_heads": base.num_attention_heads,
            }
        ),
        "SSM": base.model_copy(update={"name": f"{base.name}-ssm", "ssm": SSM}),
    }


@dataclass(frozen=True)
class RequestEnergy:
    """J per request of each variant over output lengths × batch sizes: prefill, decode and
    total arrays shaped (outputs, batches), and per batch the output length (tokens) from which
    on the variant's request costs no more than the base's (inf: not within the search)."""

    prompt: int
    outputs: np.ndarray
    batches: np.ndarray
    prefill_j: dict[str, float]
    decode_j: dict[str, np.ndarray]
    crossover: dict[str, np.ndarray]

    def total_j(self, name: str) -> np.ndarray:
        return self.prefill_j[name] + self.decode_j[name]


def _per_request(dep, power, prompt, outputs, batches) -> tuple[float, np.ndarray]:
    """(prefill J, decode J per request over outputs × batches)."""
    prefill = float(iteration_energy(dep, Batch.prefill(prompt), power).energy_j)
    context = prompt + outputs[:, None] / 2
    per_token = iteration_energy(dep, Batch.decode(batches[None, :], context), power).j_per_token
    return prefill, np.asarray(per_token) * outputs[:, None]


def request_energy(
    base: ModelSpec,
    hardware,
    prompt: int = 2048,
    outputs=(64, 256, 1024, 4096, 16384),
    batches=(1, 8, 32, 128),
    tp: int = 1,
) -> RequestEnergy:
    """Per-request energy of the variants of ``base`` on ``hardware`` (``tp`` GPUs); the
    crossover is searched on a fine grid of output lengths up to 131,072 tokens."""
    power = PowerModel.for_hardware(hardware)
    outs, bs = np.asarray(outputs, float), np.asarray(batches, float)
    fine = np.unique(np.geomspace(1, CROSSOVER_MAX_TOKENS, 400).round())
    prefill, decode, totals = {}, {}, {}
    for name, model in variants(base).items():
        dep = Deployment(model, hardware, tp)
        prefill[name], decode[name] = _per_request(dep, power, prompt, outs, bs)
        fine_prefill, fine_decode = _per_request(dep, power, prompt, fine, bs)
        totals[name] = fine_prefill + fine_decode
    crossover = {}
    for name in ("MLA", "SSM"):
        dearer = totals[name] > totals["GQA"]  # (fine outputs, batches)
        last = len(fine) - 1 - dearer[::-1].argmax(axis=0)  # last length where it costs more
        start = np.where(dearer.any(axis=0), np.minimum(last + 1, len(fine) - 1), 0)
        crossover[name] = np.where(dearer[-1], np.inf, fine[start])
    return RequestEnergy(prompt, outs, bs, prefill, decode, crossover)
