"""Speculative decoding inside the serving engines: the composed iteration (draft steps plus a
verify step), the simulator's accepted-length draws, analytic against simulated latency, and
the CLI's --speculative."""

import json
from dataclasses import replace

import numpy as np
import pytest
from typer.testing import CliRunner

from costcorrect.catalog import load_catalog
from costcorrect.cli.app import app
from costcorrect.perf import Batch, Deployment
from costcorrect.perf.speculative import Speculation, accepted_tokens
from costcorrect.serving.analytic import Lengths, analyze
from costcorrect.serving.architectures import Chunked, Colocated
from costcorrect.serving.kernels import accepted_length
from costcorrect.serving.simulator import simulate
from costcorrect.workload import RequestStream, synthetic_stream


@pytest.fixture(scope="module")
def target():
    return Deployment.from_names("llama-3.1-70b", "H100-SXM", 4)


@pytest.fixture(scope="module")
def speculation():
    return Speculation(load_catalog().models.get("llama-3.1-8b"), 4, 0.8)


def test_iteration_is_the_drafts_k_steps_plus_a_verify_of_k_plus_1(target, speculation):
    """A decode-only iteration: the draft rows cost exactly k of the draft's own decode steps;
    every GEMM of the target does (k + 1)× the FLOP of plain decoding on the same weights; the
    draft's weights and KV take memory from the target's cache."""
    spec = replace(target, speculation=speculation)
    draft = spec.draft
    for b, ctx in ((1, 512), (32, 2048), (256, 1024)):
        batch = Batch.decode(b, ctx)
        seconds = spec.op_table.evaluate(batch).seconds
        drafted = sum(v for name, v in seconds.items() if name.startswith("draft_"))
        assert drafted == pytest.approx(4 * float(draft.op_table.total_s(batch)), rel=1e-12)
        plain, verify = target.op_table.evaluate(batch), spec.op_table.evaluate(batch)
        for op in ("qkv", "o_proj", "ffn"):
            assert verify.flop[op] == pytest.approx(5 * plain.flop[op], rel=1e-12)
    assert spec.kv_capacity_tokens < 0.8 * target.kv_capacity_tokens
    assert spec.weight_bytes_per_gpu == pytest.approx(
        target.weight_bytes_per_gpu + draft.weight_bytes_per_gpu, rel=1e-12
    )


def test_kernel_draws_follow_the_accepted_length_distribution():
    """The simulator's hashed draws over (request, position) pairs: mean and variance of
    (1 − a^(k+1))/(1 − a) within 4 standard errors / 3 %, all lengths in 1 … k + 1."""
    spec = Speculation(None, 4, 0.8)
    cdf = spec.cdf
    draws = np.array([accepted_length(cdf, 3, i, j) for i in range(400) for j in range(250)])
    mean, var = accepted_tokens(0.8, 4)
    assert abs(draws.mean() - mean) < 4 * np.sqrt(var / draws.size)
    assert draws.var() == pytest.approx(var, rel=0.03)
    assert draws.min() == 1 and draws.max() == 5


def _one_request(output: int) -> RequestStream:
    return RequestStream(
        np.zeros(1), np.array([128]), np.array([output]), np.zeros(1, np.int64), "one"
    )


@pytest.mark.parametrize("acceptance", [0.0, 0.6, 0.8])
def test_simulated_tokens_per_step_match_the_formula(target, acceptance):
    """One long request alone: its D − 1 decode tokens take (D − 1)/E[L] steps within
    sampling error (a = 0: one token a step, and each step is dearer than plain decoding)."""
    spec = replace(target, speculation=Speculation(None, 4, acceptance))
    output = 6001
    result = simulate(Colocated(spec), _one_request(output), warmup=0.0)
    steps = result.iterations - 1  # the prompt's own iteration emits the first token
    mean, var = accepted_tokens(acceptance, 4)
    per_step = (output - 1) / steps
    assert abs(per_step - mean) <= 4 * np.sqrt(var / steps) + 0.01 * (acceptance == 0)
    if acceptance == 0:
        plain = simulate(Colocated(target), _one_request(output), warmup=0.0)
        assert result.records.tpot_s[0] > plain.records.tpot_s[0]


