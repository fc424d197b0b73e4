"""Op-level roofline of one iteration, vectorised over the arrays of a :class:`Batch`.

Per op: ``t = max(FLOP / (F·e_c), bytes / (B·e_m)) + launches·t_launch``, summed over layers;
plus TP all-reduces, PP hand-offs, the LM head and the per-iteration overhead (spec §3).
Times are the latency of one iteration through all pipeline stages, in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from costcorrect.catalog.calibrations import PerfParams
from costcorrect.catalog.hardware import Hardware
from costcorrect.catalog.models import COMPUTE_DTYPE, Linear
from costcorrect.perf.batch import Batch
from costcorrect.perf.deployment import ACTIVATION_BYTES, Deployment

#: elementwise kernels per transformer layer (2 norms, activation, rope, 2 residual adds)
ELEMENTWISE_KERNELS_PER_LAYER = 6


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

        return {
            "total_s": plain(self.total_s),
            "ops": {
                op: {
                    "seconds": plain(s),
                    "flop": plain(self.flop[op]),
                    "bytes": plain(self.bytes[op]),
                }
                for op, s in self.seconds.items()
            },
        }


class _Accumulator:
    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape
        self.seconds: dict[str, np.ndarray] = {}
        self.flop: dict[str, np.ndarray] = {}
        self.bytes: dict[str, np.ndarray] = {}

    def add(self, op: str, seconds, flop=0.0, nbytes=0.0) -> None:
        for store, value in ((self.seconds, seconds), (self.flop, flop), (self.bytes, nbytes)):
            store[op] = store.get(op, 0.0) + np.broadcast_to(value, self.shape)

    def result(self) -> StepTime:
        return StepTime(self.seconds, self.flop, self.bytes)


def _roofline(flop, nbytes, peak_flops: float, hbm: float) -> np.ndarray:
    return np.maximum(flop / peak_flops, nbytes / hbm)


def _gemm_flops(dep: Deployment) -> float:
    dtype = COMPUTE_DTYPE[dep.weight_format or dep.model.weight_format]
    return dep.hardware.peak_flops(dtype) * dep.params.gemm_flops_eff


def gemm_time(
    dep: Deployment, lin: Linear, tokens: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(seconds, FLOP, bytes) of one layer's ``lin`` on one GPU for ``tokens`` rows.

    Routed experts stream only the experts the batch touches (uniform routing).
    """
    p = dep.params
    shard = dep.tp if lin.sharded else 1
    size = lin.in_features * lin.out_features / shard
    if lin.experts > 1:
        touched = lin.experts * -np.expm1(tokens * np.log1p(-lin.active_experts / lin.experts))
        weight_bytes = touched * size * dep.weight_bytes_per_param
        flop = 2.0 * tokens * lin.active_experts * size
    else:
        weight_bytes = size * dep.weight_bytes_per_param
        flop = 2.0 * tokens * size
    active = tokens > 0
    act_bytes = tokens * (lin.in_features + lin.out_features) / shard * ACTIVATION_BYTES
    nbytes = np.where(active, weight_bytes + act_bytes, 0.0)
    hbm = dep.hardware.hbm_bytes_per_s.value * p.gemm_hbm_eff
    t = _roofline(flop, nbytes, _gemm_flops(dep), hbm) + np.where(active, p.kernel_launch_s, 0.0)
    return t, flop, nbytes


