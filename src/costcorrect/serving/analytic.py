"""Analytic serving engine (spec §4): closed-form queueing and fixed points, numpy-vectorised
over arrival rates (and any knob that broadcasts with them).

Request lengths enter as classes of the stream's lengths (:class:`Lengths`: prompt classes finer
in the long tail, output classes finer at the short end, each with its probability). A prefill
server takes every waiting prompt into its next batch, up to the token budget: its queue is the
embedded Markov chain of :mod:`batch_queue` (busy share, mean wait, the batch a prompt rides
in), and a prompt that waited w rides with the prompts that arrived during the batch in
progress, so its TTFT is v + w + min(ρ·(w + age), full batch). Per architecture:

- **colocated** — decode batch from Little's law ``B = λ·E[D−1]·τ`` with the time per token
  ``τ = t_dec(B) / (1 − ρ_pre)``; a request's TPOT adds the prefill batches that stall it
  (compound Poisson over its lifetime, gamma-approximated) and the decode batch's swelling,
  whose deviations add coherently; TTFT = the batching prompt queue + a decode residual.
- **chunked** — iterations carry ``B`` decodes and up to ``τ_budget − B`` prefill tokens; the
  prefill token server has utilisation ρ; TPOT = decode steps + the prefill work done during a
  request's life (compound Poisson over prompts, gamma-approximated, with a busy period's
  variance: the life grows with the work it admits); TTFT = M/G/1 wait + chunked prefill.
- **disaggregated / kvpool** — prefill pool as batching servers (several: M/G/c scaled by the
  batching gain of one), KV transfer exposed time plus link queueing, decode pool by Little's
  fixed point with the batch-size fluctuation a request averages over its life, and the part
  of the iteration in progress a landing request waits out before its first step.

The decode batch fluctuates (M/G/∞-like, amplified by its own slow-down and by requests
arriving in prefill batches); the KV its requests hold is then normal, and quantiles beyond
the probability that it fills the cache (preemption with recompute, not modelled) are +inf:
that is where goodput ends when KV, not latency, is the limit.

p-quantiles over requests are quantiles of the mixture over the length classes.

Speculative decoding (a deployment's ``speculation``) runs the engine on steps: a request's
D − 1 decode tokens take about (D − 1 + overshoot)/E[L] steps of the composed op table (renewal
theory, :meth:`Lengths.per_step`), each decoding sequence takes k + 1 tokens of a chunked
budget, and a class's TPOT is its steps' time × steps per token, widened by how the number of
steps varies with the accepted lengths.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from itertools import pairwise
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import ndtr

from costcorrect.errors import InputError
from costcorrect.perf import Batch, Deployment
from costcorrect.perf.speculative import accepted_tokens
from costcorrect.serving import quantile_kernels
from costcorrect.serving.architectures import Architecture, Chunked, Disaggregated, KVPool
from costcorrect.serving.batch_queue import BatchQueueState, batch_queue
from costcorrect.serving.queueing import quantile_with_wait, wait_moments
from costcorrect.workload import RequestStream

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from costcorrect.perf.speculative import Speculation

QUANTILES = (0.5, 0.9, 0.99)
FIXED_POINT_ITERATIONS = 12
ROOT_ITERATIONS = 36
NEWTON_ITERATIONS = 10


#: quantile edges of the prompt classes: equal mass up to p90, then finer into the tail,
#: where TTFT quantiles live
PROMPT_EDGES = np.concatenate([np.linspace(0.0, 0.9, 13), [0.95, 0.98, 0.99, 0.995, 1.0]])
#: quantile edges of the output classes: finer at the short end, where one prefill stall
#: spread over few tokens makes the worst TPOTs
OUTPUT_EDGES = np.concatenate([[0.0, 0.005, 0.01, 0.02, 0.04, 0.07], np.linspace(0.1, 1.0, 13)])


def _class_means(sorted_values: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean within each quantile bin, bin probability) of sorted samples; empty bins dropped."""
    cuts = np.round(edges * sorted_values.size).astype(int)
    keep = np.diff(cuts) > 0
    means = np.array([sorted_values[a:b].mean() for a, b in pairwise(cuts) if b > a])
    weights = np.diff(cuts)[keep] / sorted_values.size
    return means, weights


