"""`costcorrect verify calibrate|compose` on files, real GSM8K outcomes, and bad data."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from costcorrect.cli.app import app
from costcorrect.validate.measurements import default_shared_path

runner = CliRunner()


@pytest.fixture(scope="module")
def gsm8k(tmp_path_factory):
    """Per-question correctness of Mixtral and GPT-4 on GSM8K (RouteLLM's released outcomes)."""
    raw = pd.read_csv(default_shared_path() / "data" / "routellm" / "gsm8k" / "gsm8k_responses.csv")
    frame = pd.DataFrame(
        {
            "mixtral": raw["mistralai/Mixtral-8x7B-Instruct-v0.1"],
            "gpt4": raw["gpt-4-1106-preview"],
        }
    )
    path = tmp_path_factory.mktemp("gsm8k") / "gsm8k.csv"
    frame.to_csv(path, index=False)
    return path, frame.to_numpy().astype(int)


def test_compose_real_outcomes_error_is_their_covariance(gsm8k):
    path, a = gsm8k
    result = runner.invoke(
        app, ["verify", "compose", str(path), "--verifiers", "mixtral,gpt4", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    cov = np.mean(a[:, 0] * a[:, 1]) - a[:, 0].mean() * a[:, 1].mean()
    assert data["error"] == pytest.approx(cov, abs=1e-12)
    assert data["accept_rate"]["value"] == pytest.approx(np.mean(a[:, 0] & a[:, 1]), abs=1e-12)
    assert data["instances"] == 1319


def test_calibrate_file(tmp_path):
    rng = np.random.default_rng(0)
    p = rng.random(5000)
    frame = pd.DataFrame({"score": p, "is_correct": rng.random(5000) < p})
    path = tmp_path / "reports.jsonl"
    frame.to_json(path, orient="records", lines=True)
    result = runner.invoke(app, ["verify", "calibrate", str(path), "--resamples", "100", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["ece"]["value"] < 0.05 and data["n"] == 5000


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ("score,label\n0.5,1\n", "column"),
        ("score,is_correct\n1.5,1\n", "score"),
        ("score,is_correct\n", "file"),
        ("score,is_correct\n0.5,2\n", "is_correct"),
    ],
)
def test_bad_data_files_are_one_line_errors(tmp_path, content, field):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    result = runner.invoke(app, ["verify", "calibrate", str(path)])
    assert result.exit_code == 2
    assert field in result.output and len(result.output.strip().splitlines()) == 1


def test_audit_record_and_summary(gsm8k, tmp_path):
    """The record carries the joint table and the covariance term, hashes the data file, and
    writes nothing on bad input."""
    path, a = gsm8k
    out, page = tmp_path / "audit.json", tmp_path / "audit.md"
    args = ["verify", "audit", str(path), "--verifiers", "mixtral,gpt4", "--cpm", "10"]
    result = runner.invoke(app, [*args, "--out", str(out), "--summary", str(page), "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())
    assert json.loads(result.stdout) == record  # --json prints the record beside --out
    assert record["schema"] == "costcorrect.verify.audit/1" and record["dataset"]["rows"] == 1319
    assert sum(cell["probability"] for cell in record["joint_table"]) == pytest.approx(1.0)
    cov = np.mean(a[:, 0] * a[:, 1]) - a[:, 0].mean() * a[:, 1].mean()
    assert record["interaction_terms"]["mixtral×gpt4"] == pytest.approx(cov, abs=1e-12)
    cc = record["cost_correct"]["usd_per_million_answer_tokens"]
    assert cc["low"] <= cc["value"] <= cc["high"]
    assert "covariance" in page.read_text()
    bad = runner.invoke(app, [*args, "--rule", "xor", "--out", str(tmp_path / "x.json")])
    assert bad.exit_code == 2 and not (tmp_path / "x.json").exists()


def test_verification_doc_is_generated_and_the_identity_holds_on_real_data():

    from costcorrect.validate.verification import load_study
    from costcorrect.verify import composition as comp

    study = load_study(default_shared_path())
    d = study.decisions
    cov = np.mean(d[:, 0] * d[:, 1]) - d[:, 0].mean() * d[:, 1].mean()
    assert comp.composition_error(comp.Rule.all_of(2), comp.joint_table(d)) == pytest.approx(
        cov, abs=1e-15
    )
