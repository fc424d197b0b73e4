"""``serve plan``: the cheapest configuration per architecture for a model, GPU types, workload
and contract — screened analytically, the best few confirmed by simulation — the overall
winner with its margin, and how that margin moves with price, efficiency and the contract."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial

import numpy as np

from costcorrect.catalog import Catalog, load_catalog
from costcorrect.errors import InputError
from costcorrect.perf.calibration import scaled_efficiency, stack_validation
from costcorrect.search.executor import Executor, LocalExecutor, ThreadExecutor
from costcorrect.search.space import Candidate, SearchSpace, candidates
from costcorrect.serving.analytic import Lengths
from costcorrect.serving.architectures import Disaggregated
from costcorrect.serving.contract import Contract
from costcorrect.serving.cost import (
    Load,
    analytic_goodput_under,
    cost_per_token,
    unit_usd_per_million,
)
from costcorrect.serving.goodput import ENGINE_AGREEMENT
from costcorrect.workload import LengthStats, synthetic_stream

SENSITIVITY_SHIFT = 0.2  # ±20 % GPU price and achieved efficiency
CONTRACT_FACTORS = (0.5, 2.0)  # contract bounds halved and doubled, one at a time


@dataclass(frozen=True)
class Screened:
    """A configuration's analytic goodput (req/s) and cost ($ per million output tokens)."""

    architecture: str
    label: str
    gpus: int
    goodput_rps: float
    usd_per_million: float
    reason: str


@dataclass(frozen=True)
class Confirmed:
    """A configuration confirmed by the simulator: both goodputs, the simulated cost with its
    three-term breakdown ($ per million output tokens), the GPU type, parallelism and
    precisions of the instances that decode (None: the model's own), the ``GPU/stack``
    calibrations it ran on, and its converged simulation's length and verdict
    (``serving.goodput.simulated_goodput``)."""

    architecture: str
    label: str
    gpus: int
    analytic_goodput_rps: float
    sim_goodput_rps: float
    usd_per_million: float
    prefill_usd_per_million: float
    decode_usd_per_million: float
    kv_usd_per_million: float
    fleet_replicas: int | None
    unit_usd_per_hour: float  # one deployment unit (its GPUs, energy if priced)
    decode_gpu: str
    decode_tp: int
    decode_pp: int
    weight_format: str | None
    kv_dtype: str | None
    speculative: str | None  # the decode pool's speculation (draft, k, acceptance)
    stacks: tuple[str, ...]
    simulated_requests: int | None  # the converged run's length
    converged: bool | None  # whether two run lengths agreed within 5 %
    tokens_per_s_per_user: float | None  # 1 / the contract's TPOT quantile at the goodput

    @property
    def goodput_error(self) -> float:
        """Analytic goodput relative to the simulator's (0.05 = 5 % above)."""
        if self.sim_goodput_rps <= 0:
            return math.nan
        return self.analytic_goodput_rps / self.sim_goodput_rps - 1.0


HOURS_PER_MONTH = 730.0  # 8,760 h / 12


@dataclass(frozen=True)
class Fleet:
    """What a demand needs of the winning configuration: whole units, GPUs, $ and how busy."""

    units: int
    gpus: int
    gpu_kinds: str  # e.g. "H100-SXM", or "H100-SXM + H200" for mixed disaggregated pools
    usd_per_hour: float
    usd_per_month: float
    utilisation: float  # demand ÷ the units' confirmed goodput

    def sentence(self, demand_rps: float) -> str:
        return (
            f"Fleet for {demand_rps:.3g} req/s: {self.units} × the winner = {self.gpus} "
            f"{self.gpu_kinds} GPUs, ${self.usd_per_hour:,.2f}/h, ${self.usd_per_month:,.0f}/month"
            f" ({HOURS_PER_MONTH:.0f} h), {self.utilisation:.0%} of its confirmed goodput in use"
        )


@dataclass(frozen=True)
class SensitivityCase:
    """Which architecture wins (analytically) when one input moves, and by how much."""

    case: str
    winner: str | None
    margin: float  # runner-up architecture's cost / winner's − 1
    flips: bool  # the winner differs from the plan's


