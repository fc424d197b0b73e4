"""Shared by the benchmark scripts: print a section and, if asked, record it in the docs."""

from __future__ import annotations

from pathlib import Path

from costcorrect.io import write_section

HEADER = "# Benchmarks\n\nRecorded by the scripts in `benchmarks/`.\n"


def publish(text: str, path: Path | None) -> None:
    """Print ``text`` and replace its section of ``path`` (docs/benchmarks.md) when given."""
    print(text)
    if path:
        write_section(path, text, HEADER)
