"""The power model against real measurements, generated into docs/energy.md:

    python -m costcorrect.validate energy --write docs/energy.md --power-yaml \
        src/costcorrect/catalog/data/power.yaml

- ML.ENERGY v2 (vLLM 0.5.4, ShareGPT chat; A100-40GB and H100): per-GPU power at steady state
  = J/token × tokens/s ÷ GPUs. Per GPU type the memory, clock and compute W are fitted by NNLS
  on the activity shares the perf model gives for each configuration (decode at its measured
  average batch and context prompt + output/2); error is leave-one-model-out (each model
  predicted by a fit without it).
- Splitwise (A100-80GB, Llama-2-70B, TP 2/4/8, batch 1–16): average power over a run — one
  prefill then 127 decode steps at the measured times — predicted by the A100 fit (memory
  power scaled to the 80 GB part's bandwidth): a different dataset, GPU part and software.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from costcorrect.catalog import load_catalog
from costcorrect.catalog.calibrations import PerfParams
from costcorrect.catalog.power import power_spec
from costcorrect.energy.fit import PARAMETERS, PowerFit, fit_power
from costcorrect.energy.iteration import iteration_energy
from costcorrect.energy.power import TBPS, PowerModel
from costcorrect.perf import Batch, Deployment
from costcorrect.perf.calibration import calibrations_of
from costcorrect.validate import h200_power
from costcorrect.validate.measurements import MLENERGY_V2, TORCH_H200

MODELS = {
    "meta-llama/Meta-Llama-3.1-8B-Instruct": "llama-3.1-8b",
    "meta-llama/Meta-Llama-3.1-70B-Instruct": "llama-3.1-70b",
    "meta-llama/Meta-Llama-3.1-405B-Instruct": "llama-3.1-405b",
    "mistralai/Mistral-7B-Instruct-v0.3": "mistral-7b",
    "mistralai/Mixtral-8x7B-Instruct-v0.1": "mixtral-8x7b",
}
GPUS = {"NVIDIA A100-SXM4-40GB": "A100-40GB-SXM", "NVIDIA H100 80GB HBM3": "H100-SXM"}
#: ML.ENERGY v2 (vLLM 0.5.4) and Splitwise ran 2023–24 engines: their activity is computed with
#: the historical stack fitted to such an engine, on the GPUs that have it (else the default)
HISTORICAL_STACK = "splitwise"
SHAREGPT_PROMPT = "sharegpt-vllm"  # ML.ENERGY's chat prompts are ShareGPT first turns
SPLITWISE_TDP_W = 400.0  # power columns are fractions of the A100's 400 W (see its README)
SPLITWISE_OUTPUT = 128


@dataclass(frozen=True)
class EnergyValidation:
    mlenergy: pd.DataFrame
    splitwise: pd.DataFrame
    fits: dict[str, PowerFit]  # per GPU, on ML.ENERGY v2
    h200: h200_power.H200Power  # our H200's readings (its fit is the catalog's H200 model)
    h200_untiled: h200_power.H200Power  # the same without the attention kernel's tile


def _historical_stack(catalog, gpu: str) -> str | None:
    fitted = {c.stack for c in calibrations_of(catalog, catalog.hardware.get(gpu))}
    return HISTORICAL_STACK if HISTORICAL_STACK in fitted else None


def _activity(dep: Deployment, batch: Batch, power: PowerModel):
    it = iteration_energy(dep, batch, power)
    shares = (it.busy, it.compute, it.memory, it.overhead)
    return (*(float(v) for v in shares), float(it.time_s))


COLUMNS = {
    "Energy/req (J)": "energy_j",
    "Token tput (tok/s)": "tput",
    "Avg Output Tokens": "out_tokens",
    "Avg BS (reqs)": "avg_batch",
}


def mlenergy_rows(shared: Path, catalog) -> pd.DataFrame:
    """One row per ML.ENERGY v2 chat configuration of a catalog model: measured per-GPU power
    and J/token, and the perf model's activity shares at its average batch."""
    raw = pd.read_csv(shared / "data" / "mlenergy" / "v2" / "llm_text_generation_flat.csv")
    raw = raw[(raw.task == "chat") & raw.Model.isin(MODELS) & raw.GPU.isin(GPUS)]
    raw = raw.rename(columns=COLUMNS)
    prompt = catalog.workloads.get(SHAREGPT_PROMPT).mean_input_tokens
    rows = []
    for r in raw.itertuples(index=False):
        gpu = GPUS[r.GPU]
        dep = Deployment.from_names(
            MODELS[r.Model],
            gpu,
            int(r.TP),
            int(r.PP),
            stack=_historical_stack(catalog, gpu),
            catalog=catalog,
        )
        power = PowerModel.for_hardware(dep.hardware)
        batch = Batch.decode(r.avg_batch, prompt + r.out_tokens / 2)
        busy, comp, mem, over, step = _activity(dep, batch, power)
        # the measured step (s per decode iteration) stretches the modelled iteration: the
        # GPU idles for the rest (scheduling, pipeline bubbles, prefill interference)
        stretch = min(1.0, step / (r.avg_batch / r.tput))
        busy, comp, mem, over = (v * stretch for v in (busy, comp, mem, over))
        j_per_token = r.energy_j / r.out_tokens
        rows.append(
            {
                "gpu": gpu,
                "model": MODELS[r.Model],
                "tp": int(r.TP),
                "pp": int(r.PP),
                "gpus": dep.gpus,
                "batch": r.avg_batch,
                "busy": busy,
                "compute": comp,
                "memory": mem,
                "overhead": over,
                "power_w": j_per_token * r.tput / dep.gpus,
                "j_per_token": j_per_token,
                "tokens_per_s": r.tput,
                "predicted_tokens_per_s": r.avg_batch / step,
            }
        )
    return pd.DataFrame(rows)


