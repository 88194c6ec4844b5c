"""Two runs into one folder: the second stops at once naming the folder and the holder; a killed holder
(kill -9) releases the lock by itself, even while a forked child of it lives on."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from data_builders.build import DATA_FILE
from data_builders.lock import LOCK_NAME, FolderBusy, acquire, release
from galla.cli import main

ROOT = Path(__file__).resolve().parents[2]
HOLD = """
import os, sys, time
from pathlib import Path
from data_builders.lock import acquire
acquire(Path(sys.argv[1]), "test")
ready_r, ready_w = os.pipe()
child = os.fork() if len(sys.argv) > 2 else -1  # a child that outlives us, as a stuck worker would
if child == 0:
    os.write(ready_w, b"x")  # os.fork returned here, so the at-fork handlers have run in this child
    time.sleep(120)
    os._exit(0)
if child > 0:
    os.read(ready_r, 1)  # under load the child may not have run yet: wait until it has
print("held", child, flush=True)
time.sleep(120)
"""


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def hold(folder: Path, *, fork: bool = False) -> tuple[subprocess.Popen, int | None]:
    """A separate process holding ``folder``'s lock (and its forked child's pid)."""
    args = [sys.executable, "-c", HOLD, str(folder)] + (["fork"] if fork else [])
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    word, child = proc.stdout.readline().split()
    assert word == "held"
    return proc, int(child) if fork else None


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()


@pytest.fixture
def src(tmp_path) -> Path:
    d = tmp_path / "src"
    d.mkdir()
    (d / "a.py").write_text("def add(a, b):\n    return a + b\n")
    return d


def test_a_second_build_stops_while_another_process_holds_out(src, tmp_path, capsys):
    out = tmp_path / "out"
    holder, _ = hold(out)
    try:
        info = json.loads((out / LOCK_NAME).read_text())
        assert info["pid"] == holder.pid and info["host"] == socket.gethostname()
        before = _snapshot(out)
        args = ["build-graphs", str(src), "--out", str(out), "--workers", "1", "--quiet"]
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err
        assert err.startswith(f"galla build-graphs: {out}: in use by another build-graphs --out run")
        assert f"pid {holder.pid} on {socket.gethostname()}" in err
        assert _snapshot(out) == before
    finally:
        _kill(holder)  # kill -9: the kernel drops the lock
    assert main(args) == 0
    assert (out / DATA_FILE).exists() and not (out / LOCK_NAME).exists()


def test_two_real_build_graphs_processes(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for f in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))[:200]:
        shutil.copy(f, corpus / f.name)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "galla.cli", "build-graphs", str(corpus), "--out", str(out), "--quiet"]
    first = subprocess.Popen([*cmd, "--workers", "1"], cwd=ROOT)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and first.poll() is None:
            if (out / LOCK_NAME).exists() and "pid" in (out / LOCK_NAME).read_text():
                break
            time.sleep(0.01)
        second = subprocess.run([*cmd, "--workers", "1"], cwd=ROOT, capture_output=True, text=True)
        assert first.poll() is None, "the first build finished before the second started"
        assert second.returncode == 2, second.stderr
        assert f"{out}: in use by another build-graphs --out run (pid {first.pid} on" in second.stderr
        assert second.stderr.strip().count("\n") == 0
    finally:
        first.wait(timeout=120)
    assert first.returncode == 0 and (out / DATA_FILE).exists()


def test_a_killed_holders_forked_child_does_not_keep_the_lock(tmp_path):
    folder = tmp_path / "f"
    holder, child = hold(folder, fork=True)
    try:
        with pytest.raises(FolderBusy, match=f"pid {holder.pid}"):
            acquire(folder, "test")
        _kill(holder)
        os.kill(child, 0)  # the child still lives
        acquire(folder, "test")  # yet the lock is free
        release(folder)
    finally:
        os.kill(child, signal.SIGKILL)


def test_the_lock_is_reentrant_within_a_process(tmp_path):
    folder = tmp_path / "f"
    acquire(folder, "test")
    acquire(folder, "test")
    release(folder)
    assert (folder / LOCK_NAME).exists()
    release(folder)
    assert not (folder / LOCK_NAME).exists()
    holder, _ = hold(folder)  # free for another process now
    _kill(holder)
