"""The Cost-correct ledger: C = CPM · R · (1 + ρ̄) / α, in $ per million answer tokens.

- CPM: $ per million tokens. Blended ((input + output)/2, the default) or **split**: then every
  attempt bills its input tokens (``cached_fraction`` of them at the cached-input price) and
  R × answer tokens of output, so an input-heavy workload is not priced at the blend.
- R: billed output tokens per answer token (reasoning multiplier; 1 without reasoning).
- ρ̄: extra rollouts per delivered answer (best-of-16 → 15).
- α: accept rate of the verification pipeline; 1/α attempts per accepted answer.

Elasticities (∂ln C/∂ln x) and a lever comparison (the % change of C for a one-step move of
each lever) come at the user's operating point.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from costcorrect.errors import InputError

PER_MILLION = 1e6


@dataclass(frozen=True)
class Prices:
    """$ per million tokens: input, output and (optional) cached input."""

    input_usd_per_m: float
    output_usd_per_m: float
    cached_input_usd_per_m: float | None = None

    def __post_init__(self) -> None:
        for name in ("input_usd_per_m", "output_usd_per_m", "cached_input_usd_per_m"):
            value = getattr(self, name)
            if value is not None and not value >= 0:
                raise InputError(name, value, "a price ≥ 0 in $ per million tokens")

    def plus_energy(self, usd_per_m: float) -> Prices:
        """Self-hosted: add an energy cost per million generated tokens to the output price
        (e.g. from :func:`costcorrect.energy.levers.energy_usd_per_million`)."""
        if not usd_per_m >= 0:
            raise InputError("energy_usd_per_m", usd_per_m, "$ per million tokens ≥ 0")
        return Prices(
            self.input_usd_per_m, self.output_usd_per_m + usd_per_m, self.cached_input_usd_per_m
        )

    @property
    def blended_usd_per_m(self) -> float:
        return (self.input_usd_per_m + self.output_usd_per_m) / 2

    @classmethod
    def from_catalog(cls, model: str, provider: str | None = None) -> Prices:
        """A model's API list price from the catalog's price table."""
        from costcorrect.catalog.prices import find_api_price

        price = find_api_price(model, provider)
        cached = price.cached_input_usd_per_token
        return cls(
            price.input_usd_per_token * PER_MILLION,
            price.output_usd_per_token * PER_MILLION,
            None if cached is None else cached * PER_MILLION,
        )


@dataclass(frozen=True)
class OperatingPoint:
    """The workload: answer tokens per answer, input tokens per attempt and their cached
    fraction, R, ρ̄ and α."""

    answer_tokens: float
    input_tokens: float = 0.0
    cached_fraction: float = 0.0
    reasoning_multiplier: float = 1.0
    extra_rollouts: float = 0.0
    accept_rate: float = 1.0

    def __post_init__(self) -> None:
        checks = (
            ("answer_tokens", self.answer_tokens > 0, "a positive token count"),
            ("input_tokens", self.input_tokens >= 0, "a token count ≥ 0"),
            ("cached_fraction", 0 <= self.cached_fraction <= 1, "a fraction in [0, 1]"),
            ("reasoning_multiplier", self.reasoning_multiplier >= 1, "R ≥ 1"),
            ("extra_rollouts", self.extra_rollouts >= 0, "ρ̄ ≥ 0"),
            ("accept_rate", 0 < self.accept_rate <= 1, "α in (0, 1]"),
        )
        for name, ok, expected in checks:
            if not ok:
                raise InputError(name, getattr(self, name), expected)


@dataclass(frozen=True)
class Lever:
    """One lever moved one step at the operating point: the relative change of C, and the
    elasticity ∂ln C/∂ln x there."""

    lever: str
    step: str
    change: float
    elasticity: float


@dataclass(frozen=True)
class CostCorrect:
    """C in $ per million answer tokens and per answer, its factors, the elasticities of C in
    each factor, and the lever comparison."""

    usd_per_million_answer_tokens: float
    usd_per_answer: float
    cpm_usd_per_m: float  # the CPM the equation uses (blended, or the split's per-token cost)
    pricing: str
    reasoning_multiplier: float
    extra_rollouts: float
    accept_rate: float
    attempts_per_answer: float
    elasticities: dict[str, float]
    levers: tuple[Lever, ...]

    def to_dict(self) -> dict:
        return asdict(self)


def _cost(prices: Prices, op: OperatingPoint, split: bool) -> tuple[float, float]:
    """(C in $ per million answer tokens, the effective CPM)."""
    attempts = (1.0 + op.extra_rollouts) / op.accept_rate
    if not split:
        cpm = prices.blended_usd_per_m
        return cpm * op.reasoning_multiplier * attempts, cpm
    cached = prices.cached_input_usd_per_m
    cached = prices.input_usd_per_m if cached is None else cached
    input_price = (1 - op.cached_fraction) * prices.input_usd_per_m + op.cached_fraction * cached
    per_attempt = (
        op.input_tokens * input_price
        + op.reasoning_multiplier * op.answer_tokens * prices.output_usd_per_m
    )
    cpm = per_attempt / (op.reasoning_multiplier * op.answer_tokens)
    return per_attempt / op.answer_tokens * attempts, cpm


def cost_correct(prices: Prices, op: OperatingPoint, split: bool = False) -> CostCorrect:
    """The ledger at ``op`` (``split``: price input and output separately)."""
    c, cpm = _cost(prices, op, split)
    rho = op.extra_rollouts
    output_share = 1.0
    if split:
        out = op.reasoning_multiplier * op.answer_tokens * prices.output_usd_per_m
        output_share = out / (cpm * op.reasoning_multiplier * op.answer_tokens)
    elasticities = {
        "accept_rate": -1.0,
        "cpm": 1.0,
        "reasoning_multiplier": output_share,
        "extra_rollouts": rho / (1.0 + rho),
    }

    def moved(**change) -> float:
        point = OperatingPoint(**{**asdict(op), **change})
        return _cost(prices, point, split)[0] / c - 1.0

    scaled = Prices(
        prices.input_usd_per_m * 0.99,
        prices.output_usd_per_m * 0.99,
        None if prices.cached_input_usd_per_m is None else prices.cached_input_usd_per_m * 0.99,
    )
    e = elasticities
    levers = [
        Lever(
            "accept rate α",
            "+1 point",
            moved(accept_rate=min(op.accept_rate + 0.01, 1.0)),
            e["accept_rate"],
        ),
        Lever("CPM", "−1 %", _cost(scaled, op, split)[0] / c - 1.0, e["cpm"]),
        Lever(
            "reasoning multiplier R",
            "−1 %",
            moved(reasoning_multiplier=max(op.reasoning_multiplier * 0.99, 1.0)),
            e["reasoning_multiplier"],
        ),
    ]
    if rho > 0:
        fewer = moved(extra_rollouts=max(rho - 1, 0))
        levers.append(Lever("extra rollouts ρ̄", "−1 rollout", fewer, e["extra_rollouts"]))
    return CostCorrect(
        c,
        c * op.answer_tokens / PER_MILLION,
        cpm,
        "split" if split else "blended",
        op.reasoning_multiplier,
        rho,
        op.accept_rate,
        (1 + rho) / op.accept_rate,
        elasticities,
        tuple(levers),
    )


def verified_capability_per_dollar(cpm_usd_per_m: float, factors: dict[str, float]) -> dict:
    """Answer tokens per dollar in the special case R = 1, ρ̄ = 0, α = 1 (1e6 / CPM), and its
    multiplicative split: each factor is a CPM ratio with one lever switched (e.g. bf16 →
    int4, A100 → H100); their product is the total gain."""
    if not cpm_usd_per_m > 0:
        raise InputError("cpm", cpm_usd_per_m, "a positive $ per million tokens")
    bad = {k: v for k, v in factors.items() if not v > 0}
    if bad:
        name, value = next(iter(bad.items()))
        raise InputError(name, value, "a positive CPM ratio")
    gain = float(np.prod(list(factors.values()))) if factors else 1.0
    return {
        "tokens_per_usd": PER_MILLION / cpm_usd_per_m,
        "tokens_per_usd_with_levers": PER_MILLION / cpm_usd_per_m * gain,
        "factors": dict(factors),
        "total_gain": gain,
    }


@dataclass(frozen=True)
class Estimate:
    """α, R, ρ̄ and C measured on per-prompt data, each (value, low, high) at 95 %."""

    prompts: int
    accept_rate: tuple[float, float, float]
    reasoning_multiplier: tuple[float, float, float]
    extra_rollouts: tuple[float, float, float]
    usd_per_million_answer_tokens: tuple[float, float, float]

    def to_dict(self) -> dict:
        return asdict(self)


def estimate(
    prices: Prices,
    accepted,
    answer_tokens,
    billed_output_tokens=None,
    extra_rollouts=None,
    input_tokens=None,
    split: bool = False,
    resamples: int = 1000,
    seed: int = 0,
) -> Estimate:
    """From one row per prompt: α = mean accept, R = Σ billed output / Σ answer tokens, ρ̄ =
    mean extra rollouts, and C at those values, with percentile-bootstrap intervals over
    prompts (seeded)."""
    a = np.asarray(accepted, dtype=float)
    n = a.size
    if n == 0:
        raise InputError("data", "no rows", "at least one prompt")
    answer = np.asarray(answer_tokens, dtype=float)
    billed = answer if billed_output_tokens is None else np.asarray(billed_output_tokens, float)
    rollouts = np.zeros(n) if extra_rollouts is None else np.asarray(extra_rollouts, float)
    inputs = np.zeros(n) if input_tokens is None else np.asarray(input_tokens, float)
    if np.any((a != 0) & (a != 1)):
        raise InputError("accepted", a[(a != 0) & (a != 1)][0], "0 or 1")
    if np.any(answer <= 0) or np.any(billed < answer):
        raise InputError("output tokens", "a row", "answer tokens > 0 and billed ≥ answer tokens")

    def point(pick) -> tuple[float, float, float, float]:
        alpha = a[pick].mean()
        r = billed[pick].sum() / answer[pick].sum()
        rho = rollouts[pick].mean()
        if alpha <= 0:
            return alpha, r, rho, np.inf
        op = OperatingPoint(answer[pick].mean(), inputs[pick].mean(), 0.0, r, rho, alpha)
        return alpha, r, rho, _cost(prices, op, split)[0]

    rng = np.random.default_rng(seed)
    draws = np.array([point(rng.integers(0, n, n)) for _ in range(resamples)])
    value = point(np.arange(n))
    low, high = np.quantile(draws, [0.025, 0.975], axis=0)
    parts = [(float(v), float(lo), float(hi)) for v, lo, hi in zip(value, low, high, strict=True)]
    return Estimate(n, *parts)
