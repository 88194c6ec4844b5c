"""Reference worker: python-graphs' full program graph (``get_program_graph``) per file, timed in-process.

Runs in ``.venv-ref`` (``bash benchmarks/setup_references.sh``) and is started by
``benchmarks/graph_speed.py``; by hand::

    .venv-ref/bin/python benchmarks/_ref_python_graphs.py --files LIST.txt --json OUT.json

python-graphs 1.2.3 (PyPI) lacks the ``unparser_patch`` of its GitHub HEAD, so its syntax-token unparser
(astunparse) fails on gast's ``And``/``Or`` and on a gast ``**kwargs`` parameter (a ``Name``, not a string).
:func:`patch_unparser` fixes both in a few lines of our own; a file on which ``get_program_graph`` still
raises (``match`` statements: astunparse 1.6.3 cannot print them) is counted by exception type.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path


def patch_unparser() -> None:
    """Let astunparse print gast's ``And``/``Or`` and a gast ``**kwargs`` parameter."""
    import astunparse
    import gast

    unparser = astunparse.Unparser
    unparser.boolops = {**unparser.boolops, gast.And: "and", gast.Or: "or"}
    original = unparser._arguments

    def _arguments(self, t):
        kwarg = t.kwarg
        if not isinstance(kwarg, gast.Name):
            return original(self, t)
        t.kwarg = None
        try:
            original(self, t)
        finally:
            t.kwarg = kwarg
        if t.posonlyargs or t.args or t.vararg or t.kwonlyargs:
            self.write(", ")
        self.write("**")
        self.dispatch(kwarg)

    unparser._arguments = _arguments


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=Path, required=True, help="text file, one source path per line")
    ap.add_argument("--json", type=Path, required=True)
    args = ap.parse_args()
    sys.setrecursionlimit(100_000)
    patch_unparser()
    from python_graphs import program_graph

    paths = [Path(p) for p in args.files.read_text().splitlines() if p]
    sources = [p.read_bytes().decode("utf-8", errors="replace") for p in paths]
    edges: Counter = Counter()
    failures: Counter = Counter()
    failed_files, per_unit, nodes, size = [], [], 0, 0
    t0 = time.perf_counter()
    for path, code in zip(paths, sources, strict=True):
        t = time.perf_counter()
        try:
            graph = program_graph.get_program_graph(code)
        except Exception as exc:
            failures[type(exc).__name__] += 1
            failed_files.append(f"{path}: {type(exc).__name__}: {str(exc)[:200]}")
            graph = None
        per_unit.append(time.perf_counter() - t)
        size += len(code.encode("utf-8"))
        if graph is not None:
            nodes += len(graph.nodes)
            edges.update(e.type.name for e in graph.edges)
    seconds = time.perf_counter() - t0
    result = {
        "seconds": seconds,
        "bytes": size,
        "files": len(paths),
        "units": len(paths),
        "nodes": nodes,
        "edges": dict(edges.most_common()),
        "failed": sum(failures.values()),
        "failures": dict(failures),
        "failed_files": failed_files,
        "median_s": statistics.median(per_unit) if per_unit else 0.0,
        "max_s": max(per_unit, default=0.0),
    }
    args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