def _fit(rows: pd.DataFrame, base: PowerModel) -> PowerFit:
    return fit_power(base, rows.busy, rows.compute, rows.memory, rows.overhead, rows.power_w)


def leave_one_model_out(rows: pd.DataFrame, catalog) -> pd.DataFrame:
    """Predicted power and J/token of every row from a fit on the other models (same GPU)."""
    out = []
    for gpu, group in rows.groupby("gpu"):
        base = PowerModel.for_hardware(catalog.hardware.get(gpu), prior=True)
        for model, held in group.groupby("model"):
            fitted = _fit(group[group.model != model], base).model
            watts = fitted.power(1.0, held.busy, held.compute, held.memory, held.overhead)
            out.append(
                held.assign(
                    predicted_power_w=watts,
                    predicted_j_per_token=watts * held.gpus / held.tokens_per_s,
                    chain_j_per_token=watts * held.gpus / held.predicted_tokens_per_s,
                )
            )
    frame = pd.concat(out, ignore_index=True)
    frame["ape"] = (frame.predicted_j_per_token / frame.j_per_token - 1).abs()
    frame["chain_ape"] = (frame.chain_j_per_token / frame.j_per_token - 1).abs()
    return frame


def splitwise_rows(shared: Path, catalog, a100: PowerModel) -> pd.DataFrame:
    """Splitwise's A100-80GB Llama-2-70B runs with recorded power, against the A100 fit."""
    raw = pd.read_csv(shared / "data" / "splitwise" / "data" / "perf_model.csv")
    raw = raw[
        (raw.average_power > 0) & (raw.model == "llama2-70b") & (raw.token_size == SPLITWISE_OUTPUT)
    ]
    # e2e ≈ prompt + 127 decode steps unless the run ended early (< 1)
    raw = raw.assign(
        e2e_ratio=raw.e2e_time / (raw.prompt_time + (SPLITWISE_OUTPUT - 1) * raw.token_time)
    )
    raw = raw.groupby(["tensor_parallel", "batch_size", "prompt_size"], as_index=False).median(
        numeric_only=True
    )
    hardware = catalog.hardware.get("A100-80GB-SXM")
    scale = hardware.hbm_bytes_per_s.value / catalog.hardware.get(a100.gpu).hbm_bytes_per_s.value
    model = PowerModel.for_hardware(hardware)
    model = type(model)(
        **{
            **a100.__dict__,
            "gpu": hardware.name,
            "idle_w": model.idle_w,
            "memory_w": a100.memory_w * scale,
            "tdp_w": model.tdp_w,
            "clock_min": model.clock_min,
        }
    )
    rows = []
    for r in raw.itertuples(index=False):
        dep = Deployment.from_names(
            "llama-2-70b",
            hardware.name,
            int(r.tensor_parallel),
            stack=_historical_stack(catalog, hardware.name),
            catalog=catalog,
        )
        b, p = int(r.batch_size), int(r.prompt_size)
        pre = iteration_energy(dep, Batch.prefill(p, b), model)
        dec = iteration_energy(dep, Batch.decode(b, p + SPLITWISE_OUTPUT / 2), model)
        t_pre, t_dec = r.prompt_time / 1e3, r.token_time / 1e3 * (SPLITWISE_OUTPUT - 1)
        predicted = (float(pre.power_w) * t_pre + float(dec.power_w) * t_dec) / (t_pre + t_dec)
        rows.append(
            {
                "tp": int(r.tensor_parallel),
                "batch": b,
                "prompt": p,
                "power_w": r.average_power * SPLITWISE_TDP_W,
                "predicted_power_w": predicted,
                "e2e_ratio": r.e2e_ratio,
            }
        )
    frame = pd.DataFrame(rows)
    frame["ape"] = (frame.predicted_power_w / frame.power_w - 1).abs()
    return frame


def run(shared: Path) -> EnergyValidation:
    catalog = load_catalog()
    rows = mlenergy_rows(shared, catalog)
    held_out = leave_one_model_out(rows, catalog)
    fits = {
        gpu: _fit(group, PowerModel.for_hardware(catalog.hardware.get(gpu), prior=True))
        for gpu, group in rows.groupby("gpu")
    }
    splitwise = splitwise_rows(shared, catalog, fits["A100-40GB-SXM"].model)
    return EnergyValidation(
        held_out,
        splitwise,
        fits,
        h200_power.study(shared, catalog),
        h200_power.study(shared, catalog, kernels=PerfParams()),
    )


FITTED = ("memory_w_per_tbps", "clock_w", "compute_w", "overhead_w")


