"""Stacks of today's engines fitted to NVIDIA's measured kernel tables (a real extract of the
aiconfigurator-core H200 vLLM tables in tests/data/aiconfigurator)."""

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from costcorrect.catalog import load_catalog
from costcorrect.catalog.calibrations import CalibrationSpec, PerfParams
from costcorrect.errors import InputError
from costcorrect.perf import Batch, Deployment, kernel_tables
from costcorrect.perf.calibration import select_calibration
from costcorrect.perf.engine_calibration import (
    calibrate_engine,
    fit_stages,
    held_out_mask,
    kernel_table_predictor,
    neighbour_predictions,
)
from costcorrect.perf.fit import fit_to
from costcorrect.perf.kernel_tables import hbm_floor_s, padding_bound_exceeded, read_kernel_tables
from costcorrect.perf.roofline import allreduce_time, allreduce_ways, attention_time, gemm_time

EXTRACT = Path(__file__).parent / "data" / "aiconfigurator"
EXE = [sys.executable, "-m", "costcorrect"]


@pytest.fixture(scope="module")
def tables():
    return read_kernel_tables(load_catalog().hardware.get("H200"), "vllm", EXTRACT)


def test_tables_are_read_in_si_units_with_their_versions_and_date(tables):
    rows = tables.rows
    assert set(rows["op"]) == {"gemm", "gemm_fp8", "attn_prefill", "attn_decode", "all_reduce"}
    assert tables.stack == "vllm-0.24.0"
    assert tables.date == dt.date(2026, 8, 31)  # collected_at of the comm table, not today
    reduce = rows[rows["op"] == "all_reduce"]
    assert reduce["size_bytes"].min() == 256  # 128 bf16 elements
    assert set(reduce["gpus"]) == {2, 4, 8}
    # a 1024-token × 4096 × 4096 bf16 GEMM on an H200 takes tens of microseconds
    gemm = rows[(rows["op"] == "gemm") & (rows["m"] == 1024) & (rows["n"] == 4096)]
    assert ((gemm["time_s"] > 5e-6) & (gemm["time_s"] < 1e-3)).all()


def test_rows_faster_than_the_hbm_bound_are_dropped_and_counted(tables):
    """A GEMM cannot stream its weights, nor a decode kernel its KV cache, faster than the
    datasheet bandwidth: such rows would be dropped (none in this extract), and the bound is
    the bytes over the bandwidth."""
    hw = load_catalog().hardware.get("H200")
    rows = tables.rows
    assert tables.dropped == {} and (rows["time_s"] >= hbm_floor_s(rows, hw)).all()
    one = rows[(rows["op"] == "attn_decode")].iloc[[0]]
    kv = (one["batch"] * one["context"] * one["kv_heads"] * one["head_dim"] * 4).iloc[0]
    assert hbm_floor_s(one, hw)[0] == pytest.approx(kv / hw.hbm_bytes_per_s.value)
    gemm = rows[(rows["op"] == "gemm_fp8")].iloc[[0]]
    weights = (gemm["n"] * gemm["k"]).iloc[0]  # one byte per FP8 weight
    assert hbm_floor_s(gemm, hw)[0] == pytest.approx(weights / hw.hbm_bytes_per_s.value)


def test_held_out_rows_are_unseen_grid_values(tables):
    rows = tables.rows
    held = held_out_mask(rows)
    gemm = rows["op"] == "gemm"
    assert not set(rows.loc[gemm & held, "n"]) & set(rows.loc[gemm & ~held, "n"])
    assert 0 < held.sum() < len(rows)