@dataclass(frozen=True)
class Lengths:
    """Discretisation of a stream's request lengths: prompt classes (finer in the tail, with
    probabilities) and output classes (finer at the short end), plus the moments the engine
    needs."""

    prompt: np.ndarray  # (Kp,) input tokens per class (class means)
    prompt_weight: np.ndarray  # (Kp,) probability of each prompt class
    output: np.ndarray  # (K,) output tokens per class (class means)
    output_weight: np.ndarray  # (K,) probability of each output class
    hit_ratio: float  # cached / input tokens
    mean_prompt: float
    mean_output: float
    decode_context: float  # mean KV context over all decode steps, tokens
    decode_context_sq: float  # mean squared KV context over all decode steps, tokens²
    prompt_sq_over_mean: float  # E[P²]/E[P]: token-weighted mean prompt length
    # speculative decoding (see per_step): outputs count engine steps, each emitting this many
    # tokens on average and verifying step_width; per output class, steps per decode token and
    # the relative spread of a request's step count (None: plain decoding, one token a step)
    tokens_per_step: float = 1.0
    step_width: int = 1
    steps_per_token: np.ndarray | None = None
    step_spread: np.ndarray | None = None
    output_inverse: np.ndarray | None = None  # (K,) class mean of 1 / (D − 1) over D > 1

    @classmethod
    def from_stream(cls, stream: RequestStream) -> Lengths:
        p = np.sort(stream.input_tokens.astype(float))
        d = np.sort(stream.output_tokens.astype(float))
        inp = stream.input_tokens.astype(float)
        out = stream.output_tokens.astype(float)
        gaps = out - 1.0
        steps = max(gaps.sum(), 1.0)
        ctx = float(np.sum(gaps * (inp + (out - 2.0) / 2.0)) / steps)
        # Σ_{j<g} (p + j)² over each request's decode steps
        ctx_sq = np.sum(
            gaps * inp**2
            + inp * gaps * (gaps - 1.0)
            + (gaps - 1.0) * gaps * (2.0 * gaps - 1.0) / 6.0
        )
        prompt, weight = _class_means(p, PROMPT_EDGES)
        output, output_weight = _class_means(d, OUTPUT_EDGES)
        inverse, _ = _class_means(
            np.where(d > 1, 1.0 / np.maximum(d - 1.0, 1.0), 0.0), OUTPUT_EDGES
        )
        return cls(
            prompt=prompt,
            prompt_weight=weight,
            output=output,
            output_weight=output_weight,
            hit_ratio=float(stream.cached_tokens.sum() / inp.sum()),
            mean_prompt=float(inp.mean()),
            mean_output=float(out.mean()),
            decode_context=ctx,
            decode_context_sq=float(ctx_sq / steps),
            prompt_sq_over_mean=float((inp**2).mean() / inp.mean()),
            output_inverse=inverse,
        )

    def per_step(self, speculation: Speculation) -> Lengths:
        """The lengths a speculative deployment's engine sees: n = D − 1 decode tokens take
        E[m] ≈ max(1, (n + c)/E[L]) steps, c = E[L²]/(2E[L]) − 1/2 the last step's expected
        overshoot (renewal theory), with sd √(n·Var[L]/E[L]³); a class's steps per token is
        about max(E[1/n], (1 + c·E[1/n])/E[L]) over its requests, from the class's mean of 1/n
        (short outputs gain least); contexts stay in tokens."""
        mean, var = accepted_tokens(speculation.acceptance, speculation.k)
        overshoot = (var + mean**2) / (2.0 * mean) - 0.5
        tokens = self.output - 1.0
        steps = np.where(tokens > 0, np.maximum((tokens + overshoot) / mean, 1.0), 0.0)
        safe = np.maximum(steps, 1.0)
        inverse = self.output_inverse
        if inverse is None:
            inverse = np.where(tokens > 0, 1.0 / np.maximum(tokens, 1.0), 0.0)
        per_token = np.maximum(inverse, (1.0 + overshoot * inverse) / mean)
        return replace(
            self,
            output=1.0 + steps,
            mean_output=1.0 + float(steps @ self.output_weight),
            tokens_per_step=mean,
            step_width=speculation.k + 1,
            steps_per_token=np.where(tokens > 0, per_token, 1.0 / mean),
            step_spread=np.sqrt(np.maximum(tokens, 0.0) * var / mean**3) / safe,
        )

    @property
    def tpot_scale(self) -> np.ndarray:
        """Per output class: TPOT ÷ the mean time of the request's steps (1 without
        speculation)."""
        if self.steps_per_token is None:
            return np.ones(self.classes)
        return self.steps_per_token

    @property
    def kv_tokens_per_request(self) -> float:
        """Mean KV tokens a request holds at its end: prompt plus output, tokens."""
        return self.mean_prompt + 1.0 + (self.mean_output - 1.0) * self.tokens_per_step

    @property
    def classes(self) -> int:
        """Number of output classes (the TPOT mixtures)."""
        return self.output.size

    def prompt_mean(self, values: np.ndarray) -> np.ndarray:
        """Probability-weighted mean over the prompt classes (last axis)."""
        return values @ self.prompt_weight

    def prompt_probs(self, shape: tuple[int, ...]) -> np.ndarray:
        return np.broadcast_to(self.prompt_weight, shape)


