"""Routing premium: the first-order rule against measured routers with known truth, the
patterns' published formulas, the exact policies, router metrics and bad input."""

import inspect
import itertools
import math

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from costcorrect.catalog.published_economics import RoutingSystem, routing_systems
from costcorrect.errors import InputError
from costcorrect.route import patterns
from costcorrect.route.consistency import simulate_consistency
from costcorrect.route.evaluate import RouterResult
from costcorrect.route.measure import measure, measure_intervals
from costcorrect.route.metrics import aiq, apgr, cpt, ranking_curve, router_metrics
from costcorrect.route.outcomes import (
    Outcomes,
    cost_per_correct,
    fixed_choice,
    oracle_choice,
)
from costcorrect.route.premium import premium_model, robustness
from costcorrect.route.routers import LogisticRouter, TopTerms, cascade_choice
from costcorrect.route.synthetic import matched_compute_workload, threshold_check
from costcorrect.validate.measurements import default_shared_path


@pytest.fixture(scope="module")
def check():
    return threshold_check(scenarios=1000, queries=2000, near_queries=20000, seed=0)


def test_measured_premium_matches_first_order_near_optimum(check):
    """|Π − (κΔ − γ)| ≤ 10 % of Δ on every workload with Δ ≤ 0.2 (seeded, known truth)."""
    assert len(check.near_optimum) == 24
    for r in check.near_optimum:
        assert r.error_share_of_delta <= 0.10, r


def test_threshold_predicts_sign_in_95_percent_of_random_scenarios(check):
    assert check.scenarios == 1000 and check.margin == 0.02
    assert check.agreement >= 0.95


def test_exact_premium_of_the_local_model_is_first_order_for_small_delta():
    w = matched_compute_workload(10, 0.5, 0.01, 0.0, seed=0)
    assert w.exact_premium() == pytest.approx(0.5 * 0.01, rel=0.01)
    far = matched_compute_workload(10, 0.5, 0.5, 0.0, seed=0)
    assert far.exact_premium() < 0.5 * 0.5  # the rule overstates far from the optimum


def test_speculative_decoding_matches_leviathan_formula():
    assert patterns.expected_tokens(0.8, 4) == pytest.approx(3.36, abs=0.005)
    assert patterns.speculative_speedup(0.8, 4, 0.1) == pytest.approx(2.40, abs=0.005)
    assert patterns.expected_tokens(0.0, 5) == 1.0
    assert patterns.expected_tokens(0.5, 1) == pytest.approx(1.5)
    # (1 − a^{k+1}) / ((1 − a)(1 + k c)) by hand: a = 0.6, k = 3, c = 0.05
    assert patterns.speculative_speedup(0.6, 3, 0.05) == pytest.approx((1 - 0.6**4) / (0.4 * 1.15))
    # the pattern's κΔ − γ (from a and k, and c) predicts the paper's closed-form speedup
    for a, k, c in [(0.6, 3, 0.05), (0.75, 7, 0.0084), (0.9, 2, 0.3)]:
        point = patterns.speculative_decoding(a, k, c)
        assert point.speedup == pytest.approx(patterns.speculative_speedup(a, k, c), rel=1e-12)


def test_pattern_points_satisfy_the_rule_with_their_speedup():
    point = patterns.speculative_decoding(0.8, 4, 0.1)
    assert point.delta == 0.8
    assert point.premium == pytest.approx(1 - 1 / 2.4011428, abs=1e-6)
    assert point.kappa * point.delta - point.gamma == pytest.approx(point.premium)
    assert point.gamma == pytest.approx(0.4 / 3.3616)
    medusa = patterns.medusa(3.47, 1.22, 4)
    assert medusa.speedup == pytest.approx(3.47 / 1.22)
    exit_point = patterns.early_exit(8, 4.0, 2.0, 0.05)
    assert exit_point.delta == pytest.approx(0.75)
    assert exit_point.premium == pytest.approx(1 - 0.5 - 0.05)


