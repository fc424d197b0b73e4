"""Model architectures from HF-config-like fields, with derived parameter and KV-cache sizes.

The weight matrices a model applies to each token are listed once, by :meth:`ModelSpec.linears`;
parameter counts and the performance model's GEMM ops both come from that list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, model_validator

from costcorrect.catalog.base import CatalogEntry, Count, Sourced

WeightFormat = Literal["fp32", "bf16", "fp16", "fp8", "int8", "awq-int4", "fp4"]
KvDtype = Literal["fp32", "bf16", "fp16", "fp8", "int8"]

#: bytes per stored weight, including group scales (AWQ: 4-bit + fp16 scale and zero per 128)
WEIGHT_BYTES: dict[str, float] = {
    "fp32": 4.0,
    "bf16": 2.0,
    "fp16": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    "awq-int4": 0.5 + 4.0 / 128.0,
    "fp4": 0.5 + 1.0 / 16.0,
}
#: dtype whose tensor-core rate runs the GEMMs of a weight format (AWQ dequantises to fp16)
COMPUTE_DTYPE: dict[str, str] = {
    "fp32": "tf32",
    "bf16": "bf16",
    "fp16": "fp16",
    "fp8": "fp8",
    "int8": "int8",
    "awq-int4": "fp16",
    "fp4": "fp4",
}
KV_BYTES: dict[str, float] = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0}


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MLAConfig(_Config):
    """Multi-head latent attention (DeepSeek-V2/V3)."""

    q_lora_rank: int | None
    kv_lora_rank: int
    qk_nope_head_dim: int
    qk_rope_head_dim: int
    v_head_dim: int


class MoEConfig(_Config):
    """Routed experts (plus optional always-on shared experts) replacing the dense FFN."""

    num_experts: int
    top_k: int
    expert_intermediate_size: int
    num_shared_experts: int = 0
    first_dense_layers: int = 0


class SSMConfig(_Config):
    """Mamba-2 style state-space layers; ``attention_layers`` lists attention layers of a hybrid."""

    state_size: int
    expand: int = 2
    head_dim: int = 64
    n_groups: int = 1
    conv_kernel: int = 4
    attention_layers: tuple[int, ...] = ()


@dataclass(frozen=True)
class Linear:
    """A weight matrix applied to every token of ``layers`` layers (``experts`` copies if routed).

    ``op`` is the performance-model op class it belongs to; ``sharded`` says whether tensor
    parallelism splits it (latent projections of MLA are replicated), ``row_parallel`` whether
    along its input features (each GPU then writes every output column) rather than its output.
    """

    name: str
    op: str
    in_features: int
    out_features: int
    layers: int
    experts: int = 1
    active_experts: int = 1
    sharded: bool = True
    row_parallel: bool = False

    def columns(self, tp: int) -> float:
        """Output columns one GPU computes at tensor parallelism ``tp``."""
        split = self.sharded and not self.row_parallel
        return self.out_features / tp if split else float(self.out_features)

    def depth(self, tp: int) -> float:
        """Input features one GPU reduces over at tensor parallelism ``tp``."""
        split = self.sharded and self.row_parallel
        return self.in_features / tp if split else float(self.in_features)

    @property
    def params(self) -> int:
        return self.in_features * self.out_features * self.layers * self.experts

    @property
    def active_params(self) -> int:
        return self.in_features * self.out_features * self.layers * self.active_experts


class ModelSpec(CatalogEntry):
    """An LLM architecture; sizes in elements, published counts in parameters."""

    family: str
    hf_id: str
    num_layers: int
    hidden_size: int
    vocab_size: int
    intermediate_size: int
    gated_mlp: bool
    num_attention_heads: int = 0
    num_key_value_heads: int | None = None
    head_dim: int | None = None
    linear_bias: bool = False
    qkv_bias: bool = False
    qk_norm: bool = False
    norm: Literal["rmsnorm", "layernorm"] = "rmsnorm"
    position: Literal["rope", "learned", "alibi"] = "rope"
    max_position_embeddings: int
    tie_word_embeddings: bool = False
    embedding_norm: bool = False
    sliding_window: int | None = None
    mla: MLAConfig | None = None
    moe: MoEConfig | None = None
    ssm: SSMConfig | None = None
    weight_format: WeightFormat = "bf16"
    kv_dtype: KvDtype = "bf16"
    published_params: Sourced[Count]
    published_active_params: Sourced[Count] | None = None

    @model_validator(mode="after")
    def _check_shapes(self) -> ModelSpec:
        if self.attention_layer_count and self.num_attention_heads <= 0:
            raise ValueError("num_attention_heads must be > 0 for a model with attention layers")
        if self.num_attention_heads and self.kv_heads and self.num_attention_heads % self.kv_heads:
            raise ValueError("num_attention_heads must be a multiple of num_key_value_heads")
        return self

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """Pydantic's copy without the cached derived values (linears, other params): pydantic
        copies ``__dict__``, cached properties included, so an ``update`` (an MLA or SSM twin)
        would otherwise keep the original's weight layout."""
        copied = super().model_copy(update=update, deep=deep)
        for klass in type(self).__mro__:
            for name, attr in vars(klass).items():
                if isinstance(attr, cached_property):
                    copied.__dict__.pop(name, None)
        return copied

    # --- layer structure -------------------------------------------------------------------
    @property
    def attention_layer_count(self) -> int:
        if self.ssm is None:
            return self.num_layers
        return len(self.ssm.attention_layers)

    @property
    def ssm_layer_count(self) -> int:
        return self.num_layers - self.attention_layer_count

    @property
    def moe_layer_count(self) -> int:
        return 0 if self.moe is None else self.num_layers - self.moe.first_dense_layers

    @property
    def kv_heads(self) -> int:
        return self.num_key_value_heads or self.num_attention_heads

    @property
    def attn_head_dim(self) -> int:
        if self.head_dim:
            return self.head_dim
        return self.hidden_size // self.num_attention_heads if self.num_attention_heads else 0

    @property
    def ssm_inner_size(self) -> int:
        return 0 if self.ssm is None else self.ssm.expand * self.hidden_size

    @property
    def ssm_heads(self) -> int:
        return 0 if self.ssm is None else self.ssm_inner_size // self.ssm.head_dim

    def attention_dims(self, phase: Literal["prefill", "decode"]) -> tuple[int, int]:
        """(query-key dim, value dim) per head of the attention kernel.

        MLA decodes in the weight-absorbed form over the latent cache; it prefills in the
        expanded form.
        """
        if self.mla is None:
            return self.attn_head_dim, self.attn_head_dim
        m = self.mla
        if phase == "decode":
            return m.kv_lora_rank + m.qk_rope_head_dim, m.kv_lora_rank
        return m.qk_nope_head_dim + m.qk_rope_head_dim, m.v_head_dim

    # --- weights ---------------------------------------------------------------------------
    @cached_property
    def _linears(self) -> tuple[Linear, ...]:
        d, la = self.hidden_size, self.attention_layer_count
        out: list[Linear] = []
        if la:
            out += self._attention_linears(la)
        dense_layers = self.num_layers - self.moe_layer_count
        if self.ssm is not None:
            s, ls = self.ssm, self.ssm_layer_count
            proj = 2 * self.ssm_inner_size + 2 * s.n_groups * s.state_size + self.ssm_heads
            out += [
                Linear("ssm_in_proj", "ssm_proj", d, proj, ls),
                Linear("ssm_out_proj", "ssm_proj", self.ssm_inner_size, d, ls, row_parallel=True),
            ]
        up = 2 if self.gated_mlp else 1
        if dense_layers and self.intermediate_size:
            f = self.intermediate_size
            out += [
                Linear("mlp_up", "ffn", d, up * f, dense_layers),
                Linear("mlp_down", "ffn", f, d, dense_layers, row_parallel=True),
            ]
        if self.moe is not None:
            m, lm = self.moe, self.moe_layer_count
            fe = m.expert_intermediate_size
            out += [
                Linear("router", "router", d, m.num_experts, lm, sharded=False),
                Linear("expert_up", "moe", d, up * fe, lm, m.num_experts, m.top_k),
                Linear("expert_down", "moe", fe, d, lm, m.num_experts, m.top_k, row_parallel=True),
            ]
            if m.num_shared_experts:
                fs = fe * m.num_shared_experts
                out += [
                    Linear("shared_up", "ffn", d, up * fs, lm),
                    Linear("shared_down", "ffn", fs, d, lm, row_parallel=True),
                ]
        return tuple(out)

    def _attention_linears(self, layers: int) -> list[Linear]:
        d, nq = self.hidden_size, self.num_attention_heads
        if self.mla is not None:
            m = self.mla
            qk = m.qk_nope_head_dim + m.qk_rope_head_dim
            q = (
                [
                    Linear("q_a", "qkv", d, m.q_lora_rank, layers, sharded=False),
                    Linear("q_b", "qkv", m.q_lora_rank, nq * qk, layers),
                ]
                if m.q_lora_rank
                else [Linear("q", "qkv", d, nq * qk, layers)]
            )
            return [
                *q,
                Linear(
                    "kv_a", "qkv", d, m.kv_lora_rank + m.qk_rope_head_dim, layers, sharded=False
                ),
                Linear(
                    "kv_b", "qkv", m.kv_lora_rank, nq * (m.qk_nope_head_dim + m.v_head_dim), layers
                ),
                Linear("o", "o_proj", nq * m.v_head_dim, d, layers, row_parallel=True),
            ]
        dh = self.attn_head_dim
        return [
            Linear("qkv", "qkv", d, (nq + 2 * self.kv_heads) * dh, layers),
            Linear("o", "o_proj", nq * dh, d, layers, row_parallel=True),
        ]

    def linears(self) -> tuple[Linear, ...]:
        """Every per-token weight matrix of the transformer stack (LM head excluded)."""
        return self._linears

    @cached_property
    def _other_params(self) -> int:
        """Embeddings, LM head, norms, biases and SSM extras (everything not in linears)."""
        d, v = self.hidden_size, self.vocab_size
        n = v * d * (1 if self.tie_word_embeddings else 2)
        if self.position == "learned":
            n += (self.max_position_embeddings + 2) * d  # OPT offsets positions by 2
        norm_params = d * (2 if self.norm == "layernorm" else 1)
        n += norm_params * (2 * self.num_layers + 1 + (1 if self.embedding_norm else 0))
        la = self.attention_layer_count
        if self.qk_norm:
            n += 2 * self.attn_head_dim * la
        if self.mla is not None:
            n += (self.mla.kv_lora_rank + (self.mla.q_lora_rank or 0)) * la
        if self.linear_bias or self.qkv_bias:
            n += (self.num_attention_heads + 2 * self.kv_heads) * self.attn_head_dim * la
        if self.linear_bias:
            f = self.intermediate_size * (2 if self.gated_mlp else 1)
            n += (2 * d + f) * self.num_layers  # o-proj, down-proj and up-proj biases
        if self.ssm is not None:
            s, ls = self.ssm, self.ssm_layer_count
            conv_dim = self.ssm_inner_size + 2 * s.n_groups * s.state_size
            n += ls * (conv_dim * (s.conv_kernel + 1) + 3 * self.ssm_heads + self.ssm_inner_size)
        return n

    @property
    def param_count(self) -> int:
        """Total parameters (all experts), elements."""
        return sum(x.params for x in self._linears) + self._other_params

    @property
    def active_param_count(self) -> int:
        """Parameters used per token (routed experts: top-k only), elements."""
        return sum(x.active_params for x in self._linears) + self._other_params

    # --- KV cache ----------------------------------------------------------------------------
    def kv_elements_per_token_per_layer(self) -> int:
        """KV-cache elements one token adds in one attention layer."""
        if self.mla is not None:
            return self.mla.kv_lora_rank + self.mla.qk_rope_head_dim
        return 2 * self.kv_heads * self.attn_head_dim

    def kv_bytes_per_token(self, kv_dtype: str | None = None) -> float:
        """KV-cache bytes per token over all attention layers (SSM layers add none)."""
        b = KV_BYTES[kv_dtype or self.kv_dtype]
        return self.attention_layer_count * self.kv_elements_per_token_per_layer() * b

    def ssm_state_bytes_per_sequence(self) -> float:
        """Fixed recurrent + conv state of one sequence over all SSM layers (fp32 state), bytes."""
        if self.ssm is None:
            return 0.0
        s = self.ssm
        ssm_state = self.ssm_heads * s.head_dim * s.state_size * 4.0
        conv_state = (self.ssm_inner_size + 2 * s.n_groups * s.state_size) * s.conv_kernel * 2.0
        return self.ssm_layer_count * (ssm_state + conv_state)
