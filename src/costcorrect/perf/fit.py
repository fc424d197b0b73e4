"""Fit the roofline's efficiency parameters to measured iteration times, and predict measured
points.

A fit is a maximum a posteriori estimate: least squares on log-ratios (relative error, each
point weighed as a :data:`DATA_SCALE` log-error; or a robust :data:`Loss` of them) plus a
Gaussian prior on every free parameter (:data:`PRIOR_SCALE` around :class:`PerfParams`'
first-principles defaults), so that a parameter the data cannot pin down stays near its prior
instead of wandering with round-off. The roofline's maximum makes the objective kinked, with
local optima; the fit continues from a smooth roofline to the exact one (:data:`SHARPNESS`),
which lands on the same optimum whatever the CPU, BLAS build or thread count. Each fitted
parameter gets a 95 % interval (Laplace approximation at the optimum with the residuals' own
scale, clipped to its bounds) and its data share: the part of its posterior precision that
comes from the data rather than the prior; below ``catalog.calibrations.IDENTIFIED_SHARE`` it
is reported as set by the prior.

A measurement table has one row per measured iteration with the columns ``gpu``, ``model``,
``tp``, ``pp``, ``phase`` (``prefill``|``decode``), ``batch_size`` (requests),
``prompt_tokens`` (new tokens per request in a prefill), ``context_tokens`` (KV tokens per
request in a decode step) and ``time_s`` (seconds); an optional ``clock_ratio`` is the SM clock
the GPU ran at ÷ its maximum (default 1; below where a board held its power limit), so the
fitted compute rates are those at the maximum clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import yaml
from scipy.optimize import least_squares

from costcorrect.catalog.calibrations import Estimate, PerfParams
from costcorrect.catalog.loader import Catalog
from costcorrect.catalog.validation import HeldOutError
from costcorrect.errors import InputError
from costcorrect.io import data_date
from costcorrect.perf.batch import Batch
from costcorrect.perf.calibration import at_clock
from costcorrect.perf.deployment import Deployment
from costcorrect.perf.roofline import allreduce_time, elementwise_time, gemm_time

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
    "gemm_fp8_eff_ratio": (0.2, 2.0),
    "gemm_fp4_eff_ratio": (0.2, 2.0),
    "gemm_quant_s": (0.0, 1e-4),
    "gemm_fp4_quant_s": (0.0, 1e-4),
    "gemm_fp8_quant_bytes": (0.0, 64.0),
    "gemm_fp4_quant_bytes": (0.0, 64.0),
    "gemm_fp8_column_s": (0.0, 1e-7),
    "gemm_fp4_column_s": (0.0, 1e-7),
    "gemm_fp8_depth_s": (0.0, 1e-7),
    "gemm_fp4_depth_s": (0.0, 1e-7),
    "gemm_fp8_epilogue_s": (0.0, 1e-10),
    "gemm_fp4_epilogue_s": (0.0, 1e-10),
    "gemm_hbm_eff": (0.05, 1.0),
    "attn_flops_eff": (0.02, 1.0),
    "attn_hbm_eff": (0.02, 1.0),
    "attn_score_bytes": (0.0, 64.0),
    "attn_flat_pair_bytes": (0.0, 64.0),
    "attn_fixed_s": (0.0, 1e-4),
    "attn_per_sequence_s": (0.0, 2e-6),
    "attn_prefill_per_sequence_s": (0.0, 2e-6),
    "attn_prefill_per_token_s": (0.0, 1e-8),
    "attn_prefill_tail_s": (0.0, 1e-6),
    "attn_decode_fallback_rereads": (0.0, 1.0),
    "attn_decode_ramp_s": (0.0, 1e-4),
    "attn_decode_ramp_bytes": (1e5, 1e10),
    "elementwise_hbm_eff": (0.02, 1.0),
    "kernel_launch_s": (0.0, 1e-4),
    "iteration_overhead_s": (0.0, 0.1),
    "per_sequence_overhead_s": (0.0, 1e-3),
    "link_eff": (0.02, 1.0),
    "collective_latency_s": (0.0, 5e-4),
    "oneshot_link_eff": (0.02, 1.0),
    "oneshot_latency_s": (0.0, 5e-4),
    "oneshot_peer_latency_s": (0.0, 5e-5),
}
#: the prior's standard deviation per parameter, in its own units, around PerfParams' default:
#: ±0.3 for efficiencies, ±8 B for the attention- and quantisation-traffic terms (0: a
#: flash-style kernel; no quantisation pass), and
#: about the default's own size for the fixed costs
PRIOR_SCALE: dict[str, float] = {
    "gemm_flops_eff": 0.3,
    "gemm_fp8_eff_ratio": 0.3,
    "gemm_fp4_eff_ratio": 0.3,
    "gemm_quant_s": 1e-5,
    "gemm_fp4_quant_s": 1e-5,
    "gemm_fp8_quant_bytes": 8.0,
    "gemm_fp4_quant_bytes": 8.0,
    "gemm_fp8_column_s": 1e-9,
    "gemm_fp4_column_s": 1e-9,
    "gemm_fp8_depth_s": 1e-9,
    "gemm_fp4_depth_s": 1e-9,
    "gemm_fp8_epilogue_s": 1e-12,
    "gemm_fp4_epilogue_s": 1e-12,
    "gemm_hbm_eff": 0.3,
    "attn_flops_eff": 0.3,
    "attn_hbm_eff": 0.3,
    "attn_score_bytes": 8.0,
    "attn_flat_pair_bytes": 8.0,
    "attn_fixed_s": 1e-5,
    "attn_per_sequence_s": 2e-7,
    "attn_prefill_per_sequence_s": 2e-7,
    "attn_prefill_per_token_s": 1e-9,
    "attn_prefill_tail_s": 1e-8,
    "attn_decode_fallback_rereads": 0.3,
    "attn_decode_ramp_s": 1e-5,
    "attn_decode_ramp_bytes": 1e8,
    "elementwise_hbm_eff": 0.3,
    "kernel_launch_s": 1e-5,
    "iteration_overhead_s": 2e-3,
    "per_sequence_overhead_s": 1e-4,
    "link_eff": 0.3,
    "collective_latency_s": 2e-5,
    "oneshot_link_eff": 0.3,
    "oneshot_latency_s": 1e-5,
    "oneshot_peer_latency_s": 1e-6,
}
#: fitted to iteration times by default: all but the attention kernel's own fixed and
#: per-sequence costs, which iteration times cannot tell from the iteration's overheads, the
#: one-shot all-reduce of ``custom`` stacks and the FP8/FP4 GEMM rates (kernel tables pin them,
#: ``perf.engine_calibration``)
KERNEL_TABLE_ONLY = (
    "attn_fixed_s",
    "attn_per_sequence_s",
    "attn_prefill_per_sequence_s",
    "attn_prefill_per_token_s",
    "attn_prefill_tail_s",
    "attn_decode_fallback_rereads",
    "attn_decode_ramp_s",
    "attn_decode_ramp_bytes",
    "oneshot_link_eff",
    "oneshot_latency_s",
    "oneshot_peer_latency_s",
    "gemm_fp8_eff_ratio",
    "gemm_fp4_eff_ratio",
    "gemm_quant_s",
    "gemm_fp4_quant_s",
    "gemm_fp8_quant_bytes",
    "gemm_fp4_quant_bytes",
    "gemm_fp8_column_s",
    "gemm_fp4_column_s",
    "gemm_fp8_depth_s",
    "gemm_fp4_depth_s",
    "gemm_fp8_epilogue_s",
    "gemm_fp4_epilogue_s",
)
DEFAULT_FREE = tuple(n for n in BOUNDS if n not in KERNEL_TABLE_ONLY)
#: log-error of one measured point against which the prior is weighed (10 %)
DATA_SCALE = 0.1
#: how a point's log-error z (in DATA_SCALE units) costs: ``linear`` z² (least squares);
#: ``soft_l1`` 2(√(1 + z²) − 1), z² for small errors and 2|z| for large ones, so that a few
#: points far off a smooth model (a kernel table's switches of kernel) do not bias its fit to
#: the rest (scipy.optimize.least_squares' loss of that name, applied to the data terms only)
Loss = Literal["linear", "soft_l1"]
#: the roofline's sharpness at each stage of the fit: smooth p-norms, then the exact maximum
SHARPNESS: tuple[float | None, ...] = (4.0, 16.0, None)
#: a parameter within this many prior scales of a bound is set to the bound
SNAP = 1e-4
Z95 = 1.959963984540054  # two-sided 95 % normal quantile
_TIME_SCALE = 1e-3  # seconds-valued parameters are optimised in milliseconds
#: converge fully so results do not depend on round-off in the model's summation order
TOLERANCES = {"xtol": 1e-12, "ftol": 1e-12, "gtol": 1e-12, "max_nfev": 500}

#: predicted seconds of every row of a prepared table, for parameters and a roofline sharpness
Predictor = Callable[[PerfParams, float | None], np.ndarray]


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
    if "clock_ratio" in df.columns:
        clock = pd.to_numeric(df["clock_ratio"], errors="coerce")
        bad = ~((clock > 0) & (clock <= 1))
        if bad.any():
            raise InputError("clock_ratio", df.loc[bad, "clock_ratio"].iloc[0], "a ratio in (0, 1]")
    if df.empty:
        raise InputError("measurements", "no rows", "at least one measured iteration")
    return df


def step_predictor(df: pd.DataFrame, catalog: Catalog) -> Predictor:
    """Iteration times (s) of the rows of a measurement table, batches built once."""
    groups = []
    clocks = df["clock_ratio"] if "clock_ratio" in df.columns else pd.Series(1.0, index=df.index)
    keys = [df["gpu"], df["model"], df["tp"], df["pp"], clocks.to_numpy(float)]
    for (gpu, model, tp, pp, clock), idx in df.groupby(keys).indices.items():
        rows = df.iloc[idx]
        b = rows["batch_size"].to_numpy(float)
        groups.append(
            (
                (catalog.models.get(model), catalog.hardware.get(gpu), int(tp), int(pp)),
                float(clock),
                idx,
                (rows["phase"] == "prefill").to_numpy(),
                Batch.prefill(rows["prompt_tokens"].to_numpy(float), b),
                Batch.decode(b, rows["context_tokens"].to_numpy(float)),
            )
        )

    def seconds(params: PerfParams, sharpness: float | None = None) -> np.ndarray:
        out = np.empty(len(df))
        for (model, hw, tp, pp), clock, idx, is_prefill, prefill, decode in groups:
            table = Deployment(model, hw, tp, pp, params=at_clock(params, clock)).op_table
            out[idx] = np.where(
                is_prefill, table.total_s(prefill, sharpness), table.total_s(decode, sharpness)
            )
        return out

    return seconds


def kernel_predictor(df: pd.DataFrame, catalog: Catalog) -> Predictor:
    """Times (s) of per-layer kernels: rows with ``gpu``, ``model``, ``tp``, ``num_tokens``
    and ``op`` = a linear name of the model (``qkv``, ``mlp_up``, …) or ``elementwise`` (all
    norms, activation, rope and residual adds of one layer)."""
    groups = []
    for (gpu, model, tp, op), idx in df.groupby(["gpu", "model", "tp", "op"]).indices.items():
        spec = catalog.models.get(model)
        linear = next((x for x in spec.linears() if x.name == op), None)
        if linear is None and op != "elementwise":
            raise InputError("op", op, f"a linear of {model} or 'elementwise'")
        tokens = df["num_tokens"].to_numpy(float)[idx]
        groups.append(((spec, catalog.hardware.get(gpu), int(tp)), idx, linear, tokens))

    def seconds(params: PerfParams, sharpness: float | None = None) -> np.ndarray:
        out = np.empty(len(df))
        for (model, hw, tp), idx, linear, tokens in groups:
            dep = Deployment(model, hw, tp, params=params)
            out[idx] = (
                elementwise_time(dep, tokens, sharpness)
                if linear is None
                else gemm_time(dep, linear, tokens, sharpness)
            )
        return out

    return seconds


def allreduce_predictor(df: pd.DataFrame, catalog: Catalog) -> Predictor:
    """Ring all-reduce times (s) of rows with ``gpu``, ``num_workers`` and ``size_bytes`` (an
    α-β model: no roofline maximum, so the sharpness does not enter)."""
    groups = [
        (catalog.hardware.get(gpu), idx, df.iloc[idx])
        for gpu, idx in df.groupby("gpu").indices.items()
    ]

    def seconds(params: PerfParams, sharpness: float | None = None) -> np.ndarray:
        out = np.empty(len(df))
        for hw, idx, rows in groups:
            out[idx] = allreduce_time(
                hw, params, rows["num_workers"].to_numpy(float), rows["size_bytes"].to_numpy(float)
            )
        return out

    return seconds


def predict(df: pd.DataFrame, params: PerfParams, catalog: Catalog) -> np.ndarray:
    """Predicted iteration time (s) of every row of a measurement table."""
    return step_predictor(df, catalog)(params)


def predict_kernels(df: pd.DataFrame, params: PerfParams, catalog: Catalog) -> np.ndarray:
    """Predicted time (s) of per-layer kernels (rows as :func:`kernel_predictor` takes)."""
    return kernel_predictor(df, catalog)(params)


def predict_allreduce(df: pd.DataFrame, params: PerfParams, catalog: Catalog) -> np.ndarray:
    """Predicted ring all-reduce time (s) for rows with ``gpu``, ``num_workers``, ``size_bytes``."""
    return allreduce_predictor(df, catalog)(params)


def _scale(name: str, value: float) -> float:
    return value / _TIME_SCALE if name.endswith("_s") else value


def _unscale(name: str, value: float) -> float:
    return value * _TIME_SCALE if name.endswith("_s") else value


@dataclass(frozen=True)
class FitResult:
    """Fitted parameters, each fitted one's :class:`Estimate`, the number of parameter
    directions the data pin more tightly than the prior, and each training row's predicted ÷
    measured time."""

    params: PerfParams
    free: tuple[str, ...]
    estimates: dict[str, Estimate]
    data_rank: int
    train_ratio: np.ndarray

    @property
    def train_ape(self) -> np.ndarray:
        """Each training row's absolute relative error."""
        return np.abs(self.train_ratio - 1.0)

    @property
    def train_median_ape(self) -> float:
        return float(np.median(self.train_ape))

    @property
    def set_by_prior(self) -> tuple[str, ...]:
        """Fitted parameters the data cannot pin down (they stay near their prior)."""
        return tuple(n for n, e in self.estimates.items() if not e.identified)


