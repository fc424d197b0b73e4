"""Root ``costcorrect`` application: global catalog options and the sub-command groups.

Typer inspects every function it registers when the application runs (about 0.1 s for all of
them), so :func:`main` builds only the group or command named on the command line;
``costcorrect.cli.app.app`` (tests, ``--help``, a misspelt name) is the whole application."""

from __future__ import annotations

import gc
import sys
from importlib import import_module
from pathlib import Path

import typer

from costcorrect.cli.common import Json, OneLineErrors, echo_json, progress, run_guarded, state

#: sub-command groups → the modules to import (the first holds the group's Typer ``app``;
#: importing ``search_cmd`` adds `serve plan`, `frontier`, `break-even`, `reproduce`)
GROUPS: dict[str, tuple[str, ...]] = {
    "catalog": ("catalog_cmd",),
    "perf": ("perf_cmd",),
    "serve": ("serve_cmd", "search_cmd"),
    "verify": ("verify_cmd",),
    "route": ("route_cmd",),
    "allocate": ("allocate_cmd",),
    "energy": ("energy_cmd",),
    "bench": ("bench_cmd",),
    "measure": ("measure_cmd",),
}
#: single commands of other modules → (module, function)
COMMANDS: dict[str, tuple[str, str]] = {
    "slack": ("slack_cmd", "slack"),
    "correct": ("correct_cmd", "correct"),
    "quantize": ("correct_cmd", "quantize"),
    "vcpd": ("correct_cmd", "vcpd"),
    "compression": ("correct_cmd", "compression"),
}
#: root options that take a value (skipped when finding the command's name)
ROOT_VALUE_OPTIONS = ("--catalog", "--set")


def _module(name: str):
    return import_module(f"costcorrect.cli.{name}")


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


def version(json_: Json = False) -> None:
    """Print the version."""
    from costcorrect import __version__

    echo_json({"version": __version__}) if json_ else typer.echo(__version__)


#: commands defined here
OWN = {"demo": demo, "report": report, "version": version}


def build(only: str | None = None) -> typer.Typer:
    """The root application with every group and command, or with only ``only``'s."""
    root = typer.Typer(
        cls=OneLineErrors,
        no_args_is_help=True,
        add_completion=False,
        help="Inference economics: $ per SLO-compliant token and per correct answer.",
    )
    root.callback()(_root)
    for name, modules in GROUPS.items():
        if only in (None, name):
            imported = [_module(m) for m in modules]
            root.add_typer(imported[0].app, name=name)
    for name, (module, function) in COMMANDS.items():
        if only in (None, name):
            root.command(name)(getattr(_module(module), function))
    for name, function in OWN.items():
        if only in (None, name):
            root.command(name)(function)
    return root


def command_name(argv: list[str]) -> str | None:
    """The group or command ``argv`` names (None: none, or one we do not know)."""
    tokens = iter(argv)
    for token in tokens:
        if token in ROOT_VALUE_OPTIONS:
            next(tokens, None)
        elif not token.startswith("-"):
            known = token in GROUPS or token in COMMANDS or token in OWN
            return token if known else None
    return None


def __getattr__(name: str):
    if name == "app":  # the whole application, built once on first use
        globals()["app"] = build()
        return globals()["app"]
    raise AttributeError(name)


def main() -> None:
    try:
        build(command_name(sys.argv[1:]))()
    finally:  # the process exits next: its last collection need not walk every object
        gc.freeze()
