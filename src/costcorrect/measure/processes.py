"""One open-loop run over several sending processes: request i of the seeded schedule is sent
by process i mod P, every process starts the schedule at the same wall-clock instant, and the
records come back to this process in batches as they end (``sink`` and progress as in one
process). The arrival process is exactly the requested one — the same schedule, P event loops
to keep it."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import queue as queues
import time
from collections.abc import Callable

from costcorrect.errors import InputError
from costcorrect.measure.loadgen import (
    LoadSpec,
    RunResult,
    event_loop_factory,
    run_load_async,
    schedule,
)
from costcorrect.measure.records import RequestRecord

#: how often a sending process hands its finished records over (s)
FLUSH_S = 0.05
#: from every process ready to the schedule's t = 0 (s): time for the go signal to land
START_DELAY_S = 0.2
#: longest wait for a process to start (imports included) or to hand back its last records (s)
READY_TIMEOUT_S = 120.0


def _send(spec: LoadSpec, k: int, out, go, start_value) -> None:
    """A sending process: its share of the schedule, records batched onto ``out``."""
    buffer: list[RequestRecord] = []

    def flush() -> None:
        if buffer:
            out.put(("records", buffer.copy()))
            buffer.clear()

    async def main() -> None:
        async def flusher() -> None:
            while True:
                await asyncio.sleep(FLUSH_S)
                flush()

        task = asyncio.create_task(flusher())
        try:
            part = (k, spec.processes)
            await run_load_async(spec, buffer.append, part=part, start_at=start_at)
        finally:
            task.cancel()

    out.put(("ready", k))
    go.wait()
    start_at = start_value.value
    cpu = time.process_time()
    try:
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            runner.run(main())
    except KeyboardInterrupt:
        pass  # Ctrl-C reaches every process: hand back what has finished
    except Exception as err:  # reported by the parent, which raises it
        out.put(("error", f"{type(err).__name__}: {err}"))
    flush()
    out.put(("end", time.process_time() - cpu))


def run_load_processes(
    spec: LoadSpec,
    sink: Callable[[RequestRecord], None] | None = None,
    on_done: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Run the open-loop ``spec`` over ``spec.processes`` sending processes (see the module
    docstring); ``cpu_s`` sums the senders' CPU time."""
    ctx = mp.get_context("spawn")  # no inherited event loop, threads or sockets
    out, go, start = ctx.Queue(), ctx.Event(), ctx.Value("d", 0.0)
    senders = [
        ctx.Process(target=_send, args=(spec, k, out, go, start), daemon=True)
        for k in range(spec.processes)
    ]
    for sender in senders:
        sender.start()
    total = schedule(spec)[0].size
    records: list[RequestRecord] = []
    cpu, ended = 0.0, 0
    try:
        for _ in senders:
            _expect(out, "ready", senders)
        start.value = time.time() + START_DELAY_S
        began = time.perf_counter()
        go.set()
        try:
            while ended < len(senders):
                kind, payload = _expect(out, None, senders)
                if kind == "records":
                    for record in payload:
                        records.append(record)
                        if sink is not None:
                            sink(record)
                        if on_done is not None:
                            on_done(len(records), total)
                elif kind == "end":
                    ended, cpu = ended + 1, cpu + payload
                elif kind == "error":
                    raise InputError("bench run", payload, "a run every sending process finishes")
        except KeyboardInterrupt:  # the senders hand back what finished; keep it, then stop
            _drain(out, len(senders) - ended, records, sink)
            raise
        wall = time.perf_counter() - began - START_DELAY_S
    finally:
        for sender in senders:
            sender.join(timeout=5.0)
            if sender.is_alive():
                sender.terminate()
    records.sort(key=lambda r: r.id)
    return RunResult(records, wall, cpu)


def _expect(out, kind: str | None, senders: list) -> tuple[str, object]:
    """The next message (of ``kind``, if given); an error if a sender died or none comes in
    :data:`READY_TIMEOUT_S`."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        try:
            message = out.get(timeout=0.5)
            break
        except queues.Empty:
            dead = [s.exitcode for s in senders if s.exitcode not in (None, 0)]
            if dead or time.monotonic() > deadline:
                raise InputError(
                    "processes", len(senders), "sending processes that start and report"
                ) from None
    if kind is not None and message[0] != kind:
        if message[0] == "error":
            raise InputError("bench run", message[1], "a run every sending process finishes")
        raise InputError("processes", message[0], f"a {kind} message")
    return message


def _drain(out, senders: int, records: list[RequestRecord], sink) -> None:
    """After Ctrl-C: the records still in flight from ``senders`` processes."""
    deadline = time.monotonic() + 5.0
    while senders and time.monotonic() < deadline:
        try:
            kind, payload = out.get(timeout=max(0.0, deadline - time.monotonic()))
        except (queues.Empty, KeyboardInterrupt):
            return
        if kind == "records":
            records.extend(payload)
            for record in payload if sink is not None else ():
                sink(record)
        elif kind == "end":
            senders -= 1
