"""Compiled (numba) inner loops of the iteration-level simulator: no Python object per event;
the entry points release the GIL, so simulations run in parallel threads.

Requests are indexed ``0..n-1`` in arrival order; all state lives in numpy arrays. Iteration
times come from the deployment's op table (:mod:`costcorrect.perf.roofline`), evaluated here by
:func:`step_seconds` on the same quantities as the numpy evaluator.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit

# quantity indices, mirroring costcorrect.perf.roofline.Q
(
    _TOKENS,
    _PTOK,
    _PAIRS,
    _PKV,
    _PSEQ,
    _DSEQ,
    _DKV,
    _FLAT,
    _MOE,
    _ACT,
    _PACT,
    _DACT,
    _ROWS,
    _SPAN,
) = range(14)
N_Q = 14


@njit(cache=True)
def step_seconds(q, flop, nbytes, flop_rate, byte_rate, additive):
    """Σ_j max(FLOP_j·q / F_j, bytes_j·q / B_j) + min_w additive_jw·q, seconds."""
    total = 0.0
    for j in range(flop.shape[0]):
        f = 0.0
        b = 0.0
        for k in range(N_Q):
            f += flop[j, k] * q[k]
            b += nbytes[j, k] * q[k]
        x = f / flop_rate[j]
        y = b / byte_rate[j]
        total += x if x > y else y
        cheapest = np.inf
        for w in range(additive.shape[1]):
            a = 0.0
            for k in range(N_Q):
                a += additive[j, w, k] * q[k]
            cheapest = min(cheapest, a)
        total += cheapest
    return total


#: the quantities a decode-only iteration's cost is linear in: 1, sequences, KV tokens read,
#: routed experts touched, padded GEMM rows (see :func:`decode_coefficients`)
_DECODE_BASIS = 5


@njit(cache=True)
def padded_rows(rows, tile):
    """:func:`costcorrect.perf.roofline.padded_rows` of one iteration's ``rows``."""
    if tile <= 0 or rows <= 0.0:
        return rows
    if rows > tile:
        return np.ceil(rows / tile) * tile
    power = 1.0
    while power < rows:
        power *= 2.0
    return power


@njit(cache=True)
def decode_coefficients(flop, nbytes, flop_rate, byte_rate, additive):
    """The op table restricted to decode-only iterations: per row with any decode cost, the
    (compute seconds, memory seconds, each additive way's seconds) per unit of
    (1, sequences, KV tokens read, experts touched, padded GEMM rows) — ``(rows, 2 + ways,
    5)``, for :func:`decode_seconds`."""
    ways = additive.shape[1]
    coeffs = np.zeros((flop.shape[0], 2 + ways, _DECODE_BASIS))
    kept = 0
    for j in range(flop.shape[0]):
        row = coeffs[kept]
        for c, (table, rate) in enumerate(((flop[j], flop_rate[j]), (nbytes[j], byte_rate[j]))):
            row[c, 0] = (table[_ACT] + table[_DACT]) / rate
            row[c, 1] = (table[_TOKENS] + table[_DSEQ]) / rate
            row[c, 2] = table[_DKV] / rate
            row[c, 3] = table[_MOE] / rate
            row[c, 4] = table[_ROWS] / rate
        for w in range(ways):
            a = additive[j, w]
            row[2 + w, 0] = a[_ACT] + a[_DACT]
            row[2 + w, 1] = a[_TOKENS] + a[_DSEQ]
            row[2 + w, 2] = a[_DKV]
            row[2 + w, 3] = a[_MOE]
            row[2 + w, 4] = a[_ROWS]
        if np.any(row != 0.0):
            kept += 1
    return coeffs[:kept]


@njit(cache=True)
def decode_batch_terms(dseq, moe_experts, moe_top_k, row_tile, coeffs):
    """Each row's (compute, memory, each additive way's) seconds of a decode-only iteration of
    ``dseq`` sequences before its KV reads, ``(rows, 2 + ways)``: what stays fixed while an
    unchanging batch decodes (:func:`decode_seconds_at`)."""
    moe = 0.0
    if moe_experts > 0:
        moe = moe_experts * (1.0 - (1.0 - moe_top_k / moe_experts) ** dseq)
    rows = padded_rows(dseq, row_tile)
    return coeffs[:, :, 0] + coeffs[:, :, 1] * dseq + coeffs[:, :, 3] * moe + coeffs[:, :, 4] * rows


