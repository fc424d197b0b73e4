"""``python -m costcorrect.validate perf``: fit on real GPU data and report held-out error."""

from __future__ import annotations

from pathlib import Path

import typer

from costcorrect.cli.common import progress, run_guarded
from costcorrect.io import atomic_write

app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.callback()
def _root() -> None:
    """Validation against released real-GPU measurements (../shared/data)."""


@app.command()
def perf(
    shared: Path | None = typer.Option(
        None, help="shared folder holding data/ (default: ../shared)"
    ),
    write: Path | None = typer.Option(None, help="write the markdown report here"),
    calibrations: Path | None = typer.Option(None, help="write fitted calibrations YAML here"),
) -> None:
    """Fit the perf model per GPU, print held-out error, optionally write docs and calibrations."""

    def job() -> None:
        from costcorrect.catalog import load_catalog
        from costcorrect.validate.measurements import default_shared_path
        from costcorrect.validate.perf import (
            calibrations_yaml,
            fit_calibrations,
            report_markdown,
            run_checks,
        )

        root = shared or default_shared_path()
        catalog = load_catalog()
        with progress("fitting and evaluating on the shared GPU measurements …"):
            text = report_markdown(run_checks(root, catalog))
        typer.echo(text)
        if write is not None:
            atomic_write(write, text)
        if calibrations is not None:
            with progress("fitting calibrations …"):
                entries = fit_calibrations(root, catalog)
            atomic_write(calibrations, calibrations_yaml(entries))

    run_guarded(job)


if __name__ == "__main__":
    app()
