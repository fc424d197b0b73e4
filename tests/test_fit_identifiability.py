"""The perf model's fits are identifiable and reproducible: a stated prior pins what the data
cannot, each fitted parameter has an interval and a data share, and a refit lands on the same
parameters whatever the thread count or round-off."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from costcorrect.catalog import load_catalog
from costcorrect.catalog.calibrations import PerfParams
from costcorrect.perf.fit import PRIOR_SCALE, fit, predict
from costcorrect.validate.measurements import default_shared_path, step_measurements
from costcorrect.validate.perf import usable_rows

#: relative agreement the issue asks of a refit (far below the 4 printed digits)
SAME = 1e-6


def splitwise_h100() -> pd.DataFrame:
    try:
        shared = default_shared_path()
    except FileNotFoundError as err:
        pytest.skip(f"shared validation data not available: {err}")
    steps = usable_rows(step_measurements(shared))
    rows = steps[(steps["dataset"] == "splitwise") & (steps["gpu"] == "H100-SXM")]
    return rows.reset_index(drop=True)


def fitted_values(rows: pd.DataFrame) -> np.ndarray:
    values = fit(rows, load_catalog()).params.model_dump().values()
    return np.array([v for v in values if isinstance(v, float)])


def assert_same(a: np.ndarray, b: np.ndarray) -> None:
    np.testing.assert_allclose(a, b, rtol=SAME, atol=1e-15)


def test_a_refit_with_another_thread_count_gives_the_same_parameters():
    splitwise_h100()  # skips without the shared data
    script = (
        "import json; from tests.test_fit_identifiability import splitwise_h100, fitted_values;"
        "print(json.dumps(fitted_values(splitwise_h100()).tolist()))"
    )
    runs = []
    for threads in ("1", "2"):
        names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
        env = os.environ | dict.fromkeys(names, threads)
        done = subprocess.run(
            [sys.executable, "-c", script],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            cwd=os.path.dirname(os.path.dirname(__file__)),
        )
        runs.append(np.array(json.loads(done.stdout)))
    assert_same(runs[0], runs[1])


def test_round_off_in_the_data_does_not_move_the_fit():
    """Another CPU's vector code changes the model's sums in the last bit; the unregularised fit
    of this data moved attn_flops_eff from 0.56 to 0.81 under a 1e-13 perturbation."""
    rows = splitwise_h100()
    reference = fitted_values(rows)
    rng = np.random.default_rng(7)
    for _ in range(2):
        noisy = rows.assign(time_s=rows["time_s"] * (1 + 1e-13 * rng.standard_normal(len(rows))))
        assert_same(fitted_values(noisy), reference)


def synthetic_decode_rows(truth: PerfParams, seed: int) -> pd.DataFrame:
    """Decode steps only (memory-bound everywhere: the attention FLOP rate never shows) with 3 %
    multiplicative noise."""
    rows = pd.DataFrame(
        [
            {
                "gpu": "H100-SXM",
                "model": "llama-2-70b",
                "tp": tp,
                "pp": 1,
                "phase": "decode",
                "batch_size": b,
                "prompt_tokens": 0,
                "context_tokens": c,
            }
            for tp in (2, 4, 8)
            for b in (1, 4, 16, 64)
            for c in (256, 1024, 4096)
        ]
    )
    clean = predict(rows, truth, load_catalog())
    noise = np.exp(0.03 * np.random.default_rng(seed).standard_normal(len(rows)))
    return rows.assign(time_s=clean * noise)


def test_what_the_data_cannot_see_stays_at_the_prior_and_what_they_see_is_covered():
    truth = PerfParams(gemm_hbm_eff=0.7, attn_flops_eff=0.3, per_sequence_overhead_s=5e-5)
    rows = synthetic_decode_rows(truth, seed=3)
    free = ("gemm_hbm_eff", "attn_flops_eff", "per_sequence_overhead_s")
    result = fit(rows, load_catalog(), PerfParams(), free)
    prior = PerfParams()
    blind = result.estimates["attn_flops_eff"]
    assert blind.data_share < 0.05 and not blind.identified
    assert result.params.attn_flops_eff == pytest.approx(prior.attn_flops_eff, abs=1e-6)
    assert blind.high - blind.low > 3 * PRIOR_SCALE["attn_flops_eff"]  # as wide as the prior
    assert result.set_by_prior == ("attn_flops_eff",)
    for name in ("gemm_hbm_eff", "per_sequence_overhead_s"):
        seen = result.estimates[name]
        assert seen.identified and seen.data_share > 0.9, name
        assert seen.low <= getattr(truth, name) <= seen.high, (name, seen)
        # the data shrink the prior's 95 % width more than fourfold
        assert seen.high - seen.low < 2 * 1.96 * PRIOR_SCALE[name] / 4, name
    assert result.data_rank == 2
