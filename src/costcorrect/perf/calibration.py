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
