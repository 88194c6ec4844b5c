"""Graph-building speed on the Python standard library, against tree-sitter and two reference extractors.

Run from the repository root (the references need ``bash benchmarks/setup_references.sh`` once)::

    python benchmarks/graph_speed.py --json runs/graph_speed.json

``--skip-python-graphs`` leaves out the slowest reference (3-4 minutes per repeat), ``--skip-references``
both.

Corpus: every ``.py`` file under the running interpreter's ``sysconfig.get_paths()["stdlib"]`` minus the
directories ``site-packages``, ``test``, ``tests`` and ``idle_test`` (734 files, 12.1 MB on CPython
3.11). Measured in one run, each timed by the wall clock; the rows take turns, ``--repeat`` rounds, and
each keeps its best:

- **floor**: tree-sitter parse + one visit of every node (explicit stack over ``node.children``, reading
  ``node.type``); one core, in this process.
- **galla extract_file**: ``parsers.extract_file(unit="function")`` with every edge kind; one core, in this
  process (the engine alone, without the CLI).
- **galla build-graphs**: ``galla build-graphs`` with every edge kind on ``--workers`` processes (default:
  all cores), as a subprocess writing to a temporary directory; includes interpreter start-up, the
  repository walk and the dataset and cache writes. Its walker skips ``venv`` (brought back with
  ``--include-vendored``) and files marked as generated, so it sees a few files fewer; ratios are
  therefore taken on seconds per MB, not raw seconds.
- **GraphCodeBERT DFG** (``benchmarks/_ref_gcb.py``, codebleu's vendored ``DFG_python``) and
  **python-graphs** ``get_program_graph`` (``benchmarks/_ref_python_graphs.py``), each per file, one
  core, in ``.venv-ref``; their time is the extraction loop measured inside the worker.

Targets: build-graphs / floor <= 1.5; GraphCodeBERT / build-graphs >= 5; python-graphs / build-graphs
>= 50 (all as seconds per MB).
"""

from __future__ import annotations

import os

# numpy's OpenBLAS threads (unused here) would take CPU from the rows timed in this process
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from data_builders.corpora import EXCLUDED_DIRS, stdlib_corpus

REPO = Path(__file__).resolve().parent.parent
REF_PYTHON = REPO / ".venv-ref" / "bin" / "python"
TARGETS = {
    "build_graphs_over_floor": 1.5,
    "gcb_over_build_graphs": 5.0,
    "python_graphs_over_build_graphs": 50.0,
}


def floor(sources: Iterable[bytes]) -> dict:
    """tree-sitter parse + one visit of every node, one core: ``{"seconds", "bytes", "files", "nodes"}``."""
    import tree_sitter
    import tree_sitter_python

    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_python.language()))
    nodes = size = files = 0
    t0 = time.perf_counter()
    for data in sources:
        tree = parser.parse(data)
        stack = [tree.root_node]
        while stack:
            node = stack.pop()
            _ = node.type
            stack.extend(node.children)
            nodes += 1
        size += len(data)
        files += 1
    return {"seconds": time.perf_counter() - t0, "bytes": size, "files": files, "nodes": nodes}


def galla_in_process(sources: Iterable[bytes]) -> dict:
    """``extract_file(unit="function")`` with every edge kind, one core, this process."""
    from parsers import EdgeType, extract_file

    counts = [0] * (max(EdgeType) + 1)
    size = files = units = 0
    t0 = time.perf_counter()
    for data in sources:
        fg = extract_file(data, "python", unit="function")
        if len(fg):
            for t, c in zip(*_unique(fg.columns["edge_type"]), strict=True):
                counts[t] += c
        units += len(fg)
        size += len(data)
        files += 1
    seconds = time.perf_counter() - t0
    edges = {EdgeType(t).name: c for t, c in enumerate(counts) if c}
    return {"seconds": seconds, "bytes": size, "files": files, "units": units, "edges": edges}


def _unique(a) -> tuple[list[int], list[int]]:
    import numpy as np

    ids, counts = np.unique(a, return_counts=True)
    return ids.tolist(), counts.tolist()


def galla_command() -> list[str]:
    """How to start the ``galla`` CLI of this interpreter."""
    script = Path(sys.executable).with_name("galla")
    if script.exists():
        return [str(script)]
    found = shutil.which("galla")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from galla.cli import program; sys.exit(program())"]