def fit(
    df: pd.DataFrame,
    catalog: Catalog,
    initial: PerfParams | None = None,
    free: Sequence[str] = DEFAULT_FREE,
) -> FitResult:
    """MAP fit of the ``free`` parameters to a measurement table (see the module docstring)."""
    check_measurements(df)
    return fit_to(step_predictor, df, catalog, initial or PerfParams(), free)


@dataclass(frozen=True)
class _Problem:
    """One fit in the optimiser's coordinates (seconds as milliseconds): log-ratio residuals
    under ``loss``, the prior and the bounds of the ``free`` parameters, the others held at
    ``base``."""

    seconds: Predictor
    measured: np.ndarray
    base: PerfParams
    free: tuple[str, ...]
    loss: Loss

    def vector(self, names: Sequence[str], values: dict[str, float]) -> np.ndarray:
        return np.array([_scale(n, values[n]) for n in names])

    @property
    def lower(self) -> np.ndarray:
        return self.vector(self.free, {n: BOUNDS[n][0] for n in self.free})

    @property
    def upper(self) -> np.ndarray:
        return self.vector(self.free, {n: BOUNDS[n][1] for n in self.free})

    @property
    def prior_mean(self) -> np.ndarray:
        return self.vector(self.free, PerfParams().model_dump())

    @property
    def prior_scale(self) -> np.ndarray:
        return self.vector(self.free, PRIOR_SCALE)

    def params(self, x: np.ndarray) -> PerfParams:
        values = {n: _unscale(n, v) for n, v in zip(self.free, x, strict=True)}
        return self.base.model_copy(update=values)

    def residuals(self, x: np.ndarray, sharpness: float | None = None) -> np.ndarray:
        return np.log(self.seconds(self.params(x), sharpness) / self.measured)

    def solve(self, x: np.ndarray, sharpness: float | None, moving: np.ndarray) -> np.ndarray:
        """The MAP over the ``moving`` parameters (mask), the others held at ``x``."""
        mean, scale = self.prior_mean, self.prior_scale

        def objective(z: np.ndarray) -> np.ndarray:
            full = x.copy()
            full[moving] = z
            z = self.residuals(full, sharpness) / DATA_SCALE
            data = np.sign(z) * np.sqrt(data_loss(z, self.loss))
            return np.concatenate([data, (full - mean) / scale])

        result = least_squares(
            objective,
            x[moving],
            bounds=(self.lower[moving], self.upper[moving]),
            x_scale=scale[moving],
            diff_step=1e-4,
            **TOLERANCES,
        )
        out = x.copy()
        out[moving] = result.x
        return out

    def fit(self, x0: np.ndarray) -> np.ndarray:
        """Continue through :data:`SHARPNESS`, then set parameters at their bounds exactly
        and solve again for the rest."""
        lower, upper, scale = self.lower, self.upper, self.prior_scale
        x = np.clip(x0, lower, upper)
        inside = np.ones(len(x), dtype=bool)
        for sharpness in SHARPNESS:
            x = self.solve(x, sharpness, inside)
        while True:
            at_lower, at_upper = x - lower < SNAP * scale, upper - x < SNAP * scale
            x = np.where(at_lower, lower, np.where(at_upper, upper, x))
            if not (inside & (at_lower | at_upper)).any():
                return x
            inside &= ~(at_lower | at_upper)
            if inside.any():
                x = self.solve(x, SHARPNESS[-1], inside)

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        """d residuals / d x by one-sided differences stepping into the bounds."""
        upper, scale = self.upper, self.prior_scale
        r0 = self.residuals(x)
        columns = []
        for j in range(len(x)):
            step = 1e-4 * scale[j]
            step = step if x[j] + step <= upper[j] else -step
            moved = x.copy()
            moved[j] += step
            columns.append((self.residuals(moved) - r0) / step)
        return np.stack(columns, axis=1)

    def estimates(self, x: np.ndarray) -> tuple[dict[str, Estimate], int]:
        """Laplace 95 % intervals and data shares, and the data's rank over the prior's."""
        r, jac = self.residuals(x), self.jacobian(x)
        scale = self.prior_scale
        variance = float(r @ r) / max(len(r) - len(x), 1)
        covariance = np.linalg.inv(jac.T @ jac / variance + np.diag(1.0 / scale**2))
        sd = np.sqrt(np.diag(covariance))
        share = np.clip(1.0 - np.diag(covariance) / scale**2, 0.0, 1.0)
        low = np.clip(x - Z95 * sd, self.lower, self.upper)
        high = np.clip(x + Z95 * sd, self.lower, self.upper)
        estimates = {
            n: Estimate(
                low=_unscale(n, low[j]), high=_unscale(n, high[j]), data_share=float(share[j])
            )
            for j, n in enumerate(self.free)
        }
        whitened = jac * scale / np.sqrt(variance)
        rank = int(np.sum(np.linalg.svd(whitened, compute_uv=False) > 1.0))
        return estimates, rank


