"""``run.strategy: fsdp`` / ``fsdp_grad_op``: PyTorch FSDP2 over the processes of an ``accelerate launch``.

Each decoder layer of the LLM (the classes its ``_no_split_modules`` names) becomes one FSDP unit and
the whole training objective (embeddings, LM head, GNN encoder, adapter) the root unit: parameters,
gradients and AdamW state are sharded over the processes, and a unit's parameters are gathered only
while it runs. Checkpoints and exports go through full state dicts gathered on the main process, so a
checkpoint has the same files as a DDP one. :func:`check_strategy` refuses accelerate's own FSDP and
DeepSpeed plugins before any work.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from galla.train.errors import TrainingError

_FULL = {"full_state_dict": True, "cpu_offload": True}


def shard(objective: nn.Module, llm: nn.Module, *, reshard_after_forward: bool = True) -> int:
    """Apply ``fully_shard`` to every decoder layer under ``objective``, then to ``objective``; returns
    the number of layers sharded. Call before the optimizer is built (it must see the sharded params).

    ``reshard_after_forward=False`` keeps each layer's gathered parameters until its backward
    (SHARD_GRAD_OP)."""
    from torch.distributed.fsdp import fully_shard

    base = getattr(llm, "get_base_model", lambda: llm)()  # peft wraps the HF model
    layers = set(getattr(base, "_no_split_modules", None) or ())
    if not layers:
        raise ValueError(
            f"run.strategy: fsdp needs the LLM's decoder layer class ({type(base).__name__} declares no "
            "_no_split_modules); use run.strategy: ddp"
        )
    units = [m for m in objective.modules() if type(m).__name__ in layers]
    for m in units:
        fully_shard(m, reshard_after_forward=reshard_after_forward)
    fully_shard(objective, reshard_after_forward=reshard_after_forward)
    return len(units)


def full_model_state(module: nn.Module) -> dict[str, Tensor]:
    """The whole state dict on CPU on the main process (``{}`` elsewhere); every process must call it."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    return get_model_state_dict(module, options=StateDictOptions(**_FULL))


def full_optimizer_state(module: nn.Module, optimizer: torch.optim.Optimizer) -> dict:
    """The optimizer state keyed by parameter name, whole, on the main process; a collective."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

    return get_optimizer_state_dict(module, optimizer, options=StateDictOptions(**_FULL))


def load_optimizer_state(module: nn.Module, optimizer: torch.optim.Optimizer, state: dict) -> None:
    """Load a state from :func:`full_optimizer_state` (every process passes the whole dict)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

    set_optimizer_state_dict(module, optimizer, state, options=StateDictOptions(full_state_dict=True))


def full_tensor(t: Tensor) -> Tensor:
    """A DTensor's global value (e.g. the gradient norm); other tensors as they are."""
    from torch.distributed.tensor import DTensor

    return t.full_tensor() if isinstance(t, DTensor) else t


SUPPORTED_STRATEGIES = frozenset({"NO", "MULTI_CPU", "MULTI_GPU"})
"""accelerate distributed types the trainer runs under: one process, or plain multi-process (CPU gloo /
CUDA nccl), where ``run.strategy`` picks DDP or galla's own FSDP2 sharding."""


def check_strategy(distributed_type) -> None:
    """Refuse, before any work, accelerate's own FSDP and DeepSpeed plugins.

    galla shards with FSDP2 itself (``run.strategy: fsdp``) so that checkpoints and exports are
    gathered correctly; accelerate's plugins would wrap the model without that."""
    name = getattr(distributed_type, "value", str(distributed_type))
    if name not in SUPPORTED_STRATEGIES:
        raise TrainingError(
            f"accelerate distributed_type {name}: launch galla train with a plain multi-process config "
            "(accelerate launch --multi_gpu, or configs/accelerate/ddp.yaml) and set run.strategy=fsdp "
            "to shard; accelerate's FSDP and DeepSpeed plugins are not supported"
        )
