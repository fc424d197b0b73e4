"""Fit the performance model to released real-GPU measurements and report held-out error.

    python -m costcorrect.validate perf [--write docs/validation.md] [--calibrations FILE]

Primary split (acceptance): Splitwise DGX-A100/H100 measurements (Llama-2-70B TP 2/4/8 and
BLOOM-176B TP 8), fitted per GPU on the sweep points and evaluated on held-out batch sizes
{2, 8, 32}, prompt lengths {256, 1024, 4096} and output lengths {256, 1024, 4096}.
Transfer checks (reported, not tuned): unseen TP degree, unseen model, DistServe's OPT
profiles (unseen model size) and Sarathi-Serve's Yi-34B on A100-PCIe with the A100 fit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from costcorrect.catalog import Catalog
from costcorrect.catalog.calibrations import PerfParams
from costcorrect.perf.fit import DEFAULT_FREE, fit, predict
from costcorrect.validate.measurements import step_measurements

HELD_OUT_BATCH = (2, 8, 32)
HELD_OUT_PROMPT = (256, 1024, 4096)
HELD_OUT_OUTPUT = (256, 1024, 4096)
TARGET_MEDIAN_APE, TARGET_MAX_APE = 0.10, 0.30
SPLITWISE_SOURCE = "Splitwise perf_model.csv (Mutinifni/splitwise-sim @ 8f99e7d)"
DISTSERVE_SOURCE = "DistServe profiler-a100-80g fits (LLMServe/DistServe @ 82831f1)"


@dataclass(frozen=True)
class Check:
    """Held-out predictions of one fit: which data, which split, rows with ``ape``."""

    name: str
    fitted_on: str
    evaluated_on: str
    params: PerfParams
    rows: pd.DataFrame


def usable_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Drop Splitwise's physically impossible TP 2, batch ≥ 32 rows (flagged by the loader)."""
    return df[~df["note"].str.contains("TP 2 at batch")].reset_index(drop=True)


def held_out_mask(df: pd.DataFrame) -> pd.Series:
    """Rows of the held-out sweep points (batch, prompt and output lengths listed above)."""
    single = df["batch_size"] == 1
    return (
        df["batch_size"].isin(HELD_OUT_BATCH)
        | (single & df["prompt_tokens"].isin(HELD_OUT_PROMPT) & (df["output_tokens"] == 128))
        | df["output_tokens"].isin(HELD_OUT_OUTPUT)
    )


def _evaluate(name, train, test, catalog, fitted_on, evaluated_on, params=None) -> Check:
    if params is None:
        params = fit(train, catalog, PerfParams(), DEFAULT_FREE).params
    predicted = predict(test, params, catalog)
    rows = test.assign(predicted_s=predicted, ape=np.abs(predicted / test["time_s"] - 1.0))
    return Check(name, fitted_on, evaluated_on, params, rows)


def run_checks(shared: Path, catalog: Catalog) -> list[Check]:
    """Every fit/evaluate pair of the validation report."""
    steps = usable_rows(step_measurements(shared))
    checks: list[Check] = []
    splitwise = steps[steps["dataset"] == "splitwise"]
    for gpu, g in splitwise.groupby("gpu"):
        held = held_out_mask(g)
        checks.append(
            _evaluate(
                "primary",
                g[~held],
                g[held],
                catalog,
                f"splitwise {gpu} sweep points",
                f"held-out batch {HELD_OUT_BATCH}, prompt {HELD_OUT_PROMPT}, output "
                f"{HELD_OUT_OUTPUT}",
            )
        )
        tp4 = g["tp"] == 4
        checks.append(
            _evaluate("unseen TP", g[~tp4], g[tp4], catalog, f"splitwise {gpu} TP 2, 8", "TP 4")
        )
        bloom = g["model"] == "bloom-176b"
        checks.append(
            _evaluate(
                "unseen model",
                g[~bloom],
                g[bloom],
                catalog,
                f"splitwise {gpu} llama-2-70b",
                "bloom-176b",
            )
        )
    for dataset in ("distserve-engine", "distserve-vllm"):
        d = steps[steps["dataset"] == dataset]
        small = d["model"] == "opt-13b"
        checks.append(
            _evaluate("unseen model", d[small], d[~small], catalog, f"{dataset} opt-13b", "opt-66b")
        )
    a100 = next(c for c in checks if c.name == "primary" and "A100" in c.fitted_on)
    sarathi = steps[steps["dataset"] == "sarathi"]
    checks.append(
        _evaluate(
            "unseen stack",
            None,
            sarathi,
            catalog,
            "splitwise A100-80GB-SXM",
            "sarathi yi-34b A100-80GB-PCIe TP 2",
            params=a100.params,
        )
    )
    return checks


def summary(checks: list[Check]) -> pd.DataFrame:
    """Median and worst APE per check × GPU × phase."""
    frames = []
    for c in checks:
        g = c.rows.groupby(["gpu", "phase"])["ape"]
        s = g.agg(points="count", median_ape="median", max_ape="max").reset_index()
        s.insert(0, "evaluated_on", c.evaluated_on)
        s.insert(0, "fitted_on", c.fitted_on)
        s.insert(0, "check", c.name)
        frames.append(s)
    return pd.concat(frames, ignore_index=True)