def test_neighbours_follow_a_power_law_and_jump_with_the_table(tables):
    """The neighbour reference is exact on a table that is a power law along the held-out width
    (inside and past the ends) and misses where the measured time jumps."""
    rows = tables.rows[tables.rows["op"] == "gemm"].reset_index(drop=True)
    held = held_out_mask(rows)
    law = rows.assign(time_s=1e-9 * rows["m"] * rows["n"] ** 1.3 * rows["k"])
    predicted = neighbour_predictions(law, held)
    assert np.isnan(predicted[~held]).all()
    assert predicted[held] == pytest.approx(law["time_s"][held].to_numpy(), rel=1e-9)
    switch = held & (rows["n"] == rows.loc[held, "n"].max())  # a slower kernel at one width
    jumped = law.assign(time_s=np.where(switch, 2 * law["time_s"], law["time_s"]))
    ratio = neighbour_predictions(jumped, held) / jumped["time_s"].to_numpy()
    switch = switch.to_numpy()
    assert ratio[switch] == pytest.approx(0.5)
    assert ratio[held & ~switch] == pytest.approx(1.0)


def test_calibration_predicts_unseen_kernels(tables):
    fitted = calibrate_engine(tables, load_catalog())
    errors = fitted.held_out.set_index("op")
    assert errors["neighbour_max_ape"].notna().all()
    assert errors.at["gemm", "median_ape"] < 0.15
    assert errors.at["attn_decode", "median_ape"] < 0.25
    assert errors.at["all_reduce", "median_ape"] < 0.25
    assert errors.at["gemm_fp8", "median_ape"] < 0.3
    p = fitted.params
    # FP8 GEMMs run near bf16's share of their (2× bf16) datasheet peak once their inputs'
    # quantisation pass is counted as the traffic the tables show it to be
    assert 0.3 < p.gemm_fp8_eff_ratio < 1.5
    assert 1.0 < p.gemm_fp8_quant_bytes < 64.0
    assert p.gemm_fp4_eff_ratio == 1.0  # no FP4 table on Hopper: the prior
    assert p.iteration_overhead_s == 0 and p.per_sequence_overhead_s == 0
    assert p.allreduce == "custom"
    assert 0.3 < p.gemm_flops_eff <= 1 and 0.3 < p.gemm_hbm_eff <= 1
    spec = CalibrationSpec.model_validate(fitted.to_dict())
    assert spec.stack == "vllm-0.24.0" and spec.date == dt.date(2026, 8, 31)
    assert {"gemm_flops_eff", "attn_fixed_s", "link_eff"} <= set(spec.estimates)


def test_custom_allreduce_latency_does_not_grow_with_gpus():
    hw = load_catalog().hardware.get("H200")
    ring = allreduce_ways(hw, PerfParams(), [2, 8])[1]
    custom = allreduce_ways(hw, PerfParams(allreduce="custom"), [2, 8])[1]
    assert ring[1] == pytest.approx(7 * ring[0])
    assert custom[1] == pytest.approx(custom[0])


def test_custom_allreduce_switches_from_one_shot_to_in_network_reduction_by_size():
    """Small messages take the one-shot kernel's latency; large ones move each byte once per GPU
    through an NVLink SHARP switch, so at 8 GPUs they cost what they cost at 2."""
    catalog = load_catalog()
    hw = catalog.hardware.get("H200")
    p = PerfParams(
        allreduce="custom", oneshot_latency_s=3e-6, oneshot_link_eff=0.3, collective_latency_s=2e-5
    )
    small, large = 1024.0, 128 * 2**20
    assert allreduce_time(hw, p, 8, small) == pytest.approx(3e-6, rel=0.05)
    assert allreduce_time(hw, p, 8, large) == pytest.approx(allreduce_time(hw, p, 2, large))
    a100 = catalog.hardware.get("A100-80GB-SXM")  # no in-network reduction: ring traffic
    ratio = allreduce_time(a100, p, 8, large) / allreduce_time(a100, p, 2, large)
    assert ratio == pytest.approx(1.75, rel=0.02)


