"""Verified capability per dollar computed end to end: four levers from the engines, the
path that multiplies to the total and the interaction the single-lever factors leave."""

import json
import math

import pytest
from typer.testing import CliRunner

from costcorrect.catalog.quantization import published_accuracy
from costcorrect.cli.app import app
from costcorrect.correct.vcpd import LEVERS, NEW_STACK, OLD_STACK, vcpd


@pytest.fixture(scope="module")
def default():
    return vcpd()


def test_default_scenario_is_computed_not_typed_in(default):
    """The default scenario: every factor from the simulator, the levers switched in turn
    multiply to the total, each alone-point differs from the old stack in its lever only."""
    v = default
    assert [p.label for p in v.levers] == list(LEVERS)
    assert math.prod(v.path_factors.values()) == pytest.approx(v.total_gain, rel=1e-12)
    assert v.interaction == pytest.approx(v.total_gain / math.prod(v.factors.values()))
    for lever, point in zip(LEVERS, v.levers, strict=True):
        assert point.stack == OLD_STACK.switched(LEVERS[lever], NEW_STACK)
        assert point.stack != OLD_STACK
    assert v.path[-1].stack == NEW_STACK and v.new.usd_per_million == v.path[-1].usd_per_million
    # continuous batching and the newer GPU each serve more SLO-compliant tokens per dollar
    assert v.factors["runtime"] > 2 and v.factors["hardware"] > 1
    assert "accept=0.717" in v.new.setup  # the catalog's measured EAGLE acceptance


def test_quantization_carries_its_published_accuracy(default):
    recovery = published_accuracy("llama-3.1-8b", "fp8").ratio
    quantized = next(p for p in default.levers if p.label == "quantization")
    assert quantized.alpha == pytest.approx(min(1.0, recovery))
    assert default.old.alpha == 1.0


def test_vcpd_cli_json_and_bad_input():
    runner = CliRunner()
    ok = runner.invoke(app, ["vcpd", "--requests", "1500", "--new-speculative", "none", "--json"])
    assert ok.exit_code == 0, ok.output
    answer = json.loads(ok.output)
    assert set(answer["factors"]) == set(LEVERS) and answer["total_gain"] > 1
    assert answer["factors"]["decoding parallelism"] == pytest.approx(1.0)  # nothing switched
    bad = runner.invoke(app, ["vcpd", "--alpha", "0"])
    assert bad.exit_code == 2 and bad.output.count("\n") == 1 and "alpha" in bad.output