def fit_calibrations(shared: Path, catalog: Catalog) -> list[dict]:
    """Calibration entries fitted on all usable points of each GPU × stack (for the catalog)."""
    steps = usable_rows(step_measurements(shared))
    entries = []
    groups = [("splitwise", SPLITWISE_SOURCE), ("distserve-engine", DISTSERVE_SOURCE)]
    for dataset, source in groups:
        for gpu, g in steps[steps["dataset"] == dataset].groupby("gpu"):
            result = fit(g, catalog, PerfParams(), DEFAULT_FREE)
            params = {k: float(f"{v:.4g}") for k, v in result.params.model_dump().items()}
            models = ", ".join(sorted(g["model"].unique()))
            entries.append(
                {
                    "name": f"{gpu}/{dataset}",
                    "hardware": gpu,
                    "stack": dataset,
                    "source": source,
                    "date": dt.date.today().isoformat(),
                    "fitted_on": f"{len(g)} iteration times of {models}; train median APE "
                    f"{result.train_median_ape:.1%}",
                    "params": params,
                }
            )
    return entries


def calibrations_yaml(entries: list[dict]) -> str:
    header = (
        "# Fitted by `python -m costcorrect.validate perf --calibrations` (do not edit by hand).\n"
        "# The first entry per GPU is the default; select another with --stack.\n"
    )
    return header + yaml.safe_dump(
        {"schema_version": 1, "calibrations": entries}, sort_keys=False, width=100
    )


def report_markdown(checks: list[Check]) -> str:
    """The validation page: tables of held-out error, and the verdict against the targets."""
    table = summary(checks)
    primary = table[table["check"] == "primary"]
    ok = (primary["median_ape"] <= TARGET_MEDIAN_APE) & (primary["max_ape"] <= TARGET_MAX_APE)
    lines = [
        "# Validation of the performance model against real GPUs",
        "",
        "Generated by `python -m costcorrect.validate perf --write docs/validation.md`; "
        "`tests/test_validation.py` regenerates it and fails if it differs or if the primary "
        "targets are missed. APE = |predicted / measured − 1| of one iteration's time.",
        "",
        "Data (read from `../shared/data`, see each folder's README): Splitwise DGX-A100/H100 "
        "prompt and token times (Llama-2-70B TP 2/4/8, BLOOM-176B TP 8; the power-capped H100 "
        "rows are a ×1.3 copy and are dropped, and Llama-2-70B TP 2 batch ≥ 32 rows are dropped "
        "because their prefill implies 6–9× the GPUs' peak FLOP/s); DistServe's fitted OPT "
        "latency curves on A100-80GB (evaluated on their profiling grid with the alignment "
        "factors divided out — fits, not raw timings); Sarathi-Serve's Yi-34B step times on "
        "A100-80GB-PCIe (wall clock, including scheduler overhead).",
        "",
        f"## Primary: held-out sweep points (targets: median ≤ {TARGET_MEDIAN_APE:.0%}, "
        f"worst ≤ {TARGET_MAX_APE:.0%})",
        "",
        _markdown_table(primary.assign(meets=np.where(ok, "yes", "**no**"))),
        "",
        "Verdict: "
        + (
            "all GPU × phase rows meet the targets."
            if ok.all()
            else f"MISSED on {(~ok).sum()} rows."
        ),
        "",
        "## Transfer checks (reported, not tuned)",
        "",
        _markdown_table(table[table["check"] != "primary"]),
        "",
        "## Fitted parameters of the primary fits",
        "",
    ]
    for c in checks:
        if c.name == "primary":
            params = ", ".join(f"{k}={v:.3g}" for k, v in c.params.model_dump().items())
            lines += [f"- {c.fitted_on}: {params}", ""]
    lines += [
        "## Where the model misses, and why",
        "",
        "- **Batched prefill is quadratic in the batch's total tokens.** In the Splitwise data a "
        "batch of 16 × 512-token prompts takes as long as (H100) or longer than (A100, e.g. TP 4: "
        "2.89 s vs 2.28 s) one 8192-token prompt, although it has 1/16 of the causal attention "
        "work. The stack evidently attends over the flattened batch with a mask; the model "
        "carries this as `attn_flat_pair_bytes` (HBM bytes per head per pair of the flattened "
        "batch, 0 for per-sequence kernels such as FlashAttention/paged attention). The A100 "
        "excess beyond that is the largest prefill error.",
        "- **Unseen model.** With one model in the fit, per-layer and per-iteration overheads "
        "cannot be told apart, so BLOOM-176B (70 layers, 2.6× the weights per GPU) is an "
        "extrapolation; its decode step in the data is only 10 % slower than Llama-2-70B's at "
        "TP 8, which bounds how weight-bandwidth-bound this stack is.",
        "- **Unseen stack.** Sarathi-Serve's times are wall-clock engine steps on a different "
        "software stack and PCIe GPUs; the Splitwise stack's overheads do not transfer. Fit "
        "the stack you run (`costcorrect perf fit`).",
        "- **DistServe rows** are the authors' own fitted curves, not timings; the OPT models "
        "are MHA with learned positions.",
    ]
    return "\n".join(lines) + "\n"


def _markdown_table(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, row in df.iterrows():
        cells = []
        for c in cols:
            v = row[c]
            cells.append(f"{v:.1%}" if c.endswith("_ape") else str(v))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)
