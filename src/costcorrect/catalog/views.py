"""Tabular and per-entry views of the catalog, in human units (what ``catalog list|show`` print)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from pydantic import BaseModel

from costcorrect.catalog.base import Sourced
from costcorrect.catalog.calibrations import Estimate, PerfParams
from costcorrect.catalog.loader import Catalog
from costcorrect.errors import InputError
from costcorrect.units import format_quantity

VIEW_KINDS = ("hardware", "models", "workloads", "calibrations", "prices")


def _check_kind(kind: str) -> None:
    if kind not in VIEW_KINDS:
        raise InputError("kind", kind, f"one of {', '.join(VIEW_KINDS)}")


def summary_frame(catalog: Catalog, kind: str) -> pd.DataFrame:
    """One row per entry of ``kind`` with its key numbers formatted for people."""
    _check_kind(kind)
    if kind == "prices":
        from costcorrect.catalog.prices import api_prices_frame

        return api_prices_frame()
    rows: list[dict[str, Any]] = []
    if kind == "hardware":
        for h in catalog.hardware:
            rows.append(
                {
                    "name": h.name,
                    "memory": format_quantity(h.memory_bytes.value, "bytes"),
                    "HBM": format_quantity(h.hbm_bytes_per_s.value, "bandwidth"),
                    "bf16 dense": format_quantity(h.peak_flops("bf16"), "flop_rate"),
                    "fp8 dense": format_quantity(h.flops_per_s["fp8"].value, "flop_rate")
                    if "fp8" in h.flops_per_s
                    else "-",
                    "link": format_quantity(h.intra_node_bytes_per_s.value, "bandwidth"),
                    "TDP": format_quantity(h.tdp_w.value, "power"),
                    "price": format_quantity(h.price_usd_per_s.value, "usd_rate"),
                    "price date": str(h.price_usd_per_s.date),
                }
            )
    elif kind == "models":
        for m in catalog.models:
            rows.append(
                {
                    "name": m.name,
                    "params": format_quantity(m.param_count, "count"),
                    "active": format_quantity(m.active_param_count, "count"),
                    "layers": m.num_layers,
                    "attention": "MLA" if m.mla else ("SSM" if m.ssm else _attn_kind(m)),
                    "MoE": f"{m.moe.top_k}/{m.moe.num_experts}" if m.moe else "-",
                    "KV/token": format_quantity(m.kv_bytes_per_token(), "bytes"),
                    "weights": m.weight_format,
                }
            )
    elif kind == "workloads":
        for w in catalog.workloads:
            rows.append(
                {
                    "name": w.name,
                    "kind": w.kind,
                    "mean input tok": round(w.mean_input_tokens, 1),
                    "mean output tok": round(w.mean_output_tokens, 1),
                    "date": str(w.date),
                }
            )
    else:
        for c in catalog.calibrations:
            rows.append(
                {"name": c.name, "hardware": c.hardware, "stack": c.stack, "fitted on": c.fitted_on}
            )
    return pd.DataFrame(rows)


def calibration_frame(params: PerfParams, estimates: dict[str, Estimate]) -> pd.DataFrame:
    """One row per parameter of a calibration: its value, and for the fitted ones the 95 %
    interval, the data share of its precision and whether the data or the fit's prior set it
    (human units for seconds)."""
    rows = []
    for name, value in params.model_dump().items():
        estimate = estimates.get(name)
        rows.append(
            {
                "parameter": name,
                "value": _param_text(name, value),
                "95 % interval": "-"
                if estimate is None
                else f"[{_param_text(name, estimate.low)}, {_param_text(name, estimate.high)}]",
                "data share": "-" if estimate is None else f"{estimate.data_share:.0%}",
                "set by": "not fitted"
                if estimate is None
                else ("data" if estimate.identified else "prior"),
            }
        )
    return pd.DataFrame(rows)


def _param_text(name: str, value: float | str) -> str:
    if isinstance(value, str):
        return value
    return format_quantity(value, "time") if name.endswith("_s") else f"{value:.4g}"


def _attn_kind(m) -> str:
    if m.kv_heads == m.num_attention_heads:
        return "MHA"
    return "MQA" if m.kv_heads == 1 else f"GQA {m.num_attention_heads}/{m.kv_heads}"


def entry_dict(catalog: Catalog, kind: str, name: str) -> dict[str, Any]:
    """Every field of one entry, sourced numbers as ``{value, source, date}``, derived sizes."""
    _check_kind(kind)
    if kind == "prices":
        from costcorrect.catalog.prices import find_api_price

        return find_api_price(name).model_dump(mode="json")
    entry = catalog.table(kind).get(name)
    data = _plain(entry)
    if kind == "models":
        data["derived"] = {
            "param_count": entry.param_count,
            "active_param_count": entry.active_param_count,
            "kv_bytes_per_token": entry.kv_bytes_per_token(),
        }
    return data


def _plain(value: Any) -> Any:
    if isinstance(value, Sourced):
        return {"value": value.value, "source": value.source, "date": str(value.date)}
    if isinstance(value, BaseModel):
        return {k: _plain(getattr(value, k)) for k in type(value).model_fields}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value if isinstance(value, int | float | str | bool | type(None)) else str(value)
