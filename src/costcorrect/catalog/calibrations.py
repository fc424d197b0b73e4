"""Fitted efficiency parameters of the performance model, per GPU type and serving stack."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from costcorrect.catalog.base import CatalogEntry, Seconds


class PerfParams(BaseModel):
    """Efficiencies (fractions of datasheet peaks) and fixed costs (seconds) of the roofline.

    ``t_op = max(FLOP / (peak · flops_eff), bytes / (hbm · hbm_eff)) + kernel_launch_s`` per op;
    an iteration adds ``iteration_overhead_s + per_sequence_overhead_s · sequences``; a TP
    all-reduce of ``m`` bytes over ``t`` GPUs takes ``2(t−1)/t · m / (link · link_eff) +
    collective_latency_s``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    gemm_flops_eff: float = Field(0.7, gt=0, le=1)
    gemm_hbm_eff: float = Field(0.85, gt=0, le=1)
    attn_flops_eff: float = Field(0.5, gt=0, le=1)
    attn_hbm_eff: float = Field(0.7, gt=0, le=1)
    attn_score_bytes: float = Field(0.0, ge=0)
    attn_flat_pair_bytes: float = Field(0.0, ge=0)
    elementwise_hbm_eff: float = Field(0.7, gt=0, le=1)
    kernel_launch_s: Seconds = Field(4e-6, ge=0)
    iteration_overhead_s: Seconds = Field(2e-3, ge=0)
    per_sequence_overhead_s: Seconds = Field(2e-5, ge=0)
    link_eff: float = Field(0.6, gt=0, le=1)
    collective_latency_s: Seconds = Field(1e-5, ge=0)


class CalibrationSpec(CatalogEntry):
    """Parameters fitted by ``costcorrect perf fit`` on one GPU type and software stack."""

    hardware: str
    stack: str
    params: PerfParams
    fitted_on: str
