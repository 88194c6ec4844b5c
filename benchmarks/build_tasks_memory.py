"""Peak memory of ``galla build-tasks`` on a corpus and on the same corpus twice: it should stay flat.

Run from the repository root::

    python benchmarks/build_tasks_memory.py                      # the installed transformers' source
    python benchmarks/build_tasks_memory.py PATH --max-files 200 --json runs/build_tasks_memory.json

The corpus is PATH's ``.py`` files (the first ``--max-files`` in sorted order, if set), copied to
``WORK/corpus/1/``; the double is ``WORK/corpus/2/`` holding that copy twice (``a/`` and ``b/``), so it
has exactly twice the units under other paths. Graphs of both are built with ``galla build-graphs
--workers 1``; then ``galla build-tasks`` (default tasks) runs on each in a fresh subprocess, whose peak
RSS is read from ``os.wait4`` (per child, unlike ``RUSAGE_CHILDREN``, which keeps the maximum of all);
``/proc/PID/status`` is polled every 0.1 s to split it into anonymous memory (what a build holds) and
file-backed pages (the memory-mapped graph dataset, which the kernel can drop at will).
Each subprocess runs under an address-space limit (``--limit-mb``, default 8000) so a build that
grows without bound fails instead of crowding the machine; a limit hit is reported as such.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _default_root() -> Path:
    import transformers

    return Path(transformers.__file__).parent


def _copy_corpus(root: Path, dest: Path, max_files: int) -> int:
    files = sorted(p for p in root.rglob("*.py") if p.is_file())
    if max_files:
        files = files[:max_files]
    for f in files:
        target = dest / f.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, target)
    return len(files)


def _limit(mb: int):
    def apply() -> None:
        os.nice(19)
        hard = resource.getrlimit(resource.RLIMIT_AS)[1]
        if mb and (hard == resource.RLIM_INFINITY or mb << 20 < hard):
            resource.setrlimit(resource.RLIMIT_AS, (mb << 20, hard))

    return apply


def _run(cmd: list[str], limit_mb: int) -> dict:
    """Run ``cmd`` (a galla command) in a subprocess; its own peak RSS, wall time and exit status."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "galla.cli", *cmd],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        preexec_fn=_limit(limit_mb),
    )
    peaks = {"RssAnon": 0, "RssFile": 0}
    stop = threading.Event()

    def poll() -> None:  # anonymous vs file-backed resident memory (mapped Arrow files count as RSS)
        while not stop.wait(0.1):
            try:
                status = Path(f"/proc/{proc.pid}/status").read_text()
            except OSError:
                return
            for line in status.splitlines():
                key, _, value = line.partition(":")
                if key in peaks:
                    peaks[key] = max(peaks[key], int(value.split()[0]))

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
    stop.set()
    watcher.join()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "rc": proc.returncode,
        "peak_mb": usage.ru_maxrss / 1024,
        "peak_anon_mb": peaks["RssAnon"] / 1024,
        "peak_file_mb": peaks["RssFile"] / 1024,
        "seconds": time.perf_counter() - t0,
        "output": out.strip().splitlines()[-3:],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", nargs="?", type=Path, help="source folder (default: installed transformers)")
    ap.add_argument("--max-files", type=int, default=0, help="only the first N .py files (sorted)")
    ap.add_argument("--work", type=Path, default=REPO / "runs" / "build_tasks_memory")
    ap.add_argument("--limit-mb", type=int, default=8000, help="address-space limit per subprocess (0: none)")
    ap.add_argument("--docstrings", action="store_true", help="pass --docstrings to build-tasks")
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args()
    root = (args.root or _default_root()).resolve()
    if args.work.exists():
        shutil.rmtree(args.work)
    corpus = args.work / "corpus"
    n_files = _copy_corpus(root, corpus / "1", args.max_files)
    for half in ("a", "b"):
        shutil.copytree(corpus / "1", corpus / "2" / half)
    sides = []
    for name in ("1", "2"):
        graphs, tasks = args.work / f"graphs-{name}", args.work / f"tasks-{name}"
        built = _run(["build-graphs", str(corpus / name), "--out", str(graphs), "--workers", "1",
                      "--no-cache", "--quiet"], 0)  # fmt: skip
        if built["rc"]:
            print(f"build-graphs failed on corpus {name}: {built['output']}", file=sys.stderr)
            return 1
        units = json.loads((graphs / "manifest.json").read_text())["totals"]["units"]
        cmd = ["build-tasks", str(graphs), "--out", str(tasks)] + (
            ["--docstrings"] if args.docstrings else []
        )
        side = _run(cmd, args.limit_mb)
        side.update(corpus=name, units=units)
        if side["rc"] == 0:
            side["records"] = json.loads((tasks / "tasks_manifest.json").read_text())["records"]
        sides.append(side)
        state = "ok" if side["rc"] == 0 else f"FAILED rc={side['rc']} (limit {args.limit_mb} MB?)"
        print(
            f"corpus x{name}: {side['units']} units, {side.get('records', '?')} records, "
            f"peak RSS {side['peak_mb']:,.0f} MB (anonymous {side['peak_anon_mb']:,.0f} MB, file-backed "
            f"{side['peak_file_mb']:,.0f} MB, polled), {side['seconds']:.1f} s, {state}"
        )
    ratio = sides[1]["peak_mb"] / sides[0]["peak_mb"]
    anon = sides[1]["peak_anon_mb"] / max(sides[0]["peak_anon_mb"], 1e-9)
    print(f"{n_files} files from {root}; peak RSS x2 / x1 = {ratio:.3f} (anonymous: {anon:.3f})")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        result = {"root": str(root), "files": n_files, "sides": sides, "ratio": ratio, "anon_ratio": anon}
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if all(s["rc"] == 0 for s in sides) else 1


if __name__ == "__main__":
    sys.exit(main())