@dataclass(frozen=True)
class AnalyticResult:
    """Per-rate arrays: latency quantiles (s), decode batch, prefill utilisation, stability."""

    architecture: str
    rate_per_s: np.ndarray
    ttft_s: dict[float, np.ndarray]
    tpot_s: dict[float, np.ndarray]
    decode_batch: np.ndarray
    prefill_utilization: np.ndarray
    prefill_share: np.ndarray  # fraction of GPU time spent on prefill work (cost split)
    stable: np.ndarray
    decode_overflow: np.ndarray  # P(the running requests' KV fills the cache)

    def to_dict(self) -> dict:
        return asdict(self)


# --- building blocks ----------------------------------------------------------------------


def _prefill_times(dep: Deployment, prompt: np.ndarray, hit: float) -> np.ndarray:
    """Seconds to prefill one prompt of each class alone (prefix hits not recomputed)."""
    cached = np.floor(prompt * hit)
    return dep.op_table.total_s(Batch.prefill(prompt - cached, 1, cached))


def _finite(batch: np.ndarray) -> np.ndarray:
    """Batch sizes usable by the perf model: ≥ 1; NaN/inf (unstable, masked later) → 1."""
    return np.where(np.isfinite(batch) & (batch > 1.0), batch, 1.0)


@dataclass(frozen=True)
class _PrefillQueue:
    """A batching prefill server at each rate: each class's share of its batch's work (s,
    (..., K)), the queue's state, the prompt work arriving per second (busy share) and a full
    batch's work besides one's own prompt (s)."""

    service: np.ndarray
    state: BatchQueueState
    load: np.ndarray
    full_others_s: np.ndarray

    def ttft(self, levels, values: np.ndarray, weights: np.ndarray, p_wait, mean_wait, stable):
        """TTFT quantiles for per-class sojourn ``values`` (s, (..., K)) besides the wait."""
        finite = stable & np.isfinite(mean_wait)
        theta = np.where(finite, mean_wait / np.maximum(p_wait, 1e-300), 0.0)
        rows = np.broadcast_shapes(theta.shape, values.shape[:-1])

        def flat(x):
            return np.ascontiguousarray(np.broadcast_to(x, rows), dtype=float).ravel()

        grid = np.ascontiguousarray(
            np.broadcast_to(np.where(np.isfinite(values), values, 0.0), (*rows, values.shape[-1]))
        ).reshape(-1, values.shape[-1])
        args = (
            grid,
            np.asarray(weights, dtype=float),
            flat(np.where(finite, p_wait, 0.0)),
            flat(theta),
            flat(self.load),
            flat(self.state.mean_age_s),
            flat(self.full_others_s),
            ROOT_ITERATIONS * 2,
        )
        return _quantiles(
            lambda q: np.where(
                finite, quantile_kernels.batched_sojourn_quantile(q, *args).reshape(rows), np.inf
            ),
            levels,
        )


def _prefill_queue(
    dep: Deployment,
    lengths: Lengths,
    hit: float,
    rate_per_server: np.ndarray,
    budget: int,
    fetch_s: np.ndarray | float = 0.0,
) -> _PrefillQueue:
    """A prefill server that batches its queue (:mod:`batch_queue`) up to the token budget.

    A batch of k mean prompts takes T(k) = k·η_k·T(1) (η_k < 1 amortises weights and
    overheads; it exceeds 1 for stacks whose attention is quadratic in the whole batch), with
    the per-prompt variability of the classes' solo times; ``fetch_s`` (per class, s) is added
    per prompt (prefix KV read from a pool)."""
    new = lengths.mean_prompt * (1.0 - hit)
    cached = lengths.mean_prompt * hit
    cap = max(1, round(budget / max(new, 1.0)))
    k = np.arange(1.0, cap + 1.0)
    zero = np.zeros_like(k)
    pairs = new * (cached + (new + 1.0) / 2.0)
    together = dep.op_table.total_s(Batch(k * new, k * pairs, k * (cached + new), k, zero, zero))
    eta = together / (k * together[0])
    compute = _prefill_times(dep, lengths.prompt, hit)
    shares = eta[:, None] * compute + fetch_s  # (cap, K)
    mean = lengths.prompt_mean(shares)
    var = lengths.prompt_mean(shares**2) - mean**2
    rate = np.asarray(rate_per_server, dtype=float)
    state = batch_queue(rate, k * mean, k * var)
    service = np.interp(state.batch, k, eta)[..., None] * compute + fetch_s
    per_prompt = lengths.prompt_mean(service)
    return _PrefillQueue(service, state, rate * per_prompt, (cap - 1.0) * per_prompt)


def _decode_time_and_slope(dep: Deployment, batch: np.ndarray, context: float):
    """(seconds, d seconds / d batch) of one decode step of ``batch`` (≥ 1) sequences."""
    return dep.op_table.decode_seconds_and_slope(_finite(batch), context)


def _decode_time(dep: Deployment, batch: np.ndarray, context: float) -> np.ndarray:
    """One decode step of ``batch`` sequences (at least one) at ``context`` tokens, seconds."""
    return dep.op_table.decode_seconds(_finite(batch), context)