@njit(cache=True)
def decode_seconds_at(terms, coeffs, dkv):
    """Seconds of the decode-only iteration of :func:`decode_batch_terms` reading ``dkv`` KV
    tokens: Σ_rows max(compute, memory) + the cheapest additive way."""
    total = 0.0
    for j in range(terms.shape[0]):
        x = terms[j, 0] + coeffs[j, 0, 2] * dkv
        y = terms[j, 1] + coeffs[j, 1, 2] * dkv
        total += x if x > y else y
        cheapest = np.inf
        for w in range(2, terms.shape[1]):
            cheapest = min(cheapest, terms[j, w] + coeffs[j, w, 2] * dkv)
        total += cheapest
    return total


@njit(cache=True)
def decode_seconds(dseq, dkv, moe_experts, moe_top_k, row_tile, coeffs):
    """Seconds of a decode-only iteration of ``dseq`` sequences reading ``dkv`` KV tokens:
    :func:`step_seconds` on :func:`decode_coefficients` (the same sum, fewer terms; the sum of
    :func:`decode_batch_terms` and :func:`decode_seconds_at` without their array)."""
    moe = 0.0
    if moe_experts > 0:
        moe = moe_experts * (1.0 - (1.0 - moe_top_k / moe_experts) ** dseq)
    rows = padded_rows(dseq, row_tile)
    total = 0.0
    for j in range(coeffs.shape[0]):
        row = coeffs[j]
        x = row[0, 0] + row[0, 1] * dseq + row[0, 2] * dkv + row[0, 3] * moe + row[0, 4] * rows
        y = row[1, 0] + row[1, 1] * dseq + row[1, 2] * dkv + row[1, 3] * moe + row[1, 4] * rows
        total += x if x > y else y
        cheapest = np.inf
        for w in range(2, row.shape[0]):
            a = row[w, 0] + row[w, 1] * dseq + row[w, 2] * dkv + row[w, 3] * moe
            cheapest = min(cheapest, a + row[w, 4] * rows)
        total += cheapest
    return total


@njit(cache=True)
def decode_run(
    running,  # int64: the batch's requests, all decoding
    todo,
    output,
    emitted,  # updated
    counted,
    context,  # updated
    held,  # updated
    last,  # updated
    kv_free,  # KV tokens still free
    t,  # s: when the next iteration starts
    stop_at,  # s: start no iteration at or after this time (an arrival, a horizon)
    dkv,  # KV tokens the batch read in its last iteration
    moe_experts,
    moe_top_k,
    row_tile,
    decode_rows,  # decode_coefficients(...)
    tbt_edges,
    tbt,  # updated
):
    """Decode-only iterations of an unchanging batch, each one token per sequence, up to the
    iteration before its first completion, while the KV cache holds the growth, starting
    before ``stop_at`` — the iterations the instance's loop would run, without its per-request
    work. Returns (time after the last, iterations run, their busy seconds)."""
    n = running.shape[0]
    steps = kv_free // n
    n_counted = 0
    for r in range(n):
        i = running[r]
        if todo[i] > 0:
            return t, 0, 0.0
        steps = min(steps, output[i] - emitted[i] - 1)
        if counted[i]:
            n_counted += 1
    dseq = float(n)
    terms = decode_batch_terms(dseq, moe_experts, moe_top_k, row_tile, decode_rows)
    done = 0
    busy = 0.0
    b = -1  # the last interval's TBT bin
    while done < steps and t < stop_at:
        dkv += dseq
        dt = decode_seconds_at(terms, decode_rows, dkv)
        t_prev = t
        t += dt
        busy += dt
        done += 1
        if n_counted:
            gap = t - t_prev
            if not (b >= 0 and tbt_edges[b] < gap <= tbt_edges[b + 1]):
                b = tbt_bin(tbt_edges, gap)
            tbt[b] += n_counted
    if done:
        for r in range(n):
            i = running[r]
            context[i] += done
            held[i] += done
            emitted[i] += done
            last[i] = t
    return t, done, busy


