"""The five routing patterns as instances of Π = κΔ − γ: each a function from the pattern's own
published parameters to (κ, Δ, γ), and from them the speedup they predict. Costs are per unit
of useful output (a token, an answer) relative to the pattern's fixed baseline (the target
model alone, the full depth, the full sample budget, the most accurate model alone), so
speedup = 1/(1 − Π).

Each function computes the oracle's saving Δ, the saving the pattern captures before its
overhead, κΔ, and the overhead's share of the baseline cost γ; Π = κΔ − γ. Nothing is solved
from a published speedup here: :func:`calibrations` compares the predicted speedup with the
published one, and counts a system as a test of the threshold only when the catalog says every
parameter came from the paper, data or code rather than from that speedup.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import brentq

from costcorrect.catalog.published_economics import RoutingSystem, routing_systems
from costcorrect.errors import InputError
from costcorrect.route.premium import PremiumModel, premium_model


@dataclass(frozen=True)
class PatternPoint:
    """A routing pattern's operating point: (κ, Δ, γ), speedup over its fixed baseline, the
    premium model with margin and robustness, and how Δ was set."""

    pattern: str
    kappa: float
    delta: float
    gamma: float
    speedup: float
    model: PremiumModel
    oracle: str

    @property
    def premium(self) -> float:
        return self.model.premium

    def to_dict(self) -> dict:
        return asdict(self)


def _point(pattern: str, delta: float, captured: float, gamma: float, oracle: str):
    """The point with oracle saving Δ, captured saving κΔ and overhead γ; Π = κΔ − γ."""
    if not 0 < delta < 1:
        raise InputError("delta", delta, "an oracle saving in (0, 1)")
    kappa = captured / delta
    if not -1e-9 <= kappa <= 1 + 1e-9:
        raise InputError(
            "parameters",
            f"captured saving {captured:.3f} vs oracle saving {delta:.3f}",
            "a router that saves between nothing and the oracle's saving",
        )
    kappa, delta, gamma = float(np.clip(kappa, 0, 1)), float(delta), float(gamma)
    model = premium_model(kappa, delta, gamma)
    return PatternPoint(pattern, kappa, delta, gamma, 1 / (1 - model.premium), model, oracle)


def _positive(name: str, value: float, expected: str = "a number > 0") -> None:
    if not (np.isfinite(value) and value > 0):
        raise InputError(name, value, expected)


def expected_tokens(acceptance: float, draft_tokens: int) -> float:
    """Tokens per target pass when each drafted token is accepted with probability a
    (independently) and k are drafted: (1 − a^{k+1}) / (1 − a) (Leviathan et al. 2023)."""
    if not 0 <= acceptance < 1:
        raise InputError("acceptance", acceptance, "a in [0, 1)")
    if draft_tokens < 1:
        raise InputError("draft_tokens", draft_tokens, "k ≥ 1 drafted tokens")
    return (1 - acceptance ** (draft_tokens + 1)) / (1 - acceptance)


def speculative_speedup(acceptance: float, draft_tokens: int, cost_ratio: float) -> float:
    """Walltime speedup (1 − a^{k+1}) / ((1 − a)(1 + k·c)); c = draft/target time per pass."""
    if not cost_ratio >= 0:
        raise InputError("cost_ratio", cost_ratio, "c ≥ 0: draft time / target time")
    return expected_tokens(acceptance, draft_tokens) / (1 + draft_tokens * cost_ratio)


def speculative_decoding(acceptance: float, draft_tokens: int, cost_ratio: float) -> PatternPoint:
    """Draft-then-verify: tokens are the queries, the draft is the cheap level. The oracle
    drafts every easy token (share a) and spends one target pass per hard token: Δ = a.
    The draft length caps what is captured: κΔ = 1 − 1/E[tokens]; γ = k·c / E[tokens]."""
    if not cost_ratio >= 0:
        raise InputError("cost_ratio", cost_ratio, "c ≥ 0: draft time / target time")
    tokens = expected_tokens(acceptance, draft_tokens)
    return _point(
        "speculative decoding",
        acceptance,
        1 - 1 / tokens,
        draft_tokens * cost_ratio / tokens,
        "Δ = a: every easy token drafted, one target pass per hard token",
    )


def medusa(acceleration_rate: float, overhead: float, heads: int) -> PatternPoint:
    """Multi-head drafting (Medusa): ``acceleration_rate`` tokens per decoding step at a step
    time ``overhead`` × the plain step. Mapped to speculative decoding with k = heads and the
    geometric acceptance a that gives the same tokens per step, and c = (overhead − 1)/k."""
    if not heads >= 1:
        raise InputError("heads", heads, "at least one decoding head")
    if not 1 < acceleration_rate < heads + 1:
        raise InputError("acceleration_rate", acceleration_rate, f"in (1, {heads + 1})")
    if not overhead >= 1:
        raise InputError("overhead", overhead, "a step-time ratio ≥ 1")
    a = brentq(lambda x: expected_tokens(x, heads) - acceleration_rate, 0.0, 1 - 1e-12)
    point = speculative_decoding(a, heads, (overhead - 1) / heads)
    return PatternPoint(
        "medusa heads",
        point.kappa,
        point.delta,
        point.gamma,
        point.speedup,
        point.model,
        f"Δ = a = {a:.3f}, the geometric acceptance giving {acceleration_rate} tokens/step",
    )


def early_exit(
    layers: int, mean_exit_layer: float, oracle_exit_layer: float = 1.0, overhead: float = 0.0
) -> PatternPoint:
    """Per-token early exit (CALM): cost ∝ layers run. Δ = 1 − oracle layers / L,
    κΔ = 1 − mean exit layer / L, γ = the confidence measure's cost as a share of a full
    pass. With no oracle statistics, ``oracle_exit_layer`` = 1 bounds Δ from above."""
    _positive("layers", layers)
    if not 1 <= oracle_exit_layer <= mean_exit_layer <= layers:
        raise InputError(
            "mean_exit_layer", mean_exit_layer, f"1 ≤ oracle exit ≤ mean exit ≤ {layers} layers"
        )
    if not overhead >= 0:
        raise InputError("overhead", overhead, "an overhead share ≥ 0")
    return _point(
        "early exit",
        1 - oracle_exit_layer / layers,
        1 - mean_exit_layer / layers,
        overhead,
        f"oracle exits after {oracle_exit_layer:g} of {layers} layers on average",
    )


def cascade(
    costs: list[float],
    accuracies: list[float],
    cascade_cost: float,
    cascade_accuracy: float,
    scorer_cost: float = 0.0,
) -> PatternPoint:
    """LLM cascade (FrugalGPT, AutoMix) over K models with per-query ``costs`` and
    ``accuracies``: a scorer decides after each model whether to stop. Baseline: the most
    accurate model alone. Oracle: per query the cheapest model that answers it correctly,
    with models' errors independent (an optimistic oracle, so Δ is an upper bound and κ a
    lower one). κΔ: the saving of the cascade's model spend per query ``cascade_cost`` at
    ``cascade_accuracy`` (its calls to models whose answer it then discards count against
    κ); γ: the scorer's ``scorer_cost`` per query, per correct answer, over the baseline's."""
    costs, accuracies = np.asarray(costs, dtype=float), np.asarray(accuracies, dtype=float)
    if costs.shape != accuracies.shape or costs.size < 2:
        raise InputError("costs", costs.size, "two or more models, one accuracy each")
    if not (np.isfinite(costs).all() and (costs > 0).all()):
        raise InputError("costs", costs.tolist(), "per-query costs > 0")
    for name, value in [("accuracies", a) for a in accuracies] + [
        ("cascade_accuracy", cascade_accuracy)
    ]:
        if not 0 < value <= 1:
            raise InputError(name, value, "an accuracy in (0, 1]")
    _positive("cascade_cost", cascade_cost)
    if not scorer_cost >= 0:
        raise InputError("scorer_cost", scorer_cost, "a cost ≥ 0")
    order = np.argsort(costs)
    c, a = costs[order], accuracies[order]
    first_right = a * np.concatenate([[1.0], np.cumprod(1 - a)[:-1]])
    none_right = float(np.prod(1 - a))
    oracle = (first_right @ c + none_right * c[0]) / (1 - none_right)
    best = int(np.argmax(accuracies))
    fixed = costs[best] / accuracies[best]
    return _point(
        "cascade",
        1 - oracle / fixed,
        1 - cascade_cost / cascade_accuracy / fixed,
        scorer_cost / cascade_accuracy / fixed,
        "cheapest correct model per query, errors independent",
    )


def adaptive_sampling(
    max_samples: int,
    mean_samples: float,
    accuracy_drop: float = 0.0,
    oracle_samples: float = 1.0,
    check_cost: float = 0.0,
) -> PatternPoint:
    """Adaptive self-consistency: stop sampling once the vote is decided. Baseline: majority
    of ``max_samples``; the router uses ``mean_samples`` on average at a relative
    ``accuracy_drop``; the oracle would need ``oracle_samples`` (1 bounds Δ from above);
    ``check_cost``: the stopping test per sample, as a share of a sample."""
    _positive("max_samples", max_samples)
    if not oracle_samples <= mean_samples <= max_samples:
        raise InputError(
            "mean_samples", mean_samples, f"between {oracle_samples} and {max_samples}"
        )
    if not 0 <= accuracy_drop < 1:
        raise InputError("accuracy_drop", accuracy_drop, "a relative drop in [0, 1)")
    if not check_cost >= 0:
        raise InputError("check_cost", check_cost, "a share ≥ 0")
    spent = mean_samples / max_samples / (1 - accuracy_drop)  # per correct, over the baseline
    return _point(
        "adaptive self-consistency",
        1 - oracle_samples / max_samples,
        1 - spent,
        check_cost * spent,
        f"oracle stops after {oracle_samples:g} samples",
    )


def exploration(router_gain: float, oracle_gain: float, probe_cost: float = 0.0) -> PatternPoint:
    """Complexity-aware exploration: a difficulty estimate picks the search strategy and
    budget per query. ``router_gain``/``oracle_gain``: compute saving factor at equal accuracy
    with predicted/true difficulty over the best uniform strategy; ``probe_cost``: the
    difficulty estimate's cost as a share of the baseline per-query compute."""
    _positive("router_gain", router_gain)
    if not 1 <= router_gain <= oracle_gain:
        raise InputError("router_gain", router_gain, f"in [1, oracle_gain = {oracle_gain}]")
    if not probe_cost >= 0:
        raise InputError("probe_cost", probe_cost, "a share ≥ 0")
    return _point(
        "complexity-aware exploration",
        1 - 1 / oracle_gain,
        1 - 1 / router_gain,
        probe_cost,
        f"true-difficulty strategy saves {oracle_gain:g}×",
    )


