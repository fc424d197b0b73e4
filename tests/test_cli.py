"""The CLI as users run it: a real subprocess, exit codes, one-line errors, no partial files."""

import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from costcorrect.catalog.calibrations import PerfParams

EXE = [sys.executable, "-m", "costcorrect"]


def run(*args, cwd=None):
    return subprocess.run([*EXE, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_perf_step_json():
    r = run(
        "perf",
        "step",
        "--model",
        "llama-3.1-70b",
        "--gpu",
        "H100",
        "--tp",
        "8",
        "--batch",
        "16",
        "--context",
        "2048",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["gpu"] == "H100-SXM"
    assert data["total_s"] == pytest.approx(sum(o["seconds"] for o in data["ops"].values()))


def test_demo_prints_summary():
    r = run("demo")
    assert r.returncode == 0, r.stderr
    assert "llama-3.1-70b" in r.stdout and "$ / M output tokens" in r.stdout
    # the answer names today's default stack and quotes that stack's own held-out error
    assert "stack H100-SXM/vllm-" in r.stdout and "docs/engines.md" in r.stdout


def test_catalog_list_and_show():
    r = run("catalog", "list", "models", "--json")
    assert r.returncode == 0 and any(m["name"] == "deepseek-v3" for m in json.loads(r.stdout))
    r = run("catalog", "show", "hardware", "h100", "--json")
    shown = json.loads(r.stdout)
    assert shown["hbm_bytes_per_s"]["value"] == 3.35e12 and shown["hbm_bytes_per_s"]["source"]
    r = run("catalog", "list", "prices")
    assert r.returncode == 0 and "gpt-4o" in r.stdout


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("perf", "step", "--gpu", "H900"), "gpu: got 'H900'"),
        (("perf", "step", "--batch", "-4"), "batch: got -4"),
        (
            ("--set", "hardware.H100-SXM.hbm_bytes_per_s=3.35TB", "perf", "step"),
            "hbm_bytes_per_s: got '3.35TB', expected a bandwidth",
        ),
        (("catalog", "list", "gpus"), "kind: got 'gpus'"),
        # a price of 0 divided by zero, a negative one priced tokens below zero
        (("--set", "hardware.H100-SXM.price_usd_per_s=$0/h", "serve", "cost"), "(above 0)"),
        (("--set", "hardware.H100-SXM.price_usd_per_s=-5", "demo"), "price_usd_per_s: got -5"),
    ],
)
def test_bad_input_is_one_line_without_traceback(args, field):
    r = run(*args)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and field in lines[0]
    assert "Traceback" not in r.stderr + r.stdout


def test_output_paths_that_cannot_be_written_are_one_line_errors(tmp_path: Path):
    """A folder, an unwritable place or a missing parent as `--out`: one line naming the output
    and why, nothing left behind; a written file gets the usual 0666-less-umask permissions."""
    for out, why in (
        (tmp_path, "a file path, not a folder"),
        (Path("/proc/costcorrect.csv"), "a writable folder"),
        (tmp_path / "no" / "x.csv", "a path in an existing folder"),
    ):
        r = run("energy", "levers", "--batches", "8", "--out", str(out))
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1 and "output" in lines[0], r.stderr
        assert why in lines[0] and "Traceback" not in r.stderr
    assert list(tmp_path.iterdir()) == []
    good = tmp_path / "levers.csv"
    assert run("energy", "levers", "--batches", "8", "--out", str(good)).returncode == 0
    assert good.stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_huge_bad_value_is_shown_cut_to_one_line():
    r = run("perf", "step", "--gpu", "H" * 5000)
    line = r.stderr.strip()
    assert r.returncode == 2 and "\n" not in line and len(line) < 500
    assert "5,002 characters" in line  # the repr: 5,000 letters and two quotes


