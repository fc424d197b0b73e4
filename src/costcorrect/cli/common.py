"""Edges shared by every command: one-line errors, atomic file writes, JSON output."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import typer

from costcorrect.errors import InputError


class _State:
    """Options of the root command that every sub-command reads."""

    catalog_files: tuple[str, ...] = ()
    overrides: tuple[str, ...] = ()

    def catalog(self):
        from costcorrect.catalog import load_catalog

        return load_catalog(self.catalog_files, self.overrides)


state = _State()


def run_guarded(job: Callable[[], Any]) -> Any:
    """Run ``job``; an :class:`InputError` becomes one line on stderr and exit code 2."""
    try:
        return job()
    except InputError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None


def progress(message: str) -> AbstractContextManager[Any]:
    """A spinner on stderr while long work runs (silent when stderr is not a terminal)."""
    if not sys.stderr.isatty():
        return nullcontext()
    from rich.console import Console

    return Console(stderr=True).status(message)


def atomic_write(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and a rename: never a partial file."""
    path = Path(path)
    if path.parent and not path.parent.exists():
        raise InputError("output", str(path), "a path in an existing folder")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
