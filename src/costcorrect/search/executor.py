"""One interface for running independent evaluations: in-process, a local process pool, or a
Ray cluster (optional extra ``costcorrect[ray]``).

    with make_executor("process", workers=4) as ex:
        results = ex.map(evaluate, items)

``map`` keeps the order of ``items`` and returns a list; ``fn`` and the items must be
picklable for the process and Ray backends (module-level functions, dataclasses).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, Protocol

from costcorrect.errors import InputError

EXECUTORS = ("local", "process", "ray")


class Executor(Protocol):
    """Maps a function over items, in order."""

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]: ...

    def close(self) -> None: ...


class _Closing:
    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class LocalExecutor(_Closing):
    """Runs everything in this process (no pickling, easiest to debug)."""

    def map(self, fn, items):
        return [fn(item) for item in items]

    def close(self) -> None:
        pass


class ThreadExecutor(_Closing):
    """Threads of this process (default: one per CPU), for work that spends its time in
    compiled kernels releasing the GIL — the simulator's. No pickling and no start-up cost;
    not for the analytic engine, whose parallel kernels must not be entered from several
    threads at once under numba's fallback threading layer."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1

    def map(self, fn, items):
        items = list(items)
        if self.workers == 1 or len(items) < 2:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self.workers, len(items))) as pool:
            return list(pool.map(fn, items))

    def close(self) -> None:
        pass


def _one_thread_per_worker() -> None:
    """Pool initializer: each worker runs its compiled kernels on one thread; the pool is the
    parallelism (threads per worker on top oversubscribe the cores and spin-wait)."""
    import numba

    numba.set_num_threads(1)


class ProcessExecutor(_Closing):
    """A pool of ``workers`` local processes (default: the CPU count), started by spawning:
    forking a process whose compiled kernels already run OpenMP threads is unsafe."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1
        self._pool: ProcessPoolExecutor | None = None

    def map(self, fn, items):
        items = list(items)
        if self._pool is None:
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=context, initializer=_one_thread_per_worker
            )
        chunk = max(1, len(items) // (4 * self.workers))
        return list(self._pool.map(fn, items, chunksize=chunk))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


class RayExecutor(_Closing):
    """Tasks on a Ray cluster: ``address`` ``"auto"`` (a running local cluster), ``HOST:PORT``,
    or None to start a private local one (stopped again on close)."""

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        try:
            import ray
        except ImportError as err:  # optional extra
            raise InputError(
                "executor", "ray", "Ray installed (pip install 'costcorrect[ray]')"
            ) from err
        self._ray = ray
        self._owned = not ray.is_initialized()
        if self._owned:
            options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if address is None and workers:
                options["num_cpus"] = workers
            try:
                ray.init(address=address, **options)
            except ConnectionError as err:
                raise InputError("address", address, "a reachable Ray cluster") from err

    def map(self, fn, items):
        remote = self._ray.remote(fn)
        return self._ray.get([remote.remote(item) for item in items])

    def close(self) -> None:
        if self._owned and self._ray.is_initialized():
            self._ray.shutdown()


def make_executor(
    kind: str = "local", address: str | None = None, workers: int | None = None
) -> LocalExecutor | ProcessExecutor | RayExecutor:
    """The executor named ``kind`` (``local``, ``process`` or ``ray``)."""
    if workers is not None and workers < 1:
        raise InputError("workers", workers, "a positive number of workers")
    if kind == "local":
        return LocalExecutor()
    if kind == "process":
        return ProcessExecutor(workers)
    if kind == "ray":
        return RayExecutor(address, workers)
    raise InputError("executor", kind, f"one of {', '.join(EXECUTORS)}")
