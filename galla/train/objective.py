"""The module a training step runs (and DDP wraps): a GraphLLM plus the loss its batch asks for.

``forward`` returns the summed loss of one process's micro-batch and detached statistics, as the run's
method (:mod:`galla.train.methods`) computes it from the supervised tokens' log-probs; the trainer
divides by the supervised tokens (LM) or pairs (DPO) of the whole global micro-batch, so one process and
several processes with the same global batch compute the same gradient.

The LM head runs only at supervised positions (:func:`~galla.train.losses.token_logps`): prompts, graph
placeholders and padding cost no vocabulary projection.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from galla.model import GraphLLM
from galla.train.losses import token_logps


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
    method: the training method (:mod:`galla.train.methods`), which turns log-probs into a loss.
    reference: what the method's loss needs besides the model (DPO's reference), or ``None``; held
        outside the module tree, so DDP and FSDP never see a reference copy's parameters.
    """

    def __init__(self, model: GraphLLM, method, reference: object | None = None) -> None:
        super().__init__()
        self.model = model
        self.method = method
        self._reference = [reference]  # a list keeps a module out of this one's parameters

    @property
    def reference(self) -> object | None:
        return self._reference[0]

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
        batch = (input_ids, attention_mask, labels, graphs)
        return self.method.loss(logps, rows, batch, num_pairs, ref, self.reference)