def _batch_capacity(kv_tokens: int, lengths: Lengths, max_seqs: int) -> float:
    """Sequences one batch scheduler can hold: its limit, or its KV tokens over a request's."""
    return float(min(max_seqs, kv_tokens / lengths.kv_tokens_per_request))


def _fixed_point(step, b_max: float) -> tuple[np.ndarray, np.ndarray]:
    """Smallest B = g(B) (g increasing, convex) by Newton from B = 0, which approaches it from
    below; ``step(B)`` returns (g(B), g'(B)). (B, stable) with stable where it exists and
    B ≤ b_max."""
    cap = 4.0 * b_max
    b = np.zeros_like(np.asarray(step(np.asarray(0.0))[0], dtype=float))
    for _ in range(FIXED_POINT_ITERATIONS):
        g, slope = step(b)
        room = 1.0 - slope
        b_next = np.where(room > 1e-9, b + (g - b) / np.maximum(room, 1e-9), np.inf)
        b_next = np.where(b_next < cap, b_next, cap)  # NaN and beyond the cap: the cap
        if np.array_equal(b_next, b):  # Newton has settled (to the last bit)
            break
        b = b_next
    converged = np.abs(step(b)[0] - b) <= 1e-3 * (1 + b)
    stable = np.isfinite(b) & (b < cap) & (b <= b_max) & converged
    return b, stable


def _normal_mixture_quantile(mean, sd, weights: np.ndarray, q: float) -> np.ndarray:
    """q-quantile of a mixture of normals (arrays (..., K), class ``weights``), compiled."""
    mean, sd = np.broadcast_arrays(np.asarray(mean, float), np.asarray(sd, float))
    shape = mean.shape[:-1]
    flat = (-1, mean.shape[-1])
    out = quantile_kernels.normal_mixture_quantile(
        np.ascontiguousarray(mean.reshape(flat)),
        np.ascontiguousarray(sd.reshape(flat)),
        weights,
        q,
        _normal_quantile(q),
        NEWTON_ITERATIONS,
    )
    return out.reshape(shape)


def _normal_quantile(q: float) -> float:
    """Standard normal quantile of ``q``."""
    from statistics import NormalDist

    return NormalDist().inv_cdf(q)


def _averaging_variance_factor(life: np.ndarray, correlation_time: np.ndarray) -> np.ndarray:
    """Var of the time average of a process with exponential autocorrelation over ``life``,
    relative to the process variance: 2(x − 1 + e^{−x})/x² with x = life / correlation time."""
    x = np.maximum(life / np.maximum(correlation_time, 1e-12), 1e-9)
    return 2.0 * (x - 1.0 + np.exp(-x)) / x**2


def _batch_noise(
    dep,
    kv_tokens: int,
    b,
    lengths: Lengths,
    per_token: np.ndarray,
    arrival_batch=1.0,
    stall_variance=None,
) -> tuple[np.ndarray, np.ndarray]:
    """(sd, overflow): sd (s) of a request's mean decode-step time caused by the decode batch
    fluctuating, per output class (..., K), and the probability that the running requests' KV
    fills the cache (..., where preemption with recompute sets in).

    The batch is M/G/∞-like: variance ≈ mean × the mean group in which requests arrive
    (``arrival_batch``: prefill batches finish together), amplified together with the
    correlation time by 1/(1 − ε), ε the elasticity of the step time in the batch (it slows as
    it grows); a request averages over its own life. ``stall_variance(window)`` (colocated) is
    the variance of the stalled fraction of time over a window: stalls slow every decode, so
    the batch swells with them (∂B/∂ρ = B/(1−ρ)/(1−ε)). The KV held is Σ of the contexts of
    the running requests: normal, with the batch's variance and the contexts' spread."""
    ctx = lengths.decode_context
    t_dec, slope = _decode_time_and_slope(dep, b, ctx)
    decoding = np.nan_to_num(b) > 0  # single-token outputs never hold a decode slot
    b = _finite(b)
    eps = np.clip(b * slope / t_dec, 0.0, 0.95)
    amplify = 1.0 / (1.0 - eps)
    life = (lengths.output[None, :] - 1.0) * per_token[..., None]
    window = (lengths.mean_output - 1.0) * per_token * amplify
    variance = b * amplify * arrival_batch
    if stall_variance is not None:
        rho, var_rho = stall_variance(window)
        variance = variance + (b * amplify / (1.0 - rho)) ** 2 * var_rho
    factor = _averaging_variance_factor(life, window[..., None])
    sd = slope[..., None] * np.sqrt(variance[..., None] * factor)
    if lengths.step_spread is not None:  # speculative: the steps a request needs vary
        sd = np.hypot(sd, per_token[..., None] * lengths.step_spread)
    kv_sd = np.sqrt(variance * ctx**2 + b * max(lengths.decode_context_sq - ctx**2, 0.0))
    kv_room = (kv_tokens - b * ctx) / np.maximum(kv_sd, 1e-30)
    overflow = np.where(decoding, ndtr(-kv_room), 0.0)
    return sd, overflow


