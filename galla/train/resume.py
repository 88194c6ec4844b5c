"""A run's checkpoints as the trainer uses them: which one ``--resume`` continues, whether its config
may be resumed with this one, putting its state back, and writing one (gathered whole under FSDP)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from galla.run_layout import RunDir
from galla.train import sharding
from galla.train.checkpoint import latest_checkpoint, save_checkpoint, set_rng_state
from galla.train.config import TrainConfig
from galla.train.errors import TrainingError

if TYPE_CHECKING:
    from galla.train.trainer import Trainer

RESUME_KEYS = (
    "run.eval_every",
    "optim.max_steps",
    "optim.epochs",
    "run.save_every",
    "run.keep_checkpoints",
    "run.progress",
    "run.log_every",
    "run.export",
    "run.out_dir",
)
"""Config keys a resumed run may change (run length and bookkeeping, not what is computed; ``out_dir``
so that a moved or copied run directory resumes)."""


def checkpoint_to_resume(out: Path, resume: bool) -> Path | None:
    """The checkpoint ``--resume`` continues (``None`` without it); refuses ``--resume`` without a
    checkpoint, and a run directory holding checkpoints without ``--resume``."""
    latest = latest_checkpoint(out)
    if resume and latest is None:
        raise TrainingError(f"--resume: no checkpoint in {RunDir(out).checkpoints}; start without --resume")
    if not resume and latest is not None:
        raise TrainingError(
            f"{out} already holds a run with checkpoints; pass --resume to continue it or set "
            "run.out_dir to a new directory (nothing was changed)"
        )
    return latest if resume else None


def _flat(cfg: TrainConfig) -> dict[str, Any]:
    out = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        else:
            out[prefix] = value

    walk("", cfg.to_dict())
    return out


def check_resume_config(cfg: TrainConfig, saved: dict) -> None:
    """Refuse to resume a checkpoint written with ``saved`` under ``cfg`` if anything but
    :data:`RESUME_KEYS` differs."""
    now = _flat(cfg)
    then = _flat(TrainConfig.from_dict(saved))
    diff = [k for k in sorted(now) if now[k] != then.get(k) and k not in RESUME_KEYS]
    if diff:
        changes = ", ".join(f"{k}: {then.get(k)!r} -> {now[k]!r}" for k in diff[:6])
        raise TrainingError(
            f"--resume with a different config ({changes}); only {', '.join(RESUME_KEYS)} "
            "may change between a run and its resumption"
        )


def load_model_state(model: torch.nn.Module, state: dict[str, torch.Tensor], checkpoint: Path) -> None:
    """Copy a checkpoint's tensors into ``model``'s (before sharding: plain tensors take the values)."""
    own = dict(model.named_parameters()) | dict(model.named_buffers())
    missing = sorted(set(state) - set(own))
    if missing:
        raise TrainingError(f"checkpoint {checkpoint} holds tensors this model lacks: {missing[:5]}")
    with torch.no_grad():
        for k, v in state.items():
            own[k].copy_(v)


def restore(trainer: Trainer, ck: dict[str, Any], optimizer, scheduler) -> None:
    """Put a checkpoint's optimizer, schedule, RNG and counters back (the weights are already in)."""
    t = trainer
    if t.fsdp:
        sharding.load_optimizer_state(t.objective, optimizer, ck["optimizer"])
    else:
        optimizer.load_state_dict(ck["optimizer"])
    scheduler.load_state_dict(ck["scheduler"])
    set_rng_state(ck["rng"])
    t.done, t.history = ck["state"]["step"], ck["state"]["losses"]
    t.tokens_done = ck["state"]["tokens"]
    t.evals = ck["state"].get("evals", [])


def save(trainer: Trainer, step: int, optimizer, scheduler, history: list[float], tokens: int) -> Path:
    """Write checkpoint ``step`` (every process calls it); a failed write (a full disk) raises
    :class:`TrainingError` saying whether the previous checkpoint is intact."""
    t = trainer
    state = {
        "evals": t.evals,
        "losses": history,
        "tokens": tokens,
        "config": t.cfg.to_dict(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    model_state = t.params.checkpoint_state()
    if t.fsdp:  # gather whole tensors (a collective) so the files match a DDP checkpoint
        full = sharding.full_model_state(t.objective)
        model_state = {k: full[f"model.{k}"] for k in model_state} if t.rank == 0 else {}
        optimizer = sharding.full_optimizer_state(t.objective, optimizer)
    previous = latest_checkpoint(t.out)
    try:
        return save_checkpoint(
            t.out,
            step,
            model_state=model_state,
            optimizer=optimizer,
            scheduler=scheduler,
            trainer_state=state,
            rank=t.rank,
            world_size=t.world,
            barrier=t.acc.wait_for_everyone,
            keep=t.cfg.run.keep_checkpoints,
        )
    except (OSError, RuntimeError) as err:  # a full disk: OSError (safetensors, json), RuntimeError
        # ("[enforce fail at inline_container.cc] ... file write failed", torch.save)
        reason = " ".join(str(err).split()) or type(err).__name__
        kept = (
            f"the previous checkpoint {previous.name} is intact (--resume continues from it)"
            if previous is not None
            else "no earlier checkpoint was written"
        )
        raise TrainingError(
            f"could not write checkpoint {RunDir(t.out).checkpoint(step)}: {reason}; free "
            f"space or change run.out_dir; {kept}"
        ) from None
