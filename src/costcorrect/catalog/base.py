"""Shared pieces of every catalog entry: sourced numbers, quantity types, error conversion.

Every number in the catalog carries a ``source`` (URL or document) and a ``date``. In YAML a
number may be written plainly (``hbm_bandwidth: 3.35TB/s``) and then inherits the entry's own
``source``/``date``, or in full (``{value: 3.35TB/s, source: ..., date: 2024-05-01}``).
"""

from __future__ import annotations

import datetime as dt
import re
from importlib import resources
from typing import Annotated, Any, Generic, TypeVar, get_args, get_origin

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator

from costcorrect.errors import InputError
from costcorrect.units import Kind, parse_quantity

T = TypeVar("T")


def quantity(kind: Kind, positive: bool = False) -> Any:
    """An ``Annotated[float, ...]`` type that parses human units of ``kind`` into SI (with
    ``positive``: a value > 0, as every hardware figure is)."""

    return Annotated[float, BeforeValidator(lambda v: parse_quantity(v, kind, positive=positive))]


Seconds = quantity("time")
Bytes = quantity("bytes", positive=True)
BytesPerSecond = quantity("bandwidth", positive=True)
FlopPerSecond = quantity("flop_rate", positive=True)
Watts = quantity("power", positive=True)
Hertz = quantity("frequency", positive=True)
UsdPerSecond = quantity("usd_rate", positive=True)
Count = quantity("count")
Fraction = quantity("fraction")


class Sourced(BaseModel, Generic[T]):
    """A value with where it came from and when."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: T
    source: str
    date: dt.date

    def __reduce__(self):
        # a parametrised generic (Sourced[float]) is not importable by name, so pickle
        # (process pools) rebuilds the value as the generic origin, already validated
        return (_rebuild_sourced, (self.value, self.source, self.date))


def _rebuild_sourced(value: Any, source: str, date: dt.date) -> Sourced:
    return Sourced.model_construct(value=value, source=source, date=date)


def is_sourced(annotation: Any) -> bool:
    for candidate in (annotation, *get_args(annotation)):
        origin = getattr(candidate, "__pydantic_generic_metadata__", {}).get("origin")
        if candidate is Sourced or origin is Sourced or get_origin(candidate) is Sourced:
            return True
    return False


class CatalogEntry(BaseModel):
    """Base of hardware, model, workload and price entries.

    ``source``/``date`` at entry level are the defaults for every :class:`Sourced` field that
    does not give its own.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    aliases: tuple[str, ...] = ()
    source: str
    date: dt.date

    @model_validator(mode="before")
    @classmethod
    def _fill_provenance(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for field_name, field in cls.model_fields.items():
            if field_name not in data or not is_sourced(field.annotation):
                continue
            data[field_name] = with_provenance(data[field_name], data)
        return data

    def matches(self, name: str) -> bool:
        """True if ``name`` is this entry's name or an alias, ignoring case and treating
        spaces and underscores as hyphens (``h100_sxm``, ``NVIDIA H100 80GB HBM3``)."""
        key = name_key(name)
        return key == name_key(self.name) or key in (name_key(a) for a in self.aliases)


def name_key(name: str) -> str:
    """How catalog names compare: case-folded, runs of spaces/underscores as one hyphen."""
    return re.sub(r"[\s_]+", "-", name.strip().casefold())


def with_provenance(raw: Any, entry: dict[str, Any]) -> Any:
    if isinstance(raw, dict) and "value" not in raw:  # a mapping of sourced values (per dtype)
        return {k: with_provenance(v, entry) for k, v in raw.items()}
    if raw is None:
        return None
    value = dict(raw) if isinstance(raw, dict) else {"value": raw}
    value.setdefault("source", entry.get("source"))
    value.setdefault("date", entry.get("date"))
    return value


def input_error_from(err: ValidationError, where: str) -> InputError:
    """Turn the first pydantic error into our one-line :class:`InputError`."""
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"] if p != "value") or "entry"
    value = first.get("input")
    message = first["msg"]
    if isinstance(first.get("ctx"), dict) and "error" in first["ctx"]:
        inner = first["ctx"]["error"]
        if isinstance(inner, InputError):
            return InputError(f"{where}.{loc}", inner.value, inner.expected)
    if first["type"] == "missing":
        return InputError(f"{where}.{loc}", None, "a value (the field is required)")
    if isinstance(value, dict):
        value = "{...}"
    return InputError(f"{where}.{loc}", value, message.removeprefix("Value error, "))


def packaged_entries(name: str, key: str, model: type[BaseModel]) -> tuple:
    """The ``key`` list of the packaged ``data/<name>``, each entry validated as ``model`` (a
    validation failure is an :class:`InputError` naming the file)."""
    text = resources.files("costcorrect.catalog").joinpath(f"data/{name}").read_text()
    try:
        return tuple(model.model_validate(entry) for entry in yaml.safe_load(text)[key])
    except ValidationError as err:
        raise input_error_from(err, name) from None