@njit(cache=True, inline="always")
def _leave(i, t, done, held, completed, n_done, arrival, order, known, users, think_s):
    """Request ``i`` completes at ``t``: its KV is released, it joins the iteration's completed
    list, and in a closed loop its user's next request is scheduled ``think_s`` later. Returns
    (KV tokens freed, completed count, known arrivals)."""
    done[i] = t
    freed = held[i]
    held[i] = 0
    completed[n_done] = i
    if users > 0 and i + users < arrival.shape[0]:
        arrival[i + users] = t + think_s
        order[known] = i + users
        known += 1
    return freed, n_done + 1, known


_MIX = (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB)


@njit(cache=True)
def accepted_length(cdf, seed, request, position):
    """Tokens one speculative step emits for ``request`` whose ``position``-th token is next:
    the inverse of the accepted-length ``cdf`` at a uniform hashed from (seed, request,
    position) (splitmix64), so a request's draws do not depend on how it was batched."""
    z = (
        np.uint64(seed) * np.uint64(_MIX[0])
        + np.uint64(request) * np.uint64(_MIX[1])
        + np.uint64(position) * np.uint64(_MIX[2])
    )
    z = (z ^ (z >> np.uint64(30))) * np.uint64(_MIX[1])
    z = (z ^ (z >> np.uint64(27))) * np.uint64(_MIX[2])
    z = z ^ (z >> np.uint64(31))
    u = float(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)  # 53 bits: [0, 1)
    j = 0
    while u >= cdf[j]:
        j += 1
    return j + 1


@njit(cache=True)
def tbt_bin(edges, gap):
    """Bin of a time between tokens ``gap`` (s) over ``edges`` (under/overflow: the end bins)."""
    k = np.searchsorted(edges, gap) - 1
    return min(max(k, 0), edges.shape[0] - 2)


@njit(cache=True)
def fill_quantities(q, ptok, pairs, pkv, pseq, dseq, dkv, moe_experts, moe_top_k, row_tile):
    """Write one iteration's quantities into ``q`` (window caps already applied)."""
    tokens = ptok + dseq
    q[_TOKENS] = tokens
    q[_PTOK] = ptok
    q[_PAIRS] = pairs
    q[_PKV] = pkv
    q[_PSEQ] = pseq
    q[_DSEQ] = dseq
    q[_DKV] = dkv
    q[_FLAT] = ptok * ptok / 2.0
    if moe_experts > 0:
        q[_MOE] = moe_experts * (1.0 - (1.0 - moe_top_k / moe_experts) ** tokens)
    else:
        q[_MOE] = 0.0
    q[_ACT] = 1.0 if tokens > 0 else 0.0
    q[_PACT] = 1.0 if ptok > 0 else 0.0
    q[_DACT] = 1.0 if dseq > 0 else 0.0
    q[_ROWS] = padded_rows(tokens, row_tile)
    q[_SPAN] = pkv / pseq if pseq > 0 else 0.0


@njit(cache=True)
def _chunk_work(chunk, context, window):
    """(query–key pairs, KV tokens attended) of ``chunk`` new tokens on ``context`` cached."""
    pairs = chunk * (context + (chunk + 1.0) / 2.0)
    kv = context + chunk
    if window > 0:
        pairs = min(pairs, chunk * float(window))
        kv = min(kv, float(window) + chunk)
    return pairs, kv


