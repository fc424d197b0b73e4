"""The batching prefill server's Markov chain: exact where theory is, close to the simulator."""

import numpy as np
import pytest

from costcorrect.perf import Deployment
from costcorrect.serving import kernels
from costcorrect.serving.analytic import Lengths, _prefill_queue
from costcorrect.serving.batch_queue import batch_queue
from costcorrect.serving.simulator import _table
from costcorrect.workload import synthetic_stream


def test_one_prompt_per_batch_is_mg1():
    """c = 1: busy share ρ and the Pollaczek–Khinchine mean wait, at and off the grid (up to
    the truncation of the queue at e^-30 of its tail)."""
    mean, var = np.array([0.1]), np.array([0.005])
    rates = np.array([0.5, 3.0, 6.0, 9.0, 9.95])
    state = batch_queue(rates, mean, var)
    rho = rates * mean[0]
    pk = rates * (var[0] + mean[0] ** 2) / (2.0 * (1.0 - rho))
    np.testing.assert_allclose(state.p_wait, rho, rtol=1e-5)
    np.testing.assert_allclose(state.mean_wait_s, pk, rtol=1e-5)
    np.testing.assert_allclose(state.batch, 1.0)
    unstable = batch_queue(np.array([10.5]), mean, var)
    assert unstable.p_wait[0] == 1.0 and np.isinf(unstable.mean_wait_s[0])


def test_batching_cuts_the_wait_near_saturation():
    """Bigger batches amortise work, so the wait grows far slower than without batching."""
    k = np.arange(1.0, 9.0)
    mean, var = 0.1 * k * (1.0 - 0.05 * (k - 1) / 7), 0.004 * k
    rate = 0.9 / 0.1  # 90 % of a server that never batches
    state = batch_queue(np.array([rate]), mean, var)
    pk = rate * (var[0] + mean[0] ** 2) / (2.0 * (1.0 - 0.9))
    assert state.mean_wait_s[0] < 0.5 * pk
    assert 1.0 < state.mean_batch[0] <= state.batch[0] <= 8.0


@pytest.mark.parametrize("load", [0.5, 0.9])
def test_chain_matches_the_simulated_prefill_pool(load):
    """Busy share and mean wait (arrival → batch start) of one prefill instance."""
    dep = Deployment.from_names("llama-3.1-8b", "H100-SXM", 1, stack="vidur-kernels")
    base = synthetic_stream("azure-conv-2023", 1.0, 40_000, 0)
    lengths = Lengths.from_stream(base)
    budget = 8192
    probe = _prefill_queue(dep, lengths, 0.0, np.array([1.0]), budget)
    rate = load / probe.service.dot(lengths.prompt_weight)[0]  # load of unbatched work
    queue = _prefill_queue(dep, lengths, 0.0, np.array([rate]), budget)
    stream = base.scaled(rate)
    tokens = stream.input_tokens.astype(np.int64)
    ready, _, busy = kernels.simulate_prefill_pool(
        stream.arrival_s, tokens, np.zeros_like(tokens), *_table(dep), 1, budget, 0.0, np.inf
    )
    ends, batch_of = np.unique(ready, return_inverse=True)
    first = np.full(ends.size, np.inf)
    np.minimum.at(first, batch_of, stream.arrival_s)
    starts = np.maximum(np.concatenate([[0.0], ends[:-1]]), first)
    wait = (starts[batch_of] - stream.arrival_s)[4000:36000]
    assert queue.state.p_wait[0] == pytest.approx(busy / stream.arrival_s.max(), rel=0.03)
    assert queue.state.mean_wait_s[0] == pytest.approx(wait.mean(), rel=0.1)
