"""Two CPU processes (DDP over gloo, by ``accelerate launch``) against one process, same global batch."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys

import pytest
import torch
import yaml
from safetensors.torch import load_file
from tiny import TINY_ENCODER

from galla.train.checkpoint import latest_checkpoint


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(shutil.which("accelerate") is None, reason="accelerate launcher not on PATH")
def test_two_processes_match_one(make_cfg, graph_dir, sft_file, tmp_path):
    cfg = make_cfg(
        data={"graphs": [str(graph_dir)], "graph_tasks": ["graph2code", "graph_qa"], "text": [str(sft_file)]},
        model={"encoder": {**TINY_ENCODER, "dropout": 0.0}},  # dropout masks differ with the process count
        optim={"max_steps": 3, "batch_size": 2, "grad_accum": 2},
        run={"out_dir": str(tmp_path / "two"), "progress": False, "save_every": 3},
    )
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg.to_dict()))
    two = [
        "accelerate",
        "launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(_free_port()),
        "-m",
        "galla.cli",
        "train",
        str(path),
    ]
    one = [
        sys.executable,
        "-m",
        "galla.cli",
        "train",
        str(path),
        "optim.batch_size=4",
        f"run.out_dir={tmp_path / 'one'}",
    ]
    for cmd in (two, one):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
    states = {}
    for name in ("one", "two"):
        ck = latest_checkpoint(tmp_path / name)
        states[name] = (
            json.loads((ck / "trainer_state.json").read_text()),
            load_file(ck / "model.safetensors"),
        )
    (s1, w1), (s2, w2) = states["one"], states["two"]
    assert s1["world_size"] == 1 and s2["world_size"] == 2
    assert s2["losses"] == pytest.approx(s1["losses"], rel=1e-4)
    assert s1["tokens"] == s2["tokens"]
    # Weights agree to float noise. Adam turns the pure-noise gradients of parameters the loss cannot see
    # (an attention key bias) into +-lr steps, so compare in bulk rather than element by element.
    diffs = torch.cat([(w1[k] - w2[k]).abs().flatten() for k in w1])
    assert w1.keys() == w2.keys()
    assert (diffs < 1e-5).float().mean() > 0.99 and diffs.max() < 3 * cfg.optim.lr * cfg.optim.max_steps
