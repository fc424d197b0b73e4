"""Build an architecture and a request stream from catalog names and human units (the CLI's
library entry point)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from costcorrect.catalog import Catalog, load_catalog
from costcorrect.catalog.workloads import fixed_workload
from costcorrect.errors import InputError
from costcorrect.perf import Deployment
from costcorrect.perf.speculative import Speculation
from costcorrect.serving.architectures import (
    Architecture,
    Chunked,
    Colocated,
    Disaggregated,
    KVLink,
    KVPool,
    Static,
)
from costcorrect.units import parse_quantity
from costcorrect.workload import RequestStream, read_trace, synthetic_stream

ARCHITECTURES = ("colocated", "chunked", "static", "disaggregated", "kvpool")


@dataclass(frozen=True)
class ServeSpec:
    """Everything that defines a deployment, in the units a person types."""

    architecture: str = "colocated"
    model: str = "llama-3.1-8b"
    gpu: str = "H100-SXM"
    tp: int = 1
    pp: int = 1
    stack: str | None = None
    weight_format: str | None = None
    kv_dtype: str | None = None
    speculative: str | None = None  # e.g. "draft=llama-3.1-8b,k=4,accept=0.8" or "eagle"
    kv_memory: str | None = None  # the instance's KV cache when a setup states it, e.g. "12GB"
    replicas: int = 1
    reservation: str | None = None  # KV policy (architectures.RESERVATIONS); None: the arch's
    max_model_len: int = 2048
    max_batch_tokens: int = 8192
    max_seqs: int = 256
    token_budget: int = 512
    prefill_gpu: str | None = None
    prefill_tp: int | None = None
    decode_gpu: str | None = None
    decode_tp: int | None = None
    n_prefill: int = 1
    n_decode: int = 1
    kv_link: str = "50GB/s"
    kv_latency: str = "0s"
    kv_overlap: float = 0.0
    pool_bandwidth: str = "25GB/s"
    reject_after: str | None = None


def build_architecture(spec: ServeSpec, catalog: Catalog | None = None) -> Architecture:
    """The :class:`Architecture` described by ``spec`` (raises :class:`InputError`)."""
    cat = catalog or load_catalog()
    if spec.architecture not in ARCHITECTURES:
        raise InputError("arch", spec.architecture, f"one of {', '.join(ARCHITECTURES)}")
    speculation = None
    if spec.speculative:
        speculation = Speculation.parse(spec.speculative, cat, cat.models.get(spec.model).name)
    kv_memory = None
    if spec.kv_memory is not None:
        kv_memory = parse_quantity(spec.kv_memory, "bytes", "kv_memory", positive=True)

    def deployment(gpu: str, tp: int) -> Deployment:
        return Deployment.from_names(
            spec.model,
            gpu,
            tp,
            spec.pp,
            stack=spec.stack,
            catalog=cat,
            weight_format=spec.weight_format,
            kv_dtype=spec.kv_dtype,
            speculation=speculation,
            kv_memory_bytes=kv_memory,
        )

    if spec.architecture in ("colocated", "chunked", "static"):
        dep = deployment(spec.gpu, spec.tp)
        common = {
            "replicas": spec.replicas,
            "max_batch_tokens": spec.max_batch_tokens,
            "max_seqs": spec.max_seqs,
            "max_model_len": spec.max_model_len,
        }
        if spec.reservation is not None:
            common["reservation"] = spec.reservation
        if spec.architecture == "chunked":
            return Chunked(dep, token_budget=spec.token_budget, **common)
        if spec.architecture == "static":
            return Static(dep, **common)
        return Colocated(dep, **common)
    if spec.reservation not in (None, "paged"):
        raise InputError("reservation", spec.reservation, "paged for disaggregated pools")
    prefill = deployment(spec.prefill_gpu or spec.gpu, spec.prefill_tp or spec.tp)
    decode = deployment(spec.decode_gpu or spec.gpu, spec.decode_tp or spec.tp)
    link = KVLink(
        parse_quantity(spec.kv_link, "bandwidth", "kv_link"),
        parse_quantity(spec.kv_latency, "time", "kv_latency"),
        spec.kv_overlap,
    )
    common = {
        "n_prefill": spec.n_prefill,
        "n_decode": spec.n_decode,
        "link": link,
        "max_batch_tokens": spec.max_batch_tokens,
        "max_seqs": spec.max_seqs,
    }
    if spec.architecture == "kvpool":
        pool = parse_quantity(spec.pool_bandwidth, "bandwidth", "pool_bandwidth")
        reject = (
            math.inf
            if spec.reject_after is None
            else parse_quantity(spec.reject_after, "time", "reject_after")
        )
        return KVPool(prefill, decode, pool_bytes_per_s=pool, reject_after_s=reject, **common)
    return Disaggregated(prefill, decode, **common)


def build_stream(
    workload: str = "sharegpt",
    rate: str | float = 1.0,
    requests: int = 5000,
    seed: int = 0,
    trace: str | None = None,
    arrival: str = "poisson",
    cv: float = 1.0,
    prefix_hit: float = 0.0,
    catalog: Catalog | None = None,
    isl_osl: tuple[int, int] | None = None,
) -> RequestStream:
    """A synthetic stream of a catalog workload (or of fixed ``isl_osl`` input/output tokens),
    or a replayed ``trace`` (rescaled to ``rate`` if given)."""
    r = parse_quantity(rate, "count", "rate") if rate is not None else None
    if r is not None and not (r > 0 and math.isfinite(r)):
        raise InputError("rate", rate, "a positive arrival rate in requests/s")
    if trace is not None:
        return read_trace(trace, rate_per_s=r)
    return synthetic_stream(
        workload if isl_osl is None else fixed_workload(*isl_osl),
        r,
        requests,
        seed,
        arrival=arrival,
        cv=cv,
        prefix_hit_ratio=prefix_hit,
        catalog=catalog,
    )
