"""SLO contracts (spec §1): the q-quantile form (default p99) and DistServe's attainment form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from costcorrect.errors import InputError


@dataclass(frozen=True)
class Verdict:
    """Whether a contract holds, the measured values it was judged on, and why not."""

    met: bool
    ttft_s: float  # the q-quantile (quantile form) or attainment fraction (attainment form)
    tpot_s: float
    attainment: float
    reason: str


@dataclass(frozen=True)
class Contract:
    """``(T_ttft, T_tpot, q)``: the q-quantile over requests of TTFT ≤ ``ttft_s`` and of TPOT ≤
    ``tpot_s`` (``form="quantile"``), or the fraction of requests meeting both bounds ≥
    ``attainment`` (``form="attainment"``, DistServe)."""

    ttft_s: float
    tpot_s: float
    quantile: float = 0.99
    form: Literal["quantile", "attainment"] = "quantile"
    attainment: float = 0.9

    def __post_init__(self) -> None:
        for name, value in (("ttft", self.ttft_s), ("tpot", self.tpot_s)):
            if not value > 0:
                raise InputError(name, value, "a positive time such as '1s' or '50ms'")
        if not 0 < self.quantile < 1:
            raise InputError("quantile", self.quantile, "a fraction in (0, 1), e.g. 0.99")
        if self.form not in ("quantile", "attainment"):
            raise InputError("form", self.form, "'quantile' or 'attainment'")
        if not 0 < self.attainment <= 1:
            raise InputError("attainment", self.attainment, "a fraction in (0, 1]")

    def describe(self) -> str:
        if self.form == "quantile":
            p = f"p{self.quantile * 100:g}"
            return f"{p} TTFT ≤ {self.ttft_s:g} s and {p} TPOT ≤ {self.tpot_s * 1e3:g} ms"
        return (
            f"≥ {self.attainment:.0%} of requests with TTFT ≤ {self.ttft_s:g} s and "
            f"TPOT ≤ {self.tpot_s * 1e3:g} ms"
        )

    def judge(self, ttft_s: np.ndarray, tpot_s: np.ndarray) -> Verdict:
        """Judge per-request TTFT and TPOT samples (TPOT NaN for single-token outputs; TTFT NaN
        for rejected requests, which count as misses)."""
        ttft = np.asarray(ttft_s, dtype=float)
        ttft = np.where(np.isnan(ttft), np.inf, ttft)
        tpot = np.asarray(tpot_s, dtype=float)
        ok = (ttft <= self.ttft_s) & (np.isnan(tpot) | (tpot <= self.tpot_s))
        attained = float(ok.mean()) if ok.size else 0.0
        q_ttft = float(np.quantile(ttft, self.quantile, method="inverted_cdf"))  # inf-safe
        finite = tpot[np.isfinite(tpot)]
        q_tpot = float(np.quantile(finite, self.quantile)) if finite.size else 0.0
        if self.form == "attainment":
            met = attained >= self.attainment
            reason = "" if met else f"attainment {attained:.1%} < {self.attainment:.0%}"
            return Verdict(met, q_ttft, q_tpot, attained, reason)
        return self.judge_quantiles(q_ttft, q_tpot, attained)

    def judge_quantiles(self, ttft_s: float, tpot_s: float, attainment: float = np.nan) -> Verdict:
        """Judge the quantile form from the q-quantiles of TTFT and TPOT (seconds)."""
        misses = []
        if ttft_s > self.ttft_s:
            misses.append(f"TTFT {ttft_s:.3g} s > {self.ttft_s:g} s")
        if tpot_s > self.tpot_s:
            misses.append(f"TPOT {tpot_s * 1e3:.3g} ms > {self.tpot_s * 1e3:g} ms")
        return Verdict(not misses, ttft_s, tpot_s, attainment, "; ".join(misses))
