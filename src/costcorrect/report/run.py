"""Run a scenario through the public library functions: the serving plan (analytic screen,
simulator confirmation), the contract frontier and the disaggregation break-even around it, the
Cost-correct ledger at the winner's cost per token plus modelled energy, the energy levers of
the winner's GPU, and — when the scenario asks — the verifier audit, routing premium,
allocation threshold and measured-vs-predicted runs; with the provenance of every number."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from costcorrect.allocate.threshold import AllocationDecision, allocation_threshold
from costcorrect.catalog import Catalog, load_catalog
from costcorrect.catalog.power import power_gpus
from costcorrect.catalog.quantization import AccuracyEntry, published_accuracy
from costcorrect.catalog.validation import HeldOutError, load_validation
from costcorrect.correct.ledger import CostCorrect, OperatingPoint, Prices, cost_correct
from costcorrect.correct.quantization import quantized_accept_rate
from costcorrect.energy.levers import LeverStudy, lever_study
from costcorrect.energy.model import decode_energy_usd_per_million
from costcorrect.errors import InputError
from costcorrect.measure.calibrate import RunStats, ServingFit, predict_run
from costcorrect.measure.records import read_records
from costcorrect.perf import Deployment
from costcorrect.report.scenario import MeasurementSpec, Scenario, VerificationSpec
from costcorrect.route.patterns import PatternPoint, published_systems
from costcorrect.route.premium import PremiumModel, premium_model
from costcorrect.search.breakeven import BreakEven, break_even
from costcorrect.search.frontier import Frontier, contract_frontier
from costcorrect.search.plan import Plan, plan
from costcorrect.serving.contract import Contract
from costcorrect.units import format_quantity, parse_quantity
from costcorrect.verify.audit import audit
from costcorrect.verify.calibration import Reliability, ece, reliability
from costcorrect.verify.data import binary, probability, read_table
from costcorrect.workload import synthetic_stream

#: the contract grid of the frontier: the scenario's bounds × these factors
TTFT_FACTORS = np.geomspace(1 / 8, 8, 13)
TPOT_FACTORS = np.geomspace(1 / 4, 4, 13)
#: the break-even grid: input/output token ratio × demand (req/s)
IO_RATIOS = np.geomspace(0.25, 64, 16)
RATES_RPS = np.geomspace(0.5, 200, 16)


@dataclass(frozen=True)
class VerificationAudit:
    """The ``costcorrect.verify.audit/1`` record of the scenario's verifiers and, with a
    confidence column, its reliability diagram and expected calibration error."""

    record: dict
    reliability: Reliability | None = None
    ece: float | None = None


@dataclass(frozen=True)
class MeasuredRun:
    """One measured run beside the fitted model's replay of it; ``held_out``: the fit did not
    see it."""

    label: str
    held_out: bool
    measured: RunStats
    predicted: RunStats


@dataclass(frozen=True)
class ScenarioResult:
    """Every number the report shows (SI units; $ per million tokens where named)."""

    scenario: Scenario
    contract: Contract
    plan: Plan
    frontier: Frontier
    break_even: BreakEven
    io_ratio: float  # the workload's mean input ÷ mean output tokens
    ledger: CostCorrect | None
    quantization: AccuracyEntry | None  # the winner's format's published accuracy, if any
    energy_gpu: str  # the GPU whose power the energy figures model
    energy_usd_per_m: float | None  # None: that GPU has no power parameters
    levers: LeverStudy | None
    routing: PremiumModel | None
    systems: list[tuple[str, PatternPoint, bool]]  # id, point, independently calibrated
    allocation: AllocationDecision | None
    verification: VerificationAudit | None
    measured: list[MeasuredRun]
    provenance: list[tuple[str, str, str, str]]
    version: str
    validation: dict[str, HeldOutError]

    def to_dict(self) -> dict:
        """The report's headline numbers: the plan, the ledger, energy and the version."""
        return {
            "scenario": self.scenario.title,
            "model": self.scenario.model,
            "gpus": list(self.scenario.gpus),
            "plan": self.plan.to_dict(),
            "cost_correct": self.ledger.to_dict() if self.ledger else None,
            "quantization": (
                self.quantization.model_dump(mode="json") if self.quantization else None
            ),
            "energy_usd_per_million": self.energy_usd_per_m,
            "version": self.version,
        }

    def energy_phrase(self, digits: int = 3) -> str:
        """'energy $x per M tokens', or why energy is not counted."""
        if self.energy_usd_per_m is None:
            return f"energy not modelled ({self.energy_gpu} has no power parameters)"
        return f"energy ${self.energy_usd_per_m:.{digits}f} per M tokens"

    def validation_note(self, key: str) -> str:
        """The held-out error of model ``key`` (perf, analytic, energy), as a sentence."""
        entry = self.validation.get(key)
        return entry.sentence() if entry is not None else "Not validated."


