"""Graph rows per second and peak memory: the datatrove step vs the directory build, same corpus, one run.

Run from the repository root (needs ``pip install 'galla[datatrove]'``)::

    python benchmarks/build_from_dataset.py --json runs/build_from_dataset.json

Corpus: the standard library minus its tests (``data_builders.corpora.stdlib_corpus``, 12.1 MB on
CPython 3.11), copied to a temporary folder; the files the directory walk keeps (it skips ``venv/`` as
vendored and generated files) are also written as parquet shards (``content``, ``path``), so every row
reads the same files. Rows, each in a fresh process, taking turns for ``--repeat`` rounds (best kept):

- **directory**: ``galla build-graphs FOLDER --workers W --no-cache``;
- **from-dataset**: ``galla build-graphs --from-dataset SHARDS --workers W --no-cache`` (the same pipeline
  fed by the parquet reader);
- **datatrove**: ``LocalPipelineExecutor(graph_pipeline(ParquetReader(SHARDS)), tasks=S, workers=W)``
  writing parquet.

Time is the wall clock of the whole process (start-up, reading, writing included); peak memory is the
highest sum of the resident sets of the process and its workers, sampled every 20 ms from ``/proc``
(Linux). Each row's output must hold the directory build's rows (checked by their sorted ids). The
1 TB projection divides 1 TB of source by the measured MB/s of one such machine times N machines
(tasks are independent, so it assumes linear scaling and leaves out scheduling and storage limits).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TB = 1e12


def _tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and its descendants (``/proc``; 0 when it has gone)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        stack.extend(children.get(p, ()))
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            pass
    return total


def measure(cmd: list[str]) -> dict:
    """Run ``cmd``; its wall seconds and peak resident memory of its process tree."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss(proc.pid))
        time.sleep(0.02)
    seconds = time.perf_counter() - t0
    out, err = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-3000:]}")
    return {"seconds": seconds, "peak_rss_mb": peak / 2**20, "stdout": out}


# --- the children -------------------------------------------------------------------------------


def child_datatrove(shards: Path, out: Path, tasks: int, workers: int) -> None:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import ParquetReader

    from data_builders.datatrove_steps import graph_pipeline

    pipeline = graph_pipeline(ParquetReader(str(shards), text_key="content"), str(out / "rows"))
    LocalPipelineExecutor(pipeline, tasks=tasks, workers=workers, logging_dir=str(out / "logs")).run()


