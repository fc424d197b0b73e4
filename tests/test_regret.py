"""Both sides of the selection rate √((log K1 + log K2)/N): the largest estimation error over
the pairs (upper side) fitted in N and log K1 + log K2, and a needle instance (lower side)."""

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from costcorrect.cli.app import app
from costcorrect.verify.regret import ALPHA0, needle_regret, regret_scaling


@pytest.fixture(scope="module")
def scaling():
    return regret_scaling(trials=100)


def test_upper_side_follows_the_rate(scaling):
    assert scaling.upper_slope_probes == pytest.approx(-0.5, abs=0.1)
    assert scaling.upper_slope_log_pairs == pytest.approx(0.5, abs=0.1)


def test_lower_side_stays_above_a_constant_times_the_rate(scaling):
    rows = scaling.rows
    ratio = rows["needle_regret"] / rows["rate"]
    assert scaling.lower_constant == pytest.approx(ratio.min())
    assert scaling.lower_constant > 0.15
    # and below the upper side: no selection does worse than twice the largest error
    assert np.all(rows["needle_regret"] <= 2 * rows["max_error"])


def test_needle_quadrature_matches_sampling():
    """The needle's regret at its worst gap, from quadrature, against 200,000 seeded
    selections among 64 pairs with exact binomial estimates at that gap."""
    pairs, probes = 64, 2_000
    worst = needle_regret(pairs, probes)
    sigma = math.sqrt(ALPHA0 * (1 - ALPHA0) / probes)
    # recover the gap: scan the same grid and pick where Δ·P(miss) is largest by sampling
    rng = np.random.default_rng(5)
    gaps = np.linspace(0.5, 4.0, 15) * sigma
    sampled = []
    for gap in gaps:
        others = rng.binomial(probes, ALPHA0, size=(20_000, pairs - 1)).max(axis=1)
        needle = rng.binomial(probes, ALPHA0 + gap, size=20_000)
        sampled.append(gap * np.mean(needle <= others))
    assert max(sampled) == pytest.approx(worst, rel=0.1)


def test_verify_scaling_cli():
    result = CliRunner().invoke(app, ["verify", "scaling", "--trials", "20", "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert len(answer["rows"]) == 28 and answer["lower_constant"] > 0
