"""``serve frontier``: cost per SLO-compliant token over a grid of contracts (p99 TTFT × p99
TPOT) — which architecture is cheapest where — and the Pareto set of (cost, TTFT, TPOT)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from costcorrect.catalog import Catalog, load_catalog
from costcorrect.errors import InputError
from costcorrect.search.curves import LatencyCurve, goodput_from_curve, latency_curve
from costcorrect.search.executor import Executor, LocalExecutor
from costcorrect.search.space import Candidate, SearchSpace, candidates
from costcorrect.serving.analytic import Lengths
from costcorrect.serving.cost import unit_usd_per_million
from costcorrect.workload import synthetic_stream


@dataclass(frozen=True)
class Frontier:
    """Cheapest analytic $ per million output tokens per architecture at each contract:
    ``cost[a, i, j]`` for ``architectures[a]``, ``ttft_s[i]``, ``tpot_s[j]`` (inf: none meets
    it), with the configuration achieving it in ``config[a, i, j]``."""

    model: str
    workload: str
    quantile: float
    ttft_s: np.ndarray
    tpot_s: np.ndarray
    architectures: tuple[str, ...]
    cost: np.ndarray
    config: np.ndarray

    @property
    def winner(self) -> np.ndarray:
        """Index of the cheapest architecture per contract (−1 where none meets it)."""
        best = np.argmin(self.cost, axis=0)
        return np.where(np.isfinite(np.min(self.cost, axis=0)), best, -1)

    @property
    def pareto(self) -> np.ndarray:
        """Boolean (i, j): contracts whose cheapest cost beats every tighter-or-equal contract
        — the non-dominated (cost, TTFT, TPOT) points across all architectures."""
        cheapest = np.min(self.cost, axis=0)
        tighter = np.minimum.accumulate(np.minimum.accumulate(cheapest, axis=0), axis=1)
        before = np.full_like(cheapest, np.inf)
        before[1:, :] = tighter[:-1, :]
        left = np.full_like(cheapest, np.inf)
        left[:, 1:] = tighter[:, :-1]
        return np.isfinite(cheapest) & (cheapest < np.minimum(before, left))

    def to_frame(self) -> pd.DataFrame:
        """One row per (contract, architecture) with its cost and configuration, marking the
        winner and the Pareto points."""
        rows = []
        winner, pareto = self.winner, self.pareto
        for i, t in enumerate(self.ttft_s):
            for j, p in enumerate(self.tpot_s):
                for a, name in enumerate(self.architectures):
                    rows.append(
                        {
                            "ttft_p_s": t,
                            "tpot_p_s": p,
                            "architecture": name,
                            "usd_per_million": self.cost[a, i, j],
                            "configuration": self.config[a, i, j],
                            "winner": bool(winner[i, j] == a),
                            "pareto": bool(pareto[i, j] and winner[i, j] == a),
                        }
                    )
        return pd.DataFrame(rows)


def _sweep(job: tuple) -> LatencyCurve:
    candidate, lengths, quantile = job
    return latency_curve(candidate.arch, lengths, quantile)


def contract_frontier(
    model: str,
    gpus: tuple[str, ...],
    workload: str,
    ttft_s: np.ndarray,
    tpot_s: np.ndarray,
    quantile: float = 0.99,
    demand_rps: float | None = None,
    space: SearchSpace | None = None,
    prefix_hit: float = 0.0,
    requests: int = 4000,
    seed: int = 0,
    executor: Executor | None = None,
    catalog: Catalog | None = None,
    report: Callable[[str], None] | None = None,
) -> Frontier:
    """Analytic cost of every configuration of ``space`` at every contract of the grid
    ``ttft_s × tpot_s`` (seconds); the cheapest configuration per architecture per contract."""
    ttft_s, tpot_s = np.sort(np.asarray(ttft_s, float)), np.sort(np.asarray(tpot_s, float))
    if ttft_s.size == 0 or tpot_s.size == 0 or ttft_s.min() <= 0 or tpot_s.min() <= 0:
        raise InputError("contract grid", f"{ttft_s} × {tpot_s}", "positive bounds in seconds")
    cat = catalog or load_catalog()
    ex = executor or LocalExecutor()
    say = report or (lambda _msg: None)
    stream = synthetic_stream(
        workload, 1.0, requests, seed, prefix_hit_ratio=prefix_hit, catalog=cat
    )
    lengths = Lengths.from_stream(stream)
    cands: list[Candidate] = candidates(model, tuple(gpus), space or SearchSpace(), cat, prefix_hit)
    say(f"sweeping {len(cands)} configurations")
    curves = ex.map(_sweep, [(c, lengths, quantile) for c in cands])
    names = tuple(dict.fromkeys(c.architecture for c in cands))
    cost = np.full((len(names), ttft_s.size, tpot_s.size), np.inf)
    config = np.full(cost.shape, "", dtype=object)
    bound_t, bound_p = np.meshgrid(ttft_s, tpot_s, indexing="ij")
    tokens = lengths.mean_output
    for cand, curve in zip(cands, curves, strict=True):
        good = goodput_from_curve(curve, bound_t, bound_p)
        c = unit_usd_per_million(cand.arch.usd_per_s, good, tokens, demand_rps)
        a = names.index(cand.architecture)
        better = c < cost[a]
        cost[a] = np.where(better, c, cost[a])
        config[a][better] = cand.label
    return Frontier(model, workload, quantile, ttft_s, tpot_s, names, cost, config)


def describe_winner_regions(f: Frontier) -> list[str]:
    """One line per architecture: the share of the contract grid it wins."""
    winner = f.winner
    lines = []
    for a, name in enumerate(f.architectures):
        share = float(np.mean(winner == a))
        lines.append(f"{name}: cheapest on {share:.0%} of the contract grid")
    none = float(np.mean(winner == -1))
    if none > 0:
        lines.append(f"no configuration meets {none:.0%} of the grid")
    return lines
