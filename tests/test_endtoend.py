"""Published end-to-end results: each point is one `serve cost --offline` command."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from costcorrect.catalog import load_catalog
from costcorrect.perf import Deployment
from costcorrect.validate.endtoend import BASE_REQUESTS, KV_DTYPE, load_points, pose


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_every_point_names_a_source_and_a_unit():
    data = load_points()
    assert len(data["points"]) >= 10
    for p in data["points"]:
        assert p["source"] in data["sources"] and p["unit"] in ("total", "per_gpu"), p["id"]
        assert p["measured"] > 0


def test_a_point_is_the_command_a_user_would_type(catalog):
    """The library's pose equals `costcorrect serve cost --offline` with the point's setup."""
    point = next(p for p in load_points()["points"] if p["id"] == "trtllm-v1-h100-tp1-fp8-8b-1k1k")
    row = pose(point, catalog)
    args = [
        "serve", "cost", "--offline", "--model", point["model"], "--gpu", point["gpu"],
        "--tp", str(point["tp"]), "--weight-format", point["weight_format"],
        "--kv-dtype", KV_DTYPE, "--stack", row["stack"], "--max-seqs", str(row["max_seqs"]),
        "--isl", str(point["isl"]), "--osl", str(point["osl"]),
        "--requests", str(BASE_REQUESTS), "--json",
    ]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "costcorrect", *args], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["contract"].startswith("offline")
    assert answer["token_goodput_per_s"] == pytest.approx(row["predicted"], rel=1e-9)
    # TensorRT-LLM's no-evict admission: as many sequences as whole requests' KV fit
    dep = Deployment.from_names(
        point["model"], point["gpu"], point["tp"], stack=row["stack"], catalog=catalog,
        weight_format=point["weight_format"], kv_dtype=KV_DTYPE,
    )  # fmt: skip
    assert row["max_seqs"] == dep.kv_capacity_tokens // (point["isl"] + point["osl"])


def test_isl_without_osl_is_one_line_and_exit_2():
    done = subprocess.run(
        [sys.executable, "-m", "costcorrect", "serve", "cost", "--isl", "1000"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "osl" in done.stderr


def test_vllm_small_batch_latency_is_its_kernels_on_hopper(catalog):
    """ML.ENERGY v3's measured vLLM inter-token latency at batches ≤ 32 against the default
    kernel-only stack: on H100 within 10 % at every point (no per-iteration engine cost to
    add), while B200's gap grows with the batch (docs/validation.md)."""
    from costcorrect.validate.measurements import default_shared_path
    from costcorrect.validate.vllm_itl import rows

    frame = rows(default_shared_path(), catalog)
    hopper = frame[frame["gpu"] == "H100-SXM"]
    assert len(hopper) >= 10 and hopper["error"].abs().max() < 0.10
    b200_8b = frame[(frame["gpu"] == "B200") & (frame["model"] == "llama-3.1-8b")]
    assert (b200_8b.sort_values("batch")["error"].diff().dropna() < 0).all()


def test_a_low_latency_70b_fp8_point_is_feasible_and_close(catalog):
    """InferenceX's measured Llama-3.3-70B FP8 run on 8 × B200 (TensorRT-LLM, 64 users,
    1k/1k: 101.7 tok/s per user, 776 tok/s per GPU) posed as a closed loop: the predicted
    per-user speed is above 75 tok/s and the throughput within the 35 % worst-case target."""
    point = next(
        p for p in load_points()["points"] if p["id"] == "ix-70b-1k1k-b200-trt-fp8-tp8-c64"
    )
    assert point["per_user"] >= 75 and point["weight_format"] == "fp8"
    row = pose(point, catalog)
    assert row["per_user_predicted"] >= 75
    assert abs(row["ratio"] - 1) <= 0.35
    assert row["stack"].startswith("trtllm-")
    vllm = next(p for p in load_points()["points"] if p.get("engine") == "vllm")
    assert pose(vllm, catalog)["stack"].startswith("vllm-")
