"""Run a load spec with records streamed to disk as requests end (JSONL; Parquet written at
the end), a progress bar on a terminal, and Ctrl-C keeping every finished record."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from costcorrect.errors import InputError
from costcorrect.measure.loadgen import LoadSpec, run_load
from costcorrect.measure.records import RequestRecord, read_records, write_records
from costcorrect.measure.summary import RunSummary, summarize


def run_and_record(
    spec: LoadSpec,
    out: Path | None,
    contract=None,
    usd_per_hour=None,
    on_record: Callable[[RequestRecord], None] | None = None,
) -> tuple[RunSummary, bool]:
    """(summary, interrupted). With ``out``, records are appended to ``out`` (.jsonl) or to
    ``out``.partial.jsonl, converted to ``out`` (.parquet) at the end — also after Ctrl-C, so
    the finished records are where the user asked. ``on_record`` is called with each record
    once it is written (e.g. to stop the run after N requests)."""
    stream_path = None
    if out is not None and out.suffix not in (".jsonl", ".parquet"):
        raise InputError("out", str(out), "a .jsonl (written as requests end) or .parquet path")
    if out is not None:
        stream_path = out if out.suffix == ".jsonl" else out.with_suffix(".partial.jsonl")
        stream_path.parent.mkdir(parents=True, exist_ok=True)
        stream_path.write_text("")
    handle = stream_path.open("a") if stream_path else None
    done: list[RequestRecord] = []

    def sink(record: RequestRecord) -> None:
        done.append(record)
        if handle is not None:
            handle.write(record.to_json() + "\n")
            handle.flush()
        if on_record is not None:
            on_record(record)

    bar = _progress()
    task = bar.add_task("requests", total=None) if bar else None

    def on_done(n: int, total: int) -> None:
        if bar:
            bar.update(task, completed=n, total=total or None)

    start = time.perf_counter()
    interrupted, wall = False, None
    try:
        if bar:
            bar.start()
        wall = run_load(spec, sink, on_done).wall_s  # from the schedule's start (processes)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if bar:
            bar.stop()
        if handle is not None:
            handle.close()
    if wall is None:  # interrupted: up to now
        wall = time.perf_counter() - start
    records = sorted(done, key=lambda r: r.id)
    if out is not None and out.suffix == ".parquet":
        write_records(out, read_records(stream_path))
        stream_path.unlink()
    return summarize(records, wall, contract, usd_per_hour), interrupted


def _progress():
    if not sys.stderr.isatty():
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    return Progress(
        "{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
