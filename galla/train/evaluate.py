"""Held-out loss: the samples set aside from each stream, and their mean loss during a run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from galla.train.config import TrainConfig
from galla.train.data import Example, collate
from galla.train.store import DiskExamples

if TYPE_CHECKING:
    from galla.train.trainer import Trainer


def split_held_out(
    cfg: TrainConfig, streams: dict[str, Sequence[Example]]
) -> tuple[dict[str, Sequence[Example]], dict[str, list[Example]]]:
    """``(train, held_out)``: ``run.eval_samples`` of each stream (at most a fifth), seeded, set aside;
    the training samples keep their order."""
    train, held_out = dict(streams), {}
    if cfg.run.eval_samples:
        for name, examples in streams.items():
            order = np.random.default_rng([cfg.run.seed, 7]).permutation(len(examples))
            k = min(cfg.run.eval_samples, len(examples) // 5)
            if isinstance(examples, DiskExamples):  # the held-out few in memory, the rest a view
                held_out[name] = examples.take(order[:k])
                train[name] = examples.subset(np.sort(order[k:]))
                continue
            held_out[name] = [examples[i] for i in order[:k]]
            train[name] = [examples[i] for i in np.sort(order[k:])]
    return train, held_out


@torch.no_grad()
def evaluate(trainer: Trainer, step: int, writer) -> dict[str, float]:
    """Mean loss per supervised token (LM) or per pair (DPO) of each stream's held-out samples; appended
    to ``trainer.evals`` and written under ``eval/`` when there is a writer."""
    t = trainer
    obj = t.objective  # the training one: its DPO reference (a frozen copy) is the initial model
    t.model.eval()
    out: dict[str, float] = {"step": step}
    bs = t.cfg.optim.batch_size
    for name, examples in t.held_out.items():
        total = torch.zeros(2, device=t.acc.device)
        # every process runs the same number of forwards (under FSDP each one is a collective); a
        # process whose share of the last global batch is empty runs one sample with weight 0
        for g in range(0, len(examples), bs * t.world):
            mine = examples[g + t.rank * bs : g + (t.rank + 1) * bs]
            weight = 1.0 if mine else 0.0
            b = collate(mine or examples[:1], t.model.tokenizer.pad_token_id).to(t.acc.device)
            with t.acc.autocast():
                loss_sum, _ = obj(b.input_ids, b.attention_mask, b.labels, b.graphs, b.num_pairs, b.ref)
            targets = float(sum(e.num_targets for e in mine))
            total += torch.stack([loss_sum.float() * weight, torch.tensor(targets, device=total.device)])
        total = t.acc.reduce(total, reduction="sum")
        out[name] = float(total[0] / total[1])
        if writer is not None:
            writer.add_scalar(f"eval/{name}_loss", out[name], step)
    t.model.train()
    t.evals.append(out)
    return out