def _widened_gamma(mean, var, extra_sd):
    """(shape, scale) of the gamma with ``mean`` and standard deviation ``√var + extra_sd``:
    the stalls and the batch swelling are driven by the same arrivals, so their deviations add
    coherently rather than in quadrature."""
    var = (np.sqrt(var) + extra_sd) ** 2
    return mean**2 / var, var / np.maximum(mean, 1e-30)


def _stalled_tpot(t_dec, sd_b, gaps_d, m, ez, ez2, lengths: Lengths, levels):
    """TPOT quantiles (s) when a request's decode steps (``t_dec``, batch noise ``sd_b`` per
    step) are stretched by stalls: over its ``gaps_d`` steps a Poisson number (mean ``m``) of
    stalls of size Z (moments ``ez``, ``ez2``) add a compound-Poisson total, gamma-approximated
    given at least one stall; with none, the TPOT is the decode step smeared by the noise."""
    cond = -np.expm1(-m)
    mean_x = np.where(cond > 0, m * ez / np.maximum(cond, 1e-300), 0.0)
    second = np.where(cond > 0, (m * ez2 + (m * ez) ** 2) / np.maximum(cond, 1e-300), 0.0)
    var_x = np.maximum(second - mean_x**2, 1e-30)
    # the batch noise smears the no-stall atom (normal) and widens the stalled part (gamma)
    shape_b, scale_b = _widened_gamma(mean_x, var_x, sd_b * gaps_d)
    # bracket: no class's TPOT exceeds its stall mean + 10 sd (per gap) + 6 sd of batch noise
    tail = (mean_x + 10.0 * np.sqrt(var_x)) / gaps_d
    scale = lengths.tpot_scale
    hi = (t_dec + tail.max(axis=-1) + 6 * sd_b.max(axis=-1)) * scale.max() + 1e-9
    lo = np.maximum(t_dec - 6 * sd_b.max(axis=-1), 0.0) * scale.min()
    n, k = np.size(t_dec), lengths.classes

    def grid(x):
        return np.ascontiguousarray(np.broadcast_to(x, (n, k)), dtype=float)

    return _quantiles(
        lambda q: quantile_kernels.stalled_tpot_quantile(
            q,
            np.nan_to_num(t_dec),
            grid(np.nan_to_num(sd_b)),
            gaps_d[0],
            lengths.output_weight,
            grid(np.exp(-m)),
            grid(cond),
            grid(np.nan_to_num(shape_b, nan=1.0)),
            grid(np.nan_to_num(scale_b, nan=1.0)),
            scale,
            np.nan_to_num(lo),
            np.nan_to_num(hi, nan=1.0),
            ROOT_ITERATIONS,
        ),
        levels,
    )


def _quantiles(q_fn, levels: tuple[float, ...]) -> dict[float, np.ndarray]:
    return {q: q_fn(q) for q in levels}


# --- architectures ---------------------------------------------------------------------------


def _colocated(arch, lengths: Lengths, rate: np.ndarray, levels) -> AnalyticResult:
    dep = arch.deployment
    lam = rate / arch.schedulers
    queue = _prefill_queue(dep, lengths, lengths.hit_ratio, lam, arch.max_batch_tokens)
    service, m_batch = queue.service, queue.state.mean_batch  # (..., K): shares of batch work
    mean_s, mean_s2 = lengths.prompt_mean(service), lengths.prompt_mean(service**2)
    rho = queue.state.p_wait  # the prefill busy share
    gaps = lengths.mean_output - 1.0
    b_max = _batch_capacity(arch.scheduler_kv_tokens, lengths, arch.max_seqs)
    free = np.where(rho < 1, 1.0 - rho, np.nan)

    def step(b):
        t, slope = _decode_time_and_slope(dep, b, lengths.decode_context)
        scale = lam * gaps / free
        return scale * t, scale * slope

    b, stable = _fixed_point(step, b_max)
    stable &= rho < 1
    t_dec = _decode_time(dep, b, lengths.decode_context)
    tau = t_dec / free
    # TPOT per output class: decode step + stalls. Prefill iterations come at rate λ/m, each
    # of m prompts (size Z = own share + (m − 1)·E[S]); a request sees those started during its
    # decode life and the one right after its own batch (prompts that arrived meanwhile).
    d = lengths.output[None, :]
    life = (d - 1.0) * tau[..., None]
    extra = ((queue.state.batch - 1.0) * mean_s)[..., None]
    ms = mean_s[..., None] + extra  # E[Z]
    ms2 = mean_s2[..., None] + 2.0 * extra * mean_s[..., None] + extra**2  # E[Z²]
    m = (lam / m_batch)[..., None] * (life + ms)
    gaps_d = np.maximum(d - 1.0, 1.0)

    def stall_variance(window):
        # stalled time over a window: compound Poisson of batches (rate λ/m, size Z)
        return rho, (lam / m_batch) * ms2[..., 0] / np.maximum(window, 1e-12)

    sd_b, overflow = _batch_noise(
        dep, arch.scheduler_kv_tokens, b, lengths, tau, queue.state.batch, stall_variance
    )
    tpot = _stalled_tpot(t_dec, sd_b, gaps_d, m, ms, ms2, lengths, levels)
    # TTFT: the batching prompt queue, plus the residual of a decode iteration in progress
    residual = np.where(b > 0, t_dec / 2.0, 0.0)
    values = service + residual[..., None]
    state = queue.state
    ttft = queue.ttft(
        levels, values, lengths.prompt_weight, state.p_wait, state.mean_wait_s, rho < 1
    )
    return AnalyticResult(arch.name, rate, ttft, tpot, b, rho, rho, stable, overflow)


