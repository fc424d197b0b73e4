"""The one error type users see: names the field, the offending value and what was expected."""

from __future__ import annotations

from typing import Any

#: characters of an offending value an error line shows (the middle of a longer one is elided)
SHOWN_VALUE_CHARS = 200


def shown(value: Any) -> str:
    """``repr(value)`` on one line, its middle elided beyond :data:`SHOWN_VALUE_CHARS`
    characters (both ends kept: a path keeps its file name)."""
    text = " ".join(repr(value).split())
    if len(text) <= SHOWN_VALUE_CHARS:
        return text
    half = SHOWN_VALUE_CHARS // 2
    return f"{text[:half]}…{text[-half:]} ({len(text):,} characters)"


class InputError(ValueError):
    """Bad user input. The CLI prints ``str(err)`` on one line and exits non-zero; the value is
    shown cut to one line (:func:`shown`), and what was expected folded onto it (a library's
    multi-line reason included)."""

    def __init__(self, field: str, value: Any, expected: str) -> None:
        self.field = field
        self.value = value
        self.expected = " ".join(str(expected).split())
        super().__init__(f"{field}: got {shown(value)}, expected {self.expected}")
