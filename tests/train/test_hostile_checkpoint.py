"""Hostile checkpoints: files that would run code when unpickled, and ``latest`` pointers that leave the run.

A resumed run reads only tensors and plain values (``torch.load(weights_only=True)``, JSON, safetensors);
a planted pickle is refused with a message naming the file, its payload never runs, and nothing the user
has is changed."""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from galla.cli import main
from galla.train.checkpoint import (
    CheckpointError,
    latest_checkpoint,
    load_checkpoint,
    rng_state,
    set_rng_state,
)
from galla.train.trainer import train


class Payload:
    """Unpickling this writes ``marker`` (what a malicious checkpoint would do with worse code)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('payload ran')",))


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def run_with_checkpoint(make_cfg, sft_file, tmp_path):
    """A real run stopped after step 1 (a checkpoint at step 1) and its config as a YAML file."""
    cfg = make_cfg(data={"text": [str(sft_file)]}, run={"save_every": 1, "progress": False})
    train(cfg, stop_after=1)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg.to_dict()))
    return Path(cfg.run.out_dir), path


def _poison(file: Path, marker: Path) -> None:
    torch.save({"state": {0: Payload(marker)}, "param_groups": []}, file)


def test_the_payload_is_real(tmp_path):
    """The planted file does run code when read the old way, so the tests below can fail."""
    marker = tmp_path / "marker"
    _poison(tmp_path / "p.pt", marker)
    torch.load(tmp_path / "p.pt", weights_only=False)
    assert marker.read_text() == "payload ran"


def test_every_checkpoint_file_loads_without_pickled_code(run_with_checkpoint):
    ck = latest_checkpoint(run_with_checkpoint[0])
    names = sorted(p.name for p in ck.iterdir())
    assert names == [
        "model.safetensors",
        "optimizer.pt",
        "rng-0.json",
        "rng-0.safetensors",
        "scheduler.pt",
        "trainer_state.json",
    ]
    for name in ("optimizer.pt", "scheduler.pt"):
        assert torch.serialization.get_unsafe_globals_in_checkpoint(ck / name) == []
        torch.load(ck / name, weights_only=True)
    plain = json.loads((ck / "rng-0.json").read_text())
    assert isinstance(plain["python"]["state"], list) and isinstance(plain["numpy"]["keys"], list)


def test_rng_state_round_trips_exactly(run_with_checkpoint):
    ck = latest_checkpoint(run_with_checkpoint[0])
    set_rng_state(load_checkpoint(ck)["rng"])
    a = (random.random(), float(np.random.standard_normal()), torch.rand(3))
    set_rng_state(load_checkpoint(ck)["rng"])
    b = (random.random(), float(np.random.standard_normal()), torch.rand(3))
    assert a[:2] == b[:2] and torch.equal(a[2], b[2])


def test_an_old_plain_rng_pickle_still_resumes(run_with_checkpoint):
    """Checkpoints of older galla versions stored the RNG as a pickle with NumPy arrays: read safely."""
    ck = latest_checkpoint(run_with_checkpoint[0])
    random.seed(5)
    np.random.seed(5)
    old = rng_state()
    torch.save(old, ck / "rng-0.pt")
    (ck / "rng-0.json").unlink()
    (ck / "rng-0.safetensors").unlink()
    got = load_checkpoint(ck)["rng"]
    assert got["python"] == old["python"]
    assert np.array_equal(got["numpy"][1], old["numpy"][1]) and got["numpy"][2:] == old["numpy"][2:]
    assert torch.equal(got["torch"], old["torch"])


@pytest.mark.parametrize("target", ["optimizer.pt", "rng-0.pt"])
def test_resume_refuses_a_poisoned_file(run_with_checkpoint, tmp_path, capsys, target):
    run, config = run_with_checkpoint
    ck = latest_checkpoint(run)
    marker = tmp_path / "marker"
    if target == "rng-0.pt":  # an old-format checkpoint: the RNG state is a pickle
        (ck / "rng-0.json").unlink()
        (ck / "rng-0.safetensors").unlink()
    _poison(ck / target, marker)
    before = _snapshot(tmp_path)
    assert main(["train", str(config), "--resume"]) == 2
    err = capsys.readouterr().err
    assert str(ck / target) in err.replace("\n", "")
    assert "not loaded" in err and "would run code" in err
    assert not marker.exists()
    assert _snapshot(tmp_path) == before
    with pytest.raises(CheckpointError, match="not loaded"):
        load_checkpoint(ck)
    assert not marker.exists()


@pytest.mark.parametrize("target", ["optimizer.pt", "rng-0.pt"])
def test_default_run_auto_resume_refuses_a_poisoned_file(run_with_checkpoint, tmp_path, capsys, target):
    """Plain ``galla train`` continues a default run's newest checkpoint by itself: the same refusal."""
    run, _ = run_with_checkpoint
    out = tmp_path / "default"
    (out / "graphs").mkdir(parents=True)
    (out / "graphs" / "manifest.json").write_text("{}\n")  # the default data exists already
    (out / "docstrings.jsonl").write_text("")
    shutil.copytree(run / "checkpoints", out / "stage1" / "checkpoints")
    ck = latest_checkpoint(out / "stage1")
    if target == "rng-0.pt":
        (ck / "rng-0.json").unlink()
        (ck / "rng-0.safetensors").unlink()
    marker = tmp_path / "marker"
    _poison(ck / target, marker)
    before = _snapshot(tmp_path)
    assert main(["train", "--out", str(out)]) == 2
    err = capsys.readouterr().err.replace("\n", "")
    assert str(ck / target) in err and "not loaded" in err
    assert not marker.exists()
    assert _snapshot(tmp_path) == before
    assert not os.path.exists(out / "stage2")
