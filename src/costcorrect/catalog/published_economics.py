"""Published calibration points of the economics layers: six difficulty-conditional systems
(``data/routing_systems.yaml``, for ``route``) and (compute, accuracy) pairs of test-time and
training scaling (``data/allocation_points.yaml``, for ``allocate``), each with its source and
how each value was checked."""

from __future__ import annotations

from functools import cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from costcorrect.catalog.base import packaged_entries

Pattern = Literal[
    "speculative_decoding", "medusa", "early_exit", "cascade", "adaptive_sampling", "exploration"
]
#: where a parameter's value comes from: the paper (a table, its text or abstract), the authors'
#: released data or code — all independent of the published speedup — or ``assumed`` here (a
#: bound or a stand-in for a number the paper does not give), or ``solved`` from the published
#: speedup itself
Source = Literal["paper", "data", "code", "assumed", "solved"]
INDEPENDENT: frozenset[str] = frozenset({"paper", "data", "code"})


class RoutingSystem(BaseModel):
    """One published system: its pattern's parameters, where each comes from, and its
    published speedup (the outcome the parameters predict)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    paper: str
    system: str
    reference: str
    pattern: Pattern
    parameters: dict
    provenance: dict[str, Source]
    published_speedup: float
    checked: str

    @model_validator(mode="after")
    def _every_parameter_sourced(self) -> RoutingSystem:
        if set(self.provenance) != set(self.parameters):
            raise ValueError(
                f"provenance names {sorted(self.provenance)}, parameters {sorted(self.parameters)}"
            )
        return self

    @property
    def dependent_inputs(self) -> tuple[str, ...]:
        """The parameters not taken from the paper, data or code: assumed or solved."""
        return tuple(k for k, v in self.provenance.items() if v not in INDEPENDENT)

    @property
    def independently_calibrated(self) -> bool:
        """Whether every parameter, hence κ, Δ and γ, comes from published inputs other than
        the speedup being predicted."""
        return not self.dependent_inputs


class ComputePoint(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    compute: float
    accuracy: float


class AllocationPoint(BaseModel):
    """Two (compute, accuracy) points of one published scaling result."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    paper: str
    setting: str
    reference: str
    axis: Literal["samples", "training", "equivalence"]
    low: ComputePoint
    high: ComputePoint
    selection: str
    checked: str
    # problems each accuracy is measured over (its binomial uncertainty); None: not stated
    questions: int | None = None
    questions_source: str | None = None


@cache
def routing_systems() -> tuple[RoutingSystem, ...]:
    return packaged_entries("routing_systems.yaml", "systems", RoutingSystem)


@cache
def allocation_points() -> tuple[AllocationPoint, ...]:
    return packaged_entries("allocation_points.yaml", "points", AllocationPoint)
