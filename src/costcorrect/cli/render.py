"""Rich rendering of results for people (tables with units); JSON output bypasses this."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from costcorrect.units import format_quantity

# Piped output is not squeezed to 80 columns.
console = Console() if sys.stdout.isatty() else Console(width=200)


def print_frame(frame, title: str) -> None:
    """A DataFrame as a rich table."""
    table = Table(title=title)
    for i, col in enumerate(frame.columns):
        table.add_column(str(col), no_wrap=i == 0)
    for row in frame.itertuples(index=False):
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)


def print_entry(entry: dict[str, Any], prefix: str = "") -> None:
    """A catalog entry as ``field  value  (source, date)`` lines."""
    table = Table(show_header=True)
    for col in ("field", "value", "source", "date"):
        table.add_column(col, overflow="fold")
    for key, value, source, date in _flatten(entry, prefix):
        table.add_row(key, value, source, date)
    console.print(table)


def _flatten(entry: dict[str, Any], prefix: str):
    for key, value in entry.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and "value" in value and "source" in value:
            yield name, str(value["value"]), str(value["source"]), str(value["date"])
        elif isinstance(value, dict):
            yield from _flatten(value, name + ".")
        else:
            yield name, str(value), "", ""


def print_step(result, title: str) -> None:
    """Per-op breakdown of one iteration (scalar StepTime)."""
    total = float(result.total_s)
    table = Table(title=f"{title}: {format_quantity(total, 'time')} per iteration")
    for col in ("op", "time", "share", "FLOP", "HBM bytes"):
        table.add_column(col, justify="right" if col != "op" else "left")
    for op, seconds in result.seconds.items():
        s, flop, nbytes = float(seconds), float(result.flop[op]), float(result.bytes[op])
        if s == 0:
            continue
        table.add_row(
            op,
            format_quantity(s, "time"),
            f"{s / total:.1%}",
            format_quantity(flop, "flop"),
            format_quantity(nbytes, "bytes"),
        )
    console.print(table)


def print_summary(s) -> None:
    """The ``demo`` deployment summary."""
    console.print(
        f"[bold]{s.model}[/bold] on {s.tp * s.pp}× {s.gpu} (TP {s.tp}, PP {s.pp}), "
        f"calibration: {s.stack}; workload {s.workload}: mean prompt "
        f"{s.mean_prompt_tokens:.0f} tok, mean output {s.mean_output_tokens:.0f} tok"
    )
    console.print(
        f"weights {format_quantity(s.weight_bytes_per_gpu, 'bytes')}/GPU · KV cache "
        f"{s.kv_capacity_tokens:,} tokens (max batch {s.max_batch}) · "
        f"price {format_quantity(s.price_usd_per_hour / 3600, 'usd_rate')} for the instance · "
        f"prefill of one mean prompt {format_quantity(s.prefill_s, 'time')}"
    )
    table = Table(title="decode at the workload's mean context (no queueing, no SLO)")
    for col in ("batch", "step (TPOT)", "output tok/s", "$ / M output tokens"):
        table.add_column(col, justify="right")
    for p in s.decode:
        table.add_row(
            str(p.batch),
            format_quantity(p.step_s, "time"),
            f"{p.output_tokens_per_s:,.0f}",
            f"${p.usd_per_million_output_tokens:,.3f}",
        )
    console.print(table)
