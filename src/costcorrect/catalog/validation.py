"""The headline held-out error of each model, kept in the package (``data/validation.yaml``) so
that a report can print it beside the predictions it qualifies. Written by
``python -m costcorrect.validate perf|serving|energy --summary`` (`make docs`); the full
reports are the docs pages each entry names."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict

from costcorrect.io import atomic_write

VALIDATION_YAML = "data/validation.yaml"


class HeldOutError(BaseModel):
    """A model's held-out error: ``median`` and ``worst`` as fractions, what was compared, on
    which data, and the docs page that shows it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    median: float
    worst: float
    what: str
    data: str
    doc: str

    def to_dict(self) -> dict:
        """The entry as written to YAML: fractions to 0.0001."""
        data = self.model_dump()
        data["median"], data["worst"] = round(self.median, 4), round(self.worst, 4)
        return data

    def sentence(self) -> str:
        return (
            f"Validated: {self.what}, median error {self.median:.0%} (worst {self.worst:.0%}) "
            f"on {self.data} ({self.doc})."
        )


@cache
def load_validation() -> dict[str, HeldOutError]:
    """The packaged entries by model name (``perf``, ``analytic``, ``energy``)."""
    text = resources.files("costcorrect.catalog").joinpath(VALIDATION_YAML).read_text()
    raw = yaml.safe_load(text) or {}
    return {key: HeldOutError.model_validate(value) for key, value in raw.items()}


def write_validation(path: str | Path, key: str, entry: HeldOutError) -> None:
    """Set ``key``'s entry of the summary file ``path`` (the others are kept)."""
    path = Path(path)
    raw = yaml.safe_load(path.read_text()) if path.exists() else {}
    raw = raw or {}
    raw[key] = entry.to_dict()
    header = (
        "# Headline held-out errors shown beside predictions in reports. Written by\n"
        "# `python -m costcorrect.validate perf|serving|energy --summary` (make docs).\n"
    )
    atomic_write(
        path,
        header + yaml.safe_dump(dict(sorted(raw.items())), sort_keys=False, allow_unicode=True),
    )
