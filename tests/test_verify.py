"""Calibration metrics (scikit-learn as the oracle) and the exact composition identities."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss, log_loss

from costcorrect.errors import InputError
from costcorrect.verify import calibration as cal
from costcorrect.verify import composition as comp


@pytest.fixture(scope="module")
def reports():
    rng = np.random.default_rng(0)
    p = rng.beta(2, 3, 20_000)
    y = (rng.random(p.size) < np.clip(p + 0.1 * np.sin(6 * p), 0, 1)).astype(int)
    return p, y


def test_scores_match_scikit_learn(reports):
    p, y = reports
    assert cal.brier(p, y) == pytest.approx(brier_score_loss(y, p), abs=1e-12)
    assert cal.log_loss(p, y) == pytest.approx(log_loss(y, p), abs=1e-9)


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_reliability_diagram_matches_calibration_curve(reports, strategy):
    p, y = reports
    true, pred = calibration_curve(y, p, n_bins=10, strategy=strategy)
    r = cal.reliability(p, y, 10, strategy)
    np.testing.assert_allclose(r.observed, true, atol=1e-12)
    np.testing.assert_allclose(r.mean_report, pred, atol=1e-12)


def test_perfectly_calibrated_reports_score_near_zero_error():
    rng = np.random.default_rng(1)
    p = rng.random(200_000)
    y = (rng.random(p.size) < p).astype(int)
    assert cal.ece(p, y) < 0.01 and cal.smooth_ece(p, y) < 0.01
    shifted = np.clip(p + 0.1, 0, 1)
    assert cal.ece(shifted, y) > 0.07 and cal.smooth_ece(shifted, y) > 0.07


def test_murphy_parts_sum_to_brier_and_are_exact_on_discrete_reports(reports):
    p, y = reports
    m = cal.murphy(p, y)
    assert m.reliability - m.resolution + m.uncertainty + m.within_bin == pytest.approx(m.brier)
    discrete = (np.floor(p * 10) + 0.5) / 10  # one report value per uniform bin
    exact = cal.murphy(discrete, y, bins=10)
    assert abs(exact.within_bin) < 1e-12


def test_spherical_score_is_proper():
    """The expected score under outcome probability q is maximised by reporting q."""
    q, grid = 0.3, np.linspace(0.01, 0.99, 99)
    expected = [q * cal.spherical([r], [1]) + (1 - q) * cal.spherical([r], [0]) for r in grid]
    assert grid[int(np.argmax(expected))] == pytest.approx(q, abs=0.011)


def test_interval_undoes_the_bootstrap_bias():
    """Draws centred 0.05 above the statistic (as a plug-in ECE's sit above it) put the interval
    around 0.05 below it; unbiased draws give their percentile interval; the range clips."""
    draws = np.random.default_rng(4).normal(0.30, 0.01, 20_000)
    biased = cal.interval(0.25, draws, 0.95, (0.0, 1.0))
    assert (biased.value, biased.low, biased.high) == pytest.approx(
        (0.25, 0.1804, 0.2196), abs=1e-3
    )
    unbiased = cal.interval(0.30, draws, 0.95, (0.0, 1.0))
    assert (unbiased.low, unbiased.high) == pytest.approx((0.2804, 0.3196), abs=1e-3)
    clipped = cal.interval(0.01, draws - 0.27, 0.95, (0.0, 1.0))
    assert clipped.low == 0.0 and clipped.high == pytest.approx(0.0096, abs=1e-3)


def test_gap_interval_accounts_for_the_bias_of_near_zero_bins():
    """Gaps far from zero (|g| = 20 s.d.): the sum is unbiased and the interval is the normal
    one, value ± 1.96·√bins·s. Gaps at the calibrated null's median sum: the interval reaches 0.
    All gaps 0, below what calibrated reports give: not empty, the upper end is tested at the
    null's Φ(−1) quantile. No resampling variance: a point."""
    noise = np.random.default_rng(6).normal(0.0, 0.001, (20_000, 4))
    far = np.array([0.02, -0.02, 0.02, -0.02])
    iv = cal.gap_interval(far, far + noise, 0.95)
    assert (iv.value, iv.low, iv.high) == pytest.approx((0.08, 0.0761, 0.0839), abs=2e-4)
    typical = np.array([0.0008, -0.0008, 0.0008, -0.0008])
    assert np.median(np.abs(noise).sum(axis=1)) == pytest.approx(0.0032, rel=0.05)
    iv = cal.gap_interval(typical, typical + noise, 0.95)
    assert iv.low == 0.0 and iv.value < iv.high < 0.008
    iv = cal.gap_interval(np.zeros(4), noise, 0.95)
    assert iv.value == iv.low == 0.0 and 0.002 < iv.high < iv.value + 0.006
    still = cal.gap_interval(far, np.tile(far, (10, 1)), 0.95)
    assert (still.low, still.high) == (0.08, 0.08)


def test_bootstrap_interval_brackets_and_is_seeded(reports):
    p, y = reports
    a = cal.bootstrap(cal.brier, p[:2000], y[:2000], resamples=200, seed=3)
    b = cal.bootstrap(cal.brier, p[:2000], y[:2000], resamples=200, seed=3)
    assert a == b and a.low <= a.value <= a.high


@pytest.mark.parametrize(
    ("p", "y", "field"),
    [([0.2, 1.2], [0, 1], "report"), ([0.2, 0.3], [0, 2], "outcome"), ([], [], "reports")],
)
def test_bad_reports_name_the_field(p, y, field):
    with pytest.raises(InputError, match=field):
        cal.brier(p, y)


tables = st.lists(st.floats(0.001, 1.0), min_size=4, max_size=4).map(
    lambda w: np.array(w) / np.sum(w)
)


@settings(max_examples=300, deadline=None)
@given(tables)
def test_two_verifier_error_is_plus_or_minus_the_covariance(table):
    cov = comp.covariance(table)
    assert comp.composition_error(comp.Rule.all_of(2), table) == pytest.approx(cov, abs=1e-15)
    assert comp.composition_error(comp.Rule.any_of(2), table) == pytest.approx(-cov, abs=1e-15)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0.001, 1.0), min_size=8, max_size=8), st.integers(1, 3))
