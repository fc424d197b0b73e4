"""Fit the serving model's per-iteration costs to measured runs, and predict other runs.

1. **Iteration costs.** A decoding request's TPOT is the mean time of the iterations it rode
   in; with B̄ the mean number of requests decoding over its decode span (from the measured
   records' overlaps), TPOT − t_kernels(B̄) = iteration overhead + per-sequence overhead · B̄,
   fitted by least squares over every completed request of the training runs; t_kernels is
   the perf model's kernel time of a decode step at B̄ (its fixed costs zeroed).
2. **Request latency.** Measured − simulated median TTFT of the lowest-rate training run: time
   outside the engine's iterations (HTTP, tokenisation, scheduling), taken where the least
   queueing outside the model mixes in.

Prediction replays a run's start times and lengths through the discrete-event simulator of a
continuous-batching deployment that mixes prefill chunks of up to ``token_budget`` tokens into
decode iterations (Sarathi-style, as vLLM and ``transformers serve`` schedule). The fitted costs
form a calibration entry (``--catalog fit.yaml --stack NAME``) like ``perf fit`` writes.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import yaml
from scipy.stats import linregress

from costcorrect.catalog.calibrations import Estimate, PerfParams
from costcorrect.catalog.hardware import Hardware
from costcorrect.catalog.models import ModelSpec
from costcorrect.errors import InputError
from costcorrect.measure.records import RequestRecord
from costcorrect.perf import Batch, Deployment
from costcorrect.perf.fit import Z95
from costcorrect.serving.architectures import Chunked
from costcorrect.serving.simulator import simulate
from costcorrect.workload import RequestStream


@dataclass(frozen=True)
class RunStats:
    """Request rate, median and p99 TTFT and TPOT (s) of one run."""

    rate: float
    ttft_p50_s: float
    tpot_p50_s: float
    ttft_p99_s: float
    tpot_p99_s: float


@dataclass(frozen=True)
class ServingFit:
    """Fitted per-iteration costs and request latency of one deployment, with the training
    runs' measured and simulated statistics and the fitted costs' 95 % intervals (the data
    alone set them: no prior)."""

    model: str
    hardware: str
    stack: str
    params: PerfParams
    request_latency_s: float
    max_seqs: int
    token_budget: int
    train: tuple[tuple[RunStats, RunStats], ...] = ()
    estimates: dict[str, Estimate] = field(default_factory=dict)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["params"] = self.params.model_dump()
        out["estimates"] = {name: e.model_dump() for name, e in self.estimates.items()}
        return out

    @classmethod
    def from_dict(cls, data: dict) -> ServingFit:
        """The inverse of :meth:`to_dict` (e.g. a ``bench fit --out`` file)."""
        try:
            train = tuple((RunStats(**m), RunStats(**s)) for m, s in data.get("train", ()))
            return cls(
                data["model"],
                data["hardware"],
                data["stack"],
                PerfParams(**data["params"]),
                float(data["request_latency_s"]),
                int(data["max_seqs"]),
                int(data["token_budget"]),
                train,
                {name: Estimate(**e) for name, e in data.get("estimates", {}).items()},
            )
        except (KeyError, TypeError, ValueError) as err:
            raise InputError(
                "fit", type(err).__name__, f"a `bench fit` JSON file ({err})"
            ) from None

    @classmethod
    def read(cls, path: Path, field: str = "fit") -> ServingFit:
        """The fit in a `bench fit --out` JSON file (``field``: the input named in errors)."""
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as err:
            raise InputError(field, str(path), f"a `bench fit` JSON file ({err})") from None
        return cls.from_dict(data)

    def calibration_yaml(self, source: str, date: dt.date) -> str:
        """The fit as a catalog calibration entry (the request latency in ``fitted_on``);
        ``date``: the measured runs' date."""
        entry = {
            "name": f"{self.hardware}/{self.stack}",
            "hardware": self.hardware,
            "stack": self.stack,
            "source": source,
            "date": date.isoformat(),
            "fitted_on": f"{len(self.train)} measured runs of {self.model}; request latency "
            f"outside the iterations {self.request_latency_s:.6f} s; max_seqs "
            f"{self.max_seqs}; token_budget {self.token_budget}",
            "params": self.params.model_dump(),
            "estimates": {name: e.model_dump() for name, e in self.estimates.items()},
        }
        return yaml.safe_dump({"schema_version": 1, "calibrations": [entry]}, sort_keys=False)


def _completed(records: list[RequestRecord]) -> list[RequestRecord]:
    ok = [r for r in records if r.status == "ok" and np.isfinite(r.tpot_s)]
    if len(ok) < 5:
        raise InputError("records", f"{len(ok)} completed requests", "at least 5 per run")
    return ok


