"""Measured kernel tables of today's serving engines, read from NVIDIA aiconfigurator-core's data
files (Apache-2.0; the optional ``aiconfigurator`` extra), as rows the roofline can be fitted to.

Only the data files are read (parquet tables under ``aiconfigurator_core/systems/data``); none of
aiconfigurator's estimator code is imported. Per GPU × engine, the newest collected version of:

- ``gemm``, ``gemm_fp8``, ``gemm_fp4``: GEMMs ``m × k → n`` (the engine's dense linear kernel)
  in bf16, per-tensor FP8 and NVFP4 (where collected: Blackwell), ``1 ≤ m ≤ 16384`` and
  ``1024 ≤ n, k ≤ 32768`` — the shapes of LLM linears on 1–8 GPUs;
- ``attn_prefill`` / ``attn_decode``: context and generation attention with a bf16 KV cache,
  head dim 128, no sliding window; prefill prompts of ≥ 128 tokens, decode batches of ≤ 512
  sequences on ≥ 127 cached tokens; the engine's fastest attention backend per shape;
- ``all_reduce``: the engine's custom all-reduce (CUDA-graph variant where there are two) on 2,
  4 and 8 GPUs of one node, messages up to 128 MiB; aiconfigurator's ``message_size`` counts bf16
  elements (its models pass tokens × hidden), so bytes = 2 × message_size.

Rows share one schema: ``op``, ``time_s`` and the shape columns of :data:`SHAPE_COLUMNS`.
Rows faster than the GPU's datasheet HBM bandwidth allows for the bytes the kernel must read
(a GEMM's weights, a decode kernel's KV cache), and all-reduce rows slower than
:data:`PADDING_SLACK` × a larger message on the same GPUs (which the smaller one could be padded
to), are dropped as mis-measured and counted.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import importlib.util
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from costcorrect.catalog.hardware import Hardware
from costcorrect.catalog.models import WEIGHT_BYTES
from costcorrect.errors import InputError
from costcorrect.io import data_date

PACKAGE = "aiconfigurator_core"
DISTRIBUTION = "aiconfigurator-core"
INSTALL_HINT = "pip install 'costcorrect[aiconfigurator]' (NVIDIA aiconfigurator-core, ~80 MB)"
#: our catalog's GPU names → aiconfigurator's system folders
GPU_FOLDERS = {
    "A100-80GB-SXM": "a100_sxm",
    "H100-SXM": "h100_sxm",
    "H200": "h200_sxm",
    "B200": "b200_sxm",
}
ENGINES = ("vllm", "sglang", "trtllm")
OPS = ("gemm", "gemm_fp8", "gemm_fp4", "attn_prefill", "attn_decode", "all_reduce")
#: GEMM op classes → (aiconfigurator's gemm_dtype, our weight format)
GEMM_FORMATS = {
    "gemm": ("bfloat16", "bf16"),
    "gemm_fp8": ("fp8", "fp8"),
    "gemm_fp4": ("nvfp4", "fp4"),
}
SHAPE_COLUMNS = (
    "m",
    "n",
    "k",
    "batch",
    "tokens",
    "context",
    "heads",
    "kv_heads",
    "head_dim",
    "gpus",
    "size_bytes",
)
GEMM_M_MAX, GEMM_NK = 16384, (1024, 32768)
PREFILL_MIN_TOKENS, DECODE_MAX_BATCH, DECODE_MIN_CONTEXT = 128, 512, 127
ALLREDUCE_MAX_BYTES = 128 * 2**20
HEAD_DIM = 128
#: an all-reduce slower than this many times a larger one on the same GPUs is mis-measured
PADDING_SLACK = 2.0
BF16_BYTES = 2


def data_root(root: str | Path | None = None) -> Path:
    """The ``systems/data`` folder of aiconfigurator-core: ``root`` if given, else the installed
    package's; raises :class:`InputError` naming the install command when it is absent."""
    if root is not None:
        path = Path(root)
        if not path.is_dir():
            raise InputError("data", str(path), "aiconfigurator-core's systems/data folder")
        return path
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise InputError("from", "aiconfigurator", f"aiconfigurator-core installed: {INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations))) / "systems" / "data"


def _version_key(version: str) -> tuple:
    parts = version.replace("rc", ".-1.").replace(".post", ".").split(".")
    return tuple(int(p) if p.lstrip("-").isdigit() else 0 for p in parts)


def newest_table(folder: Path, table: str) -> Path:
    """The ``table`` parquet file of the newest version folder under ``folder`` holding it."""
    versions = sorted(
        (p for p in folder.glob(f"*/{table}.parquet")), key=lambda p: _version_key(p.parent.name)
    )
    if not versions:
        raise InputError("kernel table", str(folder / f"*/{table}.parquet"), "a collected table")
    return versions[-1]


def _frame(**columns: object) -> pd.DataFrame:
    length = len(next(v for v in columns.values() if isinstance(v, pd.Series)))
    data = {c: np.full(length, np.nan) for c in SHAPE_COLUMNS}
    data.update({k: np.asarray(v) for k, v in columns.items()})
    return pd.DataFrame(data)


def _gemm(path: Path) -> pd.DataFrame:
    table = pd.read_parquet(path)
    lo, hi = GEMM_NK
    shaped = table[
        (table["m"] <= GEMM_M_MAX) & table["n"].between(lo, hi) & table["k"].between(lo, hi)
    ]
    frames = []
    for op, (dtype, _) in GEMM_FORMATS.items():
        d = shaped[shaped["gemm_dtype"] == dtype]
        if d.empty:
            continue
        d = d.groupby(["m", "n", "k"], as_index=False)["latency"].min()
        frames.append(_frame(op=op, m=d["m"], n=d["n"], k=d["k"], time_s=d["latency"] * 1e-3))
    return pd.concat(frames, ignore_index=True)


def _attention(path: Path, phase: str) -> pd.DataFrame:
    d = pd.read_parquet(path)
    if "window_size" not in d.columns:  # older collections: full attention only
        d = d.assign(window_size=0)
    d = d[
        (d["kv_cache_dtype"] == "bfloat16")
        & (d["head_dim"] == HEAD_DIM)
        & (d["window_size"] == 0)
        & (d["num_heads"] % d["num_key_value_heads"] == 0)
    ]
    if phase == "prefill":
        d = d[(d["step"] == 0) & (d["isl"] >= PREFILL_MIN_TOKENS)]
    else:
        d = d[(d["batch_size"] <= DECODE_MAX_BATCH) & (d["step"] >= DECODE_MIN_CONTEXT)]
    keys = ["batch_size", "isl", "step", "num_heads", "num_key_value_heads"]
    d = d.groupby(keys, as_index=False)["latency"].min()
    return _frame(
        op=f"attn_{phase}",
        batch=d["batch_size"],
        tokens=d["isl"],
        context=d["step"],
        heads=d["num_heads"],
        kv_heads=d["num_key_value_heads"],
        head_dim=HEAD_DIM,
        time_s=d["latency"] * 1e-3,
    )


def _all_reduce(path: Path) -> pd.DataFrame:
    d = pd.read_parquet(path)
    if "backend" in d.columns:
        d = d[d["backend"].str.endswith("graph")]
    d = d.assign(size_bytes=d["message_size"] * BF16_BYTES)
    d = d[d["size_bytes"] <= ALLREDUCE_MAX_BYTES]
    d = d.groupby(["num_gpus", "size_bytes"], as_index=False)["latency"].min()
    return _frame(
        op="all_reduce",
        gpus=d["num_gpus"],
        size_bytes=d["size_bytes"],
        time_s=d["latency"] * 1e-3,
    )


_COLLECTED = re.compile(r"collected_at:\s*'?(\d{4}-\d{2}-\d{2})")


def collection_date(system: Path, files: list[Path]) -> dt.date:
    """The newest ``collected_at`` the GPU's tables record, else the newest any GPU's tables
    record, else the newest modification date of ``files`` — a date of the data, never today's
    unless the data are."""
    for pattern in (
        system.glob("*/*/*/collection_meta.yaml"),
        system.parent.glob("*/*/*/*/*.yaml"),
    ):
        dates = [m[1] for meta in sorted(pattern) for m in _COLLECTED.finditer(meta.read_text())]
        if dates:
            return dt.date.fromisoformat(max(dates))
    return data_date(files)


def package_version(root: str | Path | None) -> str:
    """aiconfigurator-core's installed version, or the folder's path where ``root`` is given."""
    if root is not None:
        return f"data at {root}"
    return importlib.metadata.version(DISTRIBUTION)


@dataclass(frozen=True)
class KernelTables:
    """One GPU × engine's measured kernel rows, the engine version each op came from, the
    package they came from and their collection date."""

    gpu: str
    engine: str
    versions: dict[str, str]
    rows: pd.DataFrame
    package: str
    date: dt.date
    dropped: dict[str, int] = field(default_factory=dict)  # per op: mis-measured rows left out

    @property
    def engine_version(self) -> str:
        """The engine version of the GEMM and attention tables (the stack's name)."""
        return self.versions["gemm"]

    @property
    def stack(self) -> str:
        return f"{self.engine}-{self.engine_version}"


def read_kernel_tables(
    hardware: Hardware, engine: str, root: str | Path | None = None
) -> KernelTables:
    """The measured kernel rows of ``engine`` on ``hardware`` (see the module docstring)."""
    if engine not in ENGINES:
        raise InputError("engine", engine, f"one of {', '.join(ENGINES)}")
    folder = GPU_FOLDERS.get(hardware.name)
    if folder is None:
        raise InputError("gpu", hardware.name, f"one of {', '.join(GPU_FOLDERS)}")
    system = data_root(root) / folder
    paths = {
        "gemm": newest_table(system / "gemm" / engine, "gemm_perf"),
        "attn_prefill": newest_table(system / "attention" / engine, "context_attention_perf"),
        "attn_decode": newest_table(system / "attention" / engine, "generation_attention_perf"),
        "all_reduce": newest_table(system / "comm" / engine, "custom_allreduce_perf"),
    }
    frames = [
        _gemm(paths["gemm"]),
        _attention(paths["attn_prefill"], "prefill"),
        _attention(paths["attn_decode"], "decode"),
        _all_reduce(paths["all_reduce"]),
    ]
    rows = pd.concat(frames, ignore_index=True).assign(gpu=hardware.name)
    impossible = (rows["time_s"] < hbm_floor_s(rows, hardware)) | padding_bound_exceeded(rows)
    dropped = rows.loc[impossible, "op"].value_counts().to_dict()
    rows = rows[~impossible].reset_index(drop=True)
    versions = {op: path.parent.name for op, path in paths.items()}
    date = collection_date(system, list(paths.values()))
    return KernelTables(hardware.name, engine, versions, rows, package_version(root), date, dropped)


def hbm_floor_s(rows: pd.DataFrame, hardware: Hardware) -> np.ndarray:
    """Seconds each row's kernel needs at least to read what it must from HBM at the datasheet
    bandwidth: a GEMM's weights, a decode attention kernel's KV cache (0 for other ops)."""
    weight_bytes = rows["op"].map({op: WEIGHT_BYTES[fmt] for op, (_, fmt) in GEMM_FORMATS.items()})
    gemm = (rows["n"] * rows["k"] * weight_bytes).fillna(0.0)
    kv = rows["batch"] * rows["context"] * rows["kv_heads"] * rows["head_dim"] * 2 * BF16_BYTES
    decode = kv.where(rows["op"] == "attn_decode", 0.0).fillna(0.0)
    return ((gemm + decode) / hardware.hbm_bytes_per_s.value).to_numpy()


def padding_bound_exceeded(rows: pd.DataFrame) -> np.ndarray:
    """All-reduce rows slower than :data:`PADDING_SLACK` × the fastest larger message on the same
    number of GPUs: a kernel could send the smaller message padded to the larger one."""
    reduce = rows[rows["op"] == "all_reduce"].sort_values(["gpus", "size_bytes"])
    fastest_larger = reduce.groupby("gpus")["time_s"].transform(
        lambda t: t[::-1].cummin()[::-1].shift(-1)
    )
    slow = reduce.index[reduce["time_s"] > PADDING_SLACK * fastest_larger]
    return rows.index.isin(slow)
