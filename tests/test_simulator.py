"""The simulator against queueing theory, the perf model and the physics of disaggregation."""

import math

import numpy as np
import pytest

from costcorrect.catalog.calibrations import PerfParams
from costcorrect.errors import InputError
from costcorrect.perf import Batch, Deployment, step_time
from costcorrect.serving.architectures import Chunked, Colocated, Disaggregated, KVLink, KVPool
from costcorrect.serving.contract import Contract
from costcorrect.serving.cost import cost_per_token
from costcorrect.serving.goodput import simulated_goodput
from costcorrect.serving.simulator import TBT_EDGES, simulate
from costcorrect.serving.stats import summarize
from costcorrect.workload import RequestStream, poisson_arrivals, synthetic_stream


@pytest.fixture(scope="module")
def dep8b():
    return Deployment.from_names("llama-3.1-8b", "H100-SXM", tp=1)


FIELDS = ("input_tokens", "output_tokens", "cached_tokens")


def fixed_stream(n, rate, prompt, output, seed=0, cached=0):
    return RequestStream(
        arrival_s=poisson_arrivals(rate, n, seed),
        input_tokens=np.full(n, prompt, np.int64),
        output_tokens=np.full(n, output, np.int64),
        cached_tokens=np.full(n, cached, np.int64),
        name="fixed",
    )


def test_md1_waiting_time_matches_pollaczek_khinchine(dep8b):
    prompt = 2048
    service = float(step_time(dep8b, Batch.prefill(prompt)).total_s)
    rho = 0.7
    stream = fixed_stream(200_000, rho / service, prompt, 1, seed=3)
    arch = Colocated(dep8b, max_batch_tokens=prompt)  # one prompt per iteration: M/D/1
    result = simulate(arch, stream)
    wait = result.records.ttft_s[result.steady] - service
    assert np.allclose(wait.min(), 0.0, atol=1e-9)
    from costcorrect.serving.stats import mean_ci

    est = mean_ci(wait)
    pk = rho * service / (2 * (1 - rho))
    assert est.low - 0.02 * pk <= pk <= est.high + 0.02 * pk
    assert est.value == pytest.approx(pk, rel=0.02)


@pytest.mark.parametrize("kind", ["colocated", "chunked", "disaggregated", "kvpool"])
def test_littles_law_holds(dep8b, kind):
    stream = synthetic_stream("sharegpt", rate_per_s=2.0, n=6000, seed=5, prefix_hit_ratio=0.3)
    link = KVLink(25e9, 1e-3, 0.5)
    arch = {
        "colocated": Colocated(dep8b),
        "chunked": Chunked(dep8b, token_budget=512),
        "disaggregated": Disaggregated(dep8b, dep8b, 1, 1, link),
        "kvpool": KVPool(dep8b, dep8b, 1, 1, link, pool_bytes_per_s=20e9),
    }[kind]
    result = simulate(arch, stream)
    summary = summarize(result.records, result.steady)
    little = summary.little_rate_x_sojourn
    assert little.low * 0.97 <= summary.mean_in_system <= little.high * 1.03


def test_low_load_tpot_equals_decode_step_time(dep8b):
    prompt, output = 512, 64
    stream = fixed_stream(50, 1e-3, prompt, output)
    result = simulate(Colocated(dep8b), stream)
    contexts = prompt + np.arange(output - 1)
    expected = float(np.mean(step_time(dep8b, Batch.decode(1, contexts)).total_s))
    assert np.allclose(result.records.tpot_s, expected, rtol=1e-9)
    prefill = float(step_time(dep8b, Batch.prefill(prompt)).total_s)
    assert np.allclose(result.records.ttft_s, prefill, rtol=1e-9)


@pytest.mark.parametrize(("model", "tp"), [("llama-3.1-8b", 1), ("mixtral-8x7b", 2)])
def test_a_batch_decodes_at_the_op_tables_step_times(model, tp):
    """Four prompts at t = 0 share one prefill, then decode together: each completion is the
    prefill plus the op table's decode steps of four sequences (numpy evaluator), the fast path
    for an unchanging decode batch (dense and MoE costs) included."""
    dep = Deployment.from_names(model, "H100-SXM", tp=tp)
    prompt, output = 300, 40
    stream = fixed_stream(4, 1.0, prompt, output)
    stream = RequestStream(np.zeros(4), *(getattr(stream, f) for f in FIELDS), name="batch")
    result = simulate(Colocated(dep), stream, warmup=0.0)
    prefill = float(step_time(dep, Batch.prefill(prompt, 4)).total_s)
    decode = step_time(dep, Batch.decode(4, prompt + np.arange(output - 1))).total_s
    assert np.allclose(result.records.completion_s, prefill + decode.sum(), rtol=1e-12)
    assert result.iterations == output and result.tbt_counts.sum() == 4 * (output - 1)


