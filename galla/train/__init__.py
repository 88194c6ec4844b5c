"""Training: one loop for GALLa stage 1/2 and the baselines (SFT, DPO; full, LoRA, SVFT).

>>> from galla.train import load_config, train
>>> result = train(load_config("configs/sft_smollm2.yaml", ["optim.max_steps=10"]))  # doctest: +SKIP
"""

from galla.train.config import TrainConfig, apply_overrides, load_config
from galla.train.trainer import Trainer, TrainingError, TrainResult, cosine_lr, train

__all__ = [
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "TrainingError",
    "apply_overrides",
    "cosine_lr",
    "load_config",
    "train",
]
