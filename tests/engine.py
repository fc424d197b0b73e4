"""A real serving engine on loopback for the measurement tests: Hugging Face
``transformers serve`` (CPU, continuous batching, explicit cache sizes, offline) serving a tiny
random-weight Llama built here — config, random init, a byte-level BPE tokenizer trained with
``tokenizers`` and a chat template; nothing is downloaded."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

WORDS = (
    "alpha",
    "beta",
    "gamma",
    "delta",
    "token",
    "serve",
    "cost",
    "batch",
    "cache",
    "queue",
    "model",
    "answer",
    "time",
    "price",
    "energy",
    "route",
    "query",
    "tensor",
    "latency",
)
HEALTH_TIMEOUT_S = 180


def build_tiny_llama(folder: Path, seed: int = 0) -> Path:
    """Save a 2-layer random Llama (hidden 64) and its tokenizer to ``folder``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    rng = random.Random(seed)
    corpus = [" ".join(rng.choice(WORDS) for _ in range(24)) for _ in range(2000)]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(
        corpus,
        trainers.BpeTrainer(
            vocab_size=512,
            special_tokens=["<unk>", "<s>", "</s>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
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
    LlamaForCausalLM(config).save_pretrained(folder)
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