def elementwise_time(dep: Deployment, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(seconds, bytes) of one layer's norms, activation, rope and residual adds: streams of
    the hidden state (≈10 passes of d) and of the FFN activation (3 passes of f/tp)."""
    m, p = dep.model, dep.params
    width = max(m.intermediate_size, m.ssm_inner_size, 1) / dep.tp
    nbytes = tokens * (10.0 * m.hidden_size + 3.0 * width) * ACTIVATION_BYTES
    hbm = dep.hardware.hbm_bytes_per_s.value * p.elementwise_hbm_eff
    launches = np.where(tokens > 0, p.kernel_launch_s * ELEMENTWISE_KERNELS_PER_LAYER, 0.0)
    return nbytes / hbm + launches, nbytes


def allreduce_time(hw: Hardware, p: PerfParams, gpus: ArrayLike, nbytes: ArrayLike) -> np.ndarray:
    """Ring all-reduce of ``nbytes`` over ``gpus`` GPUs (alpha-beta model): ``2(t−1)`` steps of
    ``nbytes/t`` each over the intra-node link (inter-node beyond one node), seconds."""
    t = np.asarray(gpus, dtype=float)
    link = np.where(
        t <= hw.gpus_per_node, hw.intra_node_bytes_per_s.value, hw.inter_node_bytes_per_s.value
    )
    steps = 2.0 * (t - 1.0)
    return steps * (np.asarray(nbytes) / t / (link * p.link_eff) + p.collective_latency_s)


def step_time(dep: Deployment, batch: Batch) -> StepTime:
    """Time of one iteration of ``batch`` on deployment ``dep``, with its per-op breakdown."""
    m, hw, p = dep.model, dep.hardware, dep.params
    tp = dep.tp
    tokens = batch.tokens
    active = tokens > 0
    acc = _Accumulator(np.shape(tokens))

    f_gemm = _gemm_flops(dep)
    f_attn = hw.peak_flops("bf16") * p.attn_flops_eff
    hbm = hw.hbm_bytes_per_s.value
    b_gemm, b_attn, b_elem = hbm * p.gemm_hbm_eff, hbm * p.attn_hbm_eff, hbm * p.elementwise_hbm_eff
    launch = np.where(active, p.kernel_launch_s, 0.0)

    for lin in m.linears():  # one kernel per matrix per layer
        t, flop, nbytes = gemm_time(dep, lin, tokens)
        acc.add(lin.op, t * lin.layers, flop * lin.layers, nbytes * lin.layers)

    _attention(dep, batch, acc, f_attn, b_attn, p.kernel_launch_s)
    _ssm(dep, batch, acc, f_gemm, b_elem, p.kernel_launch_s)

    elem_s, elem_bytes = elementwise_time(dep, tokens)
    acc.add("elementwise", elem_s * m.num_layers, 0.0, elem_bytes * m.num_layers)

    # LM head over the last position of every sequence (vocab-parallel under TP).
    rows, d = batch.sequences, m.hidden_size
    head_flop = 2.0 * rows * d * m.vocab_size / tp
    head_bytes = np.where(rows > 0, d * m.vocab_size / tp * ACTIVATION_BYTES, 0.0) + rows * (
        m.vocab_size / tp * 4.0
    )
    acc.add(
        "lm_head", _roofline(head_flop, head_bytes, f_gemm, b_gemm) + launch, head_flop, head_bytes
    )

    _communication(dep, tokens, acc)
    overhead = p.iteration_overhead_s + p.per_sequence_overhead_s * batch.sequences
    acc.add("overhead", np.where(active, overhead, 0.0))
    return acc.result()


def _attention(dep: Deployment, batch: Batch, acc: _Accumulator, flops, hbm, t_launch) -> None:
    m, tp = dep.model, dep.tp
    layers = m.attention_layer_count
    if not layers:
        return
    heads = m.num_attention_heads / tp
    kv_token_bytes = dep.kv_elements_per_token_per_layer_per_gpu * dep.kv_bytes_per_element
    window = m.sliding_window
    pairs, kv_prefill, kv_decode = (
        batch.prefill_attn_pairs,
        batch.prefill_kv_tokens,
        batch.decode_kv_tokens,
    )
    if window is not None:  # each query sees at most `window` keys
        pairs = np.minimum(pairs, batch.prefill_tokens * window)
        kv_prefill = np.minimum(kv_prefill, batch.prefill_seqs * window + batch.prefill_tokens)
        kv_decode = np.minimum(kv_decode, batch.decode_seqs * window)
    # engines that run a prefill batch as one masked sequence touch T²/2 score pairs
    flat_pairs = batch.prefill_tokens**2 / 2.0
    for phase, n_query, work, kv_tokens, flat in (
        ("prefill", batch.prefill_tokens, pairs, kv_prefill, flat_pairs),
        ("decode", batch.decode_seqs, kv_decode, kv_decode, 0.0),
    ):
        d_qk, d_v = m.attention_dims(phase)  # type: ignore[arg-type]
        flop = 2.0 * heads * (d_qk + d_v) * work
        # KV read, Q read / output write, new KV written, and any materialised score matrix
        nbytes = (
            kv_tokens * kv_token_bytes
            + heads * (work * dep.params.attn_score_bytes + flat * dep.params.attn_flat_pair_bytes)
            + n_query * heads * (d_qk + d_v) * ACTIVATION_BYTES
            + n_query * kv_token_bytes
        )
        t = _roofline(flop, nbytes, flops, hbm) + np.where(n_query > 0, t_launch, 0.0)
        acc.add(f"attn_{phase}", t * layers, flop * layers, nbytes * layers)


def _ssm(dep: Deployment, batch: Batch, acc: _Accumulator, flops, hbm, t_launch) -> None:
    """Selective-scan core of SSM layers: ~9 FLOP per state element per token; the decode
    step reads and writes each sequence's fixed state."""
    m, tp = dep.model, dep.tp
    if m.ssm is None or not m.ssm_layer_count:
        return
    layers = m.ssm_layer_count
    state_elems = m.ssm_inner_size * m.ssm.state_size / tp
    flop = 9.0 * batch.tokens * state_elems
    state_bytes = m.ssm_state_bytes_per_sequence() / layers / tp
    nbytes = batch.sequences * 2.0 * state_bytes + batch.tokens * 3.0 * m.ssm_inner_size / tp * 2
    t = _roofline(flop, nbytes, flops, hbm) + np.where(batch.tokens > 0, 2 * t_launch, 0.0)
    acc.add("ssm_scan", t * layers, flop * layers, nbytes * layers)


def _communication(dep: Deployment, tokens: np.ndarray, acc: _Accumulator) -> None:
    m, hw, p = dep.model, dep.hardware, dep.params
    message = tokens * m.hidden_size * ACTIVATION_BYTES
    if dep.tp > 1:
        per = allreduce_time(hw, p, dep.tp, message)
        acc.add("tp_allreduce", np.where(tokens > 0, per * 2 * m.num_layers, 0.0))
    if dep.pp > 1:
        span = dep.tp * dep.pp > hw.gpus_per_node
        link = hw.inter_node_bytes_per_s if span else hw.intra_node_bytes_per_s
        hop = message / (link.value * p.link_eff) + p.collective_latency_s
        acc.add("pp_send", np.where(tokens > 0, hop * (dep.pp - 1), 0.0), 0.0, 0.0)
