"""The measurement side without an engine: SSE parsing, lengths, specs, records, summaries,
and the client against small local servers that misbehave in known ways."""

import asyncio
import json
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from costcorrect.cli.app import app
from costcorrect.errors import InputError
from costcorrect.measure.lengths import LengthDist
from costcorrect.measure.loadgen import LoadSpec, run_load_async, schedule
from costcorrect.measure.probe import _probe
from costcorrect.measure.records import RequestRecord, read_records, records_frame
from costcorrect.measure.sse import SSEParser
from costcorrect.measure.stub import _serve
from costcorrect.measure.summary import QUANTILES, quantiles, summarize
from costcorrect.serving.contract import Contract


def test_sse_parser_handles_pieces_batches_and_no_done():
    p = SSEParser()
    assert p.feed(b'data: {"a": 1}\n\nda') == ['{"a": 1}']
    assert p.feed(b'ta: {"b": 2}\r\n\r\n: comment\nevent: x\ndata: {"c"') == ['{"b": 2}']
    assert p.feed(b': 3}\n\ndata: [DONE]\n\ndata: {"late": 1}\n') == ['{"c": 3}']
    assert p.done
    q = SSEParser()
    q.feed(b"data: one\n\ndata: two")
    assert q.close() == ["two"]  # the connection ended mid-line: end of stream


def test_sse_parser_joins_an_events_data_lines():
    """One event over several ``data:`` lines is one payload (lines joined by newlines, as the
    event-stream format says); a server that omits the blank line between JSON events still
    yields each one."""
    p = SSEParser()
    assert p.feed(b'data: {"a":\ndata:  {"b": 1}}\n\n') == ['{"a":\n{"b": 1}}']
    assert json.loads(p.feed(b'data: {"c":\r\ndata: 2}\r\n\r\n')[0]) == {"c": 2}
    assert p.feed(b'data: {"d": 3}\ndata: {"e": 4}\ndata: [5]\n') == ['{"d": 3}', '{"e": 4}']
    assert p.close() == ["[5]"]
    assert p.feed(b"data:\n\n") == []  # an empty event carries nothing


def test_lengths_and_spec_validation():
    rng = np.random.default_rng(0)
    assert LengthDist.parse("64").sample(3, rng).tolist() == [64, 64, 64]
    u = LengthDist.parse("uniform:10:20").sample(1000, rng)
    assert u.min() >= 10 and u.max() <= 20
    assert LengthDist.parse("lognormal:100:0.5").sample(1000, rng).min() >= 1
    for bad in ("zero", "uniform:20:10", "normal:5", "0"):
        with pytest.raises(InputError):
            LengthDist.parse(bad)
    for kwargs, field in (
        ({"rate": 0.0, "requests": 1}, "rate"),
        ({"rate": 1.0, "concurrency": 2, "requests": 1}, "rate"),
        ({"rate": 1.0}, "requests"),
        ({"rate": 1.0, "requests": 1, "endpoint": "embeddings"}, "endpoint"),
    ):
        with pytest.raises(InputError) as err:
            LoadSpec("http://x", **kwargs)
        assert err.value.field == field
    with pytest.raises(InputError) as err:
        LoadSpec("localhost:8000", rate=1.0, requests=1)
    assert err.value.field == "url"


def test_schedule_is_seeded_and_duration_bounded():
    a = schedule(LoadSpec("http://x", rate=5.0, duration_s=20.0, seed=1))
    b = schedule(LoadSpec("http://x", rate=5.0, duration_s=20.0, seed=1))
    assert np.array_equal(a[0], b[0]) and a[0].max() < 20.0
    assert 60 < a[0].size < 140  # about 100 Poisson arrivals


@pytest.mark.parametrize(("burstiness", "cv"), [(0.25, 2.0), (1.0, 1.0), (4.0, 0.5)])
def test_burstiness_has_vllms_meaning(burstiness, cv):
    """vLLM's --burstiness is the gamma shape of the gaps: below 1 burstier (CV = 1/√b)."""
    times = schedule(LoadSpec("http://x", rate=10.0, requests=20_000, burstiness=burstiness))[0]
    gaps = np.diff(times)
    assert gaps.mean() == pytest.approx(0.1, rel=0.05)
    assert gaps.std() / gaps.mean() == pytest.approx(cv, rel=0.05)


