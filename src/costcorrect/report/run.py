"""Run a scenario through the public library functions: the serving plan (analytic screen,
simulator confirmation), the Cost-correct ledger at the winner's cost per token plus modelled
energy, the energy levers of the winner's GPU, the routing premium and allocation threshold
when asked, and the catalog provenance of every number used."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from costcorrect.allocate.threshold import AllocationDecision, allocation_threshold
from costcorrect.catalog import load_catalog
from costcorrect.correct.ledger import CostCorrect, OperatingPoint, Prices, cost_correct
from costcorrect.energy.levers import LeverStudy, lever_study
from costcorrect.energy.model import decode_energy_usd_per_million
from costcorrect.perf import Deployment
from costcorrect.report.scenario import Scenario
from costcorrect.route.patterns import PatternPoint, published_systems
from costcorrect.route.premium import PremiumModel, premium_model
from costcorrect.search.plan import Plan, plan
from costcorrect.search.space import SearchSpace
from costcorrect.serving.contract import Contract
from costcorrect.units import parse_quantity


@dataclass(frozen=True)
class ScenarioResult:
    scenario: Scenario
    plan: Plan
    ledger: CostCorrect | None
    energy_usd_per_m: float
    levers: LeverStudy | None
    routing: PremiumModel | None
    systems: list[tuple[str, PatternPoint]]
    allocation: AllocationDecision | None
    provenance: list[tuple[str, str, str, str]] = field(default_factory=list)
    version: str = ""


def _provenance(scenario: Scenario, catalog) -> list[tuple[str, str, str, str]]:
    """(what, value, source, date) of the catalog numbers the report uses."""
    rows = []
    model = catalog.models.get(scenario.model)
    rows.append((f"model {model.name}", "config", model.source, str(model.date)))
    for name in scenario.gpus:
        hw = catalog.hardware.get(name)
        for label, item in (
            ("price", hw.price_usd_per_s),
            ("HBM bandwidth", hw.hbm_bytes_per_s),
            ("memory", hw.memory_bytes),
            ("TDP", hw.tdp_w),
            ("idle power", hw.idle_power_w),
        ):
            rows.append((f"{hw.name} {label}", f"{item.value:g}", item.source, str(item.date)))
        rows.append(
            (
                f"{hw.name} bf16 peak",
                f"{hw.flops_per_s['bf16'].value:g}",
                hw.flops_per_s["bf16"].source,
                str(hw.flops_per_s["bf16"].date),
            )
        )
    workload = catalog.workloads.get(scenario.workload)
    rows.append((f"workload {workload.name}", "lengths", workload.source, str(workload.date)))
    if scenario.routing_data is not None:
        digest = hashlib.sha256(scenario.routing_data.read_bytes()).hexdigest()[:16]
        rows.append(("routing data", str(scenario.routing_data), f"sha256 {digest}", ""))
    return rows


def _smallest_fitting(model: str, gpu: str, catalog) -> Deployment:
    """The deployment of ``model`` on the fewest ``gpu``s (tensor parallel) that holds it."""
    from costcorrect.errors import InputError

    for tp in (1, 2, 4, 8):
        try:
            dep = Deployment.from_names(model, gpu, tp, catalog=catalog)
            dep.check_fits()
            return dep
        except InputError:
            continue
    raise InputError("model", model, f"a model that fits on 8 {gpu}")


def run_scenario(scenario: Scenario, progress=None) -> ScenarioResult:
    from costcorrect import __version__

    say = progress or (lambda _msg: None)
    catalog = load_catalog()
    c = scenario.contract
    contract = Contract(parse_quantity(c.ttft, "time"), parse_quantity(c.tpot, "time"), c.quantile)
    say("serving plan: screening and confirming configurations")
    best = plan(
        scenario.model,
        tuple(scenario.gpus),
        scenario.workload,
        contract,
        scenario.demand_rps,
        SearchSpace(),
        requests=scenario.requests,
        seed=scenario.seed,
        catalog=catalog,
        report=say,
    )
    ledger, energy, levers = None, 0.0, None
    winner = best.winner
    if winner is not None:
        gpu = next((g for g in scenario.gpus if g in winner.label), scenario.gpus[0])
        dep = Deployment.from_names(
            scenario.model, gpu, winner.gpus if winner.gpus <= 8 else 8, catalog=catalog
        )
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
        cpm = winner.usd_per_million + energy
        ledger = cost_correct(
            Prices(cpm, cpm),
            OperatingPoint(
                a.answer_tokens, 0.0, 0.0, a.reasoning_multiplier, a.extra_rollouts, a.accept_rate
            ),
        )
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
    systems = [(s.id, p) for s, p in published_systems()]
    return ScenarioResult(
        scenario,
        best,
        ledger,
        energy,
        levers,
        routing,
        systems,
        allocation,
        _provenance(scenario, catalog),
        __version__,
    )
