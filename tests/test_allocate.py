"""Training vs test-time allocation: curve elasticities (property tests), fitting, the
threshold and break-even volume, and bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costcorrect.allocate.curves import (
    BestOfN,
    BetaCoverage,
    LogLinear,
    PowerLawCoverage,
    TrainingPowerLaw,
    arc_elasticity,
    fit_curve,
)
from costcorrect.allocate.threshold import (
    allocation_threshold,
    break_even_volume,
    channel_map,
    routed_cost,
)
from costcorrect.errors import InputError

probabilities = st.floats(1e-6, 1 - 1e-6)
samples = st.floats(1.0, 1e5)


@settings(max_examples=300, deadline=None)
@given(p=probabilities, n=samples)
def test_best_of_n_coverage_is_at_most_unit_elastic(p, n):
    assert BestOfN(p).elasticity(n) <= 1 + 1e-12


@settings(max_examples=200, deadline=None)
@given(a=st.floats(0.05, 20), b=st.floats(0.05, 20), n=st.floats(1.0, 1e4))
def test_averaged_best_of_n_coverage_is_at_most_unit_elastic(a, b, n):
    assert BetaCoverage(a, b).elasticity(n) <= 1 + 1e-9


@pytest.mark.parametrize(
    "curve",
    [
        BestOfN(0.3),
        BetaCoverage(0.4, 2.0),
        PowerLawCoverage(2.0, 0.3),
        LogLinear(0.2, 0.05),
        TrainingPowerLaw(0.05, 0.8, 0.3),
    ],
)
def test_elasticity_is_the_log_derivative(curve):
    x = np.array([2.0, 10.0, 50.0])
    h = 1e-5
    numeric = (np.log(curve.alpha(x * np.exp(h))) - np.log(curve.alpha(x * np.exp(-h)))) / (2 * h)
    np.testing.assert_allclose(curve.elasticity(x), numeric, rtol=1e-5)


def test_search_is_more_than_unit_elastic_only_at_low_accuracy():
    curve = PowerLawCoverage(A=-np.log(0.001), B=0.2)  # α(1) = 0.001
    assert curve.elasticity(1.0) > 1
    assert PowerLawCoverage(A=-np.log(0.3), B=0.2).elasticity(1.0) < 1


@pytest.mark.parametrize(
    ("form", "truth"),
    [
        ("power-law", PowerLawCoverage(1.8, 0.21)),
        ("beta-coverage", BetaCoverage(0.3, 1.5)),
        ("log-linear", LogLinear(0.3, 0.04)),
        ("training", TrainingPowerLaw(0.05, 0.8, 0.3)),
    ],
)
def test_fit_recovers_known_curves(form, truth):
    x = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256], float)
    result = fit_curve(form, x, truth.alpha(x))
    assert result.rmse < 1e-6
    np.testing.assert_allclose(result.elasticity, truth.elasticity(x), rtol=1e-3, atol=1e-6)


def test_threshold_and_break_even_volume_agree():
    d_t, k, n = 1e7, 0.002, 4.0
    q_star = break_even_volume(1.3, 0.4, d_t, k, n)
    assert q_star == pytest.approx(d_t * 0.3 / (0.4 * k * n))
    for q, channel in ((0.5 * q_star, "inference"), (2 * q_star, "training")):
        decision = allocation_threshold(1.3, 0.4, q * k * n, d_t, k, n)
        assert decision.channel == channel
    assert break_even_volume(0.9, 0.4, d_t, k, n) == 0
    assert allocation_threshold(0.99, 0.4, 1.0, 1e9).channel == "training"
    assert routed_cost(2.0, 0.25) == pytest.approx(1.5)


def test_channel_map_has_inference_only_on_hard_low_volume_tasks():
    m = channel_map(
        0.2, 4.0, 0.5, 1e7, 0.002, np.geomspace(1e2, 1e10, 50), np.geomspace(1e-6, 0.9, 40)
    )
    assert m.inference[0, 0] and not m.inference[-1, :].any()
    assert not m.inference[:, -1].any()
    # along difficulty, the inference region only shrinks as tasks get easier
    assert (np.diff(m.inference.sum(axis=1)) <= 0).all()


def test_arc_elasticity():
    assert arc_elasticity((1, 0.2), (8, 0.4)) == pytest.approx(np.log(2) / np.log(8))


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: fit_curve("power-law", [1, 2, 4], [0.3, 0.2, 0.4]), "accuracy"),
        (lambda: fit_curve("power-law", [1, 2, 4], [0.3, 0.4, 1.2]), "accuracy"),
        (lambda: fit_curve("power-law", [0, 2, 4], [0.1, 0.2, 0.3]), "compute"),
        (lambda: fit_curve("cubic", [1, 2, 4], [0.1, 0.2, 0.3]), "form"),
        (lambda: allocation_threshold(1.2, -0.1, 1.0, 1.0), "eta_training"),
        (lambda: allocation_threshold(1.2, 0.3, -5.0, 1.0), "inference_spend"),
        (lambda: break_even_volume(1.2, 0.3, 1e6, 0.0, 4), "cost_per_generation"),
    ],
)
def test_bad_inputs_name_the_field(call, field):
    with pytest.raises(InputError) as err:
        call()
    assert err.value.field == field


def test_published_points_carry_intervals_and_show_no_provider_split():
    """Each point's η has a 95 % interval from its benchmark's size that contains the point
    estimate; every test-time interval stays below 1, so no spend ratio D_I/D_T puts a
    provider on the rollout side — the page says there is no frontier/commodity split."""
    from costcorrect.validate.allocation import _split_from_data, elasticity_interval, run

    report = run()
    for row in report.points:
        if row.point.questions:
            low, high = row.interval
            assert low < row.elasticity < high
    assert "show no frontier/commodity split" in _split_from_data(report)
    aime = next(r.point for r in report.points if r.point.id == "deepseek-r1-zero-aime")
    wider = elasticity_interval(aime.model_copy(update={"questions": 10}))
    assert wider[1] - wider[0] > elasticity_interval(aime)[1] - elasticity_interval(aime)[0]
