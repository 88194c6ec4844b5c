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
from safetensors.torch import load_file

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


# --- the latest pointer ---------------------------------------------------------------------------


def _steps(run: Path) -> tuple[Path, Path]:
    """(checkpoints dir, its only checkpoint step-000001)."""
    root = run / "checkpoints"
    return root, root / "step-000001"


@pytest.mark.parametrize("pointer", ["absolute", "../outside/step-000009", "step-000009/../../../outside"])
def test_latest_never_leaves_the_run(run_with_checkpoint, tmp_path, pointer):
    run, _ = run_with_checkpoint
    root, own = _steps(run)
    outside = tmp_path / "outside" / "step-000009"  # a complete checkpoint outside the run
    shutil.copytree(own, outside)
    (root / "latest").write_text(f"{outside if pointer == 'absolute' else pointer}\n")
    before = _snapshot(tmp_path / "outside")
    assert latest_checkpoint(run) == own
    assert _snapshot(tmp_path / "outside") == before


def test_latest_naming_a_missing_or_incomplete_step_falls_back(run_with_checkpoint):
    run, _ = run_with_checkpoint
    root, own = _steps(run)
    (root / "latest").write_text("step-000007\n")  # missing
    assert latest_checkpoint(run) == own
    partial = root / "step-000007"
    partial.mkdir()
    (partial / "trainer_state.json").write_text(json.dumps({"step": 7}))  # incomplete
    assert latest_checkpoint(run) == own
    (root / "latest").unlink()  # no pointer at all: the newest complete one
    assert latest_checkpoint(run) == own
    newer = root / "step-000012"
    shutil.copytree(own, newer)
    assert latest_checkpoint(run) == newer  # by step number, not by the pointer's absence


def test_a_symlinked_step_is_not_followed(run_with_checkpoint, tmp_path):
    run, _ = run_with_checkpoint
    root, own = _steps(run)
    outside = tmp_path / "elsewhere"
    shutil.copytree(own, outside)
    (root / "step-000050").symlink_to(outside, target_is_directory=True)
    (root / "latest").write_text("step-000050\n")
    assert latest_checkpoint(run) == own


def test_resume_without_any_checkpoint_says_so(make_cfg, sft_file, tmp_path, capsys):
    cfg = make_cfg(data={"text": [str(sft_file)]})
    root = Path(cfg.run.out_dir) / "checkpoints"
    root.mkdir(parents=True)
    (root / "latest").write_text("/etc\n")
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg.to_dict()))
    before = _snapshot(tmp_path)
    assert main(["train", str(path), "--resume"]) == 2
    assert "--resume: no checkpoint in" in capsys.readouterr().err
    assert _snapshot(tmp_path) == before


def test_a_moved_run_directory_resumes_to_the_same_weights(make_cfg, sft_file, tmp_path, capsys):
    def cfg(out: Path):
        return make_cfg(
            data={"text": [str(sft_file)]},
            optim={"max_steps": 3},
            run={"out_dir": str(out), "save_every": 1, "progress": False},
        )

    full = train(cfg(tmp_path / "full"))
    train(cfg(tmp_path / "part"), stop_after=2)
    moved = tmp_path / "moved" / "part"
    moved.parent.mkdir()
    shutil.move(tmp_path / "part", moved)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg(moved).to_dict()))
    assert main(["train", str(path), "--resume"]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "galla train: resuming" in err and "at step 2/3" in err
    assert json.loads((moved / "summary.json").read_text())["steps"] == 3
    a = load_file(latest_checkpoint(tmp_path / "full") / "model.safetensors")
    b = load_file(latest_checkpoint(moved) / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    state = json.loads((latest_checkpoint(moved) / "trainer_state.json").read_text())
    assert state["losses"] == full.losses
