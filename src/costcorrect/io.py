"""File output shared by every layer: never leave a partial file behind."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from costcorrect.errors import InputError


def atomic_write(path: str | Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename."""
    path = Path(path)
    if not path.parent.is_dir():
        raise InputError("output", str(path), "a path in an existing folder")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
