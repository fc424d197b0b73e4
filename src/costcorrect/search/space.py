"""The configurations a plan searches: per architecture, parallelism, pool sizes, batch and
chunk limits and GPU types (spec §5)."""

from __future__ import annotations

import dataclasses
import itertools
from collections import Counter
from dataclasses import dataclass, field

from costcorrect.catalog import Catalog
from costcorrect.catalog.models import KV_BYTES, WEIGHT_BYTES
from costcorrect.errors import InputError
from costcorrect.perf import Deployment
from costcorrect.perf.calibration import select_calibration
from costcorrect.perf.speculative import Speculation
from costcorrect.serving.architectures import (
    Architecture,
    Chunked,
    Colocated,
    Disaggregated,
    KVLink,
    KVPool,
)


@dataclass(frozen=True)
class SearchSpace:
    """Knob values to enumerate. ``max_gpus`` bounds one unit of the deployment (a replica,
    or a set of prefill plus decode instances); fleets for a demand repeat that unit. ``stack``:
    the calibration stack of every GPU (None: each GPU's default). ``weight_formats`` and
    ``kv_dtypes``: precisions to try (None: the model's own); prefill and decode instances of
    one disaggregated unit share them (the KV moves between them as is). ``speculations``:
    speculative decoding settings to try (None: plain decoding), shared by both pools too."""

    tp: tuple[int, ...] = (1, 2, 4, 8)
    pp: tuple[int, ...] = (1,)
    max_seqs: tuple[int, ...] = (128, 256, 512)
    token_budgets: tuple[int, ...] = (256, 512, 1024, 2048)
    pool_sizes: tuple[int, ...] = (1, 2, 3, 4, 6)
    max_gpus: int = 8
    architectures: tuple[str, ...] = ("colocated", "chunked", "disaggregated", "kvpool")
    link: KVLink = field(default_factory=lambda: KVLink(50e9, 1e-3, 0.5))
    pool_bytes_per_s: float = 25e9
    stack: str | None = None
    weight_formats: tuple[str | None, ...] = (None,)
    kv_dtypes: tuple[str | None, ...] = (None,)
    speculations: tuple[Speculation | None, ...] = (None,)

    def __post_init__(self) -> None:
        for name in ("tp", "pp", "max_seqs", "token_budgets", "pool_sizes"):
            values = getattr(self, name)
            if not values or any(not isinstance(v, int) or v < 1 for v in values):
                raise InputError(name, values, "a non-empty list of positive integers")
        if self.max_gpus < 1:
            raise InputError("max_gpus", self.max_gpus, "a positive number of GPUs")
        for name, known in (("weight_formats", WEIGHT_BYTES), ("kv_dtypes", KV_BYTES)):
            values = getattr(self, name)
            if not values or any(v is not None and v not in known for v in values):
                raise InputError(name, values, f"a non-empty list of {', '.join(known)}")


@dataclass(frozen=True)
class Candidate:
    """One configuration: a short human label and its architecture object."""

    label: str
    arch: Architecture

    @property
    def architecture(self) -> str:
        return self.arch.name

    @property
    def gpus(self) -> int:
        return self.arch.gpus

    @property
    def gpus_by_type(self) -> dict[str, int]:
        """GPUs of one unit per GPU type."""
        if isinstance(self.arch, Disaggregated):
            pools = (
                (self.arch.prefill, self.arch.n_prefill),
                (self.arch.decode, self.arch.n_decode),
            )
        else:
            pools = ((self.arch.deployment, self.arch.replicas),)
        counts: Counter[str] = Counter()
        for dep, n in pools:
            counts[dep.hardware.name] += n * dep.gpus
        return dict(counts)

    def with_deployments(self, rebuild) -> Candidate:
        """The same configuration with every deployment passed through ``rebuild``."""
        if isinstance(self.arch, Disaggregated):
            arch = dataclasses.replace(
                self.arch, prefill=rebuild(self.arch.prefill), decode=rebuild(self.arch.decode)
            )
        else:
            arch = dataclasses.replace(self.arch, deployment=rebuild(self.arch.deployment))
        return dataclasses.replace(self, arch=arch)


