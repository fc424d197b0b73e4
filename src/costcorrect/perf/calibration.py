"""Pick the efficiency parameters for a GPU: a fitted calibration, else datasheet derating."""

from __future__ import annotations

from costcorrect.catalog.calibrations import CalibrationSpec, PerfParams
from costcorrect.catalog.hardware import Hardware
from costcorrect.catalog.loader import Catalog
from costcorrect.catalog.validation import HeldOutError
from costcorrect.errors import InputError


def calibrations_of(catalog: Catalog, hardware: Hardware) -> list[CalibrationSpec]:
    """The calibrations fitted on ``hardware``, its default (first) one first."""
    return [c for c in catalog.calibrations if hardware.matches(c.hardware)]


def select_calibration(
    catalog: Catalog, hardware: Hardware, stack: str | None = None
) -> CalibrationSpec | None:
    """The calibration fitted on ``hardware`` for ``stack`` (default: the GPU's first one), or
    None when the GPU has none. An unknown ``stack`` for a calibrated GPU is an error."""
    fitted = calibrations_of(catalog, hardware)
    if stack is None:
        return fitted[0] if fitted else None
    chosen = [c for c in fitted if c.stack.casefold() == stack.casefold()]
    if not chosen:
        stacks = sorted({c.stack for c in fitted}) or ["none fitted for this GPU"]
        raise InputError("stack", stack, f"one of {', '.join(stacks)}")
    return chosen[0]


#: the stack name of a deployment on a GPU without any fitted calibration
UNCALIBRATED = "uncalibrated"


def calibrated_params(
    catalog: Catalog, hardware: Hardware, stack: str | None = None
) -> tuple[str, PerfParams]:
    """The stack name and params of :func:`select_calibration`, else ``uncalibrated`` with
    defaults derated by the hardware's achievable fractions."""
    chosen = select_calibration(catalog, hardware, stack)
    if chosen is not None:
        return chosen.stack, chosen.params
    return UNCALIBRATED, PerfParams(
        gemm_flops_eff=hardware.achievable_flops_fraction.value,
        gemm_hbm_eff=hardware.achievable_hbm_fraction.value,
    )


def stack_error(catalog: Catalog, hardware: Hardware, stack: str) -> HeldOutError | None:
    """The held-out error the calibration ``stack`` of ``hardware`` was validated with (None
    for an uncalibrated, user-fitted or unvalidated stack)."""
    for c in calibrations_of(catalog, hardware):
        if c.stack.casefold() == stack.casefold():
            return c.held_out
    return None


def stack_validation(catalog: Catalog, hardware: Hardware, stack: str) -> str:
    """``GPU/stack`` and the held-out error it was validated with, as one clause."""
    error = stack_error(catalog, hardware, stack)
    name = f"{hardware.name}/{stack}"
    if error is None:
        return f"{name} (not validated)"
    return (
        f"{name}, validated on {error.what}: median error {error.median:.0%} "
        f"(worst {error.worst:.0%}), {error.doc}"
    )


#: achieved fractions of a datasheet peak, and fixed costs in seconds, by their names' suffixes
_EFFICIENCIES = tuple(name for name in PerfParams.model_fields if name.endswith("_eff"))
_FIXED_COSTS = tuple(name for name in PerfParams.model_fields if name.endswith("_s"))


def scaled_efficiency(params: PerfParams, factor: float) -> PerfParams:
    """``params`` with every achieved efficiency × ``factor`` (capped at 1, the datasheet
    peak) and every fixed cost ÷ ``factor``: the whole stack ``factor`` times as efficient."""
    if not factor > 0:
        raise InputError("efficiency_factor", factor, "a positive factor")
    changes = {name: min(getattr(params, name) * factor, 1.0) for name in _EFFICIENCIES}
    changes |= {name: getattr(params, name) / factor for name in _FIXED_COSTS}
    return params.model_copy(update=changes)


#: efficiencies of the tensor-core rates, which scale with the SM clock
_COMPUTE_EFFICIENCIES = ("gemm_flops_eff", "attn_flops_eff")


def at_clock(params: PerfParams, clock: float) -> PerfParams:
    """``params`` on a GPU running at ``clock`` × its maximum SM clock: compute rates scale
    with the clock, memory rates and fixed costs do not (as in :mod:`costcorrect.energy`)."""
    if not 0 < clock <= 1:
        raise InputError("clock_ratio", clock, "an SM clock ratio in (0, 1] of the maximum")
    if clock == 1:
        return params
    return params.model_copy(
        update={name: getattr(params, name) * clock for name in _COMPUTE_EFFICIENCIES}
    )
