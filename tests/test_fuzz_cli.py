"""Every numeric option of every command, given a meaningless value (negative, NaN, ±inf),
is refused with a clean error: non-zero exit, no traceback, no file left behind."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from costcorrect.cli.app import app

MEANINGLESS = ("-1", "nan", "inf", "-inf")
NUMERIC = (int, float, int | None, float | None)


def _commands(command, path=()):
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            yield from _commands(sub, (*path, name))
    else:
        yield path, command


def _numeric_options() -> list[tuple[tuple[str, ...], str]]:
    root = typer.main.get_command(app)
    return [
        (path, param.opts[0])
        for path, command in _commands(root)
        for param in command.params
        if param.param_type_name == "option"
        and not param.is_flag
        and getattr(param.type_descriptor, "annotation", None) in NUMERIC
    ]


OPTIONS = _numeric_options()
CASES = [(path, option, value) for path, option in OPTIONS for value in MEANINGLESS]


def test_every_command_has_json():
    root = typer.main.get_command(app)
    missing = [
        " ".join(path)
        for path, command in _commands(root)
        if "--json" not in {o for p in command.params for o in getattr(p, "opts", ())}
    ]
    assert missing == []


@pytest.mark.parametrize(
    "args",
    [["version"], ["energy", "measure", "--layers", "1"], ["measure", "gpu", "--layers", "1"]],
)
def test_json_of_commands_without_tables(args, tmp_path, monkeypatch):
    """Valid JSON on stdout, also where there is no GPU to measure (``available``: false)."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data.get("version") or "available" in data


def test_the_table_covers_every_command_family():
    families = {path[0] for path, _ in OPTIONS}
    assert {"serve", "energy", "verify", "bench", "perf", "slack", "route"} <= families
    assert len(CASES) >= 500


@pytest.mark.parametrize(
    ("path", "option", "value"), CASES, ids=[f"{' '.join(p)} {o}={v}" for p, o, v in CASES]
)
def test_a_meaningless_number_is_refused_cleanly(path, option, value, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # anything a command wrongly wrote would show up here
    result = CliRunner().invoke(app, [*path, option, value])
    assert result.exit_code != 0, f"accepted: {result.output[-300:]}"
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []
