"""Unpack the C runtime of the installed ``tree-sitter`` release under ``build/tree-sitter-runtime``.

``parsers._native`` compiles it in (py-tree-sitter keeps its copy's symbols private), so the native
engine parses with exactly the runtime the binding uses. Run by ``setup.sh``; safe to rerun (a
matching copy is kept). Needs the package index; on failure it says so and exits 0, and the install
goes on with the pure-Python engine.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
from importlib import metadata
from pathlib import Path

DEST = Path(__file__).resolve().parent.parent / "build" / "tree-sitter-runtime"


def main() -> int:
    try:
        version = metadata.version("tree-sitter")
    except metadata.PackageNotFoundError:
        print("fetch_runtime: tree-sitter is not installed yet; skipped")
        return 0
    stamp = DEST / "VERSION"
    if stamp.exists() and stamp.read_text().strip() == version:
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:"]
        cmd += ["--dest", tmp, f"tree-sitter=={version}"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        sdists = list(Path(tmp).glob("tree_sitter-*.tar.gz"))
        if proc.returncode or not sdists:
            print(
                f"fetch_runtime: could not download the tree-sitter {version} sdist "
                f"({proc.stderr.strip()[-300:]}); the pure-Python engine will be used"
            )
            return 0
        with tarfile.open(sdists[0]) as tar:
            members = [m for m in tar.getmembers() if "/tree_sitter/core/lib/" in m.name and m.isfile()]
            tar.extractall(tmp, members=members, filter="data")
        lib = next(Path(tmp).glob("tree_sitter-*/tree_sitter/core/lib"))
        shutil.rmtree(DEST, ignore_errors=True)
        DEST.mkdir(parents=True)
        shutil.copytree(lib / "src", DEST / "lib" / "src")
        shutil.copytree(lib / "include", DEST / "lib" / "include")
        stamp.write_text(version + "\n")
    print(f"fetch_runtime: tree-sitter {version} runtime in {DEST}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