def data_loss(z: np.ndarray, loss: Loss) -> np.ndarray:
    """Each point's cost under ``loss`` (see :data:`Loss`) at log-errors ``z`` in
    :data:`DATA_SCALE` units: −2 log-likelihood up to a constant."""
    return 2.0 * (np.sqrt(1.0 + z**2) - 1.0) if loss == "soft_l1" else z**2


def fit_to(
    predictor: Callable[[pd.DataFrame, Catalog], Predictor],
    df: pd.DataFrame,
    catalog: Catalog,
    initial: PerfParams,
    free: Sequence[str],
    loss: Loss = "linear",
) -> FitResult:
    """MAP fit of the ``free`` parameters to ``df.time_s`` as ``predictor(df, catalog)``
    predicts it under ``loss``, starting from (and holding the others at) ``initial``."""
    unknown = [n for n in free if n not in BOUNDS]
    if unknown:
        raise InputError("free", unknown[0], f"parameters among {', '.join(BOUNDS)}")
    measured = df["time_s"].to_numpy(float)
    problem = _Problem(predictor(df, catalog), measured, initial, tuple(free), loss)
    x = problem.fit(problem.vector(problem.free, initial.model_dump()))
    estimates, rank = problem.estimates(x)
    params = problem.params(x)
    ratio = problem.seconds(params, None) / problem.measured
    return FitResult(params, problem.free, estimates, rank, ratio)


