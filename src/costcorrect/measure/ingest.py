"""Result files of other benchmark tools into :class:`RequestRecord` lists, normalising units
and definitions (see docs/measurement.md for the table of differences):

- ``vllm``: ``vllm bench serve --save-result`` JSON — per-request arrays ``ttfts`` (s),
  ``itls`` (lists, s), ``input_lens``, ``output_lens``, ``errors`` (and ``e2els`` in newer
  versions; else E2E = TTFT + Σ ITL);
- ``aiperf``: ``profile_export.jsonl`` — one ``{"metadata", "metrics", "error"}`` object per
  request, each metric ``{"value", "unit"}`` (ms, ns, s or tokens); its
  ``inter_token_latency`` is (latency − TTFT)/(OSL − 1), our TPOT;
- ``guidellm``: ``benchmarks.json`` — ``benchmarks[].requests.{successful,errored,
  incomplete}[]`` with ``request_start_time``/``request_end_time`` (s),
  ``time_to_first_token_ms``, ``prompt_tokens``/``output_tokens`` and
  ``info.timings.first/last_token_iteration``; its ``time_per_output_token_ms`` includes the
  first token and is not TPOT;
- ``inference-perf``: ``per_request_lifecycle_metrics.json`` — a list of
  ``{"start_time", "end_time", "info": {"input_tokens", "output_tokens",
  "output_token_times"}, "error"}`` (s).

Start times become ``scheduled_s`` relative to the run's first request (0 where a format has
none); the client's scheduling lag is unknown, so ``sent_s = scheduled_s``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from costcorrect.errors import InputError
from costcorrect.io import read_text
from costcorrect.measure.records import RequestRecord

FORMATS = ("vllm", "aiperf", "guidellm", "inference-perf")
UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "sec": 1.0}


def _fail(path: Path, fmt: str, why: str) -> InputError:
    return InputError("file", str(path), f"a {fmt} result file ({why})")


def _record(i, start, ttft, e2e, tokens, itl=(), prompt=None, error="") -> RequestRecord:
    ok = not error and ttft is not None and math.isfinite(ttft)
    r = RequestRecord(
        i,
        start,
        int(prompt or 0),
        int(tokens or 0),
        sent_s=start,
        status="ok" if ok else "error",
        error=str(error or "")[:300],
    )
    if ok:
        r.ttft_s, r.e2e_s = float(ttft), float(e2e)
        r.itl_s = [float(x) for x in itl]
        r.output_tokens, r.prompt_tokens = int(tokens or 0), prompt
        r.usage_reported = True
    return r


def _vllm(data: dict, path: Path) -> list[RequestRecord]:
    try:
        ttfts, itls = data["ttfts"], data["itls"]
        outs, ins = data["output_lens"], data["input_lens"]
    except (KeyError, TypeError):
        raise _fail(
            path,
            "vllm",
            "per-request arrays ttfts, itls, input_lens, output_lens; "
            "save with --save-result --save-detailed",
        ) from None
    errors = data.get("errors") or [""] * len(ttfts)
    e2els = data.get("e2els")
    out = []
    for i, (ttft, itl, n, p, err) in enumerate(zip(ttfts, itls, outs, ins, errors, strict=True)):
        e2e = e2els[i] if e2els else (ttft or 0) + sum(itl or [])
        out.append(_record(i, 0.0, ttft if ttft else None, e2e, n, itl or [], p, err))
    return out


def _metric(metrics: dict, *names: str) -> float | None:
    for name in names:
        m = metrics.get(name)
        if isinstance(m, dict) and m.get("value") is not None:
            unit = str(m.get("unit", "ms")).lower()
            return float(m["value"]) * UNIT_SECONDS.get(unit, 1.0)
    return None


def _aiperf(rows: list[dict], path: Path) -> list[RequestRecord]:
    starts = [r.get("metadata", {}).get("request_start_ns") for r in rows]
    t0 = min((s for s in starts if s is not None), default=0)
    out = []
    for i, row in enumerate(rows):
        metrics, meta = row.get("metrics"), row.get("metadata", {})
        if not isinstance(metrics, dict):
            raise _fail(path, "aiperf", f"line {i + 1} has no metrics object")
        start = (meta["request_start_ns"] - t0) * 1e-9 if meta.get("request_start_ns") else 0.0
        ttft = _metric(metrics, "time_to_first_token", "ttft")
        latency = _metric(metrics, "request_latency")
        tokens = metrics.get("output_sequence_length", {}).get("value")
        prompt = metrics.get("input_sequence_length", {}).get("value")
        error = row.get("error") or ("cancelled" if meta.get("was_cancelled") else "")
        out.append(
            _record(
                i,
                start,
                ttft,
                latency,
                tokens,
                (),
                prompt,
                json.dumps(error) if isinstance(error, dict) else error,
            )
        )
    return out


def _guidellm(data: dict, path: Path) -> list[RequestRecord]:
    try:
        benchmarks = data["benchmarks"]
    except (KeyError, TypeError):
        raise _fail(path, "guidellm", "a top-level benchmarks list") from None
    entries = []
    for bench in benchmarks:
        requests = bench.get("requests", {})
        for status in ("successful", "errored", "incomplete"):
            entries += [(status, r) for r in requests.get(status, [])]
    t0 = min((r.get("request_start_time") or 0 for _, r in entries), default=0)
    out = []
    for i, (status, r) in enumerate(entries):
        start = (r.get("request_start_time") or t0) - t0
        timings = (r.get("info") or {}).get("timings") or {}
        ttft_ms, last = r.get("time_to_first_token_ms"), timings.get("last_token_iteration")
        begin = timings.get("request_start", r.get("request_start_time"))
        e2e = (last - begin) if last is not None and begin is not None else r.get("request_latency")
        error = "" if status == "successful" else (r.get("error") or status)
        out.append(
            _record(
                i,
                start,
                None if ttft_ms is None else ttft_ms / 1e3,
                e2e,
                r.get("output_tokens"),
                (),
                r.get("prompt_tokens"),
                error,
            )
        )
    return out


def _inference_perf(rows: list[dict], path: Path) -> list[RequestRecord]:
    t0 = min((r.get("start_time") or 0 for r in rows), default=0)
    out = []
    for i, r in enumerate(rows):
        if not isinstance(r, dict) or "start_time" not in r:
            raise _fail(path, "inference-perf", f"entry {i + 1} without start_time")
        info = r.get("info") or {}
        times = info.get("output_token_times") or []
        start = r["start_time"]
        ttft = times[0] - start if times else None
        e2e = (times[-1] if times else r.get("end_time", start)) - start
        err = r.get("error")
        out.append(
            _record(
                i,
                start - t0,
                ttft,
                e2e,
                info.get("output_tokens"),
                np.diff(times).tolist() if len(times) > 1 else [],
                info.get("input_tokens"),
                json.dumps(err) if err else "",
            )
        )
    return out


def read_results(path: str | Path, fmt: str) -> list[RequestRecord]:
    """The records of ``path``, a result file of tool ``fmt`` (one of :data:`FORMATS`)."""
    path = Path(path)
    if fmt not in FORMATS:
        raise InputError("format", fmt, f"one of {', '.join(FORMATS)}")
    if not path.is_file():
        raise InputError("file", str(path), f"an existing {fmt} result file")
    text = read_text(path, "file")
    try:
        if fmt == "aiperf":
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            data = json.loads(text)
    except json.JSONDecodeError as err:
        raise _fail(path, fmt, f"valid JSON: {err}") from None
    readers = {
        "vllm": _vllm,
        "aiperf": _aiperf,
        "guidellm": _guidellm,
        "inference-perf": _inference_perf,
    }
    try:
        records = readers[fmt](data, path)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise _fail(path, fmt, f"{type(err).__name__}: {err}") from None
    if not records:
        raise _fail(path, fmt, "at least one request")
    return records
