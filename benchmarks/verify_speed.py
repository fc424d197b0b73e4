"""Speed of the calibration toolkit (issue 20 target), printed and optionally recorded.

    python benchmarks/verify_speed.py [--write docs/benchmarks.md]

Target: calibration metrics of 1M (report, outcome) pairs with 1,000 bootstrap resamples in
≤ 2 s. Baseline, in the same run: a per-pair Poisson bootstrap of the Brier score alone in
numpy (Poisson(1) weight per pair per resample), timed on a few resamples and scaled to 1,000.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from costcorrect.verify.calibration import calibration_report
from record import publish, table

PAIRS = 1_000_000
RESAMPLES = 1000
BASELINE_RESAMPLES = 20


def per_pair_brier_bootstrap(p: np.ndarray, y: np.ndarray, resamples: int) -> np.ndarray:
    """The baseline: Brier draws from independent Poisson(1) weights on every pair."""
    rng = np.random.default_rng(0)
    terms = (p - y) ** 2
    draws = np.empty(resamples)
    for b in range(resamples):
        w = rng.poisson(1.0, p.size)
        draws[b] = w @ terms / w.sum()
    return draws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="update this markdown file's section")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    p = rng.beta(2.0, 3.0, PAIRS)
    y = (rng.random(PAIRS) < p).astype(int)
    t = time.perf_counter()
    calibration_report(p, y, resamples=RESAMPLES)
    seconds = time.perf_counter() - t
    t = time.perf_counter()
    per_pair_brier_bootstrap(p, y, BASELINE_RESAMPLES)
    baseline = (time.perf_counter() - t) * RESAMPLES / BASELINE_RESAMPLES
    rows = [
        (
            f"Brier, log and spherical scores, ECE and smooth ECE of {PAIRS:,} (report, outcome) "
            f"pairs with {RESAMPLES:,} Poisson-bootstrap resamples (grouped)",
            f"{seconds:.2f} s",
            "≤ 2 s",
        ),
        (
            f"baseline: per-pair Poisson bootstrap of the Brier score alone, numpy "
            f"({BASELINE_RESAMPLES} resamples timed, scaled to {RESAMPLES:,})",
            f"{baseline:.1f} s ({baseline / seconds:.0f}× the grouped report's time)",
            "",
        ),
    ]
    notes = (
        "Pairs sharing (fine cell, coarse bin, outcome) enter every statistic only through "
        "their group's sums, so a resample draws one Poisson(n) weight per group and a normal "
        "deviate for the within-group spread (`verify.grouped_bootstrap`): O(groups) per "
        "resample, not O(pairs). `tests/test_verify.py` checks its intervals against a plain "
        "multinomial bootstrap.",
    )
    text = table("Calibration toolkit (`benchmarks/verify_speed.py`)", rows, notes)
    publish(text, args.write)


if __name__ == "__main__":
    main()
