"""Speculative decoding on the op table: the accepted-length distribution, a draft that is
never accepted, and where verification stops paying as batches grow."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from costcorrect.cli.app import app
from costcorrect.errors import InputError
from costcorrect.perf import Deployment
from costcorrect.perf.speculative import (
    Speculation,
    accepted_tokens,
    sample_accepted,
    speculative_steps,
)


@pytest.fixture(scope="module")
def pair():
    target = Deployment.from_names("llama-3.1-70b", "H100-SXM", 4)
    draft = Deployment.from_names("llama-3.1-8b", "H100-SXM", 4)
    return target, draft


def _spec(draft: Deployment, k: int = 4, acceptance: float = 0.8) -> Speculation:
    return Speculation(draft.model, k, acceptance)


def test_accepted_tokens_formula_and_sampling():
    """E[L] = (1 − a^(k+1)) / (1 − a); 200k seeded steps land within 4 standard errors of the
    mean and within 2 % of the variance."""
    for a, k in ((0.0, 4), (0.6, 3), (0.8, 4), (0.9, 8)):
        mean, var = accepted_tokens(a, k)
        assert mean == pytest.approx((1 - a ** (k + 1)) / (1 - a), rel=1e-12)
        draws = sample_accepted(a, k, 200_000, seed=7)
        assert abs(draws.mean() - mean) < 4 * np.sqrt(var / draws.size) + 1e-12
        assert draws.var() == pytest.approx(var, rel=0.02, abs=1e-12)
        assert draws.min() >= 1 and draws.max() <= k + 1
    assert accepted_tokens(0.0, 4) == (1.0, 0.0)
    with pytest.raises(InputError, match="acceptance"):
        accepted_tokens(1.0, 4)
    with pytest.raises(InputError, match="k"):
        accepted_tokens(0.5, 0)


def test_a_draft_never_accepted_costs_its_steps_and_a_verify(pair):
    """a = 0: one token per step, so the time per token is the draft's k steps plus a verify
    step — no gain, and dearer than plain decoding by at least the draft's time."""
    target, draft = pair
    for s in speculative_steps(target, _spec(draft, 4, 0.0), (1, 32), 1024):
        assert s.tokens_per_step == 1.0
        assert s.tpot_s == pytest.approx(s.draft_s + s.verify_s, rel=1e-12)
        assert s.verify_s >= s.decode_s and s.speedup < 1


def test_speculation_pays_at_small_batch_and_stops_at_large(pair):
    """70B with an 8B draft (k = 4, a = 0.8): memory-bound small batches verify five tokens
    for about the price of one, large batches make the verify step compute-bound — the
    speedup falls with batch and drops below 1."""
    target, draft = pair
    steps = speculative_steps(target, _spec(draft), (1, 4, 16, 64, 256, 1024), 1024)
    speedups = [s.speedup for s in steps]
    assert speedups[0] > 1.5, speedups
    assert speedups[-1] < 1, speedups
    assert all(np.diff(speedups[1:]) < 0), speedups


def test_perf_speculative_cli(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["perf", "speculative", "--batches", "1,64", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["steps"]
    assert [r["batch"] for r in rows] == [1.0, 64.0] and rows[0]["speedup"] > 1
    bad = runner.invoke(app, ["perf", "speculative", "--accept", "1.5"])
    assert bad.exit_code == 2 and "accept" in bad.output and bad.output.count("\n") == 1
