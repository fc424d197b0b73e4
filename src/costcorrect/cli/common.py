"""Edges shared by every command: one-line errors, atomic file writes, JSON output."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Annotated, Any

import typer

from costcorrect.errors import InputError

#: ``--json``: print the command's typed result as JSON on stdout (every command has it)
Json = Annotated[bool, typer.Option("--json", help="print JSON")]
#: ``--stack``: the perf calibration a command's deployments use (one option for every command)
StackOption = Annotated[
    str | None,
    typer.Option(
        "--stack",
        help="perf calibration stack, e.g. vllm-0.24.0, sglang-0.5.14, trtllm-1.3.0rc20, "
        "splitwise, torch-graphs (default: the GPU's first, today's engine; list them with "
        "`catalog list calibrations`)",
    ),
]


def seed_option(help: str = "random seed") -> Any:
    """``--seed``: a non-negative integer (numpy's generators refuse negative seeds)."""
    return Annotated[int, typer.Option(min=0, help=f"{help} (an integer ≥ 0)")]


#: the load modes of ``serve cost`` and ``serve plan`` (``serving.cost.Load``)
Concurrency = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="closed loop: this many users, each sending its next request when the previous "
        "completes (+ --think); the simulator",
    ),
]
Think = Annotated[str, typer.Option(help="closed loop: think time between requests, e.g. 1s")]
Offline = Annotated[
    bool,
    typer.Option(
        "--offline",
        help="offline mode (MLPerf Offline, batch jobs): every request at t = 0, no latency "
        "contract; the throughput at saturation",
    ),
]


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


def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def parse_ints(text: str, name: str) -> tuple[int, ...]:
    """``1,2,4`` → (1, 2, 4); anything else is an input error naming option ``name``."""
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise InputError(name, text, "comma-separated positive integers, e.g. 1,2,4") from None


def spinner_updates(status):
    """Progress messages into the spinner (none when output is not a terminal)."""
    return None if status is None else status.update
