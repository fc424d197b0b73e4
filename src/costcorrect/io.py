"""File output shared by every layer: never leave a partial file behind, and a command's
several files land together or not at all (:func:`written_together`)."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from costcorrect.errors import InputError

#: the temporary files written inside :func:`written_together`, with their targets
_STAGED: ContextVar[list[tuple[str, Path]] | None] = ContextVar("staged", default=None)


@contextmanager
def written_together(keep: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
    """Every :func:`atomic_write` inside the block lands together: each file is written to a
    temporary file beside its target as the block runs, and all are renamed when it ends —
    none if it raises (except one of ``keep``: a deliberate exit after the files were
    written). A nested block joins the outer one."""
    if _STAGED.get() is not None:
        yield
        return
    staged: list[tuple[str, Path]] = []
    token = _STAGED.set(staged)
    try:
        yield
    except keep:
        _commit(staged)
        raise
    except BaseException:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
        raise
    else:
        _commit(staged)
    finally:
        _STAGED.reset(token)


def _commit(staged: list[tuple[str, Path]]) -> None:
    """Rename the staged files onto their targets (dropping the rest if one rename fails)."""
    for i, (tmp, path) in enumerate(staged):
        try:
            os.replace(tmp, path)
        except OSError as err:
            for rest, _ in staged[i:]:
                Path(rest).unlink(missing_ok=True)
            raise InputError("output", str(path), f"a writable file ({err.strerror})") from None


def atomic_write(path: str | Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename; the
    file gets the usual permissions (0666 less the umask). A path that cannot be written is an
    :class:`InputError` naming why, and leaves nothing behind."""
    path = Path(path)
    if not path.parent.is_dir():
        raise InputError("output", str(path), "a path in an existing folder")
    if path.is_dir():
        raise InputError("output", str(path), "a file path, not a folder")
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise InputError("output", str(path), f"a writable folder ({err.strerror})") from None
    try:
        with os.fdopen(fd, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())
        staged = _STAGED.get()
        if staged is None:
            os.replace(tmp, path)
        else:
            staged.append((tmp, path))
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise InputError("output", str(path), f"a writable file ({err.strerror})") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def data_date(paths: Iterable[str | Path]) -> dt.date:
    """The date a fit's data carry: the newest modification date (UTC) of the files measured,
    never the day the fit happens to run."""
    stamps = [Path(p).stat().st_mtime for p in paths]
    if not stamps:
        raise InputError("data", "no files", "at least one measurement file")
    return dt.datetime.fromtimestamp(max(stamps), dt.UTC).date()


def write_section(path: str | Path, section: str, title: str = "") -> None:
    """Replace, where it stands, the markdown section of ``path`` that starts with ``section``'s
    first line (an ``## `` heading) up to the next ``## `` heading, or append it; create the
    file with ``title`` when missing. Written atomically."""
    path = Path(path)
    heading = section.splitlines()[0]
    text = path.read_text() if path.exists() else title
    if heading not in text:
        atomic_write(path, text.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n")
        return
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    after = "" if end == -1 else "\n" + text[end + 1 :]
    atomic_write(path, text[:start] + section.rstrip("\n") + "\n" + after)


def read_section(path: str | Path, heading: str) -> str:
    """The section of ``path`` starting at ``heading`` (to the next ``## `` heading)."""
    text = Path(path).read_text()
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start : end + 1 if end != -1 else len(text)]


def read_text(path: str | Path, field: str) -> str:
    """The UTF-8 text of a file the user gave as ``field``; a missing, unreadable or binary
    file is an :class:`InputError` naming it."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise InputError(field, str(path), f"a UTF-8 text file (byte {err.start} is not)") from None
    except OSError as err:
        raise InputError(field, str(path), f"a readable file ({err.strerror})") from None


#: nodes a user YAML file may expand to once its aliases are followed (a "billion laughs"
#: file of a few hundred bytes expands to hundreds of millions and hangs validation)
MAX_YAML_NODES = 100_000


def load_yaml(text: str, field: str) -> Any:
    """``text`` parsed as YAML (safe loader), refused as an :class:`InputError` on ``field`` when
    its aliases expand it beyond :data:`MAX_YAML_NODES` nodes; YAML errors propagate."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:  # compose once, count the expanded nodes, construct from the same graph
        root = loader.get_single_node()
        if root is None:
            return None
        nodes = _expanded_nodes(root)
        if nodes > MAX_YAML_NODES:
            raise InputError(
                field,
                f"YAML expanding to {nodes:,} nodes",
                f"at most {MAX_YAML_NODES:,} once aliases are followed (an alias bomb?)",
            )
        return loader.construct_document(root)
    finally:
        loader.dispose()


def _expanded_nodes(root) -> int:
    """Nodes of the YAML graph under ``root`` with every alias expanded (memoised by node)."""
    import yaml

    sizes: dict[int, int] = {}

    def size(node) -> int:
        key = id(node)
        if key not in sizes:
            sizes[key] = 1  # a cycle counts once (safe loading refuses recursive objects)
            if isinstance(node, yaml.SequenceNode):
                sizes[key] = 1 + sum(size(child) for child in node.value)
            elif isinstance(node, yaml.MappingNode):
                sizes[key] = 1 + sum(size(k) + size(v) for k, v in node.value)
        return sizes[key]

    return size(root)
