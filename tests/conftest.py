"""Fixtures shared by several test modules."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from costcorrect.cli.app import app


@pytest.fixture(scope="session")
def default_report(tmp_path_factory) -> tuple[Path, str]:
    """`costcorrect report --json` of the default scenario: (the HTML file, its JSON stdout)."""
    out = tmp_path_factory.mktemp("report") / "sub" / "report.html"
    result = CliRunner().invoke(app, ["report", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    return out, result.stdout
