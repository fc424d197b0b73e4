"""An open-loop load generator for OpenAI-compatible streaming endpoints (asyncio — uvloop
where installed — over pooled keep-alive connections, :mod:`costcorrect.measure.http`).

Open loop (``rate``): each request starts at its scheduled time whatever the server does —
Poisson, or gamma with vLLM's burstiness (the gaps' shape: CV = 1/√burstiness), or a trace's
times — and its lag behind the schedule is recorded. Closed loop (``concurrency``): N users
each send the next request when the last one ends. Errors, HTTP 4xx/5xx, timeouts and dropped
connections are recorded per request and never stop the run; every record goes to ``sink`` as
soon as its request ends.
"""

from __future__ import annotations

import asyncio
import gc
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from costcorrect.errors import InputError
from costcorrect.measure.http import Disconnected, HttpClient, MalformedResponse, Response
from costcorrect.measure.lengths import LengthDist
from costcorrect.measure.prompts import prompt_builder
from costcorrect.measure.records import RequestRecord
from costcorrect.measure.sse import SSEParser
from costcorrect.workload.arrivals import gamma_arrivals, poisson_arrivals

ENDPOINTS = {"chat": "/v1/chat/completions", "completions": "/v1/completions"}
DEFAULT_INPUT, DEFAULT_OUTPUT = LengthDist("fixed", 128), LengthDist("fixed", 64)
MIN_SLEEP_S = 1e-3  # event loops' timer resolution


@dataclass(frozen=True)
class LoadSpec:
    """What to send: endpoint, arrival process, how many (``requests`` and/or
    ``duration_s``), lengths, per-request timeout and seed."""

    url: str
    endpoint: str = "chat"
    rate: float | None = None
    concurrency: int | None = None
    burstiness: float = 1.0  # vLLM's --burstiness: gamma shape of the gaps, CV = 1/√burstiness
    requests: int | None = None
    duration_s: float | None = None
    input_len: LengthDist = DEFAULT_INPUT
    output_len: LengthDist = DEFAULT_OUTPUT
    timeout_s: float = 60.0
    seed: int = 0
    model: str | None = None  # comma-separated: round-robin (e.g. LoRA adapters); "" omits it
    arrivals_s: tuple[float, ...] | None = None  # a trace's start times (overrides rate)
    headers: tuple[tuple[str, str], ...] = ()  # extra HTTP headers (e.g. Authorization)
    ignore_eos: bool = False  # ask vLLM/SGLang to generate every requested output token
    tokenizer: str | None = None  # a tokenizer.json: prompts exact in its tokens
    processes: int = 1  # open loop: sending processes, request i sent by process i mod P

    def __post_init__(self) -> None:
        if self.endpoint not in ENDPOINTS:
            raise InputError("endpoint", self.endpoint, "chat or completions")
        if not self.url.startswith(("http://", "https://")):
            raise InputError("url", self.url, "an http:// or https:// URL")
        modes = [self.rate is not None, self.concurrency is not None, self.arrivals_s is not None]
        if sum(modes) != 1:
            raise InputError("rate", self.rate, "exactly one of --rate, --concurrency, --trace")
        if self.rate is not None and not (math.isfinite(self.rate) and self.rate > 0):
            raise InputError("rate", self.rate, "requests per second > 0")
        if not (isinstance(self.processes, int) and 1 <= self.processes <= 64):
            raise InputError("processes", self.processes, "sending processes, an integer 1–64")
        if self.processes > 1 and self.concurrency is not None:
            raise InputError(
                "processes", self.processes, "1 with --concurrency (a closed loop is one process)"
            )
        if self.concurrency is not None and self.concurrency < 1:
            raise InputError("concurrency", self.concurrency, "at least 1 concurrent user")
        if not 0 < self.burstiness < math.inf:
            raise InputError(
                "burstiness",
                self.burstiness,
                "a gamma shape > 0 (vLLM's: 1 = Poisson, < 1 burstier)",
            )
        if self.requests is None and self.duration_s is None and self.arrivals_s is None:
            raise InputError("requests", None, "--requests N or --duration S")
        if self.requests is not None and self.requests < 1:
            raise InputError("requests", self.requests, "at least 1 request")
        if self.duration_s is not None and not self.duration_s > 0:
            raise InputError("duration", self.duration_s, "seconds > 0")
        if not self.timeout_s > 0:
            raise InputError("timeout", self.timeout_s, "seconds > 0")
        for name, value in self.headers:
            if not name.strip() or any(c in name + value for c in "\r\n"):
                raise InputError("header", f"{name}: {value}", "'Name: value' on one line")
            if not (name + value).isascii():
                raise InputError("header", f"{name}: {value}", "ASCII text (HTTP headers)")