@njit(cache=True, nogil=True)
def simulate_instance(
    arrival,  # float64[n] s
    todo0,  # int64[n] prefill tokens to compute on arrival (0: arrives prefilled)
    context0,  # int64[n] KV tokens held on arrival (prefix hits, or a transferred prompt)
    output,  # int64[n] tokens to generate in total (≥ 1)
    emitted0,  # int64[n] tokens already generated on arrival (1 for transferred requests)
    flop,
    nbytes,
    flop_rate,
    byte_rate,
    additive,
    moe_experts,
    moe_top_k,
    window,
    row_tile,  # the dense GEMMs' row tile (0: none)
    accept_cdf,  # float64[k + 1]: P(accepted length ≤ j) of speculative decoding ([1.0]: none)
    spec_seed,  # int: seed of the accepted-length draws
    chunked,  # bool: Sarathi stall-free batching with budget `token_budget`
    token_budget,  # tokens per iteration (colocated: prefill batch cap; chunked: τ)
    max_seqs,
    kv_capacity,  # KV tokens the instance holds
    read_s_per_context_token,  # seconds to fetch arrival KV (KV-pool prefix hits), per token
    counted,  # bool[n]: whose token intervals enter the TBT histogram (steady requests)
    tbt_edges,  # float64[m+1] s, increasing: bins of the inter-token-interval histogram
    users,  # closed loop: request i + users arrives think_s after request i completes (0: open)
    think_s,
    reserve,  # int64[n]: KV tokens each request reserves on admission (empty: paged, none)
    static,  # bool: request-level batching — admit only into an empty batch, finish together
):
    """Serve ``n`` requests on one instance with continuous batching.

    Colocated (``chunked=False``): waiting prompts are batched (FCFS, token budget) into a
    prefill-only iteration that stalls running decodes (vLLM v0). Chunked: each iteration runs
    every decode plus prefill chunks filling the budget τ (Sarathi-Serve). Admission needs the
    prompt's KV to fit; a decode step that would overflow preempts the most recently admitted
    request, which recomputes prompt + generated tokens later (vLLM's default).

    Every interval between two consecutive tokens of a ``counted`` request (time between
    tokens, TBT; the first interval of a transferred request starts on its arrival) is added
    to a histogram over ``tbt_edges`` (under/overflow in the end bins).

    Closed loop (``users`` > 0): requests ``0 … users − 1`` arrive at t = 0 and request
    ``i + users`` ``think_s`` after request ``i`` completes; ``arrival`` is written in place.
    Completions happen in time order, so those arrivals are generated in time order too.

    Historical baselines: ``reserve`` holds each request's KV reservation, taken whole on
    admission (Orca's reservation policies; its cache grows only past it); ``static`` is
    request-level batching (FasterTransformer): a batch is admitted only when the last one has
    left, and its requests keep decoding (padding) until its longest is done, finishing
    together.

    Returns first-token times, completion times, preemption counts,
    (prefill-attributed busy s, decode-attributed busy s, iterations) and the TBT histogram.
    """
    n = arrival.shape[0]
    inst, requests, tbt = start_instance(
        arrival, todo0, context0, emitted0, max_seqs, users, tbt_edges
    )
    order, todo, context, emitted, held, fetched, last, first, done, preempted = requests
    advance(
        inst, order, arrival, todo, todo0, context, context0, output, emitted, held, fetched,
        last, first, done, preempted, counted,
        (
            flop, nbytes, flop_rate, byte_rate, additive, moe_experts, moe_top_k, window,
            row_tile, accept_cdf, spec_seed,
        ),
        chunked, token_budget, max_seqs, kv_capacity, read_s_per_context_token, tbt_edges, tbt,
        n, users, think_s, np.inf, False, reserve, static,
    )  # fmt: skip
    busy_prefill, busy_decode = inst.clock[CLOCK_PREFILL_BUSY], inst.clock[CLOCK_DECODE_BUSY]
    return first, done, preempted, busy_prefill, busy_decode, inst.counters[ITERATIONS], tbt


@njit(cache=True)
def start_instance(arrival, todo0, context0, emitted0, max_seqs, users, tbt_edges):
    """One instance before its first decision, for :func:`advance`: its state, the requests'
    working arrays (order, prefill tokens left, KV held, tokens emitted, KV reserved, arrival KV
    fetched, latest token, first token, completion, preemptions) and an empty TBT histogram.
    A closed loop's first ``users`` requests arrive at t = 0 (``arrival`` written in place)."""
    n = arrival.shape[0]
    order = np.arange(n)  # requests in arrival order; the first `known` have an arrival time
    known = n
    if users > 0:
        known = min(users, n)
        arrival[:known] = 0.0
    inst = instance(new_instances(1, n, max_seqs), 0)
    inst.counters[KNOWN] = known
    requests = (
        order,
        todo0.copy(),
        context0.copy(),
        emitted0.copy(),
        np.zeros(n, np.int64),
        np.zeros(n, np.bool_),
        np.where(emitted0 > 0, arrival, -1.0),  # time of each request's latest token
        np.full(n, -1.0),
        np.full(n, -1.0),
        np.zeros(n, np.int64),
    )
    return inst, requests, np.zeros(tbt_edges.shape[0] - 1, np.int64)


# InstanceState.counters and .clock slots
HEAD, TAIL, N_RUN, KV_USED, NEXT, KNOWN, FINISHED, ITERATIONS, N_DONE = range(9)
CLOCK_NOW, CLOCK_PREFILL_BUSY, CLOCK_DECODE_BUSY = range(3)