def test_shipped_engine_stacks_make_tpot_fall_with_tp():
    catalog = load_catalog()
    for gpu in ("H100-SXM", "H200", "B200"):
        assert select_calibration(catalog, catalog.hardware.get(gpu), "vllm-0.24.0")
        step = [
            float(
                Deployment.from_names(
                    "llama-3.1-70b", gpu, tp, stack="vllm-0.24.0", catalog=catalog
                ).op_table.total_s(Batch.decode(1, 1024))
            )
            for tp in (1, 2, 4, 8)
        ]
        assert np.all(np.diff(step) < 0), (gpu, step)


def test_cli_calibrate_writes_an_entry_other_commands_use(tmp_path):
    out = tmp_path / "h200.yaml"
    r = subprocess.run(
        [
            *EXE,
            "perf",
            "calibrate",
            "--from",
            "aiconfigurator",
            "--gpu",
            "H200",
            "--engine",
            "vllm",
            "--data",
            str(EXTRACT),
            "--out",
            str(out),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    printed = json.loads(r.stdout)
    assert {row["op"] for row in printed["held_out_by_op"]} == set(kernel_tables.OPS) - {
        "gemm_fp4"  # Blackwell only
    }
    step = subprocess.run(
        [
            *EXE,
            "--catalog",
            str(out),
            "perf",
            "step",
            "--gpu",
            "H200",
            "--model",
            "llama-3.1-8b",
            "--stack",
            "vllm-0.24.0",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert step.returncode == 0, step.stderr
    assert json.loads(step.stdout)["total_s"] > 0


def test_missing_dependency_names_the_install_command(monkeypatch):
    monkeypatch.setattr(kernel_tables, "PACKAGE", "no_such_package_for_costcorrect")
    with pytest.raises(InputError, match=r"pip install 'costcorrect\[aiconfigurator\]'"):
        kernel_tables.data_root()


def test_cli_without_the_dependency_exits_2_with_one_line(tmp_path):
    code = (
        "import costcorrect.perf.kernel_tables as k; k.PACKAGE = 'no_such_package_for_costcorrect';"
        "from costcorrect.cli import main; main()"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, "perf", "calibrate", "--from", "aiconfigurator"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "pip install" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_low_latency_70b_fp8_contract_is_feasible_on_b200():
    """Llama-3.x-70B FP8 on 8 × B200 at ≥ 75 tok/s per user (TPOT ≤ 13.3 ms): every shipped B200
    stack's batch-1 step is under it, and `serve cost` finds a goodput for a 13 ms p99 TPOT
    bound (the 2023 stacks called it impossible even at λ → 0)."""
    from costcorrect.serving.build import ServeSpec, build_architecture, build_stream
    from costcorrect.serving.contract import Contract
    from costcorrect.serving.cost import cost_per_token

    catalog = load_catalog()
    for stack in ("vllm-0.24.0", "sglang-0.5.14", "trtllm-1.3.0rc20"):
        dep = Deployment.from_names(
            "llama-3.1-70b", "B200", 8, stack=stack, catalog=catalog, weight_format="fp8"
        )
        assert float(dep.op_table.total_s(Batch.decode(1, 1024))) < 1 / 75, stack
    spec = ServeSpec("chunked", "llama-3.1-70b", "B200", 8, weight_format="fp8", kv_dtype="fp8")
    arch = build_architecture(spec, catalog)
    stream = build_stream(requests=2000, seed=0, catalog=catalog, isl_osl=(1024, 1024))
    good = cost_per_token(arch, Contract(2.0, 0.013), stream, engine="analytic")
    assert good.goodput_rps > 0


def test_fp8_iterations_pay_a_separate_quantisation_only_at_the_attention_output():
    """The FP8 GEMM tables time each call's input quantisation; in an iteration engines fuse it
    into the norm and activation kernels, so only o_proj pays it: once per layer."""
    catalog = load_catalog()
    base = select_calibration(catalog, catalog.hardware.get("H200"), "vllm-0.24.0").params
    steps = []
    for quant_s in (0.0, 1e-5):
        params = base.model_copy(update={"gemm_quant_s": quant_s})
        dep = Deployment.from_names(
            "llama-3.1-8b", "H200", params=params, catalog=catalog, weight_format="fp8"
        )
        steps.append(float(dep.op_table.total_s(Batch.decode(1, 1024))))
    layers = catalog.models.get("llama-3.1-8b").num_layers
    assert steps[1] - steps[0] == pytest.approx(layers * 1e-5, rel=1e-6)


def test_a_decode_kernel_past_its_group_limit_reads_the_cache_per_query_head():
    """Beyond ``attn_decode_max_group`` query heads per KV head on a GPU, the decode kernel
    reads each KV element once plus the re-read share of the group's other query heads; TP
    splitting the group below the limit brings the one-read kernel back."""
    catalog = load_catalog()
    mqa = catalog.models.get("llama-3.1-8b").model_copy(
        update={"num_attention_heads": 64, "num_key_value_heads": 1, "head_dim": 128}
    )
    hw = catalog.hardware.get("H200")
    limited = PerfParams(attn_decode_max_group=32, attn_decode_fallback_rereads=0.5)
    batch = Batch.decode(16, 4096)

    def kv_bytes(params: PerfParams, tp: int) -> float:
        table = Deployment(mqa, hw, tp, params=params).op_table
        return float(table.evaluate(batch).bytes["attn_decode"])

    one_read = kv_bytes(PerfParams(), 1)
    cache = 16 * 4096 * 2 * 128 * 2 * mqa.num_layers  # K and V, bf16, per layer
    assert kv_bytes(limited, 1) - one_read == pytest.approx(cache * 63 * 0.5)
    assert kv_bytes(limited, 2) == pytest.approx(kv_bytes(PerfParams(), 2))  # 32 per GPU


def test_the_tables_choose_a_group_limit_only_where_the_kernel_has_one():
    """TensorRT-LLM's generation table slows several-fold past 32 query heads per KV head; the
    fit finds that limit (and a re-read share), and keeps vLLM's kernel without one."""
    catalog = load_catalog()
    hw = catalog.hardware.get("H200")
    limits = {}
    for engine in ("trtllm", "vllm"):
        rows = read_kernel_tables(hw, engine, EXTRACT).rows
        params, _ = fit_stages(rows[rows["op"] == "attn_decode"], catalog)
        limits[engine] = (params.attn_decode_max_group, params.attn_decode_fallback_rereads)
    assert limits["trtllm"][0] == 32 and 0.0 < limits["trtllm"][1] <= 1.0
    assert limits["vllm"] == (0, 1.0)


def test_a_prefill_kernel_pays_per_query_row_and_head_and_decode_does_not():
    catalog = load_catalog()
    model = catalog.models.get("llama-3.1-8b")
    hw = catalog.hardware.get("H200")
    batch = Batch.prefill(1000, 2) + Batch.decode(8, 512)
    seconds = [
        Deployment(model, hw, params=PerfParams(attn_prefill_per_token_s=c))
        .op_table.evaluate(batch)
        .seconds
        for c in (0.0, 1e-9)
    ]
    heads, layers = model.num_attention_heads, model.num_layers
    extra = float(seconds[1]["attn_prefill"] - seconds[0]["attn_prefill"])
    assert extra == pytest.approx(layers * heads * 2000 * 1e-9)
    assert float(seconds[1]["attn_decode"]) == float(seconds[0]["attn_decode"])


def test_a_prefill_kernels_tail_costs_per_kv_token_of_the_mean_span_whatever_the_heads():
    """The last wave waits on the tile that attends to a sequence's whole span (context +
    chunk): the same seconds per span token at any head count, per layer, prefill only."""
    catalog = load_catalog()
    model = catalog.models.get("llama-3.1-8b")
    hw = catalog.hardware.get("H200")
    # two chunks: 1,000 new on 3,000 cached and 500 new on none — a mean span of 2,250
    batch = Batch.prefill(1000, 1, 3000) + Batch.prefill(500, 1) + Batch.decode(8, 512)
    extra = {}
    for tp in (1, 4):
        seconds = [
            Deployment(model, hw, tp=tp, params=PerfParams(attn_prefill_tail_s=c))
            .op_table.evaluate(batch)
            .seconds
            for c in (0.0, 1e-8)
        ]
        extra[tp] = float(seconds[1]["attn_prefill"] - seconds[0]["attn_prefill"])
        assert float(seconds[1]["attn_decode"]) == float(seconds[0]["attn_decode"])
    assert extra[1] == pytest.approx(model.num_layers * 2250 * 1e-8)
    assert extra[4] == pytest.approx(extra[1])


def test_a_one_shot_all_reduce_signals_each_peer():
    hw = load_catalog().hardware.get("H200")
    p = PerfParams(allreduce="custom", oneshot_latency_s=2e-6, oneshot_peer_latency_s=1e-7)
    small = allreduce_time(hw, p, np.array([2, 8]), 256.0)
    assert small[1] - small[0] == pytest.approx(6e-7, rel=0.02)


def test_an_all_reduce_slower_than_twice_a_larger_one_is_dropped():
    """A message can be padded to a larger one, so a kernel time above twice a larger message's
    on the same GPUs is a glitch of the measurement; slower-but-plausible rows stay."""
    sizes = np.array([256.0, 1024.0, 4096.0, 16384.0])
    rows = pd.DataFrame(
        {
            "op": "all_reduce",
            "gpus": [8.0] * 4 + [2.0] * 4,
            "size_bytes": np.tile(sizes, 2),
            "time_s": [4e-6, 38e-6, 3.5e-6, 3.7e-6, 3.0e-6, 4.5e-6, 2.5e-6, 2.6e-6],
        }
    )
    assert padding_bound_exceeded(rows).tolist() == [False, True] + [False] * 6


def test_each_format_pays_its_own_quantisation_call():
    """FP8 deployments pay ``gemm_quant_s`` per o_proj call, FP4 ones ``gemm_fp4_quant_s``."""
    catalog = load_catalog()
    model = catalog.models.get("llama-3.1-8b")
    hw = catalog.hardware.get("B200")
    params = PerfParams(gemm_quant_s=1e-5, gemm_fp4_quant_s=3e-6)
    quant = {}
    for fmt in ("fp8", "fp4"):
        steps = [
            float(
                Deployment(model, hw, params=p, weight_format=fmt).op_table.total_s(
                    Batch.decode(1, 512)
                )
            )
            for p in (PerfParams(), params)
        ]
        quant[fmt] = (steps[1] - steps[0]) / model.num_layers
    assert quant == pytest.approx({"fp8": 1e-5, "fp4": 3e-6}, rel=1e-6)


def test_a_decode_kernel_ramps_to_its_streaming_bandwidth():
    """The ramp costs in proportion to the KV bytes read up to ``attn_decode_ramp_bytes``, then
    ``attn_decode_ramp_s`` flat — per layer, and the same in the op table and the kernel model."""
    catalog = load_catalog()
    model = catalog.models.get("llama-3.1-8b")
    hw = catalog.hardware.get("H200")
    per_token = 2 * model.kv_heads * model.attn_head_dim * 2  # K and V bf16 bytes per layer
    ramp = PerfParams(attn_decode_ramp_s=1e-5, attn_decode_ramp_bytes=1e8)
    for kv_bytes, extra in ((5e7, 5e-6), (4e8, 1e-5)):
        batch = Batch.decode(16, kv_bytes / per_token / 16)
        seconds = [
            float(Deployment(model, hw, params=p).op_table.evaluate(batch).seconds["attn_decode"])
            for p in (PerfParams(), ramp)
        ]
        assert seconds[1] - seconds[0] == pytest.approx(model.num_layers * extra, rel=1e-9)
        kernel = [
            float(attention_time(Deployment(model, hw, params=p), "decode", batch)[()])
            for p in (PerfParams(), ramp)
        ]
        assert kernel[1] - kernel[0] == pytest.approx(extra, rel=1e-9)


def test_a_gemm_streaming_each_column_from_one_block_is_slower_with_few_columns():
    """``gemm_fp8_column_s`` adds that many seconds per byte of one output column's weights:
    1 / rate = 1 / (HBM · eff) + column_s / columns, with a GPU's columns those of its shard
    (column-parallel) or all of them (row-parallel), at any TP; 16-bit GEMMs are unaffected."""
    catalog = load_catalog()
    model = catalog.models.get("llama-3.1-8b")
    hw = catalog.hardware.get("H200")
    column_s = 4e-10
    slow = PerfParams(gemm_fp8_column_s=column_s)
    batch = Batch.decode(1, 512)  # memory-bound GEMMs
    layers = model.num_layers
    for tp in (1, 4):
        qkv, o = (lin for lin in model.linears() if lin.op in ("qkv", "o_proj"))
        assert (qkv.columns(tp), o.columns(tp)) == (qkv.out_features / tp, o.out_features)
        for fmt, extra in (("fp8", column_s), ("bf16", 0.0)):
            seconds = [
                Deployment(model, hw, tp, params=p, weight_format=fmt).op_table.evaluate(batch)
                for p in (PerfParams(), slow)
            ]
            for lin in (qkv, o):
                weights = lin.in_features * lin.out_features / tp * (1 if fmt == "fp8" else 2)
                added = seconds[1].seconds[lin.op] - seconds[0].seconds[lin.op]
                expected = layers * weights * extra / lin.columns(tp)
                assert float(added) == pytest.approx(expected, rel=0.02, abs=1e-12)


def test_a_serial_main_loop_costs_per_element_of_depth_and_an_epilogue_per_output():
    """``gemm_fp8_depth_s`` adds that many seconds per element of a call's depth — a GPU's
    shard of a row-parallel linear's input, all of a column-parallel one's — and
    ``gemm_fp8_epilogue_s`` per output element of the GPU's rows × columns; bf16 is untouched."""
    catalog = load_catalog()
    model = catalog.models.get("llama-3.1-8b")
    hw = catalog.hardware.get("H200")
    depth_s, epilogue_s = 2e-9, 3e-13
    slow = PerfParams(gemm_fp8_depth_s=depth_s, gemm_fp8_epilogue_s=epilogue_s)
    batch = Batch.decode(24, 512)
    for tp in (1, 4):
        qkv, o = (lin for lin in model.linears() if lin.op in ("qkv", "o_proj"))
        assert (qkv.depth(tp), o.depth(tp)) == (qkv.in_features, o.in_features / tp)
        for fmt, on in (("fp8", 1.0), ("bf16", 0.0)):
            seconds = [
                Deployment(model, hw, tp, params=p, weight_format=fmt).op_table.evaluate(batch)
                for p in (PerfParams(), slow)
            ]
            for lin in (qkv, o):
                added = seconds[1].seconds[lin.op] - seconds[0].seconds[lin.op]
                per_layer = depth_s * lin.depth(tp) + epilogue_s * 24 * lin.columns(tp)
                assert float(added) == pytest.approx(on * model.num_layers * per_layer, abs=1e-12)
    # routed experts write each token's output once per expert it is routed to
    moe = catalog.models.get("mixtral-8x7b")
    seconds = [
        Deployment(moe, hw, params=p, weight_format="fp8").op_table.evaluate(batch).seconds["moe"]
        for p in (PerfParams(), PerfParams(gemm_fp8_epilogue_s=epilogue_s))
    ]
    experts = [lin for lin in moe.linears() if lin.op == "moe"]
    outputs = sum(lin.layers * 24 * lin.active_experts * lin.columns(1) for lin in experts)
    assert float(seconds[1] - seconds[0]) == pytest.approx(epilogue_s * outputs)


def test_vllms_fp8_gemm_streams_columns_slower_than_tensorrt_llms():
    """vLLM's FP8 GEMM does not split its reduction for few rows; TensorRT-LLM's does: both
    tables earn the column cost, vLLM's several times TensorRT-LLM's."""
    catalog = load_catalog()
    hw = catalog.hardware.get("H200")
    column_s = {}
    for engine in ("vllm", "trtllm"):
        rows = read_kernel_tables(hw, engine, EXTRACT).rows
        params, _ = fit_stages(rows[rows["op"].isin(["gemm", "gemm_fp8"])], catalog)
        column_s[engine] = params.gemm_fp8_column_s
    assert column_s["vllm"] > 2.0 * column_s["trtllm"] > 0.0


def test_a_robust_fit_is_not_pulled_by_a_few_points_far_off_the_model(tables):
    """One GEMM row in ten three times slower than the model (a kernel switch) biases a
    least-squares fit of the others by several per cent; the engines' soft-L1 loss by well
    under one."""
    catalog = load_catalog()
    rows = tables.rows[tables.rows["op"] == "gemm"].reset_index(drop=True)
    truth = PerfParams(gemm_flops_eff=0.6, gemm_hbm_eff=0.7, kernel_launch_s=5e-6)
    exact = kernel_table_predictor(rows, catalog)(truth)
    outlier = np.arange(len(rows)) % 10 == 0
    rows = rows.assign(time_s=np.where(outlier, 3.0 * exact, exact))
    free = ("gemm_flops_eff", "gemm_hbm_eff", "kernel_launch_s")
    bias = {}
    for loss in ("linear", "soft_l1"):
        result = fit_to(kernel_table_predictor, rows, catalog, PerfParams(), free, loss)
        bias[loss] = float(np.median(np.abs(result.train_ratio[~outlier] - 1.0)))
    assert bias["linear"] > 0.05 and bias["soft_l1"] < 0.02


def test_a_gemm_kernel_pads_rows_to_a_power_of_two_then_to_its_tile():
    """Rows up to the tile round up to a power of two, beyond it to a multiple of the tile —
    the same in the numpy evaluator and the simulator's compiled loop; no tile, no padding."""
    from costcorrect.perf.roofline import padded_rows
    from costcorrect.serving.kernels import padded_rows as compiled_padded_rows

    rows = np.array([0.0, 1.0, 3.0, 100.0, 128.0, 129.0, 256.0, 257.0])
    expected = [0.0, 1.0, 4.0, 128.0, 128.0, 256.0, 256.0, 384.0]
    assert padded_rows(rows, 128).tolist() == expected
    assert [compiled_padded_rows(r, 128) for r in rows] == expected
    assert padded_rows(rows, 0).tolist() == rows.tolist()


def test_a_padding_kernel_costs_a_row_past_its_tile_like_the_whole_next_tile():
    """With a 256-row tile, 257 rows of an FP8 GEMM cost what 512 do (compute-bound), and
    rows within a tile cost what the tile does; a 16-bit deployment is unpadded."""
    catalog = load_catalog()
    lin = next(x for x in catalog.models.get("llama-3.1-8b").linears() if x.op == "ffn")
    hw = catalog.hardware.get("H200")
    tiled = PerfParams(gemm_fp8_row_tile=256)
    model = catalog.models.get("llama-3.1-8b")
    dep = Deployment(model, hw, params=tiled, weight_format="fp8")
    seconds = gemm_time(dep, lin, np.array([257.0, 512.0, 300.0]))
    assert seconds[0] == pytest.approx(seconds[1], rel=1e-12)
    assert seconds[2] == pytest.approx(seconds[1], rel=1e-12)
    plain = Deployment(model, hw, params=tiled)  # bf16: the FP8 tile does not apply
    unpadded = gemm_time(plain, lin, np.array([257.0, 512.0]))
    assert unpadded[0] < 0.6 * unpadded[1]
