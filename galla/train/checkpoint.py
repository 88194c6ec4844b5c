"""Training checkpoints, written atomically: a killed run never leaves a half-written checkpoint behind.

Layout of ``RUN/checkpoints/step-000120/``: ``model.safetensors`` (trainable tensors and SVFT's frozen
singular vectors, GraphLLM-qualified names), ``optimizer.pt``, ``scheduler.pt``, per process
``rng-<rank>.json`` (Python and NumPy generator states as plain integers) and ``rng-<rank>.safetensors``
(torch CPU and CUDA generator states), and ``trainer_state.json`` (step, tokens, loss history, the config).
Nothing in a checkpoint is read as a general pickle: the two ``.pt`` files hold only tensors and plain
values and are read with ``torch.load(weights_only=True)``, so a checkpoint from elsewhere cannot run code.
Every process writes into ``.step-000120.tmp``; after a barrier the main process renames it into place
and rewrites ``latest`` (a one-line file, replaced atomically). Only the newest ``keep`` checkpoints are
kept.
"""

from __future__ import annotations

import json
import os
import pickle
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from galla.run_layout import LATEST, STEP_NAME, RunDir


class CheckpointError(ValueError):
    """A checkpoint cannot be read safely; the message names the file and what to do."""


def checkpoint_dir(run_dir: Path) -> Path:
    return RunDir(run_dir).checkpoints


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint of a run, or ``None``.

    ``latest`` is followed only to a sibling ``step-N`` directory (an absolute path, ``../x`` or a
    symlink there is not followed: a run directory from elsewhere must not point a resume outside
    itself); when it names nothing usable, the complete checkpoint with the highest step is taken."""
    root = checkpoint_dir(run_dir)
    try:
        named = (root / LATEST).read_text().strip()
    except (OSError, UnicodeDecodeError):
        named = ""
    if STEP_NAME.fullmatch(named) and _complete(root / named):
        return root / named
    steps = [p for p in root.glob("step-*") if STEP_NAME.fullmatch(p.name)] if root.is_dir() else []
    for path in sorted(steps, key=lambda p: int(p.name.removeprefix("step-")), reverse=True):
        if _complete(path):
            return path
    return None


CHECKPOINT_FILES = ("trainer_state.json", "model.safetensors", "optimizer.pt", "scheduler.pt")


def _complete(path: Path) -> bool:
    """Whether ``path`` is a real directory (not a symlink) holding every file of a checkpoint."""
    if path.is_symlink() or not path.is_dir():
        return False
    rng = (path / "rng-0.json").is_file() and (path / "rng-0.safetensors").is_file()
    return (rng or (path / "rng-0.pt").is_file()) and all((path / f).is_file() for f in CHECKPOINT_FILES)


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


def _save_rng(state: dict[str, Any], tmp: Path, rank: int) -> None:
    """Write ``state`` as JSON (Python and NumPy: integers and one float, which JSON round-trips
    exactly) and safetensors (the torch generators' byte tensors): formats that cannot hold code."""
    version, internal, gauss = state["python"]
    kind, keys, pos, has_gauss, cached = state["numpy"]
    plain = {
        "python": {"version": version, "state": list(internal), "gauss_next": gauss},
        "numpy": {
            "kind": kind,
            "keys": [int(k) for k in keys],
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
    }
    (tmp / f"rng-{rank}.json").write_text(json.dumps(plain) + "\n")
    tensors = {"torch": state["torch"]} | {f"cuda.{i}": t for i, t in enumerate(state["cuda"])}
    save_file({k: v.contiguous().cpu() for k, v in tensors.items()}, tmp / f"rng-{rank}.safetensors")


def _load_rng(path: Path, rank: int) -> dict[str, Any]:
    """The generator states :func:`_save_rng` wrote, in the form :func:`set_rng_state` takes."""
    name = f"rng-{rank}.json"
    try:
        plain = json.loads((path / name).read_text())
        py, npy = plain["python"], plain["numpy"]
        tensors = load_file(path / f"rng-{rank}.safetensors")
        return {
            "python": (py["version"], tuple(py["state"]), py["gauss_next"]),
            "numpy": (
                npy["kind"],
                np.asarray(npy["keys"], dtype=np.uint32),
                npy["pos"],
                npy["has_gauss"],
                npy["cached_gaussian"],
            ),
            "torch": tensors["torch"],
            "cuda": [tensors[f"cuda.{i}"] for i in range(sum(k.startswith("cuda.") for k in tensors))],
        }
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise CheckpointError(
            f"{path / name}: damaged RNG state ({err}); resume from another checkpoint or start again"
        ) from None


def _load_tensors(file: Path, *, numpy_arrays: bool = False) -> Any:
    """``torch.load(file, weights_only=True)``: tensors and plain containers only, never code.

    ``numpy_arrays`` also admits NumPy arrays (rebuilt from their bytes, no code), which the RNG files of
    older galla versions hold. Anything else (a pickle that would call a function) is refused."""
    allowed = (
        [np._core.multiarray._reconstruct, np.ndarray, np.dtype, np.dtypes.UInt32DType]
        if numpy_arrays
        else []
    )
    try:
        with torch.serialization.safe_globals(allowed):
            return torch.load(file, weights_only=True)
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[-1][:200]
        raise CheckpointError(
            f"{file}: holds more than tensors and plain values, so it was not loaded (reading it would run "
            f"code from the file: {first}); resume only from checkpoints galla wrote, or start the run "
            "again without --resume in a new run.out_dir"
        ) from None
    except (OSError, RuntimeError, EOFError) as err:
        raise CheckpointError(
            f"{file}: unreadable ({err}); resume from another checkpoint or start again"
        ) from None


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
    name = name or RunDir(run_dir).checkpoint(step).name
    if not STEP_NAME.fullmatch(name):
        raise ValueError(f"checkpoint name {name!r}: must be step-N (what latest_checkpoint follows)")
    final, tmp = root / name, root / f".{name}.tmp"
    try:
        if rank == 0:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
        barrier()
        _save_rng(rng_state(), tmp, rank)
        if rank == 0:
            save_file({k: v.contiguous().cpu() for k, v in model_state.items()}, tmp / "model.safetensors")
            opt_state = optimizer if isinstance(optimizer, dict) else optimizer.state_dict()
            torch.save(opt_state, tmp / "optimizer.pt")
            torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
            state = {**trainer_state, "step": step, "world_size": world_size}
            (tmp / "trainer_state.json").write_text(json.dumps(state, indent=2) + "\n")
    except BaseException:  # a full disk: the half-written copy goes (its room back), the last one stays
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    barrier()
    if rank == 0:
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        _replace_text(root / LATEST, name + "\n")
        _prune(root, keep, final)
    barrier()
    return final


def _prune(root: Path, keep: int, current: Path) -> None:
    steps = sorted(
        (p for p in root.glob("step-*") if STEP_NAME.fullmatch(p.name) and p.is_dir() and p != current),
        key=lambda p: int(p.name.removeprefix("step-")),
    )
    for old in steps[: max(len(steps) - (keep - 1), 0)]:
        shutil.rmtree(old, ignore_errors=True)


def load_checkpoint(path: Path, rank: int = 0) -> dict[str, Any]:
    """Read a checkpoint: ``model`` tensors, ``optimizer``/``scheduler`` states, ``rng`` and ``state``."""
    state = json.loads((path / "trainer_state.json").read_text())
    legacy = path / f"rng-{rank}.pt"  # galla before JSON RNG files: a pickle, read only if it is plain
    if not (path / f"rng-{rank}.json").exists() and not legacy.exists():
        raise CheckpointError(
            f"{path} was written by {state.get('world_size')} process(es) and has no state for rank {rank}; "
            "resume with the same number of processes"
        )
    return {
        "model": load_file(path / "model.safetensors"),
        "optimizer": _load_tensors(path / "optimizer.pt"),
        "scheduler": _load_tensors(path / "scheduler.pt"),
        "rng": _load_rng(path, rank) if (path / f"rng-{rank}.json").exists() else _legacy_rng(legacy),
        "state": state,
    }


def _legacy_rng(file: Path) -> dict[str, Any]:
    state = _load_tensors(file, numpy_arrays=True)
    if not isinstance(state, dict) or not {"python", "numpy", "torch", "cuda"} <= state.keys():
        raise CheckpointError(f"{file}: not an RNG state; resume from another checkpoint or start again")
    return state
