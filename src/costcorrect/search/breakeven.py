"""``serve break-even``: where colocation (best of plain and chunked) and disaggregation cost
the same, over the input/output ratio × one of arrival rate, KV-transfer bandwidth or SLO
slack, per GPU generation (spec §5).

Requests keep the workload's length distribution and total tokens; the input/output ratio
moves tokens between prompt and answer. For each grid point both sides take their cheapest
option (colocated: whole-prompt or chunked with τ ∈ ``TOKEN_BUDGETS``; disaggregated: the
prefill:decode instance ratios ``POOL_RATIOS``) as a fleet of whole units for the demand.
The boundary is the root of log(C_disaggregated / C_colocated) along the ratio axis,
interpolated between grid points.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from costcorrect.catalog import Catalog, load_catalog
from costcorrect.errors import InputError
from costcorrect.perf import Deployment
from costcorrect.perf.calibration import select_calibration
from costcorrect.search.curves import LatencyCurve, goodput_from_curve, latency_curve
from costcorrect.search.executor import Executor, LocalExecutor
from costcorrect.serving.analytic import Lengths
from costcorrect.serving.architectures import Chunked, Colocated, Disaggregated, KVLink
from costcorrect.serving.contract import Contract
from costcorrect.serving.cost import unit_usd_per_million
from costcorrect.workload import RequestStream, synthetic_stream

GENERATIONS = ("A100-80GB-SXM", "H100-SXM", "H200", "B200")
TOKEN_BUDGETS = (512, 2048)
POOL_RATIOS = ((1, 1), (1, 2), (2, 1))
MIN_KV_TOKENS = 100_000  # the smallest TP kept for a GPU must cache at least this many tokens
AXES = {
    "rate": ("arrival rate", "req/s"),
    "kv-bandwidth": ("KV-transfer bandwidth per prefill instance", "GB/s"),
    "slack": ("SLO slack (× the base contract)", "×"),
}


@dataclass(frozen=True)
class BreakEven:
    """``ratio[y, x]`` = cheapest disaggregated ÷ cheapest colocated $ per million output
    tokens (< 1: disaggregation wins) at input/output ratio ``io_ratio[x]`` and ``axis`` value
    ``y[y]`` (SI: req/s, B/s or ×); ``boundary[y]`` the ratio where they cost the same (nan:
    no crossing)."""

    gpu: str
    model: str
    tp: int
    axis: str
    io_ratio: np.ndarray
    y: np.ndarray
    ratio: np.ndarray
    boundary: np.ndarray

    def to_rows(self) -> list[dict]:
        return [
            {
                "gpu": self.gpu,
                "tp": self.tp,
                "axis": self.axis,
                "y": float(yv),
                "io_ratio": float(xv),
                "cost_ratio_disagg_over_coloc": float(self.ratio[i, j]),
                "boundary_io_ratio": float(self.boundary[i]),
            }
            for i, yv in enumerate(self.y)
            for j, xv in enumerate(self.io_ratio)
        ]


def lengths_at_ratio(base: RequestStream, io_ratio: float) -> Lengths:
    """``base``'s lengths with prompt and answer rescaled to mean input/output = ``io_ratio``,
    keeping the mean total tokens."""
    total = base.mean_input_tokens + base.mean_output_tokens
    scale_in = total * io_ratio / (1.0 + io_ratio) / base.mean_input_tokens
    scale_out = total / (1.0 + io_ratio) / base.mean_output_tokens
    stream = RequestStream(
        base.arrival_s,
        np.maximum(np.round(base.input_tokens * scale_in), 1).astype(np.int64),
        np.maximum(np.round(base.output_tokens * scale_out), 2).astype(np.int64),
        np.zeros(base.n, np.int64),
        base.name,
    )
    return Lengths.from_stream(stream)


def smallest_tp(
    model: str,
    gpu: str,
    catalog: Catalog,
    stack: str | None = None,
    min_kv_tokens: int = MIN_KV_TOKENS,
    **options: Any,
) -> Deployment:
    """The deployment on the fewest GPUs (TP 1, 2, 4, 8) that caches ``min_kv_tokens``, with
    the calibration ``stack`` (None: the GPU's default); ``options``: further deployment fields
    (weight_format, speculation, …)."""
    select_calibration(catalog, catalog.hardware.get(gpu), stack)  # an unknown stack is an error
    for tp in (1, 2, 4, 8):
        try:
            dep = Deployment.from_names(model, gpu, tp, stack=stack, catalog=catalog, **options)
        except InputError:
            continue
        if dep.fits and dep.kv_capacity_tokens >= min_kv_tokens:
            return dep
    raise InputError("gpu", gpu, f"a GPU on which {model} fits on ≤ 8 GPUs with KV room")


def _options(dep: Deployment, link: KVLink):
    colocated = [Colocated(dep), *(Chunked(dep, token_budget=t) for t in TOKEN_BUDGETS)]
    disaggregated = [Disaggregated(dep, dep, p, d, link) for p, d in POOL_RATIOS]
    return colocated, disaggregated


def _curve(job: tuple) -> LatencyCurve:
    arch, lengths = job
    return latency_curve(arch, lengths)


def _boundary(x: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    """Per row, the first x where log(ratio) changes sign (log-log interpolation)."""
    out = np.full(ratio.shape[0], np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.log(ratio)
    for i, row in enumerate(f):
        ok = np.isfinite(row)
        sign = np.sign(row)
        for j in range(len(x) - 1):
            if ok[j] and ok[j + 1] and sign[j] != sign[j + 1] and sign[j] != 0:
                t = row[j] / (row[j] - row[j + 1])
                out[i] = math.exp(math.log(x[j]) + t * math.log(x[j + 1] / x[j]))
                break
    return out


def break_even(
    gpu: str,
    model: str = "llama-3.1-70b",
    workload: str = "sharegpt",
    axis: str = "rate",
    io_ratio: np.ndarray | None = None,
    y: np.ndarray | None = None,
    contract: Contract = Contract(2.0, 0.1),
    demand_rps: float = 20.0,
    link: KVLink = KVLink(50e9, 1e-3, 0.5),
    requests: int = 4000,
    seed: int = 0,
    stack: str | None = None,
    executor: Executor | None = None,
    catalog: Catalog | None = None,
    report: Callable[[str], None] | None = None,
) -> BreakEven:
    """Cost ratio disaggregated/colocated on the grid ``io_ratio × y`` for ``axis`` (``rate``:
    demand in req/s; ``kv-bandwidth``: B/s; ``slack``: contract multiplier); the other two
    held at ``demand_rps``, ``link`` and ``contract``; ``stack``: the GPU's calibration."""
    if axis not in AXES:
        raise InputError("axis", axis, f"one of {', '.join(AXES)}")
    cat = catalog or load_catalog()
    ex = executor or LocalExecutor()
    say = report or (lambda _msg: None)
    x = np.geomspace(0.25, 64.0, 40) if io_ratio is None else np.asarray(io_ratio, float)
    if y is None:
        y = {
            "rate": np.geomspace(0.5, 200.0, 40),
            "kv-bandwidth": np.geomspace(1e9, 400e9, 40),
            "slack": np.geomspace(0.5, 8.0, 40),
        }[axis]
    y = np.asarray(y, float)
    if np.any(x <= 0) or np.any(y <= 0):
        raise InputError(axis, y, "positive grid values")
    dep = smallest_tp(model, gpu, cat, stack)
    base = synthetic_stream(workload, 1.0, requests, seed, catalog=cat)
    lengths = [lengths_at_ratio(base, r) for r in x]
    tokens = np.array([L.mean_output for L in lengths])
    coloc, disagg = _options(dep, link)
    say(f"{gpu}: sweeping latency curves")
    coloc_curves = ex.map(_curve, [(a, L) for L in lengths for a in coloc])
    if axis == "kv-bandwidth":
        jobs = [
            (Disaggregated(dep, dep, p, d, KVLink(bw, link.latency_s, link.overlap)), L)
            for bw in y
            for L in lengths
            for p, d in POOL_RATIOS
        ]
    else:
        jobs = [(a, L) for L in lengths for a in disagg]
    disagg_curves = ex.map(_curve, jobs)
    ny, nx, nc, nd = y.size, x.size, len(coloc), len(POOL_RATIOS)
    c_cost = np.full((ny, nx), np.inf)
    d_cost = np.full((ny, nx), np.inf)
    demand = y if axis == "rate" else np.full(ny, demand_rps)
    slack = y if axis == "slack" else np.ones(ny)
    for j in range(nx):
        for k, arch in enumerate(coloc):
            good = goodput_from_curve(
                coloc_curves[j * nc + k], contract.ttft_s * slack, contract.tpot_s * slack
            )
            c_cost[:, j] = np.minimum(
                c_cost[:, j], unit_usd_per_million(arch.usd_per_s, good, tokens[j], demand)
            )
        for k, arch in enumerate(disagg):
            if axis == "kv-bandwidth":
                curves = [disagg_curves[(i * nx + j) * nd + k] for i in range(ny)]
                good = np.array(
                    [goodput_from_curve(c, contract.ttft_s, contract.tpot_s) for c in curves]
                )
            else:
                good = goodput_from_curve(
                    disagg_curves[j * nd + k], contract.ttft_s * slack, contract.tpot_s * slack
                )
            d_cost[:, j] = np.minimum(
                d_cost[:, j], unit_usd_per_million(arch.usd_per_s, good, tokens[j], demand)
            )
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(np.isfinite(c_cost) | np.isfinite(d_cost), d_cost / c_cost, np.nan)
    return BreakEven(gpu, model, dep.tp, axis, x, y, ratio, _boundary(x, ratio))
