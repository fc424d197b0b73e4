"""A catalog model entry from a Hugging Face ``config.json`` (decoder-only transformers: dense,
GQA, sliding-window, MoE and MLA), validated like every catalog entry."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from costcorrect.catalog.base import input_error_from
from costcorrect.catalog.models import ModelSpec
from costcorrect.errors import InputError
from costcorrect.io import read_text

#: model types whose MLP has no gate (up → act → down); every other supported type is gated
UNGATED = {"gpt2", "opt", "gpt_neox", "falcon", "bloom", "starcoder2", "phi"}
#: model types with a bias on the q/k/v projections though their config says nothing
QKV_BIAS = {"qwen2", "qwen2_moe"}
#: model types with RMS-normalised queries and keys
QK_NORM = {"qwen3", "qwen3_moe", "olmo2"}
#: uniform layers only: Gemma-2/3's alternating local/global attention is not importable
SUPPORTED = (
    "llama, mistral, mixtral, qwen2, qwen2_moe, qwen3, qwen3_moe, deepseek_v2, deepseek_v3, "
    "gemma, phi3, olmo2"
)
_KNOWN = set(SUPPORTED.replace(" ", "").split(","))


def _first(config: dict, *keys: str, default: Any = None) -> Any:
    for key in keys:
        if config.get(key) is not None:
            return config[key]
    return default


def _shared_experts(config: dict) -> int:
    """Always-on experts: DeepSeek counts them, Qwen2-MoE gives their total width instead."""
    if config.get("n_shared_experts"):
        return int(config["n_shared_experts"])
    width, expert = (
        config.get("shared_expert_intermediate_size"),
        config.get("moe_intermediate_size"),
    )
    return round(width / expert) if width and expert else 0


def model_from_hf_config(
    config: dict, name: str, date: dt.date, hf_id: str | None = None, source: str = "config.json"
) -> ModelSpec:
    """The :class:`ModelSpec` of a Hugging Face ``config`` (its ``model_type`` one of
    :data:`SUPPORTED`), dated ``date`` (the config's, not today's). The parameter count is
    computed from the shapes, since a config states none, and its source says so."""
    model_type = str(config.get("model_type", ""))
    if model_type not in _KNOWN:
        raise InputError("model_type", model_type or "missing", f"one of {SUPPORTED}")
    entry: dict[str, Any] = {
        "name": name,
        "family": model_type,
        "hf_id": hf_id or name,
        "source": source,
        "date": date,
        "num_layers": _first(config, "num_hidden_layers", "n_layer"),
        "hidden_size": config.get("hidden_size"),
        "vocab_size": config.get("vocab_size"),
        "intermediate_size": config.get("intermediate_size"),
        "gated_mlp": model_type not in UNGATED,
        "num_attention_heads": config.get("num_attention_heads"),
        "num_key_value_heads": config.get("num_key_value_heads"),
        "head_dim": config.get("head_dim"),
        "qkv_bias": bool(config.get("attention_bias", model_type in QKV_BIAS)),
        "qk_norm": model_type in QK_NORM,
        "max_position_embeddings": config.get("max_position_embeddings"),
        "tie_word_embeddings": bool(config.get("tie_word_embeddings", False)),
        "published_params": {"value": 1, "source": source},  # replaced by the computed count
    }
    window = config.get("sliding_window")
    if window and config.get("use_sliding_window", True):
        entry["sliding_window"] = window
    experts = _first(config, "num_local_experts", "num_experts", "n_routed_experts")
    if experts:
        entry["moe"] = {
            "num_experts": experts,
            "top_k": config.get("num_experts_per_tok"),
            "expert_intermediate_size": _first(
                config, "moe_intermediate_size", "intermediate_size"
            ),
            "num_shared_experts": _shared_experts(config),
            "first_dense_layers": int(config.get("first_k_dense_replace") or 0),
        }
    if config.get("kv_lora_rank"):
        entry["mla"] = {
            key: config.get(key)
            for key in (
                "q_lora_rank",
                "kv_lora_rank",
                "qk_nope_head_dim",
                "qk_rope_head_dim",
                "v_head_dim",
            )
        }
    method = str((config.get("quantization_config") or {}).get("quant_method", ""))
    if method in ("fp8", "awq"):
        entry["weight_format"] = "fp8" if method == "fp8" else "awq-int4"
    try:
        spec = ModelSpec.model_validate(entry)
        computed = {"value": spec.param_count, "source": f"computed from {source}'s shapes"}
        return ModelSpec.model_validate({**entry, "published_params": computed})
    except ValidationError as err:
        raise input_error_from(err, "config") from None


def read_hf_config(path: str | Path) -> dict:
    """The JSON object of a ``config.json`` file (one-line errors for anything else)."""
    text = read_text(path, "config")
    try:
        config = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(
            "config", str(path), f"a JSON file ({err.msg}, line {err.lineno})"
        ) from None
    if not isinstance(config, dict):
        raise InputError("config", str(path), "a JSON object of model fields")
    return config
