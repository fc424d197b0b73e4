"""Request streams: arrival times (s) and token lengths per request, as plain numpy arrays.

A :class:`RequestStream` is what the serving engines consume. Build one from a catalog workload
and an arrival process (:func:`synthetic_stream`), or replay a trace file (:func:`read_trace`).
"""

from __future__ import annotations

import io
import json
import math
import warnings
from dataclasses import dataclass
from numbers import Real
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from costcorrect.catalog import Catalog, load_catalog
from costcorrect.catalog.workloads import WorkloadSpec
from costcorrect.errors import InputError
from costcorrect.io import atomic_write
from costcorrect.workload.arrivals import _count, _positive, gamma_arrivals, poisson_arrivals

if TYPE_CHECKING:
    import pandas as pd

FIELDS = ("arrival_s", "input_tokens", "output_tokens", "cached_tokens")
"""Array fields of a stream, in order; also the column names of a written trace."""

TRACE_COLUMNS: dict[str, tuple[str, ...]] = {
    "arrival_s": ("arrival_s", "arrived_at"),
    "input_tokens": ("input_tokens", "num_prefill_tokens"),
    "output_tokens": ("output_tokens", "num_decode_tokens"),
    "cached_tokens": ("cached_tokens",),
}
"""Accepted trace column names per field: ours first, then Splitwise/Vidur's."""

_MINIMUM = {"arrival_s": 0.0, "input_tokens": 1.0, "output_tokens": 1.0, "cached_tokens": 0.0}
_EXPECTED = {
    "arrival_s": "a finite time ≥ 0 s",
    "input_tokens": "a whole number of tokens ≥ 1",
    "output_tokens": "a whole number of tokens ≥ 1",
    "cached_tokens": "a whole number of tokens ≥ 0",
}


@dataclass(frozen=True)
class LengthStats:
    """What a workload asks of a deployment, in tokens: its name, where it comes from, and its
    prompt and output length statistics (the numbers every serving answer rests on)."""

    workload: str
    source: str | None
    requests: int
    prompt_mean: float
    prompt_median: float
    prompt_p90: float
    output_mean: float
    output_median: float

    def sentence(self) -> str:
        """One line: ``workload NAME (source): prompts …, outputs … (over N requests)``."""
        source = f" ({self.source})" if self.source else ""
        return (
            f"workload {self.workload}{source}: prompts mean {self.prompt_mean:,.0f} tokens "
            f"(median {self.prompt_median:,.0f}, p90 {self.prompt_p90:,.0f}), outputs mean "
            f"{self.output_mean:,.0f} (median {self.output_median:,.0f}), over "
            f"{self.requests:,} requests"
        )


