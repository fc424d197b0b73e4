#!/usr/bin/env bash
# The GPU measurements of issues 7 and 8 as one command for a lent NVIDIA machine (the device
# tool's `run`, from the repository root, after `scripts/device_wheels.sh` here). Reads only:
# clocks, power limits and MIG settings are never changed. Results land in $OUT:
#   gpu.csv          nvidia-smi: name, SM clock, power draw and limit before the runs
#   energy.json      `costcorrect energy measure` (NVML energy counter, J/token prefill/decode)
#   gpu_timings.csv  `costcorrect measure gpu` (iteration times in `perf fit`'s format)
#   calibration.yaml the perf model fitted to those times
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-device_out}
mkdir -p "$OUT"
PYTHON=${PYTHON:-python3}
if [ -d .whl ]; then
    "$PYTHON" -m pip install --quiet --no-index --no-deps --target .deps .whl/*.whl
fi
export PYTHONPATH="$PWD/src:$PWD/.deps"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,power.limit --format=csv \
    | tee "$OUT/gpu.csv" || echo "no nvidia-smi here"
case "$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)" in
    *H200*) GPU=H200 ;;
    *H100*) GPU=H100-SXM ;;
    *A100*) GPU=A100-80GB-SXM ;;
    *) GPU=H100-SXM ;;
esac
"$PYTHON" -m costcorrect energy measure --model llama-3.1-8b --out "$OUT/energy.json"
"$PYTHON" -m costcorrect measure gpu --model llama-3.1-8b --gpu "$GPU" \
    --out "$OUT/gpu_timings.csv" --calibrations "$OUT/calibration.yaml"
