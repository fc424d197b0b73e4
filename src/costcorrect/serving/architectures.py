"""Serving architectures (spec §4): what is deployed and how it batches. Both engines take these."""

from __future__ import annotations

import math
from dataclasses import dataclass

from costcorrect.errors import InputError
from costcorrect.perf import Deployment


def _positive(name: str, value: float, integer: bool = False) -> None:
    ok = value > 0 and (not integer or float(value).is_integer())
    if not ok:
        raise InputError(name, value, "a positive integer" if integer else "a positive number")


@dataclass(frozen=True)
class KVLink:
    """The link that moves KV from prefill to decode instances, per prefill instance.

    ``bytes_per_s`` bandwidth; ``latency_s`` per transfer; ``overlap`` the fraction of a
    transfer hidden behind the prefill (layer-wise streaming, 0–1)."""

    bytes_per_s: float
    latency_s: float = 0.0
    overlap: float = 0.0

    def __post_init__(self) -> None:
        _positive("kv_link_bytes_per_s", self.bytes_per_s)
        if self.latency_s < 0:
            raise InputError("kv_link_latency_s", self.latency_s, "a time ≥ 0 s")
        if not 0 <= self.overlap <= 1:
            raise InputError("kv_link_overlap", self.overlap, "a fraction in [0, 1]")


#: KV reservation policies: ``paged`` holds what a request has (vLLM); Orca's variants reserve
#: its final length (``oracle``), that rounded up to a power of two (``pow2``) or the model's
#: maximum length (``max``) on admission (the vLLM paper's baselines, §6.1)
RESERVATIONS = ("paged", "oracle", "pow2", "max")


@dataclass(frozen=True)
class Colocated:
    """Continuous batching, prefill-prioritised whole prompts (vLLM v0 / Orca): a prefill
    iteration of up to ``max_batch_tokens`` prompt tokens stalls the running decodes.
    ``reservation``: how the KV cache is held (:data:`RESERVATIONS`; all but ``paged`` are
    historical baselines, simulated only), ``max_model_len`` the length ``max`` reserves."""

    deployment: Deployment
    replicas: int = 1
    max_batch_tokens: int = 8192
    max_seqs: int = 256
    reservation: str = "paged"
    max_model_len: int = 2048

    name = "colocated"

    def __post_init__(self) -> None:
        self.deployment.check_fits()
        _positive("replicas", self.replicas, integer=True)
        _positive("max_batch_tokens", self.max_batch_tokens, integer=True)
        _positive("max_seqs", self.max_seqs, integer=True)
        _positive("max_model_len", self.max_model_len, integer=True)
        if self.reservation not in RESERVATIONS:
            raise InputError("reservation", self.reservation, f"one of {', '.join(RESERVATIONS)}")

    @property
    def simulated_only(self) -> bool:
        """Whether only the simulator models it (a historical baseline's KV policy)."""
        return self.reservation != "paged"

    @property
    def gpus(self) -> int:
        return self.replicas * self.deployment.gpus

    @property
    def decoder(self) -> Deployment:
        """The deployment that decodes (here: the only one)."""
        return self.deployment

    @property
    def usd_per_s(self) -> float:
        d = self.deployment
        return self.replicas * d.gpus * d.hardware.price_usd_per_s.value

    @property
    def schedulers(self) -> int:
        """Independent batch schedulers: each replica keeps ``pp`` micro-batches in flight
        through its pipeline stages (vLLM's virtual engines), each batch advancing one
        iteration per pass through all stages."""
        return self.replicas * self.deployment.pp

    @property
    def scheduler_kv_tokens(self) -> int:
        """KV tokens one scheduler's micro-batch holds: the pipeline's cache over ``pp``."""
        return self.deployment.kv_capacity_tokens // self.deployment.pp


@dataclass(frozen=True)
class Chunked(Colocated):
    """Sarathi-Serve stall-free batching: each iteration carries every running decode plus
    prefill chunks up to ``token_budget`` (τ) tokens."""

    token_budget: int = 512

    name = "chunked"

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive("token_budget", self.token_budget, integer=True)


@dataclass(frozen=True)
class Disaggregated:
    """DistServe / Splitwise: ``n_prefill`` prefill instances and ``n_decode`` decode
    instances (each its own deployment, GPU type and price); KV moves over ``link``."""

    prefill: Deployment
    decode: Deployment
    n_prefill: int
    n_decode: int
    link: KVLink
    max_batch_tokens: int = 8192
    max_seqs: int = 256

    name = "disaggregated"

    def __post_init__(self) -> None:
        self.prefill.check_fits()
        self.decode.check_fits()
        _positive("n_prefill", self.n_prefill, integer=True)
        _positive("n_decode", self.n_decode, integer=True)
        _positive("max_batch_tokens", self.max_batch_tokens, integer=True)
        _positive("max_seqs", self.max_seqs, integer=True)
        if self.prefill.model.name != self.decode.model.name:
            raise InputError("decode.model", self.decode.model.name, self.prefill.model.name)

    @property
    def prefill_usd_per_s(self) -> float:
        d = self.prefill
        return self.n_prefill * d.gpus * d.hardware.price_usd_per_s.value

    @property
    def decode_usd_per_s(self) -> float:
        d = self.decode
        return self.n_decode * d.gpus * d.hardware.price_usd_per_s.value

    @property
    def usd_per_s(self) -> float:
        return self.prefill_usd_per_s + self.decode_usd_per_s

    @property
    def gpus(self) -> int:
        return self.n_prefill * self.prefill.gpus + self.n_decode * self.decode.gpus

    @property
    def decoder(self) -> Deployment:
        """The deployment that decodes: the decode pool's."""
        return self.decode

    @property
    def simulated_only(self) -> bool:
        return False

    @property
    def kv_bytes_per_token(self) -> float:
        return self.prefill.model.kv_bytes_per_token(self.prefill.kv_dtype)


@dataclass(frozen=True)
class Static(Colocated):
    """Request-level (static) batching, FasterTransformer's: up to ``max_seqs`` waiting
    requests form a batch only when the previous one has left; its prompts prefill together
    and every request decodes (padding once done) until the batch's longest is done. Each
    reserves ``max_model_len`` tokens of KV by default. Simulated only."""

    reservation: str = "max"

    name = "static"

    @property
    def simulated_only(self) -> bool:
        return True


@dataclass(frozen=True)
class KVPool(Disaggregated):
    """Mooncake: disaggregated plus a distributed prefix-KV pool. Requests' ``cached_tokens``
    (hit ratio ``h`` of the stream) are read from the pool at ``pool_bytes_per_s`` instead of
    being recomputed. With ``reject_after_s``, a prompt that would start prefilling after
    waiting longer than that is rejected under overload instead of served late (simulator)."""

    pool_bytes_per_s: float = 25e9
    reject_after_s: float = math.inf

    name = "kvpool"

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive("pool_bytes_per_s", self.pool_bytes_per_s)
        _positive("reject_after_s", self.reject_after_s)


Architecture = Colocated | Chunked | Static | Disaggregated | KVPool
