"""Training checkpoints, written atomically: a killed run never leaves a half-written checkpoint behind.

Layout of ``RUN/checkpoints/step-000120/``: ``model.safetensors`` (trainable tensors and SVFT's frozen
singular vectors, GraphLLM-qualified names), ``optimizer.pt``, ``scheduler.pt``, ``rng-<rank>.pt`` (Python,
NumPy and torch generator states of every process) and ``trainer_state.json`` (step, tokens, loss history,
the config). Every process writes into ``.step-000120.tmp``; after a barrier the main process renames it
into place and rewrites ``latest`` (a one-line file, replaced atomically). Only the newest
``keep`` checkpoints are kept.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

LATEST = "latest"


def checkpoint_dir(run_dir: Path) -> Path:
    return run_dir / "checkpoints"


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint of a run, or ``None``."""
    pointer = checkpoint_dir(run_dir) / LATEST
    if not pointer.exists():
        return None
    path = checkpoint_dir(run_dir) / pointer.read_text().strip()
    return path if (path / "trainer_state.json").exists() else None


def _replace_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def rng_state() -> dict[str, Any]:
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    run_dir: Path,
    step: int,
    *,
    model_state: dict[str, torch.Tensor],
    optimizer: torch.optim.Optimizer | dict[str, Any],
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    trainer_state: dict[str, Any],
    rank: int = 0,
    world_size: int = 1,
    barrier=lambda: None,
    keep: int = 2,
    name: str | None = None,
) -> Path:
    """Write checkpoint ``step`` (all processes call this; the main one writes the shared files).

    ``optimizer``: the optimizer, or its state dict already gathered (FSDP)."""
    root = checkpoint_dir(run_dir)
    name = name or f"step-{step:06d}"
    final, tmp = root / name, root / f".{name}.tmp"
    if rank == 0:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    barrier()
    torch.save(rng_state(), tmp / f"rng-{rank}.pt")
    if rank == 0:
        save_file({k: v.contiguous().cpu() for k, v in model_state.items()}, tmp / "model.safetensors")
        opt_state = optimizer if isinstance(optimizer, dict) else optimizer.state_dict()
        torch.save(opt_state, tmp / "optimizer.pt")
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        state = {**trainer_state, "step": step, "world_size": world_size}
        (tmp / "trainer_state.json").write_text(json.dumps(state, indent=2) + "\n")
    barrier()
    if rank == 0:
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        _replace_text(root / LATEST, name + "\n")
        _prune(root, keep, final)
    barrier()
    return final


def _prune(root: Path, keep: int, current: Path) -> None:
    steps = sorted(p for p in root.glob("step-*") if p.is_dir() and p != current)
    for old in steps[: max(len(steps) - (keep - 1), 0)]:
        shutil.rmtree(old, ignore_errors=True)


def load_checkpoint(path: Path, rank: int = 0) -> dict[str, Any]:
    """Read a checkpoint: ``model`` tensors, ``optimizer``/``scheduler`` states, ``rng`` and ``state``."""
    state = json.loads((path / "trainer_state.json").read_text())
    rng_file = path / f"rng-{rank}.pt"
    if not rng_file.exists():
        raise ValueError(
            f"{path} was written by {state.get('world_size')} process(es) and has no state for rank {rank}; "
            "resume with the same number of processes"
        )
    return {
        "model": load_file(path / "model.safetensors"),
        "optimizer": torch.load(path / "optimizer.pt", weights_only=False),
        "scheduler": torch.load(path / "scheduler.pt", weights_only=True),
        "rng": torch.load(rng_file, weights_only=False),
        "state": state,
    }
