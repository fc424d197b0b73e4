"""The load generator's HTTP/1.1 client against raw servers (chunked, unframed, closing ones)
and the load split over sending processes against the stub."""

import asyncio
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from costcorrect.measure.http import Disconnected, HttpClient, MalformedResponse
from costcorrect.measure.lengths import LengthDist
from costcorrect.measure.loadgen import LoadSpec, run_load, schedule

EVENT = b'data: {"choices":[{"delta":{"content":"x"}}]}\n\n'


async def _serve_once_each(handler, requests: int):
    """Run ``handler`` as a server and ``requests`` POSTs through one client; the responses."""
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = HttpClient(f"http://127.0.0.1:{port}", {"X-Test": "1"})
    async with server:
        try:
            return [await client.post("/v1/chat/completions", b"{}") for _ in range(requests)]
        finally:
            client.close()


async def _read_request(reader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    return head + await reader.readexactly(length)


def test_chunked_events_keep_alive_and_arrival_times():
    """Chunked transfer encoding is decoded; two requests reuse one connection; each piece keeps
    the time it landed (a later piece, a later time)."""
    connections = []

    async def chunked(reader, writer):
        connections.append(writer)
        while True:
            try:
                head = await _read_request(reader)
            except asyncio.IncompleteReadError:
                return
            assert b"X-Test: 1" in head and head.startswith(b"POST /v1/chat/completions ")
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n")
            writer.write(b"transfer-encoding: chunked\r\n\r\n")
            for _ in range(3):
                writer.write(b"%x\r\n%s\r\n" % (len(EVENT), EVENT))
                await writer.drain()
                await asyncio.sleep(0.01)
            writer.write(b"0\r\n\r\n")
            await writer.drain()

    responses = asyncio.run(_serve_once_each(chunked, 2))
    assert len(connections) == 1
    for response in responses:
        assert response.status == 200 and response.content_type == "text/event-stream"
        assert response.body() == EVENT * 3
        times = [at for _, at in response.pieces]
        assert len(times) == 3 and np.all(np.diff(times) > 0.005)


def test_unframed_body_ends_with_the_connection_and_a_closed_one_is_replaced():
    """A response with neither length nor chunks ends when the server closes; the next request
    goes out on a new connection."""

    async def until_close(reader, writer):
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n" + EVENT)
        await writer.drain()
        writer.close()

    responses = asyncio.run(_serve_once_each(until_close, 3))
    assert [r.body() for r in responses] == [EVENT] * 3


def test_a_stale_keep_alive_connection_is_retried_once():
    """The server answers the first request of each connection and closes the connection on
    the next one unanswered (a keep-alive timeout racing the request): that request is sent
    again on a new connection, so every request is answered."""
    connections = []

    async def one_per_connection(reader, writer):
        connections.append(writer)
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(EVENT), EVENT))
        await writer.drain()
        await _read_request(reader)  # the next request on this connection: dropped
        writer.close()

    responses = asyncio.run(_serve_once_each(one_per_connection, 4))
    assert all(r.status == 200 and r.body() == EVENT for r in responses)
    assert len(connections) == 4  # requests 2–4 each went out twice: stale, then fresh


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial", Disconnected),
        (b"NOT HTTP AT ALL\r\n\r\n", MalformedResponse),
    ],
)
def test_a_cut_or_garbled_response_raises_and_keeps_what_arrived(reply, error):
    async def bad(reader, writer):
        await _read_request(reader)
        writer.write(reply)
        await writer.drain()
        writer.close()

    with pytest.raises(error):
        asyncio.run(_serve_once_each(bad, 1))


@pytest.fixture(scope="module")
def stub_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "costcorrect.measure.stub", "--port", str(port)]
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.05)
    yield url
    server.terminate()
    server.wait(10)


def test_processes_split_one_schedule_and_merge_every_record(stub_url):
    """Two sending processes: every request of the seeded Poisson schedule is sent once, at or
    after its scheduled time on the common clock, and all records come back in id order."""
    spec = LoadSpec(
        stub_url,
        rate=400.0,
        requests=240,
        input_len=LengthDist.parse("8"),
        output_len=LengthDist.parse("3"),
        processes=2,
    )
    seen = []
    result = run_load(spec, sink=seen.append)
    times = schedule(spec)[0]
    assert [r.id for r in result.records] == list(range(times.size)) and len(seen) == times.size
    assert np.array_equal([r.scheduled_s for r in result.records], times)
    assert all(r.status == "ok" and r.output_tokens == 3 for r in result.records)
    assert min(r.lag_s for r in result.records) >= 0
    assert result.cpu_s > 0
    with pytest.raises(Exception, match="processes"):
        LoadSpec(stub_url, concurrency=4, requests=8, processes=2)