def _chunked(arch: Chunked, lengths: Lengths, rate: np.ndarray, levels) -> AnalyticResult:
    dep = arch.deployment
    table = dep.op_table
    lam = rate / arch.schedulers
    new_tokens = lengths.mean_prompt * (1.0 - lengths.hit_ratio)
    b_max = _batch_capacity(arch.scheduler_kv_tokens, lengths, arch.max_seqs)
    budget = float(arch.token_budget)
    ctx = lengths.decode_context
    pl = lengths.prompt_sq_over_mean  # token-weighted prompt length

    # a prefill iteration carries the budget left by the decodes, but no more than the prompt it
    # serves (token-weighted new tokens): with τ above the prompts, an iteration holds one
    # prompt, not τ tokens of them
    prompt_cap = max(pl * (1.0 - lengths.hit_ratio), 1.0)

    def chunk_of(b):  # each decoding sequence runs step_width tokens (k + 1 when verifying)
        return np.maximum(np.minimum(budget - lengths.step_width * b, prompt_cap), 1.0)

    # a full iteration depends on B alone: tabulate it over B once, interpolate per rate
    b_grid = np.arange(1.0, max(budget, 2.0) + 1.0)
    chunk_grid = chunk_of(b_grid)
    cached_grid = np.maximum(pl / 2.0 - chunk_grid / 2.0, 0.0)
    full_grid = table.total_s(Batch.prefill(chunk_grid, 1, cached_grid) + Batch.decode(b_grid, ctx))
    dec_grid = _decode_time(dep, b_grid, ctx)

    def iteration_times(b):
        b = np.minimum(_finite(b), b_grid[-1])
        return np.interp(b, b_grid, full_grid), np.interp(b, b_grid, dec_grid), chunk_of(b)

    def mean_iteration(b):
        # rho: the share of *time* in prefill-carrying iterations; a decode token waits one
        # iteration, so its mean wait is time ÷ iterations, 1 / (rho/t_full + (1 − rho)/t_dec)
        t_full, t_dec, chunk = iteration_times(b)
        rho = lam * new_tokens * t_full / chunk
        per_s = rho / t_full + (1 - rho) / t_dec
        return np.where(rho < 1, 1.0 / per_s, np.nan), rho

    def step(b):  # slope by a unit difference: the mixed iteration is not linear in B
        g = lam * (lengths.mean_output - 1.0) * mean_iteration(b)[0]
        return g, lam * (lengths.mean_output - 1.0) * mean_iteration(b + 1.0)[0] - g

    b, stable = _fixed_point(step, min(b_max, (budget - 1.0) / lengths.step_width))
    t_full, t_dec, chunk = iteration_times(b)
    t_mean, rho = mean_iteration(b)
    stable &= rho < 1
    # TPOT: decode steps stretched by the prefill work done during a request's life. Each prompt
    # adds its new tokens' share of a full iteration's extra time (compound Poisson, rate λ);
    # the life L = base + X(L) grows with the work it admits, so X's variance is a busy
    # period's (Takács): λ·base·E[x²]/(1 − ρₓ)³, ρₓ = the extra-time share, base = gaps·t_dec
    d = lengths.output[None, :]
    gaps_d = np.maximum(d - 1.0, 1.0)
    delta = t_full - t_dec
    x = (lengths.prompt * (1 - lengths.hit_ratio))[None, :] * (delta / chunk)[..., None]
    ex, ex2 = lengths.prompt_mean(x), lengths.prompt_mean(x**2)
    rho_x = np.minimum(rho * delta / t_full, 1.0 - 1e-9)
    m = lam[..., None] * gaps_d * t_mean[..., None]  # prompts arriving during the life
    sd_b, overflow = _batch_noise(dep, arch.scheduler_kv_tokens, b, lengths, t_mean)
    ez2 = (ex2 / (1.0 - rho_x) ** 2)[..., None]
    tpot = _stalled_tpot(t_dec, sd_b, gaps_d, m, ex[..., None], ez2, lengths, levels)
    # TTFT: prompt tokens are served FCFS at chunk tokens per full iteration (an M/G/1 on
    # prompts); a prompt's own chunks end on an iteration boundary (at least one iteration),
    # after the residual of the iteration in progress when it arrived
    new = (lengths.prompt * (1 - lengths.hit_ratio))[None, :]
    service = np.where(stable[..., None], new / chunk[..., None] * t_full[..., None], 0.0)
    mean_s = lengths.prompt_mean(service)
    scv = lengths.prompt_mean(service**2) / np.maximum(mean_s**2, 1e-30) - 1.0
    p_wait, mean_wait = wait_moments(lam, mean_s, np.maximum(scv, 0.0), 1)
    p_wait = np.where(stable, p_wait, 1.0)
    mean_wait = np.where(stable, mean_wait, np.inf)
    # the iteration in progress at an arrival is length-biased: its mean is the time-weighted
    # one, rho·t_full + (1 − rho)·t_dec, and half of it remains
    in_progress = rho * t_full + (1 - rho) * t_dec
    own = np.maximum(service, t_full[..., None]) + (in_progress / 2.0)[..., None]
    own = np.where(stable[..., None], own, 0.0)  # unstable rows are inf anyway
    probs = lengths.prompt_probs(own.shape)
    ttft = _quantiles(lambda q: quantile_with_wait(q, own, probs, p_wait, mean_wait), levels)
    # time-weighted: full iterations carry chunk prefill tokens beside B decodes
    share = rho * chunk / (chunk + _finite(b))
    return AnalyticResult(arch.name, rate, ttft, tpot, b, rho, share, stable, overflow)


