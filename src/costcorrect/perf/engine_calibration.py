"""Calibrate a stack of today's engines (GPU × engine × version) to its measured kernel tables.

The roofline's kernel parameters are fitted in stages, each a MAP fit (``perf.fit``) holding
the earlier stages' results: GEMM efficiencies and the kernel launch cost on the bf16 GEMM
table; the FP8 and FP4 GEMMs' share of their formats' peaks, their inputs' quantisation
(a per-call cost, and each format's bytes per input element) and their epilogue (a cost per
output element) on theirs (where collected);
attention's bandwidth efficiency, fixed and per-sequence costs on the generation table, with
the kernel's optional features (:data:`CHOICES`: a group limit — TensorRT-LLM's tables put it
at 32 query heads per KV head, beyond which the cache is read per query head — and a ramp to
the streaming bandwidth), then its FLOP efficiency, score traffic and costs per (sequence,
head), per (query row, head) and per KV token of a sequence's span (the last wave's longest
tile) on the context table; link efficiencies and latencies (per
call, and per peer of the one-shot kernel) of the engine's ``custom`` all-reduce (bandwidth
algorithm and one-shot kernel, the cheaper by message size) on its table. The stack is GPU
kernel time only: CUDA-graph engines overlap the CPU's scheduling with the GPU, so the
per-iteration and per-sequence overheads are set to 0 (not measured here), and elementwise
kernels keep the default efficiency (no table).

Held-out error per op class comes from a separate fit that never sees every other grid value
of one shape dimension (:data:`HOLD_OUT`): unseen GEMM widths, head counts and message sizes.
Beside it, the tables' own neighbours (:func:`neighbour_predictions`) say how irregular the
measurements are along that dimension: no smooth model can beat them at the kernel switches.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.interpolate import interp1d

from costcorrect.catalog.calibrations import PerfParams
from costcorrect.catalog.loader import Catalog
from costcorrect.catalog.models import Linear
from costcorrect.catalog.validation import HeldOutError
from costcorrect.perf.batch import Batch
from costcorrect.perf.deployment import Deployment
from costcorrect.perf.fit import (
    DATA_SCALE,
    FitResult,
    Loss,
    Predictor,
    calibration_entry,
    data_loss,
    fit_to,
)
from costcorrect.perf.kernel_tables import (
    GEMM_FORMATS,
    OPS,
    PADDING_SLACK,
    SHAPE_COLUMNS,
    KernelTables,
    read_kernel_tables,
)
from costcorrect.perf.roofline import allreduce_time, attention_time, gemm_time

#: (op classes, parameters fitted to them), in fitting order
STAGES: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("gemm",), ("gemm_flops_eff", "gemm_hbm_eff", "kernel_launch_s")),
    (
        ("gemm_fp8",),
        ("gemm_fp8_eff_ratio", "gemm_quant_s", "gemm_fp8_quant_bytes", "gemm_fp8_epilogue_s"),
    ),
    (
        ("gemm_fp4",),
        ("gemm_fp4_eff_ratio", "gemm_fp4_quant_s", "gemm_fp4_quant_bytes", "gemm_fp4_epilogue_s"),
    ),
    (("attn_decode",), ("attn_hbm_eff", "attn_fixed_s", "attn_per_sequence_s")),
    (
        ("attn_prefill",),
        (
            "attn_flops_eff",
            "attn_score_bytes",
            "attn_prefill_per_sequence_s",
            "attn_prefill_per_token_s",
            "attn_prefill_tail_s",
        ),
    ),
    (
        ("all_reduce",),
        (
            "link_eff",
            "collective_latency_s",
            "oneshot_link_eff",
            "oneshot_latency_s",
            "oneshot_peer_latency_s",
        ),
    ),
)
#: GEMM row tiles a kernel may pad its rows to (:func:`costcorrect.perf.roofline.padded_rows`)
ROW_TILES = (128, 256)
#: the fits' loss: robust, since a table's kernel switches put some points far off any smooth
#: model, and least squares would bias every other point to meet them halfway
LOSS: Loss = "soft_l1"
#: one alternative form of a kernel: the parameters it sets, and those it frees to be fitted
Alternative = tuple[dict[str, float], tuple[str, ...]]
_PLAIN: Alternative = ({}, ())
#: an op class's stage's optional kernel features, each a tuple of alternatives (the first: the
#: feature absent). The stage fits every combination and keeps the one of least Bayesian
#: information criterion on its rows, so a feature must earn its parameters (a set discrete
#: value counts as one), under the fits' :data:`LOSS`. FP8/FP4 GEMMs: a cost per byte of an
#: output column's weights (kernels that do not split the reduction; the fit starts from
#: 0.5 ns/B), a row tile the kernel pads rows to, and a latency per element of the reduction
#: depth (a serial main loop; from 0.5 ns); decode attention: a group limit (query
#: heads per KV head) beyond which the cache is read per query head, and a bandwidth ramp (its
#: fit starts from 10 µs over 100 MB)
CHOICES: dict[str, tuple[tuple[Alternative, ...], ...]] = {
    **{
        f"gemm_{fmt}": (
            (_PLAIN, ({f"gemm_{fmt}_column_s": 5e-10}, (f"gemm_{fmt}_column_s",))),
            (_PLAIN, *(({f"gemm_{fmt}_row_tile": tile}, ()) for tile in ROW_TILES)),
            (_PLAIN, ({f"gemm_{fmt}_depth_s": 5e-10}, (f"gemm_{fmt}_depth_s",))),
        )
        for fmt in ("fp8", "fp4")
    },
    "attn_decode": (
        (
            _PLAIN,
            *(
                ({"attn_decode_max_group": group}, ("attn_decode_fallback_rereads",))
                for group in (8, 16, 32, 64)
            ),
        ),
        (
            _PLAIN,
            (
                {"attn_decode_ramp_s": 1e-5, "attn_decode_ramp_bytes": 1e8},
                ("attn_decode_ramp_s", "attn_decode_ramp_bytes"),
            ),
        ),
    ),
}
#: a kernel-time stack: no CPU-side cost between CUDA-graph replays (see the module docstring)
KERNEL_TIME_ONLY = {
    "iteration_overhead_s": 0.0,
    "per_sequence_overhead_s": 0.0,
    "allreduce": "custom",
}
#: the shape column whose odd-ranked grid values each op class holds out
HOLD_OUT = {
    "gemm": "n",
    "gemm_fp8": "n",
    "gemm_fp4": "n",
    "attn_prefill": "heads",
    "attn_decode": "heads",
    "all_reduce": "size_bytes",
}
#: the dense bf16 model whose layout carries the table's shapes (any GQA transformer would do)
CARRIER_MODEL = "llama-3.1-8b"
SOURCE = "NVIDIA aiconfigurator-core kernel tables ({package}; PyPI, Apache-2.0)"


def kernel_table_predictor(df: pd.DataFrame, catalog: Catalog) -> Predictor:
    """Predicted seconds of kernel-table rows (``perf.kernel_tables`` schema) on one GPU."""
    hardware = catalog.hardware.get(df["gpu"].iloc[0])
    carrier = catalog.models.get(CARRIER_MODEL)
    groups = []
    for key, idx in df.groupby(["op", "n", "k", "heads", "kv_heads"], dropna=False).indices.items():
        op, n, k, heads, kv_heads = key
        rows = df.iloc[idx]
        if op in GEMM_FORMATS:
            shape = Linear("gemm", "gemm", int(k), int(n), layers=1, sharded=False)
            model = carrier.model_copy(update={"weight_format": GEMM_FORMATS[op][1]})
            groups.append((op, idx, model, shape, rows["m"].to_numpy(float)))
        elif op.startswith("attn_"):
            phase = op.removeprefix("attn_")
            model = carrier.model_copy(
                update={
                    "num_attention_heads": int(heads),
                    "num_key_value_heads": int(kv_heads),
                    "head_dim": int(rows["head_dim"].iloc[0]),
                }
            )
            b = rows["batch"].to_numpy(float)
            batch = (
                Batch.prefill(rows["tokens"].to_numpy(float), b)
                if phase == "prefill"
                else Batch.decode(b, rows["context"].to_numpy(float))
            )
            groups.append((op, idx, model, phase, batch))
        else:
            sizes = (rows["gpus"].to_numpy(float), rows["size_bytes"].to_numpy(float))
            groups.append((op, idx, carrier, None, sizes))

    def seconds(params: PerfParams, sharpness: float | None = None) -> np.ndarray:
        out = np.empty(len(df))
        for op, idx, model, shape, work in groups:
            if op == "all_reduce":
                out[idx] = allreduce_time(hardware, params, *work)
                continue
            dep = Deployment(model, hardware, params=params)
            out[idx] = (
                gemm_time(dep, shape, work, sharpness)
                if op in GEMM_FORMATS
                else attention_time(dep, shape, work, sharpness)
            )
        return out

    return seconds


def held_out_mask(rows: pd.DataFrame) -> np.ndarray:
    """Rows on the odd-ranked grid values of their op class's :data:`HOLD_OUT` column."""
    mask = np.zeros(len(rows), dtype=bool)
    for op, column in HOLD_OUT.items():
        of_op = (rows["op"] == op).to_numpy()
        rank = rows.loc[of_op, column].rank(method="dense").to_numpy()
        mask[of_op] = rank % 2 == 0
    return mask


