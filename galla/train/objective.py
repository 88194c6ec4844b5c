"""The module a training step runs (and DDP wraps): a GraphLLM plus the loss its batch asks for.

``forward`` returns the summed loss of one process's micro-batch and detached statistics; the trainer
divides by the supervised tokens (LM) or pairs (DPO) of the whole global micro-batch, so one process and
several processes with the same global batch compute the same gradient.

The LM head runs only at supervised positions (:func:`~galla.train.losses.token_logps`): prompts, graph
placeholders and padding cost no vocabulary projection.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from galla.model import GraphLLM
from galla.train.losses import dpo_loss, lm_loss, sequence_logps, token_logps
from galla.train.params import Parameterisation


def _lm_head(model: GraphLLM):
    head = model.llm.get_output_embeddings()
    softcap = getattr(model.llm.config, "final_logit_softcapping", None)
    if not softcap:
        return head
    return lambda h: torch.tanh(head(h) / softcap) * softcap


def supervised_logps(
    model: GraphLLM, input_ids: Tensor, attention_mask: Tensor, labels: Tensor, graphs
) -> tuple[Tensor, Tensor]:
    """Per-token log-probs ``(N,)`` of the supervised tokens and their row indices ``(N,)``."""
    embeds, labels = model.embed(input_ids, labels, graphs)  # (B, T, D), (B, T)
    out = model.llm.base_model(inputs_embeds=embeds, attention_mask=attention_mask, use_cache=False)
    return token_logps(out.last_hidden_state, labels, _lm_head(model))


class Objective(nn.Module):
    """Args:
    model: the GraphLLM being trained.
    params: its parameterisation (for DPO's adapter-disabled reference).
    beta: DPO inverse temperature.
    reference: ``disable_adapter``, ``copy`` or ``precompute`` (DPO only).
    """

    def __init__(
        self, model: GraphLLM, params: Parameterisation, beta: float = 0.1, reference: str = "precompute"
    ) -> None:
        super().__init__()
        self.model = model
        self.params = params
        self.beta = beta
        self.reference = reference
        self._ref_model: list[GraphLLM] = []  # a list keeps the frozen copy out of DDP's parameters
        if reference == "copy":
            ref = copy.deepcopy(model).eval()
            ref.requires_grad_(False)
            self._ref_model.append(ref)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor,
        labels: Tensor,
        graphs: list,
        num_pairs: int = 0,
        ref: Tensor | None = None,
    ) -> tuple[Tensor, dict[str, Tensor]]:
        logps, rows = supervised_logps(self.model, input_ids, attention_mask, labels, graphs)
        if not num_pairs:
            return lm_loss(logps), {"targets": torch.tensor(float(logps.numel()))}
        seq = sequence_logps(logps, rows, 2 * num_pairs)  # (2P,)
        if ref is None:
            ref = self.reference_logps(input_ids, attention_mask, labels, graphs, num_pairs)
        losses, metrics = dpo_loss(seq[:num_pairs], seq[num_pairs:], ref[:, 0], ref[:, 1], self.beta)
        metrics["logps/chosen"] = seq[:num_pairs].detach()
        metrics["logps/rejected"] = seq[num_pairs:].detach()
        return losses.sum(), {k: v.sum() for k, v in metrics.items()}

    @torch.no_grad()
    def reference_logps(
        self, input_ids: Tensor, attention_mask: Tensor, labels: Tensor, graphs: list, num_pairs: int
    ) -> Tensor:
        """``(P, 2)`` reference log-probs (chosen, rejected) of a DPO batch."""
        if self.reference == "copy":
            logps, rows = supervised_logps(self._ref_model[0], input_ids, attention_mask, labels, graphs)
        elif self.reference == "disable_adapter":
            with self.params.disabled():
                logps, rows = supervised_logps(self.model, input_ids, attention_mask, labels, graphs)
        else:
            raise ValueError("DPO batch without precomputed reference log-probs")
        seq = sequence_logps(logps, rows, 2 * num_pairs)
        return torch.stack([seq[:num_pairs], seq[num_pairs:]], dim=1)
