"""Check an endpoint before a run: reachable, and answering a one-token streaming request
with server-sent events. Raises :class:`InputError` with one clear line otherwise."""

from __future__ import annotations

import asyncio
import json

from costcorrect.errors import InputError
from costcorrect.measure.http import Disconnected, HttpClient, MalformedResponse
from costcorrect.measure.loadgen import ENDPOINTS, LoadSpec, _payload, event_loop_factory
from costcorrect.measure.sse import SSEParser


async def _probe(spec: LoadSpec, timeout_s: float) -> None:
    url = spec.url.rstrip("/") + ENDPOINTS[spec.endpoint]
    client = HttpClient(spec.url, dict(spec.headers))
    try:
        async with asyncio.timeout(timeout_s):
            body = json.dumps(_payload(spec, "probe", 1)).encode()
            response = await client.post(ENDPOINTS[spec.endpoint], body)
    except (Disconnected, MalformedResponse, OSError, TimeoutError) as err:
        raise InputError(
            "url", spec.url, f"a reachable server ({type(err).__name__}: {err})"
        ) from None
    finally:
        client.close()
    if response.status >= 400:
        text = response.body().decode("utf-8", errors="replace")[:200]
        raise InputError(
            "url", url, f"an endpoint that accepts the request (HTTP {response.status}: {text})"
        )
    parser = SSEParser()
    events = [e for piece, _ in response.pieces for e in parser.feed(piece)] + parser.close()
    if not events:
        kind = response.content_type or "no content type"
        raise InputError("url", url, f"a server-sent event stream (got {kind})")


def probe(spec: LoadSpec, timeout_s: float = 30.0) -> None:
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(_probe(spec, timeout_s))
