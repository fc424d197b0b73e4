"""The vLLM paper's baselines as engines: Orca's KV reservations and FasterTransformer's
request-level batching (simulated only), with the paper's stated KV memory."""

import numpy as np
import pytest

from costcorrect.catalog import load_catalog
from costcorrect.errors import InputError
from costcorrect.serving.analytic import Lengths, analyze
from costcorrect.serving.architectures import Static
from costcorrect.serving.build import ServeSpec, build_architecture
from costcorrect.serving.reproduce import running_batch
from costcorrect.serving.simulator import simulate
from costcorrect.workload import synthetic_stream

KV = "12GB"


@pytest.fixture(scope="module")
def setup():
    cat = load_catalog()
    stream = synthetic_stream("sharegpt-vllm", 1.0, 2000, 0, catalog=cat)

    def arch(kind: str = "colocated", reservation: str | None = None):
        spec = ServeSpec(kind, "opt-13b", "A100-40GB-SXM", 1, reservation=reservation, kv_memory=KV)
        return build_architecture(spec, cat)

    return arch, stream


def _most_running(result) -> int:
    """The largest number of requests between their first token and completion at once."""
    r = result.records
    events = np.concatenate([r.first_token_s, r.completion_s])
    steps = np.concatenate([np.ones(r.first_token_s.size), -np.ones(r.completion_s.size)])
    order = np.lexsort((steps, events))  # at equal times, leave before joining
    return int(np.cumsum(steps[order]).max())


def test_stated_kv_memory_sizes_the_cache(setup):
    arch, _ = setup
    dep = arch().deployment
    assert dep.kv_capacity_tokens == int(12e9 // dep.kv_bytes_per_token_per_gpu)


def test_reservations_bound_the_batch_and_order_it_as_fig_13(setup):
    """Overloaded at 2 req/s: Orca (Max) never holds more than ⌊KV / 2048⌋ requests; the
    time-averaged batch falls from paged to oracle to pow2 to max reservation."""
    arch, stream = setup
    batches = {}
    for reservation in ("paged", "oracle", "pow2", "max"):
        system = arch(reservation=reservation)
        result = simulate(system, stream.scaled(2.0))
        batches[reservation] = running_batch(result)
        if reservation == "max":
            assert _most_running(result) <= system.deployment.kv_capacity_tokens // 2048
    values = [batches[k] for k in ("paged", "oracle", "pow2", "max")]
    assert all(np.diff(values) < 0), batches
    assert batches["max"] == pytest.approx(7.0, rel=0.05)  # Fig. 13a: 7.00


def test_static_batches_leave_together_and_admit_nothing_while_running(setup):
    arch, stream = setup
    system = arch("static")
    assert isinstance(system, Static) and system.reservation == "max"
    r = simulate(system, stream.scaled(0.1), warmup=0.0).records
    groups = np.unique(r.completion_s)
    assert 1 < groups.size < r.completion_s.size  # several requests per batch
    previous_end = -np.inf
    for end in groups:
        members = r.completion_s == end
        starts = r.first_token_s[members]
        assert starts.max() - starts.min() < 1e-9  # prompts prefilled together
        assert starts.min() >= previous_end  # admitted after the previous batch left
        previous_end = end


def test_baselines_are_refused_by_the_analytic_engine(setup):
    arch, stream = setup
    for system in (arch(reservation="oracle"), arch("static")):
        assert system.simulated_only
        with pytest.raises(InputError, match="simulator"):
            analyze(system, Lengths.from_stream(stream), [1.0])
    assert not arch().simulated_only
