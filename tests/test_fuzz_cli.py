"""Every numeric option of every command, given a meaningless value (negative, NaN, ±inf),
is refused with a clean error: one ``error:`` line, non-zero exit, no traceback, no file left
behind."""

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
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output[-300:]
    assert list(tmp_path.iterdir()) == []


def _alias_bomb() -> bytes:
    """A 'billion laughs' YAML: nine levels of nine aliases (387 million nodes expanded)."""
    levels = ['  - &a0 ["x","x","x","x","x","x","x","x","x"]']
    levels += [f"  - &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    return ("title: t\nmodel: llama-3.1-8b\npp:\n" + "\n".join(levels) + "\ngpus: *a8\n").encode()


BAD_FILES = {
    "binary": bytes(range(256)) * 8,
    "empty": b"",
    "alias-bomb": _alias_bomb(),
    "missing": None,
}
#: every command that reads a file the user brings ({f}: the file)
FILE_COMMANDS = [
    ["report", "{f}", "--out", "r.html"],
    ["--catalog", "{f}", "catalog", "list", "hardware"],
    ["correct", "--config", "{f}"],
    ["catalog", "add", "model", "--from", "{f}", "--name", "m", "--out", "m.yaml"],
    ["slack", "--trace", "{f}"],
    ["serve", "simulate", "--trace", "{f}", "--out", "rec.csv"],
    ["perf", "fit", "{f}", "--out", "x.yaml"],
    ["verify", "calibrate", "{f}"],
    ["verify", "compose", "{f}", "--verifiers", "a,b"],
    ["verify", "audit", "{f}", "--verifiers", "a,b", "--out", "audit.json"],
    ["route", "evaluate", "{f}"],
    ["allocate", "fit", "{f}"],
    *(["bench", "ingest", "{f}", "--format", f] for f in ("vllm", "aiperf", "guidellm")),
    ["bench", "fit", "{f}", "{f}", "--model", "llama-3.1-8b", "--gpu", "H100", "--out", "f.json"],
]
FILE_CASES = [(c, kind) for c in FILE_COMMANDS for kind in BAD_FILES]


@pytest.mark.parametrize(
    ("command", "kind"),
    FILE_CASES,
    ids=[f"{' '.join(c[:3])} {k}" for c, k in FILE_CASES],
)
def test_a_bad_file_is_refused_cleanly(command, kind, tmp_path, monkeypatch):
    """Binary, empty, alias-bomb and missing files: one clean refusal, nothing written."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "input.yaml"
    if BAD_FILES[kind] is not None:
        path.write_bytes(BAD_FILES[kind])
    args = [str(path) if a == "{f}" else a for a in command]
    result = CliRunner().invoke(app, args)
    assert result.exit_code != 0, f"accepted: {result.output[-300:]}"
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )[:300]
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output[-300:]
    left = sorted(p.name for p in tmp_path.iterdir() if p != path)
    assert left == [], left


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["serve", "cost", "--requests", "1"], "error: requests: got '1', input should be"),
        (["serve", "cost", "--tp=x"], "error: tp: got 'x', input should be a valid integer"),
        (["serve", "cost", "--bogus", "3"], "error: No such option: --bogus"),
        (["verify", "calibrate"], "error: Missing argument 'data'"),
    ],
)
def test_a_usage_error_is_one_line_naming_the_option_and_value(args, line):
    """typer's own refusals (range, type, unknown option, missing argument) print as ours do:
    one ``error:`` line, exit 2 — no boxed panel, no usage block."""
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert result.output.strip().startswith(line) and len(result.output.splitlines()) == 1


def test_help_still_prints_and_succeeds():
    assert CliRunner().invoke(app, ["serve", "cost", "--help"]).exit_code == 0
    bare = CliRunner().invoke(app, ["serve"])
    assert bare.exit_code == 2 and "Commands" in bare.output


def test_a_run_too_large_for_memory_is_one_line(tmp_path, monkeypatch):
    """Sizes no up-front check knows (a trillion trials) end in one line naming the allocation
    that failed, exit 2 — not a MemoryError traceback."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["verify", "simulate", "--trials", "1000000000000"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: memory: got 'Unable to allocate")
    assert list(tmp_path.iterdir()) == []
