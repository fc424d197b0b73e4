"""Write the small extract of aiconfigurator-core's H200 kernel tables that the tests read
(tests/data/aiconfigurator/, same folder layout; Apache-2.0, NVIDIA): vLLM's tables, and
TensorRT-LLM's with generation attention up to 128 query heads per KV head. Needs the extra
installed:

    python scripts/extract_aiconfigurator_fixture.py
"""

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from costcorrect.perf.kernel_tables import data_root, newest_table

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "aiconfigurator"
SYSTEM = "h200_sxm"
Keep = Callable[[pd.DataFrame], pd.DataFrame]


def _attention(
    heads: list[int], kv_heads: list[int], batches: list[int], lengths: list[int], length: str
) -> Keep:
    return lambda d: d[
        (d["kv_cache_dtype"] == "bfloat16")
        & (d["head_dim"] == 128)
        & (d["window_size"] == 0)
        & d["num_heads"].isin(heads)
        & d["num_key_value_heads"].isin(kv_heads)
        & d["batch_size"].isin(batches)
        & d[length].isin(lengths)
    ]


def _gemm(d: pd.DataFrame) -> pd.DataFrame:
    return d[
        d["gemm_dtype"].isin(["bfloat16", "fp8"])
        & d["m"].isin([1, 16, 128, 1024, 8192])
        & d["n"].isin([1024, 2048, 4096, 8192, 16384])
        & d["k"].isin([1024, 4096, 8192, 16384])
    ]


#: (folder, table) → rows kept, per engine
KEEP: dict[str, dict[tuple[str, str], Keep]] = {
    "vllm": {
        ("gemm", "gemm_perf"): _gemm,
        ("attention", "context_attention_perf"): _attention(
            [8, 16, 32, 64], [8], [1, 4, 16], [128, 1024, 4096], "isl"
        ),
        ("attention", "generation_attention_perf"): _attention(
            [8, 16, 32, 64], [8], [1, 8, 64, 256], [127, 1023, 8191], "step"
        ),
        ("comm", "custom_allreduce_perf"): lambda d: d,
    },
    "trtllm": {
        ("gemm", "gemm_perf"): _gemm,
        ("attention", "context_attention_perf"): _attention(
            [8, 16, 32, 64], [8], [1, 4, 16], [128, 1024, 4096], "isl"
        ),
        ("attention", "generation_attention_perf"): _attention(
            [8, 16, 32, 64, 128], [1, 8], [1, 8, 64, 256], [127, 1023, 8191], "step"
        ),
        ("comm", "custom_allreduce_perf"): lambda d: d,
    },
}


def main() -> None:
    system = data_root() / SYSTEM
    for engine, tables in KEEP.items():
        for (folder, table), keep in tables.items():
            source = newest_table(system / folder / engine, table)
            target = OUT / source.relative_to(data_root())
            target.parent.mkdir(parents=True, exist_ok=True)
            keep(pd.read_parquet(source)).to_parquet(target, index=False)
            meta = source.parent / "collection_meta.yaml"
            (target.parent / meta.name).write_text(meta.read_text())


if __name__ == "__main__":
    main()
