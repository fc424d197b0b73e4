"""Speculative decoding on the op table: a draft proposes ``k`` tokens per sequence (``k``
decode steps of a smaller draft model), the target verifies all k + 1 positions in one step
(a chunk of k + 1 new tokens on the sequence's cached context, with logits at every position),
and each position is accepted with probability ``acceptance`` until the first rejection.
Accepted tokens per step (the target's own token included) follow

    P(L = j + 1) = a^j (1 − a) for j < k,   P(L = k + 1) = a^k,   E[L] = (1 − a^(k+1)) / (1 − a),

so the time per output token is (k · t_draft + t_verify) / E[L] against plain decoding's
t_decode. Large batches turn the verify step compute-bound, where it stops paying.

:class:`Speculation` puts the same mechanism inside a :class:`Deployment`, so both serving
engines run it: one engine iteration is the draft's k steps plus the target's verify step
(:func:`speculative_op_table`), each decoding sequence emits an accepted length drawn from the
distribution above (the simulator) or its mean (the analytic engine), and the draft's weights
and KV cache take their share of GPU memory."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from costcorrect.catalog.models import ModelSpec
from costcorrect.errors import InputError
from costcorrect.perf.batch import Batch
from costcorrect.perf.roofline import OpTable, Q, _tile_padding, op_table

if TYPE_CHECKING:
    from costcorrect.catalog.loader import Catalog
    from costcorrect.perf.deployment import Deployment

#: the self-drafting variant: one decoder layer of the target's own width on its hidden states,
#: sharing its embeddings and LM head (EAGLE, arXiv:2401.15077)
EAGLE = "eagle"


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


def accepted_cdf(acceptance: float, k: int) -> np.ndarray:
    """P(L ≤ j), j = 1 … k + 1: the accepted-length distribution's CDF (last entry 1)."""
    _check(acceptance, k)
    cdf = 1.0 - acceptance ** np.arange(1, k + 2)
    cdf[-1] = 1.0
    return cdf


@dataclass(frozen=True)
class Speculation:
    """Speculative decoding as a deployment option: ``draft`` (a catalog model, or ``None`` for
    the EAGLE-style head of :data:`EAGLE`) proposes ``k`` tokens per step, each accepted with
    probability ``acceptance`` until the first rejection."""

    draft: ModelSpec | None
    k: int = 4
    acceptance: float = 0.8

    def __post_init__(self) -> None:
        _check(self.acceptance, self.k)

    @property
    def tokens_per_step(self) -> float:
        """E[L]: tokens each decoding sequence emits per engine iteration."""
        return accepted_tokens(self.acceptance, self.k)[0]

    @property
    def cdf(self) -> np.ndarray:
        return accepted_cdf(self.acceptance, self.k)

    def to_dict(self) -> dict:
        """JSON form: the draft (``eagle`` for the one-layer head), k, acceptance and E[L]."""
        draft = self.draft.name if self.draft is not None else EAGLE
        return {
            "draft": draft,
            "k": self.k,
            "acceptance": self.acceptance,
            "tokens_per_step": self.tokens_per_step,
        }

    def sentence(self) -> str:
        """One line for an answer: what was drafted and what a step yields."""
        return (
            f"Speculative decoding {self.label}: {self.tokens_per_step:.2f} tokens per step on "
            f"average, {self.k + 1} verified per sequence"
        )

    @property
    def label(self) -> str:
        draft = f"draft={self.draft.name}" if self.draft is not None else EAGLE
        return f"{draft},k={self.k},accept={self.acceptance:.3g}"

    def draft_deployment(self, target: Deployment) -> Deployment:
        """The draft on the target's GPUs: its TP where the draft's heads divide (else 1), the
        target's formats, calibration and memory settings."""
        if self.draft is None:
            data = target.model.model_dump()
            data.update(name=f"{target.model.name}-{EAGLE}", num_layers=1)
            model = ModelSpec.model_validate(data)
        else:
            model = self.draft
        heads = model.num_attention_heads
        tp = target.tp if heads and heads % target.tp == 0 else 1
        return replace(target, model=model, tp=tp, pp=1, speculation=None)

    def draft_weight_bytes_per_gpu(self, draft: Deployment) -> float:
        """The weights of ``draft`` (:meth:`draft_deployment`) on each of the target's GPUs (an
        EAGLE head shares the target's embeddings and LM head: its linears only)."""
        if self.draft is not None:
            return draft.weight_bytes_per_gpu
        linear = sum(x.params for x in draft.model.linears())
        return linear * draft.weight_bytes_per_param / draft.tp

    @classmethod
    def parse(cls, text: str, catalog: Catalog, model: str | None = None) -> Speculation:
        """``draft=MODEL,k=4,accept=0.8`` or ``eagle,k=3,accept=0.7``. Without ``accept``: the
        catalog's measured acceptance of that draft on ``model`` (and its k, unless given),
        else k = 4 and a = 0.8."""
        fields: dict[str, str] = {}
        for part in (p.strip() for p in text.split(",")):
            key, _, value = part.partition("=")
            if key == EAGLE and not value:
                fields["draft"] = EAGLE
            elif key in ("draft", "k", "accept") and value:
                fields[key] = value
            else:
                raise InputError(
                    "speculative", text, "draft=MODEL or eagle, then optional k=N and accept=A"
                )
        if "draft" not in fields:
            raise InputError("speculative", text, "a draft: draft=MODEL or eagle")
        name = fields["draft"]
        k, accept = cls.k, cls.acceptance
        if "accept" not in fields and model is not None:
            measured = _measured(model, name)
            if measured is not None:
                k, accept = measured.k, measured.acceptance
        try:
            k, accept = int(fields.get("k", k)), float(fields.get("accept", accept))
        except ValueError:
            raise InputError("speculative", text, "k an integer and accept a number") from None
        draft = None if name == EAGLE else catalog.models.get(name)
        return cls(draft, k, accept)


