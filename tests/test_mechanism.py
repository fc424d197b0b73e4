"""Procurement mechanisms: properness, payment bounds, DSIC, and the selection regret."""

import numpy as np
import pytest
from typer.testing import CliRunner

from costcorrect.cli.app import app
from costcorrect.verify import composition as comp
from costcorrect.verify.mechanism import RULES, Mechanism, dsic_check, selection_regret


@pytest.mark.parametrize("rule", RULES)
def test_truthful_joint_reporting_is_dominant(rule):
    """Brute force over 20,000 misreports of a 2 × 2 joint table: none pays more in
    expectation than the truth."""
    truth = comp.same_marginals_pair(0.8, 0.75, (0.04,))[0]
    assert dsic_check(Mechanism(rule, 4), truth) <= 1e-12


@pytest.mark.parametrize("rule", RULES)
def test_payments_are_non_negative_and_within_budget(rule):
    rng = np.random.default_rng(0)
    reports = rng.dirichlet(np.ones(4), 5000)
    outcomes = rng.integers(0, 4, 5000)
    pay = Mechanism(rule, 4, budget=2.0).pay(reports, outcomes)
    assert pay.min() >= 0.0 and pay.max() <= 2.0


def test_marginal_scoring_cannot_tell_equal_marginal_pairs_apart():
    """Two pairs with the same marginals but covariances 0 and 0.04: each verifier's truthful
    marginal report earns the same expected payment, yet their AND pipelines differ by the
    covariance (and Cost-correct with them)."""
    low, high = comp.same_marginals_pair(0.8, 0.75, (0.0, 0.04))
    marginal = Mechanism("brier", 2)
    for k in range(2):
        pl, ph = comp.marginals(low, 2)[k], comp.marginals(high, 2)[k]
        truth_low, truth_high = np.array([1 - pl, pl]), np.array([1 - ph, ph])
        assert marginal.expected_pay(truth_low[None], truth_low)[0] == pytest.approx(
            marginal.expected_pay(truth_high[None], truth_high)[0]
        )
    rule = comp.Rule.all_of(2)
    assert comp.accept_rate(rule, high) - comp.accept_rate(rule, low) == pytest.approx(0.04)
    joint = Mechanism("brier", 4)
    assert joint.expected_pay(low[None], low)[0] != pytest.approx(
        joint.expected_pay(high[None], high)[0]
    )


def test_joint_selection_regret_falls_at_the_square_root_rate():
    curve = selection_regret()
    assert curve.joint_slope == pytest.approx(-0.5, abs=0.1)
    # buying each verifier on its own score cannot see the covariance: it stays above the joint
    # mechanism at every N and ends at the best-marginal pair's regret, not at zero
    assert np.all(curve.marginal > 2 * curve.joint)
    assert curve.marginal[-1] >= 0.9 * curve.marginal_limit > 0
    assert curve.marginal_limit > 10 * curve.joint[-1]


def test_simulate_command_writes_the_figure(tmp_path):
    result = CliRunner().invoke(
        app, ["verify", "simulate", "--out", str(tmp_path / "r"), "--trials", "50", "--json"]
    )
    assert result.exit_code == 0, result.output
    for name in ("r.png", "r.svg", "r.csv"):
        assert (tmp_path / name).stat().st_size > 0
