"""Speed of the calibration toolkit (issue 5 target), printed and optionally recorded.

    python benchmarks/verify_speed.py [--write docs/benchmarks.md]

Target: calibration metrics of 1M (report, outcome) pairs with 1,000 bootstrap resamples in
< 10 s.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="update this markdown file's section")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    p = rng.beta(2.0, 3.0, PAIRS)
    y = (rng.random(PAIRS) < p).astype(int)
    calibration_report(p[:1000], y[:1000], resamples=10)  # JIT warm-up
    t = time.perf_counter()
    calibration_report(p, y, resamples=RESAMPLES)
    seconds = time.perf_counter() - t
    row = (
        f"Brier, log and spherical scores, ECE and smooth ECE of {PAIRS:,} (report, outcome) "
        f"pairs with {RESAMPLES:,} Poisson-bootstrap resamples (after JIT)",
        f"{seconds:.1f} s",
        "< 10 s",
    )
    text = table("Calibration toolkit (`benchmarks/verify_speed.py`)", [row])
    publish(text, args.write)


if __name__ == "__main__":
    main()
