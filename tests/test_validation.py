"""Re-runs the real-GPU validation: the recorded report must be what the code produces now,
and the primary held-out errors must meet the issue's targets."""

import re
from pathlib import Path

import pytest

from costcorrect.catalog import load_catalog
from costcorrect.io import read_section
from costcorrect.validate.measurements import default_shared_path
from costcorrect.validate.perf import (
    TARGET_MAX_APE,
    TARGET_MEDIAN_APE,
    report_markdown,
    run_checks,
    summary,
)

DOC = Path(__file__).resolve().parents[1] / "docs" / "validation.md"


@pytest.fixture(scope="module")
def checks():
    try:
        shared = default_shared_path()
    except FileNotFoundError as err:
        pytest.skip(f"shared validation data not available: {err}")
    return run_checks(shared, load_catalog())


def test_primary_held_out_error_meets_targets(checks):
    table = summary(checks)
    primary = table[table["check"] == "primary"]
    assert set(primary["gpu"]) == {"A100-80GB-SXM", "H100-SXM"}
    assert set(primary["phase"]) == {"prefill", "decode"}
    assert (primary["median_ape"] <= TARGET_MEDIAN_APE).all(), primary
    assert (primary["max_ape"] <= TARGET_MAX_APE).all(), primary


def test_held_out_points_are_not_in_the_fit(checks):
    for c in checks:
        if c.name == "primary":
            assert len(c.rows) > 20 and c.rows["batch_size"].isin([2, 8, 32]).any()


NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def _table_numbers(text: str) -> list[float]:
    return [
        float(x) for line in text.splitlines() if line.startswith("|") for x in NUMBER.findall(line)
    ]


def test_recorded_report_is_current(checks):
    """Same text, and every table number within 1 point or 10 % (the single-model transfer fits
    are flat in some directions, so a newer scipy may land a little elsewhere)."""
    fresh = report_markdown(checks)
    fresh, recorded = fresh.rstrip(), read_section(DOC, fresh.splitlines()[0]).rstrip()
    stale = "docs/validation.md is stale: run `make validate`"
    assert NUMBER.sub("#", recorded) == NUMBER.sub("#", fresh), stale
    assert _table_numbers(fresh) == pytest.approx(_table_numbers(recorded), rel=0.1, abs=1.0), stale
