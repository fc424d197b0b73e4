#!/usr/bin/env bash
# Wheels of the runtime dependencies that the lent GPU machines' image lacks (Python 3.12 there;
# its image already holds numpy, scipy, pandas, numba, torch, nvidia-ml-py, typer, rich, ...).
# Run here before `scripts/device_checks.sh` travels: it installs them from .whl/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .whl && mkdir .whl
python3 -m pip download --quiet --only-binary=:all: --dest .whl \
    --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform any \
    'pydantic>=2.6' genai-prices==0.2.3 'plotly>=5.20' 2>&1 | grep -v "^WARNING: Location"
ls .whl