def test_independently_calibrated_systems_predict_their_published_speedups():
    """Where κ, Δ and γ all come from the paper, data or code, the threshold must put the
    system on its published speedup's side of 1 and the predicted Π lie within 10 % of Δ of
    the published one; the others are reported as not independently calibrated."""
    by_id = {c.system.id: c for c in patterns.calibrations()}
    independent = {k for k, c in by_id.items() if c.system.independently_calibrated}
    assert independent == {"medusa2024", "frugalgpt2023"}
    for name in independent:
        c = by_id[name]
        assert c.verdict == "confirms", name
        assert c.error_share_of_delta <= patterns.PREDICTION_TOLERANCE, (name, c.point.speedup)
    for name in by_id.keys() - independent:
        assert by_id[name].verdict == "not independently calibrated"
        assert by_id[name].system.dependent_inputs, name


def test_every_pattern_parameter_has_a_source():
    for system, point in patterns.published_systems():
        takes = inspect.signature(patterns.PATTERNS[system.pattern]).parameters
        assert set(system.provenance) == set(takes), system.id
        assert 0 <= point.kappa <= 1 and 0 < point.delta < 1


def _system(provenance: dict, speedup: float) -> RoutingSystem:
    return RoutingSystem(
        id="t",
        paper="p",
        system="s",
        reference="r",
        pattern="speculative_decoding",
        parameters={"acceptance": 0.75, "draft_tokens": 7, "cost_ratio": 0.01},
        provenance=provenance,
        published_speedup=speedup,
        checked="c",
    )


def test_calibration_is_classified_from_provenance():
    published = {"acceptance": "paper", "draft_tokens": "paper", "cost_ratio": "code"}
    point = patterns.speculative_decoding(0.75, 7, 0.01)
    assert point.model.pays
    assert patterns.Calibration(_system(published, 3.3), point).verdict == "confirms"
    # a published slowdown where κΔ > γ predicts a speedup: the threshold is contradicted
    assert patterns.Calibration(_system(published, 0.9), point).verdict == "contradicts"
    solved = _system({**published, "cost_ratio": "solved"}, 3.3)
    assert solved.dependent_inputs == ("cost_ratio",) and not solved.independently_calibrated
    assert patterns.Calibration(solved, point).verdict == "not independently calibrated"
    with pytest.raises(ValidationError, match="provenance"):
        _system({"acceptance": "paper", "draft_tokens": "paper"}, 3.3)


def test_frugalgpt_inputs_are_the_released_training_rows():
    """The cascade's inputs are the training split; its published speedup the test split."""
    try:
        folder = default_shared_path() / "data" / "frugalgpt" / "summary"
    except FileNotFoundError as err:
        pytest.skip(f"shared data not available: {err}")
    rows = pd.read_csv(folder / "summary_HEADLINES_e8_full_2024.csv")
    single, cascades = rows[rows.Method != "FrugalGPT"], rows[rows.Method == "FrugalGPT"]
    system = next(s for s in routing_systems() if s.id == "frugalgpt2023")
    params = system.parameters
    assert params["costs"] == pytest.approx(single.Train_cost.tolist(), rel=1e-6)
    assert params["accuracies"] == pytest.approx(single.Train_acc.tolist())
    best = single.loc[single.Train_acc.idxmax()]
    chosen = cascades[cascades.Train_acc >= best.Train_acc].sort_values("Budget").iloc[0]
    assert params["cascade_cost"] == pytest.approx(chosen.Train_cost, rel=1e-6)
    assert params["cascade_accuracy"] == pytest.approx(chosen.Train_acc)
    top = single.loc[single.Test_acc.idxmax()]
    test_speedup = (top.Test_cost / top.Test_acc) / (chosen.Test_cost / chosen.Test_acc)
    assert system.published_speedup == pytest.approx(test_speedup, abs=0.05)


def test_cascade_oracle_under_independence_by_enumeration():
    costs, acc = [1.0, 3.0, 10.0], [0.5, 0.6, 0.8]
    expected_cost = expected_hits = 0.0
    for outcome in itertools.product([0, 1], repeat=3):
        p = math.prod(a if o else 1 - a for a, o in zip(acc, outcome, strict=True))
        right = [c for c, o in zip(costs, outcome, strict=True) if o]
        expected_cost += p * (min(right) if right else costs[0])
        expected_hits += p * bool(right)
    point = patterns.cascade(costs, acc, cascade_cost=4.0, cascade_accuracy=0.8)
    assert point.delta == pytest.approx(1 - (expected_cost / expected_hits) / (10.0 / 0.8))


