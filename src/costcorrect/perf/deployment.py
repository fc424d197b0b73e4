"""One model instance on ``tp × pp`` GPUs of one type: weights, KV capacity, efficiencies."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from costcorrect.catalog.calibrations import PerfParams
from costcorrect.catalog.hardware import Hardware
from costcorrect.catalog.models import KV_BYTES, WEIGHT_BYTES, ModelSpec
from costcorrect.errors import InputError

if TYPE_CHECKING:
    from costcorrect.catalog.loader import Catalog
    from costcorrect.perf.speculative import Speculation

ACTIVATION_BYTES = 2.0  # bf16/fp16 activations
RUNTIME_RESERVE_BYTES = 1.5 * 2**30  # CUDA context, graphs, allocator slack per GPU


@dataclass(frozen=True)
class Deployment:
    """A serving instance: ``model`` on ``tp·pp`` ``hardware`` GPUs with fitted ``params``.

    ``memory_utilization`` is the fraction of GPU memory the engine may use (vLLM's
    ``gpu_memory_utilization``); ``max_batch_tokens`` sizes the activation workspace. ``stack``
    names the calibration ``params`` came from (``uncalibrated``: datasheet derating; ``custom``:
    params passed by the caller). ``speculation``: speculative decoding with a draft on the same
    GPUs (:mod:`costcorrect.perf.speculative`; dense attention models, no pipeline stages).
    ``kv_memory_bytes``: the KV cache of the whole instance when a setup states it (a paper's
    "KV memory 12 GB"), in place of what ``memory_utilization`` leaves.
    """

    model: ModelSpec
    hardware: Hardware
    tp: int = 1
    pp: int = 1
    weight_format: str | None = None
    kv_dtype: str | None = None
    params: PerfParams = field(default_factory=PerfParams)
    memory_utilization: float = 0.9
    max_batch_tokens: int = 8192
    stack: str = "custom"
    speculation: Speculation | None = None
    kv_memory_bytes: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.tp, int) or self.tp < 1:
            raise InputError("tp", self.tp, "a positive integer")
        if not isinstance(self.pp, int) or self.pp < 1:
            raise InputError("pp", self.pp, "a positive integer")
        heads = self.model.num_attention_heads
        if heads and heads % self.tp:
            raise InputError("tp", self.tp, f"a divisor of {self.model.name}'s {heads} heads")
        if self.pp > self.model.num_layers:
            raise InputError("pp", self.pp, f"at most {self.model.num_layers} (layers)")
        if self.weight_format is not None and self.weight_format not in WEIGHT_BYTES:
            raise InputError("weight_format", self.weight_format, f"one of {list(WEIGHT_BYTES)}")
        if self.kv_dtype is not None and self.kv_dtype not in KV_BYTES:
            raise InputError("kv_dtype", self.kv_dtype, f"one of {list(KV_BYTES)}")
        if not 0 < self.memory_utilization <= 1:
            raise InputError("memory_utilization", self.memory_utilization, "a fraction in (0, 1]")
        if self.kv_memory_bytes is not None and not self.kv_memory_bytes > 0:
            raise InputError("kv_memory", self.kv_memory_bytes, "a positive size in bytes")
        if self.speculation is not None:
            m = self.model
            if m.moe or m.ssm or self.pp > 1:
                raise InputError(
                    "speculative",
                    self.speculation.label,
                    f"a dense attention model without pipeline stages ({m.name}, pp={self.pp})",
                )

    @cached_property
    def draft(self) -> Deployment | None:
        """The speculation's draft on this deployment's GPUs (None without speculation)."""
        return self.speculation.draft_deployment(self) if self.speculation else None

    @classmethod
    def from_names(
        cls,
        model: str,
        gpu: str,
        tp: int = 1,
        pp: int = 1,
        *,
        stack: str | None = None,
        params: PerfParams | None = None,
        catalog: Catalog | None = None,
        **options: Any,
    ) -> Deployment:
        """Build from catalog names; without ``params``, those of the GPU's calibration
        (``stack``, else its first). ``options`` are the remaining fields (weight_format, …)."""
        from costcorrect.catalog import load_catalog
        from costcorrect.perf.calibration import calibrated_params

        cat = catalog or load_catalog()
        hardware = cat.hardware.get(gpu)
        if params is None:
            stack, params = calibrated_params(cat, hardware, stack)
        model_spec, name = cat.models.get(model), stack or "custom"
        return cls(model_spec, hardware, tp, pp, params=params, stack=name, **options)

    @cached_property
    def op_table(self):
        """The linear cost rows of one iteration (:class:`costcorrect.perf.roofline.OpTable`)."""
        from costcorrect.perf.roofline import op_table

        if self.draft is not None:
            from costcorrect.perf.speculative import speculative_op_table

            return speculative_op_table(self, self.draft, self.speculation.k)
        return op_table(self)

    # --- sizes --------------------------------------------------------------------------
    @property
    def gpus(self) -> int:
        return self.tp * self.pp

    @property
    def weight_bytes_per_param(self) -> float:
        return WEIGHT_BYTES[self.weight_format or self.model.weight_format]

    @property
    def kv_bytes_per_element(self) -> float:
        return KV_BYTES[self.kv_dtype or self.model.kv_dtype]

    @cached_property
    def weight_bytes_per_gpu(self) -> float:
        """Weights held by one GPU: sharded matrices / tp, replicated ones whole, all / pp."""
        wb = self.weight_bytes_per_param
        linear = sum(x.params * wb / (self.tp if x.sharded else 1) for x in self.model.linears())
        linear_params = sum(x.params for x in self.model.linears())
        other = (self.model.param_count - linear_params) * ACTIVATION_BYTES / self.tp
        draft = self.speculation.draft_weight_bytes_per_gpu(self.draft) if self.draft else 0.0
        return (linear + other) / self.pp + draft

    @property
    def weight_bytes_total(self) -> float:
        return self.weight_bytes_per_gpu * self.gpus

    @cached_property
    def kv_elements_per_token_per_layer_per_gpu(self) -> float:
        """KV elements one token stores per attention layer on one GPU (MLA latent replicated)."""
        m = self.model
        if m.mla is not None:
            return float(m.kv_elements_per_token_per_layer())
        return 2.0 * m.attn_head_dim * max(m.kv_heads / self.tp, 1.0)

    @property
    def kv_bytes_per_token_per_gpu(self) -> float:
        layers = math.ceil(self.model.attention_layer_count / self.pp)
        own = layers * self.kv_elements_per_token_per_layer_per_gpu * self.kv_bytes_per_element
        return own + (self.draft.kv_bytes_per_token_per_gpu if self.draft else 0.0)

    @property
    def activation_reserve_bytes(self) -> float:
        """Workspace for the largest iteration's activations plus the runtime reserve, per GPU."""
        m = self.model
        width = 4 * m.hidden_size + 2 * max(m.intermediate_size, m.ssm_inner_size) / self.tp
        return self.max_batch_tokens * width * ACTIVATION_BYTES + RUNTIME_RESERVE_BYTES

    @property
    def free_bytes_per_gpu(self) -> float:
        """What ``memory_utilization`` leaves per GPU after weights and workspace, bytes."""
        usable = self.hardware.memory_bytes.value * self.memory_utilization
        return usable - self.weight_bytes_per_gpu - self.activation_reserve_bytes

    @property
    def kv_budget_bytes_per_gpu(self) -> float:
        """KV-cache bytes per GPU: the stated ``kv_memory_bytes`` shared by the GPUs, else all
        that is free."""
        if self.kv_memory_bytes is not None:
            return self.kv_memory_bytes / self.gpus
        return self.free_bytes_per_gpu

    @property
    def fits(self) -> bool:
        return self.free_bytes_per_gpu > 0

    @property
    def kv_capacity_tokens(self) -> int:
        """Tokens of KV cache the instance can hold (0 if the weights do not fit)."""
        per_token = self.kv_bytes_per_token_per_gpu
        if per_token == 0:  # pure SSM: capacity is in sequences, not tokens
            return 0 if not self.fits else 2**62
        return max(int(self.kv_budget_bytes_per_gpu // per_token), 0)

    def check_fits(self) -> None:
        """Raise :class:`InputError` when the weights leave no room for KV cache."""
        if not self.fits:
            need = (self.weight_bytes_per_gpu + self.activation_reserve_bytes) / 1e9
            have = self.hardware.memory_bytes.value * self.memory_utilization / 1e9
            raise InputError(
                "tp",
                self.tp,
                f"more GPUs: {self.model.name} needs {need:.1f} GB per GPU at tp={self.tp}, "
                f"pp={self.pp} but {self.hardware.name} offers {have:.1f} GB usable",
            )