def test_tbt_histogram_counts_every_steady_interval_at_the_step_time(dep8b):
    """Alone on the GPU, each token follows the previous by one decode step."""
    prompt, output, n = 512, 64, 50
    result = simulate(Colocated(dep8b), fixed_stream(n, 1e-3, prompt, output))
    assert result.tbt_counts.sum() == result.steady.sum() * (output - 1)
    steps = step_time(dep8b, Batch.decode(1, prompt + np.arange(output - 1))).total_s
    width = TBT_EDGES[1] / TBT_EDGES[0]  # one bin
    assert steps.max() <= result.tbt_quantile(0.99) <= steps.max() * width
    assert steps.min() <= result.tbt_quantile(0.01) <= steps.min() * width


def test_whole_prompt_stalls_dominate_per_token_tbt(dep8b):
    """Sarathi-Serve's point: a whole-prompt prefill stalls every running decode for one token,
    so colocation's p99 per-token TBT far exceeds its p99 per-request TPOT (which averages the
    stall away) and chunked prefill's TBT."""
    stream = synthetic_stream("sharegpt", rate_per_s=2.5, n=4000, seed=2)
    colocated = simulate(Colocated(dep8b), stream)
    chunked = simulate(Chunked(dep8b, token_budget=512), stream)
    tpot = np.nanquantile(colocated.records.tpot_s[colocated.steady], 0.99)
    assert colocated.tbt_quantile(0.99) > 2 * tpot
    assert chunked.tbt_quantile(0.99) < 0.5 * colocated.tbt_quantile(0.99)


def test_chunked_prefill_lowers_p99_tpot(dep8b):
    stream = synthetic_stream("sharegpt", rate_per_s=2.5, n=5000, seed=2)
    tpot = {}
    for arch in (Colocated(dep8b), Chunked(dep8b, token_budget=512)):
        r = simulate(arch, stream)
        tpot[arch.name] = np.nanquantile(r.records.tpot_s[r.steady], 0.99)
    assert tpot["chunked"] < tpot["colocated"]


def test_disaggregated_ttft_grows_with_prompt_kv_over_bandwidth(dep8b):
    kv = dep8b.model.kv_bytes_per_token()
    ttft = {}
    for prompt in (1024, 8192):
        for bw in (10e9, 100e9):
            arch = Disaggregated(dep8b, dep8b, 1, 1, KVLink(bw))
            r = simulate(arch, fixed_stream(20, 1e-3, prompt, 8))
            ttft[prompt, bw] = float(np.median(r.records.ttft_s))
    for prompt in (1024, 8192):
        gap = ttft[prompt, 10e9] - ttft[prompt, 100e9]
        assert gap == pytest.approx(prompt * kv * (1 / 10e9 - 1 / 100e9), rel=1e-6)
    assert ttft[8192, 10e9] - ttft[8192, 100e9] > ttft[1024, 10e9] - ttft[1024, 100e9]


def test_kv_tax_vanishes_with_infinite_bandwidth_and_terms_sum(dep8b):
    base = synthetic_stream("sharegpt", rate_per_s=1.0, n=2000, seed=4)
    contract = Contract(ttft_s=2.0, tpot_s=0.05)
    taxes = []
    # at 1–1.3 GB/s a mean prompt's KV takes a sizeable part of the 2 s TTFT bound, so the tax is
    # far above the simulated goodput's noise (about 1 %, which is all the tax is at 2 GB/s)
    for bw in (1e9, 1.3e9, 1e15):
        c = cost_per_token(Disaggregated(dep8b, dep8b, 1, 1, KVLink(bw)), contract, base)
        parts = c.prefill_usd_per_million + c.decode_usd_per_million + c.kv_usd_per_million
        assert parts == pytest.approx(c.usd_per_million_tokens, rel=1e-12)
        taxes.append(c.kv_usd_per_million / c.usd_per_million_tokens)
    assert taxes[0] > taxes[1] >= taxes[2] and abs(taxes[2]) < 0.01


