import numpy as np
import pandas as pd
import pytest

from costcorrect.catalog import load_catalog
from costcorrect.catalog.calibrations import PerfParams
from costcorrect.errors import InputError
from costcorrect.perf import Batch, Deployment, step_time
from costcorrect.perf.fit import check_measurements, fit, predict


@pytest.fixture(scope="module")
def dep():
    return Deployment.from_names("llama-3.1-70b", "H100-SXM", tp=8)


def test_ops_sum_to_total_and_vectorised_matches_scalar(dep):
    batch = np.array([1, 8, 64, 256])
    context = np.array([128, 1024, 4096, 16384])
    vec = step_time(dep, Batch.decode(batch, context))
    assert np.allclose(sum(vec.seconds.values()), vec.total_s)
    for i in range(len(batch)):
        scalar = step_time(dep, Batch.decode(int(batch[i]), int(context[i])))
        assert float(scalar.total_s) == pytest.approx(float(vec.total_s[i]), rel=1e-12)


def test_decode_is_weight_bound_at_small_batch(dep):
    t = step_time(dep, Batch.decode(1, 128))
    weights = dep.weight_bytes_per_gpu
    floor = weights / dep.hardware.hbm_bytes_per_s.value
    assert float(t.total_s) > floor  # cannot beat streaming the weights once
    gemm_bytes = sum(float(t.bytes[op]) for op in ("qkv", "o_proj", "ffn"))
    assert gemm_bytes == pytest.approx(weights, rel=0.05)


def test_monotone_in_batch_context_and_prompt(dep):
    b = np.arange(1, 513)
    assert np.all(np.diff(step_time(dep, Batch.decode(b, 2048)).total_s) >= 0)
    c = np.arange(1, 65536, 512)
    assert np.all(np.diff(step_time(dep, Batch.decode(32, c)).total_s) >= 0)
    p = np.arange(1, 16384, 64)
    assert np.all(np.diff(step_time(dep, Batch.prefill(p)).total_s) > 0)


def test_prefill_flops_match_2_params_per_token(dep):
    t = step_time(dep, Batch.prefill(4096))
    linear_flop = sum(float(t.flop[op]) for op in ("qkv", "o_proj", "ffn"))
    params = sum(x.params for x in dep.model.linears())
    assert linear_flop * dep.tp == pytest.approx(2 * params * 4096, rel=1e-9)
    # causal attention: 4·n_q·d_h·n·(n+1)/2 per layer
    m = dep.model
    expected = 4 * m.num_attention_heads * m.attn_head_dim * 4096 * 4097 / 2 * m.num_layers
    assert float(t.flop["attn_prefill"]) * dep.tp == pytest.approx(expected, rel=1e-9)


def test_tp_shards_weights_and_kv():
    one = Deployment.from_names("llama-3.1-8b", "H100-SXM", tp=1)
    two = Deployment.from_names("llama-3.1-8b", "H100-SXM", tp=2)
    assert two.weight_bytes_per_gpu == pytest.approx(one.weight_bytes_per_gpu / 2, rel=0.01)
    assert two.kv_bytes_per_token_per_gpu == one.kv_bytes_per_token_per_gpu / 2
    assert two.kv_capacity_tokens > 2 * one.kv_capacity_tokens
    eight = Deployment.from_names("llama-3.1-8b", "H100-SXM", tp=8)  # 8 KV heads: 1 per GPU
    assert eight.kv_elements_per_token_per_layer_per_gpu == 2 * 128


def test_quantised_weights_stream_fewer_bytes():
    bf16 = Deployment.from_names("llama-3.1-70b", "H100-SXM", tp=4)
    fp8 = Deployment.from_names("llama-3.1-70b", "H100-SXM", tp=4, weight_format="fp8")
    awq = Deployment.from_names("llama-3.1-70b", "H100-SXM", tp=4, weight_format="awq-int4")
    times = [float(step_time(d, Batch.decode(1, 512)).total_s) for d in (bf16, fp8, awq)]
    assert times[0] > times[1] > times[2]