def test_adaptive_stopping_saves_samples_at_nearly_equal_accuracy():
    run = simulate_consistency(3000, budget=40, threshold=0.95, seed=1)
    assert run.mean_samples < 40 / 2
    assert run.accuracy_adaptive >= run.accuracy_fixed - 0.01
    assert 1 <= run.oracle_samples <= run.mean_samples
    point = run.point()
    assert point.speedup == pytest.approx(
        40 / run.mean_samples * run.accuracy_adaptive / run.accuracy_fixed, rel=1e-6
    )


def test_oracle_is_the_best_assignment_by_brute_force():
    rng = np.random.default_rng(3)
    for _ in range(20):
        cost = rng.uniform(0.1, 3, (6, 3))
        correct = rng.uniform(0, 1, (6, 3))
        o = Outcomes(("a", "b", "c"), cost, correct)
        best = min(cost_per_correct(o, np.array(c)) for c in itertools.product(range(3), repeat=6))
        assert cost_per_correct(o, oracle_choice(o)) == pytest.approx(best)
        assert cost_per_correct(o, fixed_choice(o)) >= best - 1e-12


def test_measure_identity_and_interval():
    rng = np.random.default_rng(0)
    cost = np.column_stack([np.full(500, 1.0), np.full(500, 1.5)])
    correct = (rng.random((500, 2)) < [0.5, 0.9]).astype(float)
    o = Outcomes(("weak", "strong"), cost, correct)
    choice = (rng.random(500) < 0.3).astype(int)
    m = measure(o, choice, overhead=0.1)
    assert m.delta > 0
    fixed_hits = o.chosen(fixed_choice(o))[1].sum()
    routed_hits = o.chosen(choice)[1].sum()
    assert m.premium == pytest.approx(
        m.kappa * m.delta - m.gamma * fixed_hits / routed_hits, abs=1e-12
    )
    iv = measure_intervals(o, choice, 0.1, resamples=300, seed=1).premium
    assert iv.low < m.premium < iv.high


def test_router_metrics_perfect_random_and_hull():
    rng = np.random.default_rng(0)
    weak = (rng.random(2000) < 0.5).astype(float)
    strong = np.maximum(weak, (rng.random(2000) < 0.6).astype(float))
    o = Outcomes(
        ("weak", "strong"),
        np.column_stack([np.ones(2000), np.full(2000, 10.0)]),
        np.column_stack([weak, strong]),
    )
    perfect = ranking_curve(o, strong - weak)
    random_ = ranking_curve(o, rng.random(2000))
    assert apgr(perfect) > 0.8 and apgr(random_) == pytest.approx(0.5, abs=0.05)
    assert cpt(perfect, 0.5) < cpt(random_, 0.5)
    # AIQ: points (0, 0), (1, 1), (2, 0.5) → hull (0,0)-(1,1)-(2,1): area 1.5 over range 2
    assert aiq(np.array([0.0, 1.0, 2.0]), np.array([0.0, 1.0, 0.5])) == pytest.approx(0.75)
    # a point under the chord is not on the hull: (0,0), (1, 0.2), (2, 1) → area 1 over 2
    assert aiq(np.array([0.0, 1.0, 2.0]), np.array([0.0, 0.2, 1.0])) == pytest.approx(0.5)


def _router_result(outcomes: Outcomes, choice: np.ndarray) -> RouterResult:
    point = measure(outcomes, choice)
    intervals = measure_intervals(outcomes, choice, resamples=200, seed=0, point=point)
    curve = ranking_curve(outcomes, np.arange(outcomes.queries, dtype=float), 0)
    return RouterResult("r", "p", point, point, intervals, router_metrics(curve, True))