def test_analytic_and_simulated_latency_agree_with_speculation(target, speculation):
    """70B on 4× H100 drafted by 8B (k 4, a 0.8), chunked τ 2048, ShareGPT at 1 req/s: p99
    TPOT within the engines' 15 % latency target, p50 within 10 %; and speculation lowers
    TPOT against plain decoding in both engines."""
    stream = synthetic_stream("sharegpt", 1.0, 3000, seed=2)
    lengths = Lengths.from_stream(stream)
    tpots = {}
    for dep in (target, replace(target, speculation=speculation)):
        arch = Chunked(dep, token_budget=2048)
        sim = simulate(arch, stream)
        observed = sim.records.tpot_s[sim.steady]
        an = analyze(arch, lengths, [1.0], quantiles=(0.5, 0.99))
        for q in (0.5, 0.99):
            tpots[dep.speculation is not None, q] = (
                float(np.nanquantile(observed, q)),
                float(an.tpot_s[q][0]),
            )
    for q, bound in ((0.5, 0.10), (0.99, 0.15)):
        sim_tpot, an_tpot = tpots[True, q]
        assert an_tpot == pytest.approx(sim_tpot, rel=bound), (q, sim_tpot, an_tpot)
    for engine in (0, 1):
        assert tpots[True, 0.5][engine] < 0.7 * tpots[False, 0.5][engine]


def test_speculation_refuses_what_it_does_not_model(target):
    moe = Deployment.from_names("mixtral-8x7b", "H100-SXM", 2)
    for dep in (moe, replace(target, pp=2)):
        with pytest.raises(Exception, match="speculative"):
            replace(dep, speculation=Speculation(None, 4, 0.8))
    cat = load_catalog()
    assert Speculation.parse("eagle", cat) == Speculation(None, 4, 0.8)
    assert Speculation.parse("draft=llama-3.1-8b,k=3,accept=0.7", cat).k == 3
    for bad in ("k=4", "draft=", "eagle,k=x", "draft=llama-3.1-8b,foo=1"):
        with pytest.raises(Exception, match="speculative"):
            Speculation.parse(bad, cat)


def test_serve_cost_with_speculative_names_it_and_lowers_tpot():
    runner = CliRunner()
    common = ["serve", "cost", "--arch", "chunked", "--model", "llama-3.1-70b", "--tp", "4"]
    common += ["--token-budget", "2048", "--ttft", "1s", "--tpot", "20ms", "--json"]
    plain = json.loads(runner.invoke(app, common).output)
    spec = runner.invoke(app, [*common, "--speculative", "eagle,k=4,accept=0.7"])
    assert spec.exit_code == 0, spec.output
    answer = json.loads(spec.output)
    assert answer["speculative"]["draft"] == "eagle" and answer["speculative"]["k"] == 4
    assert plain["speculative"] is None
    # a tight TPOT bound: drafting pays
    assert answer["usd_per_million_tokens"] < plain["usd_per_million_tokens"]
    bad = runner.invoke(app, [*common[:-1], "--speculative", "eagle,k=0"])
    assert bad.exit_code == 2 and bad.output.count("\n") == 1 and "k" in bad.output


def test_measured_acceptance_is_the_default_where_the_catalog_has_one():
    """vLLM's EAGLE-3 head on Llama-3.1-8B (k = 3, τ = 2.60 on MT-bench) gives a = 0.717, the
    root of 1 + a + a² + a³ = 2.60; a model without a measurement keeps k = 4, a = 0.8."""
    from costcorrect.catalog.speculation import acceptance_entries

    entry = next(e for e in acceptance_entries() if e.model == "llama-3.1-8b")
    assert entry.acceptance == pytest.approx(0.717, abs=5e-4)
    assert accepted_tokens(entry.acceptance, entry.k)[0] == pytest.approx(2.60, rel=1e-9)
    cat = load_catalog()
    assert Speculation.parse("eagle", cat, "llama-3.1-8b") == Speculation(None, 3, entry.acceptance)
    assert Speculation.parse("eagle", cat, "llama-3.1-70b") == Speculation(None, 4, 0.8)


def test_published_batch_one_speedups_are_claims():
    """vLLM's measured EAGLE-3 speedups on Llama-3.1-8B (issue #20780, k = 2, 4, 7) re-derived
    from their own acceptance lengths: speculation pays at batch 1 in the model as measured,
    and a miss beyond 25 % carries its reason."""
    from costcorrect.catalog.published import load_published
    from costcorrect.serving.reproduce import reproduce_claim

    cat = load_catalog()
    claims = [c for c in load_published() if c.kind == "speculative_speedup"]
    assert len(claims) == 3
    for claim in claims:
        r = reproduce_claim(claim, cat)
        assert r.predicted > 1.3 and claim.published > 1.3
        assert (abs(r.error) > 0.25) == ("likely reason for the miss" in r.note), r.note