def test_bad_catalog_file_and_no_partial_output(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("hardware:\n  - name: h100\n    memory_bytes: lots\n")
    r = run("--catalog", str(bad), "perf", "step")
    assert r.returncode != 0 and "memory_bytes: got 'lots'" in r.stderr
    measurements = tmp_path / "m.csv"
    measurements.write_text("gpu,model,tp,phase,batch_size,prompt_tokens,context_tokens\n")
    out = tmp_path / "calibration.yaml"
    r = run("perf", "fit", str(measurements), "--out", str(out))
    assert r.returncode != 0 and "missing column 'time_s'" in r.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == sorted([bad, measurements])


def test_perf_fit_writes_a_usable_calibration(tmp_path: Path):
    import pandas as pd

    from costcorrect.catalog import load_catalog
    from costcorrect.catalog.calibrations import PerfParams
    from costcorrect.perf.fit import DEFAULT_FREE, predict

    rows = [
        {
            "gpu": "L40S",
            "model": "llama-3.1-8b",
            "tp": 1,
            "phase": phase,
            "batch_size": b,
            "prompt_tokens": p,
            "context_tokens": p,
        }
        for b in (1, 8, 32)
        for p in (256, 1024, 4096)
        for phase in ("prefill", "decode")
    ]
    df = pd.DataFrame(rows).assign(pp=1)
    df["time_s"] = predict(df, PerfParams(gemm_flops_eff=0.5), load_catalog())
    csv = tmp_path / "l40s.csv"
    df.drop(columns="pp").to_csv(csv, index=False)
    measured = datetime.datetime(2025, 3, 14, 12, tzinfo=datetime.UTC).timestamp()
    os.utime(csv, (measured, measured))
    out = tmp_path / "cal.yaml"
    r = run("perf", "fit", str(csv), "--out", str(out), "--stack", "mine", "--json")
    assert r.returncode == 0, r.stderr
    entry = json.loads(r.stdout)
    assert entry["hardware"] == "L40S"
    # dated by the measurements, not by the day the fit ran
    assert entry["date"] == "2025-03-14" and "date: '2025-03-14'" in out.read_text()
    assert set(entry["estimates"]) == set(DEFAULT_FREE)
    r = run(
        "--catalog",
        str(out),
        "perf",
        "step",
        "--gpu",
        "L40S",
        "--model",
        "llama-3.1-8b",
        "--stack",
        "mine",
        "--json",
    )
    assert r.returncode == 0, r.stderr


def test_catalog_show_lists_each_calibrated_parameter_with_its_interval():
    r = run("catalog", "show", "calibrations", "H100-SXM/splitwise")
    assert r.returncode == 0, r.stderr
    assert "95 % interval" in r.stdout and "set by" in r.stdout
    rows = [line for line in r.stdout.splitlines() if line.startswith("│")]
    fitted = [line for line in rows if "not fitted" not in line]
    assert len(rows) == len(PerfParams.model_fields) and len(fitted) == 12
    assert all("[" in line for line in fitted)
    assert {"data", "prior"} <= {w for line in rows for w in line.replace("│", " ").split()}
    entry = json.loads(
        run("catalog", "show", "calibrations", "H100-SXM/splitwise", "--json").stdout
    )
    for name, estimate in entry["estimates"].items():
        assert estimate["low"] <= entry["params"][name] <= estimate["high"], name


def test_catalog_entry_with_missing_field(tmp_path: Path):
    new = tmp_path / "new.yaml"
    new.write_text("hardware:\n  - name: X1\n    source: vendor sheet\n    date: 2026-01-01\n")
    r = run("--catalog", str(new), "catalog", "list", "hardware")
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1
    assert "hardware[X1].vendor: got None, expected a value" in lines[0]


def test_serve_simulate_writes_records(tmp_path: Path):
    out = tmp_path / "records.csv"
    r = run(
        "serve",
        "simulate",
        "--rate",
        "2",
        "--arch",
        "chunked",
        "--requests",
        "800",
        "--out",
        str(out),
        "--json",
    )
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["architecture"] == "chunked" and summary["ttft_p99_s"]["value"] > 0
    import pandas as pd

    records = pd.read_csv(out)
    assert len(records) == 800 and {"ttft_s", "tpot_s"} <= set(records.columns)
    parquet = tmp_path / "records.parquet"
    r = run("serve", "simulate", "--rate", "2", "--requests", "300", "--out", str(parquet))
    assert r.returncode == 0, r.stderr
    assert len(pd.read_parquet(parquet)) == 300


def test_serve_cost_breakdown_sums():
    r = run(
        "serve",
        "cost",
        "--arch",
        "disaggregated",
        "--ttft",
        "2s",
        "--tpot",
        "100ms",
        "--requests",
        "1500",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    c = json.loads(r.stdout)
    parts = c["prefill_usd_per_million"] + c["decode_usd_per_million"] + c["kv_usd_per_million"]
    assert parts == pytest.approx(c["usd_per_million_tokens"], rel=1e-9)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("serve", "simulate", "--rate", "40", "--requests", "1500"), "rate: got"),
        (
            ("serve", "simulate", "--arch", "disaggregated", "--kv-link", "-3GB/s"),
            "kv_link_bytes_per_s: got",
        ),
        (
            ("serve", "simulate", "--kv-link", "3GB", "--arch", "disaggregated"),
            "kv_link: got '3GB'",
        ),
        (("serve", "simulate", "--model", "llama-3.1-70b", "--tp", "1"), "tp: got 1"),
        (("serve", "cost", "--arch", "pipelined"), "arch: got 'pipelined'"),
    ],
)
def test_serve_bad_input(args, field):
    r = run(*args)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and field in lines[0], r.stderr


def test_serve_impossible_contract_is_reported_not_raised():
    r = run("serve", "cost", "--ttft", "1ms", "--json")
    assert r.returncode == 0
    c = json.loads(r.stdout)
    assert c["goodput_rps"] == 0 and "impossible even at" in c["reason"]
    assert c["tokens_per_s_per_user"] is None  # no user is served
    # the default workload is named with its origin and lengths (long prompts: chat history)
    assert c["workload"]["workload"] == "sharegpt" and "Sarathi-Serve" in c["workload"]["source"]
    assert 2000 < c["workload"]["prompt_mean"] < 2700 and c["workload"]["requests"] > 0


