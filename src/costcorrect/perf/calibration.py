"""Pick the efficiency parameters for a GPU: a fitted calibration, else datasheet derating."""

from __future__ import annotations

from costcorrect.catalog.calibrations import CalibrationSpec, PerfParams
from costcorrect.catalog.hardware import Hardware
from costcorrect.catalog.loader import Catalog
from costcorrect.errors import InputError


def select_calibration(
    catalog: Catalog, hardware: Hardware, stack: str | None = None
) -> CalibrationSpec | None:
    """The calibration fitted on ``hardware`` for ``stack`` (default: the GPU's first one), or
    None when the GPU has none. An unknown ``stack`` for a calibrated GPU is an error."""
    fitted = [c for c in catalog.calibrations if hardware.matches(c.hardware)]
    if stack is None:
        return fitted[0] if fitted else None
    chosen = [c for c in fitted if c.stack.casefold() == stack.casefold()]
    if not chosen:
        stacks = sorted({c.stack for c in fitted}) or ["none fitted for this GPU"]
        raise InputError("stack", stack, f"one of {', '.join(stacks)}")
    return chosen[0]


def calibrated_params(catalog: Catalog, hardware: Hardware, stack: str | None = None) -> PerfParams:
    """Params of :func:`select_calibration`, else defaults derated by the hardware's
    achievable fractions."""
    chosen = select_calibration(catalog, hardware, stack)
    if chosen is not None:
        return chosen.params
    return PerfParams(
        gemm_flops_eff=hardware.achievable_flops_fraction.value,
        gemm_hbm_eff=hardware.achievable_hbm_fraction.value,
    )


_EFFICIENCIES = (
    "gemm_flops_eff",
    "gemm_hbm_eff",
    "attn_flops_eff",
    "attn_hbm_eff",
    "elementwise_hbm_eff",
    "link_eff",
)
_FIXED_COSTS = (
    "kernel_launch_s",
    "iteration_overhead_s",
    "per_sequence_overhead_s",
    "collective_latency_s",
    "attn_fixed_s",
    "attn_per_sequence_s",
)


def scaled_efficiency(params: PerfParams, factor: float) -> PerfParams:
    """``params`` with every achieved efficiency × ``factor`` (capped at 1, the datasheet
    peak) and every fixed cost ÷ ``factor``: the whole stack ``factor`` times as efficient."""
    if not factor > 0:
        raise InputError("efficiency_factor", factor, "a positive factor")
    changes = {name: min(getattr(params, name) * factor, 1.0) for name in _EFFICIENCIES}
    changes |= {name: getattr(params, name) / factor for name in _FIXED_COSTS}
    return params.model_copy(update=changes)