def power_yaml(v: EnergyValidation, catalog, path: Path) -> str:
    """``path``'s power YAML with the fitted GPUs' parameters replaced, dated by the data:
    A100/H100 from ML.ENERGY v2, H200 from our own readings."""
    text = path.read_text()
    header = "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))
    data = yaml.safe_load(text)
    fitted = {
        gpu: (
            fit,
            f"fitted: {MLENERGY_V2.label} chat ({fit.points} configurations on {gpu}, vLLM "
            f"0.5.4; RMSE {fit.rmse_w:.1f} W), python -m costcorrect.validate energy",
            MLENERGY_V2.date,
        )
        for gpu, fit in v.fits.items()
    }
    h200 = v.h200.fit
    fitted[h200_power.GPU] = (
        h200,
        f"fitted: {TORCH_H200.label} ({h200.points} readings at the SM clocks the board ran; "
        f"RMSE {h200.rmse_w:.1f} W), python -m costcorrect.validate energy",
        TORCH_H200.date,
    )
    names = dict(zip(FITTED, ("memory_w", "clock_w", "compute_w", "overhead_w"), strict=True))
    for gpu, (fit, source, date) in fitted.items():
        bandwidth = catalog.hardware.get(gpu).hbm_bytes_per_s.value / TBPS
        per = {"memory_w_per_tbps": bandwidth}  # memory W at full use → W per TB/s
        for key in FITTED:
            divisor, estimate = per.get(key, 1.0), fit.estimates[names[key]]
            data["gpus"][gpu][key].update(
                value=round(getattr(fit.model, names[key]) / divisor, 2),
                source=source,
                date=date.isoformat(),
                interval=[round(estimate.low / divisor, 1), round(estimate.high / divisor, 1)],
                data_share=round(estimate.data_share, 3),
            )
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=200)


# --- the generated page -------------------------------------------------------------------

#: the lever study's deployment: the plain-PyTorch decoder measured on our H200 (data/h200)
LEVER_MODEL, LEVER_GPU, LEVER_STACK = "llama-3.1-8b", "H200", "torch-graphs"
LEVER_BATCHES = (1, 8, 16, 32, 64, 128, 256)
SMALL_BATCHES = tuple(b for b in LEVER_BATCHES if b <= 64)
#: Ma, Afzal, Eitzinger, Wellein 2026 ("The Illusion of Power Capping in LLM Decode",
#: arXiv:2605.11999): ~4B-parameter models in vLLM (BF16) on one H200, decode at batch 1–32
PUBLISHED_DECODE_W = (137, 300)  # decode board power, W
PUBLISHED_BATCHES = (1, 32)  # the batch range it was measured over
PUBLISHED_LOCK_MHZ = 780.0  # the lock that cut power 24–32 % for < 1 % throughput loss
PUBLISHED_LOCK_SAVING = 0.32  # "up to 32 %" of decode energy
V3_TASK = "data/mlenergy/v3_leaderboard/tasks/lm-arena-chat.json"
V3_MODEL, V3_GPU = "meta-llama/Llama-3.1-8B-Instruct", "H100"  # vLLM at steady state
ROSE_RANGE = (1.2, 3.3)  # ROSE: rollout throughput gain on harvested serving GPUs
APE_TARGET = 0.15  # the validation target: median held-out APE of J/token


@dataclass(frozen=True)
class EnergyReport:
    validation: EnergyValidation
    decode: object  # LeverStudy
    prefill: object
    architectures: object  # RequestEnergy
    slack: object  # SlackStudy
    trace_hours: float
    per_gpu_hours: float
    short_window_w: tuple[float, float]  # (highest window W, board limit W), see short_windows
    floor_savings: dict[float, list[float]]  # floor end → decode savings within 5 %, batch ≤ 64
    regimes: list[Regime]  # the published H200 decode power, read as duty cycles
    v3_watts: tuple[float, float]  # ML.ENERGY v3 vLLM H100 llama-3.1-8b W/GPU, batch ≤ 64


@dataclass(frozen=True)
class Regime:
    """A published decode power read through the model: the batch, the W, what a GPU waiting
    between iterations at f_max draws (``gap_w``), and — when the W lies between that and the
    back-to-back power — the share of wall time the kernels must run to draw it (``duty``)
    and the energy saving, throughput loss and W removed of the published lock there."""

    batch: float
    watts: float
    gap_w: float
    duty: float | None = None
    lock_saving: float | None = None
    lock_loss: float | None = None
    lock_w: float | None = None


def duty_regime(dep: Deployment, power: PowerModel, batch: float, watts: float) -> Regime:
    """The duty cycle at which ``batch`` decode sequences (1,024 KV tokens) draw ``watts``
    on average (the gap draws idle plus the clock's overhead power), and what the published
    lock does there. Power is linear in the duty: P(d) = P_gap + d·(P(1) − P_gap)."""
    b = Batch.decode(batch, 1024)
    back_to_back = float(iteration_energy(dep, b, power).power_w)
    gap = float(power.power(1.0, 0.0, 0.0, 0.0, overhead=1.0))  # waiting at f_max
    if not gap < watts <= back_to_back:
        return Regime(batch, watts, gap)
    duty = (watts - gap) / (back_to_back - gap)
    lock = PUBLISHED_LOCK_MHZ * 1e6 / dep.hardware.sm_clock_max_hz.value
    x = np.array([1.0, max(lock, power.clock_min)])
    it = iteration_energy(dep, b, power, x, duty=duty)
    j, tput, w = (np.ravel(v) for v in (it.j_per_token, it.tokens_per_s, it.power_w))
    return Regime(
        batch,
        watts,
        gap,
        duty,
        float(1 - j[1] / j[0]),
        float(1 - tput[1] / tput[0]),
        float(w[0] - w[1]),
    )


