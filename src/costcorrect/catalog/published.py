"""Published claims of five LLM-serving papers (``data/published.yaml``): the setup each was
measured on, the headline value with its figure/table reference, and how ``serve reproduce``
re-derives it (or why it cannot yet). Source: ../shared/spec/published_claims.md."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from costcorrect.catalog.base import input_error_from

Kind = Literal[
    "goodput",
    "goodput_ratio",
    "decode_batch",
    "kv_transfer_share",
    "speculative_speedup",
    "not_modelled",
]


class ContractSpec(BaseModel):
    """A capacity rule: bounds in human units, a quantile per metric (TTFT, per-request TPOT,
    per-token TBT), DistServe's attainment, or the vLLM paper's mean normalized latency
    (seconds per output token); ``relative`` bounds are multiples of the baseline's latency
    at low load."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ttft: str | None = None
    tpot: str | None = None
    quantile: float = 0.99
    ttft_quantile: float | None = None
    tpot_quantile: float | None = None
    tbt: str | None = None
    tbt_quantile: float | None = None
    attainment: float | None = None
    relative_ttft: float | None = None
    relative_tpot: float | None = None
    # Orca's and vLLM's metric: mean over requests of latency ÷ output tokens, e.g. "0.5s"
    normalized_latency: str | None = None


class WorkloadSpec(BaseModel):
    """A catalog workload, or fixed prompt/answer lengths; prefix-cache hits optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    fixed_input: int | None = Field(None, gt=0)
    fixed_output: int | None = Field(None, gt=1)
    prefix_hit: float = Field(0.0, ge=0, lt=1)
    requests: int = Field(3000, gt=100)


class PublishedClaim(BaseModel):
    """One headline number and everything needed to re-derive it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    paper: str
    system: str
    claim: str
    reference: str
    published: float | tuple[float, float] | None = None
    unit: str = "×"
    kind: Kind
    reason: str = ""  # not_modelled: why; otherwise what differs from the paper
    if_missed: str = ""  # the likely reason when the prediction misses by more than 25 %
    system_spec: dict = Field(default_factory=dict)
    baseline_spec: dict = Field(default_factory=dict)
    workload: WorkloadSpec = Field(default_factory=WorkloadSpec)
    contract: ContractSpec = Field(default_factory=ContractSpec)
    rate: float | None = None  # decode_batch: arrival rate, req/s
    link: str | None = None  # kv_transfer_share: link bandwidth
    relative_to: Literal["prefill", "latency"] = "prefill"
    # speculative_speedup: the source's mean accepted tokens per step (its own measurement, the
    # bonus token included); its sequences' lengths are the workload's fixed ones
    acceptance_length: float | None = None
    per_gpu: bool = False
    frame: bool = False  # this claim's setup represents its system in the common frame


@cache
def load_published() -> tuple[PublishedClaim, ...]:
    """Every claim of the packaged ``published.yaml``, validated."""
    text = resources.files("costcorrect.catalog").joinpath("data/published.yaml").read_text()
    raw = yaml.safe_load(text)["claims"]
    try:
        return tuple(PublishedClaim.model_validate(entry) for entry in raw)
    except ValidationError as err:
        raise input_error_from(err, "published.yaml") from None
