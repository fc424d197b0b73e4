"""Speed and size of the default report (issue 9 targets), printed and optionally recorded.

    python benchmarks/report_speed.py [--write docs/benchmarks.md]

Targets: `costcorrect report` of the default scenario (what `make demo` runs) in < 60 s, and a
self-contained HTML file < 10 MB.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from record import publish, table

RUNS = 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="update this markdown file's section")
    args = parser.parse_args()
    seconds = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "demo.html"
        for _ in range(RUNS):
            t = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "costcorrect", "report", "--out", str(out)],
                check=True,
                capture_output=True,
            )
            seconds.append(time.perf_counter() - t)
        size = out.stat().st_size
    rows = [
        (
            f"`costcorrect report` of the default scenario (`make demo`) wall incl. start-up, "
            f"median of {RUNS} (min–max)",
            f"{sorted(seconds)[RUNS // 2]:.1f} s ({min(seconds):.1f}–{max(seconds):.1f})",
            "< 60 s",
        ),
        ("its self-contained HTML file", f"{size / 1e6:.1f} MB", "< 10 MB"),
    ]
    publish(table("Report (`benchmarks/report_speed.py`)", rows), args.write)


if __name__ == "__main__":
    main()
