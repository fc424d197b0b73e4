"""`costcorrect report`: the default scenario end to end into one self-contained HTML file,
and scenario files with errors (one line naming the field, no report written)."""

import re

import pytest
from typer.testing import CliRunner

from costcorrect.cli.app import app

runner = CliRunner()
FIGURES = ("fig-plan", "fig-ledger", "fig-levers", "fig-energy", "fig-routing", "fig-allocation")


def test_default_scenario_report_is_self_contained(tmp_path):
    out = tmp_path / "sub" / "report.html"
    result = runner.invoke(app, ["report", "--out", str(out)])
    assert result.exit_code == 0, result.output
    path, sentence = result.output.strip().splitlines()[-2:]
    assert path == str(out) and "per million SLO-compliant output tokens" in sentence
    text = out.read_text()
    assert out.stat().st_size < 10e6
    for div in FIGURES:
        assert f'id="{div}"' in text, div
    assert not re.search(r"""<(script|link)[^>]+(src|href)=["']https?:""", text)
    assert "Provenance" in text and "nvidia" in text.lower()  # catalog sources shown


SCENARIO = """\
title: test
model: llama-3.1-8b
gpus: [{gpu}]
contract: {{ttft: {ttft}, tpot: 50ms}}
{extra}
"""


@pytest.mark.parametrize(
    ("gpu", "ttft", "extra", "field"),
    [
        ("H900", "1s", "", "H900"),
        ("H100-SXM", "-1s", "", "ttft"),
        ("H100-SXM", "1s", "routing_data: missing.csv", "routing_data"),
        ("H100-SXM", "1s", "colour: blue", "colour"),
    ],
)
def test_bad_scenarios_write_no_report(gpu, ttft, extra, field, tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO.format(gpu=gpu, ttft=ttft, extra=extra))
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["report", str(scenario), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert field in result.output and len(result.output.strip().splitlines()) == 1
    assert not out.exists()