@dataclass(frozen=True)
class Plan:
    """The answer of :func:`plan`: the best confirmed configuration per architecture
    (cheapest first), the winner and its margin over the next architecture, sensitivity."""

    model: str
    gpus: tuple[str, ...]
    workload: str
    contract: str
    demand_rps: float | None
    best: tuple[Confirmed, ...]
    sensitivity: tuple[SensitivityCase, ...]
    screened: tuple[Screened, ...]
    seconds: float
    validation: tuple[str, ...]  # the winner's stacks with their held-out errors
    lengths: LengthStats  # the workload's source and length statistics

    @property
    def winner(self) -> Confirmed | None:
        finite = [c for c in self.best if math.isfinite(c.usd_per_million)]
        return finite[0] if finite else None

    @property
    def margin(self) -> float:
        """Cost of the cheapest other architecture over the winner's, − 1 (nan: no rival)."""
        return _winner(_best_by_architecture(self.best))[1]

    @property
    def fleet(self) -> Fleet | None:
        """The winner's fleet for ``demand_rps`` (None without a demand or a winner)."""
        w = self.winner
        if w is None or self.demand_rps is None or not w.fleet_replicas:
            return None
        kinds = " + ".join(dict.fromkeys(s.split("/")[0] for s in w.stacks))
        per_hour = w.fleet_replicas * w.unit_usd_per_hour
        return Fleet(
            w.fleet_replicas,
            w.fleet_replicas * w.gpus,
            kinds,
            per_hour,
            per_hour * HOURS_PER_MONTH,
            self.demand_rps / (w.fleet_replicas * w.sim_goodput_rps),
        )

    @property
    def engine_gaps(self) -> tuple[Confirmed, ...]:
        """Confirmed configurations whose analytic goodput is further from the simulator's than
        the engines' validated agreement (:data:`ENGINE_AGREEMENT`): the simulator's answer
        stands, the analytic screen and sensitivity are less sure there."""
        return tuple(c for c in self.best if abs(c.goodput_error) > ENGINE_AGREEMENT)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["winner"] = asdict(self.winner) if self.winner else None
        out["margin"] = self.margin
        out["fleet"] = asdict(self.fleet) if self.fleet else None
        out["engine_gaps"] = [
            {"label": c.label, "analytic_vs_sim": c.goodput_error} for c in self.engine_gaps
        ]
        return out


def _screen_one(job: tuple) -> Screened:
    candidate, contract, lengths, demand, load = job
    good = analytic_goodput_under(candidate.arch, contract, lengths, load)
    cost = float(
        unit_usd_per_million(candidate.arch.usd_per_s, good.rate_per_s, lengths.mean_output, demand)
    )
    return Screened(
        candidate.architecture,
        candidate.label,
        candidate.gpus,
        good.rate_per_s,
        cost,
        good.reason,
    )


def _confirm_one(job: tuple) -> Confirmed:
    candidate, screened, contract, stream, demand, draw, planned = job
    # open loop: converged runs; a closed loop or offline run is sized by its own mode
    open_loop = not (planned.offline or planned.users)
    load = dataclasses.replace(planned, converge=open_loop, draw=draw)
    cost = cost_per_token(
        candidate.arch,
        contract,
        stream,
        demand_rps=demand,
        engine="sim",
        load=load,
        estimate=screened.goodput_rps,
    )
    arch = candidate.arch
    decoder = arch.decoder
    deployments = (arch.prefill, arch.decode) if isinstance(arch, Disaggregated) else (decoder,)
    stacks = tuple(dict.fromkeys(f"{d.hardware.name}/{d.stack}" for d in deployments))
    return Confirmed(
        candidate.architecture,
        candidate.label,
        candidate.gpus,
        screened.goodput_rps,
        cost.goodput_rps,
        cost.usd_per_million_tokens,
        cost.prefill_usd_per_million,
        cost.decode_usd_per_million,
        cost.kv_usd_per_million,
        cost.fleet_replicas,
        cost.usd_per_hour,
        decoder.hardware.name,
        decoder.tp,
        decoder.pp,
        decoder.weight_format,
        decoder.kv_dtype,
        decoder.speculation.label if decoder.speculation else None,
        stacks,
        cost.simulated_requests,
        cost.converged,
        cost.tokens_per_s_per_user,
    )


