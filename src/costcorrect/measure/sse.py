"""Server-sent events, robustly: bytes arrive in arbitrary pieces; each ``data:`` line is one
event (several may come in one read, one may span reads); comments and other fields are
ignored; ``data: [DONE]`` ends the stream, and so does the end of the connection (engines
such as ``transformers serve`` never send ``[DONE]``)."""

from __future__ import annotations

DONE = "[DONE]"


class SSEParser:
    """Feed raw bytes, get the data payloads of complete lines."""

    def __init__(self) -> None:
        self._buffer = b""
        self.done = False

    def feed(self, chunk: bytes) -> list[str]:
        """The data payloads completed by ``chunk`` (``[DONE]`` sets :attr:`done`)."""
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        return self._payloads(lines)

    def close(self) -> list[str]:
        """Payloads of a last line left without a newline when the connection ended."""
        rest, self._buffer = self._buffer, b""
        return self._payloads([rest]) if rest.strip() else []

    def _payloads(self, lines: list[bytes]) -> list[str]:
        out = []
        for raw in lines:
            line = raw.rstrip(b"\r").decode("utf-8", errors="replace")
            if not line.startswith("data:") or self.done:
                continue
            payload = line[5:].strip()
            if payload == DONE:
                self.done = True
            elif payload:
                out.append(payload)
        return out
