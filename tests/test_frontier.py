"""Latency curves, the contract frontier, the break-even surface and their figures."""

import numpy as np
import pytest
from typer.testing import CliRunner

from costcorrect.catalog import load_catalog
from costcorrect.cli.app import app
from costcorrect.perf import Deployment
from costcorrect.search import SearchSpace
from costcorrect.search.breakeven import break_even
from costcorrect.search.curves import goodput_from_curve, latency_curve
from costcorrect.search.frontier import contract_frontier
from costcorrect.serving.analytic import Lengths
from costcorrect.serving.architectures import Chunked, Colocated, Disaggregated, KVLink
from costcorrect.serving.contract import Contract
from costcorrect.serving.goodput import analytic_goodput
from costcorrect.workload import synthetic_stream

SMALL = SearchSpace(tp=(1, 2), max_seqs=(256,), token_budgets=(512,), pool_sizes=(1, 2), max_gpus=4)


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.mark.parametrize(
    "make", [Colocated, Chunked, lambda d: Disaggregated(d, d, 1, 1, KVLink(50e9))]
)
def test_curve_goodput_matches_the_goodput_search(make, catalog):
    dep = Deployment.from_names("llama-3.1-8b", "H100-SXM", 1, catalog=catalog)
    arch = make(dep)
    lengths = Lengths.from_stream(synthetic_stream("sharegpt", 1.0, 4000, 0, catalog=catalog))
    curve = latency_curve(arch, lengths)
    for ttft, tpot in [(2.0, 0.1), (1.0, 0.05), (0.5, 0.03), (5.0, 0.2), (1e-3, 1e-3)]:
        expected = analytic_goodput(arch, Contract(ttft, tpot), lengths).rate_per_s
        got = float(goodput_from_curve(curve, ttft, tpot))
        assert got == pytest.approx(expected, rel=0.02, abs=1e-9)


def test_frontier_is_monotone_and_its_pareto_points_undominated(catalog):
    f = contract_frontier(
        "llama-3.1-8b",
        ("H100-SXM",),
        "sharegpt",
        np.geomspace(0.2, 5.0, 5),
        np.geomspace(0.015, 0.2, 5),
        space=SMALL,
        catalog=catalog,
    )
    cheapest = f.cost.min(axis=0)
    # a looser contract never costs more
    capped = np.nan_to_num(cheapest, posinf=1e300)
    assert np.all(np.diff(capped, axis=0) <= 1e-12) and np.all(np.diff(capped, axis=1) <= 1e-12)
    winner = f.winner
    finite = np.isfinite(cheapest)
    assert np.array_equal(winner >= 0, finite)
    assert np.allclose(f.cost[winner[finite], *np.nonzero(finite)], cheapest[finite])
    for i, j in zip(*np.nonzero(f.pareto), strict=True):
        tighter = cheapest[: i + 1, : j + 1].copy()
        tighter[i, j] = np.inf
        assert cheapest[i, j] < tighter.min()
    frame = f.to_frame()
    assert len(frame) == 5 * 5 * len(f.architectures) and frame["winner"].sum() == finite.sum()


def test_faster_kv_links_move_the_boundary_towards_disaggregation(catalog):
    """Colocation does not use the link; disaggregation only gets cheaper as it speeds up, so
    the region where it wins grows (spec §5). On A100, where disaggregation wins part of the
    map on today's default stack (on H100 chunked colocation wins all of it: docs/frontier.md)."""
    grid = {"io_ratio": np.geomspace(0.5, 32.0, 6), "y": np.geomspace(2.0, 100.0, 4)}
    slow, fast = (
        break_even(
            "A100-80GB-SXM",
            "llama-3.1-70b",  # 320 kB of KV per token: the link matters
            link=KVLink(bandwidth, 1e-3, 0.5),
            requests=2000,
            catalog=catalog,
            **grid,
        )
        for bandwidth in (2e9, 400e9)
    )
    both = np.isfinite(slow.ratio) & np.isfinite(fast.ratio)
    assert both.any()
    assert np.all(fast.ratio[both] <= slow.ratio[both] * (1 + 1e-9))
    assert np.mean(fast.ratio < 1) > np.mean(slow.ratio < 1)


def test_frontier_and_break_even_commands_write_figures_and_csv(tmp_path):
    runner = CliRunner()
    small = ["--model", "llama-3.1-8b", "--tp", "1", "--max-seqs", "256", "--token-budget", "512"]
    result = runner.invoke(
        app,
        [
            "serve",
            "frontier",
            *small,
            "--max-gpus",
            "2",
            "--points",
            "4",
            "--out",
            str(tmp_path / "f"),
        ],
    )
    assert result.exit_code == 0, result.output
    be = ["serve", "break-even", "--model", "llama-3.1-8b", "--gpus", "H100-SXM,B200"]
    result = runner.invoke(app, [*be, "--points", "4", "--out", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    for name in ("f.csv", "f.png", "f.svg", "b.csv", "b.npz", "b.png", "b.svg"):
        assert (tmp_path / name).stat().st_size > 0, name
    with np.load(tmp_path / "b.npz") as arrays:
        assert arrays["cost_ratio"].shape == (2, 4, 4)


def test_break_even_bad_axis_is_one_line_and_writes_nothing(tmp_path):
    result = CliRunner().invoke(
        app, ["serve", "break-even", "--axis", "price", "--out", str(tmp_path / "b")]
    )
    assert result.exit_code == 2 and "axis" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_every_figure_in_the_docs_exists_with_its_csv():
    """Figures shown in the docs are on disk, non-empty, each with its CSV beside it."""
    import re
    from pathlib import Path

    docs = Path(__file__).resolve().parents[1] / "docs"
    text = "".join(
        (docs / name).read_text()
        for name in (
            "frontier.md",
            "reproduce.md",
            "correct.md",
            "routing.md",
            "allocation.md",
            "energy.md",
        )
    )
    shown = re.findall(r"\]\((figures/[^)]+\.png)\)", text)
    assert len(shown) >= 6
    for name in shown:
        png = docs / name
        for path in (png, png.with_suffix(".svg"), png.with_suffix(".csv")):
            assert path.stat().st_size > 0, path
