"""Tidy loaders for the released real-GPU measurements under ``<shared>/data``.

Every loader takes ``shared``, the folder that holds ``data/`` (see :func:`default_shared_path`),
and returns a pandas DataFrame in SI units: seconds and bytes. Hardware and model names are the
catalog's (``A100-80GB-SXM``, ``llama-2-70b``, ...), not the sources' spellings.

* :func:`step_measurements`: iteration-level prefill and decode times (Splitwise, DistServe,
  Sarathi-Serve, our H200 plain-PyTorch decoder), used to fit and validate the roofline model
  of one iteration.
* :func:`op_measurements`: Vidur per-layer, per-TP-shard operator kernel times.
* :func:`collective_measurements`: Vidur NCCL all-reduce and send/recv kernel times.

The units and caveats come from each source's README in ``<shared>/data/<source>/README.md``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from costcorrect.perf.fit import REQUIRED_COLUMNS


@dataclass(frozen=True)
class DataSource:
    """A released data set a fit reads: its label (repository @ commit) and its date — when
    the files last changed upstream, or the snapshot's date where the folder's README gives no
    per-file date. A fit carries this date, never the day it ran."""

    label: str
    date: dt.date


SPLITWISE = DataSource(
    "Splitwise perf_model.csv (Mutinifni/splitwise-sim @ 8f99e7d)", dt.date(2024, 3, 29)
)
DISTSERVE = DataSource(
    "DistServe profiler-a100-80g fits (LLMServe/DistServe @ 82831f1)", dt.date(2024, 5, 1)
)
VIDUR = DataSource(
    "Vidur kernel profiles mlp.csv + all_reduce.csv (microsoft/vidur @ 7d47513)",
    dt.date(2024, 11, 19),
)
TORCH_H200 = DataSource(
    "our H200 readings: plain PyTorch decoder, CUDA-graph decode (data/h200 "
    "torch_graph_iterations.csv)",
    dt.date(2026, 12, 4),
)
MLENERGY_V2 = DataSource(
    "ML.ENERGY v2 llm_text_generation (ml-energy/leaderboard-v2 @ c3af7f3)", dt.date(2024, 9, 19)
)

STEP_COLUMNS = ["dataset", *REQUIRED_COLUMNS, "output_tokens", "repeat_cv", "clock_ratio", "note"]
"""Columns of :func:`step_measurements`, in order: the perf-fit input plus provenance."""

#: request-length traces under the shared ``data/`` folder (columns num_prefill/decode_tokens)
TRACE_FILES = {
    "sharegpt": "sarathi/data/processed_traces/sharegpt_8k_filtered_stats_llama2_tokenizer.csv",
    "arxiv-summarization": (
        "vidur/data/processed_traces/arxiv_summarization_stats_llama2_tokenizer_filtered_v2.csv"
    ),
    "azure-conv-2023": "vidur/data/processed_traces/splitwise_conv.csv",
    "azure-code-2023": "vidur/data/processed_traces/splitwise_code.csv",
}

OPS = (
    "attn_pre_proj",
    "attn_post_proj",
    "mlp_up_proj",
    "mlp_down_proj",
    "mlp_act",
    "input_layernorm",
    "post_attention_layernorm",
    "attn_rope",
    "add",
)
"""Vidur operators returned by :func:`op_measurements` (``emb`` is left out: Vidur ignores it)."""

_MS = 1e-3  # seconds per millisecond
H200_MAX_SM_MHZ = 1980.0  # our H200's default maximum SM clock (data/h200/README.md)
_P10_P90_SIGMAS = 2 * 1.2816  # p90 − p10 of a normal distribution, in standard deviations

_SPLITWISE_GPUS = {"a100-80gb": "A100-80GB-SXM", "h100-80gb": "H100-SXM"}
_SPLITWISE_MODELS = {"llama2-70b": "llama-2-70b", "bloom-176b": "bloom-176b"}
_SPLITWISE_PRESSURE_NOTE = "TP 2 at batch >= 32: e2e_time inflated (memory pressure?)"

_DISTSERVE_FILES = {"distserve-engine": "distserve", "distserve-vllm": "vllm"}
_DISTSERVE_MODELS = {"facebook/opt-13b": "opt-13b", "facebook/opt-66b": "opt-66b"}
# README caveat 1: "real-system alignment" multipliers folded into the JSON in commit 4c68ed9.
_DISTSERVE_ALIGNMENT = {
    "distserve-engine": {"prefill": 1.1, "decode": 1.0},
    "distserve-vllm": {"prefill": 1.4, "decode": 1.2},
}
_DISTSERVE_BATCHES = (1, 2, 4, 8, 16, 32, 64, 96, 128, 160, 192)
_DISTSERVE_INPUTS = (4, 8, 16, 32, 48, 64, 96, 128, 192, 256, 284, 512, 768, 1024, 1536, 2020)
_DISTSERVE_OUTPUT_TOKENS = 16
_DISTSERVE_SMALL_BATCH_MAX = 95  # the fit put batch <= 95 in the small-batch regime
_DISTSERVE_BLOCK = 16  # tokens per paged KV block
# Token budget of the profiling grid, batch * ceil16(input) <= limit, per (model, TP). The README
# does not state it; it is get_profiling_params() in LLMServe/DistServe
# evaluation/0-test-single-forward-performance/main.py (commit e2d4dca). OPT-66B TP 8 is not there.
_DISTSERVE_TOKEN_LIMITS = {
    ("opt-13b", 1): 49152,
    ("opt-13b", 2): 98304,
    ("opt-13b", 4): 250000,
    ("opt-66b", 2): 8192,
    ("opt-66b", 3): 36864,
    ("opt-66b", 4): 65000,
}
_DISTSERVE_FALLBACK_PREFILL_TOKENS = 16384
_DISTSERVE_NOTE = "derived from fitted coefficients"

_SARATHI_GPU = "A100-80GB-PCIe"
_SARATHI_MODEL = "yi-34b"
_SARATHI_TP = 2
_SARATHI_WARMUP_PROMPT = 256  # first batch of the prefill run, slower than 512 tokens
_SARATHI_DECODE_PROMPT = 1020
_SARATHI_DECODE_OUTPUT = 4
_SARATHI_DECODE_CONTEXT = 1022
_SARATHI_NOTE = "wall-clock engine step, includes CPU and Ray overhead"

_VIDUR_GPUS = {"a100": "A100-80GB-SXM", "h100": "H100-SXM"}
_VIDUR_MODELS = {
    "Llama-2-7b-hf": "llama-2-7b",
    "Llama-2-70b-hf": "llama-2-70b",
    "Meta-Llama-3-8B": "llama-3-8b",
}
_VIDUR_NODES = {
    "a100_dgx": "A100-80GB-SXM",
    "h100_dgx": "H100-SXM",
    "a100_pairwise_nvlink": "A100-80GB-PCIe",
    "h100_pairwise_nvlink": "H100-NVL",
}
_VIDUR_COPIES = {("h100_pairwise_nvlink", "send_recv")}  # README caveat 2: copy of the A100 file


def default_shared_path() -> Path:
    """Return the shared folder (the parent of ``data/``).

    Order: ``$COSTCORRECT_SHARED`` if set; else the first of ``<repo root>/../shared`` (the repo
    root is the nearest parent of this file holding ``pyproject.toml``) and ``./../shared`` that
    contains ``data/``. Raises ``FileNotFoundError`` naming every place tried.
    """
    from_env = os.environ.get("COSTCORRECT_SHARED")
    if from_env:
        path = Path(from_env)
        if not (path / "data").is_dir():
            raise FileNotFoundError(f"COSTCORRECT_SHARED={from_env!r} has no data/ folder")
        return path
    here = Path(__file__).resolve()
    roots = [p for p in here.parents if (p / "pyproject.toml").is_file()][:1]
    candidates = [root.parent / "shared" for root in roots] + [Path.cwd().parent / "shared"]
    for path in candidates:
        if (path / "data").is_dir():
            return path
    tried = ", ".join(str(p) for p in candidates)
    raise FileNotFoundError(
        f"shared measurement folder not found (tried {tried}); set COSTCORRECT_SHARED to the "
        "folder that contains data/"
    )


def step_measurements(shared: Path) -> pd.DataFrame:
    """Iteration-level prefill and decode times, one row per measured point (:data:`STEP_COLUMNS`).

    Columns: ``dataset`` (``splitwise``, ``distserve-engine``, ``distserve-vllm``, ``sarathi``,
    ``torch-graphs``),
    ``gpu``, ``model``, ``tp``, ``pp`` (always 1), ``phase`` (``prefill``/``decode``),
    ``batch_size`` (requests), ``prompt_tokens`` (prompt length per request), ``output_tokens``
    (output tokens requested per request), ``context_tokens`` (decode: mean KV context per request
    over the measured steps; prefill: 0, nothing cached), ``time_s`` (one iteration in seconds:
    prefill = the whole batch's prefill forward, decode = one decode step of the batch),
    ``repeat_cv`` (coefficient of variation across repetitions, NaN where unknown) and ``note``
    (``'; '``-joined caveats, empty when none). All requests of a batch are identical.

    Splitwise (``data/splitwise``): DGX-A100/H100 runs of Llama-2-70B and BLOOM-176B.

    * The repetitions of each (model, GPU, TP, prompt, batch, output) configuration are reduced
      by their median. There are 19 distinct configurations per group, not the README's 15.
    * ``h100-80gb-pcap`` is dropped: its prompt times are the H100 ones × 1.3 exactly and its
      token times are copies (README caveat 1), so it is not an independent measurement.
    * Prefill rows come from ``prompt_time``, decode rows from ``token_time``. A prefill row is
      repeated for every output length swept at the same (prompt, batch): those are separate runs.
    * ``token_time`` is an average over the decode steps that ran. The number generated is
      estimated from ``e2e_time`` as ``n_gen = (e2e − prompt) / token + 1``, clipped to
      ``[1, output]``, per repetition and then reduced by the median. The context is then
      ``prompt + n_gen / 2``. Rows with ``n_gen < 0.9 · output`` are noted as ended early.
    * Llama-2-70B TP 2 at batch ≥ 32 is kept but noted: ``e2e_time`` there is up to ~17× the
      expected value (README caveat 2, likely memory pressure), so its context is unreliable too.
      Their batch-64 ``prompt_time`` (0.79 s A100, 0.36 s H100 for 32k tokens) is faster than the
      GPUs' peak FLOP/s allows, so it cannot be one whole-batch prefill. Batch 32 is slower than 64.
    * Several long-output runs stop at the same ``n_gen`` for different requested lengths. For
      example, A100 TP 2 stops at 577 tokens for 2048, 4096 and 8192. So the stop was not set
      by ``token_size``.

    DistServe (``data/distserve``): OPT-13B/66B on A100-80GB-SXM. Not measurements: the points
    of the profiling grid evaluated from the fitted coefficients, with the alignment factors of
    README caveat 1 divided out, so that they are the raw least-squares fit. Budget: the grid's
    ``batch · ceil16(input) ≤ limit`` per (model, TP), from the DistServe profiling script. For
    OPT-66B TP 8, absent there, prefill keeps ``batch · input ≤ 16384`` and decode keeps the
    points whose final KV (``batch · ceil16(input + 16)``) fits ``max_num_tokens.csv`` at PP 1.
    Prefill is ``a + b·ΣL + c·ΣL²`` ms. Decode is ``a + b·Σinput + c·batch`` ms. It uses the
    small-batch fit for batch ≤ 95, the fit's own split, and the fit's feature (the context when
    decoding starts). The measured steps had contexts ``input + 1 … input + 15``, so
    ``context_tokens`` is their midpoint ``input + 8``.

    Sarathi-Serve (``data/sarathi``, figure 2): Yi-34B TP 2 on 2× A100-80GB-PCIe.
    ``batch_execution_time`` is the wall-clock time of one engine step. It includes scheduling,
    sampling, CPU and Ray overhead, not only GPU time. The 256-token prefill row is dropped: it
    was the run's first batch and is slower than 512 tokens, likely warm-up. Decode batches carry
    1020-token prompts with 4 decode tokens, so the context is ≈ 1022.

    Plain PyTorch on one H200 (``data/h200``, ours): Llama-3.1-8B shapes, random weights, TP 1;
    decode steps replayed from one CUDA graph with ``tokens`` already cached per sequence
    (context = ``tokens``), prefill in eager mode. Where the board held its 700 W limit the SM
    clock it ran at (``sm_mhz`` below 1980) is the row's ``clock_ratio``; elsewhere it is 1.
    """
    frames = [
        _splitwise_steps(shared),
        _distserve_steps(shared),
        _sarathi_steps(shared),
        torch_graph_steps(shared),
    ]
    steps = pd.concat(frames, ignore_index=True)
    return steps.assign(clock_ratio=steps["clock_ratio"].fillna(1.0))[STEP_COLUMNS]


def op_measurements(shared: Path) -> pd.DataFrame:
    """Vidur operator kernel times of one transformer layer on one GPU shard, long format.

    Columns: ``gpu``, ``model``, ``tp``, ``num_tokens`` (tokens in the batch, prefill and decode
    together), ``op`` (one of :data:`OPS`) and ``time_s`` (the profile's ``.median``, in seconds).
    Collectives and attention kernels are not included. ``attention.csv`` was not released
    (Vidur README caveat 1). The token counts measured twice (2048 and the maximum) are reduced
    by the median. The README does not say whether the profiled A100/H100 were SXM parts; the
    catalog maps them to ``A100-80GB-SXM`` and ``H100-SXM``. Sub-0.01 ms values are quantized
    to 1 µs.
    """
    root = shared / "data" / "vidur" / "data" / "profiling" / "compute"
    frames = [
        _vidur_ops(path, _VIDUR_GPUS[path.parts[-4]], _VIDUR_MODELS[path.parts[-2]])
        for path in sorted(root.glob("*/*/*/mlp.csv"))
    ]
    if not frames:
        raise FileNotFoundError(f"no Vidur compute profiles under {root}")
    return pd.concat(frames, ignore_index=True)


def collective_measurements(shared: Path) -> pd.DataFrame:
    """Vidur NCCL all-reduce and send/recv kernel times.

    Columns: ``node`` (Vidur's node type), ``gpu``, ``collective`` (``all_reduce``/``send_recv``),
    ``num_workers`` (GPUs taking part), ``devices_per_node`` (workers per node: fewer than
    ``num_workers`` means the run crossed nodes), ``size_bytes`` (message size) and ``time_s``
    (the median over 3 timed regions, in seconds). These are GPU kernel times, with no CPU launch
    cost: Vidur adds 0.02 ms. ``h100_pairwise_nvlink/send_recv.csv`` is dropped because it is a
    byte-identical copy of the A100 file (README caveat 2). Sizes measured twice are reduced by
    the median.
    """
    root = shared / "data" / "vidur" / "data" / "profiling" / "network"
    frames = [
        _vidur_collective(root / node / f"{collective}.csv", node, gpu, collective)
        for node, gpu in _VIDUR_NODES.items()
        for collective in ("all_reduce", "send_recv")
        if (node, collective) not in _VIDUR_COPIES
    ]
    return pd.concat(frames, ignore_index=True)


def _splitwise_steps(shared: Path) -> pd.DataFrame:
    """Splitwise prompt/token times reduced to one prefill and one decode row per configuration."""
    raw = pd.read_csv(shared / "data" / "splitwise" / "data" / "perf_model.csv")
    raw = raw[raw["hardware"].isin(list(_SPLITWISE_GPUS))]
    n_gen = (raw["e2e_time"] - raw["prompt_time"]) / raw["token_time"] + 1
    raw = raw.assign(n_gen=n_gen.clip(lower=1, upper=raw["token_size"]))
    keys = ["model", "hardware", "tensor_parallel", "prompt_size", "batch_size", "token_size"]
    groups = raw.groupby(keys)
    runs = groups[["prompt_time", "token_time", "n_gen"]].median()
    spread = groups[["prompt_time", "token_time"]]
    cv = spread.std() / spread.mean()
    runs = runs.join(cv.add_suffix("_cv")).reset_index()

    base = pd.DataFrame(
        {
            "dataset": "splitwise",
            "gpu": runs["hardware"].map(_SPLITWISE_GPUS),
            "model": runs["model"].map(_SPLITWISE_MODELS),
            "tp": runs["tensor_parallel"].astype(int),
            "pp": 1,
            "batch_size": runs["batch_size"].astype(int),
            "prompt_tokens": runs["prompt_size"].astype(int),
            "output_tokens": runs["token_size"].astype(int),
        }
    )
    pressure = (runs["model"] == "llama2-70b") & (runs["tensor_parallel"] == 2)
    pressure &= runs["batch_size"] >= 32
    pressure_note = pd.Series(_SPLITWISE_PRESSURE_NOTE, index=runs.index).where(pressure)
    ended = runs["n_gen"] < 0.9 * runs["token_size"]
    generated = runs["n_gen"].round().astype(int).astype(str)
    ended_note = "ended early: " + generated + " of " + runs["token_size"].astype(str)
    ended_note = (ended_note + " tokens generated (from e2e_time)").where(ended)

    prefill = base.assign(
        phase="prefill",
        context_tokens=0.0,
        time_s=runs["prompt_time"] * _MS,
        repeat_cv=runs["prompt_time_cv"],
        note=_join_notes(pressure_note),
    )
    decode = base.assign(
        phase="decode",
        context_tokens=runs["prompt_size"] + runs["n_gen"] / 2,
        time_s=runs["token_time"] * _MS,
        repeat_cv=runs["token_time_cv"],
        note=_join_notes(pressure_note, ended_note.where(ended)),
    )
    return pd.concat([prefill, decode], ignore_index=True)


def _join_notes(*notes: pd.Series) -> pd.Series:
    """Join row-wise the non-missing strings of ``notes`` with ``'; '`` (empty when none)."""
    table = pd.concat(notes, axis=1)
    return table.apply(lambda row: "; ".join(row.dropna()), axis=1).astype(str)


def _distserve_steps(shared: Path) -> pd.DataFrame:
    """DistServe grid points evaluated from both fitted coefficient files (engine and vLLM)."""
    folder = shared / "data" / "distserve" / "simdistserve" / "estimators" / "profile_data"
    capacity = pd.read_csv(folder / "max_num_tokens.csv")
    capacity = capacity[(capacity["pp"] == 1) & capacity["model"].isin(list(_DISTSERVE_MODELS))]
    kv_tokens = {
        (_DISTSERVE_MODELS[m], int(tp)): int(n)
        for m, tp, n in capacity[["model", "tp", "max_num_tokens"]].itertuples(index=False)
    }
    frames = []
    for dataset, engine in _DISTSERVE_FILES.items():
        fits = json.loads((folder / f"profiler-a100-80g.{engine}.json").read_text())
        for hf_id, by_tp in fits.items():
            model = _DISTSERVE_MODELS[hf_id]
            for tp_text, fit in by_tp.items():
                tp = int(tp_text)
                frames.append(_distserve_fit_points(dataset, model, tp, fit, kv_tokens[model, tp]))
    return pd.concat(frames, ignore_index=True)


def _distserve_fit_points(
    dataset: str, model: str, tp: int, fit: dict, kv_tokens: int
) -> pd.DataFrame:
    """Prefill and decode rows of one (engine, model, TP) fit over its profiling grid."""
    batch, length = (a.ravel() for a in np.meshgrid(_DISTSERVE_BATCHES, _DISTSERVE_INPUTS))
    limit = _DISTSERVE_TOKEN_LIMITS.get((model, tp))
    if limit is None:
        keep_prefill = batch * length <= _DISTSERVE_FALLBACK_PREFILL_TOKENS
        keep_decode = batch * _round_up(length + _DISTSERVE_OUTPUT_TOKENS) <= kv_tokens
    else:
        keep_prefill = keep_decode = batch * _round_up(length) <= limit
    alignment = _DISTSERVE_ALIGNMENT[dataset]

    a, b, c = np.asarray(fit["prefill"]) / alignment["prefill"]
    prefill_ms = a + b * batch * length + c * batch * length**2
    small = np.asarray(fit["decoding_smallbs"]) / alignment["decode"]
    large = np.asarray(fit["decoding_largebs"]) / alignment["decode"]
    a, b, c = np.where(batch <= _DISTSERVE_SMALL_BATCH_MAX, small[:, None], large[:, None])
    decode_ms = a + b * batch * length + c * batch

    base = {
        "dataset": dataset,
        "gpu": "A100-80GB-SXM",
        "model": model,
        "tp": tp,
        "pp": 1,
        "output_tokens": _DISTSERVE_OUTPUT_TOKENS,
        "repeat_cv": math.nan,
        "note": _DISTSERVE_NOTE,
    }
    prefill = pd.DataFrame(
        {
            **base,
            "phase": "prefill",
            "batch_size": batch[keep_prefill],
            "prompt_tokens": length[keep_prefill],
            "context_tokens": 0.0,
            "time_s": prefill_ms[keep_prefill] * _MS,
        }
    )
    decode = pd.DataFrame(
        {
            **base,
            "phase": "decode",
            "batch_size": batch[keep_decode],
            "prompt_tokens": length[keep_decode],
            "context_tokens": length[keep_decode] + _DISTSERVE_OUTPUT_TOKENS / 2.0,
            "time_s": decode_ms[keep_decode] * _MS,
        }
    )
    return pd.concat([prefill, decode], ignore_index=True)


def _round_up(tokens: np.ndarray) -> np.ndarray:
    """Round token counts up to whole paged-KV blocks of 16 tokens."""
    return -(-tokens // _DISTSERVE_BLOCK) * _DISTSERVE_BLOCK


def _sarathi_steps(shared: Path) -> pd.DataFrame:
    """Sarathi-Serve figure-2 prefill-only and decode-only engine step times."""
    folder = shared / "data" / "sarathi" / "osdi-experiments" / "figure-2"
    prefill_raw = pd.read_csv(folder / "prefill.csv")
    prefill_raw = prefill_raw[prefill_raw["batch_num_prefill_tokens"] != _SARATHI_WARMUP_PROMPT]
    decode_raw = pd.read_csv(folder / "decode.csv")
    base = {
        "dataset": "sarathi",
        "gpu": _SARATHI_GPU,
        "model": _SARATHI_MODEL,
        "tp": _SARATHI_TP,
        "pp": 1,
        "repeat_cv": math.nan,
        "note": _SARATHI_NOTE,
    }
    prefill = pd.DataFrame(
        {
            **base,
            "phase": "prefill",
            "batch_size": 1,
            "prompt_tokens": prefill_raw["batch_num_prefill_tokens"].astype(int),
            "output_tokens": 1,
            "context_tokens": 0.0,
            "time_s": prefill_raw["batch_execution_time"],
        }
    )
    decode = pd.DataFrame(
        {
            **base,
            "phase": "decode",
            "batch_size": decode_raw["batch_size"].astype(int),
            "prompt_tokens": _SARATHI_DECODE_PROMPT,
            "output_tokens": _SARATHI_DECODE_OUTPUT,
            "context_tokens": float(_SARATHI_DECODE_CONTEXT),
            "time_s": decode_raw["batch_execution_time"],
        }
    )
    return pd.concat([prefill, decode], ignore_index=True)


def torch_graph_steps(shared: Path) -> pd.DataFrame:
    """Our H200 plain-PyTorch decoder's prefill and CUDA-graph decode step times."""
    raw = pd.read_csv(shared / "data" / "h200" / "torch_graph_iterations.csv")
    raw = raw[raw["phase"].isin(["prefill", "decode"])]
    decode = raw["phase"] == "decode"
    return pd.DataFrame(
        {
            "dataset": "torch-graphs",
            "gpu": "H200",
            "model": raw["model"],
            "tp": 1,
            "pp": 1,
            "phase": raw["phase"],
            "batch_size": raw["batch"].astype(int),
            "prompt_tokens": raw["tokens"].astype(int),
            "output_tokens": 1,
            "context_tokens": np.where(decode, raw["tokens"], 0).astype(float),
            "time_s": raw["step_ms"] * _MS,
            "repeat_cv": (raw["p90_ms"] - raw["p10_ms"]) / raw["step_ms"] / _P10_P90_SIGMAS,
            "clock_ratio": raw["sm_mhz"] / H200_MAX_SM_MHZ,
            "note": np.where(raw["sm_mhz"] < H200_MAX_SM_MHZ, "board held its 700 W limit", ""),
        }
    ).reset_index(drop=True)


def _vidur_ops(path: Path, gpu: str, model: str) -> pd.DataFrame:
    """One Vidur ``mlp.csv`` in long format, duplicated (tokens, TP) reduced by the median."""
    medians = {f"time_stats.{op}.median": op for op in OPS}
    raw = pd.read_csv(path).rename(columns=medians | {"num_tensor_parallel_workers": "tp"})
    wide = raw.groupby(["tp", "num_tokens"], as_index=False)[list(OPS)].median()
    long = wide.melt(id_vars=["tp", "num_tokens"], var_name="op", value_name="time_ms")
    return pd.DataFrame(
        {
            "gpu": gpu,
            "model": model,
            "tp": long["tp"].astype(int),
            "num_tokens": long["num_tokens"].astype(int),
            "op": long["op"],
            "time_s": long["time_ms"] * _MS,
        }
    )


def _vidur_collective(path: Path, node: str, gpu: str, collective: str) -> pd.DataFrame:
    """One Vidur network file, duplicated (workers, placement, size) reduced by the median."""
    keys = ["num_workers", "devices_per_node", "size"]
    raw = pd.read_csv(path)
    median = raw.groupby(keys, as_index=False)[f"time_stats.{collective}.median"].median()
    return pd.DataFrame(
        {
            "node": node,
            "gpu": gpu,
            "collective": collective,
            "num_workers": median["num_workers"].astype(int),
            "devices_per_node": median["devices_per_node"].astype(int),
            "size_bytes": median["size"].astype(int),
            "time_s": median[f"time_stats.{collective}.median"] * _MS,
        }
    )
