"""Power-model parameters per GPU (``data/power.yaml``), each with a source and date. A GPU
without readings of its own shares the parameters of another on the same die (A100-80GB uses
A100-40GB's); memory power scales with each GPU's own HBM bandwidth."""

from __future__ import annotations

import datetime as dt
from functools import cache
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from costcorrect.catalog.base import input_error_from
from costcorrect.errors import InputError


class Value(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    value: float
    source: str
    date: dt.date
    prior: float | None = None  # the first-principles value a fit shrinks toward
    interval: tuple[float, float] | None = None  # a fitted value's 95 % interval
    data_share: float | None = None  # its posterior precision's share from the data (0–1)


class PowerSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    memory_w_per_tbps: Value
    clock_w: Value
    compute_w: Value
    overhead_w: Value
    voltage_knee: Value = Field(description="fraction of f_max below which V is flat")
    voltage_min: Value = Field(description="V at and below the knee ÷ V at f_max")
    memory_clock_floor: Value = Field(
        description="fraction of f_max below which memory-bound kernels slow down"
    )


POWER_YAML = "data/power.yaml"


@cache
def _raw() -> dict:
    text = resources.files("costcorrect.catalog").joinpath(POWER_YAML).read_text()
    return yaml.safe_load(text)["gpus"]


def power_spec(gpu: str) -> PowerSpec:
    """The power parameters of catalog GPU ``gpu`` (following ``same_die_as``)."""
    raw = _raw()
    entry = raw.get(gpu)
    if entry is None:
        raise InputError("gpu", gpu, f"a GPU with power parameters: {', '.join(raw)}")
    if "same_die_as" in entry:
        entry = raw[entry["same_die_as"]]
    try:
        return PowerSpec.model_validate(entry)
    except ValidationError as err:
        raise input_error_from(err, POWER_YAML) from None


def power_gpus() -> tuple[str, ...]:
    return tuple(_raw())


def reload_power_specs() -> None:
    """Forget the cached YAML (after a fit has rewritten it)."""
    _raw.cache_clear()
