"""Server-sent events, robustly: bytes arrive in arbitrary pieces; an event is its ``data:``
lines up to a blank line, joined by newlines (the WHATWG event-stream format: a server may split
one payload over several ``data:`` lines); comments and other fields are ignored; ``data:
[DONE]`` ends the stream, and so does the end of the connection (engines such as ``transformers
serve`` never send ``[DONE]``). A ``data:`` line that opens a JSON value right after one that
closed one starts a new event even without the blank line between them (servers that leave it
out; their events complete when the next one starts)."""

from __future__ import annotations

DONE = "[DONE]"


class SSEParser:
    """Feed raw bytes, get the data payloads of complete events."""

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[str] = []  # the data lines of the event being read
        self.done = False

    def feed(self, chunk: bytes) -> list[str]:
        """The data payloads completed by ``chunk`` (``[DONE]`` sets :attr:`done`)."""
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        out: list[str] = []
        for raw in lines:
            self._line(raw.rstrip(b"\r").decode("utf-8", errors="replace"), out)
        return out

    def close(self) -> list[str]:
        """Payloads of the event left open (its last line without a newline, its blank line
        missing) when the connection ended."""
        rest, self._buffer = self._buffer, b""
        out: list[str] = []
        if rest.strip():
            self._line(rest.rstrip(b"\r").decode("utf-8", errors="replace"), out)
        self._dispatch(out)
        return out

    def _line(self, line: str, out: list[str]) -> None:
        if not line:
            self._dispatch(out)
        elif line.startswith("data:") and not self.done:
            value = line[5:].strip()
            if value[:1] in ("{", "[") and self._data and self._data[-1][-1:] in ("}", "]"):
                self._dispatch(out)  # a server that omits the blank line between events
            self._data.append(value)

    def _dispatch(self, out: list[str]) -> None:
        payload, self._data = "\n".join(self._data), []
        if self.done or not payload:
            return
        if payload == DONE:
            self.done = True
        else:
            out.append(payload)