def test_three_verifier_error_is_the_sum_of_interaction_terms(weights, m):
    table = np.array(weights) / np.sum(weights)
    rule = comp.Rule.at_least(m, 3)
    terms = comp.interaction_terms(rule, table)
    assert sum(terms.values()) == pytest.approx(comp.composition_error(rule, table), abs=1e-14)


def test_independent_verifiers_compose_without_error():
    p = np.array([0.9, 0.7, 0.6])
    cells = (np.arange(8)[:, None] >> np.arange(3)) & 1
    table = np.prod(np.where(cells, p, 1 - p), axis=1)
    for rule in (comp.Rule.all_of(3), comp.Rule.any_of(3), comp.Rule.at_least(2, 3)):
        assert comp.composition_error(rule, table) == pytest.approx(0.0, abs=1e-15)


def test_per_instance_tables_vectorise():
    rng = np.random.default_rng(2)
    tables = rng.dirichlet(np.ones(4), size=1000)
    err = comp.composition_error(comp.Rule.all_of(2), tables)
    np.testing.assert_allclose(err, comp.covariance(tables), atol=1e-15)


def test_same_marginal_pairs_differ_only_by_covariance():
    a, b = comp.same_marginals_pair(0.8, 0.7, (0.0, 0.08))
    np.testing.assert_allclose(comp.marginals(a, 2), comp.marginals(b, 2))
    gap = comp.accept_rate(comp.Rule.all_of(2), b) - comp.accept_rate(comp.Rule.all_of(2), a)
    assert gap == pytest.approx(0.08)
    with pytest.raises(InputError, match="covariance"):
        comp.same_marginals_pair(0.8, 0.7, (0.5,))


def test_rules_must_be_monotone_and_tables_valid():
    with pytest.raises(InputError, match="monotone"):
        comp.Rule("xor", (False, True, True, False))
    with pytest.raises(InputError, match="joint table"):
        comp.accept_rate(comp.Rule.all_of(2), [0.5, 0.5, 0.5, 0.5])
    decisions = np.array([[1, 1], [1, 0], [0, 0], [1, 1]])
    np.testing.assert_allclose(comp.joint_table(decisions), [0.25, 0.25, 0.0, 0.5])


def test_compiled_bootstrap_report_matches_the_plain_bootstrap(reports):
    """Point values equal the metrics; the Poisson-bootstrap intervals agree with a plain
    multinomial bootstrap within sampling noise (ECE's :func:`cal.gap_interval` with the
    bias-shifted one, as bins this miscalibrated carry little bias), and are reproducible from
    the seed."""
    p, y = reports
    report = cal.calibration_report(p, y, resamples=400, seed=1)
    assert report.brier.value == pytest.approx(cal.brier(p, y), rel=1e-12)
    assert report.log_loss.value == pytest.approx(cal.log_loss(p, y), rel=1e-12)
    assert report.ece.value == pytest.approx(cal.ece(p, y), rel=1e-12)
    assert report.smooth_ece.value == pytest.approx(cal.smooth_ece(p, y), rel=1e-12)
    plain = cal.bootstrap(cal.brier, p, y, resamples=400, seed=1)
    width, plain_width = report.brier.high - report.brier.low, plain.high - plain.low
    assert width == pytest.approx(plain_width, rel=0.25)
    plain_ece = cal.bootstrap(cal.ece, p, y, resamples=400, seed=1)
    half_width = (plain_ece.high - plain_ece.low) / 2
    assert report.ece.low == pytest.approx(plain_ece.low, abs=0.25 * half_width)
    assert report.ece.high == pytest.approx(plain_ece.high, abs=0.25 * half_width)
    for iv in (report.brier, report.log_loss, report.spherical, report.ece, report.smooth_ece):
        assert iv.low <= iv.value <= iv.high
    assert cal.calibration_report(p, y, resamples=400, seed=1) == report
