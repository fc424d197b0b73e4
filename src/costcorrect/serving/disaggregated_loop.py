"""Compiled closed loop of a disaggregated deployment: users' requests through a shared prefill
pool, their KV transfers and the decode instances, in one event loop.

The open-loop simulator runs those three stages one after another, since every arrival time is
known beforehand. In a closed loop a user's next request is sent when the previous one completes
on a decode instance, so the stages interleave: events (arrivals at the prefill queue, KV
landings at a decode instance, prefill batches, decode iterations) are taken in time order, with
arrivals and landings before a decision at the same instant. Each stage reuses the open loop's
kernels (:func:`kernels.prefill_batch`, :func:`kernels.transfer_one`, :func:`kernels.advance`),
so both loops batch, transfer and preempt identically.

Request ``i`` belongs to user ``i mod users``; each user is pinned to decode instance
``user mod decode instances`` (sticky routing) and shares the prefill pool with all others.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from costcorrect.serving.kernels import (
    CLOCK_DECODE_BUSY,
    CLOCK_NOW,
    HEAD,
    ITERATIONS,
    KNOWN,
    N_DONE,
    N_Q,
    N_RUN,
    NEXT,
    TAIL,
    advance,
    instance,
    new_instances,
    prefill_batch,
    prefill_start,
    transfer_one,
)

_PAGED = np.zeros(0, np.int64)  # decode instances reserve no KV ahead (paged)


@njit(cache=True)
def _heap_push(times, ids, size, t, i):
    """Push (t, i) on the binary min-heap ``times[:size]``/``ids[:size]``; returns the size."""
    k = size
    while k > 0:
        parent = (k - 1) // 2
        if (times[parent], ids[parent]) <= (t, i):
            break
        times[k], ids[k] = times[parent], ids[parent]
        k = parent
    times[k], ids[k] = t, i
    return size + 1


@njit(cache=True)
def _heap_pop(times, ids, size):
    """Remove the heap's least (t, i); returns the new size (the item is gone)."""
    size -= 1
    t, i = times[size], ids[size]
    k = 0
    while True:
        child = 2 * k + 1
        if child >= size:
            break
        if child + 1 < size and (times[child + 1], ids[child + 1]) < (times[child], ids[child]):
            child += 1
        if (t, i) <= (times[child], ids[child]):
            break
        times[k], ids[k] = times[child], ids[child]
        k = child
    if size > 0:
        times[k], ids[k] = t, i
    return size


@njit(cache=True)
def _idle(inst):
    c = inst.counters
    return c[N_RUN] == 0 and c[HEAD] == c[TAIL] and c[NEXT] == c[KNOWN]


