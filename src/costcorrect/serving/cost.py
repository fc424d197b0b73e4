"""Cost per SLO-compliant served token (spec §1–§2) and its three-term decomposition.

    C = deployment $/s ÷ token goodput = C_prefill + C_decode + C_kv

Colocated/chunked: GPU time is apportioned to prefill and decode by each iteration's token
share (simulator bookkeeping at λ*), C_kv = 0. Disaggregated/KV-pool: C_prefill and C_decode are
each pool's $/s over the token goodput of the same system with instantaneous KV movement, and
C_kv = C(real link) − C(instantaneous) — so the terms sum to the total exactly.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import numpy as np

from costcorrect.errors import InputError
from costcorrect.serving.architectures import Architecture, Disaggregated, KVLink, KVPool
from costcorrect.serving.closedloop import closed_loop_goodput
from costcorrect.serving.contract import Contract
from costcorrect.serving.goodput import (
    Goodput,
    analytic_goodput,
    analytic_load_goodput,
    offline_throughput,
    simulated_goodput,
)
from costcorrect.workload import RequestStream

PER_MILLION = 1e6
JOULES_PER_KWH = 3.6e6


@dataclass(frozen=True)
class Pricing:
    """Optional costs beyond GPU rent: energy at ``energy_usd_per_kwh`` (GPUs drawing
    ``watts_per_gpu`` — e.g. the energy model's power at the operating point — or, when not
    given, their TDP as an upper bound, times the facility ``pue``) and network at
    ``network_usd_per_gb`` for every byte of KV moved between instances or read from a KV
    pool."""

    energy_usd_per_kwh: float = 0.0
    pue: float = 1.0
    network_usd_per_gb: float = 0.0
    watts_per_gpu: float | None = None

    def __post_init__(self) -> None:
        for name in ("energy_usd_per_kwh", "network_usd_per_gb"):
            if not 0 <= getattr(self, name) < math.inf:
                raise InputError(name, getattr(self, name), "a finite price ≥ 0")
        if not 1.0 <= self.pue < math.inf:
            raise InputError("pue", self.pue, "a finite power usage effectiveness ≥ 1")
        if self.watts_per_gpu is not None and not 0 < self.watts_per_gpu < math.inf:
            raise InputError("watts_per_gpu", self.watts_per_gpu, "a finite power > 0 in W")

    def energy_usd_per_s(self, dep, instances: int) -> float:
        """Energy $/s of ``instances`` copies of deployment ``dep``."""
        per_gpu = self.watts_per_gpu or dep.hardware.tdp_w.value
        watts = instances * dep.gpus * per_gpu * self.pue
        return watts * self.energy_usd_per_kwh / JOULES_PER_KWH


@dataclass(frozen=True)
class CostBreakdown:
    """$ per million SLO-compliant output tokens (or total tokens) and where it goes."""

    architecture: str
    contract: str
    goodput_rps: float
    token_goodput_per_s: float
    gpus: int
    usd_per_hour: float
    usd_per_million_tokens: float
    prefill_usd_per_million: float
    decode_usd_per_million: float
    kv_usd_per_million: float
    token_basis: str
    reason: str
    fleet_replicas: int | None = None
    simulated_requests: int | None = None  # run length of a converged simulated goodput
    converged: bool | None = None  # whether two run lengths agreed (None: not checked)
    goodput_interval_rps: tuple[float, float] | None = None  # the two run lengths' goodputs
    #: output tokens/s per user that the contract's quantile of requests get at least at the
    #: goodput: 1 / their q-quantile TPOT (None: no TPOT quantile judged — offline, attainment)
    tokens_per_s_per_user: float | None = None

    @property
    def tokens_per_s_per_gpu(self) -> float:
        """SLO-compliant tokens/s per GPU of one unit (the figure engines' tables quote)."""
        return self.token_goodput_per_s / self.gpus

    def to_dict(self) -> dict:
        return {**asdict(self), "tokens_per_s_per_gpu": self.tokens_per_s_per_gpu}


def _per_user_speed(good: Goodput, contract: Contract) -> float | None:
    """1 / the q-quantile TPOT judged at the goodput, tokens/s (None where nobody is served or
    no TPOT quantile was judged)."""
    v = good.verdict
    if good.rate_per_s <= 0 or contract.form != "quantile" or v is None:
        return None
    if not 0 < v.tpot_s < math.inf:
        return None
    return 1.0 / v.tpot_s


def unit_usd_per_million(usd_per_s, goodput_rps, tokens_per_request, demand_rps=None):
    """$ per million tokens of deployment units costing ``usd_per_s`` that each serve
    ``goodput_rps`` under the contract: one unit at its goodput, or (``demand_rps``) as many
    whole units as the demand needs, the last one partly idle. Vectorised; inf where the
    goodput is 0."""
    good = np.asarray(goodput_rps, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if demand_rps is None:
            cost = usd_per_s / (good * tokens_per_request) * PER_MILLION
        else:
            units = np.ceil(demand_rps / good)
            cost = units * usd_per_s / (demand_rps * tokens_per_request) * PER_MILLION
    return np.where(good > 0, cost, np.inf)


def _tokens_per_request(stream: RequestStream, total_tokens: bool) -> float:
    mean = stream.mean_output_tokens
    return mean + stream.mean_input_tokens if total_tokens else mean


def instantaneous(arch: Disaggregated) -> Disaggregated:
    """The same system with KV movement that costs nothing (infinite link and pool)."""
    changes: dict = {"link": KVLink(math.inf)}
    if isinstance(arch, KVPool):
        changes["pool_bytes_per_s"] = math.inf
    return dataclasses.replace(arch, **changes)


@dataclass(frozen=True)
class Load:
    """How requests arrive. Default: open loop (Poisson at the searched rate); ``converge``:
    simulated runs sized by Little's law and extended until they agree; ``offline``: every
    request at t = 0, no latency contract; ``users`` > 0: that many closed-loop clients with
    ``think_s`` between a completion and their next request. ``draw(n)`` gives longer runs
    ``n`` requests (fresh draws of a synthetic workload; default: the base stream repeated)."""

    converge: bool = False
    offline: bool = False
    users: int = 0
    think_s: float = 0.0
    draw: Callable[[int], RequestStream] | None = None

    def describe(self, contract: Contract) -> str:
        if self.offline:
            return "offline (no latency contract)"
        if self.users:
            return f"{contract.describe()} at {self.users} concurrent users"
        return contract.describe()


def analytic_goodput_under(arch: Architecture, contract: Contract, lengths, load: Load) -> Goodput:
    """λ* under the analytic engine for ``lengths`` (``serving.analytic.Lengths``) and the
    ``load`` mode."""
    if load.offline or load.users:
        return analytic_load_goodput(arch, contract, lengths, load.users, load.think_s)
    return analytic_goodput(arch, contract, lengths)


def goodput(
    arch: Architecture,
    contract: Contract,
    base: RequestStream,
    engine: str,
    load: Load = Load(),
    estimate: float | None = None,
) -> Goodput:
    """λ* under the ``engine`` (``analytic`` or ``sim``) for ``base``'s request lengths and
    the ``load`` mode; an open-loop simulated search starts at ``estimate`` (req/s) if given."""
    if engine == "analytic":
        from costcorrect.serving.analytic import Lengths

        return analytic_goodput_under(arch, contract, Lengths.from_stream(base), load)
    if engine != "sim":
        raise InputError("engine", engine, "'analytic' or 'sim'")
    if load.offline:
        return offline_throughput(arch, base, load.draw)
    if load.users:
        return closed_loop_goodput(arch, contract, base, load.users, load.think_s)
    return simulated_goodput(
        arch, contract, base, converge=load.converge, draw=load.draw, estimate=estimate
    )


def cost_per_token(
    arch: Architecture,
    contract: Contract,
    base: RequestStream,
    total_tokens: bool = False,
    demand_rps: float | None = None,
    engine: str = "sim",
    pricing: Pricing = Pricing(),
    load: Load = Load(),
    estimate: float | None = None,
) -> CostBreakdown:
    """$ per million SLO-compliant tokens of ``arch`` on ``base``'s requests under ``load``
    (:class:`Load`: open loop by default, converged, offline or closed loop); ``estimate``:
    a goodput guess (req/s) where a simulated search starts."""
    if demand_rps is not None and not demand_rps > 0:
        raise InputError("demand", demand_rps, "a positive rate in requests/s")
    per_request = _tokens_per_request(base, total_tokens)
    good = goodput(arch, contract, base, engine, load, estimate)
    basis = "total tokens" if total_tokens else "output tokens"
    common = {
        "architecture": arch.name,
        "contract": load.describe(contract),
        "goodput_rps": good.rate_per_s,
        "token_goodput_per_s": good.rate_per_s * per_request,
        "gpus": arch.gpus,
        "usd_per_hour": _usd_per_s(arch, pricing) * 3600.0,
        "token_basis": basis,
        "reason": good.reason,
        "simulated_requests": good.requests,
        "converged": good.converged,
        "goodput_interval_rps": good.interval,
        "tokens_per_s_per_user": _per_user_speed(good, contract),
    }
    if good.rate_per_s <= 0:
        nan = float("nan")
        return CostBreakdown(
            **common,
            usd_per_million_tokens=math.inf,
            prefill_usd_per_million=nan,
            decode_usd_per_million=nan,
            kv_usd_per_million=nan,
        )
    usd_per_s, replicas = _usd_per_s(arch, pricing), None
    if demand_rps is not None:  # fleet: whole replicas, the last one partly idle
        replicas = math.ceil(demand_rps / good.rate_per_s)
        usd_per_s, rate = replicas * usd_per_s, demand_rps
    else:
        rate = good.rate_per_s
    total = usd_per_s / (rate * per_request) * PER_MILLION
    if isinstance(arch, Disaggregated):
        network = _kv_bytes_per_request(arch, base) / 1e9 * pricing.network_usd_per_gb
        total += network / per_request * PER_MILLION
        prefill, decode = _pool_terms(
            arch, contract, base, per_request, demand_rps, engine, pricing, load, good.rate_per_s
        )
        kv = total - prefill - decode
    else:
        share = _prefill_share(arch, base, good.rate_per_s, engine)
        prefill, decode = total * share, total * (1.0 - share)
        kv = 0.0
    return CostBreakdown(
        **common,
        usd_per_million_tokens=total,
        prefill_usd_per_million=prefill,
        decode_usd_per_million=decode,
        kv_usd_per_million=kv,
        fleet_replicas=replicas,
    )


def _prefill_share(arch, base: RequestStream, rate: float, engine: str) -> float:
    """Fraction of the GPU time spent on prefill at ``rate`` (iteration token shares)."""
    if engine == "analytic":
        from costcorrect.serving.analytic import Lengths, analyze

        return float(analyze(arch, Lengths.from_stream(base), [rate]).prefill_share[0])
    from costcorrect.serving.simulator import simulate

    result = simulate(arch, base.scaled(rate))
    busy = result.busy_prefill_s + result.busy_decode_s
    return result.busy_prefill_s / busy if busy > 0 else 0.0


def _usd_per_s(arch: Architecture, pricing: Pricing) -> float:
    """GPU rent plus energy of the whole architecture, $/s."""
    if isinstance(arch, Disaggregated):
        energy = pricing.energy_usd_per_s(arch.prefill, arch.n_prefill)
        energy += pricing.energy_usd_per_s(arch.decode, arch.n_decode)
    else:
        energy = pricing.energy_usd_per_s(arch.deployment, arch.replicas)
    return arch.usd_per_s + energy


def _kv_bytes_per_request(arch: Disaggregated, base: RequestStream) -> float:
    """KV bytes moved per request: the prompt's KV to the decode side, plus pool reads."""
    moved = base.mean_input_tokens * arch.kv_bytes_per_token
    if isinstance(arch, KVPool):
        moved += float(base.cached_tokens.mean()) * arch.kv_bytes_per_token
    return moved


def _pool_terms(
    arch, contract, base, per_request, demand_rps, engine, pricing, load, real_rps
) -> tuple[float, float]:
    """(prefill, decode) $ per million tokens: each pool priced over the goodput of the same
    pools with instantaneous KV movement — never below ``real_rps``, the goodput with the real
    link (moving KV faster cannot serve less; where the two runs' noise says otherwise, the KV
    tax is 0 rather than negative)."""
    ideal = instantaneous(arch)
    free_kv = replace(load, converge=False)
    rate = goodput(ideal, contract, base, engine, free_kv, estimate=real_rps).rate_per_s
    rate = max(rate, real_rps)
    if rate <= 0:
        return np.nan, np.nan
    scale = 1.0
    if demand_rps is not None:
        scale = math.ceil(demand_rps / rate)
        tokens_per_s = demand_rps * per_request
    else:
        tokens_per_s = rate * per_request
    prefill_usd = arch.prefill_usd_per_s + pricing.energy_usd_per_s(arch.prefill, arch.n_prefill)
    decode_usd = arch.decode_usd_per_s + pricing.energy_usd_per_s(arch.decode, arch.n_decode)
    prefill = scale * prefill_usd / tokens_per_s * PER_MILLION
    decode = scale * decode_usd / tokens_per_s * PER_MILLION
    return prefill, decode