def test_moe_decode_reads_only_touched_experts():
    dep = Deployment.from_names("mixtral-8x7b", "H100-SXM", tp=2)
    one = float(step_time(dep, Batch.decode(1, 512)).bytes["moe"])
    many = float(step_time(dep, Batch.decode(256, 512)).bytes["moe"])
    assert many / one == pytest.approx(4.0, rel=0.05)  # 2 of 8 experts → all 8


def test_memory_fit_errors():
    dep = Deployment.from_names("llama-3.1-405b", "H100-SXM", tp=2)
    assert not dep.fits
    with pytest.raises(InputError, match="tp: got 2, expected more GPUs"):
        dep.check_fits()
    with pytest.raises(InputError, match="tp: got 3"):
        Deployment.from_names("llama-3.1-70b", "H100-SXM", tp=3)
    with pytest.raises(InputError, match="batch: got -1"):
        Batch.decode(-1, 10)


def test_every_catalog_model_runs_on_h200():
    cat = load_catalog()
    for model in cat.models:
        dep = Deployment(model, cat.hardware.get("H200"), tp=8 if model.num_attention_heads else 1)
        t = step_time(dep, Batch.prefill(512) + Batch.decode(16, 1024))
        assert np.isfinite(t.total_s) and float(t.total_s) > 0, model.name


def test_fit_recovers_parameters_from_synthetic_timings():
    cat = load_catalog()
    truth = PerfParams(gemm_flops_eff=0.6, gemm_hbm_eff=0.75, iteration_overhead_s=3e-3)
    rows = [
        {
            "gpu": "H100-SXM",
            "model": "llama-2-70b",
            "tp": tp,
            "pp": 1,
            "phase": phase,
            "batch_size": b,
            "prompt_tokens": p,
            "context_tokens": p + 64,
        }
        for tp in (2, 4, 8)
        for b in (1, 4, 16, 64)
        for p in (128, 512, 2048, 8192)
        for phase in ("prefill", "decode")
    ]
    df = pd.DataFrame(rows)
    df["time_s"] = predict(df, truth, cat)
    free = ("gemm_flops_eff", "gemm_hbm_eff", "iteration_overhead_s")
    result = fit(df, cat, PerfParams(), free)
    assert result.params.gemm_flops_eff == pytest.approx(0.6, rel=0.02)
    assert result.params.gemm_hbm_eff == pytest.approx(0.75, rel=0.02)
    # noise-free data: only the fit's prior (weighed as one point's 10 % error per prior
    # scale) keeps the fit off an exact match
    assert result.train_median_ape < 5e-3


def test_fit_takes_the_clock_each_measurement_ran_at():
    """Rows measured below the maximum SM clock (a board holding its power limit): compute
    rates scale with the clock, memory-bound time does not; a fit given each row's
    ``clock_ratio`` recovers the efficiency at f_max, and a bad ratio is one clear error."""
    cat = load_catalog()
    truth = PerfParams(gemm_flops_eff=0.7, gemm_hbm_eff=0.8, iteration_overhead_s=2e-3)
    base = {"gpu": "H200", "model": "llama-3.1-8b", "tp": 1, "pp": 1, "batch_size": 1}
    prefill = {**base, "phase": "prefill", "prompt_tokens": 4096, "context_tokens": 0}
    decode = {**base, "phase": "decode", "prompt_tokens": 1, "context_tokens": 1024}
    df = pd.DataFrame([prefill, prefill, decode, decode]).assign(clock_ratio=[1, 0.5, 1, 0.5])
    t = predict(df, truth, cat)
    assert 1.8 < t[1] / t[0] <= 2.0  # tensor-core-bound prefill: nearly 1/x
    assert t[3] == pytest.approx(t[2], rel=1e-3)  # weight-streaming decode: unchanged
    rows = [{**prefill, "prompt_tokens": p, "batch_size": b} for p in (512, 2048) for b in (1, 4)]
    rows += [{**decode, "batch_size": b, "context_tokens": c} for b in (1, 64) for c in (512, 4096)]
    df = pd.DataFrame(rows * 2).assign(clock_ratio=[1.0] * len(rows) + [0.75] * len(rows))
    df["time_s"] = predict(df, truth, cat)
    result = fit(df, cat, PerfParams(), ("gemm_flops_eff", "gemm_hbm_eff", "iteration_overhead_s"))
    assert result.params.gemm_flops_eff == pytest.approx(0.7, rel=0.02)
    with pytest.raises(InputError, match="clock_ratio"):
        check_measurements(df.assign(clock_ratio=1.5))


