"""The README's CLI tour as written: every line names a real command with real options, and
every line that needs no input file, server or long search runs and exits 0."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from costcorrect.cli.app import app

README = Path(__file__).resolve().parents[1] / "README.md"
#: searches whose documented runs the docs test regenerates (docs/frontier.md, reproduce.md)
LONG = {("serve", "plan"), ("serve", "break-even"), ("serve", "reproduce")}


def _tour() -> list[list[str]]:
    text = README.read_text()
    block = re.search(r"## A short tour of the CLI\s+```console\n(.*?)```", text, re.S)[1]
    lines = block.replace("\\\n", " ").splitlines()
    prefix = "$ costcorrect"
    return [
        shlex.split(line.strip()[len(prefix) :], comments=True)
        for line in lines
        if line.strip().startswith(prefix)
    ]


TOUR = _tour()


def _needs_outside(args: list[str]) -> bool:
    """An input file the reader brings, a server, or an output written next to them."""
    files = any(re.search(r"\.(ya?ml|csv|jsonl?|html)$", a) for a in args)
    return files or "--url" in args or "--out" in args or "-o" in args


def _command(args: list[str]) -> tuple[str, ...]:
    words = [a for a in args if not a.startswith("-")]
    return tuple(words[:2])


def test_the_tour_is_long_and_covers_every_command_group():
    assert len(TOUR) >= 30
    groups = {_command(a)[0] for a in TOUR if _command(a)}
    assert {"serve", "perf", "verify", "route", "energy", "bench", "catalog"} <= groups


@pytest.mark.parametrize("args", TOUR, ids=[" ".join(a)[:60] for a in TOUR])
def test_every_tour_line_parses(args):
    result = CliRunner().invoke(app, [*args, "--help"])
    assert result.exit_code == 0, result.output


RUNNABLE = [a for a in TOUR if not _needs_outside(a) and _command(a)[:2] not in LONG]


@pytest.mark.parametrize("args", RUNNABLE, ids=[" ".join(a)[:60] for a in RUNNABLE])
def test_tour_lines_run_as_written(args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
