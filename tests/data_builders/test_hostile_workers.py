"""A build-graphs main process killed with SIGKILL takes its workers with it: none lives on."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_exit_when_the_main_process_is_killed(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for f in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))[:200]:
        shutil.copy(f, corpus / f.name)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "galla.cli", "build-graphs", str(corpus), "--out", str(out)]
    proc = subprocess.Popen([*cmd, "--workers", "2", "--quiet"], cwd=ROOT)
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    workers: list[int] = []
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        workers = [int(p) for p in children.read_text().split()] if children.exists() else []
        if len(workers) == 2 and any((out / ".cache").glob("*/packs/*.pack")):
            break
        time.sleep(0.01)
    assert len(workers) == 2 and proc.poll() is None, "the build finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    try:
        deadline = time.time() + 5
        while time.time() < deadline and any(_alive(w) for w in workers):
            time.sleep(0.05)
        assert not [w for w in workers if _alive(w)], "workers outlived the killed main process"
    finally:
        for w in workers:
            if _alive(w):
                os.kill(w, signal.SIGKILL)
    # the folder is free again (no worker holds the lock) and a rerun finishes
    assert subprocess.run([*cmd, "--workers", "2", "--quiet"], cwd=ROOT).returncode == 0