def _ranked(rows: list[Screened]) -> dict[str, list[int]]:
    """Indices of ``rows`` per architecture, cheapest first, finite costs only; of
    configurations the screen cannot tell apart (same goodput, cost and GPUs — e.g. a batch
    limit that never binds) only the first is kept."""
    out: dict[str, list[int]] = {}
    seen: set[tuple] = set()
    for i in sorted(range(len(rows)), key=lambda i: rows[i].usd_per_million):
        r = rows[i]
        key = (r.architecture, r.gpus, round(r.goodput_rps, 9), round(r.usd_per_million, 9))
        if math.isfinite(r.usd_per_million) and key not in seen:
            seen.add(key)
            out.setdefault(r.architecture, []).append(i)
    return out


def _contenders(rows: list[Screened], ranked: list[int]) -> list[int]:
    """Of one architecture's cheapest screened configurations (``ranked``, cheapest first),
    those the screen cannot separate from the cheapest: within twice the engines' validated
    goodput agreement of its cost (each may be that far off, in opposite directions)."""
    if not ranked:
        return []
    reach = rows[ranked[0]].usd_per_million * (1.0 + 2.0 * ENGINE_AGREEMENT)
    return [i for i in ranked if rows[i].usd_per_million <= reach]


def _winner(costs: dict[str, float]) -> tuple[str | None, float]:
    finite = sorted((c, a) for a, c in costs.items() if math.isfinite(c))
    if not finite:
        return None, math.nan
    margin = finite[1][0] / finite[0][0] - 1.0 if len(finite) > 1 else math.nan
    return finite[0][1], margin


def _sensitivity(
    confirmed: list[tuple[Candidate, Screened, Confirmed]],
    contract: Contract,
    lengths: Lengths,
    demand: float | None,
    catalog: Catalog,
    executor: Executor,
    load: Load,
) -> list[SensitivityCase]:
    """The confirmed configurations re-evaluated analytically under moved inputs, each scaled
    by its own simulated/analytic cost ratio (so the unmoved case is the confirmed ranking)."""
    cases: list[SensitivityCase] = []
    cands = [c for c, _, _ in confirmed]
    ratio = [
        sim.usd_per_million / row.usd_per_million
        if math.isfinite(sim.usd_per_million) and row.usd_per_million > 0
        else 1.0
        for _, row, sim in confirmed
    ]
    plan_winner, _ = _winner(_best_by_architecture([s for _, _, s in confirmed]))

    def case(name: str, rows: list[Screened]) -> None:
        moved = [
            dataclasses.replace(r, usd_per_million=r.usd_per_million * k)
            for r, k in zip(rows, ratio, strict=True)
        ]
        winner, margin = _winner(_best_by_architecture(moved))
        cases.append(SensitivityCase(name, winner, margin, winner != plan_winner))

    def screen(moved: list[Candidate], con: Contract) -> list[Screened]:
        return executor.map(_screen_one, [(c, con, lengths, demand, load) for c in moved])

    base_rows = [row for _, row, _ in confirmed]
    case("as planned", base_rows)
    prices = {
        g: catalog.hardware.get(g).price_usd_per_s.value for c in cands for g in c.gpus_by_type
    }
    for gpu in sorted(prices):
        for sign in (-1, 1):
            factor = 1.0 + sign * SENSITIVITY_SHIFT
            rows = []
            for cand, row in zip(cands, base_rows, strict=True):
                base = sum(n * prices[g] for g, n in cand.gpus_by_type.items())
                moved = sum(
                    n * prices[g] * (factor if g == gpu else 1.0)
                    for g, n in cand.gpus_by_type.items()
                )
                rows.append(
                    dataclasses.replace(row, usd_per_million=row.usd_per_million * moved / base)
                )
            case(f"{gpu} price {sign * SENSITIVITY_SHIFT:+.0%}", rows)
    for sign in (-1, 1):
        factor = 1.0 + sign * SENSITIVITY_SHIFT

        def rebuild(dep, f=factor):
            return dataclasses.replace(dep, params=scaled_efficiency(dep.params, f))

        moved = [c.with_deployments(rebuild) for c in cands]
        case(f"achieved efficiency {sign * SENSITIVITY_SHIFT:+.0%}", screen(moved, contract))
    for bound in () if load.offline else ("ttft_s", "tpot_s"):  # offline: no contract
        for factor in CONTRACT_FACTORS:
            moved = dataclasses.replace(contract, **{bound: getattr(contract, bound) * factor})
            label = "TTFT" if bound == "ttft_s" else "TPOT"
            case(f"p{contract.quantile * 100:g} {label} bound ×{factor:g}", screen(cands, moved))
    return cases


