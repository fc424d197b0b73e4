"""The Cost-correct ledger: the equation, split pricing, elasticities, levers, estimation."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from costcorrect.cli.app import app
from costcorrect.correct.ledger import (
    OperatingPoint,
    Prices,
    cost_correct,
    estimate,
    verified_capability_per_dollar,
)
from costcorrect.errors import InputError

PRICES = Prices(2.5, 10.0, 1.25)


def test_blended_ledger_is_the_equation():
    op = OperatingPoint(
        answer_tokens=300, reasoning_multiplier=3, extra_rollouts=15, accept_rate=0.8
    )
    c = cost_correct(PRICES, op)
    assert c.usd_per_million_answer_tokens == pytest.approx(6.25 * 3 * 16 / 0.8)
    assert c.usd_per_answer == pytest.approx(c.usd_per_million_answer_tokens * 300 / 1e6)


def test_split_pricing_charges_the_input_and_the_cache():
    heavy = OperatingPoint(answer_tokens=100, input_tokens=10_000)
    cached = OperatingPoint(answer_tokens=100, input_tokens=10_000, cached_fraction=1.0)
    per_answer = (10_000 * 2.5 + 100 * 10.0) / 1e6
    assert cost_correct(PRICES, heavy, split=True).usd_per_answer == pytest.approx(per_answer)
    assert cost_correct(PRICES, cached, split=True).usd_per_answer == pytest.approx(
        (10_000 * 1.25 + 100 * 10.0) / 1e6
    )
    # an input-heavy workload is far dearer than the blend says
    assert (
        cost_correct(PRICES, heavy, split=True).usd_per_answer
        > 5 * cost_correct(PRICES, heavy).usd_per_answer
    )


def test_elasticities_match_finite_differences():
    op = OperatingPoint(
        answer_tokens=300,
        input_tokens=2000,
        reasoning_multiplier=2,
        extra_rollouts=3,
        accept_rate=0.7,
    )
    for split in (False, True):
        c = cost_correct(PRICES, op, split)
        h = 1e-6
        for field, key in (
            ("accept_rate", "accept_rate"),
            ("reasoning_multiplier", "reasoning_multiplier"),
            ("extra_rollouts", "extra_rollouts"),
        ):
            bumped = OperatingPoint(**{**op.__dict__, field: getattr(op, field) * (1 + h)})
            numeric = np.log(
                cost_correct(PRICES, bumped, split).usd_per_million_answer_tokens
                / c.usd_per_million_answer_tokens
            ) / np.log1p(h)
            assert numeric == pytest.approx(c.elasticities[key], rel=1e-4)
    assert {lever.lever for lever in c.levers} >= {"accept rate α", "CPM"}


def test_estimate_from_prompts_has_intervals():
    rng = np.random.default_rng(0)
    n = 2000
    accepted = rng.random(n) < 0.75
    answer = rng.integers(100, 400, n)
    billed = answer * 3
    est = estimate(PRICES, accepted, answer, billed, resamples=300)
    alpha, low, high = est.accept_rate
    assert low < alpha < high and alpha == pytest.approx(accepted.mean())
    assert est.reasoning_multiplier[0] == pytest.approx(3.0)
    assert est.usd_per_million_answer_tokens[0] == pytest.approx(6.25 * 3 / alpha)


def test_verified_capability_per_dollar_factors_multiply():
    v = verified_capability_per_dollar(2.0, {"quantization": 1.8, "hardware": 2.2})
    assert v["tokens_per_usd"] == pytest.approx(5e5)
    assert v["total_gain"] == pytest.approx(3.96)
    with pytest.raises(InputError, match="hardware"):
        verified_capability_per_dollar(2.0, {"hardware": 0.0})


def test_correct_command():
    runner = CliRunner()
    ok = runner.invoke(
        app, ["correct", "--input-price", "2.5", "--output-price", "10", "--alpha", "0.5", "--json"]
    )
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["usd_per_million_answer_tokens"] == pytest.approx(12.5)
    bad = runner.invoke(app, ["correct", "--model", "gpt-4o", "--alpha", "1.5"])
    assert bad.exit_code == 2 and "accept_rate" in bad.output


def test_correct_reads_a_yaml_config_and_flags_win(tmp_path):
    config = tmp_path / "ledger.yaml"
    config.write_text("input_price: 2.5\noutput_price: 10\nalpha: 0.5\nr: 2\n")
    runner = CliRunner()
    base = runner.invoke(app, ["correct", "--config", str(config), "--json"])
    assert json.loads(base.output)["usd_per_million_answer_tokens"] == pytest.approx(25.0)
    flag = runner.invoke(app, ["correct", "--config", str(config), "--alpha", "1", "--json"])
    assert json.loads(flag.output)["usd_per_million_answer_tokens"] == pytest.approx(12.5)
    config.write_text("alpa: 0.5\n")
    bad = runner.invoke(app, ["correct", "--config", str(config)])
    assert bad.exit_code == 2 and "alpa" in bad.output
