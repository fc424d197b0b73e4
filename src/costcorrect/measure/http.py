"""A small HTTP/1.1 client for streaming POSTs at thousands of requests a second: asyncio
protocols over keep-alive connections, responses parsed by ``httptools`` (llhttp, the parser
uvicorn uses; chunked transfer encoding included), each body piece kept with the time it
landed.

The load generator needs only this: POST a JSON body, read the status, stream the body. A
general client (aiohttp) spends most of a request's CPU on what this does not need — that was
the load generator's ceiling (see docs/benchmarks.md)."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httptools


class Disconnected(ConnectionError):
    """The server closed the connection before the response ended."""


class MalformedResponse(ConnectionError):
    """The server's bytes are not an HTTP/1.1 response."""


@dataclass
class Response:
    """A response: its status (0 until the headers are in) and body pieces with the time each
    landed (``time.perf_counter``, s: event loops' clocks may tick in whole milliseconds)."""

    status: int = 0
    content_type: str = ""
    pieces: list[tuple[bytes, float]] = field(default_factory=list)

    def body(self) -> bytes:
        return b"".join(piece for piece, _ in self.pieces)


class _Connection(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.open = False
        self.used = False  # has carried a request (a reused connection may be stale)
        self.response: Response | None = None
        self.done: asyncio.Future | None = None
        self.received = False
        self.keep_alive = True
        self.framed = False  # the response states a length or chunks
        self._now = 0.0

    def start(self, response: Response) -> None:
        """Fill ``response`` with the reply to the request about to be written."""
        self.response = response
        self.done = self.loop.create_future()
        self.received, self.keep_alive, self.framed = False, True, False

    # asyncio.Protocol
    def connection_made(self, transport) -> None:
        self.transport, self.open = transport, True

    def data_received(self, data: bytes) -> None:
        self.received = True
        self._now = time.perf_counter()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:  # not expected from an API server
            self._fail(MalformedResponse("unexpected protocol upgrade"))
        except httptools.HttpParserError as err:
            self._fail(MalformedResponse(f"malformed HTTP response: {err}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        if self.response is not None and self.response.status and not self.framed:
            self.on_message_complete()  # a body without length or chunks ends with the connection
        self._fail(Disconnected("server closed the connection" + (f": {exc}" if exc else "")))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name in (b"content-length", b"transfer-encoding"):
            self.framed = True
        elif name == b"content-type" and self.response is not None:
            self.response.content_type = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()
        if self.response is not None:
            self.response.status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        if self.response is not None:
            self.response.pieces.append((body, self._now))

    def on_message_complete(self) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_result(None)

    def _fail(self, err: Exception) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_exception(err)
            self.done.exception()  # retrieved: no "never retrieved" warning if unawaited

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        self.open = False


class HttpClient:
    """POSTs to one origin over a pool of keep-alive connections (opened as needed, kept while
    the server keeps them)."""

    def __init__(self, base_url: str, headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(base_url)
        https = parts.scheme == "https"
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if https else 80)
        self.prefix = parts.path.rstrip("/")
        self.ssl = ssl.create_default_context() if https else None
        default_port = self.port == (443 if https else 80)
        host = self.host if default_port else f"{self.host}:{self.port}"
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self._head = (
            f"Host: {host}\r\nContent-Type: application/json\r\n"
            f"Accept: text/event-stream\r\n{extra}"
        ).encode("latin-1")
        self._idle: deque[_Connection] = deque()

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(
            lambda: _Connection(loop), self.host, self.port, ssl=self.ssl
        )
        return conn

    async def _acquire(self) -> _Connection:
        while self._idle:
            conn = self._idle.pop()
            if conn.open:
                return conn
        return await self._connect()

    async def post(self, path: str, body: bytes, into: Response | None = None) -> Response:
        """POST ``body`` to ``path`` and return the whole response (``into``, if given: it holds
        what arrived even when this raises), each body piece with the time it landed. Raises
        :class:`Disconnected`, :class:`MalformedResponse` or ``OSError`` (could not connect); a
        reused connection that the server had closed is retried once on a new one."""
        request = (
            f"POST {self.prefix}{path} HTTP/1.1\r\n".encode("latin-1")
            + self._head
            + f"Content-Length: {len(body)}\r\n\r\n".encode("latin-1")
            + body
        )
        response = into if into is not None else Response()
        for attempt in (0, 1):
            conn = await self._acquire()
            reused, conn.used = conn.used, True
            conn.start(response)
            conn.transport.write(request)
            try:
                await conn.done
            except BaseException as err:
                conn.close()  # failed or cancelled mid-response: the connection is unusable
                stale = isinstance(err, Disconnected) and reused and not conn.received
                if stale and attempt == 0:
                    continue  # a keep-alive connection the server had closed: never seen
                raise
            finally:
                conn.response = None
            if conn.keep_alive and conn.open:
                self._idle.append(conn)
            else:
                conn.close()
            return response
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close every idle connection."""
        while self._idle:
            self._idle.pop().close()
