"""One parser and one formatter for human quantities; everything inside is SI floats.

``parse_quantity("3.35TB/s", "bandwidth")`` → 3.35e12 (bytes/s);
``format_quantity(3.35e12, "bandwidth")`` → ``"3.35 TB/s"``.

Internal units: seconds, bytes, FLOP, USD, watts, joules, hertz, plain counts.
"""

from __future__ import annotations

import math
import re
from numbers import Integral, Number
from typing import Any, Literal

from costcorrect.errors import InputError

Kind = Literal[
    "time",
    "bytes",
    "bandwidth",
    "flop",
    "flop_rate",
    "usd",
    "usd_rate",
    "count",
    "power",
    "energy",
    "frequency",
    "fraction",
]

# kind -> (numerator dimension, denominator dimension or None)
_KIND_DIMS: dict[str, tuple[str, str | None]] = {
    "time": ("time", None),
    "bytes": ("bytes", None),
    "bandwidth": ("bytes", "time"),
    "flop": ("flop", None),
    "flop_rate": ("flop", "time"),
    "usd": ("usd", None),
    "usd_rate": ("usd", "time"),
    "count": ("count", None),
    "power": ("power", None),
    "energy": ("energy", None),
    "frequency": ("frequency", None),
    "fraction": ("count", None),
}

_EXPECTED_TEXT: dict[str, str] = {
    "time": "a time such as '250ms' or '2 s'",
    "bytes": "a size such as '80GiB' or '141 GB'",
    "bandwidth": "a bandwidth such as '3.35TB/s' or '900 GB/s'",
    "flop": "a FLOP count such as '2.5 TFLOP'",
    "flop_rate": "a FLOP rate such as '989 TFLOP/s'",
    "usd": "an amount such as '$2.49'",
    "usd_rate": "a price rate such as '$2.49/h'",
    "count": "a number such as '1.2k' or '300'",
    "power": "a power such as '700 W' or '1.2 kW'",
    "energy": "an energy such as '3 J' or '1.5 kWh'",
    "frequency": "a frequency such as '1.98 GHz'",
    "fraction": "a fraction such as '0.8' or '80%'",
}

_DECIMAL = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
_BINARY = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50}
_SMALL = {"m": 1e-3, "u": 1e-6, "µ": 1e-6, "n": 1e-9}


def _build_units() -> dict[str, tuple[str, float]]:
    units: dict[str, tuple[str, float]] = {}
    for p, f in _DECIMAL.items():
        units[f"{p}B"] = ("bytes", f)
        units[f"{p}bit"] = ("bytes", f / 8)
        units[f"{p}b"] = ("bytes", f / 8)
        units[f"{p}FLOP"] = ("flop", f)
        units[f"{p}W"] = ("power", f)
        units[f"{p}J"] = ("energy", f)
        units[f"{p}Wh"] = ("energy", f * 3600.0)
        units[f"{p}Hz"] = ("frequency", f)
    for p, f in _BINARY.items():
        units[f"{p}B"] = ("bytes", f)
    for p, f in _SMALL.items():
        units[f"{p}s"] = ("time", f)
        units[f"{p}W"] = ("power", f)
        units[f"{p}J"] = ("energy", f)
    units.update(
        {
            "s": ("time", 1.0),
            "sec": ("time", 1.0),
            "min": ("time", 60.0),
            "h": ("time", 3600.0),
            "hr": ("time", 3600.0),
            "day": ("time", 86400.0),
            "USD": ("usd", 1.0),
            "": ("count", 1.0),
            "k": ("count", 1e3),
            "K": ("count", 1e3),
            "M": ("count", 1e6),
            "G": ("count", 1e9),
            "T": ("count", 1e12),
            "%": ("count", 0.01),
        }
    )
    # "989 TFLOPS" is the datasheet way of writing a FLOP rate.
    for p, f in _DECIMAL.items():
        units[f"{p}FLOPS"] = ("flop/time", f)
    return units


_UNITS = _build_units()
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_PATTERN = re.compile(
    rf"^\s*(?P<dollar>\$)?\s*(?P<num>{_NUMBER})\s*(?P<unit>[A-Za-zµ%]*)\s*"
    rf"(?:/\s*(?P<per>[A-Za-z]+))?\s*$"
)