def test_serve_malformed_trace(tmp_path: Path):
    trace = tmp_path / "t.csv"
    trace.write_text("arrival_s,input_tokens\n0.1,10\n")
    out = tmp_path / "rec.csv"
    r = run("serve", "simulate", "--trace", str(trace), "--out", str(out))
    assert r.returncode == 2 and "output_tokens" in r.stderr and not out.exists()


def test_a_trace_replays_at_its_own_times_unless_a_rate_is_given(tmp_path: Path):
    trace = tmp_path / "t.csv"
    gaps = np.full(400, 0.2)  # 5 req/s, not --rate's default of 1
    frame = pd.DataFrame({"arrival_s": np.cumsum(gaps), "input_tokens": 100, "output_tokens": 50})
    frame.to_csv(trace, index=False)
    own = json.loads(run("serve", "simulate", "--trace", str(trace), "--json").stdout)
    assert own["arrival_rate_per_s"] == pytest.approx(5.0, rel=0.01)
    # the answer says what it was asked: a trace has no catalog origin, its lengths are its own
    assert own["workload"]["source"] is None and own["workload"]["prompt_mean"] == 100
    scaled = run("serve", "simulate", "--trace", str(trace), "--rate", "2", "--json")
    assert json.loads(scaled.stdout)["arrival_rate_per_s"] == pytest.approx(2.0, rel=0.01)


def test_a_few_requests_are_not_called_an_overload():
    """Two arrivals cannot show a queue that outruns the deployment (one used to be an 'inf
    req/s' overload); a rate needs two, so one is refused."""
    r = run("serve", "simulate", "--requests", "2", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["requests"] == 2
    assert run("serve", "simulate", "--requests", "1").returncode == 2


def test_a_run_too_large_for_memory_is_refused_up_front():
    r = run("serve", "simulate", "--requests", str(10**13))
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    assert "requests here" in lines[0] and "needed" in lines[0]


def test_serve_commands_take_pipeline_stages():
    args = ["--model", "llama-3.1-70b", "--tp", "4", "--pp", "2", "--json"]
    r = run("serve", "cost", *args, "--ttft", "2s", "--tpot", "100ms")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["gpus"] == 8
    r = run("serve", "cost", "--pp", "0")
    assert r.returncode == 2 and "pp" in r.stderr


def test_a_failing_command_leaves_none_of_its_files(tmp_path, monkeypatch):
    """A command writing several files lands them together: when it fails after writing the
    first (here the figure step raises), neither the CSV nor any figure is left, and no
    temporary file either; a deliberate exit (typer.Exit) keeps what was written."""
    import typer

    from costcorrect.cli.common import run_guarded
    from costcorrect.errors import InputError
    from costcorrect.io import atomic_write

    def fails() -> None:
        atomic_write(tmp_path / "a.csv", "x\n")
        atomic_write(tmp_path / "a.png", b"png")
        raise InputError("figure", "a", "a figure that renders")

    with pytest.raises(typer.Exit):
        run_guarded(fails)
    assert list(tmp_path.iterdir()) == []

    def interrupted() -> None:
        atomic_write(tmp_path / "kept.jsonl", "{}\n")
        raise typer.Exit(130)

    with pytest.raises(typer.Exit):
        run_guarded(interrupted)
    assert [p.name for p in tmp_path.iterdir()] == ["kept.jsonl"]

    def succeeds() -> None:
        atomic_write(tmp_path / "b.csv", "y\n")
        assert not (tmp_path / "b.csv").exists()  # staged until the command ends
        atomic_write(tmp_path / "b.svg", "<svg/>")

    run_guarded(succeeds)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.csv", "b.svg", "kept.jsonl"]


def test_a_command_line_builds_only_the_group_it_names():
    """Typer inspects every registered function at start-up, so `main` registers only the group
    or command on the command line; the whole application stays what tests and --help see."""
    import typer

    from costcorrect.cli.app import COMMANDS, GROUPS, OWN, build, command_name

    assert command_name(["--set", "hardware.H100-SXM.tdp_w=700W", "perf", "step"]) == "perf"
    assert command_name(["--catalog=extra.yaml", "vcpd", "--json"]) == "vcpd"
    assert command_name(["--help"]) is None and command_name(["serv", "cost"]) is None
    assert set(typer.main.get_command(build("perf")).commands) == {"perf"}
    whole = set(typer.main.get_command(build()).commands)
    assert whole == set(GROUPS) | set(COMMANDS) | set(OWN)
    probe = (
        "import sys; sys.argv = ['costcorrect', 'perf', 'step', '--json']\n"
        "from costcorrect.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('costcorrect.cli.')), file=sys.stderr)"
    )
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert json.loads(r.stdout)["total_s"] > 0
    assert "serve_cmd" not in r.stderr and "perf_cmd" in r.stderr
