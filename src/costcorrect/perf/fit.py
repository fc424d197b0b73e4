"""Fit the roofline's efficiency parameters to measured iteration times (least squares on
log-ratios, i.e. relative error), and predict measured points.

A measurement table has one row per measured iteration with the columns ``gpu``, ``model``,
``tp``, ``pp``, ``phase`` (``prefill``|``decode``), ``batch_size`` (requests),
``prompt_tokens`` (new tokens per request in a prefill), ``context_tokens`` (KV tokens per
request in a decode step) and ``time_s`` (seconds).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy.optimize import least_squares

from costcorrect.catalog.calibrations import PerfParams
from costcorrect.catalog.loader import Catalog
from costcorrect.errors import InputError
from costcorrect.perf.batch import Batch
from costcorrect.perf.deployment import Deployment
from costcorrect.perf.roofline import step_time

REQUIRED_COLUMNS = (
    "gpu",
    "model",
    "tp",
    "pp",
    "phase",
    "batch_size",
    "prompt_tokens",
    "context_tokens",
    "time_s",
)
#: parameters fitted by default, with (lower, upper) bounds in their own units
BOUNDS: dict[str, tuple[float, float]] = {
    "gemm_flops_eff": (0.05, 1.0),
    "gemm_hbm_eff": (0.05, 1.0),
    "attn_flops_eff": (0.02, 1.0),
    "attn_hbm_eff": (0.02, 1.0),
    "attn_score_bytes": (0.0, 64.0),
    "attn_flat_pair_bytes": (0.0, 64.0),
    "elementwise_hbm_eff": (0.02, 1.0),
    "kernel_launch_s": (0.0, 1e-4),
    "iteration_overhead_s": (0.0, 0.1),
    "per_sequence_overhead_s": (0.0, 1e-3),
    "link_eff": (0.02, 1.0),
    "collective_latency_s": (0.0, 5e-4),
}
DEFAULT_FREE = tuple(BOUNDS)
_TIME_SCALE = 1e-3  # seconds-valued parameters are optimised in milliseconds
#: converge fully so results do not depend on round-off in the model's summation order
TOLERANCES = {"xtol": 1e-10, "ftol": 1e-10, "gtol": 1e-10, "max_nfev": 300}


def check_measurements(df: pd.DataFrame) -> pd.DataFrame:
    """Validate a measurement table; raise :class:`InputError` naming the first bad column."""
    for col in REQUIRED_COLUMNS:
        if col not in df.columns:
            raise InputError("measurements", f"missing column {col!r}", ", ".join(REQUIRED_COLUMNS))
    bad_phase = ~df["phase"].isin(["prefill", "decode"])
    if bad_phase.any():
        raise InputError("phase", df.loc[bad_phase, "phase"].iloc[0], "'prefill' or 'decode'")
    for col in ("tp", "pp", "batch_size", "prompt_tokens", "context_tokens", "time_s"):
        values = pd.to_numeric(df[col], errors="coerce")
        bad = (
            values.isna()
            | (values < 0)
            | ((values <= 0) if col in ("tp", "pp", "time_s") else False)
        )
        if bad.any():
            raise InputError(col, df.loc[bad, col].iloc[0], "a positive number")
    if df.empty:
        raise InputError("measurements", "no rows", "at least one measured iteration")
    return df


def predict(df: pd.DataFrame, params: PerfParams, catalog: Catalog) -> np.ndarray:
    """Predicted iteration time (s) of every row of a measurement table."""
    out = np.empty(len(df))
    positions = np.arange(len(df))
    for (gpu, model, tp, pp), idx in df.groupby(["gpu", "model", "tp", "pp"]).indices.items():
        dep = Deployment(
            catalog.models.get(model), catalog.hardware.get(gpu), int(tp), int(pp), params=params
        )
        rows = df.iloc[idx]
        is_prefill = (rows["phase"] == "prefill").to_numpy()
        b = rows["batch_size"].to_numpy(float)
        pre = Batch.prefill(rows["prompt_tokens"].to_numpy(float), b)
        dec = Batch.decode(b, rows["context_tokens"].to_numpy(float))
        t_pre, t_dec = step_time(dep, pre).total_s, step_time(dep, dec).total_s
        out[positions[idx]] = np.where(is_prefill, t_pre, t_dec)
    return out


def _pack(params: PerfParams, free: Sequence[str]) -> np.ndarray:
    return np.array([_scale(name, getattr(params, name)) for name in free])


def _scale(name: str, value: float) -> float:
    return value / _TIME_SCALE if name.endswith("_s") else value


def _unpack(x: np.ndarray, base: PerfParams, free: Sequence[str]) -> PerfParams:
    values = {n: v * _TIME_SCALE if n.endswith("_s") else v for n, v in zip(free, x, strict=True)}
    return base.model_copy(update=values)


@dataclass(frozen=True)
class FitResult:
    """Fitted parameters and the relative error of each training row."""

    params: PerfParams
    free: tuple[str, ...]
    train_ape: np.ndarray

    @property
    def train_median_ape(self) -> float:
        return float(np.median(self.train_ape))


def fit(
    df: pd.DataFrame,
    catalog: Catalog,
    initial: PerfParams | None = None,
    free: Sequence[str] = DEFAULT_FREE,
) -> FitResult:
    """Least-squares fit of the ``free`` parameters to minimise Σ log²(predicted / measured)."""
    check_measurements(df)
    return fit_to(predict, df, catalog, initial or PerfParams(), free)


# --- kernel-level calibration (GEMMs, elementwise, collectives) -----------------------------

KERNEL_PARAMS = ("gemm_flops_eff", "gemm_hbm_eff", "elementwise_hbm_eff", "kernel_launch_s")
LINK_PARAMS = ("link_eff", "collective_latency_s")


def predict_kernels(df: pd.DataFrame, params: PerfParams, catalog: Catalog) -> np.ndarray:
    """Predicted time (s) of per-layer kernels: rows with ``gpu``, ``model``, ``tp``,
    ``num_tokens`` and ``op`` = a linear name of the model (``qkv``, ``mlp_up``, …) or
    ``elementwise`` (all norms, activation, rope and residual adds of one layer)."""
    from costcorrect.perf.roofline import elementwise_time, gemm_time

    out = np.empty(len(df))
    positions = np.arange(len(df))
    for (gpu, model, tp, op), idx in df.groupby(["gpu", "model", "tp", "op"]).indices.items():
        dep = Deployment(
            catalog.models.get(model), catalog.hardware.get(gpu), int(tp), params=params
        )
        tokens = df["num_tokens"].to_numpy(float)[idx]
        if op == "elementwise":
            out[positions[idx]] = elementwise_time(dep, tokens)
            continue
        linear = next((x for x in dep.model.linears() if x.name == op), None)
        if linear is None:
            raise InputError("op", op, f"a linear of {model} or 'elementwise'")
        out[positions[idx]] = gemm_time(dep, linear, tokens)
    return out


def predict_allreduce(df: pd.DataFrame, params: PerfParams, catalog: Catalog) -> np.ndarray:
    """Predicted ring all-reduce time (s) for rows with ``gpu``, ``num_workers``, ``size_bytes``."""
    from costcorrect.perf.roofline import allreduce_time

    out = np.empty(len(df))
    for gpu, idx in df.groupby("gpu").indices.items():
        hw = catalog.hardware.get(gpu)
        rows = df.iloc[idx]
        out[idx] = allreduce_time(
            hw, params, rows["num_workers"].to_numpy(float), rows["size_bytes"].to_numpy(float)
        )
    return out


def fit_to(
    predictor,
    df: pd.DataFrame,
    catalog: Catalog,
    initial: PerfParams,
    free: Sequence[str],
) -> FitResult:
    """Least squares of Σ log²(predictor(df) / df.time_s) over the ``free`` parameters."""
    unknown = [n for n in free if n not in BOUNDS]
    if unknown:
        raise InputError("free", unknown[0], f"parameters among {', '.join(BOUNDS)}")
    free = tuple(free)
    measured = df["time_s"].to_numpy(float)
    lower = [_scale(n, BOUNDS[n][0]) for n in free]
    upper = [_scale(n, BOUNDS[n][1]) for n in free]
    x0 = np.clip(_pack(initial, free), lower, upper)

    def residuals(x: np.ndarray) -> np.ndarray:
        return np.log(predictor(df, _unpack(x, initial, free), catalog) / measured)

    result = least_squares(
        residuals, x0, bounds=(lower, upper), x_scale="jac", diff_step=1e-4, **TOLERANCES
    )
    params = _unpack(result.x, initial, free)
    return FitResult(params, free, np.abs(predictor(df, params, catalog) / measured - 1.0))


# --- fitting a user's measurement file ---------------------------------------------------------


@dataclass(frozen=True)
class CalibrationFit:
    """A fitted calibration for one GPU and stack, as a catalog ``calibrations`` entry."""

    hardware: str
    stack: str
    source: str
    params: PerfParams
    points: int
    train_median_ape: float
    train_max_ape: float

    def to_dict(self) -> dict:
        return {
            "name": f"{self.hardware}/{self.stack}",
            "hardware": self.hardware,
            "stack": self.stack,
            "source": self.source,
            "date": dt.date.today().isoformat(),
            "fitted_on": f"{self.points} iteration times; train median APE "
            f"{self.train_median_ape:.1%}, worst {self.train_max_ape:.1%}",
            "params": {k: float(f"{v:.4g}") for k, v in self.params.model_dump().items()},
        }

    def to_yaml(self) -> str:
        """A catalog file holding this calibration (use it with ``--catalog``)."""
        return yaml.safe_dump(
            {"schema_version": 1, "calibrations": [self.to_dict()]}, sort_keys=False
        )


def read_measurements(path: str | Path) -> pd.DataFrame:
    """Read a measurement CSV (``pp`` defaults to 1); bad files raise :class:`InputError`."""
    path = Path(path)
    if not path.is_file():
        raise InputError("measurements", str(path), "an existing CSV file")
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise InputError("measurements", str(path), f"a readable CSV ({err})") from None
    if "pp" not in df.columns:
        df["pp"] = 1
    return check_measurements(df)


def fit_measurement_file(
    path: str | Path, catalog: Catalog, gpu: str | None = None, stack: str = "user"
) -> CalibrationFit:
    """Fit all parameters to the rows of ``path`` measured on ``gpu`` (the only GPU if None)."""
    df = read_measurements(path)
    gpus = sorted(df["gpu"].unique())
    if gpu is None and len(gpus) > 1:
        raise InputError("gpu", None, f"one of {', '.join(gpus)} (the file has several)")
    hardware = catalog.hardware.get(gpu or gpus[0])
    rows = df[[hardware.matches(g) for g in df["gpu"]]].reset_index(drop=True)
    if rows.empty:
        raise InputError("gpu", gpu, f"a GPU present in the file: {', '.join(gpus)}")
    rows = rows.assign(gpu=hardware.name)
    result = fit(rows, catalog)
    return CalibrationFit(
        hardware=hardware.name,
        stack=stack,
        source=f"costcorrect perf fit {path.name if isinstance(path, Path) else path}",
        params=result.params,
        points=len(rows),
        train_median_ape=result.train_median_ape,
        train_max_ape=float(np.max(result.train_ape)),
    )