def schedule(spec: LoadSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start times s, input lengths, output lengths) of the run (closed loop: times 0)."""
    rng = np.random.default_rng(spec.seed)
    if spec.arrivals_s is not None:
        times = np.asarray(spec.arrivals_s, dtype=float)
        if spec.requests is not None:
            times = times[: spec.requests]
    elif spec.rate is not None:
        n = spec.requests or int(spec.rate * spec.duration_s * 1.5 + 20)
        gen = (
            poisson_arrivals(spec.rate, n, spec.seed)
            if spec.burstiness == 1.0
            else gamma_arrivals(spec.rate, 1.0 / math.sqrt(spec.burstiness), n, spec.seed)
        )
        times = gen if spec.duration_s is None else gen[gen < spec.duration_s]
        if spec.requests is not None:
            times = times[: spec.requests]
    else:
        n = spec.requests or 10**9
        times = np.zeros(min(n, 10**6))
    return times, spec.input_len.sample(times.size, rng), spec.output_len.sample(times.size, rng)


def _payload(spec: LoadSpec, text: str, max_tokens: int, i: int = 0) -> dict:
    body: dict = {
        "max_tokens": int(max_tokens),
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if spec.endpoint == "chat":
        body["messages"] = [{"role": "user", "content": text}]
    else:
        body["prompt"] = text
    if spec.ignore_eos:
        body["ignore_eos"] = True  # vLLM's and SGLang's sampling extension
    if spec.model:
        names = spec.model.split(",")
        if names[i % len(names)].strip():
            body["model"] = names[i % len(names)].strip()
    return body


def _content(event: dict) -> bool:
    """Whether an event carries generated text (malformed choices and deltas carry none)."""
    choices = event.get("choices")
    for choice in choices if isinstance(choices, list) else []:
        if not isinstance(choice, dict):
            continue
        delta = choice.get("delta")
        delta = delta if isinstance(delta, dict) else {}
        if delta.get("content") or delta.get("reasoning_content") or choice.get("text"):
            return True
    return False


def _count(value) -> int | None:
    """A token count as the server sent it, or None unless it is a whole number ≥ 0."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


async def _one(
    client: HttpClient, spec: LoadSpec, record: RequestRecord, text: str, t0: float
) -> RequestRecord:
    """Send one request now and fill its record (never raises)."""
    record.sent_s = time.perf_counter() - t0
    body = json.dumps(_payload(spec, text, record.output_tokens_requested, record.id)).encode()
    response = Response()
    try:
        async with asyncio.timeout(spec.timeout_s):
            await client.post(ENDPOINTS[spec.endpoint], body, into=response)
        record.http_status = response.status
        if response.status >= 400:
            reply = response.body().decode("utf-8", errors="replace")
            record.status, record.error = "http_error", reply[:300]
            return record
    except TimeoutError:
        record.status, record.error = "timeout", f"no end within {spec.timeout_s:g} s"
    except Disconnected as err:
        record.status, record.error = "disconnected", f"{type(err).__name__}: {err}"[:300]
    except (MalformedResponse, OSError) as err:
        record.status, record.error = "error", f"{type(err).__name__}: {err}"[:300]
    times, events = _read_stream(record, response.pieces, t0)
    if record.status == "error" and not record.error:
        record.status = "ok" if times else "error"
        if not times:
            record.error = "stream ended without content"
    if times:
        record.ttft_s = times[0] - record.scheduled_s
        record.e2e_s = times[-1] - record.scheduled_s
        record.itl_s = np.diff(times).tolist()
        if not record.usage_reported:
            record.output_tokens = events
    return record


def _read_stream(
    record: RequestRecord, pieces: list[tuple[bytes, float]], t0: float
) -> tuple[list[float], int]:
    """Apply the server-sent events in ``pieces`` (bytes, arrival time) to the record: the
    content events' arrival times (s after ``t0``) and their count."""
    parser, times, events = SSEParser(), [], 0
    for piece, at in pieces:
        for payload in parser.feed(piece):
            events += _event(record, payload, times, at - t0)
    end = pieces[-1][1] - t0 if pieces else 0.0
    for payload in parser.close():
        events += _event(record, payload, times, end)
    return times, events