def neighbour_predictions(rows: pd.DataFrame, held: np.ndarray) -> np.ndarray:
    """Seconds of the ``held`` rows read off the other rows of the same shape along the op's
    :data:`HOLD_OUT` column: linear in log time × log value between the two nearest seen grid
    values, extrapolated from the last two past the ends; NaN where fewer than two are seen.

    A reference, not a model: it needs the measured table at run time."""
    out = np.full(len(rows), np.nan)
    log_time = np.log(rows["time_s"].to_numpy(float))
    for op, column in HOLD_OUT.items():
        of_op = np.flatnonzero((rows["op"] == op).to_numpy())
        if not len(of_op):
            continue
        part = rows.iloc[of_op]
        same_shape = [c for c in SHAPE_COLUMNS if c != column and part[c].notna().any()]
        x = np.log(part[column].to_numpy(float))
        for idx in part.groupby(same_shape).indices.values():
            seen, unseen = idx[~held[of_op[idx]]], idx[held[of_op[idx]]]
            if len(unseen) and len(seen) >= 2:
                line = interp1d(x[seen], log_time[of_op[seen]], fill_value="extrapolate")
                out[of_op[unseen]] = np.exp(line(x[unseen]))
    return out


def fit_stages(rows: pd.DataFrame, catalog: Catalog) -> tuple[PerfParams, list[FitResult]]:
    """Fit :data:`STAGES` in order on ``rows``; the final parameters and each stage's result."""
    params = PerfParams().model_copy(update=KERNEL_TIME_ONLY)
    results = []
    for ops, free in STAGES:
        part = rows[rows["op"].isin(ops)].reset_index(drop=True)
        if part.empty:  # a format the GPU's tables lack keeps its prior
            continue
        result = _fit_stage(part, catalog, params, ops, free)
        params = result.params
        results.append(result)
    return params, results


