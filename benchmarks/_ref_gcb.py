"""Reference worker: GraphCodeBERT's data flow (``DFG_python``) per file, timed in-process.

Runs in ``.venv-ref`` (``bash benchmarks/setup_references.sh``) and is started by
``benchmarks/graph_speed.py``; by hand::

    .venv-ref/bin/python benchmarks/_ref_gcb.py --files LIST.txt --json OUT.json

The DFG functions come from PyPI ``codebleu`` (which vendors microsoft/CodeBERT's ``parser/DFG.py``);
the extraction around them follows GraphCodeBERT's ``extract_dataflow`` (strip comments and docstrings,
parse, index the leaf tokens, run ``DFG_python``, keep the variables that take part in an edge), written
against the current tree-sitter API. As in GraphCodeBERT, an exception inside ``DFG_python`` silently
empties the unit's graph; those units are counted as failures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from pathlib import Path

import tree_sitter
import tree_sitter_python
from codebleu.parser import (
    DFG_python,
    index_to_code_token,
    remove_comments_and_docstrings,
    tree_to_token_index,
)


def extract_dataflow(code: str, parser: tree_sitter.Parser) -> tuple[list, bool]:
    """GraphCodeBERT's DFG of one source: (edges as its 5-tuples, whether DFG_python raised)."""
    with contextlib.suppress(Exception):  # GraphCodeBERT keeps the source as is when tokenize fails
        code = remove_comments_and_docstrings(code, "python")
    root = parser.parse(code.encode("utf-8")).root_node
    spans = tree_to_token_index(root)
    lines = code.split("\n")
    index_to_code = {span: (i, index_to_code_token(span, lines)) for i, span in enumerate(spans)}
    try:
        dfg, _ = DFG_python(root, index_to_code, {})
    except Exception:
        return [], True
    dfg = sorted(dfg, key=lambda d: d[1])
    used = set()
    for d in dfg:
        if d[-1]:
            used.add(d[1])
        used.update(d[-1])
    return [d for d in dfg if d[1] in used], False


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=Path, required=True, help="text file, one source path per line")
    ap.add_argument("--json", type=Path, required=True)
    args = ap.parse_args()
    sys.setrecursionlimit(100_000)  # DFG_python recurses on tree depth
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_python.language()))
    paths = [Path(p) for p in args.files.read_text().splitlines() if p]
    sources = [p.read_bytes().decode("utf-8", errors="replace") for p in paths]
    edges = {"comesFrom": 0, "computedFrom": 0}
    failed, per_unit, size = [], [], 0
    t0 = time.perf_counter()
    for path, code in zip(paths, sources, strict=True):
        t = time.perf_counter()
        dfg, broke = extract_dataflow(code, parser)
        per_unit.append(time.perf_counter() - t)
        if broke:
            failed.append(str(path))
        for d in dfg:
            edges[d[2]] = edges.get(d[2], 0) + len(d[4])
        size += len(code.encode("utf-8"))
    seconds = time.perf_counter() - t0
    result = {
        "seconds": seconds,
        "bytes": size,
        "files": len(paths),
        "units": len(paths),
        "edges": edges,
        "failed": len(failed),
        "failures": "DFG_python raised, graph emptied (GraphCodeBERT's bare except)",
        "failed_files": failed,
        "median_s": statistics.median(per_unit) if per_unit else 0.0,
        "max_s": max(per_unit, default=0.0),
    }
    args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