def _event(record: RequestRecord, payload: str, times: list[float], now: float) -> bool:
    """Apply one SSE payload to the record; True when it carried content (whose arrival time
    is appended unless this read already has one)."""
    try:
        event = json.loads(payload)
    except json.JSONDecodeError:
        record.error = f"non-JSON event: {payload[:80]}"
        return False
    if not isinstance(event, dict):
        return False
    if "error" in event:
        record.error = json.dumps(event["error"])[:300]
    usage = event.get("usage")
    if isinstance(usage, dict) and usage.get("completion_tokens") is not None:
        tokens = _count(usage["completion_tokens"])
        if tokens is None:
            record.error = f"malformed usage: {json.dumps(usage)[:80]}"
        else:
            record.output_tokens = tokens
            record.prompt_tokens = _count(usage.get("prompt_tokens"))
            record.usage_reported = True
    elif usage is not None and not isinstance(usage, dict):
        record.error = f"malformed usage: {json.dumps(usage)[:80]}"
    if not _content(event):
        return False
    if not times or now > times[-1]:
        times.append(now)  # events of one network read share its time: one gap, not zeros
    return True


@dataclass(frozen=True)
class RunResult:
    """Every record (by id), the run's wall time and the CPU time its sending process(es)
    spent (s)."""

    records: list[RequestRecord]
    wall_s: float
    cpu_s: float


async def run_load_async(
    spec: LoadSpec,
    sink: Callable[[RequestRecord], None] | None = None,
    on_done: Callable[[int, int], None] | None = None,
    part: tuple[int, int] = (0, 1),
    start_at: float | None = None,
) -> RunResult:
    """Run ``spec`` in this process; ``sink`` gets each record as it ends, ``on_done(done,
    total)`` progress. Open loop: ``part`` (k, P) sends only requests i ≡ k (mod P) of the
    schedule, and ``start_at`` (a ``time.time()`` instant) is the schedule's t = 0 (default:
    now) — how :mod:`costcorrect.measure.processes` splits one run over P processes."""
    times, inputs, outputs = schedule(spec)
    prompt = prompt_builder(spec.tokenizer)
    records: list[RequestRecord] = []
    mine = range(part[0], times.size, part[1])
    total = len(mine) if spec.concurrency is None else (spec.requests or 0)

    def finish(record: RequestRecord) -> None:
        records.append(record)
        if sink is not None:
            sink(record)
        if on_done is not None:
            on_done(len(records), total)

    start, cpu = time.perf_counter(), time.process_time()
    client = HttpClient(spec.url, dict(spec.headers))
    try:
        # every time stamp is time.perf_counter() − t0: uvloop's clock ticks in whole ms
        t0 = start + (0.0 if start_at is None else max(0.0, start_at - time.time()))
        if spec.concurrency is None:
            # one dispatcher sleeps until each start and spawns the request: few timers, and
            # the collector paused so its sweeps cannot delay a start
            tasks = set()

            async def fire(i: int) -> None:
                record = RequestRecord(i, float(times[i]), int(inputs[i]), int(outputs[i]))
                finish(await _one(client, spec, record, prompt(int(inputs[i]), i), t0))

            gc_was_enabled = gc.isenabled()
            gc.disable()
            try:
                for i in mine:
                    # timers tick in whole ms (uvloop's may wake early): sleep on, ≥ 1 ms at
                    # a time rather than spin
                    while (wait := t0 + times[i] - time.perf_counter()) > 0:
                        await asyncio.sleep(max(wait, MIN_SLEEP_S))
                    task = asyncio.create_task(fire(i))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                await asyncio.gather(*tasks)
            finally:
                if gc_was_enabled:
                    gc.enable()
        else:
            counter = iter(range(total if spec.requests else 10**9))
            deadline = None if spec.duration_s is None else t0 + spec.duration_s

            async def user() -> None:
                for i in counter:
                    if deadline is not None and time.perf_counter() >= deadline:
                        return
                    now = time.perf_counter() - t0
                    k = i % inputs.size
                    record = RequestRecord(i, now, int(inputs[k]), int(outputs[k]))
                    finish(await _one(client, spec, record, prompt(int(inputs[k]), i), t0))

            await asyncio.gather(*(user() for _ in range(spec.concurrency)))
    finally:
        client.close()
    records.sort(key=lambda r: r.id)
    return RunResult(records, time.perf_counter() - start, time.process_time() - cpu)


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed (None: asyncio's own)."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run_load(spec: LoadSpec, sink=None, on_done=None) -> RunResult:
    """:func:`run_load_async` from synchronous code (on uvloop where installed), over
    ``spec.processes`` processes when more than one."""
    if spec.processes > 1:
        from costcorrect.measure.processes import run_load_processes

        return run_load_processes(spec, sink, on_done)
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        return runner.run(run_load_async(spec, sink, on_done))