# --- fitting a user's measurement file ---------------------------------------------------------


def _significant(value: float, digits: int) -> float:
    return float(f"{value:.{digits}g}")


def calibration_entry(
    hardware: str,
    stack: str,
    source: str,
    date: dt.date,
    fitted_on: str,
    params: PerfParams,
    estimates: dict[str, Estimate],
    held_out: HeldOutError | None = None,
) -> dict:
    """A catalog ``calibrations`` entry: every parameter to 4 significant digits, the fitted
    ones' 95 % intervals to 3 and their data shares to 0.001, and the stack's held-out error
    (fractions to 0.0001). ``date``: the data's date."""
    entry = {
        "name": f"{hardware}/{stack}",
        "hardware": hardware,
        "stack": stack,
        "source": source,
        "date": date.isoformat(),
        "fitted_on": fitted_on,
        "params": {
            k: _significant(v, 4) if isinstance(v, float) else v
            for k, v in params.model_dump().items()
        },
        "estimates": {
            name: {
                "low": _significant(e.low, 3),
                "high": _significant(e.high, 3),
                "data_share": round(e.data_share, 3),
            }
            for name, e in estimates.items()
        },
    }
    if held_out is not None:
        entry["held_out"] = held_out.to_dict()
    return entry


def calibrations_yaml(entries: list[dict], header: str = "") -> str:
    """A catalog file of calibration entries (use it with ``--catalog``), after ``header``
    comment lines."""
    body = yaml.safe_dump(
        {"schema_version": 1, "calibrations": entries}, sort_keys=False, width=100
    )
    return header + body


