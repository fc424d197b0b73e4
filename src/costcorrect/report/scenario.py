"""A report scenario (YAML), validated like every input: the deployment question (model, GPUs,
workload, contract, demand) and the answer's economics (tokens, R, ρ̄, α, energy price), with
optional routing and allocation inputs. Unknown GPUs or models, non-positive latencies and
missing data files are one-line errors naming the field."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from costcorrect.catalog.base import input_error_from
from costcorrect.errors import InputError
from costcorrect.units import parse_quantity


class ContractSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ttft: str = "1s"
    tpot: str = "50ms"
    quantile: float = Field(0.99, gt=0, lt=1)

    @field_validator("ttft", "tpot")
    @classmethod
    def _time(cls, value: str, info) -> str:
        seconds = parse_quantity(value, "time", f"contract.{info.field_name}")
        if not seconds > 0:
            raise InputError(f"contract.{info.field_name}", value, "a positive latency")
        return value


class AnswerSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    answer_tokens: float = Field(300.0, gt=0)
    reasoning_multiplier: float = Field(1.0, ge=1)
    extra_rollouts: float = Field(0.0, ge=0)
    accept_rate: float = Field(0.9, gt=0, le=1)


class EnergySpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    usd_per_kwh: float = Field(0.10, ge=0)
    pue: float = Field(1.2, ge=1)


class RoutingSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kappa: float = Field(ge=0, le=1)
    delta: float = Field(ge=0, lt=1)
    gamma: float = Field(ge=0)


class AllocationSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    eta_rollouts: float = Field(ge=0)
    eta_training: float = Field(gt=0)
    inference_spend: str
    training_spend: str


class Scenario(BaseModel):
    """What to answer, in the units a person types."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str
    model: str
    gpus: list[str] = Field(min_length=1)
    workload: str = "sharegpt"
    contract: ContractSpec = ContractSpec()
    demand_rps: float | None = Field(None, gt=0)
    requests: int = Field(2000, ge=200)
    seed: int = 0
    answer: AnswerSpec = AnswerSpec()
    energy: EnergySpec = EnergySpec()
    routing: RoutingSpec | None = None
    routing_data: Path | None = None
    allocation: AllocationSpec | None = None


DEFAULT = "data/default_scenario.yaml"


def load_scenario(path: str | Path | None = None) -> Scenario:
    """The scenario of ``path`` (default: the packaged one), checked against the catalog."""
    from costcorrect.catalog import load_catalog

    if path is None:
        text = resources.files("costcorrect.report").joinpath(DEFAULT).read_text()
        origin, base = "default scenario", None
    else:
        path = Path(path)
        if not path.is_file():
            raise InputError("scenario", str(path), "an existing scenario YAML file")
        text, origin, base = path.read_text(), str(path), path.parent
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise InputError("scenario", origin, f"valid YAML ({err})") from None
    if not isinstance(raw, dict):
        raise InputError("scenario", origin, "a YAML mapping of fields")
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as err:
        raise input_error_from(err, "scenario") from None
    catalog = load_catalog()
    catalog.models.get(scenario.model)
    for gpu in scenario.gpus:
        catalog.hardware.get(gpu)
    catalog.workloads.get(scenario.workload)
    if scenario.routing_data is not None:
        data = scenario.routing_data if base is None else base / scenario.routing_data
        if not data.is_file():
            raise InputError("routing_data", str(scenario.routing_data), "an existing file")
        scenario = scenario.model_copy(update={"routing_data": data})
    return scenario
