"""Measured acceptance of speculative decoding (``data/speculation.yaml``): per target model
and draft, the mean tokens a step emits at k drafted tokens, with its source. The per-token
acceptance rate a of the i.i.d. model is solved from it."""

from __future__ import annotations

import datetime as dt
from functools import cache

from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy.optimize import brentq

from costcorrect.catalog.base import packaged_entries
from costcorrect.errors import InputError

SPECULATION_YAML = "speculation.yaml"


class AcceptanceEntry(BaseModel):
    """One target × draft: chain length k, measured acceptance length τ = E[L] (tokens per
    step, the target's own included), the benchmark, source and date."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    draft: str  # a catalog model, or "eagle" for a one-layer head
    drafter: str
    k: int = Field(ge=1, le=16)
    acceptance_length: float
    per_position: tuple[float, ...] = ()
    benchmark: str
    source: str
    date: dt.date

    @model_validator(mode="after")
    def _reachable(self) -> AcceptanceEntry:
        if not 1.0 < self.acceptance_length < self.k + 1:
            raise ValueError(f"an acceptance length in (1, k + 1 = {self.k + 1})")
        return self

    @property
    def acceptance(self) -> float:
        return acceptance_from_length(self.acceptance_length, self.k)


def acceptance_from_length(tau: float, k: int) -> float:
    """The per-token acceptance a with 1 + a + … + a^k = τ (mean tokens per step at k drafted
    tokens, the target's own included)."""
    if not 1.0 < tau < k + 1:
        raise InputError("acceptance_length", tau, f"a mean in (1, k + 1 = {k + 1})")
    return float(brentq(lambda a: sum(a**j for j in range(k + 1)) - tau, 0.0, 1.0 - 1e-12))


@cache
def acceptance_entries() -> tuple[AcceptanceEntry, ...]:
    """Every measured target × draft in the catalog."""
    return packaged_entries(SPECULATION_YAML, "entries", AcceptanceEntry)
