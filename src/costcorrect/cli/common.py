"""Edges shared by every command: one-line errors, atomic file writes, JSON output."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Annotated, Any

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

from costcorrect.errors import InputError, shown
from costcorrect.io import written_together

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


def stack_line(dep) -> str:
    """``Stack: GPU/stack, validated on …``: the calibration an answer used and its own
    held-out error."""
    from costcorrect.perf.calibration import stack_validation

    return f"Stack: {stack_validation(state.catalog(), dep.hardware, dep.stack)}"


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


def run_guarded(job: Callable[[], Any], together: bool = True) -> Any:
    """Run ``job``; an :class:`InputError` — or a run too large for memory — becomes one line
    on stderr and exit code 2. With ``together`` the files it writes land together when it
    ends, or none of them if it fails (a deliberate ``typer.Exit`` keeps them); a job that
    reads back what it wrote passes False."""
    try:
        if not together:
            return job()
        with written_together(keep=(typer.Exit,)):
            return job()
    except InputError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    except MemoryError as err:  # sizes no up-front check caught: say what it asked for
        expected = "a run that fits in this machine's memory (fewer points, trials or requests)"
        typer.echo(f"error: {InputError('memory', str(err), expected)}", err=True)
        raise typer.Exit(2) from None


class OneLineErrors(TyperGroup):
    """The root command group: a usage error typer raises itself (an unknown option, a value
    outside an option's range, a missing argument) is one ``error:`` line on stderr naming the
    option and the value given, exit 2 — as :func:`run_guarded` prints ours."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        argv = list(sys.argv[1:] if args is None else args)
        try:
            code = super().main(argv, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.Abort:
            typer.echo("Aborted!", err=True)
            code = 1
        except TyperException as err:
            if not hasattr(err, "format_message"):
                raise
            if type(err).__name__ != "NoArgsIsHelpError":  # (a bare group printed its help)
                typer.echo(f"error: {usage_error_line(err, argv)}", err=True)
            code = err.exit_code
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)


def usage_error_line(err: TyperException, argv: list[str]) -> str:
    """``option: got VALUE, reason`` for a bad option value (the value read back from
    ``argv``), else typer's own message."""
    message = err.format_message()
    param = getattr(err, "param", None)
    opts = getattr(param, "opts", None)
    if not opts:
        return message
    reason = message.split(": ", 1)[-1]
    for i, token in enumerate(argv):
        name, _, inline = token.partition("=")
        if name in opts:
            value = inline or (argv[i + 1] if i + 1 < len(argv) else "")
            return f"{opts[0].lstrip('-')}: got {shown(value)}, {reason[:1].lower()}{reason[1:]}"
    return message


def progress(message: str) -> AbstractContextManager[Any]:
    """A spinner on stderr while long work runs (silent when stderr is not a terminal)."""
    if not sys.stderr.isatty():
        return nullcontext()
    from rich.console import Console

    return Console(stderr=True).status(message)


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None] | None]:
    """A bar with the fraction done on stderr while long work runs, as ``update(done,
    total)`` (None when stderr is not a terminal: nothing to draw on)."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    columns = (description, BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


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
