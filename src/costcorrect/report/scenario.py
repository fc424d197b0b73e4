"""A report scenario (YAML), validated like every input: the deployment question (model, GPUs,
workload, contract, demand) and the answer's economics (tokens, R, ρ̄, α, energy price), with
optional routing, allocation, verifier and measurement inputs. Unknown GPUs or models,
non-positive latencies and missing data files are one-line errors naming the field; data paths
are relative to the scenario file."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from costcorrect.catalog import Catalog, load_catalog
from costcorrect.catalog.base import input_error_from
from costcorrect.errors import InputError
from costcorrect.io import load_yaml, read_text
from costcorrect.perf.calibration import select_calibration
from costcorrect.search.space import SearchSpace
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


class VerificationSpec(BaseModel):
    """A table (CSV/Parquet/JSONL) of 0/1 verifier decisions per answer, composed by ``rule``;
    optionally a 0/1 ``outcome`` column (was the answer correct) and a ``confidence`` column of
    probabilities for the reliability diagram."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data: Path
    verifiers: list[str] = Field(min_length=2)
    rule: str = "and"
    outcome: str | None = None
    confidence: str | None = None


class MeasurementSpec(BaseModel):
    """A `bench fit --out` JSON and the `bench run` records of runs it did not see."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fit: Path
    runs: list[Path] = Field(min_length=1)


class Scenario(BaseModel):
    """What to answer, in the units a person types."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str
    model: str
    gpus: list[str] = Field(min_length=1)
    stack: str | None = None  # perf calibration stack of every GPU (None: each GPU's default)
    pp: list[int] = Field(default_factory=lambda: [1], min_length=1)  # PP degrees to search
    weight_formats: list[str] | None = None  # weight precisions to search (None: the model's)
    kv_dtypes: list[str] | None = None  # KV-cache precisions to search (None: the model's)
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
    verification: VerificationSpec | None = None
    measurements: MeasurementSpec | None = None

    def search_space(self) -> SearchSpace:
        """What the report's plan and frontier search: the default space on the scenario's
        stack, PP degrees and precisions."""
        return SearchSpace(
            pp=tuple(self.pp),
            stack=self.stack,
            weight_formats=tuple(self.weight_formats or (None,)),
            kv_dtypes=tuple(self.kv_dtypes or (None,)),
        )


DEFAULT = "data/default_scenario.yaml"


def load_scenario(path: str | Path | None = None, catalog: Catalog | None = None) -> Scenario:
    """The scenario of ``path`` (default: the packaged one), checked against ``catalog``
    (default: the packaged catalog)."""

    if path is None:
        text = resources.files("costcorrect.report").joinpath(DEFAULT).read_text()
        origin, base = "default scenario", None
    else:
        path = Path(path)
        if not path.is_file():
            raise InputError("scenario", str(path), "an existing scenario YAML file")
        text, origin, base = read_text(path, "scenario"), str(path), path.parent
    try:
        raw = load_yaml(text, "scenario")
    except yaml.YAMLError as err:
        raise InputError("scenario", origin, f"valid YAML ({err})") from None
    if not isinstance(raw, dict):
        raise InputError("scenario", origin, "a YAML mapping of fields")
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as err:
        raise input_error_from(err, "scenario") from None
    catalog = catalog or load_catalog()
    catalog.models.get(scenario.model)
    for gpu in scenario.gpus:
        select_calibration(catalog, catalog.hardware.get(gpu), scenario.stack)
    scenario.search_space()  # the searched parallelism and precisions, checked like the rest
    catalog.workloads.get(scenario.workload)
    return _resolve_files(scenario, base)


def _existing(path: Path, base: Path | None, field: str) -> Path:
    """``path`` relative to the scenario's folder ``base``, which must name a file."""
    full = path if base is None else base / path
    if not full.is_file():
        raise InputError(field, str(path), "an existing file")
    return full


def _resolve_files(scenario: Scenario, base: Path | None) -> Scenario:
    update: dict = {}
    if scenario.routing_data is not None:
        update["routing_data"] = _existing(scenario.routing_data, base, "routing_data")
    if (v := scenario.verification) is not None:
        data = _existing(v.data, base, "verification.data")
        update["verification"] = v.model_copy(update={"data": data})
    if (m := scenario.measurements) is not None:
        fit = _existing(m.fit, base, "measurements.fit")
        runs = [_existing(r, base, f"measurements.runs[{i}]") for i, r in enumerate(m.runs)]
        update["measurements"] = m.model_copy(update={"fit": fit, "runs": runs})
    return scenario.model_copy(update=update)
