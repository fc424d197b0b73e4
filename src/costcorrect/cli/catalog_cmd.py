"""``costcorrect catalog list|show``: what hardware, models, workloads, prices exist."""

from __future__ import annotations

import typer

from costcorrect.cli.common import Json, echo_json, run_guarded, state

app = typer.Typer(no_args_is_help=True, help="Hardware, models, workloads, prices, calibrations.")
KINDS_HELP = "hardware | models | workloads | calibrations | prices"


@app.command("list")
def list_(
    kind: str = typer.Argument(..., help=KINDS_HELP),
    json_: Json = False,
) -> None:
    """One row per entry of KIND with its key numbers (human units)."""

    def job() -> None:
        from costcorrect.catalog.views import summary_frame
        from costcorrect.cli.render import print_frame

        frame = summary_frame(state.catalog(), kind)
        echo_json(frame.to_dict(orient="records")) if json_ else print_frame(frame, kind)

    run_guarded(job)


@app.command()
def show(
    kind: str = typer.Argument(..., help=KINDS_HELP),
    name: str = typer.Argument(..., help="entry name or alias"),
    json_: Json = False,
) -> None:
    """Every field of one entry, with the source and date of each number (a calibration: each
    parameter with its 95 % interval and whether the data or the fit's prior set it)."""

    def job() -> None:
        from costcorrect.catalog.views import entry_dict
        from costcorrect.cli.render import print_calibration_entry, print_entry

        entry = entry_dict(state.catalog(), kind, name)
        if json_:
            echo_json(entry)
        elif kind == "calibrations":
            print_calibration_entry(state.catalog().calibrations.get(name))
        else:
            print_entry(entry)

    run_guarded(job)