#: the resumable state of an instance (see :func:`new_instances`), or of several (2-D arrays,
#: one row per instance; :func:`instance` takes one's rows)
InstanceState = namedtuple("InstanceState", "counters clock queue running chunk completed")


@njit(cache=True)
def new_instances(count, requests, max_seqs):
    """The resumable states of ``count`` instances serving up to ``requests`` requests each:
    (counters — see the slot names —, clock [s: now, prefill-attributed busy,
    decode-attributed busy], queue deque, running requests, their chunks this iteration, the
    requests completed by the last iteration), a row per instance."""
    counters = np.zeros((count, 9), np.int64)
    counters[:, HEAD] = requests
    counters[:, TAIL] = requests
    return InstanceState(
        counters,
        np.zeros((count, 3)),
        np.empty((count, 2 * requests + 1), np.int64),  # preempted requests re-enter in front
        np.empty((count, max_seqs), np.int64),
        np.zeros((count, max_seqs), np.int64),
        np.empty((count, max_seqs), np.int64),
    )


@njit(cache=True)
def instance(states, k):
    """Instance ``k``'s state: views of its rows of ``states``."""
    return InstanceState(
        states.counters[k],
        states.clock[k],
        states.queue[k],
        states.running[k],
        states.chunk[k],
        states.completed[k],
    )


