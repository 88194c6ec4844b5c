"""The end of a run: ``summary.json``, ``final/`` (GraphLLM, updates merged), ``export/`` (plain HF LLM),
``lora_adapter/`` for LoRA; under FSDP the trained tensors are first gathered onto the main process."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from galla.run_layout import RunDir
from galla.train import sharding
from galla.train.params import trainable_summary

if TYPE_CHECKING:
    from galla.train.trainer import Trainer


@dataclass
class TrainResult:
    out_dir: Path
    steps: int
    losses: list[float] = field(default_factory=list)
    tokens: int = 0
    seconds: float = 0.0
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0


def summary(trainer: Trainer, result: TrainResult) -> dict[str, Any]:
    """What ``summary.json`` says of a finished run."""
    t, cfg = trainer, trainer.cfg
    counts = trainable_summary(t.model)
    losses = result.losses
    return {
        "name": cfg.name,
        "method": cfg.method,
        "recipe": cfg.recipe,
        "params": t.params.kind if t.model.llm_trainable else "llm frozen",
        "steps": result.steps,
        "seconds": round(result.seconds, 2),
        "tokens_per_second": round(result.tokens_per_second, 1),
        "first_loss": losses[0],
        "last_loss": losses[-1],
        # the means of the first and last tenth of the steps (single batches are noisy)
        "loss_start": float(np.mean(losses[: max(1, len(losses) // 10)])),
        "loss_end": float(np.mean(losses[-max(1, len(losses) // 10) :])),
        "eval": t.evals,
        "trainable_parameters": counts["trainable"],
        "total_parameters": counts["total"],
        "samples": {k: len(v) for k, v in t.streams.items()},
        "dropped_over_max_length": t.dropped,
        "graph_loss_scale": t.plan.graph_scale,
        "processes": t.world,
        "strategy": f"{cfg.run.strategy} ({t.fsdp_units} decoder layers + root)" if t.fsdp else "ddp",
    }


def finish(trainer: Trainer, result: TrainResult) -> dict[str, Any]:
    """Write ``final/``, ``export/`` (``run.export``), ``lora_adapter/`` and ``summary.json``; every
    process calls it (under FSDP the others help gather). Returns the summary."""
    t = trainer
    t.acc.wait_for_everyone()
    info = summary(t, result)
    model, params = unsharded(t) if t.fsdp else (t.model, t.params)
    if t.acc.is_main_process:
        run = RunDir(t.out)
        if params.kind == "lora":
            params.peft_model.save_pretrained(run.lora_adapter)
        params.merge()
        model.save_pretrained(run.final)
        if t.cfg.run.export:
            model.export(run.export)
        run.summary.write_text(json.dumps(info, indent=2) + "\n")
    t.acc.wait_for_everyone()
    return info


def unsharded(trainer: Trainer):
    """FSDP: the trained model as a plain module on the main process's CPU, built afresh and filled
    with the gathered tensors (``(None, None)`` on the other processes, which only help gather)."""
    full = sharding.full_model_state(trainer.objective)
    if trainer.rank != 0:
        return None, None
    model, params = trainer.build(torch.device("cpu"), init=False)
    model.load_state_dict({k.removeprefix("model."): v for k, v in full.items()}, strict=True)
    return model, params
