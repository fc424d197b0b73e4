"""Long simulations show how far they are: the simulator reports requests finished as it goes,
in slices of simulated time, without changing a single result."""

import io
import sys

import numpy as np
import pytest

from costcorrect.catalog import load_catalog
from costcorrect.cli import common
from costcorrect.serving.build import ServeSpec, build_architecture
from costcorrect.serving.closedloop import closed_loop
from costcorrect.serving.simulator import simulate
from costcorrect.workload import synthetic_stream


@pytest.fixture(scope="module")
def stream():
    return synthetic_stream("sharegpt", 3.0, 6000, 0, catalog=load_catalog())


@pytest.mark.parametrize("arch", ["chunked", "colocated", "static"])
def test_progress_is_reported_and_changes_nothing(stream, arch):
    spec = ServeSpec(arch, "llama-3.1-8b", "H100-SXM", 1, replicas=2 if arch == "chunked" else 1)
    system = build_architecture(spec, load_catalog())
    rate = 0.2 if arch == "static" else 3.0
    plain = simulate(system, stream.scaled(rate))
    seen: list[tuple[int, int]] = []
    tracked = simulate(system, stream.scaled(rate), progress=lambda d, n: seen.append((d, n)))
    for field in ("first_token_s", "completion_s", "preemptions"):
        np.testing.assert_allclose(
            getattr(tracked.records, field), getattr(plain.records, field), rtol=1e-9
        )
    assert tracked.iterations == plain.iterations
    done = [d for d, _ in seen]
    assert len(seen) >= 20 and all(n == stream.n for _, n in seen)
    assert done == sorted(done) and done[-1] == stream.n and done[0] < stream.n / 4


def test_closed_loop_reports_progress_too(stream):
    system = build_architecture(ServeSpec("chunked", "llama-3.1-8b", "H100-SXM", 1), load_catalog())
    seen: list[int] = []
    run = closed_loop(system, stream, 32, progress=lambda d, n: seen.append(d))
    assert seen[-1] == stream.n and len(seen) >= 20
    assert run.throughput_rps == pytest.approx(closed_loop(system, stream, 32).throughput_rps)


def test_progress_bar_draws_a_fraction_on_a_terminal(monkeypatch):
    screen = io.StringIO()
    screen.isatty = lambda: True  # type: ignore[method-assign]
    monkeypatch.setattr(sys, "stderr", screen)
    with common.progress_bar("simulating requests") as update:
        assert update is not None
        update(250, 1000)
    assert "250/1000" in screen.getvalue()
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal: nothing to draw
    with common.progress_bar("simulating requests") as update:
        assert update is None
