"""Loaders of the released real-GPU measurements: row counts, units and caveats."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from costcorrect.validate.measurements import (
    OPS,
    STEP_COLUMNS,
    collective_measurements,
    default_shared_path,
    op_measurements,
    step_measurements,
)

try:
    SHARED = default_shared_path()
except FileNotFoundError as err:
    pytest.skip(f"shared measurement data absent: {err}", allow_module_level=True)


@pytest.fixture(scope="module")
def steps() -> pd.DataFrame:
    return step_measurements(SHARED)


@pytest.fixture(scope="module")
def ops() -> pd.DataFrame:
    return op_measurements(SHARED)


@pytest.fixture(scope="module")
def collectives() -> pd.DataFrame:
    return collective_measurements(SHARED)


def _one(frame: pd.DataFrame, **where: object) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for column, value in where.items():
        mask &= frame[column] == value
    assert mask.sum() == 1, where
    return frame[mask].iloc[0]


def test_default_shared_path_uses_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    monkeypatch.setenv("COSTCORRECT_SHARED", str(tmp_path))
    assert default_shared_path() == tmp_path


def test_default_shared_path_rejects_env_without_data(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("COSTCORRECT_SHARED", str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="COSTCORRECT_SHARED"):
        default_shared_path()


def test_step_columns_and_no_missing(steps: pd.DataFrame) -> None:
    assert list(steps.columns) == STEP_COLUMNS
    required = [c for c in STEP_COLUMNS if c != "repeat_cv"]
    assert not steps[required].isna().any().any()
    assert (steps["time_s"] > 0).all()
    assert (steps["pp"] == 1).all()
    assert set(steps["phase"]) == {"prefill", "decode"}
    assert (steps.loc[steps["phase"] == "prefill", "context_tokens"] == 0).all()


def test_step_row_counts(steps: pd.DataFrame) -> None:
    counts = steps.groupby(["dataset", "phase"]).size().to_dict()
    # Splitwise: 8 (model, GPU, TP) groups kept of 12, 19 distinct configurations each.
    assert counts[("splitwise", "prefill")] == counts[("splitwise", "decode")] == 8 * 19
    for dataset in ("distserve-engine", "distserve-vllm"):
        # Six budgeted (model, TP) grids: 152 + 162 + 172 + 113 + 146 + 153 = 898 points, the
        # same for both phases; OPT-66B TP 8 uses the fallback caps (129 prefill, 171 decode).
        assert counts[(dataset, "prefill")] == 898 + 129
        assert counts[(dataset, "decode")] == 898 + 171
    assert counts[("sarathi", "prefill")] == 7
    assert counts[("sarathi", "decode")] == 8


def test_splitwise_drops_power_capped_h100(steps: pd.DataFrame) -> None:
    splitwise = steps[steps["dataset"] == "splitwise"]
    assert set(splitwise["gpu"]) == {"A100-80GB-SXM", "H100-SXM"}
    groups = splitwise.groupby(["gpu", "model", "tp"]).size()
    assert len(groups) == 8  # bloom-176b TP 8 and llama-2-70b TP 2/4/8 on each GPU
    assert (groups == 2 * 19).all()
    assert splitwise["repeat_cv"].notna().all()


def test_splitwise_units(steps: pd.DataFrame) -> None:
    key = {"dataset": "splitwise", "gpu": "A100-80GB-SXM", "model": "llama-2-70b", "tp": 8}
    key |= {"batch_size": 1, "prompt_tokens": 512, "output_tokens": 128}
    prefill = _one(steps, phase="prefill", **key)
    assert 0.05 < prefill["time_s"] < 0.2
    decode = _one(steps, phase="decode", **key)
    assert 0.03 < decode["time_s"] < 0.06
    assert decode["context_tokens"] == pytest.approx(512 + 128 / 2)


def test_splitwise_notes(steps: pd.DataFrame) -> None:
    splitwise = steps[steps["dataset"] == "splitwise"]
    flagged = splitwise[splitwise["note"].str.contains("memory pressure")]
    assert set(flagged["model"]) == {"llama-2-70b"}
    assert set(flagged["tp"]) == {2}
    assert set(flagged["batch_size"]) == {32, 64}
    assert len(flagged) == 2 * 2 * 2  # 2 GPUs x 2 batch sizes x 2 phases
    decode = splitwise[splitwise["phase"] == "decode"]
    assert (decode["context_tokens"] >= decode["prompt_tokens"]).all()
    assert (decode["context_tokens"] <= decode["prompt_tokens"] + decode["output_tokens"] / 2).all()
    ended = decode[decode["note"].str.contains("ended early")]
    assert (ended["context_tokens"] < ended["prompt_tokens"] + 0.45 * ended["output_tokens"]).all()
    assert (ended["output_tokens"] >= 512).all()


def test_distserve_alignment_divided_out(steps: pd.DataFrame) -> None:
    key = {"model": "opt-13b", "tp": 1, "batch_size": 1, "prompt_tokens": 512}
    engine_prefill = _one(steps, dataset="distserve-engine", phase="prefill", **key)
    expected_ms = 18.10 + 0.1019 * 512 + 7.12e-6 * 512**2
    assert engine_prefill["time_s"] == pytest.approx(expected_ms / 1.1 * 1e-3, rel=1e-3)
    engine_decode = _one(steps, dataset="distserve-engine", phase="decode", **key)
    assert engine_decode["time_s"] == pytest.approx(20.3e-3, rel=0.01)
    assert engine_decode["context_tokens"] == 512 + 8
    distserve = steps[steps["dataset"].str.startswith("distserve")]
    assert (distserve["note"] == "derived from fitted coefficients").all()
    assert set(distserve["gpu"]) == {"A100-80GB-SXM"}


def test_sarathi_drops_warmup(steps: pd.DataFrame) -> None:
    sarathi = steps[steps["dataset"] == "sarathi"]
    assert set(sarathi[["gpu", "model"]].itertuples(index=False)) == {("A100-80GB-PCIe", "yi-34b")}
    assert 256 not in set(sarathi.loc[sarathi["phase"] == "prefill", "prompt_tokens"])
    prefill = _one(sarathi, phase="prefill", prompt_tokens=1024)
    assert prefill["time_s"] == pytest.approx(0.214, rel=0.01)
    decode = _one(sarathi, phase="decode", batch_size=1)
    assert decode["time_s"] == pytest.approx(46.8e-3, rel=0.01)


def test_op_measurements(ops: pd.DataFrame) -> None:
    assert list(ops.columns) == ["gpu", "model", "tp", "num_tokens", "op", "time_s"]
    assert not ops.isna().any().any()
    assert set(ops["op"]) == set(OPS)
    assert not ops.duplicated(["gpu", "model", "tp", "num_tokens", "op"]).any()
    sizes = ops.groupby(["gpu", "model"]).size().to_dict()
    for gpu in ("A100-80GB-SXM", "H100-SXM"):
        for model in ("llama-2-7b", "llama-2-70b"):
            assert sizes[(gpu, model)] == 259 * 4 * len(OPS)
    assert sizes[("A100-80GB-SXM", "llama-3-8b")] == 451 * 4 * len(OPS)
    assert len(sizes) == 5
    pre_proj = _one(
        ops, gpu="A100-80GB-SXM", model="llama-2-7b", tp=1, num_tokens=4096, op="attn_pre_proj"
    )
    assert pre_proj["time_s"] == pytest.approx(1.91e-3, rel=0.02)


def test_collective_measurements(collectives: pd.DataFrame) -> None:
    assert not collectives.isna().any().any()
    keys = ["node", "collective", "num_workers", "devices_per_node", "size_bytes"]
    assert not collectives.duplicated(keys).any()
    pairs = set(collectives[["node", "collective"]].itertuples(index=False))
    assert ("h100_pairwise_nvlink", "send_recv") not in pairs
    assert len(pairs) == 7
    # 993 distinct sizes per (workers, placement), 2247 on a100_pairwise_nvlink all-reduce.
    assert len(collectives) == 993 * (7 + 2 + 2 + 3 + 2 + 2) + 2247 * 2
    row = _one(
        collectives,
        node="a100_dgx",
        collective="all_reduce",
        num_workers=8,
        devices_per_node=8,
        size_bytes=64 * 2**20,
    )
    assert row["gpu"] == "A100-80GB-SXM"
    assert row["time_s"] == pytest.approx(0.675e-3, rel=0.01)
