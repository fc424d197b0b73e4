"""Energy per token: the power/DVFS model's published H200 behaviour, the levers, fitting,
attention architectures, validation on real measurements, and NVML measurement without a GPU."""

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from costcorrect.catalog import load_catalog
from costcorrect.cli.app import app
from costcorrect.energy.architectures import request_energy
from costcorrect.energy.fit import fit_power
from costcorrect.energy.iteration import capped_clock, iteration_energy
from costcorrect.energy.levers import energy_usd_per_million, lever_study
from costcorrect.energy.power import PowerModel
from costcorrect.errors import InputError
from costcorrect.perf import Batch, Deployment
from costcorrect.validate import energy as energy_report
from costcorrect.validate.measurements import default_shared_path

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.fixture(scope="module")
def h200():
    return Deployment.from_names("llama-3.1-8b", "H200")


def test_power_cap_never_binds_in_decode_up_to_batch_64(h200):
    power = PowerModel.for_hardware(h200.hardware)
    for batch in (1, 4, 16, 32, 64):
        assert capped_clock(h200, Batch.decode(batch, 1024), power, power.tdp_w) == 1.0
        assert float(iteration_energy(h200, Batch.decode(batch, 1024), power).power_w) < 700


def test_clock_lock_saves_decode_energy_at_small_throughput_loss(h200):
    study = lever_study(h200, "decode", (8, 16, 32, 64), 1024)
    for o in study.optima:
        assert 0.15 <= o.budget_saving <= 0.40, o
        assert o.budget_throughput_loss <= 0.05


def test_prefill_gains_little_from_clock_locking(h200):
    decode = lever_study(h200, "decode", (32,), 1024).optima[0]
    for o in lever_study(h200, "prefill", (1, 4), 2048).optima:
        assert o.budget_saving <= 0.03
        assert o.saving <= 0.08 < decode.saving
        assert o.throughput_loss > 0.2  # the energy optimum would cost much throughput


def test_lower_cap_binds_and_slows_prefill(h200):
    power = PowerModel.for_hardware(h200.hardware)
    batch = Batch.prefill(4096)
    default = iteration_energy(h200, batch, power)
    x = capped_clock(h200, batch, power, 0.6 * float(default.power_w))
    capped = iteration_energy(h200, batch, power, x)
    assert x < 1 and float(capped.power_w) <= 0.6 * float(default.power_w) + 1e-6
    assert float(capped.time_s) > float(default.time_s)


def test_decode_time_barely_moves_with_clock_while_prefill_scales(h200):
    power = PowerModel.for_hardware(h200.hardware)
    decode = iteration_energy(h200, Batch.decode(8, 1024), power, [1.0, 0.5])
    prefill = iteration_energy(h200, Batch.prefill(4096), power, [1.0, 0.5])
    assert decode.time_s[1] / decode.time_s[0] < 1.02
    assert prefill.time_s[1] / prefill.time_s[0] > 1.8


def test_fit_recovers_parameters_from_clean_points():
    hw = load_catalog().hardware.get("H100-SXM")
    prior = PowerModel.for_hardware(hw, prior=True)
    truth = PowerModel(
        **{
            **prior.__dict__,
            "memory_w": 180.0,
            "clock_w": 200.0,
            "compute_w": 300.0,
            "overhead_w": 90.0,
        }
    )
    rng = np.random.default_rng(0)
    shares = rng.uniform(0, 1, (4, 400))
    clocks = rng.uniform(0.3, 1.0, 400)
    watts = truth.power(clocks, *shares[[0, 1, 2]], shares[3])
    fit = fit_power(prior, shares[0], shares[1], shares[2], shares[3], watts, clocks)
    for name in ("memory_w", "clock_w", "compute_w", "overhead_w"):
        assert getattr(fit.model, name) == pytest.approx(getattr(truth, name), rel=0.02)
    with pytest.raises(InputError):
        fit_power(prior, [0.5], [0.1], [0.5], [0.1], [300.0])


def test_energy_prices_and_bad_input():
    assert energy_usd_per_million(3.6, 0.1, 1.0) == pytest.approx(0.1)  # 3.6 J × 1e6 = 1 kWh
    with pytest.raises(InputError):
        energy_usd_per_million(1.0, 0.1, 0.9)
    power = PowerModel.for_hardware(load_catalog().hardware.get("H200"))
    with pytest.raises(InputError) as err:
        power.check_clock(1.5)
    assert err.value.field == "clock"


def test_mla_and_ssm_repay_their_prefill_sooner_at_larger_batch():
    cat = load_catalog()
    r = request_energy(
        cat.models.get("llama-3.1-8b"), cat.hardware.get("H200"), batches=(1, 8, 128)
    )
    for name in ("MLA", "SSM"):
        crossover = r.crossover[name]
        assert np.all(np.diff(crossover) <= 0), (name, crossover)
        # beyond the crossover the variant is indeed no dearer than GQA
        longest = r.total_j(name)[-1] <= r.total_j("GQA")[-1] + 1e-9
        assert np.all(longest[crossover <= r.outputs[-1]])


def test_validation_meets_target():
    """Held-out J/token error ≤ 15 % (docs/energy.md shows it; tests/test_docs.py checks that
    the page is the generated one)."""
    result = energy_report.run(default_shared_path())
    assert result.mlenergy.ape.median() <= 0.15
    assert result.splitwise.ape.median() <= 0.15


def test_measure_without_a_gpu_says_so_and_exits_0(tmp_path):
    out = tmp_path / "energy.json"
    result = CliRunner().invoke(app, ["energy", "measure", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "no NVIDIA device found" in result.output
    assert not out.exists()


def test_energy_cli_model_levers_arch(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["energy", "model", "--batches", "1,64", "--json"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "levers.csv"
    result = runner.invoke(
        app, ["energy", "levers", "--batches", "8,64", "--out", str(out), "--json"]
    )
    assert result.exit_code == 0 and out.stat().st_size > 0, result.output
    result = runner.invoke(app, ["energy", "arch", "--batches", "1,32", "--json"])
    assert result.exit_code == 0, result.output
    bad = runner.invoke(app, ["energy", "levers", "--batches", "eight"])
    assert bad.exit_code == 2 and "batches" in bad.output and "Traceback" not in bad.output
    bad = runner.invoke(app, ["energy", "levers", "--phase", "idle"])
    assert bad.exit_code == 2 and "phase" in bad.output


def test_energy_enters_serving_and_cost_correct_ledgers(h200):
    from costcorrect.correct.ledger import OperatingPoint, Prices, cost_correct
    from costcorrect.energy.model import decode_energy_usd_per_million
    from costcorrect.serving.cost import Pricing

    tdp = Pricing(0.1, 1.2).energy_usd_per_s(h200, 1)
    modelled = Pricing(0.1, 1.2, watts_per_gpu=350.0).energy_usd_per_s(h200, 1)
    assert modelled == pytest.approx(tdp * 350 / 700)
    with pytest.raises(InputError):
        Pricing(0.1, 1.2, watts_per_gpu=-1.0)
    energy = decode_energy_usd_per_million(h200, 0.1, 1.2)
    assert energy > 0
    op = OperatingPoint(answer_tokens=300)
    base = cost_correct(Prices(1.0, 1.0), op).usd_per_million_answer_tokens
    with_energy = cost_correct(Prices(1.0, 1.0).plus_energy(energy), op)
    assert with_energy.usd_per_million_answer_tokens == pytest.approx(base + energy / 2)