#: recent pool analyses of disaggregated deployments, keyed by their inputs' identities (the
#: objects pinned in the entry, so an id is not reused while cached) and values; sweeps over
#: the KV link (break-even's bandwidth axis) repeat them for every link
_POOLS: dict[tuple, tuple] = {}
POOL_MEMO_ENTRIES = 256


def _pools_memo(pinned: tuple, values: tuple, compute: Callable[[], tuple]) -> tuple:
    """``compute()`` once per (``pinned`` objects' identities, ``values``); the result is
    shared — callers must not modify its arrays."""
    key = (tuple(id(o) for o in pinned), values)
    entry = _POOLS.get(key)
    if entry is None:
        result = compute()
        for array in _arrays(result):
            array.flags.writeable = False  # shared: a caller writing to it would fail loudly
        if len(_POOLS) >= POOL_MEMO_ENTRIES:
            _POOLS.pop(next(iter(_POOLS)))
        entry = _POOLS[key] = (pinned, result)
    return entry[1]


def _arrays(value) -> list[np.ndarray]:
    """The numpy arrays inside nested tuples and dicts."""
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, dict):
        value = tuple(value.values())
    if isinstance(value, tuple):
        return [a for v in value for a in _arrays(v)]
    return []


def _disaggregated(
    arch: Disaggregated, lengths: Lengths, rate: np.ndarray, levels
) -> AnalyticResult:
    is_pool = isinstance(arch, KVPool)
    hit = lengths.hit_ratio if is_pool else 0.0
    fetch = 0.0
    if is_pool and math.isfinite(arch.pool_bytes_per_s):
        fetch = np.floor(lengths.prompt * hit) * arch.kv_bytes_per_token / arch.pool_bytes_per_s
    settings = (arch.n_prefill, arch.n_decode, arch.max_batch_tokens, arch.max_seqs, hit)
    pinned = (arch.prefill, arch.decode, lengths)
    queue, (b, fixed, tpot, overflow) = _pools_memo(
        pinned,
        (*settings, np.asarray(fetch).tobytes(), rate.tobytes(), tuple(levels)),
        lambda: _pools(arch, lengths, rate, levels, hit, fetch),
    )
    service, state = queue.service, queue.state
    p_wait, mean_wait = state.p_wait, state.mean_wait_s
    if arch.n_prefill > 1:  # M/G/c, scaled by what batching does to one server's wait
        mean_s = lengths.prompt_mean(service)
        scv = np.maximum(lengths.prompt_mean(service**2) / mean_s**2 - 1.0, 0.0)
        p_c, w_c = wait_moments(rate, mean_s, scv, arch.n_prefill)
        p_1, w_1 = wait_moments(rate / arch.n_prefill, mean_s, scv, 1)
        ok = np.isfinite(w_1) & (w_1 > 0) & (p_1 > 0)
        mean_wait = np.where(ok, w_c * mean_wait / np.where(ok, w_1, 1.0), mean_wait)
        p_wait = np.where(ok, np.minimum(p_c * p_wait / np.where(ok, p_1, 1.0), 1.0), p_wait)
    rho = state.p_wait
    # KV transfer: exposed part + latency, plus FIFO queueing on each prefill instance's link
    link = arch.link
    xfer = lengths.prompt * arch.kv_bytes_per_token / link.bytes_per_s
    rate_link = rate / arch.n_prefill
    rho_link = rate_link * lengths.prompt_mean(xfer)
    link_wait = np.where(
        rho_link < 1,
        rate_link * lengths.prompt_mean(xfer**2) / (2 * np.maximum(1 - rho_link, 1e-12)),
        np.inf,
    )
    values = service + ((1 - link.overlap) * xfer + link.latency_s)[None, :] + link_wait[..., None]
    unstable_link = rho_link >= 1
    prefill_ok = (rho < 1) & ~unstable_link
    ttft = queue.ttft(levels, values, lengths.prompt_weight, p_wait, mean_wait, prefill_ok)
    stable = fixed & (rho < 1) & ~unstable_link
    no_split = np.full(rate.shape, np.nan)  # pools are priced separately
    return AnalyticResult(arch.name, rate, ttft, dict(tpot), b, rho, no_split, stable, overflow)


