"""Two ``galla train`` runs into one run directory: the second stops at once (exit 2) naming the folder
and the holder; the holder's kill -9 frees it."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import yaml

from data_builders.lock import LOCK_NAME
from galla.cli import main

ROOT = Path(__file__).resolve().parents[2]
HOLD = (
    "import sys, time; from pathlib import Path; from data_builders.lock import acquire; "
    "acquire(Path(sys.argv[1]), 'galla train run.out_dir'); print('held', flush=True); time.sleep(120)"
)


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_second_train_into_a_held_run_dir_stops(make_cfg, sft_file, tmp_path, capsys):
    cfg = make_cfg(data={"text": [str(sft_file)]}, optim={"max_steps": 1})
    run = Path(cfg.run.out_dir)
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(cfg.to_dict()))
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(run)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        assert json.loads((run / LOCK_NAME).read_text())["pid"] == holder.pid
        before = _snapshot(tmp_path)
        for args in (["train", str(config)], ["train", str(config), "--resume"]):
            assert main(args) == 2
            err = " ".join(capsys.readouterr().err.split())
            assert f"galla train: {run}: in use by another galla train run.out_dir run" in err
            assert f"pid {holder.pid} on {socket.gethostname()}" in err
            assert _snapshot(tmp_path) == before
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert main(["train", str(config)]) == 0
    assert (run / "summary.json").exists() and not (run / LOCK_NAME).exists()


def test_a_refused_run_leaves_no_run_dir_behind(make_cfg, tmp_path, capsys):
    """The lock creates the run directory; a run that fails before writing anything removes it again."""
    missing = tmp_path / "missing.jsonl"
    cfg = make_cfg(data={"text": [str(missing)]})
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(cfg.to_dict()))
    assert main(["train", str(config)]) == 2
    assert not Path(cfg.run.out_dir).exists()
