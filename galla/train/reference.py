"""DPO's reference policy: which one a run uses, and its log-probs.

- ``disable_adapter``: the base model under the LoRA/SVFT update (no copy, one more forward per batch);
- ``copy``: a frozen deep copy of the initial model, held outside the trained module so DDP and FSDP
  never see its parameters;
- ``precompute``: the initial policy's log-probs of every pair, computed once before training (each
  process its share, then gathered) and stored in the run directory as ``ref_logps.safetensors``; a
  resumed run reads them back. The examples then carry them (``Example.ref``) and batches need no
  reference forward.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from torch import Tensor

from galla.config import ConfigError
from galla.model import GraphLLM
from galla.train.data import Example, collate
from galla.train.losses import sequence_logps
from galla.train.objective import supervised_logps
from galla.train.params import Parameterisation

REF_FILE = "ref_logps.safetensors"


def choose(reference: str, params_kind: str) -> str:
    """``dpo.reference`` resolved: ``auto`` is ``disable_adapter`` for LoRA/SVFT, else ``precompute``."""
    if reference == "auto":
        reference = "disable_adapter" if params_kind in ("lora", "svft") else "precompute"
    if reference == "disable_adapter" and params_kind == "full":
        raise ConfigError(
            "dpo.reference: disable_adapter needs params.kind lora or svft; use copy or precompute"
        )
    return reference


class Reference:
    """The reference of one DPO run; build it from the *initial* model (before a checkpoint is loaded).

    Args:
        kind: ``disable_adapter``, ``copy`` or ``precompute`` (see :func:`choose`).
        model: the GraphLLM being trained.
        params: its parameterisation (``disable_adapter`` switches its update off).
    """

    def __init__(self, kind: str, model: GraphLLM, params: Parameterisation) -> None:
        self.kind, self.model, self.params = kind, model, params
        self._copy: GraphLLM | None = None
        if kind == "copy":
            self._copy = copy.deepcopy(model).eval()
            self._copy.requires_grad_(False)

    @torch.no_grad()
    def logps(
        self, input_ids: Tensor, attention_mask: Tensor, labels: Tensor, graphs: list, num_pairs: int
    ) -> Tensor:
        """``(P, 2)`` reference log-probs (chosen, rejected) of a DPO batch."""
        if self._copy is not None:
            logps, rows = supervised_logps(self._copy, input_ids, attention_mask, labels, graphs)
        elif self.kind == "disable_adapter":
            with self.params.disabled():
                logps, rows = supervised_logps(self.model, input_ids, attention_mask, labels, graphs)
        else:
            raise ValueError("DPO batch without precomputed reference log-probs")
        seq = sequence_logps(logps, rows, 2 * num_pairs)
        return torch.stack([seq[:num_pairs], seq[num_pairs:]], dim=1)


@torch.no_grad()
def precompute(model: GraphLLM, examples: list[Example], out: Path, acc) -> None:
    """Set ``e.ref`` of every example to the initial policy's log-probs, stored in ``out`` (or read)."""
    from safetensors.torch import load_file, save_file

    path = out / REF_FILE
    rank, world = acc.process_index, acc.num_processes
    if path.exists():
        ref = load_file(path)["ref"]
    else:
        model.eval()
        ref = torch.empty(len(examples), 2)
        for i in range(rank, len(examples), world):  # each process its share, then gathered
            b = collate([examples[i]], model.tokenizer.pad_token_id).to(acc.device)
            logps, rows = supervised_logps(model, b.input_ids, b.attention_mask, b.labels, b.graphs)
            seq = torch.zeros(2, device=logps.device).index_add_(0, rows, logps)
            ref[i] = seq.cpu()
        if world > 1:
            ref = _gather_rows(ref, acc)
        if rank == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(".ref_logps.tmp")
            save_file({"ref": ref}, tmp)
            tmp.replace(path)
        acc.wait_for_everyone()
        model.train()
    for e, r in zip(examples, ref.tolist(), strict=True):
        e.ref = (r[0], r[1])


def _gather_rows(ref: Tensor, acc) -> Tensor:
    """Rows ``rank::world`` of every process, summed into one tensor on each."""
    owned = torch.zeros(len(ref), 1)
    owned[acc.process_index :: acc.num_processes] = 1
    both = acc.reduce((ref * owned).to(acc.device), reduction="sum")
    return both.cpu()
