"""AdamW (no weight decay on 1-D parameters) and the cosine schedule with warmup and a floor."""

from __future__ import annotations

import math

import torch

from galla.config import ConfigError
from galla.train.config import TrainConfig


def cosine_lr(step: int, *, lr: float, min_lr: float, warmup: int, total: int) -> float:
    """Linear warmup from 0, then cosine decay from ``lr`` to the floor ``min_lr`` at ``total``."""
    if warmup and step < warmup:
        return lr * (step + 1) / warmup
    progress = min(max(step - warmup, 0) / max(total - warmup, 1), 1.0)
    return min_lr + (lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    if not decay and not no_decay:
        raise ConfigError("model: nothing is trainable; check the *_trainable flags and params.kind")
    groups = [
        {"params": decay, "weight_decay": cfg.optim.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    params = decay + no_decay
    # the fused kernel: one pass per tensor instead of a chain of foreach ops, much faster on CPU
    fused = all(p.device.type in ("cpu", "cuda") and p.dtype.is_floating_point for p in params)
    return torch.optim.AdamW(
        [g for g in groups if g["params"]],
        lr=cfg.optim.lr,
        betas=tuple(cfg.optim.betas),
        eps=cfg.optim.eps,
        fused=fused,
    )


def make_scheduler(
    optimizer: torch.optim.Optimizer, cfg: TrainConfig, total: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """:func:`cosine_lr` over ``total`` steps, as a factor of ``optim.lr``."""
    o = cfg.optim
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: cosine_lr(s, lr=o.lr, min_lr=o.min_lr, warmup=o.warmup_steps, total=total) / o.lr,
    )
