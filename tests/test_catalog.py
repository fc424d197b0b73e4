import pytest

from costcorrect.catalog import load_catalog
from costcorrect.catalog.base import Sourced
from costcorrect.catalog.models import ModelSpec
from costcorrect.energy.architectures import MLA, SSM
from costcorrect.errors import InputError

REQUIRED_GPUS = [
    "A100-40GB-SXM",
    "A100-80GB-SXM",
    "H100-SXM",
    "H100-PCIe",
    "H200",
    "B200",
    "L40S",
    "MI300X",
]
REQUIRED_MODELS = [
    "opt-13b",
    "opt-66b",
    "opt-175b",
    "llama-2-7b",
    "llama-2-13b",
    "llama-2-70b",
    "llama-3.1-8b",
    "llama-3.1-70b",
    "llama-3.1-405b",
    "mistral-7b",
    "yi-34b",
    "falcon-180b",
    "bloom-176b",
    "mixtral-8x7b",
    "deepseek-v3",
    "qwen3-32b",
    "mamba2-2.7b",
]


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_required_entries_present(catalog):
    for gpu in REQUIRED_GPUS:
        catalog.hardware.get(gpu)
    for model in REQUIRED_MODELS:
        catalog.models.get(model)


@pytest.mark.parametrize("name", REQUIRED_MODELS)
def test_parameter_counts_within_2_percent_of_published(catalog, name):
    m = catalog.models.get(name)
    assert m.param_count == pytest.approx(m.published_params.value, rel=0.02)
    if m.published_active_params is not None:
        assert m.active_param_count == pytest.approx(m.published_active_params.value, rel=0.02)


def test_kv_bytes_per_token(catalog):
    assert catalog.models.get("llama-3.1-70b").kv_bytes_per_token("bf16") == 327_680
    assert catalog.models.get("llama-3.1-70b").kv_bytes_per_token("fp8") == 163_840
    # MLA caches the latent (512) + rope key (64) per layer
    assert catalog.models.get("deepseek-v3").kv_bytes_per_token("bf16") == 61 * 576 * 2
    assert catalog.models.get("mamba2-2.7b").kv_bytes_per_token() == 0
    assert catalog.models.get("mamba2-2.7b").ssm_state_bytes_per_sequence() > 0


@pytest.mark.parametrize("twin", ["mla", "ssm"])
def test_model_copy_recomputes_the_weight_layout(catalog, twin):
    """pydantic's model_copy copies __dict__, where cached properties live: an MLA/SSM update of
    a model whose layout was already computed must not keep the original's linears."""
    base = catalog.models.get("llama-3.1-8b")
    layout, params = base.linears(), base.param_count  # computed (and cached) first
    update = (
        {"mla": MLA, "num_key_value_heads": base.num_attention_heads}
        if twin == "mla"
        else {"ssm": SSM}
    )
    copy = base.model_copy(update=update)
    fresh = ModelSpec.model_validate({**base.model_dump(), **update})
    assert copy.linears() != layout and copy.param_count != params
    assert copy.linears() == fresh.linears()
    assert (copy.param_count, copy.active_param_count) == (
        fresh.param_count,
        fresh.active_param_count,
    )


def test_every_number_has_source_and_date(catalog):
    for table in (catalog.hardware, catalog.models):
        for entry in table:
            for name in type(entry).model_fields:
                value = getattr(entry, name)
                values = value.values() if isinstance(value, dict) else [value]
                for v in values:
                    if isinstance(v, Sourced):
                        assert v.source and v.date, (entry.name, name)


def test_datasheet_values_are_si(catalog):
    h100 = catalog.hardware.get("h100")
    assert h100.hbm_bytes_per_s.value == 3.35e12
    assert h100.flops_per_s["bf16"].value == pytest.approx(989.4e12)
    assert h100.price_usd_per_hour == pytest.approx(2.99)


def test_unknown_name_suggests(catalog):
    with pytest.raises(InputError, match=r"gpu: got 'H1000'.*expected one of"):
        catalog.hardware.get("H1000")


def test_user_file_overrides_one_field_and_adds_entry(tmp_path):
    user = tmp_path / "my.yaml"
    user.write_text(
        "schema_version: 1\n"
        "hardware:\n"
        "  - name: h100\n"
        "    source: my contract\n"
        "    date: 2026-01-01\n"
        "    price_usd_per_s: $2.10/h\n"
        "    flops_per_s: {fp8: 2000TFLOPS}\n"
    )
    cat = load_catalog([user])
    h = cat.hardware.get("H100-SXM")
    assert h.price_usd_per_hour == pytest.approx(2.10)
    assert h.price_usd_per_s.source == "my contract"
    assert h.hbm_bytes_per_s.source != "my contract"  # untouched fields keep their provenance
    assert h.flops_per_s["fp8"].value == 2e15 and "bf16" in h.flops_per_s
    assert load_catalog().hardware.get("H100-SXM").price_usd_per_hour == pytest.approx(2.99)