def _deployments(model: str, gpus: tuple[str, ...], space: SearchSpace, catalog: Catalog):
    """Every (GPU, TP, PP) deployment that fits within ``max_gpus``, built once."""
    for gpu in gpus:  # an unknown stack is the user's error, not a configuration to skip
        select_calibration(catalog, catalog.hardware.get(gpu), space.stack)
    out = []
    grid = itertools.product(
        gpus, space.tp, space.pp, space.weight_formats, space.kv_dtypes, space.speculations
    )
    for gpu, tp, pp, weights, kv, speculation in grid:
        if tp * pp > space.max_gpus:
            continue
        try:
            dep = Deployment.from_names(
                model,
                gpu,
                tp,
                pp,
                stack=space.stack,
                catalog=catalog,
                weight_format=weights,
                kv_dtype=kv,
                speculation=speculation,
            )
            dep.check_fits()
        except InputError:  # TP not dividing the heads, weights that do not fit, speculation
            # of a model it does not apply to
            continue
        out.append(dep)
    return out


def _name(dep: Deployment) -> str:
    par = f"TP{dep.tp}" + (f"·PP{dep.pp}" if dep.pp > 1 else "")
    precision = "".join(
        f" {label}{value}"
        for label, value in (("", dep.weight_format), ("KV ", dep.kv_dtype))
        if value is not None
    )
    if dep.speculation is not None:
        precision += f" spec {dep.speculation.label}"
    return f"{dep.hardware.name} {par}{precision}"


def candidates(
    model: str,
    gpus: tuple[str, ...],
    space: SearchSpace,
    catalog: Catalog,
    prefix_hit: float = 0.0,
) -> list[Candidate]:
    """All configurations of ``model`` on the GPU types ``gpus`` within ``space``. A KV pool
    only differs from plain disaggregation with prefix reuse, so it is searched only when
    ``prefix_hit`` > 0."""
    deps = _deployments(model, gpus, space, catalog)
    if not deps:
        raise InputError("gpu", ",".join(gpus), f"GPUs on which {model} fits in ≤ {space.max_gpus}")
    out: list[Candidate] = []
    wanted = set(space.architectures)
    for dep, seqs in itertools.product(deps, space.max_seqs):
        if "colocated" in wanted:
            label = f"{_name(dep)}, max {seqs} seqs"
            out.append(Candidate(label, Colocated(dep, max_seqs=seqs)))
        if "chunked" in wanted:
            for budget in space.token_budgets:
                label = f"{_name(dep)}, τ={budget}, max {seqs} seqs"
                out.append(Candidate(label, Chunked(dep, token_budget=budget, max_seqs=seqs)))
    kinds = [k for k in ("disaggregated", "kvpool") if k in wanted]
    if prefix_hit <= 0 and "kvpool" in kinds:
        kinds.remove("kvpool")
    for pre, dec in itertools.product(deps, deps):
        if (pre.weight_format, pre.kv_dtype, pre.speculation) != (
            dec.weight_format,
            dec.kv_dtype,
            dec.speculation,
        ):
            continue
        for n_p, n_d in itertools.product(space.pool_sizes, space.pool_sizes):
            if n_p * pre.gpus + n_d * dec.gpus > space.max_gpus:
                continue
            label = f"{n_p}×[{_name(pre)}] prefill + {n_d}×[{_name(dec)}] decode"
            for kind in kinds:
                if kind == "kvpool":
                    arch = KVPool(
                        pre, dec, n_p, n_d, space.link, pool_bytes_per_s=space.pool_bytes_per_s
                    )
                else:
                    arch = Disaggregated(pre, dec, n_p, n_d, space.link)
                out.append(Candidate(label, arch))
    return out