def test_records_round_trip_and_bad_files(tmp_path):
    r = RequestRecord(
        3,
        0.5,
        10,
        4,
        sent_s=0.501,
        status="ok",
        ttft_s=0.1,
        e2e_s=0.4,
        itl_s=[0.1, 0.2],
        output_tokens=4,
        usage_reported=True,
    )
    path = tmp_path / "r.jsonl"
    path.write_text(r.to_json() + "\n")
    back = read_records(path)[0]
    assert back == r and back.tpot_s == pytest.approx(0.1)
    parquet = tmp_path / "r.parquet"
    records_frame([r]).to_parquet(parquet)
    assert read_records(parquet)[0].itl_s == [0.1, 0.2]
    path.write_text('{"not": "a record"}\n')
    with pytest.raises(InputError) as err:
        read_records(path)
    assert err.value.field == "records"
    path.write_text("{broken")
    with pytest.raises(InputError):
        read_records(path)


def test_quantiles_and_contract_summary():
    rng = np.random.default_rng(0)
    x = rng.exponential(1.0, 5000)
    qs = quantiles(x)
    assert [q.q for q in qs] == list(QUANTILES)
    for q in qs:
        assert q.value == pytest.approx(np.quantile(x, q.q))
        assert q.low <= q.value <= q.high
    ok = [
        RequestRecord(
            i,
            i * 0.1,
            8,
            3,
            sent_s=i * 0.1,
            status="ok",
            ttft_s=0.05,
            e2e_s=0.15,
            itl_s=[0.05, 0.05],
            output_tokens=3,
        )
        for i in range(8)
    ]
    failed = [RequestRecord(8 + i, 1.0, 8, 3, sent_s=1.0, status="http_error") for i in range(2)]
    s = summarize(ok + failed, 2.0, Contract(0.1, 0.06), usd_per_hour=3.6)
    assert s.attainment == pytest.approx(0.8) and s.goodput_rps == pytest.approx(4.0)
    assert s.usd_per_million_compliant_tokens == pytest.approx(1e-3 / 12 * 1e6)
    vllm = s.to_dict()  # `vllm bench serve`'s names beside ours, in ms
    assert vllm["completed"] == 8 and vllm["request_throughput"] == pytest.approx(4.0)
    assert vllm["total_output_tokens"] == 24 and vllm["output_throughput"] == pytest.approx(12.0)
    assert vllm["mean_ttft_ms"] == pytest.approx(50.0) and vllm["p99_e2el_ms"] == pytest.approx(150)
    assert vllm["median_tpot_ms"] == pytest.approx(50.0) and vllm["std_itl_ms"] == pytest.approx(0)
    json.dumps(vllm)


async def _with_server(handler, spec_kwargs):
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        spec = LoadSpec(f"http://127.0.0.1:{port}", **spec_kwargs)
        return await run_load_async(spec)


async def _drops_mid_stream(reader, writer):
    await reader.readuntil(b"\r\n\r\n")
    writer.write(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: 500"
        b"\r\n\r\ndata: "
        + json.dumps({"choices": [{"delta": {"content": "x"}}]}).encode()
        + b"\n\n"
    )
    await writer.drain()
    writer.close()


async def _respond(reader, writer, content_type: bytes, body: bytes) -> None:
    """Read one request and answer it with ``body`` whole."""
    await reader.readuntil(b"\r\n\r\n")
    writer.write(
        b"HTTP/1.1 200 OK\r\ncontent-type: "
        + content_type
        + b"\r\ncontent-length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )
    await writer.drain()
    writer.close()


async def _not_sse(reader, writer):
    body = b'{"choices": [{"message": {"content": "hi"}}]}'
    await _respond(reader, writer, b"application/json", body)


async def _malformed_fields(reader, writer):
    """A stream whose usage is a number and whose choices and deltas have the wrong types."""
    events = [
        {"choices": [{"delta": {"content": "a"}}]},
        {"choices": "oops"},
        {"choices": [7, {"delta": "x"}]},
        {"choices": [{"delta": {"content": "b"}}]},
        {"choices": [], "usage": 42},
    ]
    body = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)
    body += b"data: [DONE]\n\n"
    await _respond(reader, writer, b"text/event-stream", body)