def measured_stats(records: list[RequestRecord]) -> RunStats:
    ok = _completed(records)
    ttft = np.array([r.ttft_s for r in ok])
    tpot = np.array([r.tpot_s for r in ok])
    starts = np.array([r.scheduled_s for r in records])
    span = starts.max() - starts.min()
    rate = (len(records) - 1) / span if span > 0 else np.nan
    q = np.quantile
    return RunStats(float(rate), q(ttft, 0.5), q(tpot, 0.5), q(ttft, 0.99), q(tpot, 0.99))


def decode_concurrency(records: list[RequestRecord]) -> np.ndarray:
    """Per completed request: mean number of requests decoding during its decode span."""
    ok = _completed(records)
    begin = np.array([r.scheduled_s + r.ttft_s for r in ok])
    end = np.array([r.scheduled_s + r.e2e_s for r in ok])
    overlap = np.clip(
        np.minimum(end[:, None], end[None, :]) - np.maximum(begin[:, None], begin[None, :]),
        0,
        None,
    )
    return overlap.sum(axis=1) / np.maximum(end - begin, 1e-9)


def replay_stream(records: list[RequestRecord]) -> RequestStream:
    """The measured requests as a stream: start times, prompt and output tokens."""
    rows = sorted(records, key=lambda r: r.scheduled_s)
    start = rows[0].scheduled_s
    return RequestStream(
        np.array([r.scheduled_s - start for r in rows]),
        np.array([r.prompt_tokens or r.input_tokens_requested for r in rows]),
        np.array([max(2, r.output_tokens or r.output_tokens_requested) for r in rows]),
        np.zeros(len(rows), dtype=np.int64),
        "measured",
    )


def simulated_stats(
    fit: ServingFit, model: ModelSpec, hardware: Hardware, stream: RequestStream
) -> RunStats:
    """Simulated median and p99 TTFT (with the request latency) and TPOT of ``stream``."""
    dep = Deployment(model, hardware, params=fit.params)
    arch = Chunked(
        dep,
        max_seqs=fit.max_seqs,
        token_budget=fit.token_budget,
        max_batch_tokens=max(fit.token_budget, 8192),
    )
    rec = simulate(arch, stream, warmup=0.0).records
    ttft = rec.ttft_s + fit.request_latency_s
    tpot = rec.tpot_s[np.isfinite(rec.tpot_s)]
    q = np.quantile
    return RunStats(np.nan, q(ttft, 0.5), q(tpot, 0.5), q(ttft, 0.99), q(tpot, 0.99))


def fit_serving(
    runs: list[list[RequestRecord]],
    model: ModelSpec,
    hardware: Hardware,
    base: PerfParams | None = None,
    max_seqs: int = 256,
    token_budget: int = 512,
    stack: str = "measured",
) -> ServingFit:
    """Fit to one or more runs (lists of records) of one deployment."""
    if not runs:
        raise InputError("runs", 0, "at least one run of records")
    base = (base or PerfParams()).model_copy(
        update={"iteration_overhead_s": 0.0, "per_sequence_overhead_s": 0.0}
    )
    kernels = Deployment(model, hardware, params=base)
    concurrency, excess = [], []
    for run in runs:
        ok = _completed(run)
        b = decode_concurrency(run)
        context = np.array(
            [(r.prompt_tokens or r.input_tokens_requested) + r.output_tokens / 2 for r in ok]
        )
        concurrency.append(b)
        excess.append(
            np.array([r.tpot_s for r in ok]) - kernels.op_table.total_s(Batch.decode(b, context))
        )
    line = linregress(np.concatenate(concurrency), np.concatenate(excess))
    fitted = {
        "iteration_overhead_s": (float(line.intercept), float(line.intercept_stderr)),
        "per_sequence_overhead_s": (float(line.slope), float(line.stderr)),
    }
    params = base.model_copy(update={name: max(v, 0.0) for name, (v, _) in fitted.items()})
    estimates = {
        name: Estimate(low=max(v - Z95 * se, 0.0), high=max(v + Z95 * se, 0.0), data_share=1.0)
        for name, (v, se) in fitted.items()
    }
    fit = ServingFit(
        model.name, hardware.name, stack, params, 0.0, max_seqs, token_budget, (), estimates
    )
    streams = [replay_stream(run) for run in runs]
    measured = [measured_stats(run) for run in runs]
    calmest = int(np.argmin([m.rate for m in measured]))  # least queueing outside the model
    bare = simulated_stats(fit, model, hardware, streams[calmest])
    latency = float(max(measured[calmest].ttft_p50_s - bare.ttft_p50_s, 0.0))
    fit = replace(fit, request_latency_s=latency)
    train = tuple(
        (m, simulated_stats(fit, model, hardware, s))
        for m, s in zip(measured, streams, strict=True)
    )
    return replace(fit, train=train)


def predict_run(
    fit: ServingFit, model: ModelSpec, hardware: Hardware, records: list[RequestRecord]
) -> tuple[RunStats, RunStats]:
    """(measured, predicted) statistics of a run the fit did not see."""
    return measured_stats(records), simulated_stats(fit, model, hardware, replay_stream(records))
