"""Engine agreement: the analytic serving engine against the simulator on a grid of scenarios.

    python -m costcorrect.validate serving [--write docs/validation.md]

For each scenario (architecture × model × workload) the simulator's goodput under a p99
contract is found first; then both engines are compared at 50 % and 90 % of it (p99 TTFT,
p99 TPOT), and the analytic goodput is compared with the simulated one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from costcorrect.catalog import Catalog
from costcorrect.perf import Deployment
from costcorrect.perf.speculative import Speculation
from costcorrect.serving.analytic import Lengths, analyze
from costcorrect.serving.architectures import Chunked, Colocated, Disaggregated, KVLink, KVPool
from costcorrect.serving.closedloop import REQUESTS_PER_USER, closed_loop
from costcorrect.serving.contract import Contract
from costcorrect.serving.goodput import (
    ENGINE_AGREEMENT,
    analytic_closed_loop,
    analytic_goodput,
    analytic_saturation,
    offline_throughput,
    simulated_goodput,
)
from costcorrect.serving.simulator import simulate
from costcorrect.workload import synthetic_stream

STACK = "vidur-kernels"  # GPU-kernel calibration: a FlashAttention-style modern engine
LOADS = (0.5, 0.9)
USERS = 32  # closed-loop users of the load-mode rows
TOKEN_BUDGETS = (512, 2048, 8192)  # chunked prefill budgets τ: Sarathi's and today's engines'
REQUESTS = 40_000
TARGET_LATENCY, TARGET_GOODPUT = 0.15, ENGINE_AGREEMENT
DEPLOYMENTS = (("llama-3.1-8b", "H100-SXM", 1), ("llama-3.1-70b", "H100-SXM", 4))
WORKLOADS = ("sharegpt", "azure-conv-2023")
CONTRACT = Contract(ttft_s=2.0, tpot_s=0.1)


@dataclass(frozen=True)
class Scenario:
    name: str
    arch: object
    workload: str
    prefix_hit: float


def scenarios(catalog: Catalog) -> list[Scenario]:
    out = []
    for model, gpu, tp in DEPLOYMENTS:
        dep = Deployment.from_names(model, gpu, tp, stack=STACK, catalog=catalog)
        link = KVLink(50e9, 1e-3, 0.5)
        for workload in WORKLOADS:
            label = f"{model} {tp}×{gpu} {workload}"
            out += [
                Scenario(f"colocated, {label}", Colocated(dep), workload, 0.0),
                *(
                    Scenario(f"chunked τ={t}, {label}", Chunked(dep, token_budget=t), workload, 0.0)
                    for t in TOKEN_BUDGETS
                ),
                Scenario(
                    f"disaggregated 1P+1D, {label}",
                    Disaggregated(dep, dep, 1, 1, link),
                    workload,
                    0.0,
                ),
                Scenario(
                    f"kvpool 1P+1D h=0.5, {label}",
                    KVPool(dep, dep, 1, 1, link, pool_bytes_per_s=25e9),
                    workload,
                    0.5,
                ),
            ]
    return out + speculative_scenarios(catalog)


def speculative_scenarios(catalog: Catalog) -> list[Scenario]:
    """70B on 4× H100 with speculative decoding — an 8B draft (k 4, a 0.8) and a one-layer
    EAGLE head (k 3, a 0.7) — colocated, chunked and disaggregated, on ShareGPT."""
    model, gpu, tp = DEPLOYMENTS[-1]
    dep = Deployment.from_names(model, gpu, tp, stack=STACK, catalog=catalog)
    out = []
    for speculation in (
        Speculation(catalog.models.get("llama-3.1-8b"), 4, 0.8),
        Speculation(None, 3, 0.7),
    ):
        spec = replace(dep, speculation=speculation)
        label = f"{model} {tp}×{gpu} sharegpt, speculative {speculation.label}"
        out += [
            Scenario(f"colocated, {label}", Colocated(spec), "sharegpt", 0.0),
            Scenario(f"chunked τ=2048, {label}", Chunked(spec, token_budget=2048), "sharegpt", 0.0),
            Scenario(
                f"disaggregated 1P+1D, {label}",
                Disaggregated(spec, spec, 1, 1, KVLink(50e9, 1e-3, 0.5)),
                "sharegpt",
                0.0,
            ),
        ]
    return out


def compare(scenario: Scenario, catalog: Catalog, seed: int = 0) -> list[dict]:
    """Rows of the agreement table for one scenario (goodput row + one per load)."""
    base = synthetic_stream(
        scenario.workload,
        1.0,
        REQUESTS,
        seed,
        prefix_hit_ratio=scenario.prefix_hit,
        catalog=catalog,
    )
    lengths = Lengths.from_stream(base)
    sim_good = simulated_goodput(scenario.arch, CONTRACT, base).rate_per_s
    ana_good = analytic_goodput(scenario.arch, CONTRACT, lengths).rate_per_s
    rows = [
        {
            "scenario": scenario.name,
            "load": "goodput",
            "sim_ttft_p99_s": np.nan,
            "analytic_ttft_p99_s": np.nan,
            "sim_tpot_p99_s": np.nan,
            "analytic_tpot_p99_s": np.nan,
            "sim_goodput_rps": sim_good,
            "analytic_goodput_rps": ana_good,
        }
    ]
    for load in LOADS:
        rate = load * sim_good
        result = simulate(scenario.arch, base.scaled(rate))
        r, m = result.records, result.steady
        an = analyze(scenario.arch, lengths, [rate], quantiles=(0.99,))
        rows.append(
            {
                "scenario": scenario.name,
                "load": f"{load:.0%}",
                "sim_ttft_p99_s": float(np.quantile(r.ttft_s[m], 0.99)),
                "analytic_ttft_p99_s": float(an.ttft_s[0.99][0]),
                "sim_tpot_p99_s": float(np.nanquantile(r.tpot_s[m], 0.99)),
                "analytic_tpot_p99_s": float(an.tpot_s[0.99][0]),
                "sim_goodput_rps": np.nan,
                "analytic_goodput_rps": np.nan,
            }
        )
    return rows


def compare_modes(scenario: Scenario, catalog: Catalog, seed: int = 0) -> list[dict]:
    """Offline and closed-loop throughput (req/s), analytic against simulator."""

    def draw(n: int):
        return synthetic_stream(
            scenario.workload, 1.0, n, seed, prefix_hit_ratio=scenario.prefix_hit, catalog=catalog
        )

    lengths = Lengths.from_stream(draw(REQUESTS))
    offline = offline_throughput(scenario.arch, draw(1000), draw).rate_per_s
    loop = closed_loop(scenario.arch, draw(REQUESTS_PER_USER * USERS), USERS).throughput_rps
    rows = []
    for mode, sim, ana in (
        ("offline", offline, analytic_saturation(scenario.arch, lengths)),
        (f"{USERS} users", loop, analytic_closed_loop(scenario.arch, lengths, USERS)),
    ):
        rows.append(
            {
                "scenario": scenario.name,
                "load": mode,
                "sim_goodput_rps": sim,
                "analytic_goodput_rps": ana,
            }
        )
    return rows


def run(catalog: Catalog) -> pd.DataFrame:
    rows = [
        row
        for s in scenarios(catalog)
        for row in [*compare(s, catalog), *compare_modes(s, catalog)]
    ]
    df = pd.DataFrame(rows)
    df["ttft_error"] = df["analytic_ttft_p99_s"] / df["sim_ttft_p99_s"] - 1
    df["tpot_error"] = df["analytic_tpot_p99_s"] / df["sim_tpot_p99_s"] - 1
    df["goodput_error"] = df["analytic_goodput_rps"] / df["sim_goodput_rps"] - 1
    return df


def _speculative_note(loads: pd.DataFrame, good: pd.DataFrame) -> list[str]:
    """The bullet on the speculative-decoding rows, with their error ranges."""
    spec = loads[loads["scenario"].str.contains("speculative")]
    spec_good = good[good["scenario"].str.contains("speculative")]
    if spec.empty:
        return []
    return [
        f"- **Speculative decoding** ({len(spec_good)} scenarios): p99 TPOT "
        f"{spec['tpot_error'].min():+.1%} to {spec['tpot_error'].max():+.1%}, goodput "
        f"{spec_good['goodput_error'].min():+.1%} to {spec_good['goodput_error'].max():+.1%}. "
        "The analytic engine counts a request's steps by renewal theory per output class (mean "
        "with the last step's overshoot, a normal spread); the simulator draws every step's "
        "accepted length. A p99 TPOT is set by the shortest outputs, where one or two steps "
        "make TPOT a two- or three-valued quantity (a 2-token output takes one step with "
        "probability a, else two). In a disaggregated decode pool a landing request first "
        "waits out the iteration in progress, about three times a plain step with "
        "speculation: the pool model adds half an iteration over the request's tokens when the "
        "instance is busy (without it this table's previous revision had the speculative pools' "
        "p99 TPOT 16 % low), which also "
        "moved the plain pools' rows by a few points toward the simulator.",
    ]


def report_markdown(df: pd.DataFrame) -> str:
    modes = df[df["load"].isin(["offline", f"{USERS} users"])]
    loads = df[~df["load"].isin(["goodput", *modes["load"].unique()])]
    good = df[df["load"] == "goodput"]
    modes_ok = modes["goodput_error"].abs() <= TARGET_GOODPUT
    lat_ok = (loads[["ttft_error", "tpot_error"]].abs() <= TARGET_LATENCY).all(axis=1)
    good_ok = good["goodput_error"].abs() <= TARGET_GOODPUT
    lines = [
        "## Serving engines: analytic against simulator",
        "",
        "Generated by `python -m costcorrect.validate serving --write docs/validation.md`. "
        f"Calibration `{STACK}` (GPU-kernel times, flash-style attention); {REQUESTS:,} requests "
        f"per run, 10 % warm-up and cool-down dropped; contract {CONTRACT.describe()}. "
        f"Targets: p99 TTFT and p99 TPOT within {TARGET_LATENCY:.0%}, goodput within "
        f"{TARGET_GOODPUT:.0%}.",
        "",
        f"Latency rows within target: {int(lat_ok.sum())} of {len(loads)}; goodput rows within "
        f"target: {int(good_ok.sum())} of {len(good)}.",
        "",
        "| scenario | load | p99 TTFT sim | analytic | error | p99 TPOT sim | analytic | error |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for _, r in loads.iterrows():
        lines.append(
            f"| {r['scenario']} | {r['load']} | {r['sim_ttft_p99_s']:.3g} s | "
            f"{r['analytic_ttft_p99_s']:.3g} s | {r['ttft_error']:+.1%} | "
            f"{r['sim_tpot_p99_s'] * 1e3:.3g} ms | {r['analytic_tpot_p99_s'] * 1e3:.3g} ms | "
            f"{r['tpot_error']:+.1%} |"
        )
    lines += ["", "| scenario | goodput sim | analytic | error |", "|---|---|---|---|"]
    for _, r in good.iterrows():
        lines.append(
            f"| {r['scenario']} | {r['sim_goodput_rps']:.3g} req/s | "
            f"{r['analytic_goodput_rps']:.3g} req/s | {r['goodput_error']:+.1%} |"
        )
    lines += [
        "",
        "Load modes (`serve cost --offline`, `--concurrency`): offline throughput (every "
        f"request at t = 0; analytic: the largest stable rate) and a closed loop of {USERS} "
        "users (analytic: the rate at which decode batch + rate × mean TTFT holds them), "
        f"target {TARGET_GOODPUT:.0%}: {int(modes_ok.sum())} of {len(modes)} rows within.",
        "",
        "| scenario | mode | throughput sim | analytic | error |",
        "|---|---|---|---|---|",
        *(
            f"| {r['scenario']} | {r['load']} | {r['sim_goodput_rps']:.3g} req/s | "
            f"{r['analytic_goodput_rps']:.3g} req/s | {r['goodput_error']:+.1%} |"
            for _, r in modes.iterrows()
        ),
        "",
        "### Where the analytic engine misses, and why",
        "",
        "- **Sampling:** p99 at 90 % load is noisy in the simulator because near saturation "
        "busy periods are long and correlated; with 6,000 requests per run the same scenario's "
        "p99 TTFT varied by up to 2× between seeds, so each run uses "
        f"{REQUESTS:,} requests.",
        "- **Where it still misses:** KV-pool TTFT on `azure-conv-2023` is low (about "
        "10–17 %, across seeds up to 22 % at 90 % load). The prefill queue alone shows it "
        "(p99 sojourn 14 % low at 70 % busy), so the likely reason is the batch model: with "
        "half of each prompt cached a full batch holds ~14 prompts, fixed per-iteration work "
        "weighs more, and one η for the batch a prompt rides in smooths over how much longer "
        "a crowded batch runs. Colocated "
        "p99 TPOT is 5–11 % low at 90 % load and colocated goodput 8–9 % optimistic on 70B: "
        "whole-prompt prefills stall every decode, stalls and the decode batch reinforce each "
        "other, and the batch wanders more slowly than a request can average away.",
        "- **What changed the model** (measured here, written up in `docs/serving.md`): the "
        "prefill queue is now a batching server (embedded Markov chain) whose prompts ride with "
        "the prompts that arrived while they waited, which removed TTFT errors of up to +100 % "
        "near saturation; and goodput ends where the running requests' KV would fill the cache "
        "with more than the contract's tail probability, which removed 12–14 % optimism on "
        "ShareGPT with 8B, where KV capacity, not latency, is the limit.",
        "- **Chunked at τ = 2048 and 8192** (today's engines' budgets, added for issue 16): the "
        "analytic chunked model used to charge every prefill-carrying iteration at the whole "
        "budget τ and to average iteration times by time instead of by iteration, which put its "
        "goodput 3–5× below the simulator's at τ = 8192; its TPOT spread, a normal around a "
        "request's share of prefill-carrying iterations, was up to 26 % low at 90 % load and "
        "29 % high at 50 %, and the 70B goodput on the Azure trace a quarter optimistic. A "
        "request's extra time is now the prefill work done during its life: compound Poisson "
        "over the prompts arriving meanwhile, each adding its new tokens' share of a full "
        "iteration, gamma-approximated, with a busy period's variance (its life grows with the "
        "work it admits).",
        *_speculative_note(loads, good),
        "- **Offline disaggregated rows** put every request in the prefill queue at t = 0, so "
        "the prefill pool floods the decode instance with prompts whose KV fits on admission "
        "but not as they grow: where prefill is not the limit (the KV pools, whose cached "
        "halves make prefill cheap) the simulated decode instance preempts and recomputes "
        "prompts, which the analytic saturation rate — a decode batch that fits — leaves out.",
        "- Use the simulator (`--engine sim`) to confirm colocated TPOT-bound answers and "
        "KV-pool TTFT-bound ones.",
    ]
    return "\n".join(lines) + "\n"
