"""GPU microbenchmarks: the timing path runs on the CPU here (a tiny model with real
architecture code), its rows are `perf fit` input, and without a GPU the commands say so."""

from typer.testing import CliRunner

from costcorrect.catalog import load_catalog
from costcorrect.cli.app import app
from costcorrect.measure.gpu import time_iterations
from costcorrect.perf.fit import REQUIRED_COLUMNS, read_measurements
from costcorrect.perf.torch_model import random_decoder


def tiny_spec():
    base = load_catalog().models.get("llama-3.1-8b")
    return base.model_copy(
        update={
            "hidden_size": 128,
            "intermediate_size": 256,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "num_layers": 2,
        }
    )


def test_timing_rows_are_perf_fit_input(tmp_path):
    rows = time_iterations(
        tiny_spec(), "H100-SXM", "cpu", prefill=((1, 32), (2, 64)), decode=((1, 64), (4, 128))
    )
    assert set(REQUIRED_COLUMNS) <= set(rows.columns)
    assert (rows.time_s > 0).all() and len(rows) == 4
    path = tmp_path / "timings.csv"
    rows.to_csv(path, index=False)
    back = read_measurements(path)
    assert len(back) == 4 and set(back.phase) == {"prefill", "decode"}
    # more prompt tokens take longer
    pre = rows[rows.phase == "prefill"]
    assert pre.time_s.iloc[1] > pre.time_s.iloc[0] * 0.5


def test_commands_without_a_gpu_say_so(tmp_path):
    out = tmp_path / "t.csv"
    result = CliRunner().invoke(app, ["measure", "gpu", "--out", str(out)])
    assert result.exit_code == 0 and "no NVIDIA device found" in result.output
    assert not out.exists()


def test_decode_with_a_static_cache_and_grouped_queries_matches_causal_attention():
    """The measured decode step is the real computation: writing the new token's KV into the
    static cache and attending with each KV head's query group as one multi-row query gives
    the last position of a causal pass over the whole sequence (GQA without repeating KV)."""
    import torch

    torch.manual_seed(0)
    blocks, (kv_heads, head) = random_decoder(tiny_spec(), 1, "cpu")
    block = blocks[0].float()
    seq = torch.randn(2, 9, 128)
    with torch.inference_mode():
        full = block(seq)  # prefill: causal over all 9 tokens
        _, k, v = block.qkv(block.norm1(seq)).split([4 * head, 2 * head, 2 * head], -1)
        cache = torch.zeros(2, 2, kv_heads, 9, head)
        cache[0, :, :, :8] = k[:, :8].view(2, 8, kv_heads, head).transpose(1, 2)
        cache[1, :, :, :8] = v[:, :8].view(2, 8, kv_heads, head).transpose(1, 2)
        last = block(seq[:, 8:], cache, 8)  # decode the 9th token on 8 cached ones
    torch.testing.assert_close(last[:, 0], full[:, 8], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(cache[0, :, :, 8], k[:, 8].view(2, kv_heads, head))