def v3_decode_watts(shared: Path, max_batch: float = 64) -> tuple[float, float]:
    """(Lowest, highest) W per GPU ML.ENERGY v3 measured for :data:`V3_MODEL` on one
    :data:`V3_GPU` in vLLM at steady state, average batch ≤ ``max_batch``."""
    import json

    configs = json.loads((shared / V3_TASK).read_text())["configurations"]
    watts = [
        c["avg_power_watts"] / c["num_gpus"]
        for c in configs
        if c["model_id"] == V3_MODEL
        and c["gpu_model"] == V3_GPU
        and c["avg_batch_size"] <= max_batch
    ]
    return min(watts), max(watts)


#: `energy measure`'s output from before its windows were lengthened, run on our H200
SHORT_WINDOWS = "data/h200/costcorrect_energy_measure.json"


def short_windows(shared: Path) -> tuple[float, float]:
    """(Highest average power of one window, the board's enforced limit), both W, of
    `energy measure`'s single short windows on our H200 (:data:`SHORT_WINDOWS`)."""
    import json

    run = json.loads((shared / SHORT_WINDOWS).read_text())
    watts = max(m["joules"] / m["seconds"] for m in run["measurements"])
    return watts, float(run["power_limit_w"])


def per_gpu_hours(trace, fleet: int, margin: float) -> float:
    """Harvestable GPU-hours counted GPU by GPU, not step by step (the independent check of
    ``slack.trace.harvestable``): the k-th of N GPUs is free while the other N − k cover the
    load with headroom, u·(1 + margin) ≤ (N − k)/N, so its free time is the step (s) times the
    number of samples at or below that level — read off the sorted utilisation, with no
    rounding of GPU counts. Both count whole GPU-steps, so they agree exactly."""
    levels = (fleet - np.arange(1, fleet + 1)) / (fleet * (1 + margin))
    samples = np.searchsorted(np.sort(trace.utilisation), levels, side="right")
    return int(samples.sum()) * trace.step_s / 3600


def report(shared: Path, validation: EnergyValidation | None = None) -> EnergyReport:
    """The page's numbers; ``validation``: an already computed :func:`run` (whose fits the
    caller may have written to the catalog first)."""
    from costcorrect.energy.architectures import request_energy
    from costcorrect.energy.levers import lever_study
    from costcorrect.slack.study import slack_study
    from costcorrect.slack.trace import diurnal_trace

    catalog = load_catalog()
    validation = validation or run(shared)
    dep = Deployment.from_names(LEVER_MODEL, LEVER_GPU, stack=LEVER_STACK, catalog=catalog)
    power = PowerModel.for_hardware(dep.hardware)
    decode = lever_study(dep, "decode", LEVER_BATCHES, 1024, power=power)
    floor_savings = {
        end: [
            o.budget_saving
            for o in lever_study(
                dep, "decode", SMALL_BATCHES, 1024, power=replace(power, memory_floor=end)
            ).optima
        ]
        for end in power_spec(LEVER_GPU).memory_clock_floor.interval
    }
    regimes = [
        duty_regime(dep, power, b, w)
        for b, w in zip(PUBLISHED_BATCHES, PUBLISHED_DECODE_W, strict=True)
    ]
    prefill = lever_study(dep, "prefill", (1, 4), 2048)
    arch = request_energy(catalog.models.get(LEVER_MODEL), catalog.hardware.get(LEVER_GPU))
    trace = diurnal_trace(seed=0)
    study = slack_study(trace, 64, 0.2, catalog, "H100-SXM", LEVER_MODEL)
    return EnergyReport(
        validation,
        decode,
        prefill,
        arch,
        study,
        trace.hours,
        per_gpu_hours(trace, 64, 0.2),
        short_windows(shared),
        floor_savings,
        regimes,
        v3_decode_watts(shared),
    )


def _estimate_cell(fit: PowerFit, name: str) -> str:
    e = fit.estimates[name]
    return f"{getattr(fit.model, name):.0f} [{e.low:.0f}, {e.high:.0f}], {e.data_share:.0%}"


def _estimate_interval(r: EnergyReport, name: str) -> str:
    """The H200 fit's 95 % interval of parameter ``name``, W."""
    e = r.validation.h200.fit.estimates[name]
    return f"{e.low:.0f}–{e.high:.0f} W"


def _pct(x: float) -> str:
    return f"{x:.1%}"


def _against(lo: float, hi: float, ref: tuple[float, float]) -> str:
    """Where the range ``lo``–``hi`` lies against the range ``ref``, as a verb phrase."""
    if lo > ref[1]:
        return "lies above"
    if hi < ref[0]:
        return "lies below"
    if lo < ref[0] and hi > ref[1]:
        return "extends beyond both ends of"
    if hi > ref[1]:
        return "reaches above"
    return "reaches below" if lo < ref[0] else "lies within"


def _target(ape: float) -> str:
    return f"target ≤ {APE_TARGET:.0%}: {'met' if ape <= APE_TARGET else 'missed'}"


