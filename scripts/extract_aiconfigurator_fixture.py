"""Write the small extract of aiconfigurator-core's H200 vLLM kernel tables that the tests read
(tests/data/aiconfigurator/, same folder layout; Apache-2.0, NVIDIA). Needs the extra installed:

    python scripts/extract_aiconfigurator_fixture.py
"""

from pathlib import Path

import pandas as pd

from costcorrect.perf.kernel_tables import data_root

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "aiconfigurator"
SYSTEM = "h200_sxm"
KEEP = {
    "gemm/vllm/0.24.0/gemm_perf.parquet": lambda d: d[
        d["gemm_dtype"].isin(["bfloat16", "fp8"])
        & d["m"].isin([1, 16, 128, 1024, 8192])
        & d["n"].isin([1024, 2048, 4096, 8192, 16384])
        & d["k"].isin([1024, 4096, 8192, 16384])
    ],
    "attention/vllm/0.24.0/context_attention_perf.parquet": lambda d: d[
        (d["kv_cache_dtype"] == "bfloat16")
        & (d["head_dim"] == 128)
        & (d["window_size"] == 0)
        & d["num_heads"].isin([8, 16, 32, 64])
        & (d["num_key_value_heads"] == 8)
        & d["batch_size"].isin([1, 4, 16])
        & d["isl"].isin([128, 1024, 4096])
    ],
    "attention/vllm/0.24.0/generation_attention_perf.parquet": lambda d: d[
        (d["kv_cache_dtype"] == "bfloat16")
        & (d["head_dim"] == 128)
        & (d["window_size"] == 0)
        & d["num_heads"].isin([8, 16, 32, 64])
        & (d["num_key_value_heads"] == 8)
        & d["batch_size"].isin([1, 8, 64, 256])
        & d["step"].isin([127, 1023, 8191])
    ],
    "comm/vllm/0.24.0/custom_allreduce_perf.parquet": lambda d: d,
}


def main() -> None:
    source = data_root() / SYSTEM
    for relative, keep in KEEP.items():
        target = OUT / SYSTEM / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        keep(pd.read_parquet(source / relative)).to_parquet(target, index=False)
        meta = source / Path(relative).parent / "collection_meta.yaml"
        (target.parent / meta.name).write_text(meta.read_text())


if __name__ == "__main__":
    main()
