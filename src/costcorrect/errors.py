"""The one error type users see: names the field, the offending value and what was expected."""

from __future__ import annotations

from typing import Any

#: characters of an offending value an error line shows (the rest is elided)
SHOWN_VALUE_CHARS = 60


def shown(value: Any) -> str:
    """``repr(value)`` cut to :data:`SHOWN_VALUE_CHARS` characters, on one line."""
    text = " ".join(repr(value).split())
    if len(text) <= SHOWN_VALUE_CHARS:
        return text
    return f"{text[: SHOWN_VALUE_CHARS - 1]}… ({len(text):,} characters)"


class InputError(ValueError):
    """Bad user input. The CLI prints ``str(err)`` on one line and exits non-zero; the value is
    shown cut to one line (:func:`shown`)."""

    def __init__(self, field: str, value: Any, expected: str) -> None:
        self.field = field
        self.value = value
        self.expected = expected
        super().__init__(f"{field}: got {shown(value)}, expected {expected}")