def _provenance(scenario: Scenario, catalog) -> list[tuple[str, str, str, str]]:
    """(what, value, source, date) of the catalog numbers the report uses."""
    rows = []
    model = catalog.models.get(scenario.model)
    rows.append((f"model {model.name}", "config", model.source, str(model.date)))
    for name in scenario.gpus:
        hw = catalog.hardware.get(name)
        for label, item, kind in (
            ("price", hw.price_usd_per_s, "usd_rate"),
            ("HBM bandwidth", hw.hbm_bytes_per_s, "bandwidth"),
            ("memory", hw.memory_bytes, "bytes"),
            ("TDP", hw.tdp_w, "power"),
            ("idle power", hw.idle_power_w, "power"),
            ("bf16 peak", hw.flops_per_s["bf16"], "flop_rate"),
        ):
            value = format_quantity(item.value, kind)
            rows.append((f"{hw.name} {label}", value, item.source, str(item.date)))
    workload = catalog.workloads.get(scenario.workload)
    rows.append((f"workload {workload.name}", "lengths", workload.source, str(workload.date)))
    files = [("routing data", scenario.routing_data)]
    if scenario.verification is not None:
        files.append(("verifier decisions", scenario.verification.data))
    if scenario.measurements is not None:
        files.append(("serving fit", scenario.measurements.fit))
        files += [("measured run", run) for run in scenario.measurements.runs]
    for label, path in files:
        if path is not None:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
            rows.append((label, str(path), f"sha256 {digest}", ""))
    return rows


def _io_ratio(scenario: Scenario, catalog: Catalog) -> float:
    stream = synthetic_stream(
        scenario.workload, 1.0, scenario.requests, scenario.seed, catalog=catalog
    )
    return float(stream.mean_input_tokens / stream.mean_output_tokens)


def verification_audit(spec: VerificationSpec, cpm_usd_per_m: float | None):
    """The audit of the scenario's verifier table at ``cpm_usd_per_m`` ($ per M tokens)."""
    record = audit(spec.data, tuple(spec.verifiers), spec.rule, cpm_usd_per_m, spec.outcome)
    if spec.confidence is None or spec.outcome is None:
        return VerificationAudit(record)
    frame = read_table(spec.data)
    p, y = probability(frame, spec.confidence), binary(frame, spec.outcome)
    return VerificationAudit(record, reliability(p, y), ece(p, y))


def measured_vs_predicted(spec: MeasurementSpec, catalog: Catalog) -> list[MeasuredRun]:
    """The fit's training runs (measured vs fitted) and each held-out run replayed through the
    fitted simulator."""
    fit = ServingFit.read(spec.fit, "measurements.fit")
    model, hardware = catalog.models.get(fit.model), catalog.hardware.get(fit.hardware)
    runs = [MeasuredRun(f"fit run {k + 1}", False, m, p) for k, (m, p) in enumerate(fit.train)]
    for path in spec.runs:
        measured, predicted = predict_run(fit, model, hardware, read_records(path))
        runs.append(MeasuredRun(Path(path).name, True, measured, predicted))
    return runs


def _smallest_fitting(model: str, gpu: str, catalog) -> Deployment:
    """The deployment of ``model`` on the fewest ``gpu``s (tensor parallel) that holds it."""
    for tp in (1, 2, 4, 8):
        try:
            dep = Deployment.from_names(model, gpu, tp, catalog=catalog)
            dep.check_fits()
            return dep
        except InputError:
            continue
    raise InputError("model", model, f"a model that fits on 8 {gpu}")


