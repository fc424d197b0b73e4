"""Serving slack: harvestable GPU-hours against a per-GPU count, the marginal-of-idle
price, Cost' and the threshold shift, trace input and the CLI."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from costcorrect.cli.app import app
from costcorrect.errors import InputError
from costcorrect.slack.price import (
    cost_with_slack,
    inference_bar,
    marginal_of_idle,
    training_bar,
)
from costcorrect.slack.trace import LoadTrace, diurnal_trace, harvestable, read_trace
from costcorrect.validate.energy import per_gpu_hours


def _percent_trace(seed: int) -> LoadTrace:
    """Whole-percent utilisation (as read from a monitoring export): many samples sit exactly
    on a GPU boundary, where the rounding convention decides."""
    return LoadTrace(60, np.random.default_rng(seed).integers(0, 101, 4000) / 100)


@pytest.mark.parametrize(
    ("trace", "fleet", "margin"),
    [
        (diurnal_trace(days=3, step_s=60, peak=0.95, seed=0), 64, 0.2),
        (diurnal_trace(days=3, step_s=60, peak=0.95, seed=1), 8, 0.05),
        (diurnal_trace(days=3, step_s=60, peak=0.95, seed=2), 100, 0.5),
        (_percent_trace(3), 20, 0.25),
    ],
)
def test_harvest_matches_per_gpu_accounting(trace, fleet, margin):
    """Free GPU-steps summed step by step (the library) equal the same GPU-steps summed GPU by
    GPU from the sorted utilisation (``per_gpu_hours``, which rounds no GPU count) — exactly,
    as both count whole GPU-steps. Formulas that round the GPUs down or to nearest, drop the
    headroom or let serving exceed the fleet each miss the count by at least one GPU-step."""
    check = per_gpu_hours(trace, fleet, margin)
    assert harvestable(trace, fleet, margin).gpu_hours == check
    load = trace.utilisation * fleet
    wrong = {
        "floor": np.minimum(fleet, np.floor(load * (1 + margin))),
        "nearest": np.minimum(fleet, np.round(load * (1 + margin))),
        "no headroom": np.ceil(load),
        "uncapped": np.ceil(load * (1 + margin) - 1e-9),
    }
    step_hours = trace.step_s / 3600
    for name, serving in wrong.items():
        hours = float(np.sum(fleet - serving)) * step_hours
        assert abs(hours - check) >= step_hours, name


def test_diurnal_trace_is_seeded_and_diurnal():
    a, b = diurnal_trace(seed=3), diurnal_trace(seed=3)
    assert np.array_equal(a.utilisation, b.utilisation)
    assert not np.array_equal(a.utilisation, diurnal_trace(seed=4).utilisation)
    hourly = a.utilisation[:288].reshape(24, 12).mean(axis=1)
    assert hourly.argmax() in range(12, 17) and hourly.argmin() in (0, 1, 2, 3, 23)


def test_marginal_of_idle_parts_and_cost_prime():
    p = marginal_of_idle(
        3.0,
        400,
        100,
        usd_per_kwh=0.1,
        pue=1.0,
        weights_bytes=0,
        syncs_per_hour=0,
        wear_share=0.0,
        preempted_share=0.0,
    )
    assert p.energy_usd_per_h == pytest.approx(0.3 * 0.1)  # 300 W for an hour = 0.3 kWh
    assert p.m == pytest.approx(0.03 / 3.0)
    assert cost_with_slack(2.0, 1.5, 15, 0.5, 1.0) == pytest.approx(2.0 * 1.5 * 16 / 0.5)
    assert cost_with_slack(2.0, 1.5, 15, 0.5, 0.1) == pytest.approx(2.0 * 1.5 * 2.5 / 0.5)


def test_threshold_shift_directions():
    m = np.array([0.1, 0.5, 1.0])
    assert np.all(np.diff(inference_bar(1.2, 0.5, 15, m)) < 0)  # cheaper rollouts: higher bar
    assert np.all(np.diff(training_bar(1.2, 0.5, 0.5, m)) > 0)
    assert training_bar(1.2, 0.5, 0.5, 1.0) == pytest.approx(0.4)


def test_read_trace_and_bad_input(tmp_path):
    path = tmp_path / "load.csv"
    pd.DataFrame({"time_s": [0, 60, 120], "utilisation": [50, 70, 90]}).to_csv(path, index=False)
    trace = read_trace(path)
    assert trace.step_s == 60 and trace.utilisation.tolist() == [0.5, 0.7, 0.9]
    with pytest.raises(InputError):
        LoadTrace(60, np.array([0.2, 1.4]))
    with pytest.raises(InputError):
        harvestable(trace, 0)
    pd.DataFrame({"time_s": [0, 60, 200], "utilisation": [0.1, 0.2, 0.3]}).to_csv(path, index=False)
    with pytest.raises(InputError) as err:
        read_trace(path)
    assert err.value.field == "time_s"


def test_slack_cli(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["slack", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert 0 < data["price"]["m"] < 1 and data["harvestable_gpu_hours"] > 0
    assert data["cost_slack_usd_per_m"] < data["cost_dedicated_usd_per_m"]
    bad = runner.invoke(app, ["slack", "--fleet", "0"])
    assert bad.exit_code == 2 and "fleet" in bad.output and "Traceback" not in bad.output