def describe_fit(result: FitResult, points: str) -> str:
    """The ``fitted_on`` line of a calibration: data, training error, what the data pin."""
    prior = ", ".join(result.set_by_prior) or "none"
    return (
        f"{points}; train median APE {result.train_median_ape:.1%}, worst "
        f"{float(np.max(result.train_ape)):.1%}; the data pin {result.data_rank} of "
        f"{len(result.free)} parameter directions; set by the prior: {prior}"
    )


@dataclass(frozen=True)
class CalibrationFit:
    """A fitted calibration for one GPU and stack, as a catalog ``calibrations`` entry."""

    hardware: str
    stack: str
    source: str
    date: dt.date
    points: int
    result: FitResult

    @property
    def params(self) -> PerfParams:
        return self.result.params

    @property
    def train_median_ape(self) -> float:
        return self.result.train_median_ape

    def to_dict(self) -> dict:
        return calibration_entry(
            self.hardware,
            self.stack,
            self.source,
            self.date,
            describe_fit(self.result, f"{self.points} iteration times"),
            self.result.params,
            self.result.estimates,
        )

    def to_yaml(self) -> str:
        """A catalog file holding this calibration (use it with ``--catalog``)."""
        return calibrations_yaml([self.to_dict()])


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
    """Fit all parameters to the rows of ``path`` measured on ``gpu`` (the only GPU if None),
    dated by the file."""
    return fit_measurement_table(
        read_measurements(path),
        catalog,
        gpu,
        stack,
        source=f"costcorrect perf fit {Path(path).name}",
        date=data_date([path]),
    )


def fit_measurement_table(
    df: pd.DataFrame,
    catalog: Catalog,
    gpu: str | None,
    stack: str,
    source: str,
    date: dt.date,
) -> CalibrationFit:
    """Fit all parameters to the rows of a measurement table measured on ``gpu`` (the only
    GPU if None); ``source`` and ``date`` say where and when they were measured."""
    df = check_measurements(df if "pp" in df.columns else df.assign(pp=1))
    gpus = sorted(df["gpu"].unique())
    if gpu is None and len(gpus) > 1:
        raise InputError("gpu", None, f"one of {', '.join(gpus)} (the file has several)")
    hardware = catalog.hardware.get(gpu or gpus[0])
    rows = df[[hardware.matches(g) for g in df["gpu"]]].reset_index(drop=True)
    if rows.empty:
        raise InputError("gpu", gpu, f"a GPU present in the file: {', '.join(gpus)}")
    rows = rows.assign(gpu=hardware.name)
    return CalibrationFit(
        hardware=hardware.name,
        stack=stack,
        source=source,
        date=date,
        points=len(rows),
        result=fit(rows, catalog),
    )
