"""Arrival processes, synthetic request streams and trace replay."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from costcorrect.catalog import load_catalog
from costcorrect.errors import InputError
from costcorrect.workload import (
    RequestStream,
    gamma_arrivals,
    poisson_arrivals,
    read_trace,
    synthetic_stream,
    write_trace,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
AZURE_CONV = SHARED / "data/vidur/data/processed_traces/splitwise_conv.csv"


def _gaps(arrival_s: np.ndarray) -> np.ndarray:
    return np.diff(arrival_s, prepend=0.0)


def _cv(x: np.ndarray) -> float:
    return float(x.std() / x.mean())


def test_poisson_gaps_have_mean_one_over_rate_and_cv_one():
    t = poisson_arrivals(4.0, 200_000, seed=1)
    assert t.dtype == np.float64 and t.shape == (200_000,)
    assert np.all(np.diff(t) >= 0) and 0 < t[0] < 5
    assert _gaps(t).mean() == pytest.approx(0.25, rel=0.01)
    assert _cv(_gaps(t)) == pytest.approx(1.0, rel=0.01)


@pytest.mark.parametrize("cv", [0.5, 2.0, 4.0])
def test_gamma_gaps_have_requested_mean_and_cv(cv):
    t = gamma_arrivals(10.0, cv, 1_000_000, seed=2)
    assert np.all(np.diff(t) >= 0)
    assert _gaps(t).mean() == pytest.approx(0.1, rel=0.02)
    assert _cv(_gaps(t)) == pytest.approx(cv, rel=0.02)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: poisson_arrivals(0.0, 10, 0), "rate_per_s"),
        (lambda: poisson_arrivals(float("inf"), 10, 0), "rate_per_s"),
        (lambda: poisson_arrivals(1.0, 0, 0), "n"),
        (lambda: poisson_arrivals(1.0, 2.5, 0), "n"),
        (lambda: poisson_arrivals(1.0, 10, -1), "seed"),
        (lambda: gamma_arrivals(1.0, 0.0, 10, 0), "cv"),
        (lambda: gamma_arrivals(1.0, float("nan"), 10, 0), "cv"),
    ],
)
def test_arrival_arguments_are_validated(call, field):
    with pytest.raises(InputError) as err:
        call()
    assert err.value.field == field


def test_same_seed_same_bytes_other_seed_differs():
    a = synthetic_stream("sharegpt", 3.0, 1000, seed=7, arrival="gamma", cv=2.0)
    b = synthetic_stream("sharegpt", 3.0, 1000, seed=7, arrival="gamma", cv=2.0)
    c = synthetic_stream("sharegpt", 3.0, 1000, seed=8, arrival="gamma", cv=2.0)
    for f in ("arrival_s", "input_tokens", "output_tokens", "cached_tokens"):
        assert getattr(a, f).tobytes() == getattr(b, f).tobytes()
    assert a == b
    assert a.arrival_s.tobytes() != c.arrival_s.tobytes()
    assert a.input_tokens.tobytes() != c.input_tokens.tobytes()


def test_lengths_are_the_catalog_workload_sample():
    spec = load_catalog().workloads.get("azure-code-2023")
    stream = synthetic_stream(spec, 2.0, 500, seed=3)
    inp, out = spec.sample(500, 3)
    np.testing.assert_array_equal(stream.input_tokens, inp)
    np.testing.assert_array_equal(stream.output_tokens, out)
    assert stream.name == "azure-code-2023" and stream.input_tokens.dtype == np.int64
    assert stream.n == 500 and not stream.cached_tokens.any()
    assert synthetic_stream("azure-code-2023", 2.0, 500, seed=3) == stream


def test_synthetic_rate_is_close_to_requested():
    stream = synthetic_stream("alpaca", 8.0, 50_000, seed=4)
    assert stream.rate_per_s == pytest.approx(8.0, rel=0.02)


@pytest.mark.parametrize("ratio", [0.0, 0.3, 1.0])
def test_prefix_hit_ratio_sets_cached_tokens(ratio):
    stream = synthetic_stream("sharegpt", 1.0, 2000, seed=5, prefix_hit_ratio=ratio)
    expected = np.minimum(np.floor(ratio * stream.input_tokens), stream.input_tokens - 1)
    np.testing.assert_array_equal(stream.cached_tokens, expected)
    assert np.all((stream.cached_tokens >= 0) & (stream.cached_tokens < stream.input_tokens))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"prefix_hit_ratio": 1.5}, "prefix_hit_ratio"),
        ({"arrival": "uniform"}, "arrival"),
        ({"cv": 2.0}, "cv"),
        ({"rate_per_s": -1.0}, "rate_per_s"),
        ({"workload": "no-such-workload"}, "workload"),
    ],
)
def test_synthetic_arguments_are_validated(kwargs, field):
    args = {"workload": "sharegpt", "rate_per_s": 1.0, "n": 10, "seed": 0, **kwargs}
    with pytest.raises(InputError) as err:
        synthetic_stream(**args)
    assert err.value.field == field


def test_scaled_changes_rate_not_lengths():
    stream = synthetic_stream("sharegpt", 2.0, 1000, seed=6, prefix_hit_ratio=0.2)
    faster = stream.scaled(20.0)
    assert faster.rate_per_s == pytest.approx(20.0, rel=1e-12)
    assert faster.duration_s == pytest.approx(stream.duration_s * stream.rate_per_s / 20.0)
    for f in ("input_tokens", "output_tokens", "cached_tokens"):
        np.testing.assert_array_equal(getattr(faster, f), getattr(stream, f))
    assert faster.name == stream.name


def test_stream_properties_head_and_frame():
    stream = RequestStream([0.0, 1.0, 4.0], [10, 20, 30], [1, 2, 3], [0, 5, 29], name="tiny")
    assert (stream.n, stream.duration_s, stream.rate_per_s) == (3, 4.0, 0.75)
    assert (stream.mean_input_tokens, stream.mean_output_tokens) == (20.0, 2.0)
    assert stream.head(2).n == 2 and stream.head(10) == stream
    frame = stream.to_frame()
    assert list(frame.columns) == ["arrival_s", "input_tokens", "output_tokens", "cached_tokens"]
    assert frame.attrs["name"] == "tiny" and len(frame) == 3
    with pytest.raises(ValueError):
        stream.arrival_s[0] = 1.0  # read-only arrays: the stream is immutable


@pytest.mark.parametrize(
    ("arrays", "field"),
    [
        (([1.0, 0.0], [1, 1], [1, 1], [0, 0]), "arrival_s[1]"),
        (([0.0, 1.0], [1, 0], [1, 1], [0, 0]), "input_tokens[1]"),
        (([0.0, 1.0], [1, 1], [1.5, 1], [0, 0]), "output_tokens[0]"),
        (([0.0, 1.0], [4, 4], [1, 1], [0, 4]), "cached_tokens[1]"),
        (([0.0, 1.0], [4, 4, 4], [1, 1], [0, 0]), "input_tokens"),
        (([], [], [], []), "arrival_s"),
    ],
)
def test_stream_arrays_are_validated(arrays, field):
    with pytest.raises(InputError) as err:
        RequestStream(*arrays, name="bad")
    assert err.value.field == field


def test_trace_round_trip(tmp_path):
    stream = synthetic_stream("azure-conv-2023", 5.0, 3000, seed=9, prefix_hit_ratio=0.25)
    path = tmp_path / "azure-conv-2023.csv"
    write_trace(stream, path)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left
    back = read_trace(path)
    shift = stream.arrival_s - stream.arrival_s[0]
    lengths = (stream.input_tokens, stream.output_tokens, stream.cached_tokens)
    assert back == RequestStream(shift, *lengths, name=stream.name)


def test_read_trace_accepts_vidur_names_jsonl_sorts_and_rescales(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text(
        '{"arrived_at": 12.0, "num_prefill_tokens": 30, "num_decode_tokens": 3}\n'
        '{"arrived_at": 10.0, "num_prefill_tokens": 10, "num_decode_tokens": 1}\n\n'
        '{"arrived_at": 11.0, "num_prefill_tokens": 20, "num_decode_tokens": 2}\n'
    )
    stream = read_trace(path)
    np.testing.assert_array_equal(stream.arrival_s, [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(stream.input_tokens, [10, 20, 30])
    np.testing.assert_array_equal(stream.output_tokens, [1, 2, 3])
    np.testing.assert_array_equal(stream.cached_tokens, [0, 0, 0])
    assert stream.name == "t"
    assert read_trace(path, rate_per_s=3.0).rate_per_s == pytest.approx(3.0)


@pytest.mark.skipif(not AZURE_CONV.is_file(), reason=f"shared data absent: {AZURE_CONV}")
def test_azure_conversation_trace():
    stream = read_trace(AZURE_CONV)
    assert stream.n == 19_366
    assert stream.rate_per_s == pytest.approx(5.53, abs=0.005)
    assert stream.arrival_s[0] == 0.0 and stream.input_tokens.min() >= 1


HEADER = "arrival_s,input_tokens,output_tokens\n"


@pytest.mark.parametrize(
    ("name", "text", "named"),
    [
        ("a.csv", None, "a.csv"),  # missing file
        ("a.parquet", HEADER, "a.parquet"),  # unknown format
        ("a.csv", "", "a.csv"),  # empty file
        ("a.csv", HEADER, "a.csv"),  # header only
        ("a.jsonl", "", "a.jsonl"),
        ("a.csv", "arrival_s,input_tokens\n0,5\n", "output_tokens"),  # missing column
        ("a.csv", "time,input_tokens,output_tokens\n0,5,1\n", "arrival_s or arrived_at"),
        ("a.csv", HEADER + "0,5,1\n1,abc,1\n", "input_tokens"),  # non-numeric
        ("a.csv", HEADER + "0,5,1\n-1,5,1\n", "arrival_s"),  # negative
        ("a.csv", HEADER + "0,5,0\n", "output_tokens"),  # length < 1
        ("a.csv", HEADER + "0,5,1\nnan,5,1\n", "arrival_s"),  # NaN
        ("a.csv", HEADER + "0,,1\n", "input_tokens"),  # empty cell
        ("a.csv", HEADER + "0,2.5,1\n", "input_tokens"),  # fractional tokens
        ("a.csv", HEADER + "0,5,1,9\n", "a.csv"),  # ragged row
        ("a.csv", HEADER.replace("\n", ",cached_tokens\n") + "0,5,1,5\n", "cached_tokens"),
        ("a.jsonl", '{"arrival_s": 0, "input_tokens": 5, "output_tokens": 1}\n{oops\n', "a.jsonl"),
        ("a.jsonl", "[1, 2]\n", "a.jsonl"),
        ("a.jsonl", '{"arrival_s": 0, "input_tokens": [1], "output_tokens": 1}\n', "input_tokens"),
    ],
)
def test_malformed_traces_raise_one_line_naming_the_problem(tmp_path, name, text, named):
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    with pytest.raises(InputError) as err:
        read_trace(path)
    message = str(err.value)
    assert named in message and "\n" not in message


def test_write_trace_refuses_bad_paths(tmp_path):
    stream = RequestStream([0.0], [1], [1], [0], name="one")
    with pytest.raises(InputError, match="csv"):
        write_trace(stream, tmp_path / "x.json")
    with pytest.raises(InputError, match="existing folder"):
        write_trace(stream, tmp_path / "missing" / "x.csv")
    assert stream.rate_per_s == float("inf")
    with pytest.raises(InputError, match="rate_per_s"):
        stream.scaled(1.0)


def test_length_stats_name_the_workload_and_its_lengths():
    stream = synthetic_stream("azure-conv-2023", 1.0, 3000, 0)
    stats = stream.length_stats()
    assert stats.workload == "azure-conv-2023" and stats.source.startswith("Azure LLM inference")
    assert stats.requests == 3000
    assert stats.prompt_mean == pytest.approx(stream.mean_input_tokens)
    assert stats.prompt_median == np.median(stream.input_tokens)
    assert stats.prompt_p90 == np.quantile(stream.input_tokens, 0.9)
    assert stats.output_median == np.median(stream.output_tokens)
    line = stats.sentence()
    assert line.startswith("workload azure-conv-2023 (Azure") and line.endswith("3,000 requests")
