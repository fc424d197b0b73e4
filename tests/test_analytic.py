"""The analytic engine: queueing identities, agreement with the simulator where it is
reliable, stability and impossible contracts."""

import numpy as np
import pytest

from costcorrect.perf import Batch, Deployment, step_time
from costcorrect.serving.analytic import Lengths, analyze
from costcorrect.serving.architectures import Chunked, Colocated, Disaggregated, KVLink
from costcorrect.serving.contract import Contract
from costcorrect.serving.goodput import analytic_goodput, simulated_goodput
from costcorrect.serving.queueing import md1_mean_wait, mgc_mean_wait, wait_quantile
from costcorrect.serving.simulator import simulate
from costcorrect.workload import RequestStream, poisson_arrivals, synthetic_stream


@pytest.fixture(scope="module")
def dep():
    return Deployment.from_names("llama-3.1-8b", "H100-SXM", tp=1, stack="vidur-kernels")


@pytest.fixture(scope="module")
def sharegpt():
    return synthetic_stream("sharegpt", rate_per_s=1.0, n=6000, seed=1)


def test_lengths_keep_the_means(sharegpt):
    lengths = Lengths.from_stream(sharegpt)
    assert lengths.prompt_mean(lengths.prompt) == pytest.approx(
        sharegpt.mean_input_tokens, rel=1e-12
    )
    assert lengths.prompt_weight.sum() == pytest.approx(1.0)
    assert lengths.output @ lengths.output_weight == pytest.approx(
        sharegpt.mean_output_tokens, rel=1e-12
    )
    assert lengths.output_weight.sum() == pytest.approx(1.0)


def test_single_token_fixed_prompts_reduce_to_md1(dep):
    """One prompt per iteration, one output token: TTFT = M/D/1 wait + the prefill."""
    n, prompt = 1000, 1024
    stream = RequestStream(
        poisson_arrivals(1.0, n, 0), np.full(n, prompt), np.ones(n, int), np.zeros(n, int), "fixed"
    )
    service = float(step_time(dep, Batch.prefill(prompt)).total_s)
    rate = 0.6 / service
    result = analyze(Colocated(dep, max_batch_tokens=prompt), Lengths.from_stream(stream), [rate])
    assert result.prefill_utilization[0] == pytest.approx(0.6, rel=1e-9)
    for q in (0.5, 0.9, 0.99):
        expected = service + wait_quantile(q, rate, service, 0.0, 1)
        assert result.ttft_s[q][0] == pytest.approx(float(expected), rel=1e-9)
    assert float(md1_mean_wait(rate, service)) == pytest.approx(
        float(mgc_mean_wait(rate, service, 0.0, 1)), rel=1e-12
    )


@pytest.mark.parametrize(
    ("make", "loads"),
    [
        (lambda d: Chunked(d, token_budget=512), (0.5,)),
        (lambda d: Disaggregated(d, d, 1, 1, KVLink(50e9, 1e-3, 0.5)), (0.5, 0.9)),
    ],
)
def test_agrees_with_simulator_on_sharegpt(dep, sharegpt, make, loads):
    """Where docs/validation.md reports agreement; its misses are documented there."""
    arch = make(dep)
    lengths = Lengths.from_stream(sharegpt)
    capacity = simulated_goodput(arch, Contract(2.0, 0.1), sharegpt).rate_per_s
    for load in loads:
        rate = load * capacity
        sim = simulate(arch, sharegpt.scaled(rate))
        r, m = sim.records, sim.steady
        an = analyze(arch, lengths, [rate], quantiles=(0.99,))
        assert an.ttft_s[0.99][0] == pytest.approx(np.quantile(r.ttft_s[m], 0.99), rel=0.15)
        assert an.tpot_s[0.99][0] == pytest.approx(np.nanquantile(r.tpot_s[m], 0.99), rel=0.15)


def test_decode_batch_matches_littles_law_in_simulation(dep, sharegpt):
    rate = 3.0
    arch = Colocated(dep)
    sim = simulate(arch, sharegpt.scaled(rate))
    r, m = sim.records, sim.steady
    span = r.arrival_s[m].max() - r.arrival_s[m].min()
    decoding = np.sum(r.completion_s[m] - r.first_token_s[m]) / span
    an = analyze(arch, Lengths.from_stream(sharegpt), [rate])
    assert an.decode_batch[0] == pytest.approx(decoding, rel=0.1)


