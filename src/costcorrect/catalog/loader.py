"""Load the packaged catalog YAML, merge user files and single-field overrides, look entries up.

A catalog file is YAML with ``schema_version: 1`` and any of the top-level lists
``hardware``, ``models``, ``workloads``, ``calibrations``. An entry whose name matches an
existing one overrides the fields it gives (plain values in an override are attributed to the
override's ``source``/``date``, or to the file and today's date); a new name adds an entry.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Generic, TypeVar

import yaml
from pydantic import ValidationError

from costcorrect.catalog.base import CatalogEntry, input_error_from, is_sourced, with_provenance
from costcorrect.catalog.calibrations import CalibrationSpec
from costcorrect.catalog.hardware import Hardware
from costcorrect.catalog.models import ModelSpec
from costcorrect.catalog.workloads import WorkloadSpec
from costcorrect.errors import InputError
from costcorrect.io import load_yaml, read_text

SCHEMA_VERSION = 1
KINDS: dict[str, type[CatalogEntry]] = {
    "hardware": Hardware,
    "models": ModelSpec,
    "workloads": WorkloadSpec,
    "calibrations": CalibrationSpec,
}
_PACKAGED_FILES = (
    "hardware.yaml",
    "models.yaml",
    "workloads.yaml",
    "engine_calibrations.yaml",  # first: a GPU's first calibration is its default stack
    "calibrations.yaml",
)

E = TypeVar("E", bound=CatalogEntry)


@dataclass(frozen=True)
class Table(Generic[E]):
    """Entries of one kind, looked up by name or alias (case-insensitive)."""

    kind: str
    entries: tuple[E, ...]

    def __iter__(self):
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def names(self) -> list[str]:
        return [e.name for e in self.entries]

    def get(self, name: str) -> E:
        """The entry called ``name``; an unknown name raises :class:`InputError` with hints."""
        for entry in self.entries:
            if entry.matches(name):
                return entry
        keys = [k for e in self.entries for k in (e.name, *e.aliases)]
        close = difflib.get_close_matches(name, keys, n=3, cutoff=0.5)
        hint = f"one of {', '.join(close)}" if close else f"one of {', '.join(self.names())}"
        raise InputError(_SINGULAR.get(self.kind, self.kind), name, hint)


_SINGULAR = {"hardware": "gpu", "models": "model", "workloads": "workload"}


@dataclass(frozen=True)
class Catalog:
    """Validated hardware, models, workloads and perf calibrations."""

    hardware: Table[Hardware]
    models: Table[ModelSpec]
    workloads: Table[WorkloadSpec]
    calibrations: Table[CalibrationSpec]
    files: tuple[str, ...] = field(default=())

    def table(self, kind: str) -> Table[Any]:
        if kind not in KINDS:
            raise InputError("kind", kind, f"one of {', '.join(KINDS)}")
        return getattr(self, kind)


def _read_yaml(text: str, origin: str) -> dict[str, Any]:
    try:
        data = load_yaml(text, origin)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise InputError(origin, f"invalid YAML{where}", "a YAML catalog file") from None
    if not isinstance(data, dict):
        raise InputError(origin, type(data).__name__, "a mapping with schema_version and lists")
    version = data.get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise InputError(f"{origin}.schema_version", version, str(SCHEMA_VERSION))
    unknown = set(data) - set(KINDS) - {"schema_version"}
    if unknown:
        raise InputError(f"{origin}", sorted(unknown)[0], f"top-level keys among {list(KINDS)}")
    return data


def _merge(
    cls: type[CatalogEntry], base: dict[str, Any], override: dict[str, Any], origin: str
) -> dict[str, Any]:
    """Fields of ``override`` replace those of ``base``; its plain numbers get its provenance."""
    provenance = {
        "source": override.get("source", f"user override ({origin})"),
        "date": override.get("date", dt.date.today().isoformat()),
    }
    merged = dict(base)
    for key, value in override.items():
        if key in ("name", "source", "date"):
            continue
        spec = cls.model_fields.get(key)
        if spec is not None and is_sourced(spec.annotation):
            value = with_provenance(value, provenance)
        if isinstance(value, dict) and isinstance(base.get(key), dict) and "value" not in value:
            value = {**base[key], **value}  # per-dtype tables: override only the keys given
        merged[key] = value
    return merged


def _raw_entries(texts: Iterable[tuple[str, str]]) -> dict[str, dict[str, dict[str, Any]]]:
    raw: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in KINDS}
    for origin, text in texts:
        data = _read_yaml(text, origin)
        for kind in KINDS:
            for i, entry in enumerate(data.get(kind) or []):
                if not isinstance(entry, dict) or "name" not in entry:
                    raise InputError(f"{origin}.{kind}[{i}].name", None, "an entry with a name")
                key = _find_key(raw[kind], str(entry["name"]))
                if key is None:
                    raw[kind][str(entry["name"])] = {**entry, "_origin": origin}
                else:
                    base = {k: v for k, v in raw[kind][key].items() if k != "_origin"}
                    merged = _merge(KINDS[kind], base, entry, origin)
                    raw[kind][key] = {**merged, "_origin": origin}
    return raw


def _find_key(existing: dict[str, dict[str, Any]], name: str) -> str | None:
    folded = name.casefold()
    for key, entry in existing.items():
        names = [key, *entry.get("aliases", [])]
        if folded in (n.casefold() for n in names):
            return key
    return None


def _validate(raw: dict[str, dict[str, dict[str, Any]]], files: tuple[str, ...]) -> Catalog:
    tables: dict[str, Table[Any]] = {}
    for kind, cls in KINDS.items():
        entries = []
        for name, entry in raw[kind].items():
            origin = entry.pop("_origin")
            try:
                entries.append(cls.model_validate(entry))
            except ValidationError as err:
                raise input_error_from(err, f"{origin}: {kind}[{name}]") from None
        tables[kind] = Table(kind, tuple(entries))
    return Catalog(**tables, files=files)


def _packaged_texts() -> list[tuple[str, str]]:
    root = resources.files("costcorrect.catalog") / "data"
    return [(f"catalog/{name}", (root / name).read_text()) for name in _PACKAGED_FILES]


@cache
def _default_catalog() -> Catalog:
    texts = _packaged_texts()
    return _validate(_raw_entries(texts), tuple(o for o, _ in texts))


def load_catalog(user_files: Iterable[str | Path] = (), overrides: Iterable[str] = ()) -> Catalog:
    """The packaged catalog, plus user YAML files, plus ``KIND.NAME.FIELD=VALUE`` overrides."""
    user_files, overrides = tuple(user_files), tuple(overrides)
    if not user_files and not overrides:
        return _default_catalog()
    texts = _packaged_texts()
    for path in user_files:
        p = Path(path)
        if not p.is_file():
            raise InputError("catalog", str(path), "an existing YAML file")
        texts.append((str(p), read_text(p, "catalog")))
    texts += [("--set", _override_yaml(o)) for o in overrides]
    return _validate(_raw_entries(texts), tuple(o for o, _ in texts))


def _override_yaml(text: str) -> str:
    """``hardware.H100-SXM.price_usd_per_s=$2/h`` → a one-entry catalog document."""
    path, sep, value = text.partition("=")
    parts = path.split(".")
    if not sep or len(parts) < 3 or parts[0] not in KINDS:
        raise InputError(
            "--set", text, "KIND.NAME.FIELD=VALUE with KIND one of " + ", ".join(KINDS)
        )
    kind, field_name = parts[0], parts[-1]
    name = ".".join(parts[1:-1])  # model names may contain dots (llama-3.1-8b)
    return yaml.safe_dump({kind: [{"name": name, field_name: yaml.safe_load(value)}]})
