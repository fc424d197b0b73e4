"""The verifier as curriculum: the setter's reward and its corruption by verifier error, closed
form against sampling; the self-play drift; the verifier's price per clean training example and
its effect on the allocation threshold."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from costcorrect.cli.app import app
from costcorrect.errors import InputError
from costcorrect.verify.curriculum import (
    Verifier,
    break_even_accuracy,
    curriculum_cost,
    sample_rewards,
    self_play,
    setter_reward,
)


@pytest.mark.parametrize(
    "q, s, f, r, sf",
    [(0.9, 0.3, 0.2, 0.1, 0.0), (0.5, 0.8, 0.05, 0.2, 0.1), (0.7, 0.95, 0.4, 0.0, 0.0)],
)
def test_closed_form_matches_sampling(q, s, f, r, sf):
    reward = setter_reward(q, s, Verifier(f, r), sf)
    sampled = sample_rewards(reward, 400_000, seed=3)
    for name in ("expected_reward", "accepted_share"):
        p = getattr(reward, name)
        assert abs(sampled[name] - p) < 4 * np.sqrt(p * (1 - p) / 400_000) + 1e-12, name
    rewarded = 400_000 * reward.expected_reward
    c = reward.corrupted_share
    assert abs(sampled["corrupted_share"] - c) < 4 * np.sqrt(c * (1 - c) / rewarded) + 1e-12


def test_flawed_tasks_pay_past_the_break_even_accuracy():
    v = Verifier(0.2, 0.1)
    star = break_even_accuracy(v)
    assert star == pytest.approx(1 - 0.2 / 0.9)
    assert not setter_reward(0.9, star - 0.01, v).flawed_pays_more
    assert setter_reward(0.9, star + 0.01, v).flawed_pays_more
    assert break_even_accuracy(Verifier(0.0, 0.1)) == 1.0  # a perfect verifier: never


def test_self_play_drifts_to_flawed_tasks_only_with_false_accepts():
    clean = self_play(Verifier(0.0, 0.1), rounds=400, seed=1)
    assert clean.corrupted_share.max() == 0.0
    assert clean.solver_accuracy[-1] > 0.9
    leaky = self_play(Verifier(0.2, 0.1), rounds=400, seed=1)
    first = leaky.first_round_corrupted_above(0.1)
    assert first is not None and leaky.solver_accuracy[first - 2] > break_even_accuracy(
        leaky.verifier
    )
    # the solver ends near the accuracy where flawed tasks start to pay, not above it
    assert abs(leaky.solver_accuracy[-50:].mean() - break_even_accuracy(leaky.verifier)) < 0.1
    again = self_play(Verifier(0.2, 0.1), rounds=400, seed=1)
    np.testing.assert_array_equal(again.sound_share, leaky.sound_share)


def test_the_verifier_is_paid_per_clean_example_in_the_training_channel():
    reward = setter_reward(0.9, 0.3, Verifier(0.2, 0.1))
    cost = curriculum_cost(reward, 0.001, 0.002, 0.001, 1e5, 1.3, 0.2, 5e3)
    clean = reward.expected_reward * (1 - reward.corrupted_share)
    assert cost.verifier_calls_per_example == pytest.approx(1 / clean)
    assert cost.usd_per_clean_example == pytest.approx(0.004 / clean)
    assert cost.decision.spend_ratio == pytest.approx(5e3 / (1e5 * cost.usd_per_clean_example))
    dearer = curriculum_cost(reward, 0.001, 0.02, 0.001, 1e5, 1.3, 0.2, 5e3)
    assert dearer.decision.spend_ratio < cost.decision.spend_ratio
    with pytest.raises(InputError, match="verifier_usd"):
        curriculum_cost(reward, 0.001, -1.0, 0.001, 1e5)


def test_verify_curriculum_cli():
    runner = CliRunner()
    ok = runner.invoke(app, ["verify", "curriculum", "--rounds", "100", "--json"])
    assert ok.exit_code == 0, ok.output
    answer = json.loads(ok.output)
    assert set(answer) == {"closed_form", "sampled", "break_even_accuracy", "self_play", "cost"}
    assert len(answer["self_play"]["sound_share"]) == 100
    text = runner.invoke(app, ["verify", "curriculum", "--rounds", "100"]).output
    assert "Assumed" in text and "verifier calls per clean training example" in text
    bad = runner.invoke(app, ["verify", "curriculum", "--false-accept", "1.5"])
    assert bad.exit_code == 2 and bad.output.count("\n") == 1 and "false_accept" in bad.output