@njit(cache=True)
def advance(
    inst,
    order,  # int64: request ids in arrival order; inst.counters[KNOWN] of them have arrived
    arrival,
    todo,  # int64[n] prefill tokens still to compute (updated)
    todo0,
    context,  # int64[n] KV tokens held (updated)
    context0,
    output,
    emitted,  # int64[n] tokens generated so far (updated)
    held,  # int64[n] KV tokens reserved by a running request (updated)
    fetched,  # bool[n] whether a request's arrival KV was read (updated)
    last,  # float64[n] s: time of each request's latest token (updated)
    first,
    done,
    preempted,
    counted,
    table,  # the op table's arrays (see simulate_instance's arguments flop … spec_seed)
    chunked,
    token_budget,
    max_seqs,
    kv_capacity,
    read_s_per_context_token,
    tbt_edges,
    tbt,
    n_mine,  # requests this instance serves in all
    users,
    think_s,
    until,  # s: make no decision at or after this time
    pause_on_completion,  # bool: return after an iteration that completes a request
    reserve,  # int64[n]: KV reservations (empty: paged), see simulate_instance
    static,  # bool: request-level batching, see simulate_instance
):
    """Run ``inst`` (see :func:`simulate_instance` for the batching) until it has finished
    ``n_mine`` requests, is idle with no request arrived, reaches ``until``, or (with
    ``pause_on_completion``) completes requests — their ids in ``inst.completed[:N_DONE]``."""
    counters, clock, queue, running, chunk, completed = inst
    flop, nbytes, flop_rate, byte_rate, additive, moe_experts, moe_top_k, window = table[:8]
    row_tile, accept_cdf, spec_seed = table[8], table[9], table[10]
    width = accept_cdf.shape[0]  # tokens each decoding sequence runs per iteration (k + 1)
    head, tail, n_run, kv_used = counters[HEAD], counters[TAIL], counters[N_RUN], counters[KV_USED]
    nxt, known, finished, iterations = (
        counters[NEXT],
        counters[KNOWN],
        counters[FINISHED],
        counters[ITERATIONS],
    )
    t, busy_prefill, busy_decode = (
        clock[CLOCK_NOW],
        clock[CLOCK_PREFILL_BUSY],
        clock[CLOCK_DECODE_BUSY],
    )
    q = np.zeros(N_Q)
    decode_rows = decode_coefficients(flop, nbytes, flop_rate, byte_rate, additive)
    reserving = reserve.shape[0] > 0
    n_done = 0
    while finished < n_mine and t < until:
        while nxt < known and arrival[order[nxt]] <= t:
            queue[tail] = order[nxt]
            tail += 1
            nxt += 1
        # requests that arrive prefilled join the batch without compute
        while head < tail and n_run < max_seqs and todo[queue[head]] == 0:
            i = queue[head]
            need = max(context[i], reserve[i]) if reserving else context[i]
            if kv_used + need > kv_capacity and n_run > 0:
                break
            head += 1
            held[i] = need
            kv_used += need
            running[n_run] = i
            chunk[n_run] = 0
            n_run += 1
        # --- form the iteration ---------------------------------------------------------------
        ptok = 0.0
        pairs = 0.0
        pkv = 0.0
        pseq = 0.0
        dseq = 0.0
        dkv = 0.0
        fetch_s = 0.0
        n_new = 0  # requests admitted into this iteration from the queue
        if chunked:
            budget = token_budget
            for r in range(n_run):  # every decoding sequence takes its tokens (k + 1 verified)
                if todo[running[r]] == 0:
                    budget -= width
            for r in range(n_run):  # continue partial prefills in admission order
                i = running[r]
                chunk[r] = 0
                if todo[i] > 0 and budget > 0:
                    c = min(todo[i], budget)
                    chunk[r] = c
                    budget -= c
        else:
            budget = token_budget
            for r in range(n_run):
                chunk[r] = 0
        # admit waiting prompts (colocated: only when a prefill iteration is possible; static:
        # only into an empty batch)
        while head < tail and n_run + n_new < max_seqs and not (static and n_run > 0):
            i = queue[head]
            if todo[i] == 0:
                break
            if chunked:
                if budget <= 0:
                    break
                c = min(todo[i], budget)
            else:
                c = todo[i]
                if n_new > 0 and ptok + c > token_budget:
                    break
            need = context[i] + todo[i]
            if reserving:
                need = max(need, reserve[i])
            if kv_used + need > kv_capacity and (n_run + n_new) > 0:
                break
            head += 1
            held[i] = need
            kv_used += need
            running[n_run + n_new] = i
            chunk[n_run + n_new] = c
            n_new += 1
            if chunked:
                budget -= c
            else:
                ptok += c
        if not chunked:
            ptok = 0.0
        n_run += n_new
        colocated_prefill = (not chunked) and n_new > 0
        # KV growth of this iteration's decodes; preempt from the back if it overflows
        if not colocated_prefill:
            growth = 0  # KV the decodes may add beyond what they hold (reservations absorb it)
            for r in range(n_run):
                i = running[r]
                if todo[i] == 0:
                    growth += max(context[i] + width - held[i], 0)
            while n_run > 0 and kv_used + growth > kv_capacity:
                n_run -= 1
                i = running[n_run]
                if todo[i] == 0:
                    growth -= max(context[i] + width - held[i], 0)
                kv_used -= held[i]
                held[i] = 0
                preempted[i] += 1
                total = context[i] + todo[i]  # recompute all but surviving prefix-cache hits
                context[i] = context0[i] if todo0[i] > 0 else 0
                todo[i] = total - context[i]
                head -= 1
                queue[head] = i
        if n_run == 0:
            if nxt == known:
                break  # idle until a request arrives
            t = max(t, arrival[order[nxt]])
            continue
        for r in range(n_run):
            i = running[r]
            if colocated_prefill and r < n_run - n_new:
                continue  # decodes stall during a whole-prompt prefill iteration
            if chunk[r] > 0:
                w_pairs, w_kv = _chunk_work(float(chunk[r]), float(context[i]), window)
                ptok += chunk[r]
                pairs += w_pairs
                pkv += w_kv
                pseq += 1.0
                if not fetched[i] and read_s_per_context_token > 0.0:
                    fetch_s += context[i] * read_s_per_context_token
                    fetched[i] = True
            elif todo[i] == 0 and not colocated_prefill:
                dseq += 1.0
                ctx = float(context[i])
                dkv += min(ctx, float(window)) if window > 0 else ctx
        if ptok == 0.0:
            dt = decode_seconds(dseq, dkv, moe_experts, moe_top_k, row_tile, decode_rows)
        else:
            fill_quantities(q, ptok, pairs, pkv, pseq, dseq, dkv, moe_experts, moe_top_k, row_tile)
            dt = step_seconds(q, flop, nbytes, flop_rate, byte_rate, additive) + fetch_s
        t_prev = t
        t += dt
        gap_bin = -1  # TBT bin of t − t_prev: every request that also emitted last iteration
        iterations += 1
        share = ptok / (ptok + dseq) if ptok + dseq > 0 else 0.0
        busy_prefill += dt * share
        busy_decode += dt * (1.0 - share)
        # --- apply the iteration's results ----------------------------------------------------
        keep = 0
        n_done = 0
        for r in range(n_run):
            i = running[r]
            emit = 0  # tokens this request emits in this iteration
            if chunk[r] > 0:
                context[i] += chunk[r]
                todo[i] -= chunk[r]
                emit = 1 if todo[i] == 0 else 0
            elif todo[i] == 0 and not colocated_prefill and emitted[i] < output[i]:
                emit = 1
                if width > 1:
                    emit = accepted_length(accept_cdf, spec_seed, i, emitted[i])
                    emit = min(emit, output[i] - emitted[i])
                context[i] += emit
                extra = context[i] - held[i]  # beyond its reservation (paged: every token)
                if extra > 0:
                    held[i] += extra
                    kv_used += extra
            if emit > 0:
                emitted[i] += emit
                if counted[i] and last[i] == t_prev:
                    if gap_bin < 0:
                        gap_bin = tbt_bin(tbt_edges, t - t_prev)
                    tbt[gap_bin] += 1
                elif counted[i] and last[i] >= 0.0:
                    tbt[tbt_bin(tbt_edges, t - last[i])] += 1
                if counted[i] and emit > 1:  # a verified run of tokens arrives at once
                    tbt[0] += emit - 1
                last[i] = t
                if first[i] < 0.0:
                    first[i] = t
                if emitted[i] >= output[i] and not static:
                    freed, n_done, known = _leave(
                        i, t, done, held, completed, n_done, arrival, order, known, users, think_s
                    )
                    kv_used -= freed
                    finished += 1
                    continue
            running[keep] = i
            chunk[keep] = 0
            keep += 1
        n_run = keep
        if static and n_run > 0:  # a request-level batch leaves when its longest is done
            all_done = True
            for r in range(n_run):
                i = running[r]
                all_done = all_done and todo[i] == 0 and emitted[i] >= output[i]
            if all_done:
                for r in range(n_run):
                    freed, n_done, known = _leave(
                        running[r], t, done, held, completed, n_done, arrival, order, known,
                        users, think_s,
                    )  # fmt: skip
                    kv_used -= freed
                    finished += 1
                n_run = 0
        if pause_on_completion and n_done > 0:
            break
        waiting_blocked = head == tail or n_run >= max_seqs  # nothing can join the batch …
        if not waiting_blocked:  # … or the first waiting request's KV does not fit (it only
            i = queue[head]  # fits worse as the batch grows)
            waiting_blocked = kv_used + context[i] + todo[i] > kv_capacity
        if (
            ptok == 0.0
            and not colocated_prefill
            and n_done == 0
            and waiting_blocked
            and window == 0
            and width == 1
            and not reserving
            and not static
        ):
            # an unchanged decode batch: run its iterations until something would change
            stop_at = min(until, arrival[order[nxt]]) if nxt < known else until
            t, steps, busy = decode_run(
                running[:n_run], todo, output, emitted, counted, context, held, last,
                kv_capacity - kv_used, t, stop_at, dkv, moe_experts, moe_top_k, row_tile,
                decode_rows, tbt_edges, tbt,
            )  # fmt: skip
            iterations += steps
            busy_decode += busy
            kv_used += n_run * steps
    counters[HEAD], counters[TAIL], counters[N_RUN], counters[KV_USED] = head, tail, n_run, kv_used
    counters[NEXT], counters[KNOWN], counters[FINISHED] = nxt, known, finished
    counters[ITERATIONS], counters[N_DONE] = iterations, n_done
    clock[CLOCK_NOW], clock[CLOCK_PREFILL_BUSY], clock[CLOCK_DECODE_BUSY] = (
        t,
        busy_prefill,
        busy_decode,
    )