def test_colocated_cost_terms_sum(dep8b):
    base = synthetic_stream("sharegpt", rate_per_s=1.0, n=2000, seed=4)
    c = cost_per_token(Chunked(dep8b), Contract(ttft_s=2.0, tpot_s=0.05), base)
    assert c.kv_usd_per_million == 0.0
    assert c.prefill_usd_per_million + c.decode_usd_per_million == pytest.approx(
        c.usd_per_million_tokens, rel=1e-12
    )
    assert c.usd_per_million_tokens == pytest.approx(
        c.usd_per_hour / 3600 / c.token_goodput_per_s * 1e6, rel=1e-12
    )


def test_impossible_contract_is_goodput_zero_with_reason(dep8b):
    base = synthetic_stream("sharegpt", rate_per_s=1.0, n=500, seed=1)
    g = simulated_goodput(Colocated(dep8b), Contract(ttft_s=0.001, tpot_s=0.05), base)
    assert g.rate_per_s == 0 and "impossible even at λ → 0" in g.reason and "TTFT" in g.reason
    c = cost_per_token(Colocated(dep8b), Contract(ttft_s=0.001, tpot_s=0.05), base)
    assert math.isinf(c.usd_per_million_tokens) and c.reason


def test_preemption_under_kv_pressure_still_serves_everyone():
    dep = Deployment.from_names("llama-3.1-70b", "H100-SXM", tp=4, memory_utilization=0.5)
    stream = synthetic_stream("arxiv-summarization", rate_per_s=20.0, n=1500, seed=0)
    r = simulate(Colocated(dep), stream)
    assert (r.records.completion_s > 0).all()
    assert r.records.preemptions.sum() > 0
    assert (r.records.first_token_s >= r.records.arrival_s).all()


def test_bad_inputs(dep8b):
    with pytest.raises(InputError, match="kv_link_bytes_per_s: got -1"):
        KVLink(-1.0)
    small = Deployment.from_names("llama-3.1-70b", "H100-SXM", tp=4, memory_utilization=0.5)
    with pytest.raises(InputError, match="workload: got 'a request of"):
        simulate(Colocated(small), fixed_stream(10, 1.0, 200_000, 10))
    with pytest.raises(InputError, match="tp: got 1, expected more GPUs"):
        Colocated(Deployment.from_names("llama-3.1-70b", "H100-SXM", tp=1))
    with pytest.raises(InputError, match="ttft: got 0"):
        Contract(ttft_s=0, tpot_s=0.1)


def test_energy_and_network_costs_enter_the_right_terms(dep8b):
    from costcorrect.serving.cost import Pricing

    base = synthetic_stream("sharegpt", rate_per_s=1.0, n=1500, seed=4)
    arch = Disaggregated(dep8b, dep8b, 1, 1, KVLink(50e9))
    contract = Contract(ttft_s=2.0, tpot_s=0.05)
    plain = cost_per_token(arch, contract, base, engine="analytic")
    priced = cost_per_token(
        arch,
        contract,
        base,
        engine="analytic",
        pricing=Pricing(energy_usd_per_kwh=0.1, pue=1.3, network_usd_per_gb=0.02),
    )
    parts = (
        priced.prefill_usd_per_million + priced.decode_usd_per_million + priced.kv_usd_per_million
    )
    assert parts == pytest.approx(priced.usd_per_million_tokens, rel=1e-12)
    watts = 2 * dep8b.hardware.tdp_w.value * 1.3
    energy = watts * 0.1 / 3.6e6 / plain.token_goodput_per_s * 1e6
    kv_gb = base.mean_input_tokens * dep8b.model.kv_bytes_per_token() / 1e9
    network = kv_gb * 0.02 / base.mean_output_tokens * 1e6
    assert priced.usd_per_million_tokens - plain.usd_per_million_tokens == pytest.approx(
        energy + network, rel=1e-9
    )
    assert priced.kv_usd_per_million - plain.kv_usd_per_million == pytest.approx(network, rel=1e-6)
    with pytest.raises(InputError, match=r"pue: got 0\.5"):
        Pricing(pue=0.5)