PATTERNS = {
    "speculative_decoding": speculative_decoding,
    "medusa": medusa,
    "early_exit": early_exit,
    "cascade": cascade,
    "adaptive_sampling": adaptive_sampling,
    "exploration": exploration,
}


def published_systems() -> list[tuple[RoutingSystem, PatternPoint]]:
    """The catalog's six published systems, each through its pattern's function."""
    return [(s, PATTERNS[s.pattern](**s.parameters)) for s in routing_systems()]


#: how close a predicted premium must come to the published one, as a share of Δ: the target
#: the first-order rule meets against measured routers with known truth (route.synthetic)
PREDICTION_TOLERANCE = 0.10


@dataclass(frozen=True)
class Calibration:
    """A published system's point predicted from its parameters, beside its published
    speedup."""

    system: RoutingSystem
    point: PatternPoint

    @property
    def published_premium(self) -> float:
        return 1 - 1 / self.system.published_speedup

    @property
    def error_share_of_delta(self) -> float:
        """|predicted Π − published Π| / Δ."""
        return abs(self.point.premium - self.published_premium) / self.point.delta

    @property
    def verdict(self) -> str:
        """No test of the threshold ("not independently calibrated") when a parameter was
        assumed or solved from the published speedup; otherwise whether κΔ > γ "confirms" or
        "contradicts" the published speedup's side of 1."""
        if not self.system.independently_calibrated:
            return "not independently calibrated"
        agree = self.point.model.pays == (self.system.published_speedup > 1)
        return "confirms" if agree else "contradicts"


def calibrations() -> list[Calibration]:
    """Every published system's prediction against its published speedup."""
    return [Calibration(s, point) for s, point in published_systems()]