def _fit_stage(
    part: pd.DataFrame,
    catalog: Catalog,
    params: PerfParams,
    ops: tuple[str, ...],
    free: tuple[str, ...],
) -> FitResult:
    """The stage's fit, at the best combination of its :data:`CHOICES` where it has any."""
    features = next((CHOICES[op] for op in ops if op in CHOICES), None)
    if features is None:
        return fit_to(kernel_table_predictor, part, catalog, params, free, LOSS)
    n = len(part)

    def scored(combination: tuple[Alternative, ...]) -> tuple[float, FitResult]:
        update = {k: v for values, _ in combination for k, v in values.items()}
        moving = free + tuple(name for _, names in combination for name in names)
        update_params = params.model_copy(update=update)
        result = fit_to(kernel_table_predictor, part, catalog, update_params, moving, LOSS)
        discrete = sum(1 for name in update if name not in moving)
        cost = np.sum(data_loss(np.log(result.train_ratio) / DATA_SCALE, LOSS))
        return float(cost) + (len(moving) + discrete) * np.log(n), result

    combinations = itertools.product(*features)
    return min((scored(c) for c in combinations), key=lambda pair: pair[0])[1]


def relative_errors(rows: pd.DataFrame, params: PerfParams, catalog: Catalog) -> pd.DataFrame:
    """``rows`` with the predicted seconds and the absolute relative error ``ape``."""
    rows = rows.reset_index(drop=True)
    predicted = kernel_table_predictor(rows, catalog)(params)
    return rows.assign(predicted_s=predicted, ape=np.abs(predicted / rows["time_s"] - 1.0))


