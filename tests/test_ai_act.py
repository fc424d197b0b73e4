"""The audit record against the EU AI Act's accuracy documentation: every field mapped, and why
per-component records fall short, computed on the real GSM8K verifiers."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from costcorrect.cli.app import app
from costcorrect.validate.measurements import default_shared_path
from costcorrect.validate.verification import component_prediction, load_study
from costcorrect.verify.audit import AI_ACT_MAPPING


@pytest.fixture(scope="module")
def study():
    return load_study(default_shared_path())


def test_components_miss_by_the_joint_terms_exactly(study):
    """The product of accept rates misses the AND pipeline by the covariance; independence
    given correctness misses it by π·Cov(· | correct) + (1 − π)·Cov(· | wrong) — terms no
    single component's record holds."""
    c = component_prediction(study)
    d, y = study.decisions.astype(float), study.correct.astype(bool)
    cov = np.mean(d[:, 0] * d[:, 1]) - d[:, 0].mean() * d[:, 1].mean()
    assert c["accept_rate_measured"] - c["accept_rate_components"] == pytest.approx(cov)
    prior = y.mean()
    conditional = prior * c["covariance_given_correct"] + (1 - prior) * c["covariance_given_wrong"]
    gap = c["accept_rate_measured"] - c["accept_rate_components_given_correctness"]
    assert gap == pytest.approx(conditional, abs=1e-12)
    assert abs(cov) > 0.02  # the plain product is visibly wrong on this data


def test_every_audit_field_is_mapped(tmp_path, study):
    frame_path = tmp_path / "v.csv"
    header = "agree,format\n" + "\n".join(f"{a},{b}" for a, b in study.decisions.astype(int))
    frame_path.write_text(header + "\n")
    result = CliRunner().invoke(
        app, ["verify", "audit", str(frame_path), "--verifiers", "agree,format", "--cpm", "1",
              "--out", str(tmp_path / "a.json")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "a.json").read_text())
    mapped = " ".join(field for field, _, _ in AI_ACT_MAPPING)
    for key in record:
        if key != "schema":
            assert key in mapped, key
