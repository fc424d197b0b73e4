"""Accuracy curves α(x) of compute x (samples per query, or training compute) with their
elasticities η = ∂ln α / ∂ln x, and least-squares fitting from (compute, accuracy) points.

- :class:`BestOfN`: coverage 1 − (1 − p)^n of n independent samples; η = y/(e^y − 1) ≤ 1 with
  y = −n·ln(1 − p).
- :class:`BetaCoverage`: the same averaged over a Beta(a, b) difficulty of p:
  1 − B(a, b + n)/B(a, b); still η ≤ 1.
- :class:`PowerLawCoverage`: Brown et al. (2024)'s exponentiated power law
  −ln α = A·n^(−B); η = B·(−ln α), above 1 when α < e^(−1/B).
- :class:`LogLinear`: α = a + b·ln x; η = b/α.
- :class:`TrainingPowerLaw`: Chinchilla-style, error = E + G·T^(−c): α = 1 − E − G·T^(−c);
  η = c·G·T^(−c)/α.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import ClassVar

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit
from scipy.special import betaln, digamma

from costcorrect.errors import InputError


@dataclass(frozen=True)
class BestOfN:
    p: float
    form: ClassVar[str] = "best-of-n"

    def alpha(self, n):
        return 1 - (1 - self.p) ** np.asarray(n, dtype=float)

    def elasticity(self, n):
        y = np.maximum(-np.asarray(n, dtype=float) * np.log1p(-self.p), 1e-300)
        return np.where(y > 1e-12, y * np.exp(-y) / -np.expm1(-y), 1.0)


@dataclass(frozen=True)
class BetaCoverage:
    a: float
    b: float
    form: ClassVar[str] = "beta-coverage"

    def _miss(self, n):
        n = np.asarray(n, dtype=float)
        return np.exp(betaln(self.a, self.b + n) - betaln(self.a, self.b))

    def alpha(self, n):
        return 1 - self._miss(n)

    def elasticity(self, n):
        n = np.asarray(n, dtype=float)
        miss = self._miss(n)
        slope = -miss * (digamma(self.b + n) - digamma(self.a + self.b + n))
        return n * slope / (1 - miss)


@dataclass(frozen=True)
class PowerLawCoverage:
    A: float
    B: float
    form: ClassVar[str] = "power-law"

    def alpha(self, n):
        return np.exp(-self.A * np.asarray(n, dtype=float) ** -self.B)

    def elasticity(self, n):
        return self.A * self.B * np.asarray(n, dtype=float) ** -self.B


@dataclass(frozen=True)
class LogLinear:
    a: float
    b: float
    form: ClassVar[str] = "log-linear"

    def alpha(self, x):
        return self.a + self.b * np.log(np.asarray(x, dtype=float))

    def elasticity(self, x):
        return self.b / self.alpha(x)


@dataclass(frozen=True)
class TrainingPowerLaw:
    E: float
    G: float
    c: float
    form: ClassVar[str] = "training"

    def alpha(self, t):
        return 1 - self.E - self.G * np.asarray(t, dtype=float) ** -self.c

    def elasticity(self, t):
        return self.c * self.G * np.asarray(t, dtype=float) ** -self.c / self.alpha(t)


Curve = BestOfN | BetaCoverage | PowerLawCoverage | LogLinear | TrainingPowerLaw

# form → (class, model function of (x, *params), initial guess, bounds)
_FORMS = {
    "power-law": (
        PowerLawCoverage,
        lambda x, A, B: np.exp(-A * x**-B),
        (1.0, 0.3),
        ((1e-9, 1e-6), (np.inf, 5.0)),
    ),
    "beta-coverage": (
        BetaCoverage,
        lambda x, a, b: 1 - np.exp(betaln(a, b + x) - betaln(a, b)),
        (0.5, 2.0),
        ((1e-4, 1e-4), (1e3, 1e4)),
    ),
    "log-linear": (
        LogLinear,
        lambda x, a, b: a + b * np.log(x),
        (0.5, 0.05),
        ((-np.inf, 0.0), (np.inf, np.inf)),
    ),
    "training": (
        TrainingPowerLaw,
        lambda x, E, G, c: 1 - E - G * x**-c,
        (0.05, 0.5, 0.3),
        ((0.0, 0.0, 1e-4), (1.0, np.inf, 3.0)),
    ),
}
FORMS = tuple(_FORMS)


@dataclass(frozen=True)
class Fit:
    """A fitted curve, its root-mean-square error in accuracy, and η at each input point."""

    curve: Curve
    rmse: float
    compute: list[float]
    accuracy: list[float]
    elasticity: list[float]

    def to_dict(self) -> dict:
        return {
            "form": self.curve.form,
            "parameters": asdict(self.curve),
            "rmse": self.rmse,
            "compute": self.compute,
            "accuracy": self.accuracy,
            "elasticity": self.elasticity,
        }


def fit_curve(form: str, compute, accuracy) -> Fit:
    """Least-squares fit of ``form`` to (compute, accuracy) points; the accuracies must be in
    [0, 1] and not fall as compute grows."""
    if form not in _FORMS:
        raise InputError("form", form, f"one of {', '.join(FORMS)}")
    x, y = np.asarray(compute, dtype=float), np.asarray(accuracy, dtype=float)
    if x.shape != y.shape or x.size < len(_FORMS[form][2]):
        raise InputError(
            "points", x.size, f"at least {len(_FORMS[form][2])} (compute, accuracy) pairs"
        )
    if not (np.isfinite(x).all() and (x > 0).all()):
        raise InputError("compute", x[~(x > 0)][0] if (x <= 0).any() else "nan", "compute > 0")
    if not ((y >= 0) & (y <= 1)).all():
        raise InputError("accuracy", y[~((y >= 0) & (y <= 1))][0], "an accuracy in [0, 1]")
    order = np.argsort(x)
    x, y = x[order], y[order]
    falls = np.flatnonzero(np.diff(y) < 0)
    if falls.size:
        i = falls[0]
        raise InputError(
            "accuracy",
            f"{y[i + 1]:g} at compute {x[i + 1]:g} after {y[i]:g} at {x[i]:g}",
            "a curve that does not fall as compute grows",
        )
    cls, fn, guess, bounds = _FORMS[form]
    try:
        with warnings.catch_warnings():  # an exactly determined fit has no covariance
            warnings.simplefilter("ignore", OptimizeWarning)
            params, _ = curve_fit(fn, x, y, p0=guess, bounds=bounds, maxfev=20000)
    except (RuntimeError, ValueError) as err:
        raise InputError(
            "points", f"{x.size} points", f"points the {form} form can fit ({err})"
        ) from None
    curve = cls(*map(float, params))
    rmse = float(np.sqrt(np.mean((curve.alpha(x) - y) ** 2)))
    return Fit(curve, rmse, x.tolist(), y.tolist(), np.asarray(curve.elasticity(x)).tolist())


def arc_elasticity(low: tuple[float, float], high: tuple[float, float]) -> float:
    """η between two (compute, accuracy) points: Δln α / Δln x."""
    (x0, a0), (x1, a1) = low, high
    if not (x1 > x0 > 0 and a0 > 0 and a1 > 0):
        raise InputError("points", (low, high), "compute 0 < x₀ < x₁ and accuracies > 0")
    return float(np.log(a1 / a0) / np.log(x1 / x0))