def _throughput_gap(m: pd.DataFrame) -> str:
    """vLLM's measured tokens/s against the perf model's back-to-back iterations (median)."""
    ratio = float((m.tokens_per_s / m.predicted_tokens_per_s).median())
    side = "below" if ratio < 1 else "above"
    return (
        f"vLLM 0.5.4's measured tokens/s are {_pct(abs(1 - ratio))} {side} the perf model's "
        "back-to-back iterations at the median (prefill interference and scheduling are not "
        "modelled)"
    )


def _splitwise_misses(sw: pd.DataFrame) -> str:
    """The runs with the largest APE: the lowest-power prompt length, and the rest's largest."""
    low_prompt = int(sw.groupby("prompt").power_w.median().idxmin())
    low, rest = sw[sw.prompt == low_prompt], sw[sw.prompt != low_prompt]
    worst = rest.loc[rest.ape.idxmax()]
    largest = "hold" if low.ape.min() > rest.ape.max() else "do not all hold"
    ended = "did not end early" if (low.e2e_ratio >= 1).all() else "partly ended early"
    over = int((rest.predicted_power_w > rest.power_w).sum())
    return (
        f"Splitwise's {low_prompt:,}-token prompts read {low.power_w.min():.0f}–"
        f"{low.power_w.max():.0f} W against {rest.power_w.min():.0f}–{rest.power_w.max():.0f} W "
        f"for every other run and {largest} the largest APEs; their end-to-end time is "
        f"{low.e2e_ratio.min():.3f}–{low.e2e_ratio.max():.3f}× one prefill plus "
        f"{SPLITWISE_OUTPUT - 1} decode steps, so the runs {ended}. Among the other runs the model "
        f"predicts more power than measured in {over} of {len(rest)}; the largest APE is "
        f"{_pct(worst.ape)} (TP {worst.tp:.0f}, batch {worst.batch:.0f}, prompt "
        f"{worst.prompt:,.0f})."
    )


def _validation_section(v: EnergyValidation) -> list[str]:
    m, sw = v.mlenergy, v.splitwise
    lines = [
        "## Validation on real measurements",
        "",
        f"**ML.ENERGY v2** (vLLM 0.5.4, ShareGPT chat, steady state): {len(m)} configurations "
        f"of {m.model.nunique()} catalog models on A100-40GB and H100. The model predicts "
        "per-GPU power from the perf model's activity shares at each configuration's average "
        "batch (with the measured step stretching the modelled one: the rest is idle), so "
        "J/token = power × GPUs ÷ measured tokens/s. Leave-one-model-out: every model is "
        "predicted by a fit that never saw it. The full-chain column also predicts tokens/s "
        "with the perf model.",
        "",
        f"Median APE of J/token, held out: **{_pct(m.ape.median())}** "
        f"({_target(m.ape.median())}); full chain {_pct(m.chain_ape.median())}.",
        "",
        "| GPU | model | configs | median APE (power model) | median APE (full chain) |",
        "|---|---|---|---|---|",
    ]
    for (gpu, model), g in m.groupby(["gpu", "model"]):
        lines.append(
            f"| {gpu} | {model} | {len(g)} | {_pct(g.ape.median())} | "
            f"{_pct(g.chain_ape.median())} |"
        )
    lines += [
        "",
        f"**Splitwise** (A100-80GB, Llama-2-70B, TP 2/4/8, batch 1–16, prompts 128–8192; "
        f"{len(sw)} runs with recorded power): a different dataset, GPU part and serving stack, "
        "predicted by the A100 fit with memory power scaled to the 80 GB part's bandwidth, "
        f"runs of one prefill and 127 decode steps at the measured times. Median APE of "
        f"average power (= of J/token at measured times): **{_pct(sw.ape.median())}** "
        f"({_target(sw.ape.median())}).",
        "",
        "| TP | runs | median APE | largest APE |",
        "|---|---|---|---|",
        *(
            f"| {tp} | {len(g)} | {_pct(g.ape.median())} | {_pct(g.ape.max())} |"
            for tp, g in sw.groupby("tp")
        ),
        "",
        "Fitted parameters (ridge toward the priors in `catalog/data/power.yaml`, all rows of "
        "each GPU; written there by `--power-yaml`), each with its 95 % interval and data share "
        "(the part of its posterior precision from the measurements; below 75 % the prior "
        "sets it):",
        "",
        "| GPU | idle W | memory W (full BW) | clock W | compute W | overhead W | RMSE W |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {gpu} | {f.model.idle_w:.0f} | "
            + " | ".join(_estimate_cell(f, name) for name in PARAMETERS)
            + f" | {f.rmse_w:.1f} |"
            for gpu, f in v.fits.items()
        ),
        "",
        f"Misses: the full chain's median APE ({_pct(m.chain_ape.median())}) is "
        f"{m.chain_ape.median() / m.ape.median():.1f}× the power model's: "
        + _throughput_gap(m)
        + ", which is why power is validated at measured throughput. "
        + _splitwise_misses(sw),
    ]
    return lines