def build_graphs(root: Path, workers: int, tmp: Path) -> dict:
    """Time ``galla build-graphs`` on ``root`` as a subprocess; numbers from its manifest."""
    out = tmp / "build-graphs"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [*galla_command(), "build-graphs", str(root), "--out", str(out), "--unit", "function"]
    cmd += ["--edges", "all", "--include-vendored", "--quiet"]
    for d in sorted(EXCLUDED_DIRS):
        cmd += ["--exclude", f"{d}/"]
    if workers:
        cmd += ["--workers", str(workers)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    manifest = json.loads((out / "manifest.json").read_text())
    totals = manifest["totals"]
    shutil.rmtree(out, ignore_errors=True)
    return {
        "seconds": seconds,
        "bytes": totals["bytes"],
        "files": totals["files_parsed"],
        "units": totals["units"],
        "edges": manifest["edge_counts"],
        "skipped": manifest.get("skipped_by_reason", {}),
        "workers": workers or os.cpu_count(),
        "command": " ".join(cmd),
    }


def reference(script: str, files: Sequence[Path], tmp: Path, extra: Sequence[str] = ()) -> dict:
    """Run a reference worker in ``.venv-ref`` on ``files``; its JSON result plus the wall clock."""
    listing = tmp / "files.txt"
    listing.write_text("".join(f"{p}\n" for p in files))
    result = tmp / f"{Path(script).stem}.json"
    cmd = [str(REF_PYTHON), str(REPO / "benchmarks" / script), "--files", str(listing), "--json", str(result)]
    t0 = time.perf_counter()
    proc = subprocess.run([*cmd, *extra], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    out = json.loads(result.read_text())
    out["wall_seconds"] = wall
    return out


def _best(runs: list[dict]) -> dict:
    best = min(runs, key=lambda r: r["seconds"])
    best["all_seconds"] = [round(r["seconds"], 3) for r in runs]
    return best


def run(args: argparse.Namespace) -> dict:
    files = stdlib_corpus(args.root)
    sources = [p.read_bytes() for p in files]
    corpus = {
        "root": str(args.root or sysconfig.get_paths()["stdlib"]),
        "files": len(files),
        "bytes": sum(map(len, sources)),
    }
    print(
        f"corpus: {corpus['files']} files, {corpus['bytes'] / 1e6:.1f} MB under {corpus['root']}", flush=True
    )
    # the rows' repeats are interleaved (floor, extract, build, GraphCodeBERT; then again), so the
    # best of each is taken over the same minutes: this machine's speed drifts by up to +-30% in minutes
    have_refs = not args.skip_references and REF_PYTHON.exists()
    if not args.skip_references and not have_refs:
        print(
            f"  {REF_PYTHON} is missing, so the references are skipped; create it with "
            "`bash benchmarks/setup_references.sh`",
            flush=True,
        )
    runs: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="galla-speed-") as td:
        tmp = Path(td)
        root = Path(corpus["root"])
        steps = [
            ("floor", lambda: floor(sources)),
            ("galla extract_file", lambda: galla_in_process(sources)),
            ("galla build-graphs", lambda: build_graphs(root, args.workers, tmp)),
        ]
        if have_refs:
            steps.append(("GraphCodeBERT DFG", lambda: reference("_ref_gcb.py", files, tmp)))
        for i in range(args.repeat):
            for name, step in steps:
                runs.setdefault(name, []).append(step())
                print(f"  [{i + 1}/{args.repeat}] {name} {runs[name][-1]['seconds']:.2f} s", flush=True)
        if have_refs and not args.skip_python_graphs:
            for i in range(args.repeat):
                runs.setdefault("python-graphs", []).append(reference("_ref_python_graphs.py", files, tmp))
                print(f"  [{i + 1}/{args.repeat}] python-graphs {runs['python-graphs'][-1]['seconds']:.2f} s")
    rows = {name: _best(r) for name, r in runs.items()}
    for r in rows.values():
        r["mb_per_s"] = r["bytes"] / 1e6 / r["seconds"]
        r["s_per_mb"] = r["seconds"] / (r["bytes"] / 1e6)
        if "edges" in r:
            r["edge_types"] = sum(1 for c in r["edges"].values() if c)
    build = rows["galla build-graphs"]["s_per_mb"]
    ratios = {"build_graphs_over_floor": build / rows["floor"]["s_per_mb"]}
    if "GraphCodeBERT DFG" in rows:
        ratios["gcb_over_build_graphs"] = rows["GraphCodeBERT DFG"]["s_per_mb"] / build
    if "python-graphs" in rows:
        ratios["python_graphs_over_build_graphs"] = rows["python-graphs"]["s_per_mb"] / build
    return {
        "corpus": corpus,
        "rows": rows,
        "ratios": ratios,
        "targets": TARGETS,
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
    }


def print_report(res: dict) -> None:
    print()
    head = f"{'extractor':22s} {'files':>5s} {'MB':>6s} {'seconds':>8s} {'MB/s':>6s} {'types':>5s}"
    head += "  edges by type"
    print(head)
    print("-" * len(head))
    for name, r in res["rows"].items():
        edges = ", ".join(f"{k} {v:,}" for k, v in sorted(r.get("edges", {}).items(), key=lambda kv: -kv[1]))
        types = str(r.get("edge_types", "-"))
        print(
            f"{name:22s} {r['files']:5d} {r['bytes'] / 1e6:6.2f} {r['seconds']:8.2f} {r['mb_per_s']:6.2f} "
            f"{types:>5s}  {edges or '-'}"
        )
        if r.get("failed"):
            print(f"{'':22s} failed units: {r['failed']} {r.get('failures', '')}")
    print()
    for key, value in res["ratios"].items():
        target = res["targets"][key]
        ok = value <= target if key == "build_graphs_over_floor" else value >= target
        sign = "<=" if key == "build_graphs_over_floor" else ">="
        print(f"{key:34s} {value:7.2f}  (target {sign} {target:g}: {'met' if ok else 'NOT met'})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", type=Path, help="write the full result here")
    ap.add_argument("--workers", type=int, default=0, help="build-graphs processes (default: all cores)")
    ap.add_argument(
        "--repeat", type=int, default=3, help="runs of every row (python-graphs: minutes each); best counts"
    )
    ap.add_argument("--skip-python-graphs", action="store_true", help="leave out python-graphs (slowest)")
    ap.add_argument("--skip-references", action="store_true", help="leave out both reference extractors")
    ap.add_argument("--root", type=Path, help="corpus root (default: this interpreter's stdlib)")
    args = ap.parse_args(argv)
    res = run(args)
    print_report(res)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=1))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
