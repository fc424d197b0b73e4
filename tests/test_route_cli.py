"""`costcorrect route …` and `costcorrect allocate …` on real and synthetic files, bad input,
(tests/test_docs.py checks that docs/routing.md and docs/allocation.md are the generated ones)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from costcorrect.cli.app import app
from costcorrect.validate import routing as routing_report
from costcorrect.validate.measurements import default_shared_path

runner = CliRunner()
DOCS = Path(__file__).resolve().parents[1] / "docs"
SHARED = default_shared_path()


def invoke(*args):
    return runner.invoke(app, list(map(str, args)))


def one_line_error(result, field):
    assert result.exit_code == 2, result.output
    assert field in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def gsm8k_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("route") / "gsm8k.csv"
    routing_report.gsm8k_frame(SHARED).to_csv(path, index=False)
    return path


def test_premium_json_and_bad_kappa():
    data = json.loads(
        invoke("route", "premium", "--kappa", 0.5, "--delta", 0.3, "--gamma", 0.05, "--json").output
    )
    assert data["premium"] == pytest.approx(0.1) and data["pays"]
    one_line_error(
        invoke("route", "premium", "--kappa", 1.5, "--delta", 0.3, "--gamma", 0.0), "kappa"
    )
    one_line_error(
        invoke("route", "premium", "--kappa", 0.5, "--delta", 0.3, "--gamma", -0.1), "gamma"
    )


def test_patterns_table_and_custom_pattern():
    result = invoke("route", "patterns", "--json")
    assert result.exit_code == 0, result.output
    verdicts = {row["id"]: row["verdict"] for row in json.loads(result.output)}
    assert len(verdicts) == 6
    assert verdicts["leviathan2023"] == "not independently calibrated"  # c solved from 3.4×
    assert verdicts["frugalgpt2023"] == "confirms"
    custom = json.loads(
        invoke(
            "route",
            "patterns",
            "--pattern",
            "speculative_decoding",
            "--param",
            "acceptance=0.8",
            "--param",
            "draft_tokens=4",
            "--param",
            "cost_ratio=0.1",
            "--json",
        ).output
    )
    assert custom[0]["speedup"] == pytest.approx(2.4011, abs=1e-4)
    one_line_error(invoke("route", "patterns", "--pattern", "teleport"), "pattern")
    one_line_error(
        invoke(
            "route",
            "patterns",
            "--pattern",
            "early_exit",
            "--param",
            "layers=8",
            "--param",
            "mean_exit_layer=4",
            "--param",
            "overhead=-1",
        ),
        "overhead",
    )


def test_evaluate_real_gsm8k_outcomes(gsm8k_csv, tmp_path):
    out = tmp_path / "routers.csv"
    result = invoke(
        "route",
        "evaluate",
        gsm8k_csv,
        "--resamples",
        200,
        "--price-ratio",
        1.25,
        "--out",
        out,
        "--json",
    )
    assert result.exit_code == 0, result.output
    study = json.loads(result.output)
    list_price = [r for r in study["routers"] if r["pricing"] == "list prices"]
    assert {r["router"] for r in list_price} == {
        "logistic on prompt text",
        "cascade on self-verification",
    }
    # GPT-4 is dear enough that no per-query choice of it lowers cost per correct
    assert all(r["train"]["delta"] < 0.01 for r in list_price)
    cascade = next(r for r in list_price if r["router"].startswith("cascade"))
    assert cascade["test"]["premium"] < 0 and not cascade["predicted_pays"]
    assert len(pd.read_csv(out)) == 4


def test_evaluate_routes_among_three_models(tmp_path):
    """Three models of rising price; the prompt says which is needed: a learned router pays."""
    rng = np.random.default_rng(0)
    level = rng.integers(0, 3, 1200)
    words = np.array(["easy sum", "medium proof", "hard research"])
    frame = pd.DataFrame({"prompt": [f"{words[k]} question {i}" for i, k in enumerate(level)]})
    for m, (name, cost) in enumerate((("small", 1.0), ("mid", 3.0), ("large", 9.0))):
        frame[name] = (level <= m) & (rng.random(1200) < 0.95)
        frame[f"{name}_cost"] = cost
    path = tmp_path / "three.csv"
    frame.to_csv(path, index=False)
    result = invoke("route", "evaluate", path, "--resamples", 200, "--json")
    assert result.exit_code == 0, result.output
    router = json.loads(result.output)["routers"][0]
    assert router["train"]["delta"] > 0.2
    assert router["test"]["premium"] > 0.8 * router["test"]["delta"] and router["predicted_pays"]
    assert router["sign_check"] == "agrees"
    assert set(router["test"]["shares"]) == {"small", "mid", "large"}
    assert router["metrics"]["apgr"] is None and router["metrics"]["aiq"] > 0


def test_evaluate_bad_data(tmp_path):
    path = tmp_path / "bad.csv"
    pd.DataFrame({"prompt": ["a", "b"], "small": [1, 0]}).to_csv(path, index=False)
    one_line_error(invoke("route", "evaluate", path), "columns")
    one_line_error(invoke("route", "evaluate", tmp_path / "missing.csv"), "file")
    pd.DataFrame({"prompt": ["a"], "x": [1], "x_cost": [-1.0], "y": [0], "y_cost": [2.0]}).to_csv(
        path, index=False
    )
    one_line_error(invoke("route", "evaluate", path), "x_cost")


def test_allocate_threshold_and_fit(tmp_path):
    data = json.loads(
        invoke(
            "allocate",
            "threshold",
            "--eta-rollouts",
            1.3,
            "--eta-training",
            0.4,
            "--inference-spend",
            "$2M",
            "--training-spend",
            "$10M",
            "--cost-per-generation",
            "$0.002",
            "--generations",
            4,
            "--json",
        ).output
    )
    assert data["channel"] == "inference"
    assert data["break_even_queries"] == pytest.approx(1e7 * 0.3 / (0.4 * 0.002 * 4))
    points = tmp_path / "points.csv"
    n = np.array([1, 2, 4, 8, 16, 32])
    pd.DataFrame({"compute": n, "accuracy": np.exp(-1.5 * n**-0.3)}).to_csv(points, index=False)
    fit = json.loads(invoke("allocate", "fit", points, "--json").output)
    assert fit["parameters"]["A"] == pytest.approx(1.5, rel=1e-4)
    pd.DataFrame({"compute": [1, 2, 4], "accuracy": [0.5, 0.4, 0.6]}).to_csv(points, index=False)
    one_line_error(invoke("allocate", "fit", points), "accuracy")
    one_line_error(
        invoke(
            "allocate",
            "threshold",
            "--eta-rollouts",
            1.2,
            "--eta-training",
            0.3,
            "--inference-spend",
            "lots",
            "--training-spend",
            "$1M",
        ),
        "inference_spend",
    )
