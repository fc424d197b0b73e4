"""A trivial OpenAI-compatible streaming endpoint (asyncio on uvloop where installed, HTTP/1.1
keep-alive) that answers every POST at once with ``max_tokens`` (at most ``MAX_EVENTS``)
content events and a usage event — for measuring the load generator's own overhead.

    python -m costcorrect.measure.stub --port 8100
"""

from __future__ import annotations

import argparse
import asyncio
import json

MAX_EVENTS = 4


def _body(request: bytes) -> bytes:
    try:
        tokens = int(json.loads(request or b"{}").get("max_tokens", 1))
    except (ValueError, AttributeError):
        tokens = 1
    tokens = max(1, min(tokens, MAX_EVENTS))
    event = b'data: {"choices":[{"index":0,"delta":{"content":"x"}}]}\n\n'
    usage = json.dumps(
        {"choices": [], "usage": {"completion_tokens": tokens, "prompt_tokens": 1}}
    ).encode()
    return event * tokens + b"data: " + usage + b"\n\n"


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = _body(await reader.readexactly(length) if length else b"")
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def serve(host: str = "127.0.0.1", port: int = 8100) -> None:
    server = await asyncio.start_server(_serve, host, port, backlog=4096)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    args = parser.parse_args()
    from costcorrect.measure.loadgen import event_loop_factory

    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