def error_table(scored: pd.DataFrame, group: Sequence[str] = ("op",)) -> pd.DataFrame:
    """Points, median, 95th-percentile and worst relative error per ``group`` (op classes in
    :data:`OPS` order);
    with the tables' own neighbours' median and worst where ``scored`` has ``neighbour_ape``."""
    columns = {
        "points": ("ape", "count"),
        "median_ape": ("ape", "median"),
        "p95_ape": ("ape", lambda ape: ape.quantile(0.95)),
        "max_ape": ("ape", "max"),
    }
    if "neighbour_ape" in scored:
        columns |= {
            "neighbour_median_ape": ("neighbour_ape", "median"),
            "neighbour_max_ape": ("neighbour_ape", "max"),
        }
    table = scored.groupby(list(group), sort=False).agg(**columns).reset_index()
    order = {op: i for i, op in enumerate(OPS)}
    return table.sort_values("op", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class EngineCalibration:
    """A GPU × engine stack fitted to its kernel tables, with the held-out rows scored by a fit
    without them (``scored``: :func:`relative_errors` rows)."""

    tables: KernelTables
    params: PerfParams
    stages: list[FitResult]
    scored: pd.DataFrame

    @property
    def held_out(self) -> pd.DataFrame:
        """Held-out points, median and worst relative error per op class."""
        return error_table(self.scored)

    def held_out_error(self) -> HeldOutError:
        """All held-out kernel points together, as the stack's validated error."""
        return HeldOutError(
            median=float(self.scored["ape"].median()),
            worst=float(self.scored["ape"].max()),
            what="GEMM, attention and all-reduce kernel times, held-out shapes",
            data=f"{self.tables.engine} kernel tables of {self.hardware} (aiconfigurator-core "
            f"{self.tables.package})",
            doc="docs/engines.md",
        )

    @property
    def hardware(self) -> str:
        return self.tables.gpu

    @property
    def stack(self) -> str:
        return self.tables.stack

    def fitted_on(self) -> str:
        """The calibration's ``fitted_on`` line: tables, versions, held-out error, prior."""
        counts = self.tables.rows["op"].value_counts()
        versions = ", ".join(f"{op} {v}" for op, v in self.tables.versions.items())
        worst = self.held_out.set_index("op")
        errors = "; ".join(
            f"{op} {counts[op]} pts, held-out median {worst.at[op, 'median_ape']:.1%} worst "
            f"{worst.at[op, 'max_ape']:.1%}"
            for op in OPS
            if op in counts
        )
        prior = [n for r in self.stages for n in r.set_by_prior]
        dropped = ", ".join(f"{op} {n}" for op, n in self.tables.dropped.items())
        return (
            f"{self.tables.engine} kernel tables ({versions}): {errors}; GPU kernel time only "
            f"(no CPU overhead between CUDA-graph replays); set by the prior: "
            f"{', '.join(prior) or 'none'}"
            + (
                f"; mis-measured rows dropped (faster than the HBM datasheet allows, or an "
                f"all-reduce slower than {PADDING_SLACK:g}× a larger one): {dropped}"
                if dropped
                else ""
            )
        )

    def to_dict(self) -> dict:
        """The catalog ``calibrations`` entry."""
        estimates = {n: e for r in self.stages for n, e in r.estimates.items()}
        return calibration_entry(
            self.hardware,
            self.stack,
            SOURCE.format(package=self.tables.package),
            self.tables.date,
            self.fitted_on(),
            self.params,
            estimates,
            self.held_out_error(),
        )


def calibrate_engine(tables: KernelTables, catalog: Catalog) -> EngineCalibration:
    """Held-out errors from a fit without the :func:`held_out_mask` rows, then the stack's
    parameters fitted on every row."""
    rows = tables.rows
    held = held_out_mask(rows)
    train_params, _ = fit_stages(rows[~held], catalog)
    neighbours = neighbour_predictions(rows, held)[held]
    scored = relative_errors(rows[held], train_params, catalog)
    scored["neighbour_ape"] = np.abs(neighbours / scored["time_s"].to_numpy() - 1.0)
    params, stages = fit_stages(rows, catalog)
    return EngineCalibration(tables, params, stages, scored)


def calibrate_stack(
    catalog: Catalog, gpu: str, engine: str, root: str | Path | None = None
) -> EngineCalibration:
    """Read ``engine``'s kernel tables on ``gpu`` (aiconfigurator-core's data, or ``root``) and
    calibrate the stack (see :func:`calibrate_engine`)."""
    return calibrate_engine(read_kernel_tables(catalog.hardware.get(gpu), engine, root), catalog)
