"""Regenerate the packaged workload traces and print the parametric fits.

Reads the request-length CSVs under the shared data folder and writes
``src/costcorrect/catalog/data/workloads/<name>.npz`` (int32 ``input_tokens``/``output_tokens``).
A trace is kept whole if it has at most ``MAX_ROWS`` rows, else a seeded uniform subsample in
trace order is kept. The output is byte-for-byte deterministic. Then prints, per workload, the
row counts and mean/p50/p90 tokens, and the lognormal parameters for the parametric entries of
``workloads.yaml`` (copy them there if a target changes).

    .venv/bin/python scripts/build_workloads.py [--shared ../shared]
"""

from __future__ import annotations

import argparse
import io
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from costcorrect.catalog.workloads import LengthModel
from costcorrect.validate.measurements import TRACE_FILES

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "src/costcorrect/catalog/data/workloads"
MAX_ROWS = 40_000
SEED = 0

#: workload name -> CSV under the shared ``data/`` folder (columns num_prefill/decode_tokens)
#: licence notices shipped next to the traces (MIT requires the notice in copies)
NOTICES = {"LICENSE-vidur.txt": "vidur/LICENSE", "LICENSE-sarathi-serve.txt": "sarathi/LICENSE"}

_LONGBENCH_PROMPT = np.minimum(2040, np.arange(1900, 2049))  # min(2040, randint(1900, 2048))

#: (workload, side) -> keyword arguments of LengthModel.fit_lognormal (tokens)
FITS: dict[tuple[str, str], dict] = {
    ("sharegpt-vllm", "input"): dict(mean=161.31, log_sigma=1.0, min_tokens=4, max_tokens=1024),
    ("sharegpt-vllm", "output"): dict(mean=337.99, log_sigma=1.0, min_tokens=4, max_tokens=2044),
    ("alpaca", "input"): dict(mean=19.31, log_sigma=1.0, min_tokens=4, max_tokens=1024),
    ("alpaca", "output"): dict(mean=58.45, log_sigma=1.0, min_tokens=4, max_tokens=2044),
    ("humaneval", "input"): dict(mean=150, log_sigma=0.5, min_tokens=4, max_tokens=2047),
    ("humaneval", "output"): dict(mean=70, log_sigma=0.8, min_tokens=2, max_tokens=2047),
    ("longbench", "input"): dict(
        mean=round(float(_LONGBENCH_PROMPT.mean()), 1),
        log_sigma=round(float(_LONGBENCH_PROMPT.std() / _LONGBENCH_PROMPT.mean()), 4),
        min_tokens=1900,
        max_tokens=2040,
    ),
    ("longbench", "output"): dict(mean=60, log_sigma=1.0, min_tokens=1, max_tokens=140),
    ("mooncake-conversation", "input"): dict(mean=12035, median=6909, max_tokens=131072),
    ("mooncake-synthetic", "input"): dict(mean=15325, median=11587, max_tokens=131072),
    ("mooncake-synthetic", "output"): dict(mean=149, median=69),
}


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An ``np.load``-able .npz with fixed timestamps (``np.savez`` stamps the current time)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for key, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, array, allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, member.getvalue(), compresslevel=9)
    return buf.getvalue()


def _stats(label: str, inp: np.ndarray, out: np.ndarray) -> str:
    def one(x: np.ndarray) -> str:
        p50, p90 = np.quantile(x, [0.5, 0.9])
        return f"mean {x.mean():8.1f} p50 {p50:7.0f} p90 {p90:7.0f}"

    return f"  {label:9} rows {len(inp):6d} | input {one(inp)} | output {one(out)}"


def build_traces(shared: Path) -> None:
    """Write one .npz per trace and the licence notices; print what was kept."""
    OUT.mkdir(parents=True, exist_ok=True)
    for name, rel in TRACE_FILES.items():
        df = pd.read_csv(shared / "data" / rel, usecols=["num_prefill_tokens", "num_decode_tokens"])
        inp = df["num_prefill_tokens"].to_numpy(np.int32)
        out = df["num_decode_tokens"].to_numpy(np.int32)
        keep = np.arange(len(inp))
        if len(keep) > MAX_ROWS:
            keep = np.sort(np.random.default_rng(SEED).choice(len(keep), MAX_ROWS, replace=False))
        data = _npz_bytes({"input_tokens": inp[keep], "output_tokens": out[keep]})
        (OUT / f"{name}.npz").write_bytes(data)
        print(f"{name}.npz ({len(data):,} bytes)")
        print(_stats("trace", inp, out))
        print(_stats("packaged", inp[keep], out[keep]))
    for target, rel in NOTICES.items():
        shutil.copyfile(shared / "data" / rel, OUT / target)
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"total {OUT.relative_to(REPO)}: {total:,} bytes")


def print_fits() -> None:
    """Print the fitted lognormal parameters and their quantiles, as YAML-ready lines."""
    for (name, side), kwargs in FITS.items():
        model = LengthModel.fit_lognormal(**kwargs, fitted_to="see workloads.yaml")
        p50, p90 = model.quantile(np.array([0.5, 0.9]))
        params = {"log_mean": model.log_mean, "log_sigma": model.log_sigma}
        print(f"{name}.{side}: {yaml.safe_dump(params, default_flow_style=True).strip()}")
        print(f"  target {kwargs} -> mean {model.mean:.1f} p50 {p50:.0f} p90 {p90:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    args = parser.parse_args()
    build_traces(args.shared)
    print_fits()


if __name__ == "__main__":
    main()