@dataclass(frozen=True, eq=False)
class RequestStream:
    """Requests in arrival order. Arrays are read-only copies: ``arrival_s`` float64 seconds
    (sorted, ≥ 0); ``input_tokens`` and ``output_tokens`` int64 ≥ 1; ``cached_tokens`` int64
    prefix-cache hits, ``0 ≤ cached < input``."""

    arrival_s: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    cached_tokens: np.ndarray
    name: str

    def __post_init__(self) -> None:
        n = np.size(self.arrival_s)
        for field in FIELDS:
            try:
                values = np.array(getattr(self, field), dtype=np.float64)
            except (TypeError, ValueError):
                raise InputError(field, type(getattr(self, field)).__name__, "numbers") from None
            if values.ndim != 1 or values.size == 0:
                raise InputError(field, f"shape {values.shape}", "a non-empty 1-D array")
            if values.size != n:
                raise InputError(field, f"{values.size} values", f"{n}, one per request")
            bad = _first_invalid(field, values)
            if bad is not None:
                raise InputError(f"{field}[{bad}]", values[bad].item(), _EXPECTED[field])
            array = values if field == "arrival_s" else values.astype(np.int64)
            array.flags.writeable = False
            object.__setattr__(self, field, array)
        unsorted = np.flatnonzero(np.diff(self.arrival_s) < 0)
        if unsorted.size:
            i = int(unsorted[0]) + 1
            raise InputError(f"arrival_s[{i}]", self.arrival_s[i].item(), "times sorted ascending")
        too_many = np.flatnonzero(self.cached_tokens >= self.input_tokens)
        if too_many.size:
            i = int(too_many[0])
            expected = f"fewer than input_tokens ({self.input_tokens[i]})"
            raise InputError(f"cached_tokens[{i}]", self.cached_tokens[i].item(), expected)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RequestStream):
            return NotImplemented
        same = all(np.array_equal(getattr(self, f), getattr(other, f)) for f in FIELDS)
        return same and self.name == other.name

    @property
    def n(self) -> int:
        """Number of requests."""
        return int(self.arrival_s.size)

    @property
    def duration_s(self) -> float:
        """Seconds from the first to the last arrival."""
        return float(self.arrival_s[-1] - self.arrival_s[0])

    @property
    def rate_per_s(self) -> float:
        """Mean arrival rate, requests/s: ``n / duration_s`` (inf when all arrive at once)."""
        return self.n / self.duration_s if self.duration_s > 0 else math.inf

    @property
    def mean_input_tokens(self) -> float:
        """Mean input (prompt) tokens per request."""
        return float(self.input_tokens.mean())

    @property
    def mean_output_tokens(self) -> float:
        """Mean output (generated) tokens per request."""
        return float(self.output_tokens.mean())

    def length_stats(self, catalog: Catalog | None = None) -> LengthStats:
        """The stream's request-length statistics, labelled with where its workload comes from
        (the first clause of its catalog description; none for a trace or fixed lengths)."""
        try:
            source = (catalog or load_catalog()).workloads.get(self.name).origin
        except InputError:  # not a catalog workload
            source = None
        prompt, output = self.input_tokens, self.output_tokens
        return LengthStats(
            self.name,
            source,
            self.n,
            float(prompt.mean()),
            float(np.median(prompt)),
            float(np.quantile(prompt, 0.9)),
            float(output.mean()),
            float(np.median(output)),
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per request, columns :data:`FIELDS`; ``frame.attrs["name"]`` is the name."""
        import pandas as pd

        frame = pd.DataFrame({f: getattr(self, f) for f in FIELDS})
        frame.attrs["name"] = self.name
        return frame

    def head(self, n: int) -> RequestStream:
        """The first ``n`` requests (all of them if there are fewer)."""
        k = _count("n", n)
        return RequestStream(*(getattr(self, f)[:k] for f in FIELDS), name=self.name)

    def scaled(self, rate_per_s: float) -> RequestStream:
        """The same requests with arrival times stretched so that :attr:`rate_per_s` becomes
        ``rate_per_s`` requests/s; lengths are unchanged."""
        rate = _positive("rate_per_s", rate_per_s)
        if self.duration_s == 0:
            raise InputError("rate_per_s", rate_per_s, "a stream whose arrivals span time")
        arrival_s = self.arrival_s * (self.rate_per_s / rate)
        return RequestStream(arrival_s, *(getattr(self, f) for f in FIELDS[1:]), name=self.name)


def _first_invalid(field: str, values: np.ndarray) -> int | None:
    """Index of the first value breaking the rule of ``field`` (see ``_EXPECTED``), else None."""
    ok = np.isfinite(values) & (values >= _MINIMUM[field])
    if field != "arrival_s":
        ok &= values == np.floor(values)
    return None if ok.all() else int(np.argmin(ok))


def synthetic_stream(
    workload: str | WorkloadSpec,
    rate_per_s: float,
    n: int,
    seed: int,
    arrival: Literal["poisson", "gamma"] = "poisson",
    cv: float = 1.0,
    prefix_hit_ratio: float = 0.0,
    catalog: Catalog | None = None,
) -> RequestStream:
    """``n`` requests of a catalog ``workload`` arriving at ``rate_per_s`` requests/s.

    Lengths are ``workload.sample(n, seed)``; arrivals come from an independent generator spawned
    from ``seed`` (Poisson, or gamma gaps with coefficient of variation ``cv``). A fraction
    ``prefix_hit_ratio`` of each prompt (floored, at most input − 1 tokens) is a prefix-cache hit.
    ``catalog`` (default: the packaged one) resolves a workload given by name.
    """
    if isinstance(workload, WorkloadSpec):
        spec = workload
    else:
        spec = (catalog or load_catalog()).workloads.get(workload)
    if arrival not in ("poisson", "gamma"):
        raise InputError("arrival", arrival, "'poisson' or 'gamma'")
    if arrival == "poisson" and cv != 1.0:
        raise InputError("cv", cv, "1 with Poisson arrivals (use arrival='gamma')")
    ratio = prefix_hit_ratio
    if isinstance(ratio, bool) or not isinstance(ratio, Real) or not 0 <= ratio <= 1:
        raise InputError("prefix_hit_ratio", ratio, "a fraction in [0, 1]")
    input_tokens, output_tokens = spec.sample(n, seed)
    arrival_seed = np.random.SeedSequence(seed).spawn(1)[0]
    if arrival == "gamma":
        arrival_s = gamma_arrivals(rate_per_s, cv, n, arrival_seed)
    else:
        arrival_s = poisson_arrivals(rate_per_s, n, arrival_seed)
    cached = np.minimum(np.floor(ratio * input_tokens), input_tokens - 1)
    return RequestStream(arrival_s, input_tokens, output_tokens, cached, name=spec.name)


def read_trace(path: str | Path, rate_per_s: float | None = None) -> RequestStream:
    """Replay a trace file (``.csv``, or ``.jsonl`` with one JSON object per request).

    Columns are named as in :data:`TRACE_COLUMNS`; ``cached_tokens`` is optional (default 0).
    Requests are sorted by arrival and shifted so the first arrives at 0 s; ``rate_per_s``, if
    given, rescales arrival times to that mean rate. The stream is named after the file stem.
    """
    path = Path(path)
    frame = _read_frame(path)
    if frame.empty:
        raise InputError("trace", str(path), "a file with at least one request")
    columns = {f: _column(frame, f, path.name) for f in FIELDS}
    if columns["cached_tokens"] is None:
        columns["cached_tokens"] = np.zeros(len(frame))
    input_tokens = columns["input_tokens"]
    too_many = np.flatnonzero(columns["cached_tokens"] >= input_tokens)
    if too_many.size:
        i = int(too_many[0])
        cached, expected = columns["cached_tokens"][i], f"< input_tokens ({input_tokens[i]:.0f})"
        raise InputError(f"{path.name} row {i + 1}: cached_tokens", int(cached), expected)
    order = np.argsort(columns["arrival_s"], kind="stable")
    arrival_s = columns["arrival_s"][order]
    stream = RequestStream(
        arrival_s - arrival_s[0], *(columns[f][order] for f in FIELDS[1:]), name=path.stem
    )
    return stream if rate_per_s is None else stream.scaled(rate_per_s)


def _read_frame(path: Path) -> pd.DataFrame:
    """The rows of a CSV or JSONL file; one-line :class:`InputError` when it cannot be read."""
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl"):
        raise InputError("trace", str(path), "a file ending in .csv or .jsonl")
    if not path.is_file():
        raise InputError("trace", str(path), "an existing file")
    try:
        if suffix == ".csv":
            with warnings.catch_warnings():  # a row longer than the header is an error
                warnings.simplefilter("error", pd.errors.ParserWarning)
                return pd.read_csv(path, index_col=False)
        lines = [line for line in path.read_text().splitlines() if line.strip()]
        records = json.loads("[" + ",\n".join(lines) + "]")
        if not all(isinstance(r, dict) for r in records):
            raise ValueError("a line is not a JSON object")
        return pd.DataFrame.from_records(records)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except json.JSONDecodeError as err:
        reason = f"request {err.lineno}: {err.msg}"
    except pd.errors.ParserWarning:
        reason = "a row has more fields than the header"
    except ValueError as err:  # CSV parser and text decoding errors
        reason = " ".join(str(err).split())
    expected = "valid CSV" if suffix == ".csv" else "one JSON object per line"
    raise InputError("trace", f"{path}: {reason}", expected)


def _column(frame: pd.DataFrame, field: str, source: str) -> np.ndarray | None:
    """Column ``field`` (under any accepted name) as checked float64; None if optional and
    absent."""
    import pandas as pd

    names = TRACE_COLUMNS[field]
    name = next((c for c in names if c in frame.columns), None)
    if name is None:
        if field == "cached_tokens":
            return None
        found = ", ".join(map(str, frame.columns))
        raise InputError(f"{source}: column {field}", found, f"a column named {' or '.join(names)}")
    values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64)
    bad = _first_invalid(field, values)
    if bad is not None:
        raise InputError(
            f"{source} row {bad + 1}: {name}", _raw(frame[name], bad), _EXPECTED[field]
        )
    return values


def _raw(column: pd.Series, i: int) -> Any:
    """Value ``i`` of ``column`` as a plain Python value, for error messages."""
    return column.iloc[i : i + 1].tolist()[0]


def write_trace(stream: RequestStream, path: str | Path) -> None:
    """Write ``stream`` as a ``.csv`` trace with columns :data:`FIELDS`, via a temporary file and
    a rename: there is never a partial file at ``path``."""
    path = Path(path)
    if path.suffix.lower() != ".csv":
        raise InputError("path", str(path), "a file ending in .csv")
    if not path.parent.is_dir():
        raise InputError("path", str(path), "a path in an existing folder")
    text = io.StringIO()
    stream.to_frame().to_csv(text, index=False)
    atomic_write(path, text.getvalue())
