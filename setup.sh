#!/usr/bin/env bash
# Install galla and its dependencies into the current Python environment.
# torch: the CPU build of 2.13 where no torch is installed (a newer torch from the index would pull
# several GB of CUDA packages); an existing torch in galla's supported range is kept.
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-python3}"
if ! "$PY" -c "import torch" 2>/dev/null; then
    "$PY" -m pip install --quiet "torch==2.13.0"
fi
"$PY" -m pip install --quiet -e ".[dev]"