def _levers_section(r: EnergyReport, figure: str | None) -> list[str]:
    d = r.decode
    defaults = {pt.batch: pt for pt in d.points if pt.lever == "default"}
    lines = [
        f"## Power cap vs SM clock locking: {d.model} on one {d.gpu}",
        "",
        f"Decode at 1,024 KV tokens per sequence; prefill of 2,048-token prompts. Default "
        f"clock, power-limited at TDP ({r.decode.points[0].setting:.0f} W). Iteration times "
        f"from the `{LEVER_STACK}` stack: the plain PyTorch decoder whose power was read on "
        "our H200 (`../shared/data/h200`).",
        "",
        "| batch | default W per GPU | J/token | cap that binds: highest tested | optimum lock "
        "(× f_max) | saving | throughput loss | within 5 % loss: lock | saving | loss |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for o in d.optima:
        base = defaults[o.batch]
        binding = [
            pt.setting
            for pt in d.points
            if pt.lever == "cap" and pt.batch == o.batch and pt.clock < 1
        ]
        lines.append(
            f"| {o.batch:g} | {base.power_w:.0f} | {base.j_per_token:.4f} | "
            f"{(f'{max(binding):.0f} W' if binding else 'none')} | {o.clock:.2f} | "
            f"{_pct(o.saving)} | {_pct(o.throughput_loss)} | {o.budget_clock:.2f} | "
            f"{_pct(o.budget_saving)} | {_pct(o.budget_throughput_loss)} |"
        )
    lines += ["", *_lever_findings(r)]
    if figure:
        lines += ["", f"![energy levers]({figure})"]
    return lines


def _lever_findings(r: EnergyReport) -> list[str]:
    """The levers' bullets; every comparison in them is computed from the study's numbers."""
    d = r.decode
    defaults = {pt.batch: pt for pt in d.points if pt.lever == "default"}
    small = [o.budget_saving for o in d.optima if o.batch <= 64]
    return [
        _cap_finding(defaults, d.points[0].setting),
        _published_power_finding(r),
        _lock_finding(r, small),
        _prefill_finding(r.prefill.optima[0], small),
    ]


def _cap_finding(defaults: dict, tdp_w: float) -> str:
    """Whether a cap at TDP lowers the default clock at any decode batch size."""
    binding = [b for b, pt in defaults.items() if pt.clock < 1]
    watts = [pt.power_w for pt in defaults.values()]
    if binding:
        return (
            f"- **The cap at TDP binds in decode at batch {', '.join(f'{b:g}' for b in binding)}"
            f"**: modelled power at the full clock exceeds the {tdp_w:.0f} W limit there."
        )
    return (
        f"- **The cap at TDP never binds in decode** (batch {min(defaults):g}–"
        f"{max(defaults):g}): modelled decode power is {min(watts):.0f}–{max(watts):.0f} W, "
        f"below the {tdp_w:.0f} W limit, so a cap saves nothing until it is set below that."
    )


def _published_power_finding(r: EnergyReport) -> str:
    """Decode power in its regimes: back to back (our readings, the model, ML.ENERGY v3's
    vLLM at steady state) against the published H200 range read as duty cycles."""
    rows = r.validation.h200.rows
    measured = rows.loc[(rows["phase"] == "decode") & (rows["batch"] <= 64), "watts"]
    modelled = [pt.power_w for pt in r.decode.points if pt.lever == "default" and pt.batch <= 64]
    (lo, hi), (v3_lo, v3_hi) = PUBLISHED_DECODE_W, r.v3_watts
    gap = r.regimes[0].gap_w
    readings = []
    for g in r.regimes:
        if g.duty is not None:
            readings.append(
                f"{g.watts:.0f} W at batch {g.batch:g} if its kernels run {g.duty:.0%} of the "
                "wall time"
            )
        else:
            readings.append(
                f"{g.watts:.0f} W at batch {g.batch:g} is below what a GPU waiting at f_max "
                f"draws in the model ({g.gap_w:.0f} W): that board must have lowered its clock "
                "or gated its SMs between steps, which the model does not describe"
            )
    return (
        f"- **Decode power has two regimes.** Back to back — our CUDA-graph decoder measured "
        f"{measured.min():.0f}–{measured.max():.0f} W at batch 1–64 (the model: "
        f"{min(modelled):.0f}–{max(modelled):.0f} W at 1,024 tokens) — and a real engine at "
        f"steady state is there too: ML.ENERGY v3 measured vLLM serving {V3_MODEL} on an "
        f"{V3_GPU} at {v3_lo:.0f}–{v3_hi:.0f} W per GPU (average batch ≤ 64). The published "
        f"{lo}–{hi} W (Ma et al. 2026, arXiv:2605.11999: ~4B models in vLLM on one H200, "
        f"batch {PUBLISHED_BATCHES[0]}–{PUBLISHED_BATCHES[1]}) is a GPU that mostly waits. "
        f"Read through the model (`duty`: kernels run a share of the wall time, the gaps — "
        "scheduling, sampling, the CPU work around a small model's short steps — draw idle "
        f"plus the clock's overhead power, {gap:.0f} W at f_max): " + "; ".join(readings) + "."
    )


def _lock_finding(r: EnergyReport, small: list[float]) -> str:
    """The decode saving within the loss budget at batch ≤ 64, over the floor's interval, and
    the published lock in the published regime, against the published up-to figure."""
    lo_end, hi_end = sorted(r.floor_savings)
    spread = [*r.floor_savings[lo_end], *r.floor_savings[hi_end]]
    floor = power_spec(LEVER_GPU).memory_clock_floor.value
    model = PowerModel.for_hardware(load_catalog().hardware.get(LEVER_GPU))
    versus = _against(min(small), max(small), (0.0, PUBLISHED_LOCK_SAVING))
    text = (
        f"- **Clock locking saves decode energy** back to back: {_pct(min(small))}–"
        f"{_pct(max(small))} at batch ≤ 64 within 5 % throughput loss with the memory floor at "
        f"{floor:.3f} × f_max (decode stays memory-bound down to there: the published lock "
        f"at {PUBLISHED_LOCK_MHZ:.0f} MHz), which {versus} the published up to "
        f"{PUBLISHED_LOCK_SAVING:.0%}; {_pct(min(spread))}–{_pct(max(spread))} with the floor "
        f"anywhere in [{lo_end:.3f}, {hi_end:.3f}] — the optimum lock sits at or just below "
        "the floor, and no published sweep measures Hopper decode below 780 MHz, so that "
        "interval is how sure the optimum is. What a lock can trim is the clock-dependent "
        f"power: SM clock {model.clock_w:.0f} W, tensor {model.compute_w:.0f} W and overhead "
        f"{model.overhead_w:.0f} W at f_max (the fit's intervals: "
        f"{_estimate_interval(r, 'clock_w')}, {_estimate_interval(r, 'compute_w')}, "
        f"{_estimate_interval(r, 'overhead_w')}); HBM traffic ({model.memory_w:.0f} W at full "
        "bandwidth) stays."
    )
    waiting = [g for g in r.regimes if g.duty is not None]
    if waiting:
        published = [g.lock_saving for g in waiting]
        text += (
            f" In the published regime the {PUBLISHED_LOCK_MHZ:.0f} MHz lock saves "
            + "; ".join(
                f"{_pct(g.lock_saving)} at {g.watts:.0f} W ({g.lock_w:.0f} W, "
                f"{_pct(g.lock_loss)} throughput loss)"
                for g in waiting
            )
            + f", which {_against(min(published), max(published), (0.0, PUBLISHED_LOCK_SAVING))}"
            f" the published up to {PUBLISHED_LOCK_SAVING:.0%}; the overhead term (what the "
            "board draws between kernels at a high clock) decides it, and our back-to-back "
            "readings pin it only through the short fixed seconds inside a CUDA graph."
        )
    return text


def _prefill_finding(pre, small: list[float]) -> str:
    """The prefill optimum against decode's smallest saving at batch ≤ 64."""
    gains = "less" if pre.budget_saving < min(small) else "as much or more"
    return (
        f"- **Prefill gains {gains} than decode**: the energy-optimal lock saves "
        f"{_pct(pre.saving)} at a {_pct(pre.throughput_loss)} throughput loss, and "
        f"{_pct(pre.budget_saving)} within 5 % (decode at batch ≤ 64: {_pct(min(small))} or "
        "more) — compute time grows as 1/f, so the static power is paid longer."
    )


def _arch_sentence(a, name: str) -> str:
    """How a variant differs from GQA: prefill, and decode per token at the extreme batches."""
    pre = a.prefill_j[name] / a.prefill_j["GQA"] - 1
    per_token = a.decode_j[name][-1] / a.decode_j["GQA"][-1] - 1  # the longest output
    return (
        f"- {name}: prefill {pre:+.1%} vs GQA; decode per token {per_token[0]:+.1%} at batch "
        f"{a.batches[0]:g} and {per_token[-1]:+.1%} at batch {a.batches[-1]:g} "
        f"({int(a.outputs[-1]):,}-token outputs)."
    )


def _arch_section(a) -> list[str]:
    lines = [
        "## Attention architectures: GQA vs MLA vs SSM",
        "",
        f"The same {LEVER_MODEL} with its attention replaced by MLA (DeepSeek-V3 latent ranks) "
        f"or a fixed-state SSM mixer (state 128), on one {LEVER_GPU}; {a.prompt}-token prompt. "
        "J per request = prefill + decode (KV context at its mean).",
        "",
        "| variant | prefill J | "
        + " | ".join(
            f"total J, {int(o)} out @ batch {int(b)}"
            for o in a.outputs[[1, 3]]
            for b in a.batches[[0, -1]]
        )
        + " |",
        "|---|---|" + "---|" * 4,
    ]
    for name in a.prefill_j:
        total = a.total_j(name)
        cells = [f"{total[i, j]:.1f}" for i in (1, 3) for j in (0, len(a.batches) - 1)]
        lines.append(f"| {name} | {a.prefill_j[name]:.1f} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Output length (tokens) from which the variant's request costs no more energy than GQA's:",
        "",
        "| variant | " + " | ".join(f"batch {int(b)}" for b in a.batches) + " |",
        "|---|" + "---|" * len(a.batches),
        *(
            f"| {name} | "
            + " | ".join("never" if not np.isfinite(x) else f"{x:,.0f}" for x in v)
            + " |"
            for name, v in a.crossover.items()
        ),
        "",
        *(_arch_sentence(a, name) for name in ("MLA", "SSM")),
    ]
    return lines


def _pool_share(harvested_share: float, gain: float) -> float:
    """The dedicated pool, as a share of the serving fleet, at which harvesting that share of
    the fleet's hours multiplies rollout throughput by ``gain`` (1 + harvested / pool)."""
    return harvested_share / (gain - 1.0)


def _slack_section(r: EnergyReport, figure: str | None) -> list[str]:
    s, h, p = r.slack, r.slack.harvest, r.slack.price
    dedicated = max(1, h.fleet // 4)
    multiplier = 1 + h.gpu_hours / r.trace_hours / dedicated
    return [
        "## Serving slack: pricing rollouts on idle serving GPUs",
        "",
        f"A seeded 7-day diurnal trace (`costcorrect.slack.trace.diurnal_trace(seed=0)`), "
        f"{h.fleet} H100 serving GPUs, {h.margin:.0%} headroom: **{h.gpu_hours:,.2f} "
        f"GPU-hours** harvestable ({_pct(h.share)} of the fleet's hours). Counted GPU by GPU "
        "instead of step by step — the k-th of N GPUs is free while u·(1 + headroom) ≤ "
        "(N − k)/N, so its hours come from the sorted utilisation with no rounding of GPU "
        f"counts — the trace gives {r.per_gpu_hours:,.2f} "
        f"({'equal' if h.gpu_hours == r.per_gpu_hours else 'not equal'}).",
        "",
        f"Marginal-of-idle price, rollouts = {LEVER_MODEL} decode at "
        f"{s.rollout_power_w:.0f} W per GPU:",
        "",
        "| part | $ per GPU-hour |",
        "|---|---|",
        f"| energy above idle (at $0.10/kWh, PUE 1.2) | {p.energy_usd_per_h:.4f} |",
        f"| weight sync (12 per hour over NVLink) | {p.sync_usd_per_h:.4f} |",
        f"| wear (5 % of the GPU-hour) | {p.wear_usd_per_h:.4f} |",
        f"| work lost to preemption (5 %) | {p.preemption_usd_per_h:.4f} |",
        f"| **c_idle** | {p.idle_usd_per_h:.4f} |",
        f"| c_dedicated (catalog price) | {p.dedicated_usd_per_h:.2f} |",
        "",
        f"m = c_idle / c_dedicated = **{p.m:.3f}**; Cost' = CPM·R·(1 + m·ρ̄)/α = "
        f"{s.cost_slack:.3f} vs {s.cost_dedicated:.3f} with dedicated rollouts (CPM 1, R 1, "
        "ρ̄ 15, α 1).",
        "",
        f"ROSE anchor: with a dedicated rollout pool a quarter of the serving fleet "
        f"({dedicated} GPUs), the harvested hours raise rollout throughput "
        f"{multiplier:.2f}×, which {_against(multiplier, multiplier, ROSE_RANGE)} the "
        f"{ROSE_RANGE[0]}–{ROSE_RANGE[1]}× ROSE reports with no serving-SLO violations (here "
        "the margin stands in for the SLO). The quarter is an assumption, not ROSE's setup: "
        "the gain is 1 + harvested hours ÷ (trace hours × pool GPUs), so the published "
        f"{ROSE_RANGE[0]}–{ROSE_RANGE[1]}× is reproduced by any dedicated pool of "
        f"{_pool_share(h.gpu_hours / r.trace_hours / h.fleet, ROSE_RANGE[1]):.0%} to "
        f"{_pool_share(h.gpu_hours / r.trace_hours / h.fleet, ROSE_RANGE[0]):.0%} of the serving "
        "fleet on this trace — the anchor constrains the pool's size only to that range.",
        "",
        "The figure draws the threshold of docs/allocation.md against m under two readings: "
        "rollouts as inference spend at price m, or as training spend whose rollout share is "
        "discounted to m (which shrinks D_T).",
        *(["", f"![threshold shift]({figure})"] if figure else []),
    ]


def report_markdown(r: EnergyReport, figures: dict[str, str] | None = None) -> str:
    figures = figures or {}
    lines = [
        "# Energy per token and serving slack",
        "",
        "Generated by `python -m costcorrect.validate energy --write docs/energy.md` "
        "(spec/economics.md §5–§6). Library: `costcorrect.energy`, `costcorrect.slack`; CLI: "
        "`costcorrect energy model|levers|arch|measure`, `costcorrect slack`. Power per GPU: "
        "P = idle + memory·u_mem + (f/f_max)·(V/V_max)²·(clock·u_busy + compute·u_compute + "
        "overhead·u_fixed), with the activity shares from the perf model's op rows; compute "
        "time scales as 1/f, memory time does not.",
        "",
        *_validation_section(r.validation),
        "",
        *_levers_section(r, figures.get("levers")),
        "",
        *_arch_section(r.architectures),
        "",
        *_slack_section(r, figures.get("slack")),
        "",
        h200_power.report_markdown(r.validation.h200, r.validation.h200_untiled),
        "",
        "## Measurement on a GPU",
        "",
        "`costcorrect energy measure --model llama-3.1-8b --out energy.json` times prefill and "
        "decode of a random-weight model with the catalog model's shapes (PyTorch, bf16) and "
        "reads NVML's total-energy counter around three windows of at least 1 s each, with a "
        "95 % interval over them; a window averaging above the board's enforced power limit "
        "is a counter artefact, dropped and counted, never reported (tested with a fake "
        "counter). It only reads (clocks and power limits are never changed). Its earlier "
        "single windows of about 0.1 s, run on our H200 (`../shared/"
        f"{SHORT_WINDOWS}`), read up to {r.short_window_w[0]:.0f} W on a board limited to "
        f"{r.short_window_w[1]:.0f} W — why the windows are now long and checked. No device "
        "was lent to this session, so no reading of the fixed command is recorded yet; "
        "without a GPU it prints `no measurement: no NVIDIA device found …` and exits 0.",
    ]
    return "\n".join(lines) + "\n"
