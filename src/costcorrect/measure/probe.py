"""Check an endpoint before a run: reachable, and answering a one-token streaming request
with server-sent events. Raises :class:`InputError` with one clear line otherwise."""

from __future__ import annotations

import asyncio

import aiohttp

from costcorrect.errors import InputError
from costcorrect.measure.loadgen import ENDPOINTS, LoadSpec, _payload
from costcorrect.measure.sse import SSEParser


async def _probe(spec: LoadSpec, timeout_s: float) -> None:
    url = spec.url.rstrip("/") + ENDPOINTS[spec.endpoint]
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout, headers=dict(spec.headers)) as session,
            session.post(url, json=_payload(spec, "probe", 1)) as response,
        ):
            if response.status >= 400:
                body = (await response.read()).decode("utf-8", errors="replace")[:200]
                raise InputError(
                    "url",
                    url,
                    f"an endpoint that accepts the request (HTTP {response.status}: {body})",
                )
            parser = SSEParser()
            events = []
            async for chunk in response.content.iter_any():
                events += parser.feed(chunk)
            events += parser.close()
            kind = response.headers.get("content-type", "no content type")
    except (aiohttp.ClientError, TimeoutError) as err:
        raise InputError(
            "url", spec.url, f"a reachable server ({type(err).__name__}: {err})"
        ) from None
    if not events:
        raise InputError("url", url, f"a server-sent event stream (got {kind})")


def probe(spec: LoadSpec, timeout_s: float = 30.0) -> None:
    asyncio.run(_probe(spec, timeout_s))
