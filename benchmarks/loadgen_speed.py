"""Speed of the load generator (issue 20 targets), printed and optionally recorded.

    python benchmarks/loadgen_speed.py [--write docs/benchmarks.md]

Targets: ≥ 2,500 requests/s of open-loop Poisson at < 2 ms p99 scheduling lag on this 2-core
machine against the stub (`costcorrect.measure.stub`, its own process on the same cores), and
≥ 1.5× the requests per second a plain asyncio + aiohttp + uvloop Poisson sender keeps at the
same offered rate, measured in the same run. CPU time of every process is recorded.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import aiohttp
import numpy as np
import uvloop

from costcorrect.measure.lengths import LengthDist
from costcorrect.measure.loadgen import LoadSpec, run_load
from costcorrect.workload.arrivals import poisson_arrivals
from record import publish, table

SECONDS = 10.0
TARGET_RATE = 2500.0
TARGET_LAG_S = 2e-3
#: offered rates of the capacity ladder (req/s, 5 s each): the highest kept at p99 lag < 2 ms
LADDER = (500.0, 1000.0, 1500.0, 2000.0, 2500.0, 3000.0, 4000.0, 6000.0, 8000.0, 12000.0, 16000.0)
LADDER_SECONDS = 5.0
BODY = {"messages": [{"role": "user", "content": "x " * 8}], "max_tokens": 4, "stream": True}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _plain_aiohttp(
    url: str, rate: float, seconds: float
) -> tuple[np.ndarray, np.ndarray, int, float]:
    """The baseline: a seeded Poisson schedule sent with one aiohttp session (sleep to each
    start, one task per request, read the stream to its end). (scheduled s, sent s, ok, CPU s)"""
    times = poisson_arrivals(rate, int(rate * seconds * 1.5) + 20, 0)
    times = times[times < seconds]
    sent = np.zeros(times.size)
    ok = 0
    cpu = time.process_time()

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def one(i: int) -> None:
            nonlocal ok
            sent[i] = time.perf_counter() - t0
            async with session.post(url + "/v1/chat/completions", json=BODY) as response:
                async for _ in response.content.iter_any():
                    pass
                ok += response.status == 200

        t0 = time.perf_counter()
        tasks = []
        for i, at in enumerate(times):
            wait = t0 + at - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
    return times, sent, ok, time.process_time() - cpu


def _rows(label: str, scheduled, sent, ok: int, cpu: float, stub_cpu: float) -> list[tuple]:
    lag = sent - scheduled
    span = sent.max() - sent.min()
    return [
        (
            f"{label}: requests sent per second ({ok:,}/{sent.size:,} ok)",
            f"{sent.size / span:,.0f} req/s (the seeded schedule: "
            f"{scheduled.size / (scheduled.max() - scheduled.min()):,.0f})",
            f"≥ {TARGET_RATE:,.0f} req/s",
        ),
        (
            "… p99 / max scheduling lag",
            f"{np.quantile(lag, 0.99) * 1e3:.2f} ms / {lag.max() * 1e3:.1f} ms",
            "p99 < 2 ms",
        ),
        (
            "… CPU: sender(s) / stub, per request",
            f"{cpu / sent.size * 1e6:.0f} µs / {stub_cpu / sent.size * 1e6:.0f} µs "
            f"({cpu / span:.0%} / {stub_cpu / span:.0%} of a core)",
            "reported",
        ),
    ]


class Sender:
    """One sender under test: runs a Poisson rate for some seconds against the stub and returns
    (scheduled s, sent s, ok, sender CPU s, stub CPU s)."""

    def __init__(self, label: str, url: str, stub_pid: int, processes: int | None) -> None:
        self.label, self.url, self.stub_pid, self.processes = label, url, stub_pid, processes

    def __call__(self, rate: float, seconds: float):
        before = _cpu_s(self.stub_pid)
        if self.processes is None:
            scheduled, sent, ok, cpu = uvloop.run(_plain_aiohttp(self.url, rate, seconds))
        else:
            spec = LoadSpec(
                self.url,
                rate=rate,
                duration_s=seconds,
                input_len=LengthDist.parse("8"),
                output_len=LengthDist.parse("4"),
                seed=0,
                processes=self.processes,
            )
            result = run_load(spec)
            sent = np.array([r.sent_s for r in result.records])
            scheduled = np.array([r.scheduled_s for r in result.records])
            ok, cpu = sum(r.status == "ok" for r in result.records), result.cpu_s
        return scheduled, sent, ok, cpu, _cpu_s(self.stub_pid) - before


def _capacity(sender: Sender) -> tuple[float, str]:
    """The highest :data:`LADDER` rate ``sender`` keeps (all sent, p99 lag < 2 ms), and the
    lag at each rate tried."""
    kept, tried = 0.0, []
    for rate in LADDER:
        scheduled, sent, ok, _, _ = sender(rate, LADDER_SECONDS)
        p99 = float(np.quantile(sent - scheduled, 0.99))
        tried.append(f"{rate:,.0f}: {p99 * 1e3:.1f}")
        if p99 >= TARGET_LAG_S or ok < scheduled.size:
            break
        kept = rate
    return kept, "; ".join(tried)


def _at_least(kept: float) -> str:
    """The capacity, marked as a lower bound where the ladder ran out before the sender did."""
    return ("≥ " if kept == LADDER[-1] else "") + f"{kept:,.0f} req/s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="update this markdown file's section")
    args = parser.parse_args()
    port = _port()
    server = subprocess.Popen(
        [sys.executable, "-m", "costcorrect.measure.stub", "--port", str(port)]
    )
    url = f"http://127.0.0.1:{port}"
    rows, capacity, cpu_per_request = [], {}, {}
    try:
        for _ in range(100):
            try:
                request = urllib.request.Request(url + "/v1/chat/completions", data=b"{}")
                urllib.request.urlopen(request, timeout=1).read()
                break
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        senders = [
            Sender("baseline: plain aiohttp + uvloop", url, server.pid, None),
            Sender("`bench run`, 1 process", url, server.pid, 1),
            Sender("`bench run --processes 2`", url, server.pid, 2),
        ]
        for sender in senders:
            scheduled, sent, ok, cpu, stub = sender(TARGET_RATE, SECONDS)
            rows += _rows(
                f"{sender.label}, Poisson {TARGET_RATE:,.0f} req/s", scheduled, sent, ok, cpu, stub
            )
            cpu_per_request[sender.label] = cpu / sent.size
            kept, tried = _capacity(sender)
            capacity[sender.label] = kept
            rows.append(
                (
                    f"… highest offered rate kept at p99 lag < 2 ms ({LADDER_SECONDS:g} s each; "
                    f"rate: p99 ms — {tried})",
                    _at_least(kept),
                    "≥ 2,500 req/s",
                )
            )
    finally:
        server.terminate()
        server.wait(10)
    base = senders[0].label
    ours = max((s.label for s in senders[1:]), key=lambda label: capacity[label])
    rows.append(
        (
            f"ratio to the baseline (same run): rate kept at p99 lag < 2 ms ({ours}); CPU per "
            "request (1 process)",
            ("≥ " if capacity[ours] == LADDER[-1] else "")
            + f"{capacity[ours] / max(capacity[base], LADDER[0]):.2f}×; "
            f"{cpu_per_request[base] / cpu_per_request[senders[1].label]:.2f}×",
            "≥ 1.5×",
        )
    )
    publish(
        table(
            "Load generator (`costcorrect bench run`)",
            rows,
            (
                "The stub answers at once with 4 content events and a usage event, so the "
                "numbers are the client's own overhead; the stub shares the machine's 2 cores "
                "with the sender(s). Our sender: asyncio on uvloop, a pool of keep-alive "
                "connections driven by asyncio protocols with llhttp (`httptools`) parsing "
                "(`costcorrect.measure.http`), and with `--processes N` request i of the one "
                "seeded schedule sent by process i mod N, all starting it at the same instant "
                "(`costcorrect.measure.processes`). Time stamps are `time.perf_counter()`: "
                "uvloop's clock ticks in whole milliseconds; its timers too, so a send waits "
                "for the first tick at or after its start.",
            ),
        ),
        args.write,
    )


if __name__ == "__main__":
    main()