def run_scenario(
    scenario: Scenario, catalog: Catalog | None = None, progress=None
) -> ScenarioResult:
    """Everything the report shows, computed by the library (``progress``: called with a line
    per stage)."""
    from costcorrect import __version__

    say = progress or (lambda _msg: None)
    catalog = catalog or load_catalog()
    c = scenario.contract
    contract = Contract(parse_quantity(c.ttft, "time"), parse_quantity(c.tpot, "time"), c.quantile)
    space = scenario.search_space()
    say("serving plan: screening and confirming configurations")
    best = plan(
        scenario.model,
        tuple(scenario.gpus),
        scenario.workload,
        contract,
        scenario.demand_rps,
        space,
        requests=scenario.requests,
        seed=scenario.seed,
        catalog=catalog,
        report=say,
    )
    say("frontier: every configuration over a grid of contracts")
    frontier = contract_frontier(
        scenario.model,
        tuple(scenario.gpus),
        scenario.workload,
        contract.ttft_s * TTFT_FACTORS,
        contract.tpot_s * TPOT_FACTORS,
        contract.quantile,
        scenario.demand_rps,
        space,
        requests=scenario.requests,
        seed=scenario.seed,
        catalog=catalog,
    )
    ledger, energy, levers, quantization = None, None, None, None
    winner = best.winner
    gpu = scenario.gpus[0]
    if winner is not None:
        gpu = winner.decode_gpu
        dep = Deployment.from_names(
            scenario.model,
            gpu,
            winner.decode_tp,
            winner.decode_pp,
            stack=scenario.stack,
            catalog=catalog,
            weight_format=winner.weight_format,
            kv_dtype=winner.kv_dtype,
        )
        if gpu in power_gpus():  # else the report says energy is not modelled for it
            say("energy: modelled decode power and the two levers")
            energy = decode_energy_usd_per_million(
                dep, scenario.energy.usd_per_kwh, scenario.energy.pue
            )
            levers = lever_study(
                dep,
                "decode",
                (8, 32, 64, 128),
                1024,
                usd_per_kwh=scenario.energy.usd_per_kwh,
                pue=scenario.energy.pue,
            )
        a = scenario.answer
        cpm = winner.usd_per_million + (energy or 0.0)
        quantization = published_accuracy(scenario.model, winner.weight_format)
        ledger = cost_correct(
            Prices(cpm, cpm),
            OperatingPoint(
                a.answer_tokens,
                0.0,
                0.0,
                a.reasoning_multiplier,
                a.extra_rollouts,
                quantized_accept_rate(a.accept_rate, quantization),
            ),
        )
    say(f"break-even: disaggregated vs colocated on {gpu}")
    crossing = break_even(
        gpu,
        scenario.model,
        scenario.workload,
        "rate",
        IO_RATIOS,
        RATES_RPS,
        contract,
        requests=scenario.requests,
        seed=scenario.seed,
        stack=scenario.stack,
        catalog=catalog,
    )
    verification = None
    if scenario.verification is not None:
        say("verification: auditing the composed verifiers")
        cpm = ledger.cpm_usd_per_m if ledger is not None else None
        verification = verification_audit(scenario.verification, cpm)
    measured = []
    if scenario.measurements is not None:
        say("measurements: replaying the measured runs through the fitted simulator")
        measured = measured_vs_predicted(scenario.measurements, catalog)
    routing = None
    if scenario.routing is not None:
        r = scenario.routing
        routing = premium_model(r.kappa, r.delta, r.gamma)
    allocation = None
    if scenario.allocation is not None:
        al = scenario.allocation
        allocation = allocation_threshold(
            al.eta_rollouts,
            al.eta_training,
            parse_quantity(al.inference_spend, "usd", "allocation.inference_spend"),
            parse_quantity(al.training_spend, "usd", "allocation.training_spend"),
        )
    systems = [(s.id, p, s.independently_calibrated) for s, p in published_systems()]
    return ScenarioResult(
        scenario=scenario,
        contract=contract,
        plan=best,
        frontier=frontier,
        break_even=crossing,
        io_ratio=_io_ratio(scenario, catalog),
        ledger=ledger,
        quantization=quantization,
        energy_gpu=gpu,
        energy_usd_per_m=energy,
        levers=levers,
        routing=routing,
        systems=systems,
        allocation=allocation,
        verification=verification,
        measured=measured,
        provenance=_provenance(scenario, catalog),
        version=__version__,
        validation=load_validation(),
    )
