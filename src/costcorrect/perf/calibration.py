"""Pick the efficiency parameters for a GPU: a fitted calibration, else datasheet derating."""

from __future__ import annotations

from costcorrect.catalog.calibrations import PerfParams
from costcorrect.catalog.hardware import Hardware
from costcorrect.catalog.loader import Catalog
from costcorrect.errors import InputError


def calibrated_params(catalog: Catalog, hardware: Hardware, stack: str | None = None) -> PerfParams:
    """Params fitted on ``hardware`` (and ``stack`` if given), else defaults derated by the
    hardware's achievable fractions. An unknown ``stack`` for a calibrated GPU is an error."""
    fitted = [c for c in catalog.calibrations if hardware.matches(c.hardware)]
    if stack is not None:
        chosen = [c for c in fitted if c.stack.casefold() == stack.casefold()]
        if not chosen:
            stacks = sorted({c.stack for c in fitted}) or ["none fitted for this GPU"]
            raise InputError("stack", stack, f"one of {', '.join(stacks)}")
        return chosen[0].params
    if fitted:
        return fitted[0].params
    return PerfParams(
        gemm_flops_eff=hardware.achievable_flops_fraction.value,
        gemm_hbm_eff=hardware.achievable_hbm_fraction.value,
    )
