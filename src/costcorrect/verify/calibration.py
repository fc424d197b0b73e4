"""Calibration of probabilistic reports p ∈ [0, 1] against binary outcomes y ∈ {0, 1}
(spec/economics.md §2): strictly proper scores, binned and smooth calibration errors, the Murphy
decomposition of the Brier score, reliability diagrams, and bootstrap intervals. All functions
take equal-length arrays and are numpy-vectorised."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from costcorrect.errors import InputError

EPS = 1e-15  # probabilities are clipped to [EPS, 1 − EPS] inside the log score
STRATEGIES = ("uniform", "quantile")


@dataclass(frozen=True)
class Interval:
    """A statistic with a percentile-bootstrap interval at ``level``."""

    value: float
    low: float
    high: float
    level: float


@dataclass(frozen=True)
class Murphy:
    """Brier = reliability − resolution + uncertainty + within_bin, exactly; ``within_bin`` is
    what binning the reports hides (0 when every bin holds a single report value)."""

    brier: float
    reliability: float
    resolution: float
    uncertainty: float
    within_bin: float


@dataclass(frozen=True)
class Reliability:
    """Per non-empty bin: mean report, observed frequency and count (a reliability diagram)."""

    mean_report: np.ndarray
    observed: np.ndarray
    count: np.ndarray


def check(p, y) -> tuple[np.ndarray, np.ndarray]:
    """Validated float reports in [0, 1] and 0/1 outcomes of equal, non-zero length."""
    p = np.asarray(p, dtype=float).ravel()
    y_raw = np.asarray(y).ravel()
    if p.size == 0:
        raise InputError("reports", "an empty array", "at least one (report, outcome) pair")
    if p.size != y_raw.size:
        raise InputError("outcomes", f"{y_raw.size} values", f"{p.size}, one per report")
    bad = ~np.isfinite(p) | (p < 0) | (p > 1)
    if bad.any():
        raise InputError("report", float(p[bad][0]), "a probability in [0, 1]")
    y = y_raw.astype(float)
    off = (y != 0) & (y != 1)
    if off.any():
        raise InputError("outcome", y_raw[off][0], "0 or 1")
    return p, y


def log_loss(p, y) -> float:
    """Mean negative log-likelihood (nats): the log score as a loss."""
    p, y = check(p, y)
    q = np.clip(p, EPS, 1 - EPS)
    return float(-np.mean(y * np.log(q) + (1 - y) * np.log1p(-q)))


def brier(p, y) -> float:
    """Mean squared error of the reports."""
    p, y = check(p, y)
    return float(np.mean((p - y) ** 2))


def spherical(p, y) -> float:
    """Mean spherical score (higher is better): the probability given to the outcome over the
    norm of the report vector, p_y / √(p² + (1 − p)²)."""
    p, y = check(p, y)
    given = np.where(y == 1, p, 1 - p)
    return float(np.mean(given / np.sqrt(p**2 + (1 - p) ** 2)))


def _bins(p: np.ndarray, bins: int, strategy: str) -> np.ndarray:
    """Bin index of each report: equal-width on [0, 1] or equal-mass (report quantiles);
    edges as scikit-learn's ``calibration_curve`` places them."""
    if not isinstance(bins, int | np.integer) or bins < 1:
        raise InputError("bins", bins, "a positive integer")
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, bins + 1)
    elif strategy == "quantile":
        edges = np.percentile(p, np.linspace(0, 100, bins + 1))
    else:
        raise InputError("strategy", strategy, f"one of {', '.join(STRATEGIES)}")
    return np.searchsorted(edges[1:-1], p, side="right")


def reliability(p, y, bins: int = 10, strategy: str = "uniform") -> Reliability:
    """Reliability diagram of non-empty bins."""
    p, y = check(p, y)
    idx = _bins(p, bins, strategy)
    count = np.bincount(idx, minlength=bins)
    keep = count > 0
    mean_p = np.bincount(idx, weights=p, minlength=bins)[keep] / count[keep]
    observed = np.bincount(idx, weights=y, minlength=bins)[keep] / count[keep]
    return Reliability(mean_p, observed, count[keep])


def ece(p, y, bins: int = 15, strategy: str = "uniform") -> float:
    """Expected calibration error: Σ_b (n_b / N)·|ȳ_b − p̄_b| over equal-width or equal-mass
    bins."""
    r = reliability(p, y, bins, strategy)
    return float(np.sum(r.count * np.abs(r.observed - r.mean_report)) / np.sum(r.count))


FINE_CELLS = 2048  # reports are pooled in this many equal cells for the kernel smoother
SMOOTH_GRID = 201


def _fine(p: np.ndarray) -> np.ndarray:
    return np.minimum((p * FINE_CELLS).astype(np.int64), FINE_CELLS - 1)


def _smooth_from_cells(weight: np.ndarray, residual: np.ndarray, bandwidth: float) -> np.ndarray:
    """Kernel calibration error from per-cell totals (rows: one set of cells each): the
    Nadaraya–Watson regression r of y − p on p (Gaussian kernel reflected at 0 and 1) on a
    grid, interpolated at the cell centres, averaged with the cells' weights."""
    centres = (np.arange(FINE_CELLS) + 0.5) / FINE_CELLS
    t = np.linspace(0.0, 1.0, SMOOTH_GRID)
    kernel = sum(
        np.exp(-0.5 * ((t[:, None] - mirror[None, :]) / bandwidth) ** 2)
        for mirror in (centres, -centres, 2.0 - centres)
    )
    num, den = residual @ kernel.T, weight @ kernel.T  # (rows, grid)
    r = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    pos = centres * (SMOOTH_GRID - 1)  # linear interpolation onto the cell centres
    lo = np.minimum(pos.astype(np.int64), SMOOTH_GRID - 2)
    frac = pos - lo
    at_cells = r[:, lo] * (1 - frac) + r[:, lo + 1] * frac
    return np.sum(weight * np.abs(at_cells), axis=1) / np.sum(weight, axis=1)