def test_kvpool_early_rejection_bounds_the_wait(dep8b):
    stream = synthetic_stream("azure-conv-2023", rate_per_s=40.0, n=4000, seed=3)
    link = KVLink(50e9)
    late = simulate(KVPool(dep8b, dep8b, 1, 4, link), stream)
    strict = simulate(KVPool(dep8b, dep8b, 1, 4, link, reject_after_s=0.2), stream)
    assert not late.records.rejected.any()
    rejected = strict.records.rejected
    assert 0 < rejected.mean() < 0.5
    served = ~rejected
    prefill = strict.records.ttft_s[served]
    assert np.nanmax(prefill) < np.nanmax(late.records.ttft_s)
    # a rejected request never reached a decode instance; the served ones all finished
    assert np.isnan(strict.records.completion_s[rejected]).all()
    assert np.isfinite(strict.records.completion_s[served]).all()
    verdict = Contract(ttft_s=10.0, tpot_s=1.0, quantile=0.99).judge(
        strict.records.ttft_s, strict.records.tpot_s
    )
    assert not verdict.met  # rejections count as misses


def test_a_padding_gemm_kernel_costs_each_iteration_its_padded_rows():
    """An FP8 stack whose GEMMs pad rows to 128-row tiles: 130 sequences prefill and decode in
    the simulator (its compiled fast path for an unchanging decode batch included) at the
    numpy evaluator's padded step times — decoding as 256 rows, slower than unpadded."""
    from costcorrect.catalog import load_catalog
    from costcorrect.perf.calibration import select_calibration

    catalog = load_catalog()
    base = select_calibration(catalog, catalog.hardware.get("H200"), "vllm-0.24.0").params
    deps = {
        tile: Deployment.from_names(
            "llama-3.1-8b",
            "H200",
            params=base.model_copy(update={"gemm_fp8_row_tile": tile}),
            catalog=catalog,
            weight_format="fp8",
        )
        for tile in (0, 128)
    }
    n, prompt, output = 130, 8, 12
    stream = fixed_stream(n, 1.0, prompt, output)
    stream = RequestStream(np.zeros(n), *(getattr(stream, f) for f in FIELDS), name="batch")
    dep = deps[128]
    result = simulate(Colocated(dep), stream, warmup=0.0)
    contexts = prompt + np.arange(output - 1)
    prefill = float(step_time(dep, Batch.prefill(prompt, n)).total_s)
    decode = step_time(dep, Batch.decode(n, contexts)).total_s
    assert np.allclose(result.records.completion_s, prefill + decode.sum(), rtol=1e-12)
    unpadded = step_time(deps[0], Batch.decode(n, contexts)).total_s
    assert decode.sum() > 1.05 * unpadded.sum()


def test_the_simulator_charges_a_prefill_tail_on_the_mean_span_as_numpy_does():
    """A stack whose prefill kernel waits on its longest tile: the compiled loop's span
    quantity (KV tokens per prefill sequence) gives the numpy evaluator's step times."""
    from costcorrect.catalog import load_catalog

    catalog = load_catalog()
    dep = Deployment.from_names(
        "llama-3.1-8b",
        "H200",
        params=PerfParams(attn_prefill_tail_s=1e-7, iteration_overhead_s=0.0),
        catalog=catalog,
    )
    n, prompt, output = 3, 1500, 3
    stream = fixed_stream(n, 1.0, prompt, output)
    stream = RequestStream(np.zeros(n), *(getattr(stream, f) for f in FIELDS), name="batch")
    result = simulate(Colocated(dep), stream, warmup=0.0)
    prefill = step_time(dep, Batch.prefill(prompt, n))
    decode = step_time(dep, Batch.decode(n, prompt + np.arange(output - 1))).total_s
    assert np.allclose(result.records.completion_s, prefill.total_s + decode.sum(), rtol=1e-12)
    tail = dep.model.num_layers * prompt * 1e-7
    untailed = dep.params.model_copy(update={"attn_prefill_tail_s": 0.0})
    plain = step_time(
        Deployment(dep.model, dep.hardware, params=untailed), Batch.prefill(prompt, n)
    )
    assert float(prefill.total_s - plain.total_s) == pytest.approx(tail)
