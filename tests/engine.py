"""A real serving engine on loopback for the measurement tests: Hugging Face
``transformers serve`` (CPU, continuous batching, explicit cache sizes, offline) serving a tiny
random-weight Llama built here — config, random init, a byte-level BPE tokenizer trained with
``tokenizers`` and a chat template; nothing is downloaded.

Every token the model generates streams as a text event of its own: the tokenizer's alphabet
is printable ASCII, and the special tokens, which the server skips, get all-zero output
weights, so greedy decoding never picks them. (Over all 256 byte tokens, a quarter of the
random model's tokens were bytes that are not whole UTF-8 characters, which the server holds
back: a median of 12 text events per 16 tokens, and in 23 % of requests the last token made
none, so the record's E2E and TPOT ended before the last token.)"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from costcorrect.measure.prompts import WORDS  # the tokenizer learns what the load sends

HEALTH_TIMEOUT_S = 180


def build_tiny_llama(folder: Path, seed: int = 0) -> Path:
    """Save a 2-layer random Llama (hidden 64) and its ASCII tokenizer to ``folder``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    rng = random.Random(seed)
    corpus = [" ".join(rng.choice(WORDS) for _ in range(24)) for _ in range(2000)]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.pre_tokenizer = byte_level
    tok.decoder = decoders.ByteLevel()
    ascii_alphabet = {c for word, _ in byte_level.pre_tokenize_str(string.printable) for c in word}
    tok.train_from_iterator(
        corpus,
        trainers.BpeTrainer(
            vocab_size=512,
            special_tokens=["<unk>", "<s>", "</s>"],
            initial_alphabet=sorted(ascii_alphabet),
        ),
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    fast.chat_template = (
        "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}assistant: {% endif %}"
    )
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
    )
    model = LlamaForCausalLM(config)
    with torch.no_grad():  # logit exactly 0, below the largest of ~200 random logits
        model.lm_head.weight[fast.all_special_ids] = 0.0
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_engine(model: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """Start ``transformers serve`` on a free port; returns (process, base URL) once
    ``/health`` answers."""
    exe = shutil.which("transformers", path=str(Path(sys.executable).parent))
    port = free_port()
    cmd = [
        exe,
        "serve",
        str(model),
        "--continuous-batching",
        "--cb-num-blocks",
        "512",
        "--cb-block-size",
        "32",
        "--cb-max-batch-tokens",
        "1024",
        "--device",
        "cpu",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.Popen(
        cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"transformers serve exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=1) as response:
                if response.status == 200:
                    return proc, url
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    stop_engine(proc)
    raise RuntimeError(f"transformers serve did not answer /health: {log.read_text()[-2000:]}")


def stop_engine(proc: subprocess.Popen) -> None:
    """Stop the server (its whole process group) by PID."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


CATALOG = """\
schema_version: 1
models:
  - name: tiny-llama
    family: test
    hf_id: local/tiny-llama
    source: built by tests/engine.py (random weights)
    date: 2026-11-28
    num_layers: 2
    hidden_size: 64
    num_attention_heads: 4
    num_key_value_heads: 2
    intermediate_size: 128
    gated_mlp: true
    vocab_size: {vocab}
    max_position_embeddings: 4096
    weight_format: fp32
    published_params: {{value: {params}, source: "saved weights", date: 2026-11-28}}
hardware:
  - name: cpu-loopback
    vendor: generic
    form_factor: CPU
    gpus_per_node: 1
    source: assumed round numbers for a 2-core x86 server (the fit absorbs them)
    date: 2026-11-28
    memory_bytes: 16GB
    hbm_bytes_per_s: 10GB/s
    flops_per_s: {{fp32: 50GFLOPS, bf16: 50GFLOPS, fp16: 50GFLOPS}}
    intra_node_link: pcie
    intra_node_bytes_per_s: 10GB/s
    inter_node_bytes_per_s: 1GB/s
    pcie_bytes_per_s: 10GB/s
    tdp_w: 65W
    idle_power_w: 10W
    sm_clock_min_hz: 1GHz
    sm_clock_max_hz: 3GHz
    price_usd_per_s: $0.05/h
    achievable_flops_fraction: 0.5
    achievable_hbm_fraction: 0.5
"""


def tiny_catalog(model_folder: Path, path: Path) -> Path:
    """A catalog file describing the tiny model and this CPU, for `bench fit`."""
    import json

    from safetensors import safe_open

    vocab = json.loads((model_folder / "config.json").read_text())["vocab_size"]
    with safe_open(str(model_folder / "model.safetensors"), "np") as weights:
        params = sum(weights.get_tensor(k).size for k in weights.keys())  # noqa: SIM118
    path.write_text(CATALOG.format(vocab=vocab, params=params))
    return path
