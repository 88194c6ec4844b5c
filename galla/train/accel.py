"""A run's processes: the ``accelerate`` set-up (precision, DDP, the strategy check) and the run
directory's lock, taken by the main process and stopped at by every process together."""

from __future__ import annotations

from pathlib import Path

import torch

from data_builders.lock import FolderBusy
from data_builders.lock import acquire as acquire_folder
from data_builders.lock import release as release_folder
from data_builders.outputs import write_failure
from galla.train.config import TrainConfig
from galla.train.errors import TrainingError
from galla.train.log import console
from galla.train.sharding import check_strategy


def make_accelerator(cfg: TrainConfig):
    """The run's ``Accelerator``: CPU when there is no CUDA, bf16 autocast for ``run.precision`` bf16
    (``auto``: bf16 on CUDA, fp32 on CPU); refuses accelerate's own FSDP and DeepSpeed plugins."""
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs

    cpu = not torch.cuda.is_available()
    precision = cfg.run.precision
    if precision == "auto":
        precision = "fp32" if cpu else "bf16"
    acc = Accelerator(
        cpu=cpu,  # without it accelerate ignores a torchrun/accelerate launch on CPU (gloo)
        mixed_precision="bf16" if precision == "bf16" else "no",
        # stage 2: text batches leave the encoder and adapter without gradients
        kwargs_handlers=[
            DistributedDataParallelKwargs(
                find_unused_parameters=cfg.data.has_graph_stream and cfg.data.has_text_stream
            )
        ],
    )
    check_strategy(acc.distributed_type)
    if cfg.run.strategy != "ddp" and acc.num_processes == 1:
        console.print(f"galla train: one process, so run.strategy={cfg.run.strategy} has nothing to shard")
    return acc


def lock_run_dir(acc, out: Path) -> bool:
    """Take ``out/.galla.lock`` on the main process (one run per directory); whether this process holds
    it. A directory in use, or one that cannot be created, raises :class:`TrainingError` on every
    process together (the others would otherwise wait in a collective)."""
    locked, busy = False, None
    if acc.process_index == 0:
        try:
            acquire_folder(out, "galla train run.out_dir")
            locked = True
        except FolderBusy as err:
            busy = TrainingError(str(err))
        except OSError as err:  # a folder that cannot be created (read-only mount, no room)
            busy = TrainingError(write_failure(err, "run.out_dir", out))
    if acc.num_processes > 1:
        flag = torch.tensor(0.0 if busy is None else 1.0, device=acc.device)
        if acc.reduce(flag, reduction="sum").item() and busy is None:
            busy = TrainingError(f"{out}: in use by another run (see the main process's message)")
    if busy is not None:
        if locked:
            release_folder(out)
        raise busy
    return locked


def unlock_run_dir(out: Path) -> None:
    release_folder(out)