def smooth_ece(p, y, bandwidth: float = 0.05) -> float:
    """Kernel calibration error: E|r(p)| with r the Nadaraya–Watson regression of y − p on p
    (Gaussian kernel reflected at 0 and 1, ``bandwidth`` in probability units), the reports
    pooled in 2048 equal cells. Continuous in the reports, unlike binned ECE."""
    p, y = check(p, y)
    if not bandwidth > 0:
        raise InputError("bandwidth", bandwidth, "a positive kernel width")
    cell = _fine(p)
    weight = np.bincount(cell, minlength=FINE_CELLS).astype(float)[None, :]
    residual = np.bincount(cell, weights=y - p, minlength=FINE_CELLS)[None, :]
    return float(_smooth_from_cells(weight, residual, bandwidth)[0])


def murphy(p, y, bins: int = 10, strategy: str = "uniform") -> Murphy:
    """Murphy decomposition of the Brier score over bins, with the within-bin remainder so the
    parts sum to the Brier score exactly."""
    p, y = check(p, y)
    r = reliability(p, y, bins, strategy)
    n = p.size
    base = float(np.mean(y))
    rel = float(np.sum(r.count * (r.mean_report - r.observed) ** 2) / n)
    res = float(np.sum(r.count * (r.observed - base) ** 2) / n)
    unc = base * (1.0 - base)
    score = float(np.mean((p - y) ** 2))
    return Murphy(score, rel, res, unc, score - (rel - res + unc))


def bootstrap(
    metric: Callable[[np.ndarray, np.ndarray], float],
    p,
    y,
    resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> Interval:
    """``metric(p, y)`` with a percentile interval over ``resamples`` resamples of the pairs
    (seeded)."""
    p, y = check(p, y)
    if resamples < 1:
        raise InputError("resamples", resamples, "a positive number of resamples")
    if not 0 < level < 1:
        raise InputError("level", level, "a confidence level in (0, 1)")
    rng = np.random.default_rng(seed)
    values = np.empty(resamples)
    for b in range(resamples):
        pick = rng.integers(0, p.size, p.size)
        values[b] = metric(p[pick], y[pick])
    tail = (1 - level) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return Interval(float(metric(p, y)), float(low), float(high), level)


def proportion(values, seed: int = 0, resamples: int = 1000, level: float = 0.95) -> Interval:
    """The share of 1s in 0/1 ``values`` with its bootstrap interval: resampled counts of a
    proportion are binomial(N, share), so they are drawn directly (seeded)."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        raise InputError("values", "an empty array", "at least one 0/1 value")
    share = float(x.mean())
    draws = np.random.default_rng(seed).binomial(x.size, share, resamples) / x.size
    tail = (1 - level) / 2
    low, high = np.quantile(draws, [tail, 1 - tail])
    return Interval(share, float(low), float(high), level)


@dataclass(frozen=True)
class CalibrationReport:
    """The calibration metrics of a set of reports, each with a bootstrap interval."""

    n: int
    brier: Interval
    log_loss: Interval
    spherical: Interval
    ece: Interval
    smooth_ece: Interval
    bins: int
    strategy: str
    resamples: int


def calibration_report(
    p,
    y,
    bins: int = 15,
    strategy: str = "uniform",
    resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    bandwidth: float = 0.05,
) -> CalibrationReport:
    """Brier, log and spherical scores, ECE and smooth ECE with percentile intervals from a
    compiled Poisson bootstrap (bin edges held at the full sample's)."""
    from costcorrect.verify.bootstrap_kernels import POISSON1_CDF, poisson_bootstrap

    p, y = check(p, y)
    if resamples < 1:
        raise InputError("resamples", resamples, "a positive number of resamples")
    if not 0 < level < 1:
        raise InputError("level", level, "a confidence level in (0, 1)")
    q = np.clip(p, EPS, 1 - EPS)
    terms = np.vstack(
        [
            (p - y) ** 2,
            -(y * np.log(q) + (1 - y) * np.log1p(-q)),
            np.where(y == 1, p, 1 - p) / np.sqrt(p**2 + (1 - p) ** 2),
        ]
    )
    coarse = _bins(p, bins, strategy)
    sums, total, per_bin, cells = poisson_bootstrap(
        terms, p, y, coarse, bins, _fine(p), FINE_CELLS, resamples, seed, POISSON1_CDF
    )
    weight = np.maximum(total, 1.0)
    draws = {
        "brier": sums[:, 0] / weight,
        "log_loss": sums[:, 1] / weight,
        "spherical": sums[:, 2] / weight,
        "ece": np.sum(np.abs(per_bin[:, 2] - per_bin[:, 1]), axis=1) / weight,
        "smooth_ece": _smooth_from_cells(cells[:, 0], cells[:, 1], bandwidth),
    }
    point = {
        "brier": float(np.mean(terms[0])),
        "log_loss": float(np.mean(terms[1])),
        "spherical": float(np.mean(terms[2])),
        "ece": ece(p, y, bins, strategy),
        "smooth_ece": smooth_ece(p, y, bandwidth),
    }
    tail = (1 - level) / 2

    def interval(name: str) -> Interval:
        low, high = np.quantile(draws[name], [tail, 1 - tail])
        return Interval(point[name], float(low), float(high), level)

    return CalibrationReport(p.size, *(interval(name) for name in draws), bins, strategy, resamples)
