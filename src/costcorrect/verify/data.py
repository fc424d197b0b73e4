"""Reading per-instance verifier data: CSV, JSONL or Parquet with named columns (Every Eval
Ever's instance-level names where they fit: sample_id, model_id, is_correct, score)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from costcorrect.errors import InputError

READERS = {".csv": pd.read_csv, ".jsonl": lambda p: pd.read_json(p, lines=True)}


def read_table(path: str | Path) -> pd.DataFrame:
    """The rows of ``path`` (.csv, .jsonl or .parquet); at least one row."""
    path = Path(path)
    if not path.is_file():
        raise InputError("file", str(path), "an existing CSV, JSONL or Parquet file")
    suffix = path.suffix.lower()
    reader = READERS.get(suffix, pd.read_parquet if suffix == ".parquet" else None)
    if reader is None:
        raise InputError("file", str(path), "a name ending in .csv, .jsonl or .parquet")
    try:
        frame = reader(path)
    except (ValueError, OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise InputError("file", str(path), f"a readable {suffix[1:]} table ({err})") from None
    if frame.empty:
        raise InputError("file", str(path), "at least one data row")
    return frame


def column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame.columns:
        raise InputError("column", name, f"one of {', '.join(map(str, frame.columns))}")
    values = frame[name]
    if values.isna().any():
        raise InputError(name, "an empty cell", "a value in every row")
    return values


def binary(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A 0/1 column (also true/false)."""
    values = column(frame, name)
    if values.dtype == bool:
        return values.to_numpy().astype(np.int64)
    text = values.astype(str).str.strip().str.lower()
    mapped = text.map({"1": 1, "0": 0, "1.0": 1, "0.0": 0, "true": 1, "false": 0})
    if mapped.isna().any():
        raise InputError(name, values[mapped.isna()].iloc[0], "0/1 or true/false")
    return mapped.to_numpy().astype(np.int64)


def probability(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A column of probabilities in [0, 1]."""
    values = pd.to_numeric(column(frame, name), errors="coerce")
    bad = values.isna() | (values < 0) | (values > 1)
    if bad.any():
        raise InputError(name, frame[name][bad].iloc[0], "a probability in [0, 1]")
    return values.to_numpy(dtype=float)