def test_a_router_that_routes_nothing_is_a_tie_not_an_agreement():
    """Π = 0 exactly when every query goes to the fixed option: no test of the threshold."""
    rng = np.random.default_rng(0)
    cost = np.column_stack([np.ones(400), np.full(400, 1.2)])
    correct = (rng.random((400, 2)) < [0.6, 0.9]).astype(float)
    o = Outcomes(("weak", "strong"), cost, correct)
    nothing = _router_result(o, fixed_choice(o))
    assert nothing.test.premium == 0 and not nothing.predicted_pays
    assert nothing.intervals.premium.high <= 1e-12  # the old rule counted this as "agrees"
    assert nothing.routes_nothing and nothing.sign_check == "tie"
    some = fixed_choice(o)
    some[:10] = 1 - some[:10]
    routed = _router_result(o, some)
    assert not routed.routes_nothing and routed.sign_check != "tie"


def test_vocabulary_cut_breaks_equal_counts_by_the_term():
    texts = np.array(["zeta alpha", "zeta beta", "zeta gamma", "alpha beta gamma", "delta"] * 2)
    words = TopTerms(max_features=2).fit(texts).tfidf_.vocabulary_
    # zeta (6 texts) first; alpha, beta, gamma tie at 4: the first term in order is kept
    assert set(words) == {"zeta", "alpha"}


def test_router_fit_is_the_optimum_not_where_a_solver_stopped():
    """The logistic models are solved to their unique optimum (a result that another CPU's
    rounding or another library version cannot move), checked against exact Newton steps."""
    rng = np.random.default_rng(0)
    vocabulary = np.array([f"w{i}" for i in range(300)])
    texts = np.array([" ".join(rng.choice(vocabulary, 12)) for _ in range(600)])
    hard = np.array([sum(int(w[1:]) % 7 == 0 for w in t.split()) >= 2 for t in texts])
    correct = np.column_stack([~hard & (rng.random(600) < 0.9), rng.random(600) < 0.95])
    router = LogisticRouter(max_features=500)
    predicted = router.fit(texts, correct).predict_correct(texts)
    for k in range(2):
        exact = router._model().set_params(
            logisticregression__solver="newton-cholesky", logisticregression__tol=1e-12
        )
        reference = exact.fit(texts[:, None], correct[:, k]).predict_proba(texts[:, None])[:, 1]
        assert np.abs(predicted[:, k] - reference).max() < 1e-7


def test_cascade_choice_charges_discarded_cheap_calls():
    o = Outcomes(("small", "large"), np.array([[1.0, 9.0]] * 3), np.array([[0.0, 1.0]] * 3))
    choice, overhead = cascade_choice(o, np.array([1, 0, 1]))
    assert choice.tolist() == [0, 1, 0]
    assert overhead.tolist() == [0.0, 1.0, 0.0]


def test_robustness_roots():
    r = robustness(2.0)
    assert r.kappa_or_delta == pytest.approx(0.5) and r.gamma == pytest.approx(1.0)
    assert 2.0 * (1 - r.joint) ** 2 == pytest.approx(1 + r.joint)
    below = robustness(0.5)
    assert 0.5 * (1 + below.joint) ** 2 == pytest.approx(1 - below.joint)
    assert premium_model(0.5, 0.2, 0.0).margin == math.inf


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: premium_model(1.2, 0.2, 0.01), "kappa"),
        (lambda: premium_model(0.5, 0.2, -0.01), "gamma"),
        (lambda: premium_model(0.5, 1.0, 0.01), "delta"),
        (lambda: patterns.early_exit(8, 4.0, 1.0, overhead=-0.1), "overhead"),
        (lambda: patterns.cascade([1, 2], [0.5, 0.6], 1.5, 0.6, scorer_cost=-1), "scorer_cost"),
        (lambda: patterns.speculative_decoding(1.0, 4, 0.1), "acceptance"),
        (lambda: Outcomes(("a",), np.ones((2, 2)), np.ones((2, 2))), "names"),
        (lambda: Outcomes(("a", "b"), -np.ones((2, 2)), np.ones((2, 2))), "cost"),
    ],
)
def test_bad_inputs_name_the_field(call, field):
    with pytest.raises(InputError) as err:
        call()
    assert err.value.field == field