def parse_quantity(
    text: str | float | int, kind: Kind, field: str = "value", positive: bool = False
) -> float:
    """Parse ``text`` as a quantity of ``kind`` and return it in SI units.

    Plain numbers (``float``/``int`` or unitless strings) are taken as already SI. Raises
    :class:`InputError` naming ``field`` when the text is not a finite quantity of that kind
    (with ``positive``: not above 0).
    """
    if kind not in _KIND_DIMS:
        raise ValueError(f"unknown quantity kind {kind!r}")
    if isinstance(text, bool):
        raise InputError(field, text, _EXPECTED_TEXT[kind])
    numeric = isinstance(text, int | float)
    value = float(text) if numeric else _parse_text(str(text), kind, field)
    if not math.isfinite(value):
        raise InputError(field, text, _EXPECTED_TEXT[kind] + " (finite)")
    if positive and value <= 0:
        raise InputError(field, text, _EXPECTED_TEXT[kind] + " (above 0)")
    return value


def _parse_text(text: str, kind: str, field: str) -> float:
    m = _PATTERN.match(text)
    if m is None:
        raise InputError(field, text, _EXPECTED_TEXT[kind])
    num = float(m["num"])
    unit, per = m["unit"], m["per"]
    want_num, want_den = _KIND_DIMS[kind]
    if m["dollar"]:
        if unit not in ("", "k", "K", "M"):
            raise InputError(field, text, _EXPECTED_TEXT[kind])
        dim, factor = "usd", _UNITS[unit][1]
    elif kind == "count" and unit in ("B", "bn"):  # "1.5B" parameters = 1.5e9
        dim, factor = "count", 1e9
    elif unit in _UNITS:
        dim, factor = _UNITS[unit]
    else:
        raise InputError(field, text, _EXPECTED_TEXT[kind])
    if dim == "flop/time":
        if per is not None:
            raise InputError(field, text, _EXPECTED_TEXT[kind])
        dim, per_dim, per_factor = "flop", "time", 1.0
    elif per is None:
        per_dim, per_factor = None, 1.0
    elif per in _UNITS and _UNITS[per][0] == "time":
        per_dim, per_factor = "time", _UNITS[per][1]
    else:
        raise InputError(field, text, _EXPECTED_TEXT[kind])
    # A bare number is accepted for any kind (it is already SI).
    if dim == "count" and unit == "" and per is None and not m["dollar"]:
        return num
    if (dim, per_dim) != (want_num, want_den):
        raise InputError(field, text, _EXPECTED_TEXT[kind])
    return num * factor / per_factor


# kind -> (unit label, list of (scale, prefix)) used by the formatter
_FORMAT_SCALES: dict[str, tuple[str, list[tuple[float, str]]]] = {
    "time": ("s", [(1.0, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n")]),
    "bytes": ("B", [(1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, "")]),
    "bandwidth": (
        "B/s",
        [(1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, "")],
    ),
    "flop": ("FLOP", [(1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, "")]),
    "flop_rate": (
        "FLOP/s",
        [(1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, "")],
    ),
    "count": ("", [(1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"), (1.0, "")]),
    "power": ("W", [(1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m")]),
    "energy": ("J", [(1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "µ")]),
    "frequency": ("Hz", [(1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, "")]),
}


def format_quantity(value: float, kind: Kind, digits: int = 3) -> str:
    """Format an SI ``value`` of ``kind`` for people, with ``digits`` significant digits."""
    if not math.isfinite(value):
        return str(value)
    if kind == "usd":
        return f"${_sig(value, digits)}"
    if kind == "usd_rate":
        return f"${_sig(value * 3600.0, digits)}/h"
    if kind == "fraction":
        return f"{_sig(value * 100.0, digits)}%"
    label, scales = _FORMAT_SCALES[kind]
    magnitude = abs(value)
    scale, prefix = next(((s, p) for s, p in scales if magnitude >= s * 0.9995), scales[-1])
    sep = " " if label else ""
    return f"{_sig(value / scale, digits)}{sep}{prefix}{label}"


def format_number(value: Any, digits: int = 4) -> str:
    """A table cell for people: whole numbers with thousands separators, other numbers to
    ``digits`` significant digits (plain notation from 0.001 up, separators from 10,000 up),
    anything else as ``str``."""
    if isinstance(value, bool) or not isinstance(value, Number):  # numpy's bool is no Number
        return str(value)
    if isinstance(value, Integral):
        return f"{int(value):,}"
    x = float(value)
    if not math.isfinite(x):
        return str(x)
    if x == 0:
        return "0"
    if abs(x) >= 1e4:
        return f"{x:,.0f}"
    if abs(x) < 1e-3:
        return f"{x:.{digits - 1}e}"
    return _sig(x, digits)


def _sig(x: float, digits: int) -> str:
    if x == 0:
        return "0"
    text = f"{x:.{digits}g}"
    if "e" in text:  # keep plain notation for readability
        text = f"{x:.{max(digits - 1 - math.floor(math.log10(abs(x))), 0)}f}"
    return text
