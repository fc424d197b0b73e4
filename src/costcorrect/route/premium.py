"""The routing premium's first-order model: Π ≈ κ·Δ − γ, the threshold κ·Δ > γ, the margin
M = κΔ/γ and how large a disclosure error in κ, Δ or γ flips the verdict.

- Δ: relative saving of an oracle router over the best fixed compute level (heterogeneity);
- κ ∈ [0, 1]: the share of that saving a real router captures (for a quadratic loss, the R² of
  its signal for the optimal compute);
- γ ≥ 0: the router's own cost (classifier, draft, probe) as a fraction of the baseline
  per-query cost.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from costcorrect.errors import InputError


def check_parameters(kappa: float, delta: float, gamma: float) -> None:
    """Raise :class:`InputError` unless κ ∈ [0, 1], Δ ∈ [0, 1) and γ ≥ 0."""
    checks = (
        ("kappa", kappa, 0 <= kappa <= 1, "κ in [0, 1]"),
        ("delta", delta, 0 <= delta < 1, "Δ in [0, 1): the oracle's relative saving"),
        ("gamma", gamma, gamma >= 0, "γ ≥ 0: router overhead as a fraction of baseline cost"),
    )
    for name, value, ok, expected in checks:
        if not (isinstance(value, int | float) and math.isfinite(value) and ok):
            raise InputError(name, value, expected)


@dataclass(frozen=True)
class Robustness:
    """Relative disclosure errors that flip the verdict: in κ or Δ alone, in γ alone, and in
    all three at once, each moved against the verdict (``inf``: no error of that kind flips
    it)."""

    kappa_or_delta: float
    gamma: float
    joint: float


@dataclass(frozen=True)
class PremiumModel:
    """First-order routing premium Π = κΔ − γ (a fraction of the fixed policy's cost per
    correct), whether routing pays, the margin M = κΔ/γ and its robustness."""

    kappa: float
    delta: float
    gamma: float
    premium: float
    pays: bool
    margin: float
    robustness: Robustness

    def to_dict(self) -> dict:
        return asdict(self)


def robustness(margin: float) -> Robustness:
    """Flip errors for margin M: when routing pays (M > 1) κ or Δ must fall by 1 − 1/M, γ rise
    by M − 1, or all three move by the smaller root of ε² − (2 + 1/M)ε + (1 − 1/M) = 0; when
    it does not (M < 1) they must move the other way: 1/M − 1, 1 − M, and the root of
    Mε² + (2M + 1)ε + (M − 1) = 0."""
    if margin == math.inf:
        return Robustness(1.0, math.inf, 1.0)
    if margin == 0:
        return Robustness(math.inf, 1.0, 1.0)
    m = margin
    if m >= 1:
        b = 2 + 1 / m
        joint = (b - math.sqrt(b * b - 4 * (1 - 1 / m))) / 2
        return Robustness(1 - 1 / m, m - 1, joint)
    joint = (-(2 * m + 1) + math.sqrt(8 * m + 1)) / (2 * m)
    return Robustness(1 / m - 1, 1 - m, joint)


def premium_model(kappa: float, delta: float, gamma: float) -> PremiumModel:
    """The first-order premium and its threshold for (κ, Δ, γ)."""
    check_parameters(kappa, delta, gamma)
    gain = kappa * delta
    margin = gain / gamma if gamma > 0 else (math.inf if gain > 0 else 0.0)
    return PremiumModel(kappa, delta, gamma, gain - gamma, gain > gamma, margin, robustness(margin))
