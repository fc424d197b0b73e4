"""Root ``costcorrect`` application: global catalog options and the sub-command groups."""

from __future__ import annotations

from pathlib import Path

import typer

from costcorrect.cli import (  # noqa: F401 (search_cmd registers `serve plan` etc.)
    allocate_cmd,
    bench_cmd,
    catalog_cmd,
    correct_cmd,
    energy_cmd,
    measure_cmd,
    perf_cmd,
    route_cmd,
    search_cmd,
    serve_cmd,
    slack_cmd,
    verify_cmd,
)
from costcorrect.cli.common import Json, OneLineErrors, echo_json, progress, run_guarded, state

app = typer.Typer(
    cls=OneLineErrors,
    no_args_is_help=True,
    add_completion=False,
    help="Inference economics: $ per SLO-compliant token and per correct answer.",
)
app.add_typer(catalog_cmd.app, name="catalog")
app.add_typer(perf_cmd.app, name="perf")
app.add_typer(serve_cmd.app, name="serve")  # importing search_cmd adds `serve plan`
app.add_typer(verify_cmd.app, name="verify")
app.add_typer(route_cmd.app, name="route")
app.add_typer(allocate_cmd.app, name="allocate")
app.add_typer(energy_cmd.app, name="energy")
app.add_typer(bench_cmd.app, name="bench")
app.add_typer(measure_cmd.app, name="measure")
app.command("slack")(slack_cmd.slack)
app.command("correct")(correct_cmd.correct)
app.command("quantize")(correct_cmd.quantize)
app.command("vcpd")(correct_cmd.vcpd)
app.command("compression")(correct_cmd.compression)


@app.callback()
def _root(
    catalog: list[str] = typer.Option(
        [],
        "--catalog",
        metavar="FILE",
        help="extra catalog YAML adding or overriding entries (repeatable)",
    ),
    set_: list[str] = typer.Option(
        [],
        "--set",
        metavar="KIND.NAME.FIELD=VALUE",
        help="override one field: KIND.NAME.FIELD=VALUE, e.g. "
        "hardware.H100-SXM.price_usd_per_s='$2.10/h' (repeatable)",
    ),
) -> None:
    state.catalog_files = tuple(catalog)
    state.overrides = tuple(set_)


@app.command()
def demo(
    model: str = typer.Option("llama-3.1-70b", help="catalog model"),
    gpu: str = typer.Option("H100-SXM", help="catalog GPU"),
    tp: int = typer.Option(8, help="tensor-parallel GPUs"),
    pp: int = typer.Option(1, help="pipeline stages"),
    workload: str = typer.Option("sharegpt", help="catalog workload (mean lengths)"),
    json_: Json = False,
) -> None:
    """Performance and cost-per-token summary of a deployment (default: Llama-3.1-70B, 8×H100)."""

    def job() -> None:
        from costcorrect.cli.render import print_summary
        from costcorrect.summary import summarize_deployment

        result = summarize_deployment(model, gpu, tp, pp, workload, catalog=state.catalog())
        echo_json(result.to_dict()) if json_ else print_summary(result)

    run_guarded(job)


@app.command()
def report(
    scenario: Path | None = typer.Argument(
        None, help="scenario YAML (default: the packaged Llama-3.1-70B chat scenario)"
    ),
    out: Path = typer.Option(
        Path("reports/report.html"), "-o", "--out", help="the self-contained HTML report to write"
    ),
    json_: Json = False,
) -> None:
    """One self-contained interactive HTML answer to a scenario: serving plan, Cost-correct,
    energy, routing, allocation and provenance; prints its path and the one-sentence answer."""

    def job() -> None:
        from costcorrect.io import atomic_write
        from costcorrect.report.html import answer_sentence, render
        from costcorrect.report.run import run_scenario
        from costcorrect.report.scenario import load_scenario

        catalog = state.catalog()
        loaded = load_scenario(scenario, catalog)
        with progress("running the scenario …"):
            result = run_scenario(loaded, catalog)
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(out, render(result))
        if json_:
            echo_json({"path": str(out), "answer": answer_sentence(result), **result.to_dict()})
            return
        typer.echo(str(out))
        typer.echo(answer_sentence(result))

    run_guarded(job)


@app.command()
def version(json_: Json = False) -> None:
    """Print the version."""
    from costcorrect import __version__

    echo_json({"version": __version__}) if json_ else typer.echo(__version__)


def main() -> None:
    app()
