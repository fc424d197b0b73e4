"""Op-level roofline of one iteration as a table of linear op rows (spec §3).

Each op row ``j`` has FLOP, HBM-byte and additive-second coefficients on the iteration's
quantities ``q`` (tokens, prefill pairs, KV tokens, sequences, activity flags, …, see ``Q``):

    t_j = max(FLOP_j·q / F_j, bytes_j·q / B_j) + min_w additive_jw·q

summed over rows. ``F_j``/``B_j`` are the effective FLOP/s and bytes/s (datasheet × efficiency);
additive terms are kernel launches, TP/PP communication and per-iteration overheads, each row
with :data:`WAYS` alternatives of which the cheaper runs (an engine's all-reduce algorithm by
message size; a row with one way repeats it). The same
table is evaluated by numpy over arrays of batches (:meth:`OpTable.evaluate`) and by the
simulator's compiled loop (:attr:`OpTable.arrays` with :func:`quantities_one`).
Times are the latency of one iteration through all pipeline stages, in seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum
from functools import cached_property
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from costcorrect.catalog.calibrations import PerfParams
from costcorrect.catalog.hardware import Hardware
from costcorrect.catalog.models import COMPUTE_DTYPE, Linear
from costcorrect.perf.batch import Batch
from costcorrect.perf.deployment import ACTIVATION_BYTES, Deployment

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

#: elementwise kernels per transformer layer (2 norms, activation, rope, 2 residual adds)
ELEMENTWISE_KERNELS_PER_LAYER = 6
#: alternative additive costs per op row, of which the cheaper runs
WAYS = 2


class Q(IntEnum):
    """Quantities of one iteration that op costs are linear in."""

    TOKENS = 0  # rows through the GEMMs: prefill tokens + decoding sequences
    PREFILL_TOKENS = 1
    PREFILL_PAIRS = 2  # causal query–key pairs of the prefill chunks (window-capped)
    PREFILL_KV = 3  # KV tokens the prefill chunks attend to (window-capped)
    PREFILL_SEQS = 4
    DECODE_SEQS = 5
    DECODE_KV = 6  # KV tokens read by the decoding sequences (window-capped)
    FLAT_PAIRS = 7  # prefill_tokens² / 2: pairs of the batch flattened into one sequence
    MOE_TOUCHED = 8  # distinct routed experts the batch touches, E·(1 − (1 − k/E)^T)
    ACTIVE = 9  # 1 if the iteration has any token
    PREFILL_ACTIVE = 10
    DECODE_ACTIVE = 11
    GEMM_ROWS = 12  # rows a dense GEMM computes: TOKENS padded to its kernel's row tile
    PREFILL_SPAN = 13  # KV tokens per prefill sequence (context + chunk), mean over the batch


N_Q = len(Q)


@dataclass(frozen=True)
class StepTime:
    """Per-op seconds, FLOP and HBM bytes of one iteration (arrays shaped like the batch)."""

    seconds: dict[str, np.ndarray]
    flop: dict[str, np.ndarray]
    bytes: dict[str, np.ndarray]

    @property
    def total_s(self) -> np.ndarray:
        return sum(self.seconds.values())  # type: ignore[return-value]

    def to_dict(self) -> dict[str, object]:
        def plain(v: np.ndarray) -> object:
            return v.tolist() if np.ndim(v) else float(v)

        ops = {
            op: {"seconds": plain(s), "flop": plain(self.flop[op]), "bytes": plain(self.bytes[op])}
            for op, s in self.seconds.items()
        }
        return {"total_s": plain(self.total_s), "ops": ops}


@dataclass(frozen=True)
class OpTable:
    """Linear cost rows of one deployment's iteration; see the module docstring."""

    names: tuple[str, ...]
    flop: np.ndarray  # (rows, N_Q) FLOP per unit quantity
    nbytes: np.ndarray  # (rows, N_Q) HBM bytes per unit quantity
    flop_rate: np.ndarray  # (rows,) effective FLOP/s
    byte_rate: np.ndarray  # (rows,) effective bytes/s
    additive: np.ndarray  # (rows, WAYS, N_Q) seconds per unit quantity, cheaper way runs
    moe_experts: int
    moe_top_k: int
    window: int  # sliding-window length in tokens (0: none)
    row_tile: int  # the dense GEMMs' row tile (see padded_rows; 0: none)

    def quantities(self, batch: Batch) -> np.ndarray:
        """The ``(..., N_Q)`` quantity array of a (vectorised) batch."""
        return batch_quantities(batch, self.window, self.moe_experts, self.moe_top_k, self.row_tile)

    def _row_seconds(
        self, q: np.ndarray, sharpness: float | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return _rows(
            q, self.flop, self.nbytes, self.flop_rate, self.byte_rate, self.additive, sharpness
        )

    def total_s(self, batch: Batch, sharpness: float | None = None) -> np.ndarray:
        """Iteration time of ``batch`` in seconds, without the per-op breakdown (fast path);
        ``sharpness``: see :func:`soft_max` (None: the roofline's exact maximum)."""
        return self._row_seconds(self.quantities(batch), sharpness)[0].sum(axis=-1)

    def decode_seconds(self, batch: ArrayLike, context: float) -> np.ndarray:
        """Time of a decode-only iteration of ``batch`` sequences at ``context`` KV tokens each,
        seconds — the fast path of the analytic engine (rows are linear in the batch size; its
        batch is a mean over iterations, so GEMM rows are counted unpadded)."""
        return self.decode_seconds_and_slope(batch, context)[0]

    def decode_seconds_and_slope(
        self, batch: ArrayLike, context: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """(seconds, d seconds / d batch) of a decode-only iteration (see decode_seconds)."""
        kv = min(context, self.window) if self.window else context
        c0, c_seq, c_kv, m0, m_seq, m_kv, a0, a_seq, a_kv, moe, log_keep = self._decode_terms
        flat = np.ascontiguousarray(np.asarray(batch, dtype=float).reshape(-1))
        from costcorrect.perf.compiled import decode_rows  # numba: imported on first use

        seconds, slope = decode_rows(
            flat,
            c0,
            c_seq + kv * c_kv,
            m0,
            m_seq + kv * m_kv,
            a0,
            a_seq + kv * a_kv,
            moe,
            log_keep,
        )
        shape = np.shape(batch)
        return seconds.reshape(shape), slope.reshape(shape)

    @cached_property
    def _decode_terms(self) -> tuple:
        """Per-row seconds of a decode-only iteration per unit of (1, sequences, KV tokens per
        sequence) — compute, memory, each additive way — plus the routed experts' bytes time
        and ln(1 − k/E): what :meth:`decode_seconds_and_slope` scales by its context."""
        base = np.zeros(N_Q)
        base[[Q.ACTIVE, Q.DECODE_ACTIVE]] = 1.0
        per_seq = np.zeros(N_Q)
        per_seq[[Q.TOKENS, Q.DECODE_SEQS, Q.GEMM_ROWS]] = 1.0
        per_kv = np.zeros(N_Q)
        per_kv[Q.DECODE_KV] = 1.0
        terms = []
        for table, rate in ((self.flop, self.flop_rate), (self.nbytes, self.byte_rate)):
            terms += [(table @ v) / rate for v in (base, per_seq, per_kv)]
        terms += [np.ascontiguousarray(self.additive @ v) for v in (base, per_seq, per_kv)]
        moe = np.zeros(len(self.names))
        log_keep = 0.0
        if self.moe_experts:
            log_keep = math.log1p(-self.moe_top_k / self.moe_experts)
            moe = self.nbytes[:, Q.MOE_TOUCHED] / self.byte_rate * self.moe_experts
        return (*terms, moe, log_keep)

    def evaluate(self, batch: Batch) -> StepTime:
        """Per-op time, FLOP and bytes of ``batch`` (numpy, vectorised over its arrays)."""
        seconds, flop, nbytes = self._row_seconds(self.quantities(batch))
        out: tuple[dict[str, np.ndarray], ...] = ({}, {}, {})
        for j, name in enumerate(self.names):
            for store, values in zip(out, (seconds, flop, nbytes), strict=True):
                store[name] = store.get(name, 0.0) + values[..., j]
        return StepTime(*out)

    @property
    def arrays(self) -> tuple[np.ndarray, ...]:
        """(flop, nbytes, flop_rate, byte_rate, additive) for compiled evaluation."""
        return self.flop, self.nbytes, self.flop_rate, self.byte_rate, self.additive


def soft_max(a: np.ndarray, b: np.ndarray, sharpness: float | None) -> np.ndarray:
    """max(a, b) of non-negative arrays, or its smooth p-norm (aᵖ + bᵖ)^(1/p) at p =
    ``sharpness`` (at most 2^(1/p) × the maximum, where a = b). Fits continue from a smooth
    roofline to the exact one (``perf.fit``); the model itself always uses the maximum."""
    high = np.maximum(a, b)
    if sharpness is None:
        return high
    low = np.minimum(a, b)
    ratio = np.divide(low, high, out=np.zeros_like(high), where=high > 0)
    return high * (1.0 + ratio**sharpness) ** (1.0 / sharpness)


def additive_seconds(q: np.ndarray, additive: np.ndarray) -> np.ndarray:
    """Additive seconds per row, ``(..., rows)``: the cheaper of each row's ways."""
    return np.min(np.einsum("...k,jwk->...jw", q, additive), axis=-1)


def _rows(q, flop, nbytes, flop_rate, byte_rate, additive, sharpness=None):
    """(seconds, FLOP, bytes) per row: max(FLOP·q / F, bytes·q / B) + min_w additive_w·q (a
    smooth maximum at ``sharpness``, see :func:`soft_max`)."""
    row_flop = q @ flop.T
    row_bytes = q @ nbytes.T
    roof = soft_max(row_flop / flop_rate, row_bytes / byte_rate, sharpness)
    return roof + additive_seconds(q, additive), row_flop, row_bytes


def padded_rows(rows: ArrayLike, tile: int) -> np.ndarray:
    """Rows a GEMM kernel with ``tile``-row tiles computes for ``rows`` rows: the next power of
    two up to the tile, then the next multiple of it (``tile`` 0: ``rows``)."""
    rows = np.asarray(rows, dtype=float)
    if not tile:
        return rows
    power = np.exp2(np.ceil(np.log2(np.maximum(rows, 1.0))))
    return np.where(rows > tile, np.ceil(rows / tile) * tile, np.where(rows > 0, power, 0.0))


def batch_quantities(
    batch: Batch, window: int = 0, moe_experts: int = 0, moe_top_k: int = 0, row_tile: int = 0
) -> np.ndarray:
    """The ``(..., N_Q)`` quantities of a batch; a sliding ``window`` caps pairs and KV reads,
    dense GEMMs pad their rows to ``row_tile`` (:func:`padded_rows`)."""
    tokens = batch.tokens
    pairs, kv_prefill, kv_decode = (
        batch.prefill_attn_pairs,
        batch.prefill_kv_tokens,
        batch.decode_kv_tokens,
    )
    if window:
        pairs = np.minimum(pairs, batch.prefill_tokens * window)
        kv_prefill = np.minimum(kv_prefill, batch.prefill_seqs * window + batch.prefill_tokens)
        kv_decode = np.minimum(kv_decode, batch.decode_seqs * window)
    q = np.zeros((*np.shape(tokens), N_Q))
    q[..., Q.TOKENS] = tokens
    q[..., Q.PREFILL_TOKENS] = batch.prefill_tokens
    q[..., Q.PREFILL_PAIRS] = pairs
    q[..., Q.PREFILL_KV] = kv_prefill
    q[..., Q.PREFILL_SEQS] = batch.prefill_seqs
    q[..., Q.DECODE_SEQS] = batch.decode_seqs
    q[..., Q.DECODE_KV] = kv_decode
    q[..., Q.FLAT_PAIRS] = batch.prefill_tokens**2 / 2.0
    if moe_experts:
        q[..., Q.MOE_TOUCHED] = moe_experts * -np.expm1(
            tokens * math.log1p(-moe_top_k / moe_experts)
        )
    q[..., Q.ACTIVE] = tokens > 0
    q[..., Q.PREFILL_ACTIVE] = batch.prefill_tokens > 0
    q[..., Q.DECODE_ACTIVE] = batch.decode_seqs > 0
    q[..., Q.GEMM_ROWS] = padded_rows(tokens, row_tile)
    seqs = batch.prefill_seqs
    q[..., Q.PREFILL_SPAN] = np.divide(
        kv_prefill, seqs, out=np.zeros(np.shape(q)[:-1]), where=seqs > 0
    )
    return q


class _Rows:
    def __init__(self) -> None:
        self.names: list[str] = []
        self.flop: list[np.ndarray] = []
        self.nbytes: list[np.ndarray] = []
        self.rates: list[tuple[float, float]] = []
        self.additive: list[np.ndarray] = []

    def add(
        self, name: str, flop=None, nbytes=None, rates=(1.0, 1.0), additive=None, ways=None
    ) -> None:
        """One op row; ``ways``: the additive cost's alternatives (default: ``additive`` only)."""
        for store, value in ((self.flop, flop), (self.nbytes, nbytes)):
            store.append(np.zeros(N_Q) if value is None else value)
        if ways is None:
            ways = [np.zeros(N_Q) if additive is None else additive] * WAYS
        self.additive.append(np.array(ways))
        self.names.append(name)
        self.rates.append(rates)


def _vec(**terms: float) -> np.ndarray:
    v = np.zeros(N_Q)
    for key, value in terms.items():
        v[Q[key.upper()]] += value
    return v


def _tensor_dtype(dep: Deployment) -> str:
    """The tensor-core format the deployment's GEMMs run in on its GPU."""
    return dep.hardware.tensor_dtype(COMPUTE_DTYPE[dep.weight_format or dep.model.weight_format])


class _FormatKernel(NamedTuple):
    """The fitted kernel terms of FP8/FP4 GEMMs (see :class:`PerfParams`)."""

    eff_ratio: float  # share of gemm_flops_eff reached at the format's peak
    quant_s: float  # seconds per call of a separate input quantisation
    quant_bytes: float  # its bytes per input element
    column_s: float  # seconds per byte of one output column's weights
    row_tile: int  # rows padded to this tile (0: none)
    depth_s: float  # seconds per element of the reduction depth (a serial main loop)
    epilogue_s: float  # seconds per output element written after the main loop


#: 16-bit GEMMs: the datasheet's rate, no quantisation, split reductions, unpadded rows
_PLAIN_KERNEL = _FormatKernel(1.0, 0.0, 0.0, 0.0, 0, 0.0, 0.0)


def _format_kernel(dep: Deployment) -> _FormatKernel:
    """The GEMM kernel terms of the deployment's tensor-core format."""
    p = dep.params
    return {
        "fp8": _FormatKernel(
            p.gemm_fp8_eff_ratio,
            p.gemm_quant_s,
            p.gemm_fp8_quant_bytes,
            p.gemm_fp8_column_s,
            p.gemm_fp8_row_tile,
            p.gemm_fp8_depth_s,
            p.gemm_fp8_epilogue_s,
        ),
        "fp4": _FormatKernel(
            p.gemm_fp4_eff_ratio,
            p.gemm_fp4_quant_s,
            p.gemm_fp4_quant_bytes,
            p.gemm_fp4_column_s,
            p.gemm_fp4_row_tile,
            p.gemm_fp4_depth_s,
            p.gemm_fp4_epilogue_s,
        ),
    }.get(_tensor_dtype(dep), _PLAIN_KERNEL)


def _gemm_flops(dep: Deployment) -> float:
    """Effective GEMM FLOP/s of the deployment's weight format on its GPU."""
    ratio = _format_kernel(dep).eff_ratio
    return dep.hardware.peak_flops(_tensor_dtype(dep)) * min(dep.params.gemm_flops_eff * ratio, 1.0)


def _gemm_rates(dep: Deployment, lin: Linear) -> tuple[float, float]:
    """(FLOP/s, bytes/s) of ``lin`` on one GPU. A kernel that does not split its reduction
    (FP8/FP4 GEMMs of vLLM and SGLang) streams each output column's weights from one block,
    at ``gemm_fp8_column_s`` (``gemm_fp4_column_s``) seconds per byte of a column: with few
    columns it cannot reach HBM bandwidth, 1 / rate = 1 / (HBM · eff) + column_s / columns."""
    per_byte = 1.0 / (dep.hardware.hbm_bytes_per_s.value * dep.params.gemm_hbm_eff)
    per_byte += _format_kernel(dep).column_s / lin.columns(dep.tp)
    return _gemm_flops(dep), 1.0 / per_byte


#: linears whose FP8/FP4 input engines quantise with a kernel of its own: the attention
#: output's. The others read inputs that the RMSNorm or SiLU·mul kernel before them quantises as
#: it writes (vLLM's norm/activation + quant fusion passes, docs.vllm.ai/en/stable/design/fusions;
#: its attention + quant fusion is off by default)
SEPARATE_QUANT_OPS = ("o_proj",)


def _gemm_row(
    dep: Deployment, lin: Linear, separate_quant: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(FLOP, bytes, additive) coefficients of one layer's ``lin`` on one GPU; with
    ``separate_quant`` the call pays its input's quantisation (``gemm_quant_s`` and the
    format's ``gemm_fp8_quant_bytes`` / ``gemm_fp4_quant_bytes``); a kernel with a serial
    main loop pays ``gemm_fp8_depth_s`` (``gemm_fp4_depth_s``) per element of its depth, and
    an epilogue ``gemm_fp8_epilogue_s`` (``gemm_fp4_epilogue_s``) per output element. A
    dense linear's per-row work — FLOPs, activation traffic, its input's quantisation — counts
    the rows its kernel computes (``Q.GEMM_ROWS``: padded to a row tile where it has one).

    Routed experts stream only the experts the batch touches (uniform routing)."""
    shard = dep.tp if lin.sharded else 1
    size = lin.in_features * lin.out_features / shard
    act = (lin.in_features + lin.out_features) / shard * ACTIVATION_BYTES
    if lin.experts > 1:
        flop = _vec(tokens=2.0 * lin.active_experts * size)
        nbytes = _vec(moe_touched=size * dep.weight_bytes_per_param, tokens=act)
        outputs = _vec(tokens=lin.active_experts * lin.columns(dep.tp))
    else:
        flop = _vec(gemm_rows=2.0 * size)
        nbytes = _vec(active=size * dep.weight_bytes_per_param, gemm_rows=act)
        outputs = _vec(gemm_rows=lin.columns(dep.tp))
    kernel = _format_kernel(dep)
    # the launch, a serial main loop's latency per element of the GPU's depth, and the
    # epilogue per output element
    additive = _vec(active=dep.params.kernel_launch_s + kernel.depth_s * lin.depth(dep.tp))
    additive += kernel.epilogue_s * outputs
    if separate_quant:  # (16-bit inputs: no pass, all its terms 0)
        # the input's quantisation pass: a fixed cost and its traffic over the input, whose
        # features are this GPU's shard (the only separate-quant linear is row-parallel)
        per_token = kernel.quant_bytes * lin.in_features / shard
        per_token /= dep.hardware.hbm_bytes_per_s.value * dep.params.elementwise_hbm_eff
        additive += _vec(active=kernel.quant_s, gemm_rows=per_token)
    return flop, nbytes, additive


def _elementwise_row(dep: Deployment) -> tuple[np.ndarray, np.ndarray]:
    """(bytes, additive) of one layer's norms, activation, rope and residual adds: ≈10 passes
    over the hidden state and 3 over the FFN activation per token."""
    m = dep.model
    width = max(m.intermediate_size, m.ssm_inner_size, 1) / dep.tp
    nbytes = _vec(tokens=(10.0 * m.hidden_size + 3.0 * width) * ACTIVATION_BYTES)
    return nbytes, _vec(active=dep.params.kernel_launch_s * ELEMENTWISE_KERNELS_PER_LAYER)


def op_table(dep: Deployment) -> OpTable:
    """Build the op table of ``dep`` (model × hardware × parallelism × calibration)."""
    m, hw, p, tp = dep.model, dep.hardware, dep.params, dep.tp
    hbm = hw.hbm_bytes_per_s.value
    gemm_rates = (_gemm_flops(dep), hbm * p.gemm_hbm_eff)
    rows = _Rows()
    for lin in m.linears():
        flop, nbytes, additive = _gemm_row(dep, lin, lin.op in SEPARATE_QUANT_OPS)
        rates = _gemm_rates(dep, lin)
        rows.add(lin.op, flop * lin.layers, nbytes * lin.layers, rates, additive * lin.layers)
    _attention_rows(dep, rows)
    _ssm_rows(dep, rows, gemm_rates[0], hbm * p.elementwise_hbm_eff)
    nbytes, additive = _elementwise_row(dep)
    rows.add(
        "elementwise",
        None,
        nbytes * m.num_layers,
        (1.0, hbm * p.elementwise_hbm_eff),
        additive * m.num_layers,
    )
    # LM head over the last position of every sequence (vocab-parallel under TP).
    d, v = m.hidden_size, m.vocab_size / tp
    rows.add(
        "lm_head",
        _vec(prefill_seqs=2.0 * d * v, decode_seqs=2.0 * d * v),
        _vec(active=d * v * ACTIVATION_BYTES, prefill_seqs=4.0 * v, decode_seqs=4.0 * v),
        gemm_rates,
        _vec(active=p.kernel_launch_s),
    )
    _communication_rows(dep, rows)
    rows.add(
        "overhead",
        additive=_vec(
            active=p.iteration_overhead_s,
            prefill_seqs=p.per_sequence_overhead_s,
            decode_seqs=p.per_sequence_overhead_s,
        ),
    )
    rates = np.array(rows.rates)
    return OpTable(
        names=tuple(rows.names),
        flop=np.array(rows.flop),
        nbytes=np.array(rows.nbytes),
        flop_rate=rates[:, 0],
        byte_rate=rates[:, 1],
        additive=np.array(rows.additive),
        moe_experts=m.moe.num_experts if m.moe else 0,
        moe_top_k=m.moe.top_k if m.moe else 0,
        window=m.sliding_window or 0,
        row_tile=_format_kernel(dep).row_tile,
    )


def _attention_row(dep: Deployment, phase: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(FLOP, bytes, additive ways ``(WAYS, N_Q)``) coefficients of one attention layer's
    ``phase`` kernel on one GPU (``phase``: ``prefill`` or ``decode``)."""
    m, p = dep.model, dep.params
    heads = m.num_attention_heads / dep.tp
    kv_token = dep.kv_elements_per_token_per_layer_per_gpu * dep.kv_bytes_per_element
    queries, work, kv, active, seqs = _ATTENTION_QUANTITIES[phase]
    d_qk, d_v = m.attention_dims(phase)  # type: ignore[arg-type]
    flop = _vec(**{work: 2.0 * heads * (d_qk + d_v) * _tile_padding(dep, phase)})
    # KV read, materialised scores, Q read / output write, this iteration's new KV
    kv_read = kv_token * _kv_reads(dep, phase)
    nbytes = _vec(**{kv: kv_read}) + _vec(**{work: heads * p.attn_score_bytes})
    nbytes += _vec(**{queries: heads * (d_qk + d_v) * ACTIVATION_BYTES + kv_token})
    if phase == "prefill":  # engines that attend over the flattened, masked batch
        nbytes += _vec(flat_pairs=heads * p.attn_flat_pair_bytes)
    per_sequence = p.attn_per_sequence_s
    additive = _vec(**{active: p.kernel_launch_s + p.attn_fixed_s})
    if phase == "prefill":  # a flash kernel's set-up per (sequence, head) and per query row,
        # and its last wave's longest tile, which attends to a sequence's whole span
        per_sequence += heads * p.attn_prefill_per_sequence_s
        additive += _vec(
            prefill_tokens=heads * p.attn_prefill_per_token_s, prefill_span=p.attn_prefill_tail_s
        )
    additive += _vec(**{seqs: per_sequence})
    ways = np.array([additive] * WAYS)
    if phase == "decode" and p.attn_decode_ramp_s and p.attn_decode_ramp_bytes:
        # reaching its streaming bandwidth costs the kernel up to attn_decode_ramp_s, in
        # proportion over its first attn_decode_ramp_bytes read: the cheaper way is min(·, ·)
        per_byte = p.attn_decode_ramp_s / p.attn_decode_ramp_bytes
        ways[0] += _vec(**{kv: kv_read * per_byte})
        ways[1] += _vec(**{active: p.attn_decode_ramp_s})
    return flop, nbytes, ways


def _kv_reads(dep: Deployment, phase: str) -> float:
    """Times the ``phase`` attention kernel reads each cached KV element from HBM: 1, or where
    a decode kernel's group limit (``attn_decode_max_group``) sends a larger group of query
    heads per KV head to a kernel that reads the cache per query head, once plus the
    ``attn_decode_fallback_rereads`` share of the group's other reads (the rest hit L2).
    MLA's latent cache has kernels of its own."""
    m, p = dep.model, dep.params
    if phase != "decode" or not p.attn_decode_max_group or m.mla is not None:
        return 1.0
    group = m.num_attention_heads / dep.tp / max(m.kv_heads / dep.tp, 1.0)
    if group <= p.attn_decode_max_group:
        return 1.0
    return 1.0 + (group - 1.0) * p.attn_decode_fallback_rereads


def _tile_padding(dep: Deployment, phase: str) -> float:
    """Tensor-core FLOP ÷ useful FLOP of the ``phase`` attention kernel: a decode kernel
    whose tile spans ``attn_decode_tile_rows`` query rows per KV head, filled by one
    token of each of the group's query heads (1 when the parameter is 0 or for prefill)."""
    tile = dep.params.attn_decode_tile_rows
    if phase != "decode" or not tile:
        return 1.0
    group = dep.model.num_attention_heads / dep.model.kv_heads
    return max(1.0, tile / group)


#: quantities of each attention phase: queries, pair work, KV read, activity flag, sequences
_ATTENTION_QUANTITIES = {
    "prefill": ("prefill_tokens", "prefill_pairs", "prefill_kv", "prefill_active", "prefill_seqs"),
    "decode": ("decode_seqs", "decode_kv", "decode_kv", "decode_active", "decode_seqs"),
}


def _attention_rates(dep: Deployment) -> tuple[float, float]:
    p = dep.params
    return (
        dep.hardware.peak_flops("bf16") * p.attn_flops_eff,
        dep.hardware.hbm_bytes_per_s.value * p.attn_hbm_eff,
    )


def _attention_rows(dep: Deployment, rows: _Rows) -> None:
    layers = dep.model.attention_layer_count
    if not layers:
        return
    for phase in _ATTENTION_QUANTITIES:
        flop, nbytes, ways = _attention_row(dep, phase)
        rows.add(
            f"attn_{phase}",
            flop * layers,
            nbytes * layers,
            _attention_rates(dep),
            ways=list(ways * layers),
        )


def _ssm_rows(dep: Deployment, rows: _Rows, flops: float, hbm: float) -> None:
    """Selective-scan core: ~9 FLOP per state element per token; each sequence's fixed state
    is read and written once per iteration."""
    m, tp = dep.model, dep.tp
    if m.ssm is None or not m.ssm_layer_count:
        return
    layers = m.ssm_layer_count
    state = m.ssm_state_bytes_per_sequence() / layers / tp
    flop = _vec(tokens=9.0 * m.ssm_inner_size * m.ssm.state_size / tp)
    nbytes = _vec(
        prefill_seqs=2.0 * state,
        decode_seqs=2.0 * state,
        tokens=3.0 * m.ssm_inner_size / tp * ACTIVATION_BYTES,
    )
    additive = _vec(active=2.0 * dep.params.kernel_launch_s)
    rows.add("ssm_scan", flop * layers, nbytes * layers, (flops, hbm), additive * layers)


def _communication_rows(dep: Deployment, rows: _Rows) -> None:
    m, hw, p = dep.model, dep.hardware, dep.params
    message = m.hidden_size * ACTIVATION_BYTES  # bytes per token
    if dep.tp > 1:
        per_byte, per_call = allreduce_ways(hw, p, dep.tp)
        count = 2 * m.num_layers
        ways = [
            _vec(tokens=count * byte * message, active=count * call)
            for byte, call in zip(per_byte, per_call, strict=True)
        ]
        rows.add("tp_allreduce", ways=ways)
    if dep.pp > 1:
        span = dep.tp * dep.pp > hw.gpus_per_node
        link = (hw.inter_node_bytes_per_s if span else hw.intra_node_bytes_per_s).value
        hops = dep.pp - 1
        rows.add(
            "pp_send",
            additive=_vec(
                tokens=hops * message / (link * p.link_eff), active=hops * p.collective_latency_s
            ),
        )


def allreduce_ways(hw: Hardware, p: PerfParams, gpus: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """(seconds per byte, seconds per call) of each of an all-reduce's :data:`WAYS` over ``gpus``
    GPUs, shaped ``(..., WAYS)`` (α-β models, see :class:`PerfParams`): ``ring`` has one way;
    ``custom`` has the bandwidth algorithm (in-network reduction where ``hw.switch_reduce``,
    else ring traffic; inter-node beyond one node) and the one-shot kernel (within a node)."""
    t = np.asarray(gpus, dtype=float)
    within = t <= hw.gpus_per_node
    link = np.where(within, hw.intra_node_bytes_per_s.value, hw.inter_node_bytes_per_s.value)
    steps = 2.0 * (t - 1.0)
    ring = steps / t
    if p.allreduce == "ring":
        per_byte, per_call = ring / (link * p.link_eff), steps * p.collective_latency_s
        return np.stack([per_byte] * WAYS, axis=-1), np.stack([per_call] * WAYS, axis=-1)
    calls = np.minimum(steps, 1.0)  # 0 on one GPU
    traffic = np.where(within & hw.switch_reduce, calls, ring)
    bandwidth = (traffic / (link * p.link_eff), calls * p.collective_latency_s)
    oneshot = (
        np.where(within, (t - 1.0) / (link * p.oneshot_link_eff), bandwidth[0]),
        np.where(
            within,
            calls * (p.oneshot_latency_s + (t - 1.0) * p.oneshot_peer_latency_s),
            bandwidth[1],
        ),
    )
    return tuple(np.stack(pair, axis=-1) for pair in zip(bandwidth, oneshot, strict=True))


def allreduce_time(hw: Hardware, p: PerfParams, gpus: ArrayLike, nbytes: ArrayLike) -> np.ndarray:
    """Seconds of one all-reduce of ``nbytes`` over ``gpus`` GPUs (the cheaper way)."""
    per_byte, per_call = allreduce_ways(hw, p, gpus)
    return np.min(per_byte * np.asarray(nbytes, dtype=float)[..., None] + per_call, axis=-1)


def gemm_time(
    dep: Deployment, lin: Linear, tokens: np.ndarray, sharpness: float | None = None
) -> np.ndarray:
    """Seconds of one layer's ``lin`` on one GPU for ``tokens`` rows as a kernel table times
    it: a GEMM module quantising its own input (kernel-level fits)."""
    row = _gemm_row(dep, lin, separate_quant=True)
    return _row_seconds(dep, Batch.prefill(tokens), row, _gemm_rates(dep, lin), sharpness)


def elementwise_time(
    dep: Deployment, tokens: np.ndarray, sharpness: float | None = None
) -> np.ndarray:
    """Seconds of one layer's elementwise kernels for ``tokens`` rows (kernel-level fits)."""
    nbytes, additive = _elementwise_row(dep)
    hbm = dep.hardware.hbm_bytes_per_s.value * dep.params.elementwise_hbm_eff
    row = (np.zeros(N_Q), nbytes, additive)
    return _row_seconds(dep, Batch.prefill(tokens), row, (1.0, hbm), sharpness)


def attention_time(
    dep: Deployment, phase: str, batch: Batch, sharpness: float | None = None
) -> np.ndarray:
    """Seconds of one layer's ``phase`` (``prefill``|``decode``) attention kernel on one GPU
    for ``batch`` (kernel-level fits)."""
    row = _attention_row(dep, phase)
    return _row_seconds(dep, batch, row, _attention_rates(dep), sharpness)


def _row_seconds(dep, batch, row, rates, sharpness) -> np.ndarray:
    """Seconds of one op row (FLOP, bytes, additive: one vector or ``(WAYS, N_Q)`` ways)."""
    moe = dep.model.moe
    experts = (moe.num_experts, moe.top_k) if moe else (0, 0)
    q = batch_quantities(
        batch, dep.model.sliding_window or 0, *experts, _format_kernel(dep).row_tile
    )
    flop, nbytes, additive = row
    flop, nbytes = flop[None, :], nbytes[None, :]
    additive = np.broadcast_to(additive, (WAYS, N_Q))[None]
    flop_rate, byte_rate = (np.array([r]) for r in rates)
    return _rows(q, flop, nbytes, flop_rate, byte_rate, additive, sharpness)[0][..., 0]


def step_time(dep: Deployment, batch: Batch) -> StepTime:
    """Time of one iteration of ``batch`` on deployment ``dep``, with its per-op breakdown."""
    return dep.op_table.evaluate(batch)