def test_api_key_headers_and_ignore_eos_reach_the_server(monkeypatch):
    """`--api-key` (or $OPENAI_API_KEY) as a bearer token, `--header` lines and
    `--ignore-eos` in the body, on the probe and on every request."""
    seen: list[bytes] = []

    async def record(reader, writer):
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"content-length: *(\d+)", head, re.I)[1])
        seen.append(head + await reader.readexactly(length))
        body = b'data: {"choices": [{"delta": {"content": "a"}}]}\n\ndata: [DONE]\n\n'
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )
        await writer.drain()
        writer.close()

    async def serve_and_run():
        server = await asyncio.start_server(record, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            args = ["bench", "run", "--url", f"http://127.0.0.1:{port}", "--rate", "20"]
            args += ["--requests", "3", "--header", "X-Team: infra", "--ignore-eos", "--json"]
            return await asyncio.to_thread(CliRunner().invoke, app, args)

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    result = asyncio.run(serve_and_run())
    assert result.exit_code == 0, result.output
    assert len(seen) == 4  # the probe and three requests
    for request in seen:
        head, _, body = request.partition(b"\r\n\r\n")
        assert b"Authorization: Bearer sk-test" in head and b"X-Team: infra" in head
        assert json.loads(body)["ignore_eos"] is True
    bad = CliRunner().invoke(app, ["bench", "run", "--rate", "1", "--header", "no colon"])
    assert bad.exit_code == 2 and "header" in bad.output


def test_malformed_response_fields_are_per_request_errors():
    """`usage` as a number (it crashed the run before) and choices/deltas of the wrong type:
    every request keeps a record naming the reason, and the run goes on."""
    run = asyncio.run(_with_server(_malformed_fields, {"rate": 20.0, "requests": 4}))
    assert len(run.records) == 4
    assert all(r.status == "error" and "malformed usage" in r.error for r in run.records)


def test_client_against_stub_and_misbehaving_servers():
    kwargs = {"rate": 50.0, "requests": 20, "output_len": LengthDist.parse("3")}
    result = asyncio.run(_with_server(_serve, kwargs))
    assert all(
        r.status == "ok" and r.output_tokens == 3 and r.usage_reported for r in result.records
    )
    dropped = asyncio.run(_with_server(_drops_mid_stream, {"rate": 20.0, "requests": 5}))
    assert {r.status for r in dropped.records} == {"disconnected"}
    assert all(r.ttft_s > 0 for r in dropped.records)  # what arrived before the drop is kept
    plain = asyncio.run(_with_server(_not_sse, {"rate": 20.0, "requests": 3}))
    assert {r.status for r in plain.records} == {"error"}


def test_probe_rejects_a_non_sse_endpoint():
    async def go():
        server = await asyncio.start_server(_not_sse, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            await _probe(LoadSpec(f"http://127.0.0.1:{port}", rate=1.0, requests=1), 5.0)

    with pytest.raises(InputError) as err:
        asyncio.run(go())
    assert err.value.field == "url" and "server-sent event" in err.value.expected


def test_quantile_intervals_cover_and_stay_small_in_memory():
    """Order-statistic intervals: they cover the true quantile about 95 % of the time, and a
    million values need one sorted copy (the bootstrap took resamples × values: 2.45 GB)."""
    import tracemalloc

    rng = np.random.default_rng(1)
    truth = -np.log(1 - np.asarray(QUANTILES))  # exponential(1) quantiles
    hits = np.zeros(len(QUANTILES))
    for _ in range(400):
        qs = quantiles(rng.exponential(1.0, 500))
        hits += [q.low <= t <= q.high for q, t in zip(qs, truth, strict=True)]
    assert np.all(hits / 400 >= 0.92)
    x = rng.exponential(1.0, 1_000_000)
    tracemalloc.start()
    quantiles(x)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 200e6


def _trained_tokenizer(path) -> str:
    """A small BPE tokenizer trained here with Hugging Face `tokenizers` (no model hub)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["[UNK]"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    text = ["the serving cost of a token depends on the batch and the cache"] * 50
    tok.train_from_iterator([*text, " ".join(map(str, range(200)))], trainer)
    out = path / "tokenizer.json"
    tok.save(str(out))
    return str(out)


def test_prompts_are_exact_under_a_tokenizer(tmp_path):
    """With a tokenizer.json the load generator's prompts encode to exactly the requested
    token count, and differ per request; a missing or broken file is one clear error."""
    from tokenizers import Tokenizer

    from costcorrect.measure.prompts import prompt_builder, word_prompt

    path = _trained_tokenizer(tmp_path)
    build = prompt_builder(path)
    tok = Tokenizer.from_file(path)
    for tokens in (1, 7, 64, 300, 2048):
        for i in (0, 13, 4096):
            text = build(tokens, i)
            assert len(tok.encode(text, add_special_tokens=False).ids) == tokens, (tokens, i)
    assert build(64, 1) != build(64, 2)
    assert prompt_builder(None) is word_prompt
    with pytest.raises(InputError, match="tokenizer"):
        prompt_builder(str(tmp_path / "missing.json"))
    (tmp_path / "bad.json").write_bytes(b"\x00\xff not json")
    with pytest.raises(InputError, match="tokenizer"):
        prompt_builder(str(tmp_path / "bad.json"))


def test_bench_run_refuses_a_bad_tokenizer_before_any_request(tmp_path):
    """`--tokenizer` naming no file is one line and exit 2, before the probe would connect."""
    from typer.testing import CliRunner

    from costcorrect.cli.app import app

    args = ["bench", "run", "--url", "http://127.0.0.1:9", "--rate", "5", "--requests", "3"]
    result = CliRunner().invoke(app, [*args, "--tokenizer", str(tmp_path / "none.json")])
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and "tokenizer" in result.output