def _measured(model: str, draft: str):
    """The catalog's measured acceptance of ``draft`` on ``model``, or None."""
    from costcorrect.catalog.speculation import acceptance_entries

    return next((e for e in acceptance_entries() if e.model == model and e.draft == draft), None)


def speculative_op_table(target: Deployment, draft: Deployment, k: int) -> OpTable:
    """One engine iteration with speculation, as an op table on the plain iteration's
    quantities: every decoding sequence is verified as k + 1 query tokens on its context
    (GEMM rows, logits and attention queries × (k + 1), its KV read once) and drafted by k
    decode steps of ``draft``; prefill chunks run through both models once. Exact for a
    decode-only iteration; a mixed one evaluates the draft's prefill chunk and its k decode
    steps as one roofline (the draft's context growth over its k steps is left out; a
    padding GEMM kernel pads the plain iteration's rows, the k extra rows per sequence
    added unpadded)."""
    t, d = op_table(target), draft.op_table  # the target's own rows, without speculation
    verify = _remap(_remap(t, Q.TOKENS, Q.DECODE_SEQS, k), Q.GEMM_ROWS, Q.DECODE_SEQS, k)
    pad = _tile_padding(target, "decode")
    scale = {"lm_head": {Q.DECODE_SEQS: k + 1.0}}
    scale["attn_decode"] = {Q.DECODE_SEQS: k + 1.0, Q.DECODE_KV: max(k + 1.0, pad) / pad}
    flop, nbytes = verify.flop.copy(), verify.nbytes.copy()
    for name, columns in scale.items():
        rows = [j for j, n in enumerate(t.names) if n == name]
        for column, factor in columns.items():
            flop[rows, column] *= factor
            if column == Q.DECODE_SEQS:  # queries and logits written; the KV is read once
                nbytes[rows, column] *= factor
    verify = replace(verify, flop=flop, nbytes=nbytes)
    # the draft's decode work k times, its weights read once per step: TOKENS → P + k·d,
    # ACTIVE → 1 + (k − 1) when decoding
    drafting = _scale_columns(d, [Q.DECODE_SEQS, Q.DECODE_KV, Q.DECODE_ACTIVE], k)
    drafting = _remap(drafting, Q.TOKENS, Q.DECODE_SEQS, k - 1)
    drafting = _remap(drafting, Q.GEMM_ROWS, Q.DECODE_SEQS, k - 1)
    drafting = _remap(drafting, Q.ACTIVE, Q.DECODE_ACTIVE, k - 1)
    return OpTable(
        names=verify.names + tuple(f"draft_{n}" for n in d.names),
        flop=np.vstack([verify.flop, drafting.flop]),
        nbytes=np.vstack([verify.nbytes, drafting.nbytes]),
        flop_rate=np.concatenate([verify.flop_rate, drafting.flop_rate]),
        byte_rate=np.concatenate([verify.byte_rate, drafting.byte_rate]),
        additive=np.concatenate([verify.additive, drafting.additive]),
        moe_experts=t.moe_experts,
        moe_top_k=t.moe_top_k,
        window=t.window,
        row_tile=t.row_tile,
    )


def _remap(table: OpTable, source: Q, target: Q, times: float) -> OpTable:
    """The table where quantity ``source`` counts ``times`` more per unit of ``target``
    (coefficients on ``source`` added to ``target``'s column)."""

    def moved(a: np.ndarray) -> np.ndarray:
        out = a.copy()
        out[..., target] += times * a[..., source]
        return out

    return _with_coefficients(table, moved)


def _scale_columns(table: OpTable, columns: list[Q], factor: float) -> OpTable:
    """The table with the coefficients on ``columns`` × ``factor``."""

    def scaled(a: np.ndarray) -> np.ndarray:
        out = a.copy()
        out[..., columns] *= factor
        return out

    return _with_coefficients(table, scaled)


def _with_coefficients(table: OpTable, change) -> OpTable:
    """``table`` with ``change`` applied to its FLOP, byte and additive coefficients."""
    return replace(
        table,
        flop=change(table.flop),
        nbytes=change(table.nbytes),
        additive=change(table.additive),
    )


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


def speculative_steps(
    target: Deployment, speculation: Speculation, batches, context: float
) -> list[SpeculativeStep]:
    """``target`` with ``speculation`` at each batch size (sequences at ``context`` KV tokens):
    one engine iteration (:func:`speculative_op_table`) split into the draft's k steps and the
    verify step, plain decoding alongside."""
    if not context >= 0:
        raise InputError("context", context, "KV tokens ≥ 0")
    spec = replace(target, speculation=speculation)
    out = []
    for b in np.atleast_1d(np.asarray(batches, dtype=float)):
        if not b >= 1:
            raise InputError("batches", b, "batch sizes ≥ 1")
        seconds = spec.op_table.evaluate(Batch.decode(b, context)).seconds
        draft_s = float(sum(v for name, v in seconds.items() if name.startswith("draft_")))
        verify_s = float(sum(seconds.values())) - draft_s
        decode_s = float(target.op_table.total_s(Batch.decode(b, context)))
        out.append(
            SpeculativeStep(
                float(b),
                context,
                speculation.k,
                speculation.acceptance,
                draft_s,
                verify_s,
                decode_s,
                speculation.tokens_per_step,
            )
        )
    return out
