"""Ingestion: synthetic files in the four external formats, written from their documented
schemas, load to identical records; malformed files fail with one clear line."""

import json

import pytest
from typer.testing import CliRunner

from costcorrect.cli.app import app
from costcorrect.errors import InputError
from costcorrect.measure.ingest import FORMATS, read_results

# (start s, TTFT s, token arrival offsets after the first s, output tokens, prompt tokens)
TRUTH = [
    (0.00, 0.120, [0.02, 0.05, 0.09], 4, 100),
    (0.35, 0.250, [0.03, 0.06], 3, 80),
    (0.80, 0.090, [0.01, 0.03, 0.06, 0.08], 5, 120),
]
T0 = 1_700_000_000.0


def _vllm(path):
    path.write_text(
        json.dumps(
            {
                "duration": 2.0,
                "completed": 3,
                "input_lens": [t[4] for t in TRUTH],
                "output_lens": [t[3] for t in TRUTH],
                "ttfts": [t[1] for t in TRUTH],
                "itls": [[b - a for a, b in zip([0, *t[2]], t[2], strict=False)] for t in TRUTH],
                "generated_texts": ["x"] * 3,
                "errors": [""] * 3,
            }
        )
    )


def _aiperf(path):
    lines = []
    for start, ttft, offs, n, p in TRUTH:
        latency = ttft + offs[-1]
        lines.append(
            json.dumps(
                {
                    "metadata": {
                        "x_request_id": f"r{start}",
                        "request_start_ns": int((T0 + start) * 1e9),
                        "request_end_ns": int((T0 + start + latency) * 1e9),
                        "was_cancelled": False,
                        "benchmark_phase": "profiling",
                    },
                    "metrics": {
                        "time_to_first_token": {"value": ttft * 1e3, "unit": "ms"},
                        "request_latency": {"value": latency * 1e3, "unit": "ms"},
                        "inter_token_latency": {"value": offs[-1] / (n - 1) * 1e3, "unit": "ms"},
                        "output_sequence_length": {"value": n, "unit": "tokens"},
                        "input_sequence_length": {"value": p, "unit": "tokens"},
                    },
                    "error": None,
                }
            )
        )
    path.write_text("\n".join(lines) + "\n")


def _guidellm(path):
    successful = []
    for start, ttft, offs, n, p in TRUTH:
        begin = T0 + start
        successful.append(
            {
                "type_": "generative_request_stats",
                "request_id": str(start),
                "info": {
                    "timings": {
                        "request_start": begin,
                        "first_token_iteration": begin + ttft,
                        "last_token_iteration": begin + ttft + offs[-1],
                        "request_end": begin + ttft + offs[-1] + 0.001,
                    }
                },
                "request_start_time": begin,
                "request_end_time": begin + ttft + offs[-1] + 0.001,
                "request_latency": ttft + offs[-1] + 0.001,
                "prompt_tokens": p,
                "output_tokens": n,
                "time_to_first_token_ms": ttft * 1e3,
                "time_per_output_token_ms": (ttft + offs[-1]) / n * 1e3,
                "inter_token_latency_ms": offs[-1] / (n - 1) * 1e3,
            }
        )
    path.write_text(
        json.dumps(
            {
                "benchmarks": [
                    {"requests": {"successful": successful, "errored": [], "incomplete": []}}
                ]
            }
        )
    )


def _inference_perf(path):
    rows = []
    for start, ttft, offs, n, p in TRUTH:
        begin = T0 + start
        times = [begin + ttft] + [begin + ttft + o for o in offs]
        rows.append(
            {
                "start_time": begin,
                "end_time": times[-1] + 0.001,
                "request": "...",
                "response": "...",
                "info": {"input_tokens": p, "output_tokens": n, "output_token_times": times},
                "error": None,
            }
        )
    path.write_text(json.dumps(rows))


WRITERS = {
    "vllm": _vllm,
    "aiperf": _aiperf,
    "guidellm": _guidellm,
    "inference-perf": _inference_perf,
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_formats_load_to_the_same_records(fmt, tmp_path):
    path = tmp_path / f"results.{fmt}"
    WRITERS[fmt](path)
    records = read_results(path, fmt)
    assert len(records) == len(TRUTH)
    for r, (start, ttft, offs, n, p) in zip(records, TRUTH, strict=True):
        assert r.status == "ok" and r.output_tokens == n and r.prompt_tokens == p
        assert r.ttft_s == pytest.approx(ttft, abs=1e-6)
        assert r.e2e_s == pytest.approx(ttft + offs[-1], abs=1e-6)
        assert r.tpot_s == pytest.approx(offs[-1] / (n - 1), abs=1e-6)
        if fmt != "vllm":  # vLLM's file has no start times
            assert r.scheduled_s == pytest.approx(start, abs=1e-6)


def test_malformed_files_fail_clearly(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    for fmt in FORMATS:
        with pytest.raises(InputError) as err:
            read_results(bad, fmt)
        assert err.value.field == "file"
    bad.write_text(json.dumps({"something": "else"}))
    with pytest.raises(InputError) as err:
        read_results(bad, "vllm")
    assert "ttfts" in err.value.expected
    result = CliRunner().invoke(app, ["bench", "ingest", str(bad), "--format", "guidellm"])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1


def test_ingest_cli_summarises_and_writes_records(tmp_path):
    path = tmp_path / "profile_export.jsonl"
    _aiperf(path)
    out = tmp_path / "records.jsonl"
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "ingest",
            str(path),
            "--format",
            "aiperf",
            "--ttft",
            "200ms",
            "--tpot",
            "50ms",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["completed"] == 3 and summary["attainment"] == pytest.approx(2 / 3)
    assert len(out.read_text().splitlines()) == 3
