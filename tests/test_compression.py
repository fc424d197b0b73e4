"""Price compression decomposed into stack changes: the factors multiply to the modelled cost
ratio, the remainder closes it to the price ratio, every assumption is printed."""

import json
import math

import pytest
from typer.testing import CliRunner

from costcorrect.catalog.prices import find_api_price
from costcorrect.cli.app import app
from costcorrect.correct.compression import LEVERS, NEW_MODEL, OLD_MODEL, compression


@pytest.fixture(scope="module")
def default():
    return compression(requests=1000)


def test_factors_multiply_to_the_modelled_ratio_and_the_remainder_is_explicit(default):
    c = default
    assert list(c.factors) == list(LEVERS)
    assert math.prod(c.factors.values()) == pytest.approx(c.modelled_ratio, rel=1e-12)
    assert c.modelled_ratio * c.remainder == pytest.approx(c.price_ratio, rel=1e-12)
    # each step changes only its lever's fields, from the old stack to the new
    assert c.path[0].stack == OLD_MODEL.stack and c.path[-1].stack == NEW_MODEL.stack
    for before, step in zip(c.path, c.path[1:], strict=False):
        changed = {
            f for f in LEVERS[step.label] if getattr(before.stack, f) != getattr(step.stack, f)
        }
        assert changed and changed <= set(LEVERS[step.label])
        assert before.stack.switched(LEVERS[step.label], NEW_MODEL.stack) == step.stack
    # a newer runtime and a smaller model in the same class each serve a token for less
    assert c.factors["runtime"] > 2 and c.factors["architecture"] > 5
    assert all(step.converged is not None for step in c.path)


def test_prices_are_per_output_token_of_the_workload_with_their_dates(default):
    c = default
    davinci = find_api_price("text-davinci-003", "openai")
    assert c.old_price.date == davinci.date.isoformat() == "2023-06-22"  # observed, not snapshot
    flash = find_api_price("gemini-1.5-flash-8b", "google")
    per_output = c.new_price.usd_per_million_output / 1e6
    share = (per_output - flash.output_usd_per_token) / flash.input_usd_per_token
    assert 0.2 < share < 1.0  # ShareGPT (vLLM paper): about half a prompt token per answer token
    assert c.old_price.usd_per_million_output == pytest.approx(20 * (1 + share))
    assert c.annual_factor == pytest.approx(c.price_ratio ** (1 / c.years))
    assert 1.4 < c.years < 1.5


def test_every_assumption_is_printed(default):
    text = " ".join(default.assumptions)
    for needed in ("OPT-175B", "Llama-3.1-8B", "$1.79/h", "$2.99/h", "k = 4", "order"):
        assert needed.lower() in text.lower(), needed


def test_compression_cli_json_and_bad_input(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(app, ["compression", "--requests", "500", "--json"])
    assert ok.exit_code == 0, ok.output
    answer = json.loads(ok.output)
    assert set(answer["factors"]) == set(LEVERS) and answer["price_ratio"] > 10
    swapped = [
        "compression",
        "--old-price", "google/gemini-1.5-flash-8b",
        "--new-price", "openai/text-davinci-003",
        "--figure", str(tmp_path / "c"),
    ]  # fmt: skip
    bad = runner.invoke(app, swapped)
    assert bad.exit_code == 2 and bad.output.count("\n") == 1 and "dated after" in bad.output
    assert not list(tmp_path.iterdir())
    unknown = runner.invoke(app, ["compression", "--new-price", "text-davinci-003"])
    assert unknown.exit_code == 2 and "PROVIDER/MODEL" in unknown.output
