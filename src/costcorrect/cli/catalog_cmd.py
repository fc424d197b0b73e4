"""``costcorrect catalog list|show``: what hardware, models, workloads, prices exist."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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


add_app = typer.Typer(no_args_is_help=True, help="Add entries to a user catalog file.")
app.add_typer(add_app, name="add")


@add_app.command("model")
def add_model(
    from_: Annotated[
        Path, typer.Option("--from", help="a Hugging Face config.json (decoder-only)")
    ],
    name: Annotated[str | None, typer.Option(help="catalog name (default: the HF id)")] = None,
    hf_id: Annotated[
        str | None, typer.Option(help="Hugging Face id (default: the config's _name_or_path)")
    ] = None,
    out: Annotated[Path, typer.Option(help="catalog YAML to write")] = Path("my_models.yaml"),
    date: Annotated[
        str | None, typer.Option(help="the config's date, YYYY-MM-DD (default: the file's)")
    ] = None,
    json_: Json = False,
) -> None:
    """A model entry from a Hugging Face config.json (GQA, sliding window, MoE, MLA), checked
    like every catalog entry and written as a user catalog: use it with --catalog OUT."""

    def job() -> None:
        import datetime as dt
        import tempfile

        import yaml

        from costcorrect.catalog import load_catalog
        from costcorrect.catalog.hf_config import model_from_hf_config, read_hf_config
        from costcorrect.errors import InputError
        from costcorrect.io import atomic_write

        config = read_hf_config(from_)
        repo = hf_id or str(config.get("_name_or_path") or "") or None
        entry_name = name or repo
        if not entry_name:
            raise InputError("name", None, "--name (the config has no _name_or_path)")
        if date is None:
            day = dt.datetime.fromtimestamp(from_.stat().st_mtime, dt.UTC).date()
        else:
            try:
                day = dt.date.fromisoformat(date)
            except ValueError:
                raise InputError("date", date, "a date as YYYY-MM-DD") from None
        spec = model_from_hf_config(config, entry_name, day, repo, str(from_))
        entry = spec.model_dump(mode="json", exclude_none=True)
        text = yaml.safe_dump({"schema_version": 1, "models": [entry]}, sort_keys=False)
        with tempfile.TemporaryDirectory() as folder:  # it must load as a user catalog
            check = Path(folder) / "model.yaml"
            check.write_text(text)
            load_catalog([*state.catalog_files, check], state.overrides).models.get(entry_name)
        atomic_write(out, text)
        if json_:
            echo_json(entry)
            return
        typer.echo(
            f"{entry_name}: {spec.param_count / 1e9:.2f} B parameters "
            f"({spec.active_param_count / 1e9:.2f} B active), "
            f"{spec.kv_bytes_per_token() / 1024:.0f} KiB of KV cache per token → {out}\n"
            f"use it with: costcorrect --catalog {out} perf step --model {entry_name}"
        )

    run_guarded(job)
