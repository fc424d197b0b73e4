"""Speculative decoding on the op table: a draft proposes ``k`` tokens per sequence (``k``
decode steps of a smaller draft model), the target verifies all k + 1 positions in one step
(a chunk of k + 1 new tokens on the sequence's cached context, with logits at every position),
and each position is accepted with probability ``acceptance`` until the first rejection.
Accepted tokens per step (the target's own token included) follow

    P(L = j + 1) = a^j (1 − a) for j < k,   P(L = k + 1) = a^k,   E[L] = (1 − a^(k+1)) / (1 − a),

so the time per output token is (k · t_draft + t_verify) / E[L] against plain decoding's
t_decode. Large batches turn the verify step compute-bound, where it stops paying."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from costcorrect.errors import InputError
from costcorrect.perf.batch import Batch
from costcorrect.perf.deployment import Deployment
from costcorrect.perf.roofline import _gemm_flops


def accepted_tokens(acceptance: float, k: int) -> tuple[float, float]:
    """(Mean, variance) of the tokens one speculative step emits (the target's included)."""
    _check(acceptance, k)
    lengths = np.arange(1, k + 2)
    p = acceptance ** (lengths - 1) * (1 - acceptance)
    p[-1] = acceptance**k
    mean = float(lengths @ p)
    return mean, float((lengths - mean) ** 2 @ p)


def sample_accepted(acceptance: float, k: int, steps: int, seed: int = 0) -> np.ndarray:
    """Tokens emitted by ``steps`` speculative steps with i.i.d. acceptance (seeded)."""
    _check(acceptance, k)
    draws = np.random.default_rng(seed).random((steps, k)) < acceptance
    first_rejection = np.where(draws.all(axis=1), k, np.argmin(draws, axis=1))
    return first_rejection + 1


def _check(acceptance: float, k: int) -> None:
    if not 0 <= acceptance < 1:
        raise InputError("acceptance", acceptance, "a per-token acceptance rate in [0, 1)")
    if not (isinstance(k, int | np.integer) and 1 <= k <= 16):
        raise InputError("k", k, "draft tokens per step, an integer 1–16")


@dataclass(frozen=True)
class SpeculativeStep:
    """One batch size: the draft's k steps, the verify step and plain decoding (seconds), the
    tokens per step, and the time per output token with and without speculation."""

    batch: float
    context: float
    k: int
    acceptance: float
    draft_s: float
    verify_s: float
    decode_s: float
    tokens_per_step: float

    @property
    def tpot_s(self) -> float:
        return (self.draft_s + self.verify_s) / self.tokens_per_step

    @property
    def speedup(self) -> float:
        """Plain decoding's time per token ÷ speculative decoding's (> 1: it pays)."""
        return self.decode_s / self.tpot_s

    def to_dict(self) -> dict:
        return {**asdict(self), "tpot_s": self.tpot_s, "speedup": self.speedup}


def _logit_seconds(dep: Deployment, rows: float) -> float:
    """Extra LM-head time for ``rows`` more positions with logits (the weights are read
    anyway: their FLOP at the GEMM rate)."""
    m = dep.model
    return 2.0 * m.hidden_size * m.vocab_size / dep.tp * rows / _gemm_flops(dep)


def speculative_steps(
    target: Deployment,
    draft: Deployment,
    batches,
    context: float,
    k: int = 4,
    acceptance: float = 0.8,
) -> list[SpeculativeStep]:
    """Speculative decoding of ``target`` with ``draft`` at each batch size (sequences at
    ``context`` KV tokens): k draft decode steps, one verify step of k + 1 tokens per sequence
    on its context (logits at every position), plain decoding alongside."""
    mean, _ = accepted_tokens(acceptance, k)
    if not context >= 0:
        raise InputError("context", context, "KV tokens ≥ 0")
    out = []
    for b in np.atleast_1d(np.asarray(batches, dtype=float)):
        if not b >= 1:
            raise InputError("batches", b, "batch sizes ≥ 1")
        # the draft's k steps, each one token further into the context
        draft_s = float(draft.op_table.total_s(Batch.decode(b, context + np.arange(k))).sum())
        verify = Batch.prefill(k + 1, b, context)
        verify_s = float(target.op_table.total_s(verify)) + _logit_seconds(target, k * b)
        decode_s = float(target.op_table.total_s(Batch.decode(b, context)))
        out.append(
            SpeculativeStep(float(b), context, k, acceptance, draft_s, verify_s, decode_s, mean)
        )
    return out
