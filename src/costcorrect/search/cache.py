"""Long sweeps cached on disk by their inputs (``joblib.Memory``): the same arguments and the
same catalog contents give the stored result instead of a recomputation. Each costcorrect
version keeps its own folder, so an upgrade never reads an older model's answer; the executor
and the progress callback do not enter the key."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from costcorrect import __version__
from costcorrect.errors import InputError


def _run(sweep, name, catalog_key, args, kwargs, catalog, executor, report):
    """One sweep call; joblib keys it by ``name``, ``catalog_key``, ``args`` and ``kwargs``."""
    return sweep(*args, catalog=catalog, executor=executor, report=report, **kwargs)


def catalog_key(catalog) -> str:
    """A digest of the catalog's contents (every entry's fields)."""
    return hashlib.sha256(repr(catalog).encode()).hexdigest()


class CachedSweep:
    """``sweep`` memoised under a folder; called exactly like ``sweep``."""

    def __init__(self, sweep: Callable, folder: Path) -> None:
        from joblib import Memory

        self.sweep = sweep
        self.name = f"{sweep.__module__}.{sweep.__qualname__}"
        memory = Memory(folder, verbose=0)
        self.run = memory.cache(_run, ignore=["sweep", "catalog", "executor", "report"])

    def _key(self, args, kwargs) -> tuple:
        from costcorrect.catalog import load_catalog

        kwargs = dict(kwargs)
        catalog = kwargs.pop("catalog", None) or load_catalog()
        executor, report = kwargs.pop("executor", None), kwargs.pop("report", None)
        key = catalog_key(catalog)
        return (self.sweep, self.name, key, args, kwargs, catalog, executor, report)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.run(*self._key(args, kwargs))

    def in_cache(self, *args: Any, **kwargs: Any) -> bool:
        """Whether this call's answer is stored."""
        return self.run.check_call_in_cache(*self._key(args, kwargs))


def cached(sweep: Callable, folder: str | Path | None) -> Callable:
    """``sweep`` itself without a folder, else a :class:`CachedSweep` under ``folder``/version."""
    if folder is None:
        return sweep
    root = Path(folder)
    if root.exists() and not root.is_dir():
        raise InputError("cache", str(root), "a folder (or a path where one can be made)")
    try:
        (root / __version__).mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError("cache", str(root), f"a writable folder ({err.strerror})") from None
    return CachedSweep(sweep, root / __version__)