def output_ids(kind: str, out: Path) -> tuple[list[str], int]:
    """The ids of a row's output, sorted, and its size in bytes."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if kind == "datatrove":
        parts = sorted((out / "rows").glob("*.parquet"))
        ids = [i for p in parts for i in pq.read_table(p, columns=["id"]).column("id").to_pylist()]
        return sorted(ids), sum(p.stat().st_size for p in parts)
    data = out / "data-00000-of-00001.arrow"
    with pa.memory_map(str(data)) as src:
        ids = pa.ipc.open_stream(src).read_all().column("id").to_pylist()
    return sorted(ids), data.stat().st_size


# --- the parent --------------------------------------------------------------------------------


def prepare(work: Path, shards: int) -> tuple[Path, Path, int, int]:
    """Copy the corpus to ``work/lib`` and write the walk's files as parquet shards; (folder, shards,
    files, bytes)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from data_builders.content import SourceFile
    from data_builders.corpora import stdlib_corpus, stdlib_root
    from data_builders.walk import iter_repository
    from parsers.languages import extension_map

    root, lib = stdlib_root(), work / "lib"
    for f in stdlib_corpus():
        dest = lib / f.relative_to(root)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, dest)
    kept = [w for w in iter_repository([lib], extensions=extension_map()) if isinstance(w, SourceFile)]
    folder = work / "shards"
    folder.mkdir()
    for s in range(shards):
        part = kept[s::shards]
        table = pa.table(
            {"content": [w.path.read_text("utf-8") for w in part], "path": [w.relpath for w in part]}
        )
        pq.write_table(table, folder / f"part-{s:03d}.parquet")
    return lib, folder, len(kept), sum(w.size for w in kept)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--shards", type=int, default=4, help="parquet files = datatrove tasks")
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--machines", type=int, nargs="+", default=[1, 10, 100, 1000])
    p.add_argument("--json", type=Path)
    p.add_argument("--child", nargs=4, metavar=("KIND", "SHARDS", "OUT", "TASKS"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        _, shards, out, tasks = args.child
        child_datatrove(Path(shards), Path(out), int(tasks), args.workers)
        return 0
    work = Path(tempfile.mkdtemp(prefix="galla-bench-ds-"))
    try:
        lib, shards, files, size = prepare(work, args.shards)
        w = str(args.workers)
        cli = [sys.executable, "-m", "galla.cli", "build-graphs", "--workers", w, "--no-cache", "--quiet"]
        rows = {
            "directory": lambda out: [*cli, str(lib), "--out", str(out)],
            "from-dataset": lambda out: [*cli, "--from-dataset", str(shards), "--out", str(out)],
            "datatrove": lambda out: [
                sys.executable, __file__, "--workers", w, "--child", "datatrove", str(shards), str(out),
                str(args.shards),
            ],
        }  # fmt: skip
        best: dict[str, dict] = {}
        reference: list[str] | None = None
        for r in range(args.repeat):
            for kind, command in rows.items():
                out = work / f"out-{kind}-{r}"
                m = measure(command(out))
                ids, out_bytes = output_ids(kind, out)
                reference = reference or ids
                if ids != reference:
                    raise SystemExit(f"{kind}: its rows differ from the directory build's ({len(ids)} ids)")
                m.update(rows=len(ids), output_bytes=out_bytes)
                shutil.rmtree(out)
                print(f"round {r + 1} {kind:12s} {m['seconds']:6.2f} s  peak {m['peak_rss_mb']:6.0f} MB")
                if kind not in best or m["seconds"] < best[kind]["seconds"]:
                    best[kind] = {k: v for k, v in m.items() if k != "stdout"}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result: dict = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "command": " ".join(["python", "benchmarks/build_from_dataset.py", *(argv or sys.argv[1:])]),
        "corpus": {"files": files, "bytes": size},
        "workers": args.workers,
        "tasks": args.shards,
        "rows": {},
    }
    for kind, m in best.items():
        m["rows_per_s"] = m["rows"] / m["seconds"]
        m["source_mb_per_s"] = size / 1e6 / m["seconds"]
        m["output_bytes_per_source_byte"] = m["output_bytes"] / size
        m["hours_per_tb"] = {n: TB / (size / m["seconds"]) / 3600 / n for n in args.machines}
        result["rows"][kind] = m
    d, t = result["rows"]["directory"], result["rows"]["datatrove"]
    result["datatrove_over_directory"] = {
        "rows_per_s": t["rows_per_s"] / d["rows_per_s"],
        "peak_rss": t["peak_rss_mb"] / d["peak_rss_mb"],
    }
    print(f"\ncorpus: {files} files, {size / 1e6:.1f} MB; {args.workers} workers; best of {args.repeat}")
    print(f"{'row':14s} {'s':>7s} {'rows/s':>8s} {'MB/s':>6s} {'peak MB':>8s} {'out/src':>8s}")
    for kind, m in result["rows"].items():
        print(
            f"{kind:14s} {m['seconds']:7.2f} {m['rows_per_s']:8.0f} {m['source_mb_per_s']:6.2f} "
            f"{m['peak_rss_mb']:8.0f} {m['output_bytes_per_source_byte']:8.2f}"
        )
    ratio = result["datatrove_over_directory"]
    print(f"datatrove / directory: rows/s {ratio['rows_per_s']:.2f}, peak RSS {ratio['peak_rss']:.2f}")
    print("1 TB of source code, hours on N such machines (linear scaling):")
    for kind, m in result["rows"].items():
        print(f"  {kind:14s} " + ", ".join(f"N={n}: {h:,.1f} h" for n, h in m["hours_per_tb"].items()))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