def _best_by_architecture(rows) -> dict[str, float]:
    """Cheapest $ per million tokens per architecture of Screened or Confirmed rows."""
    costs: dict[str, float] = {}
    for row in rows:
        costs[row.architecture] = min(costs.get(row.architecture, math.inf), row.usd_per_million)
    return costs


def plan(
    model: str,
    gpus: tuple[str, ...],
    workload: str,
    contract: Contract,
    demand_rps: float | None = None,
    space: SearchSpace | None = None,
    prefix_hit: float = 0.0,
    requests: int = 4000,
    seed: int = 0,
    confirm_top: int = 2,
    executor: Executor | None = None,
    catalog: Catalog | None = None,
    report: Callable[[str], None] | None = None,
    load: Load = Load(),
) -> Plan:
    """Screen every configuration of ``space`` analytically, confirm the ``confirm_top``
    cheapest per architecture that the screen cannot separate (:func:`_contenders`) with the
    simulator (``requests`` requests of ``workload``), and
    rank the architectures by their best confirmed $ per million output tokens. ``load``: an
    open loop at the goodput (default), ``users`` closed-loop clients (colocated and chunked
    configurations where their batch schedulers split the users evenly; disaggregated ones
    pin each user to a decode instance) or offline; the
    last two price their own throughput, so they take no fleet ``demand_rps``."""
    started = time.perf_counter()
    if (load.offline or load.users) and demand_rps is not None:
        raise InputError("demand", demand_rps, "no fleet demand with a closed loop or offline")
    cat = catalog or load_catalog()
    space = space or SearchSpace()
    ex = executor or LocalExecutor()
    say = report or (lambda _msg: None)
    stream = synthetic_stream(
        workload, 1.0, requests, seed, prefix_hit_ratio=prefix_hit, catalog=cat
    )
    lengths = Lengths.from_stream(stream)
    cands = candidates(model, tuple(gpus), space, cat, prefix_hit)
    if load.users:  # colocated and chunked schedulers each serve an equal share of the users
        cands = [
            c
            for c in cands
            if isinstance(c.arch, Disaggregated) or load.users % c.arch.schedulers == 0
        ]
        if not cands:
            raise InputError("concurrency", load.users, "a multiple of some candidate's replicas")
    say(f"screening {len(cands)} configurations analytically")
    rows = ex.map(_screen_one, [(c, contract, lengths, demand_rps, load) for c in cands])
    ranked = _ranked(rows)
    picks = [i for idx in ranked.values() for i in _contenders(rows, idx[:confirm_top])]
    say(f"confirming {len(picks)} with the simulator")
    # confirmations converge: longer runs draw fresh requests of the workload
    draw = partial(
        synthetic_stream, cat.workloads.get(workload), 1.0, seed=seed, prefix_hit_ratio=prefix_hit
    )
    # in-process confirmations run on threads: the simulator's kernels release the GIL
    confirm_ex = ThreadExecutor() if isinstance(ex, LocalExecutor) else ex
    confirmed = confirm_ex.map(
        _confirm_one,
        [(cands[i], rows[i], contract, stream, demand_rps, draw, load) for i in picks],
    )
    best: dict[str, Confirmed] = {}
    for c in confirmed:
        if c.architecture not in best or c.usd_per_million < best[c.architecture].usd_per_million:
            best[c.architecture] = c
    ordered = tuple(sorted(best.values(), key=lambda c: c.usd_per_million))
    say("sensitivity: price, efficiency, contract")
    sensitivity = _sensitivity(
        [(cands[i], rows[i], c) for i, c in zip(picks, confirmed, strict=True)],
        contract,
        lengths,
        demand_rps,
        cat,
        ex,
        load,
    )
    order = np.argsort([r.usd_per_million for r in rows], kind="stable")
    winner = next((c for c in ordered if math.isfinite(c.usd_per_million)), None)
    validation = tuple(
        stack_validation(cat, cat.hardware.get(gpu), stack)
        for gpu, stack in (name.split("/", 1) for name in (winner.stacks if winner else ()))
    )
    return Plan(
        model,
        tuple(gpus),
        workload,
        load.describe(contract),
        demand_rps,
        ordered,
        tuple(sensitivity),
        tuple(rows[i] for i in order),
        time.perf_counter() - started,
        validation,
        stream.length_stats(cat),
    )
