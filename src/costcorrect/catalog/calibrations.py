"""Fitted efficiency parameters of the performance model, per GPU type and serving stack."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from costcorrect.catalog.base import CatalogEntry, Seconds
from costcorrect.catalog.validation import HeldOutError


class PerfParams(BaseModel):
    """Efficiencies (fractions of datasheet peaks) and fixed costs (seconds) of the roofline.

    ``t_op = max(FLOP / (peak · flops_eff), bytes / (hbm · hbm_eff)) + kernel_launch_s`` per op;
    GEMMs in FP8 (FP4) tensor-core formats reach ``gemm_fp8_eff_ratio`` (``gemm_fp4_eff_ratio``)
    × ``gemm_flops_eff`` of their format's datasheet peak (1: the datasheet's speed-up holds)
    and add ``gemm_quant_s`` (``gemm_fp4_quant_s``) per call that quantises its own input
    (the attention output
    projection's; ``perf.roofline.SEPARATE_QUANT_OPS``) plus that pass's traffic,
    ``gemm_fp8_quant_bytes`` (``gemm_fp4_quant_bytes``) per input element at the elementwise
    kernels' bandwidth (FP8: 3 to read 16-bit and write 8-bit, more with a separate pass for
    the per-tensor scale; NVFP4 about 2.6 with its block scales); an FP8 (FP4) GEMM kernel
    that streams each output column's weights from one block (no split reduction: vLLM's and
    SGLang's for few rows) adds ``gemm_fp8_column_s`` (``gemm_fp4_column_s``) seconds per
    byte of a column, ``1 / rate = 1 / (hbm · gemm_hbm_eff) + column_s / columns``, and
    one that computes rows in tiles of ``gemm_fp8_row_tile`` (``gemm_fp4_row_tile``) pads a
    GEMM's rows to the next power of two up to the tile, then to a multiple of it (0: none),
    and one whose main loop over the reduction runs serially, latency-bound, adds
    ``gemm_fp8_depth_s`` (``gemm_fp4_depth_s``) seconds per element of a call's reduction
    depth (its input features on one GPU); each output element (row × column) adds
    ``gemm_fp8_epilogue_s`` (``gemm_fp4_epilogue_s``) seconds, an epilogue not overlapped
    with the main loop
    (attention kernels add ``attn_fixed_s`` per call and ``attn_per_sequence_s`` per sequence,
    a prefill kernel also ``attn_prefill_per_sequence_s`` per sequence and query head and
    ``attn_prefill_per_token_s`` per new token and query head, and ``attn_prefill_tail_s``
    per KV token of a prefill sequence's span (context + chunk, mean over the batch's
    sequences, whatever the heads: the kernel's last wave waits on its longest tile, the one
    that attends to the whole span);
    a decode attention kernel that packs each KV head's query heads into one tensor-core tile
    of ``attn_decode_tile_rows`` rows does tile ÷ group times the useful FLOP — 0 counts the
    useful FLOP only; a decode kernel serving at most ``attn_decode_max_group`` query heads
    per KV head from one read of the cache — TensorRT-LLM's XQA — falls back for a larger
    group to one that reads the KV cache per query head, of which reads beyond the first the
    ``attn_decode_fallback_rereads`` share reach HBM; 0: no limit; a decode kernel loses up
    to ``attn_decode_ramp_s`` reaching its streaming bandwidth, in proportion over the first
    ``attn_decode_ramp_bytes`` of KV cache it reads; 0: none);
    an iteration adds ``iteration_overhead_s + per_sequence_overhead_s · sequences``. A TP
    all-reduce of ``m`` bytes over ``t`` GPUs: ``ring`` (NCCL's ring, the papers' stacks) takes
    ``2(t−1)/t · m / (link · link_eff) + 2(t−1) · collective_latency_s``; ``custom`` (today's
    engines) takes the cheaper of a bandwidth algorithm, ``f · m / (link · link_eff) +
    collective_latency_s`` with ``f = 1`` where the switch reduces in-network (NVLink SHARP)
    and ``2(t−1)/t`` elsewhere, and a one-shot kernel that reads every peer's buffer,
    ``(t−1) · (m / (link · oneshot_link_eff) + oneshot_peer_latency_s) + oneshot_latency_s``
    (a signal to each peer) — engines switch algorithm by
    message size the same way.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    gemm_flops_eff: float = Field(0.7, gt=0, le=1)
    gemm_fp8_eff_ratio: float = Field(1.0, gt=0, le=2)
    gemm_fp4_eff_ratio: float = Field(1.0, gt=0, le=2)
    gemm_quant_s: Seconds = Field(0.0, ge=0)
    gemm_fp4_quant_s: Seconds = Field(0.0, ge=0)
    gemm_fp8_quant_bytes: float = Field(0.0, ge=0)
    gemm_fp4_quant_bytes: float = Field(0.0, ge=0)
    gemm_fp8_column_s: float = Field(0.0, ge=0)
    gemm_fp4_column_s: float = Field(0.0, ge=0)
    gemm_fp8_row_tile: int = Field(0, ge=0)
    gemm_fp4_row_tile: int = Field(0, ge=0)
    gemm_fp8_depth_s: Seconds = Field(0.0, ge=0)
    gemm_fp4_depth_s: Seconds = Field(0.0, ge=0)
    gemm_fp8_epilogue_s: Seconds = Field(0.0, ge=0)
    gemm_fp4_epilogue_s: Seconds = Field(0.0, ge=0)
    gemm_hbm_eff: float = Field(0.85, gt=0, le=1)
    attn_flops_eff: float = Field(0.5, gt=0, le=1)
    attn_hbm_eff: float = Field(0.7, gt=0, le=1)
    attn_score_bytes: float = Field(0.0, ge=0)
    attn_flat_pair_bytes: float = Field(0.0, ge=0)
    attn_fixed_s: Seconds = Field(0.0, ge=0)
    attn_per_sequence_s: Seconds = Field(0.0, ge=0)
    attn_prefill_per_sequence_s: Seconds = Field(0.0, ge=0)
    attn_prefill_per_token_s: Seconds = Field(0.0, ge=0)
    attn_prefill_tail_s: Seconds = Field(0.0, ge=0)
    attn_decode_tile_rows: float = Field(0.0, ge=0)
    attn_decode_max_group: int = Field(0, ge=0)
    attn_decode_fallback_rereads: float = Field(1.0, ge=0, le=1)
    attn_decode_ramp_s: Seconds = Field(0.0, ge=0)
    attn_decode_ramp_bytes: float = Field(0.0, ge=0)
    elementwise_hbm_eff: float = Field(0.7, gt=0, le=1)
    kernel_launch_s: Seconds = Field(4e-6, ge=0)
    iteration_overhead_s: Seconds = Field(2e-3, ge=0)
    per_sequence_overhead_s: Seconds = Field(2e-5, ge=0)
    link_eff: float = Field(0.6, gt=0, le=1)
    collective_latency_s: Seconds = Field(1e-5, ge=0)
    oneshot_link_eff: float = Field(0.6, gt=0, le=1)
    oneshot_latency_s: Seconds = Field(5e-6, ge=0)
    oneshot_peer_latency_s: Seconds = Field(0.0, ge=0)
    allreduce: Literal["ring", "custom"] = "ring"


#: data share of a parameter's posterior precision from which the data pin it (perf.fit)
IDENTIFIED_SHARE = 0.75


class Estimate(BaseModel):
    """A fitted parameter's 95 % interval (its own units) and data share: the part of its
    posterior precision that comes from the data rather than the fit's prior (0 to 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    low: float
    high: float
    data_share: float = Field(ge=0, le=1)

    @property
    def identified(self) -> bool:
        """Whether the data, not the prior, pin this parameter."""
        return self.data_share >= IDENTIFIED_SHARE


class CalibrationSpec(CatalogEntry):
    """Parameters fitted by ``costcorrect perf fit`` on one GPU type and software stack, with
    the fitted ones' estimates (none for a hand-written entry) and the held-out error the stack
    was validated with (none where it was not)."""

    hardware: str
    stack: str
    params: PerfParams
    fitted_on: str
    estimates: dict[str, Estimate] = Field(default_factory=dict)
    held_out: HeldOutError | None = None

    @model_validator(mode="after")
    def _estimates_name_parameters(self) -> CalibrationSpec:
        unknown = set(self.estimates) - set(PerfParams.model_fields)
        if unknown:
            raise ValueError(f"estimates of unknown parameters: {', '.join(sorted(unknown))}")
        return self
