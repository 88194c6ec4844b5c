"""``method: lm``: next-token cross-entropy on the supervised tokens (Graph2Code, GraphQA, SFT).

The loss of a micro-batch is summed over its supervised tokens; the trainer divides it by the supervised
tokens of the whole global micro-batch. Nothing beyond the loss and the gradient norm is logged.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor

from galla.model import GraphLLM
from galla.train.data import Example
from galla.train.losses import lm_loss
from galla.train.params import Parameterisation


class LM:
    """A training method: what differs between methods; the trainer calls nothing else."""

    name = "lm"
    text_key = "text"
    """The ``data`` key its text stream comes from (a config giving another one is refused)."""

    def __init__(self, cfg) -> None:
        self.cfg = cfg

    @classmethod
    def mismatch(cls, cfg) -> str | None:
        """Why ``cfg``'s data does not fit this method (``None``: it does)."""
        if cfg.data.preference:
            return "data.preference is DPO data; set method: dpo (or give data.text for lm)"
        return None

    def prepare_model(self, model: GraphLLM) -> None:
        """Adjust the freshly built model before it is parameterised (nothing for LM)."""

    def check_reference(self, params_kind: str) -> None:
        """Refuse, before any data is read, a reference this run cannot build (LM has none)."""

    def reference(
        self, model: GraphLLM, params: Parameterisation, examples: list[Example], out: Path, acc
    ) -> object | None:
        """Set up what the loss needs besides the model, from the *initial* model (LM: nothing)."""
        return None

    def loss(
        self,
        logps: Tensor,
        rows: Tensor,
        batch: tuple[Tensor, Tensor, Tensor, list],
        num_pairs: int,
        ref: Tensor | None,
        reference: object | None,
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Summed loss of one process's micro-batch and detached statistics (summed over its rows).

        ``logps``/``rows``: the supervised tokens' log-probs and their row indices; ``batch``: the
        inputs (ids, mask, labels, graphs) for a method that needs another forward."""
        return lm_loss(logps), {"targets": torch.tensor(float(logps.numel()))}

    def metrics(
        self, sums: dict[str, float], reduce: Callable[[float], float], pairs: int
    ) -> dict[str, float]:
        """What a step logs besides loss, learning rate and gradient norm (LM: nothing)."""
        return {}
