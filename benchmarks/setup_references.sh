#!/usr/bin/env bash
# Create .venv-ref/, the virtual environment the reference extractors run in (never a galla dependency).
#
#   bash benchmarks/setup_references.sh            # from the repository root; safe to run again
#
# It sees galla and its tree-sitter wheels through --system-site-packages and adds, from PyPI:
#   codebleu (GraphCodeBERT's DFG code, vendored) and python-graphs, both --no-deps (their pins
#   are stale), plus the few pure-Python packages python-graphs imports.
# Used by benchmarks/graph_speed.py and benchmarks/python_graphs_agreement.py.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-ref"
PYTHON="${PYTHON:-python3}"

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "creating $VENV"
    "$PYTHON" -m venv --system-site-packages "$VENV"
fi

if "$VENV/bin/python" -c "import codebleu.parser, python_graphs.program_graph, gast, astunparse, absl" 2>/dev/null; then
    echo "$VENV already has codebleu and python-graphs"
else
    "$VENV/bin/python" -m pip install --quiet --no-deps codebleu python-graphs
    "$VENV/bin/python" -m pip install --quiet absl-py astunparse gast six
fi

"$VENV/bin/python" - <<'PY'
import importlib.metadata as md

import parsers  # galla's own package, seen through --system-site-packages

for name in ("codebleu", "python-graphs", "gast", "astunparse", "tree-sitter", "tree-sitter-python"):
    print(f"  {name:20s} {md.version(name)}")
print("  parsers from", parsers.__file__)
PY
echo "ok: $VENV/bin/python"
