"""The one error type users see: names the field, the offending value and what was expected."""

from __future__ import annotations

from typing import Any


class InputError(ValueError):
    """Bad user input. The CLI prints ``str(err)`` on one line and exits non-zero."""

    def __init__(self, field: str, value: Any, expected: str) -> None:
        self.field = field
        self.value = value
        self.expected = expected
        super().__init__(f"{field}: got {value!r}, expected {expected}")