def test_set_override():
    cat = load_catalog(overrides=["models.llama-3.1-8b.kv_dtype=fp8"])
    assert cat.models.get("llama-3.1-8b").kv_bytes_per_token() == 65_536


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "hardware:\n  - name: X\n    source: s\n    date: 2024-01-01\n",
            r"hardware\[X\]\.vendor: got None, expected a value",
        ),
        ("schema_version: 7\n", "schema_version: got 7"),
        ("hardware: [\n", "invalid YAML"),
        (
            "hardware:\n  - name: h100\n    hbm_bytes_per_s: 3.35TB\n",
            "hbm_bytes_per_s: got '3.35TB', expected a bandwidth",
        ),
    ],
)
def test_bad_user_yaml(tmp_path, text, message):
    user = tmp_path / "bad.yaml"
    user.write_text(text)
    with pytest.raises(InputError, match=message):
        load_catalog([user])


@pytest.mark.parametrize(
    ("kind", "name", "entry"),
    [
        ("hardware", "h100_sxm", "H100-SXM"),  # aiconfigurator's system names
        ("hardware", "b200_sxm", "B200"),
        ("hardware", "NVIDIA H100 80GB HBM3", "H100-SXM"),  # nvidia-smi --query-gpu=name
        ("hardware", "NVIDIA A100-SXM4-40GB", "A100-40GB-SXM"),
        ("hardware", "NVIDIA H200", "H200"),
        ("models", "meta-llama/Llama-3.1-8B-Instruct", "llama-3.1-8b"),  # Hugging Face ids
        ("models", "meta-llama/Llama-3.3-70B-Instruct", "llama-3.1-70b"),
    ],
)
def test_names_as_other_tools_write_them(kind, name, entry):
    assert getattr(load_catalog(), kind).get(name).name == entry


#: configs as the Hugging Face hub publishes them (the fields the import reads, and others)
HF_CONFIGS = {
    "llama-3.1-8b": {
        "_name_or_path": "meta-llama/Llama-3.1-8B",
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": False,
        "hidden_act": "silu",
        "hidden_size": 4096,
        "intermediate_size": 14336,
        "max_position_embeddings": 131072,
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": 32,
        "num_hidden_layers": 32,
        "num_key_value_heads": 8,
        "rope_theta": 500000.0,
        "tie_word_embeddings": False,
        "torch_dtype": "bfloat16",
        "vocab_size": 128256,
    },
    "qwen3-32b": {
        "architectures": ["Qwen3ForCausalLM"],
        "attention_bias": False,
        "head_dim": 128,
        "hidden_size": 5120,
        "intermediate_size": 25600,
        "max_position_embeddings": 40960,
        "model_type": "qwen3",
        "num_attention_heads": 64,
        "num_hidden_layers": 64,
        "num_key_value_heads": 8,
        "sliding_window": None,
        "tie_word_embeddings": False,
        "use_sliding_window": False,
        "vocab_size": 151936,
    },
    "deepseek-v3": {
        "architectures": ["DeepseekV3ForCausalLM"],
        "first_k_dense_replace": 3,
        "hidden_size": 7168,
        "intermediate_size": 18432,
        "kv_lora_rank": 512,
        "max_position_embeddings": 163840,
        "model_type": "deepseek_v3",
        "moe_intermediate_size": 2048,
        "n_routed_experts": 256,
        "n_shared_experts": 1,
        "num_attention_heads": 128,
        "num_experts_per_tok": 8,
        "num_hidden_layers": 61,
        "num_key_value_heads": 128,
        "q_lora_rank": 1536,
        "qk_nope_head_dim": 128,
        "qk_rope_head_dim": 64,
        "quantization_config": {"quant_method": "fp8"},
        "v_head_dim": 128,
        "vocab_size": 129280,
    },
}


@pytest.mark.parametrize("name", HF_CONFIGS)
def test_a_hugging_face_config_imports_to_the_catalogs_shapes(name):
    """Dense GQA, QK-norm and MoE + MLA configs give the curated entries' parameter count,
    KV bytes per token and weight format."""
    from costcorrect.catalog.hf_config import model_from_hf_config

    curated = load_catalog().models.get(name)
    imported = model_from_hf_config(HF_CONFIGS[name], "imported", curated.date)
    assert imported.param_count == curated.param_count
    assert imported.active_param_count == curated.active_param_count
    assert imported.kv_bytes_per_token() == curated.kv_bytes_per_token()
    assert imported.weight_format == curated.weight_format


def test_catalog_add_model_writes_a_user_catalog(tmp_path):
    import json
    import os

    from typer.testing import CliRunner

    from costcorrect.cli.app import app

    config = tmp_path / "config.json"
    config.write_text(json.dumps(HF_CONFIGS["llama-3.1-8b"]))
    os.utime(config, (1.7e9, 1.7e9))  # dated by the file (2023-11-14), never by today
    out = tmp_path / "mine.yaml"
    runner = CliRunner()
    args = ["catalog", "add", "model", "--from", str(config), "--name", "mine", "--out", str(out)]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["date"] == "2023-11-14"
    entry = load_catalog([out]).models.get("mine")
    assert entry.hf_id == "meta-llama/Llama-3.1-8B" and entry.published_params.value == 8030261248
    step = runner.invoke(app, ["--catalog", str(out), "perf", "step", "--model", "mine", "--json"])
    assert step.exit_code == 0, step.output
    config.write_text(json.dumps({**HF_CONFIGS["llama-3.1-8b"], "model_type": "bert"}))
    bad = runner.invoke(app, [*args, "--out", str(tmp_path / "bad.yaml")])
    assert bad.exit_code == 2 and "model_type" in bad.output
    assert not (tmp_path / "bad.yaml").exists()
