"""Per-query routing data from a table (CSV, JSONL or Parquet), one row per query:

- ``M``: whether model M answered correctly (0/1, true/false, or a probability), for every
  model M that also has a cost;
- ``M_cost`` ($ per query), or ``M_input_tokens`` and ``M_output_tokens`` priced at M's API
  list price from the catalog (or a price given per model);
- ``prompt`` (optional): the query text, the learned router's features;
- ``M_verified`` (optional, on the cheapest model): a self-verification accept bit, which
  enables the cascade router.

Models are found from their cost columns; ``models`` selects and orders a subset.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from costcorrect.correct.ledger import PER_MILLION, Prices
from costcorrect.errors import InputError
from costcorrect.route.evaluate import RoutingData
from costcorrect.route.outcomes import Outcomes
from costcorrect.verify.data import binary, column, probability, read_table

COST, INPUT, OUTPUT, VERIFIED = "_cost", "_input_tokens", "_output_tokens", "_verified"


def _models(frame: pd.DataFrame) -> list[str]:
    found = []
    for name in frame.columns.astype(str):
        for suffix in (COST, OUTPUT):
            model = name[: -len(suffix)] if name.endswith(suffix) else None
            if model and model in frame.columns and model not in found:
                found.append(model)
    return found


def _correct(frame: pd.DataFrame, model: str) -> np.ndarray:
    """0/1, true/false or probability column ``model``."""
    if column(frame, model).dtype in (bool, object):
        return binary(frame, model).astype(float)
    return probability(frame, model)


def _cost(frame: pd.DataFrame, model: str, prices: dict[str, Prices]) -> np.ndarray:
    if model + COST in frame.columns:
        values = pd.to_numeric(column(frame, model + COST), errors="coerce")
        if values.isna().any() or (values < 0).any():
            raise InputError(model + COST, frame[model + COST].iloc[0], "a cost ≥ 0 in $")
        return values.to_numpy(float)
    price = prices.get(model) or Prices.from_catalog(model)
    tokens = []
    for suffix in (INPUT, OUTPUT):
        values = pd.to_numeric(column(frame, model + suffix), errors="coerce")
        if values.isna().any() or (values < 0).any():
            raise InputError(model + suffix, frame[model + suffix].iloc[0], "a token count ≥ 0")
        tokens.append(values.to_numpy(float))
    return (tokens[0] * price.input_usd_per_m + tokens[1] * price.output_usd_per_m) / PER_MILLION


def routing_data(
    frame: pd.DataFrame,
    name: str,
    models: list[str] | None = None,
    prices: dict[str, Prices] | None = None,
) -> RoutingData:
    """The routing data of ``frame`` (see the module docstring for its columns)."""
    found = _models(frame)
    if models:
        missing = [m for m in models if m not in found]
        if missing:
            raise InputError(
                "models",
                missing[0],
                f"a model with a correctness column and a cost column; found {found or 'none'}",
            )
        found = list(models)
    if len(found) < 2:
        raise InputError(
            "columns",
            ", ".join(map(str, frame.columns)),
            "two or more models, each with a correctness column M and M_cost or "
            "M_input_tokens + M_output_tokens",
        )
    prices = prices or {}
    correct = np.column_stack(
        [
            probability(frame.assign(**{m: frame[m].astype(float)}), m)
            if frame[m].dtype != object
            else binary(frame, m).astype(float)
            for m in found
        ]
    )
    cost = np.column_stack([_cost(frame, m, prices) for m in found])
    outcomes = Outcomes(tuple(found), cost, correct)
    texts = column(frame, "prompt").astype(str).to_numpy() if "prompt" in frame else None
    cheapest = found[int(np.argmin(cost.mean(axis=0)))]
    accepted = binary(frame, cheapest + VERIFIED) if cheapest + VERIFIED in frame else None
    return RoutingData(name, outcomes, texts, accepted)


def read_routing_data(
    path: str | Path, models: list[str] | None = None, prices: dict[str, Prices] | None = None
) -> RoutingData:
    """:func:`routing_data` of a CSV, JSONL or Parquet file."""
    return routing_data(read_table(path), Path(path).stem, models, prices)
