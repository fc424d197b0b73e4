"""Speed of the load generator (issue 8 target), printed and optionally recorded.

    python benchmarks/loadgen_speed.py [--write docs/benchmarks.md]

Target: ≥ 500 requests/s of open-loop scheduling with < 5 ms p99 scheduling lag, against a
trivial local endpoint (`costcorrect.measure.stub`, in its own process) on this machine.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from costcorrect.measure.lengths import LengthDist
from costcorrect.measure.loadgen import LoadSpec, run_load
from record import publish, table

RATES = (500.0, 750.0)
SECONDS = 10.0


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="update this markdown file's section")
    args = parser.parse_args()
    port = _port()
    server = subprocess.Popen(
        [sys.executable, "-m", "costcorrect.measure.stub", "--port", str(port)]
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                request = urllib.request.Request(url + "/v1/chat/completions", data=b"{}")
                urllib.request.urlopen(request, timeout=1).read()
                break
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        rows = []
        for rate in RATES:
            spec = LoadSpec(
                url,
                rate=rate,
                duration_s=SECONDS,
                input_len=LengthDist.parse("8"),
                output_len=LengthDist.parse("4"),
                seed=0,
            )
            result = run_load(spec)
            lag = np.array([r.lag_s for r in result.records])
            ok = sum(r.status == "ok" for r in result.records)
            sent = np.array([r.sent_s for r in result.records])
            planned = np.array([r.scheduled_s for r in result.records])
            rows.append(
                (
                    f"Poisson {rate:g} req/s for {SECONDS:g} s against the stub: requests sent "
                    f"per second ({ok:,}/{len(result.records):,} ok)",
                    f"{len(sent) / (sent.max() - sent.min()):,.0f} req/s (the seeded schedule: "
                    f"{len(planned) / (planned.max() - planned.min()):,.0f})",
                    "≥ 500 req/s",
                )
            )
            rows.append(
                (
                    f"… p99 / max scheduling lag at {rate:g} req/s",
                    f"{np.quantile(lag, 0.99) * 1e3:.2f} ms / {lag.max() * 1e3:.1f} ms",
                    "p99 < 5 ms",
                )
            )
    finally:
        server.terminate()
        server.wait(10)
    publish(
        table(
            "Load generator (`costcorrect bench run`)",
            rows,
            (
                "The stub answers at once with 4 content events and a usage event, so the "
                "numbers are the client's own overhead (asyncio + aiohttp, one process; the "
                "stub takes the other core). httpx was tried first and could not keep 500 "
                "req/s (p99 lag of seconds), hence aiohttp.",
            ),
        ),
        args.write,
    )


if __name__ == "__main__":
    main()
