"""Published accuracy of quantized models against their BF16 baselines
(``data/quantization.yaml``): one headline metric per model × weight format, with its source.
Cost-correct reads the recovery (quantized ÷ baseline) as the factor the format multiplies
the accept rate α by."""

from __future__ import annotations

import datetime as dt
from functools import cache

from pydantic import BaseModel, ConfigDict, model_validator

from costcorrect.catalog.base import packaged_entries
from costcorrect.catalog.models import WeightFormat
from costcorrect.errors import InputError

QUANTIZATION_YAML = "quantization.yaml"


class AccuracyEntry(BaseModel):
    """One model × format: the metric, its baseline and quantized values (or only the
    printed recovery), the source and the date."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    format: WeightFormat
    metric: str
    baseline: float | None = None
    quantized: float | None = None
    recovery: float | None = None
    source: str
    via: str | None = None
    date: dt.date

    @model_validator(mode="after")
    def _one_measure(self) -> AccuracyEntry:
        pair = self.baseline is not None and self.quantized is not None
        if pair == (self.recovery is not None):
            raise ValueError("give baseline and quantized, or recovery — one of the two")
        if pair and not (self.baseline > 0 and self.quantized >= 0):
            raise ValueError("baseline > 0 and quantized ≥ 0")
        if self.recovery is not None and not 0 < self.recovery <= 2:
            raise ValueError("a recovery in (0, 2]")
        return self

    @property
    def ratio(self) -> float:
        """Quantized accuracy ÷ baseline accuracy."""
        if self.recovery is not None:
            return self.recovery
        return self.quantized / self.baseline  # type: ignore[operator]


@cache
def accuracy_entries() -> tuple[AccuracyEntry, ...]:
    """Every published model × format in the catalog."""
    return packaged_entries(QUANTIZATION_YAML, "entries", AccuracyEntry)


#: formats that are the baseline itself: no accuracy delta
BASELINE_FORMATS = ("bf16", "fp16", "fp32")


def published_accuracy(model: str, weight_format: str | None) -> AccuracyEntry | None:
    """The catalog's published accuracy of ``model`` in ``weight_format`` (None for a
    baseline format, or where none is published)."""
    if weight_format is None or weight_format in BASELINE_FORMATS:
        return None
    return next(
        (e for e in accuracy_entries() if e.model == model and e.format == weight_format), None
    )


def accuracy_recovery(model: str, weight_format: str) -> AccuracyEntry | None:
    """As :func:`published_accuracy`, but a quantized format with no published entry is an
    :class:`InputError` naming the model × formats that have one."""
    entry = published_accuracy(model, weight_format)
    if entry is None and weight_format not in BASELINE_FORMATS:
        known = ", ".join(f"{e.model} {e.format}" for e in accuracy_entries())
        raise InputError(
            "format",
            f"{model} {weight_format}",
            f"a model × format with published accuracy: {known}",
        )
    return entry