@njit(cache=True, nogil=True)
def simulate_prefill_pool(
    arrival,
    todo,
    context,
    flop,
    nbytes,
    flop_rate,
    byte_rate,
    additive,
    moe_experts,
    moe_top_k,
    window,
    row_tile,
    accept_cdf,
    spec_seed,
    instances,
    token_budget,
    read_s_per_context_token,
    reject_after_s,
):
    """Prefill-only instances sharing one FCFS queue (an M/G/c with batching): a free instance
    takes every waiting prompt up to the token budget. A prompt that has waited longer than
    ``reject_after_s`` when its turn comes is rejected (Mooncake's early rejection; inf: never)
    and costs nothing. Returns (completion s — NaN if rejected, instance — −1, busy s)."""
    n = arrival.shape[0]
    ids = np.arange(n)
    done = np.empty(n)
    where = np.empty(n, np.int64)
    free = np.zeros(instances)
    q = np.zeros(N_Q)
    busy = 0.0
    i = 0
    while i < n:
        j, k, t, dt = prefill_batch(
            ids, i, n, arrival, todo, context, free, q,
            (
            flop, nbytes, flop_rate, byte_rate, additive, moe_experts, moe_top_k, window,
            row_tile, accept_cdf, spec_seed,
        ),
            token_budget, read_s_per_context_token, reject_after_s,
        )  # fmt: skip
        if dt < 0.0:
            done[i] = np.nan
            where[i] = -1
        else:
            done[i:j] = t + dt
            where[i:j] = k
            busy += dt
        i = j
    return done, where, busy


