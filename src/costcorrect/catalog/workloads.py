"""Request-length distributions of the traces used by LLM-serving papers.

A workload is a distribution of (input tokens, output tokens) per request. *Empirical* workloads
resample the (input, output) pairs of a packaged trace jointly, so their correlation is kept.
*Parametric* workloads draw input and output independently from a clipped lognormal (or a
constant) fitted to published statistics. All lengths are in tokens.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, model_validator

from costcorrect.catalog.base import CatalogEntry
from costcorrect.errors import InputError
from costcorrect.memory import require_requests_fit

DATA_DIR = "data/workloads"
"""Folder of the packaged trace files, relative to the ``costcorrect.catalog`` package."""


class LengthModel(BaseModel):
    """Tokens per request: ``constant``, or ``exp(N(log_mean, log_sigma²))`` rounded and clipped
    to ``[min_tokens, max_tokens]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    family: Literal["lognormal", "constant"]
    log_mean: float | None = None
    log_sigma: float | None = None
    tokens: int | None = None
    min_tokens: int = 1
    max_tokens: int | None = None
    fitted_to: str

    @model_validator(mode="after")
    def _check(self) -> LengthModel:
        lognormal = self.log_mean is not None and self.log_sigma is not None
        if self.family == "lognormal" and not (lognormal and self.tokens is None):
            raise ValueError("lognormal needs log_mean and log_sigma and no tokens")
        if self.family == "constant" and (self.tokens is None or self.log_mean is not None):
            raise ValueError("constant needs tokens and no log_mean/log_sigma")
        if self.log_sigma is not None and self.log_sigma <= 0:
            raise ValueError("log_sigma must be > 0")
        if self.min_tokens < 0 or (
            self.max_tokens is not None and self.max_tokens < self.min_tokens
        ):
            raise ValueError("need 0 <= min_tokens <= max_tokens")
        return self

    @property
    def _upper(self) -> float:
        return math.inf if self.max_tokens is None else float(self.max_tokens)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` token counts (int64)."""
        if self.tokens is not None:
            return np.full(n, self.tokens, dtype=np.int64)
        x = np.rint(rng.lognormal(self.log_mean, self.log_sigma, n))
        return np.clip(x, self.min_tokens, self._upper).astype(np.int64)

    @property
    def mean(self) -> float:
        """Mean tokens of the clipped distribution (exact, before rounding)."""
        if self.tokens is not None:
            return float(self.tokens)
        return clipped_lognormal_mean(self.log_mean, self.log_sigma, self.min_tokens, self._upper)

    def quantile(self, q: np.ndarray) -> np.ndarray:
        """Token counts at probabilities ``q`` (float array, same shape)."""
        if self.tokens is not None:
            return np.full(np.shape(q), float(self.tokens))
        from scipy.special import ndtri  # lazy: keeps `import costcorrect` fast

        x = np.exp(self.log_mean + self.log_sigma * ndtri(q))
        return np.clip(x, self.min_tokens, self._upper)

    @classmethod
    def fit_lognormal(
        cls,
        mean: float,
        *,
        median: float | None = None,
        log_sigma: float | None = None,
        min_tokens: int = 1,
        max_tokens: int | None = None,
        fitted_to: str,
    ) -> LengthModel:
        """The clipped lognormal with this ``mean`` (tokens) and either this ``median`` (which
        sets ``log_mean``) or this ``log_sigma``; the other parameter is solved for."""
        if (median is None) == (log_sigma is None):
            raise ValueError("give exactly one of median and log_sigma")
        from scipy.optimize import brentq

        hi = math.inf if max_tokens is None else float(max_tokens)
        if median is not None:
            mu = math.log(median)
            sigma = brentq(lambda s: clipped_lognormal_mean(mu, s, min_tokens, hi) - mean, 1e-4, 5)
        else:
            sigma = log_sigma
            mu = brentq(lambda m: clipped_lognormal_mean(m, sigma, min_tokens, hi) - mean, -10, 20)
        return cls(
            family="lognormal",
            log_mean=round(mu, 4),
            log_sigma=round(sigma, 4),
            min_tokens=min_tokens,
            max_tokens=max_tokens,
            fitted_to=fitted_to,
        )


def clipped_lognormal_mean(mu: float, sigma: float, lo: float, hi: float) -> float:
    """``E[clip(X, lo, hi)]`` for ``ln X ~ N(mu, sigma²)``; ``lo >= 0``, ``hi`` may be inf."""
    from scipy.special import ndtr

    a = (math.log(lo) - mu) / sigma if lo > 0 else -math.inf
    b = (math.log(hi) - mu) / sigma
    inner = math.exp(mu + sigma**2 / 2) * (ndtr(b - sigma) - ndtr(a - sigma))
    upper = hi * (1 - ndtr(b)) if math.isfinite(hi) else 0.0
    return float(lo * ndtr(a) + inner + upper)


class WorkloadSpec(CatalogEntry):
    """A named (input tokens, output tokens) distribution of requests."""

    description: str
    kind: Literal["empirical", "parametric"]
    license: str | None = None
    tokenizer: str | None = None
    file: str | None = None
    n_source_requests: int | None = None
    input: LengthModel | None = None
    output: LengthModel | None = None

    @model_validator(mode="after")
    def _check_kind(self) -> WorkloadSpec:
        if self.kind == "empirical":
            if self.file is None or self.n_source_requests is None:
                raise ValueError("an empirical workload needs file and n_source_requests")
            if self.input is not None or self.output is not None:
                raise ValueError("an empirical workload takes no input/output models")
            if not _data_file(self.file).is_file():
                raise ValueError(f"no packaged file {DATA_DIR}/{self.file}")
        elif self.input is None or self.output is None or self.file is not None:
            raise ValueError("a parametric workload needs input and output models and no file")
        return self

    @property
    def origin(self) -> str:
        """Where the workload comes from, in a few words: the first clause of its
        description."""
        return re.split(r"; |\. ", " ".join(self.description.split()), maxsplit=1)[0]

    def sample(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` requests as (input tokens, output tokens), int64 arrays; deterministic per seed."""
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n <= 0:
            raise InputError("n", n, "a positive integer number of requests")
        require_requests_fit("n", int(n))
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise InputError("seed", seed, "a non-negative integer")
        rng = np.random.default_rng(seed)
        if self.kind == "empirical":
            inp, out = load_trace(self.file)
            idx = rng.integers(0, len(inp), size=n)
            return inp[idx].astype(np.int64), out[idx].astype(np.int64)
        return self.input.sample(n, rng), self.output.sample(n, rng)

    @property
    def mean_input_tokens(self) -> float:
        """Mean input (prompt) tokens per request."""
        if self.kind == "empirical":
            return float(load_trace(self.file)[0].mean())
        return self.input.mean

    @property
    def mean_output_tokens(self) -> float:
        """Mean output (generated) tokens per request."""
        if self.kind == "empirical":
            return float(load_trace(self.file)[1].mean())
        return self.output.mean

    def quantiles(self, q: np.ndarray | list[float] | float) -> dict[str, np.ndarray]:
        """Input and output tokens at probabilities ``q`` (in [0, 1]), keyed ``input_tokens`` and
        ``output_tokens``."""
        qs = np.asarray(q, dtype=float)
        if not np.all((qs >= 0) & (qs <= 1)):
            raise InputError("q", q, "probabilities in [0, 1]")
        if self.kind == "empirical":
            inp, out = load_trace(self.file)
            return {"input_tokens": np.quantile(inp, qs), "output_tokens": np.quantile(out, qs)}
        return {"input_tokens": self.input.quantile(qs), "output_tokens": self.output.quantile(qs)}


FIXED_DEFINED = dt.date(2026, 12, 4)  # when the fixed-length workload was defined (no data)


def fixed_workload(input_tokens: int, output_tokens: int) -> WorkloadSpec:
    """Every request ``input_tokens`` in and ``output_tokens`` out (benchmarks' ISL/OSL)."""
    for field, value in (("isl", input_tokens), ("osl", output_tokens)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(field, value, "a positive whole number of tokens")
    source = "fixed lengths (ISL/OSL) given by the caller"

    def constant(tokens: int) -> LengthModel:
        return LengthModel(family="constant", tokens=tokens, fitted_to=source)

    return WorkloadSpec(
        name=f"fixed-{input_tokens}/{output_tokens}",
        source=source,
        date=FIXED_DEFINED,
        description=f"{input_tokens} input and {output_tokens} output tokens per request",
        kind="parametric",
        input=constant(input_tokens),
        output=constant(output_tokens),
    )


def _data_file(file: str) -> Traversable:
    return resources.files("costcorrect.catalog").joinpath(DATA_DIR, file)


@cache
def load_trace(file: str) -> tuple[np.ndarray, np.ndarray]:
    """The packaged (input_tokens, output_tokens) int32 arrays of ``file``; read-only, cached."""
    with _data_file(file).open("rb") as f, np.load(f) as npz:
        arrays = npz["input_tokens"], npz["output_tokens"]
    for a in arrays:
        a.flags.writeable = False
    return arrays
