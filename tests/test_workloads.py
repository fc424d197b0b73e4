"""Workload length distributions: catalog entries, sampling, packaged data against full traces."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from costcorrect.catalog.workloads import LengthModel, WorkloadSpec, load_trace
from costcorrect.errors import InputError
from costcorrect.validate.measurements import TRACE_FILES

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
#: published mean (input, output) tokens the parametric fits must reproduce
PUBLISHED_MEANS = {
    "sharegpt-vllm": (161.31, 337.99),  # vLLM Fig. 11
    "alpaca": (19.31, 58.45),  # vLLM Fig. 11
    "mooncake-conversation": (12035, 343),  # Mooncake FAST'25 Table 2
    "mooncake-synthetic": (15325, 149),  # Mooncake FAST'25 Table 2
}
#: medians computed from the Mooncake traces (published_claims.md §5.1), fitted exactly
PUBLISHED_MEDIANS = {"mooncake-conversation": (6909, 350), "mooncake-synthetic": (11587, 69)}
REQUIRED = {
    "sharegpt",
    "arxiv-summarization",
    "azure-conv-2023",
    "azure-code-2023",
    "humaneval",
    "longbench",
    "alpaca",
    "sharegpt-vllm",
}


def _raw_catalog() -> dict:
    text = (resources.files("costcorrect.catalog") / "data" / "workloads.yaml").read_text()
    return yaml.safe_load(text)


@pytest.fixture(scope="module")
def workloads() -> dict[str, WorkloadSpec]:
    specs = [WorkloadSpec.model_validate(e) for e in _raw_catalog()["workloads"]]
    return {w.name: w for w in specs}


def test_every_entry_validates(workloads: dict[str, WorkloadSpec]) -> None:
    raw = _raw_catalog()
    assert raw["schema_version"] == 1
    assert len(workloads) == len(raw["workloads"])  # names are unique
    assert set(workloads) >= REQUIRED
    for w in workloads.values():
        assert w.source and w.date
        for model in (w.input, w.output):
            assert model is None or model.fitted_to


def test_packaged_data_loads_and_is_small(workloads: dict[str, WorkloadSpec]) -> None:
    for w in workloads.values():
        if w.kind == "empirical":
            inp, out = w.sample(5, seed=0)
            assert inp.dtype == np.int64 and out.dtype == np.int64
            assert w.quantiles(0.5)["input_tokens"] > 0
    folder = resources.files("costcorrect.catalog") / "data" / "workloads"
    assert sum(f.stat().st_size for f in Path(str(folder)).iterdir()) < 600_000


def test_sampling_is_deterministic_per_seed(workloads: dict[str, WorkloadSpec]) -> None:
    for w in workloads.values():
        a, b, c = w.sample(1000, seed=1), w.sample(1000, seed=1), w.sample(1000, seed=2)
        assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
        assert not np.array_equal(a[0], c[0])
        assert a[0].shape == (1000,) and a[0].min() >= 1 and a[1].min() >= 1


def test_empirical_resampling_keeps_pairs(workloads: dict[str, WorkloadSpec]) -> None:
    w = workloads["azure-conv-2023"]
    trace_in, trace_out = load_trace(w.file)
    inp, out = w.sample(20_000, seed=3)
    assert set(zip(inp.tolist(), out.tolist(), strict=True)) <= set(
        zip(trace_in.tolist(), trace_out.tolist(), strict=True)
    )
    want = np.corrcoef(trace_in, trace_out)[0, 1]
    assert abs(np.corrcoef(inp, out)[0, 1] - want) < 0.03


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared data folder {SHARED} is absent")
@pytest.mark.parametrize("name", list(TRACE_FILES))
def test_packaged_matches_full_trace(workloads: dict[str, WorkloadSpec], name: str) -> None:
    w = workloads[name]
    trace = pd.read_csv(SHARED / "data" / TRACE_FILES[name])
    assert w.n_source_requests == len(trace)
    q = w.quantiles([0.5, 0.9])
    for column, key, mean in (
        ("num_prefill_tokens", "input_tokens", w.mean_input_tokens),
        ("num_decode_tokens", "output_tokens", w.mean_output_tokens),
    ):
        full = trace[column].to_numpy(float)
        np.testing.assert_allclose(mean, full.mean(), rtol=0.03)
        np.testing.assert_allclose(q[key], np.quantile(full, [0.5, 0.9]), rtol=0.03)


@pytest.mark.parametrize("name", list(PUBLISHED_MEANS))
def test_parametric_fits_reproduce_published_means(
    workloads: dict[str, WorkloadSpec], name: str
) -> None:
    w = workloads[name]
    want_in, want_out = PUBLISHED_MEANS[name]
    np.testing.assert_allclose(w.mean_input_tokens, want_in, rtol=0.03)
    np.testing.assert_allclose(w.mean_output_tokens, want_out, rtol=0.03)
    inp, out = w.sample(200_000, seed=0)  # the sampler agrees with the analytic mean
    np.testing.assert_allclose([inp.mean(), out.mean()], [want_in, want_out], rtol=0.03)
    if name in PUBLISHED_MEDIANS:
        q = w.quantiles(0.5)
        got = [float(q["input_tokens"]), float(q["output_tokens"])]
        np.testing.assert_allclose(got, PUBLISHED_MEDIANS[name], rtol=0.03)


def test_distserve_entries_respect_their_construction(workloads: dict[str, WorkloadSpec]) -> None:
    lb_in, lb_out = workloads["longbench"].sample(10_000, seed=0)
    assert lb_in.min() >= 1900 and lb_in.max() <= 2040 and lb_out.max() <= 140
    np.testing.assert_allclose(workloads["longbench"].mean_input_tokens, 1973.8, rtol=0.03)
    he_in, he_out = workloads["humaneval"].sample(10_000, seed=0)
    assert he_in.max() <= 2047 and he_out.max() <= 2047


def test_fit_lognormal_hits_mean_and_median() -> None:
    model = LengthModel.fit_lognormal(500.0, median=300.0, max_tokens=4096, fitted_to="test")
    assert abs(model.mean / 500.0 - 1) < 1e-3
    assert abs(float(model.quantile(np.array(0.5))) / 300.0 - 1) < 1e-3


@pytest.mark.parametrize("n", [0, -3, 2.5, "10", True, None])
def test_bad_n_raises_input_error(workloads: dict[str, WorkloadSpec], n: object) -> None:
    for name in ("sharegpt", "alpaca"):
        with pytest.raises(InputError) as err:
            workloads[name].sample(n, seed=0)  # type: ignore[arg-type]
        assert err.value.field == "n"


def test_bad_quantile_raises_input_error(workloads: dict[str, WorkloadSpec]) -> None:
    with pytest.raises(InputError) as err:
        workloads["sharegpt"].quantiles([0.5, 1.5])
    assert err.value.field == "q"


def test_invalid_entries_are_rejected() -> None:
    base = {"name": "x", "source": "s", "date": "2024-01-01", "description": "d"}
    with pytest.raises(ValueError, match="needs file"):
        WorkloadSpec.model_validate({**base, "kind": "empirical"})
    with pytest.raises(ValueError, match="no packaged file"):
        WorkloadSpec.model_validate(
            {**base, "kind": "empirical", "file": "missing.npz", "n_source_requests": 1}
        )
    with pytest.raises(ValueError, match="lognormal needs"):
        LengthModel.model_validate({"family": "lognormal", "log_mean": 1.0, "fitted_to": "t"})