def test_decode_attention_tile_counts_the_kernels_tensor_core_work():
    """A decode attention kernel whose tensor-core tile spans 128 query rows per KV head, filled
    by a 4-head GQA group, does 32× the useful FLOP (Llama-3.1-8B: 32 query / 8 KV heads); the
    bytes, the prefill kernel and a tile no larger than the group are unchanged."""
    cat = load_catalog()
    plain = Deployment.from_names("llama-3.1-8b", "H200", catalog=cat)
    tiled = Deployment(
        plain.model,
        plain.hardware,
        params=plain.params.model_copy(update={"attn_decode_tile_rows": 128}),
    )
    small = Deployment(
        plain.model,
        plain.hardware,
        params=plain.params.model_copy(update={"attn_decode_tile_rows": 4}),
    )
    decode, prefill = Batch.decode(16, 4096), Batch.prefill(2048)
    a, b, c = (step_time(d, decode) for d in (plain, tiled, small))
    assert b.flop["attn_decode"] == pytest.approx(32 * a.flop["attn_decode"], rel=1e-12)
    assert b.bytes["attn_decode"] == pytest.approx(a.bytes["attn_decode"], rel=1e-12)
    assert c.flop["attn_decode"] == pytest.approx(a.flop["attn_decode"], rel=1e-12)
    assert step_time(tiled, prefill).flop["attn_prefill"] == pytest.approx(
        step_time(plain, prefill).flop["attn_prefill"], rel=1e-12
    )


def test_a_whole_stack_made_more_efficient_scales_every_rate_and_fixed_cost():
    """``scaled_efficiency`` × 1.1: every efficiency × 1.1 (capped at the peak), every fixed
    cost in seconds ÷ 1.1, nothing else — so a kernel-only engine stack's iteration, none of
    whose efficiencies reaches the cap, runs exactly 1.1 × faster."""
    from costcorrect.perf.calibration import scaled_efficiency, select_calibration

    catalog = load_catalog()
    params = select_calibration(catalog, catalog.hardware.get("H200"), "trtllm-1.3.0rc20").params
    # efficiencies kept below the cap, whatever the fit gave
    below_cap = {n: min(v, 0.9) for n, v in params.model_dump().items() if n.endswith("_eff")}
    params = params.model_copy(update=below_cap)
    faster = scaled_efficiency(params, 1.1)
    for name, value in params.model_dump().items():
        new = getattr(faster, name)
        if name.endswith("_eff"):
            assert value * 1.1 < 1.0 and new == pytest.approx(value * 1.1), name
        elif name.endswith("_s"):
            assert new == pytest.approx(value / 1.1), name
        else:
            assert new == value, name
    batch = Batch.prefill(512, 4) + Batch.decode(32, 1024)
    step = [
        float(
            Deployment.from_names(
                "llama-3.1-8b", "H200", params=p, catalog=catalog
            ).op_table.total_s(batch)
        )
        for p in (params, faster)
    ]
    assert step[0] / step[1] == pytest.approx(1.1, rel=1e-9)
