"""Exact composition of verifier pipelines (spec/economics.md §2).

Verifiers V1..Vk emit accept decisions A_i ∈ {0, 1}; a pipeline accepts by a monotone Boolean
rule f. A joint table gives P(A = a) for the 2^k decision vectors a (cell index Σ a_i·2^i).
The exact accept rate is Σ_a P(a)·f(a); the independence prediction is the multilinear
extension of f at the marginals. Writing f(a) = Σ_S c_S Π_{i∈S} a_i (Möbius form), their
difference is Σ_{|S|≥2} c_S (E[Π_{i∈S} A_i] − Π_{i∈S} p_i): for two verifiers +Cov(A1, A2)
under AND and −Cov under OR, exactly. Every function is vectorised over leading axes of the
joint table (e.g. one table per instance).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from costcorrect.errors import InputError

MAX_VERIFIERS = 12
PROBABILITY_TOLERANCE = 1e-9


def _cells(k: int) -> np.ndarray:
    """(2^k, k) 0/1 decision vectors, cell index Σ a_i·2^i."""
    return (np.arange(2**k)[:, None] >> np.arange(k)[None, :]) & 1


@dataclass(frozen=True)
class Rule:
    """A monotone Boolean acceptance rule over k verifiers, as its truth table (2^k bools
    indexed by Σ a_i·2^i)."""

    name: str
    truth: tuple[bool, ...]

    def __post_init__(self) -> None:
        n = len(self.truth)
        k = n.bit_length() - 1
        if n < 2 or 2**k != n or k > MAX_VERIFIERS:
            raise InputError("rule", n, f"a truth table of 2^k entries, 1 ≤ k ≤ {MAX_VERIFIERS}")
        table = np.asarray(self.truth, bool)
        for i in range(k):  # raising any one decision never turns accept into reject
            low = np.flatnonzero((np.arange(n) >> i) & 1 == 0)
            if np.any(table[low] & ~table[low | (1 << i)]):
                raise InputError(
                    "rule", self.name, "a monotone rule (accepting more never rejects)"
                )

    @property
    def k(self) -> int:
        return len(self.truth).bit_length() - 1

    @classmethod
    def all_of(cls, k: int) -> Rule:
        """AND: accept when every verifier accepts."""
        return cls.at_least(k, k, name=f"AND of {k}")

    @classmethod
    def any_of(cls, k: int) -> Rule:
        """OR: accept when any verifier accepts."""
        return cls.at_least(1, k, name=f"OR of {k}")

    @classmethod
    def at_least(cls, m: int, k: int, name: str | None = None) -> Rule:
        """m-of-k: accept when at least ``m`` of ``k`` verifiers accept."""
        if not 1 <= m <= k:
            raise InputError("m", m, f"between 1 and k = {k}")
        truth = tuple(bool(v) for v in _cells(k).sum(axis=1) >= m)
        return cls(name or f"{m}-of-{k}", truth)

    def mobius(self) -> dict[tuple[int, ...], float]:
        """Coefficients c_S of f(a) = Σ_S c_S Π_{i∈S} a_i (non-zero ones), by subset."""
        f = np.asarray(self.truth, float)
        out = {}
        for mask in range(len(f)):
            subsets = [s for s in range(len(f)) if s & mask == s]
            c = sum((-1) ** (bin(mask).count("1") - bin(s).count("1")) * f[s] for s in subsets)
            if c != 0:
                out[tuple(i for i in range(self.k) if mask >> i & 1)] = float(c)
        return out


def _joint(joint, k: int) -> np.ndarray:
    j = np.asarray(joint, dtype=float)
    if j.shape[-1] != 2**k:
        raise InputError("joint table", j.shape[-1], f"2^{k} = {2**k} cells per table")
    if np.any(j < -PROBABILITY_TOLERANCE) or np.any(
        np.abs(j.sum(axis=-1) - 1) > PROBABILITY_TOLERANCE * 2**k
    ):
        raise InputError("joint table", "cells", "probabilities ≥ 0 summing to 1")
    return j


def joint_table(decisions) -> np.ndarray:
    """Empirical joint table of an (N, k) 0/1 decision matrix."""
    a = np.asarray(decisions)
    if a.ndim != 2 or a.shape[0] == 0:
        raise InputError("decisions", a.shape, "an (N, k) matrix with N ≥ 1")
    if not np.isin(a, (0, 1)).all():
        raise InputError("decision", a[~np.isin(a, (0, 1))][0], "0 or 1")
    k = a.shape[1]
    index = (a.astype(np.int64) << np.arange(k)).sum(axis=1)
    return np.bincount(index, minlength=2**k) / a.shape[0]


def accepted(rule: Rule, decisions) -> np.ndarray:
    """Per instance of an (N, k) 0/1 decision matrix: does the pipeline accept?"""
    a = np.asarray(decisions, dtype=np.int64)
    return np.asarray(rule.truth)[(a << np.arange(rule.k)).sum(axis=1)]


def marginals(joint, k: int) -> np.ndarray:
    """P(A_i = 1) per verifier, shape (..., k)."""
    return _joint(joint, k) @ _cells(k).astype(float)


def accept_rate(rule: Rule, joint) -> np.ndarray:
    """Exact pipeline accept rate Σ_a P(a)·f(a)."""
    return _joint(joint, rule.k) @ np.asarray(rule.truth, float)


def independent_accept_rate(rule: Rule, p) -> np.ndarray:
    """Accept rate if the verifiers were independent with marginals ``p`` (..., k): the
    multilinear extension of the rule."""
    p = np.asarray(p, dtype=float)
    cells = _cells(rule.k)
    prob = np.prod(np.where(cells, p[..., None, :], 1.0 - p[..., None, :]), axis=-1)
    return prob @ np.asarray(rule.truth, float)


def composition_error(rule: Rule, joint) -> np.ndarray:
    """Exact minus independence-predicted accept rate."""
    return accept_rate(rule, joint) - independent_accept_rate(rule, marginals(joint, rule.k))


def interaction_terms(rule: Rule, joint) -> dict[tuple[int, ...], np.ndarray]:
    """Per subset S with |S| ≥ 2 and c_S ≠ 0: c_S·(E[Π_{i∈S} A_i] − Π_{i∈S} p_i). They sum to
    :func:`composition_error`; for two verifiers the one term is ±Cov(A1, A2)."""
    j = _joint(joint, rule.k)
    cells = _cells(rule.k)
    p = j @ cells.astype(float)
    out = {}
    for subset, c in rule.mobius().items():
        if len(subset) < 2:
            continue
        together = j @ np.all(cells[:, subset], axis=1).astype(float)
        out[subset] = c * (together - np.prod(p[..., list(subset)], axis=-1))
    return out


def covariance(joint) -> np.ndarray:
    """Cov(A1, A2) of a two-verifier joint table: P(1, 1) − p1·p2."""
    j = _joint(joint, 2)
    p = j @ _cells(2).astype(float)
    return j[..., 3] - p[..., 0] * p[..., 1]


def same_marginals_pair(p1: float, p2: float, covariances: tuple[float, ...]):
    """Two-verifier joint tables with marginals (p1, p2) and the given covariances (each
    within the Fréchet bounds): candidates that per-verifier scoring cannot tell apart."""
    lo = max(-p1 * p2, -(1 - p1) * (1 - p2))
    hi = min(p1 * (1 - p2), p2 * (1 - p1))
    tables = []
    for cov in covariances:
        if not lo - 1e-12 <= cov <= hi + 1e-12:
            raise InputError("covariance", cov, f"within the Fréchet bounds [{lo:.4g}, {hi:.4g}]")
        both = p1 * p2 + cov
        tables.append([1 - p1 - p2 + both, p1 - both, p2 - both, both])
    return np.array(tables)