@njit(cache=True)
def prefill_start(ids, i, arrival, free):
    """(instance, start s) of the next prefill batch, headed by request ``ids[i]``: the
    earliest free instance, once the head has arrived."""
    k = 0
    for m in range(1, free.shape[0]):
        if free[m] < free[k]:
            k = m
    return k, max(free[k], arrival[ids[i]])


@njit(cache=True)
def prefill_batch(
    ids,  # int64: request ids in arrival order
    i,  # the batch's head in ids
    arrived,  # ids[:arrived] have arrived (or will, by the batch's start)
    arrival,
    todo,
    context,
    free,  # float64[instances] s: when each prefill instance is free (updated)
    q,
    table,  # the op table's arrays (see simulate_instance's arguments flop … spec_seed)
    token_budget,
    read_s_per_context_token,
    reject_after_s,
):
    """The next batch of a prefill pool (see :func:`simulate_prefill_pool`): ``ids[i:j]`` on
    instance ``k`` from ``t`` for ``dt`` seconds. Returns (j, k, t, dt); dt < 0: the head
    waited past ``reject_after_s`` and is rejected (j = i + 1)."""
    flop, nbytes, flop_rate, byte_rate, additive, moe_experts, moe_top_k, window = table[:8]
    row_tile = table[8]
    k, t = prefill_start(ids, i, arrival, free)
    if t - arrival[ids[i]] > reject_after_s:
        return i + 1, k, t, -1.0
    ptok = 0.0
    pairs = 0.0
    pkv = 0.0
    fetch_s = 0.0
    j = i
    while j < arrived and arrival[ids[j]] <= t and (j == i or ptok + todo[ids[j]] <= token_budget):
        r = ids[j]
        w_pairs, w_kv = _chunk_work(float(todo[r]), float(context[r]), window)
        ptok += todo[r]
        pairs += w_pairs
        pkv += w_kv
        fetch_s += context[r] * read_s_per_context_token
        j += 1
    fill_quantities(q, ptok, pairs, pkv, float(j - i), 0.0, 0.0, moe_experts, moe_top_k, row_tile)
    dt = step_seconds(q, flop, nbytes, flop_rate, byte_rate, additive) + fetch_s
    free[k] = t + dt
    return j, k, t, dt


@njit(cache=True, nogil=True)
def transfer_kv(ready, link, nbytes, links, bytes_per_s, latency_s, overlap):
    """KV hand-off over per-instance links shared FIFO (see :func:`transfer_one`), in order of
    readiness. Returns arrival times at the decode side, seconds."""
    n = ready.shape[0]
    order = np.argsort(ready)
    free = np.zeros(links)
    landed = np.empty(n)
    for idx in range(n):
        i = order[idx]
        landed[i] = transfer_one(
            ready[i], link[i], nbytes[i], free, bytes_per_s, latency_s, overlap
        )
    return landed


@njit(cache=True)
def transfer_one(ready, link, nbytes, free, bytes_per_s, latency_s, overlap):
    """One KV transfer of ``nbytes`` ready at ``ready`` s on ``link`` (free from ``free[link]``,
    updated): it may start ``overlap`` of its duration before its prefill ends (layer-wise
    streaming) and lands no earlier than ``ready + latency``. Returns the landing time, s."""
    duration = nbytes / bytes_per_s
    start = max(ready - overlap * duration, free[link])
    end = start + duration
    free[link] = end
    return max(end, ready) + latency_s
