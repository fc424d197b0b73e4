"""Shared by the benchmark scripts: print a section and, if asked, record it in the docs."""

from __future__ import annotations

import os
import platform
from pathlib import Path

from costcorrect.io import write_section

HEADER = "# Benchmarks\n\nRecorded by the scripts in `benchmarks/`.\n"


def publish(text: str, path: Path | None) -> None:
    """Print ``text`` and replace its section of ``path`` (docs/benchmarks.md) when given."""
    print(text)
    if path:
        write_section(path, text, HEADER)


def table(title: str, rows: list[tuple[str, str, str]], notes: tuple[str, ...] = ()) -> str:
    """A benchmark section: ``title``, the machine, a (measurement, value, target) table."""
    lines = [
        f"## {title}",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, "
        f"{platform.python_implementation()} {platform.python_version()}.",
        "",
        "| measurement | value | target |",
        "|---|---|---|",
        *(f"| {what} | {value} | {target} |" for what, value, target in rows),
    ]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"