def _pools(arch: Disaggregated, lengths: Lengths, rate: np.ndarray, levels, hit: float, fetch):
    """What a disaggregated deployment's analysis owes its pools alone, not the KV link: the
    prefill queue, and the decode pool's batch (Little's fixed point per instance, with
    whether it exists), TPOT quantiles (B's fluctuation averaged over a request's
    life) and KV-overflow probability."""
    queue = _prefill_queue(
        arch.prefill, lengths, hit, rate / arch.n_prefill, arch.max_batch_tokens, fetch
    )
    dep = arch.decode
    lam_d = rate / arch.n_decode
    gaps = lengths.mean_output - 1.0
    ctx = lengths.decode_context
    b_max = _batch_capacity(dep.kv_capacity_tokens, lengths, arch.max_seqs)

    def step(b):
        t, slope = _decode_time_and_slope(dep, b, ctx)
        return lam_d * gaps * t, lam_d * gaps * slope

    b, fixed = _fixed_point(step, b_max)
    t_dec = _decode_time(dep, b, ctx)
    # a prefill batch's prompts reach the decode instances together (shared among them)
    group = 1.0 + (queue.state.batch - 1.0) / arch.n_decode
    sd, overflow = _batch_noise(dep, dep.kv_capacity_tokens, b, lengths, t_dec, group)
    scale = lengths.tpot_scale
    # a request lands while the iteration in progress runs (the instance is busy with
    # probability 1 − e^(−B)): half of it, uniform over it, comes before its first step
    busy = -np.expm1(-_finite(b))[..., None]
    per_token = lengths.output_inverse if lengths.output_inverse is not None else 0.0
    join = busy * t_dec[..., None] * per_token
    mean = t_dec[..., None] * scale + join / 2.0
    sd = np.hypot(sd * scale, join / np.sqrt(12.0))
    tpot = _quantiles(
        lambda q: _normal_mixture_quantile(mean, sd, lengths.output_weight, q), levels
    )
    return queue, (b, fixed, tpot, overflow)


def analyze(
    arch: Architecture,
    lengths: Lengths,
    rate: ArrayLike,
    quantiles: tuple[float, ...] = QUANTILES,
) -> AnalyticResult:
    """Latency ``quantiles`` of ``arch`` at each arrival rate in ``rate`` (requests/s)."""
    rate = np.atleast_1d(np.asarray(rate, dtype=float))
    if np.any(~np.isfinite(rate)) or np.any(rate <= 0):
        raise InputError(
            "rate",
            float(rate[~(np.isfinite(rate) & (rate > 0))][0]),
            "a positive arrival rate in requests/s",
        )
    levels = tuple(quantiles)
    if arch.simulated_only:
        raise InputError(
            "engine",
            "analytic",
            f"the simulator for {arch.name} with {arch.reservation} KV reservation "
            "(historical baselines are simulated only: --engine sim)",
        )
    if arch.decoder.speculation is not None:
        lengths = lengths.per_step(arch.decoder.speculation)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if isinstance(arch, Disaggregated):
            result = _disaggregated(arch, lengths, rate, levels)
        elif isinstance(arch, Chunked):
            result = _chunked(arch, lengths, rate, levels)
        else:
            result = _colocated(arch, lengths, rate, levels)
    overflow = np.where(result.stable, result.decode_overflow, 1.0)

    def bounded(q: float, values: np.ndarray) -> np.ndarray:
        # a quantile beyond the share of requests that meet a full KV cache (admission stalls,
        # preemption with recompute) is not modelled: report it as unbounded
        return np.where(result.stable & (overflow <= 1.0 - q), values, np.inf)

    return AnalyticResult(
        result.architecture,
        rate,
        {q: bounded(q, v) for q, v in result.ttft_s.items()},
        {q: bounded(q, v) for q, v in result.tpot_s.items()},
        result.decode_batch,
        result.prefill_utilization,
        result.prefill_share,
        result.stable,
        overflow,
    )
