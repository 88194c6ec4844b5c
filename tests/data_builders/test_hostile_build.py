"""``galla build-graphs --out`` pointed at folders that are not its own: it refuses them, and in its own
output it touches only what it wrote (its cache folders, its output files, its killed runs' leftovers)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from data_builders.build import CACHE_OWNER, DATA_FILE, BuildOptions, build_graphs
from galla.cli import main

CODE = "def add(a, b):\n    return a + b\n\n\ndef neg(x):\n    return -x\n"


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def src(tmp_path) -> Path:
    d = tmp_path / "src"
    d.mkdir()
    (d / "a.py").write_text(CODE)
    return d


def _build(src: Path, out: Path, *extra: str) -> int:
    return main(["build-graphs", str(src), "--out", str(out), "--workers", "1", "--quiet", *extra])


def _home_like(root: Path) -> Path:
    """A folder like ``~``: other programs' caches, a graphs.jsonl and notes of the user's own."""
    (root / ".cache" / "pip" / "http").mkdir(parents=True)
    (root / ".cache" / "pip" / "http" / "blob").write_bytes(b"\x00pip cache")
    (root / ".cache" / "0123456789abcdef").mkdir()  # looks like a cache name, holds something else
    (root / ".cache" / "0123456789abcdef" / "keep.txt").write_text("not galla's\n")
    (root / "graphs.jsonl").write_text('{"mine": true}\n')
    (root / "notes.txt").write_text("notes\n")
    return root


def test_a_folder_that_is_not_a_graph_dataset_is_refused(src, tmp_path, capsys):
    home = _home_like(tmp_path / "home")
    before = _snapshot(home)
    for fmt in ("arrow", "galla-jsonl"):
        assert _build(src, home, "--format", fmt) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err
        assert err.startswith(
            f"galla build-graphs: --out '{home}' is not empty and is not a galla graph dataset"
        )
        assert "choose a new or empty directory" in err
        assert _snapshot(home) == before


def test_a_folder_holding_only_another_programs_cache_is_refused(src, tmp_path, capsys):
    out = tmp_path / "out"
    (out / ".cache" / "huggingface").mkdir(parents=True)
    (out / ".cache" / "huggingface" / "token").write_text("x")
    before = _snapshot(out)
    assert _build(src, out) == 2
    assert "is not a galla graph dataset" in capsys.readouterr().err
    assert _snapshot(out) == before


def test_a_dataset_with_the_users_files_keeps_them(src, tmp_path, capsys):
    """Inside a real dataset folder the user's own files, graphs.jsonl and other caches survive a
    rebuild with other options (whose old cache folder, galla's, is dropped)."""
    out = tmp_path / "out"
    assert _build(src, out) == 0
    (old_cache,) = (out / ".cache").iterdir()
    assert (old_cache / CACHE_OWNER).is_file()
    (out / "README.md").write_text("my dataset\n")
    (out / "graphs.jsonl").write_text('{"mine": true}\n')
    (out / ".cache" / "pip").mkdir()
    (out / ".cache" / "pip" / "blob").write_bytes(b"pip")
    mine = {k: v for k, v in _snapshot(out).items() if k in ("README.md", "graphs.jsonl", ".cache/pip/blob")}
    assert _build(src, out, "--unit", "file") == 0
    after = _snapshot(out)
    assert {k: after[k] for k in mine} == mine
    assert not old_cache.exists()  # galla's cache of the other options
    assert json.loads((out / "manifest.json").read_text())["options"]["unit"] == "file"
    # galla-jsonl would overwrite the user's graphs.jsonl: refused, nothing changed
    before = _snapshot(out)
    assert _build(src, out, "--format", "galla-jsonl") == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "graphs.jsonl there was not written by build-graphs" in err
    assert _snapshot(out) == before


def test_its_own_graphs_jsonl_is_replaced_and_removed(src, tmp_path):
    out = tmp_path / "out"
    assert _build(src, out, "--format", "galla-jsonl") == 0
    assert (out / "graphs.jsonl").exists()
    assert _build(src, out, "--format", "galla-jsonl") == 0  # its own: rewritten
    assert _build(src, out) == 0  # arrow only now: the outdated graphs.jsonl of the last build goes
    assert not (out / "graphs.jsonl").exists() and (out / DATA_FILE).exists()


def test_a_killed_builds_leftovers_are_accepted_and_stale_tmp_removed(src, tmp_path):
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    dead = int(done.stdout)  # a process that has exited
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / f".tmp-{dead}" / "spool").mkdir(parents=True)
        (out / f".tmp-{dead}" / "spool" / "x.spool").write_bytes(b"stale")
        (out / f".tmp-{live.pid}").mkdir()
        (out / f".tmp-{live.pid}" / "busy").write_bytes(b"another run's")
        # a cache of an older galla: no marker, only its database and packs
        legacy = out / ".cache" / "00ff00ff00ff00ff"
        (legacy / "packs").mkdir(parents=True)
        (legacy / "cache-v2.sqlite").write_bytes(b"")
        assert _build(src, out) == 0
        assert not (out / f".tmp-{dead}").exists()
        assert (out / f".tmp-{live.pid}" / "busy").read_bytes() == b"another run's"
        assert not legacy.exists()
        assert (out / DATA_FILE).exists()
    finally:
        live.kill()
        live.wait()


def test_the_library_refuses_too(src, tmp_path):
    from data_builders.build import BuildError

    home = _home_like(tmp_path / "home")
    before = _snapshot(home)
    with pytest.raises(BuildError, match="is not a galla graph dataset"):
        build_graphs(BuildOptions(paths=[str(src)], out=home, workers=1))
    assert _snapshot(home) == before