@njit(cache=True, nogil=True)
def simulate_disaggregated_closed(
    users,
    think_s,
    prefill_todo,  # int64[n] prompt tokens the prefill pool computes
    pool_cached,  # int64[n] prompt tokens read from the KV pool instead (KV-pool only)
    prompt,  # int64[n] prompt tokens (the KV each request lands with)
    output,  # int64[n] tokens to generate (≥ 1)
    kv_bytes_per_token,
    prefill_table,  # the prefill deployment's op table arrays (see simulator._table)
    decode_table,
    n_prefill,
    n_decode,
    max_batch_tokens,
    max_seqs,
    decode_kv_tokens,
    read_s_per_context_token,
    reject_after_s,
    link_bytes_per_s,
    link_latency_s,
    link_overlap,
    counted,
    tbt_edges,
):
    """Serve ``n`` requests to ``users`` closed-loop users (see the module docstring).

    Returns (arrival s — written as users send —, first token s, completion s — NaN for a
    rejected request —, preemptions, prefill busy s, decode busy s, decode iterations, the TBT
    histogram of ``counted`` requests)."""
    n = prompt.shape[0]
    arrival = np.full(n, np.inf)
    landed = np.full(n, np.inf)
    first = np.full(n, -1.0)
    done = np.full(n, -1.0)
    preempted = np.zeros(n, np.int64)
    last = np.full(n, -1.0)
    todo0 = np.zeros(n, np.int64)  # decode side: nothing to compute unless preempted
    todo = todo0.copy()
    context = prompt.copy()
    emitted = np.ones(n, np.int64)
    held = np.zeros(n, np.int64)
    fetched = np.zeros(n, np.bool_)
    tbt = np.zeros(tbt_edges.shape[0] - 1, np.int64)
    q = np.zeros(N_Q)
    # decode instances: each user's requests go to one
    instance_of = (np.arange(n) % users) % n_decode
    mine = np.bincount(instance_of, minlength=n_decode)
    orders = np.empty((n_decode, max(1, mine.max())), np.int64)
    instances = new_instances(n_decode, max(1, mine.max()), max_seqs)
    decide = np.full(n_decode, np.inf)  # when each decode instance next decides (inf: idle)
    # prefill pool: FIFO of arrived prompts, instances' free times, their links' free times
    queue = np.empty(n, np.int64)
    head = 0
    tail = 0
    free = np.zeros(n_prefill)
    link_free = np.zeros(n_prefill)
    busy_prefill = 0.0
    # pending arrivals and landings, as min-heaps of (time, request)
    arr_t = np.empty(n)
    arr_i = np.empty(n, np.int64)
    land_t = np.empty(n)
    land_i = np.empty(n, np.int64)
    n_arr = 0
    n_land = 0
    for i in range(min(users, n)):
        n_arr = _heap_push(arr_t, arr_i, n_arr, 0.0, i)
    resolved = 0  # requests completed or rejected
    while resolved < n:
        a_next = arr_t[0] if n_arr > 0 else np.inf
        l_next = land_t[0] if n_land > 0 else np.inf
        p_next = prefill_start(queue, head, arrival, free)[1] if head < tail else np.inf
        event = min(a_next, l_next, p_next)
        k = np.argmin(decide)
        if decide[k] == np.inf and event == np.inf:
            raise RuntimeError("closed loop stalled with requests in flight")
        if decide[k] < event:  # a decode iteration before any other event
            inst = instance(instances, k)
            advance(
                inst, orders[k], landed, todo, todo0, context, prompt, output, emitted, held,
                fetched, last, first, done, preempted, counted, decode_table, False,
                max_batch_tokens, max_seqs, decode_kv_tokens, 0.0, tbt_edges, tbt, mine[k], 0,
                0.0, event, True, _PAGED, False,
            )  # fmt: skip
            for m in range(inst.counters[N_DONE]):
                i = inst.completed[m]
                resolved += 1
                if i + users < n:
                    n_arr = _heap_push(arr_t, arr_i, n_arr, done[i] + think_s, i + users)
            decide[k] = np.inf if _idle(inst) else inst.clock[CLOCK_NOW]
        elif a_next == event:  # a user sends a request
            i = arr_i[0]
            n_arr = _heap_pop(arr_t, arr_i, n_arr)
            arrival[i] = a_next
            queue[tail] = i
            tail += 1
        elif l_next == event:  # a request's KV lands at its decode instance
            i = land_i[0]
            n_land = _heap_pop(land_t, land_i, n_land)
            k = instance_of[i]
            inst = instance(instances, k)
            orders[k, inst.counters[KNOWN]] = i
            inst.counters[KNOWN] += 1
            if decide[k] == np.inf:
                decide[k] = max(inst.clock[CLOCK_NOW], l_next)
        else:  # a prefill batch
            j, p, t, dt = prefill_batch(
                queue, head, tail, arrival, prefill_todo, pool_cached, free, q, prefill_table,
                max_batch_tokens, read_s_per_context_token, reject_after_s,
            )  # fmt: skip
            if dt < 0.0:  # rejected: the user tries again after thinking
                i = queue[head]
                first[i] = done[i] = np.nan
                resolved += 1
                if i + users < n:
                    n_arr = _heap_push(arr_t, arr_i, n_arr, t + think_s, i + users)
            else:
                busy_prefill += dt
                for m in range(head, j):
                    i = queue[m]
                    at = transfer_one(
                        t + dt,
                        p,
                        prompt[i] * kv_bytes_per_token,
                        link_free,
                        link_bytes_per_s,
                        link_latency_s,
                        link_overlap,
                    )
                    first[i] = landed[i] = last[i] = at
                    if output[i] > 1:
                        n_land = _heap_push(land_t, land_i, n_land, at, i)
                    else:  # a single-token answer is complete with its first token
                        done[i] = at
                        resolved += 1
                        if i + users < n:
                            n_arr = _heap_push(arr_t, arr_i, n_arr, at + think_s, i + users)
            head = j
    busy_decode = instances.clock[:, CLOCK_DECODE_BUSY].sum()
    iterations = instances.counters[:, ITERATIONS].sum()
    return arrival, first, done, preempted, busy_prefill, busy_decode, iterations, tbt