def test_unstable_rates_are_flagged_infinite(dep, sharegpt):
    result = analyze(Colocated(dep), Lengths.from_stream(sharegpt), [0.5, 1e3])
    assert result.stable.tolist() == [True, False]
    assert np.isinf(result.ttft_s[0.99][1]) and np.isfinite(result.ttft_s[0.99][0])


def test_analytic_goodput_impossible_contract(dep, sharegpt):
    g = analytic_goodput(Colocated(dep), Contract(0.001, 0.05), Lengths.from_stream(sharegpt))
    assert g.rate_per_s == 0 and "impossible" in g.reason


def test_goodput_close_to_simulator_for_disaggregation(dep, sharegpt):
    arch = Disaggregated(dep, dep, 1, 1, KVLink(50e9, 1e-3, 0.5))
    contract = Contract(2.0, 0.1)
    sim = simulated_goodput(arch, contract, sharegpt).rate_per_s
    ana = analytic_goodput(arch, contract, Lengths.from_stream(sharegpt)).rate_per_s
    assert ana == pytest.approx(sim, rel=0.1)


def test_batching_prefill_near_saturation_agrees_with_simulator(dep):
    """Short heavy-tailed prompts at 90 % of goodput: the batching prefill queue (the case an
    M/G/1 wait over-predicted by up to 2×); 40k requests keep the simulator's p99 steady."""
    stream = synthetic_stream("azure-conv-2023", rate_per_s=1.0, n=40_000, seed=0)
    arch = Disaggregated(dep, dep, 1, 1, KVLink(50e9, 1e-3, 0.5))
    rate = 0.9 * simulated_goodput(arch, Contract(2.0, 0.1), stream).rate_per_s
    sim = simulate(arch, stream.scaled(rate))
    an = analyze(arch, Lengths.from_stream(stream), [rate], quantiles=(0.99,))
    expected = np.quantile(sim.records.ttft_s[sim.steady], 0.99)
    assert an.ttft_s[0.99][0] == pytest.approx(expected, rel=0.15)


def test_kv_capacity_ends_goodput_where_the_simulator_preempts(dep, sharegpt):
    """Long ShareGPT contexts on 8B: the KV cache, not latency, limits goodput; the engine
    must stop where the running requests' KV overflows, not where its mean reaches capacity."""
    arch = Colocated(dep)
    contract = Contract(2.0, 0.1)
    lengths = Lengths.from_stream(sharegpt)
    sim = simulated_goodput(arch, contract, sharegpt).rate_per_s
    ana = analytic_goodput(arch, contract, lengths)
    assert ana.rate_per_s == pytest.approx(sim, rel=0.1)
    at = analyze(arch, lengths, [ana.rate_per_s], quantiles=(0.99,))
    # the limit is the KV overflow (1 % of requests), with TPOT and TTFT still below the contract
    assert at.decode_overflow[0] == pytest.approx(0.01, rel=0.5)
    assert at.tpot_s[0.99][0] < contract.tpot_s and at.ttft_s[0.99][0] < contract.ttft_s


def test_a_link_sweep_reuses_the_pools_and_changes_only_ttft(dep, sharegpt):
    """Disaggregated analyses that differ only in the KV link share their pools' analysis
    (computed once, read-only) and give the answers of a fresh computation."""
    from costcorrect.serving import analytic

    lengths = Lengths.from_stream(sharegpt)
    rates = np.geomspace(0.1, 5.0, 16)
    slow, fast = KVLink(5e9), KVLink(200e9)
    analytic._POOLS.clear()
    first = analyze(Disaggregated(dep, dep, 1, 1, slow), lengths, rates, quantiles=(0.99,))
    reused = analyze(Disaggregated(dep, dep, 1, 1, fast), lengths, rates, quantiles=(0.99,))
    assert len(analytic._POOLS) == 1
    analytic._POOLS.clear()
    fresh = analyze(Disaggregated(dep, dep, 1, 1, fast), lengths, rates, quantiles=(0.99,))
    for name in ("decode_batch", "stable"):
        np.testing.assert_array_equal(getattr(reused, name), getattr(fresh, name))
    np.testing.assert_array_equal(reused.ttft_s[0.99], fresh.ttft_s[0.99])
    np.testing.assert_array_equal(reused.tpot_s[0.99], first.tpot_s[0.99])
    ok = first.stable & reused.stable
    assert np.all(first.ttft_s[0.99][ok] > reused.ttft_s[0.99][ok])  # a slower link costs TTFT
    with pytest.raises(ValueError, match="read-only"):
        reused.decode_batch[0] = 1.0
