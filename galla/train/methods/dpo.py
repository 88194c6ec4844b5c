"""``method: dpo``: Direct Preference Optimization (Rafailov et al. 2023), TRL's sigmoid loss.

The text stream is ``data.preference`` (pairs); its loss is summed over pairs and divided by the pairs of
the global micro-batch. Graph batches of a DPO run (no pairs) train with the LM loss. The reference is
chosen by ``dpo.reference`` (:mod:`galla.train.reference`) and built from the initial model; dropout is
switched off (``dpo.disable_dropout``) so that the first loss is ln 2. Logged per pair: the DPO statistics
(rewards, margins, accuracy) and the policy's log-probs of chosen and rejected completions.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor

from galla.model import GraphLLM
from galla.train import reference as ref_module
from galla.train.data import Example
from galla.train.losses import dpo_loss, sequence_logps
from galla.train.methods.lm import LM
from galla.train.params import Parameterisation


class DPO(LM):
    name = "dpo"
    text_key = "preference"

    @classmethod
    def mismatch(cls, cfg) -> str | None:
        if not cfg.data.preference:
            return "dpo trains on data.preference, which is empty; give it (or set method: lm)"
        return None

    def prepare_model(self, model: GraphLLM) -> None:
        if self.cfg.dpo.disable_dropout:
            _disable_dropout(model.llm)

    def check_reference(self, params_kind: str) -> None:
        ref_module.choose(self.cfg.dpo.reference, params_kind)

    def reference(
        self, model: GraphLLM, params: Parameterisation, examples: list[Example], out: Path, acc
    ) -> ref_module.Reference:
        kind = ref_module.choose(self.cfg.dpo.reference, params.kind)
        if kind == "precompute":
            ref_module.precompute(model, examples, out, acc)
        return ref_module.Reference(kind, model, params)

    def loss(self, logps, rows, batch, num_pairs, ref, reference) -> tuple[Tensor, dict[str, Tensor]]:
        if not num_pairs:  # a graph batch
            return super().loss(logps, rows, batch, num_pairs, ref, reference)
        seq = sequence_logps(logps, rows, 2 * num_pairs)  # (2P,)
        if ref is None:
            ref = reference.logps(*batch, num_pairs)
        losses, metrics = dpo_loss(seq[:num_pairs], seq[num_pairs:], ref[:, 0], ref[:, 1], self.cfg.dpo.beta)
        metrics["logps/chosen"] = seq[:num_pairs].detach()
        metrics["logps/rejected"] = seq[num_pairs:].detach()
        return losses.sum(), {k: v.sum() for k, v in metrics.items()}

    def metrics(
        self, sums: dict[str, float], reduce: Callable[[float], float], pairs: int
    ) -> dict[str, float]:
        return {name: reduce(v) / pairs for name, v in sums.items()}


def _disable_dropout(model: torch.nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    for key in ("attention_dropout", "hidden_dropout", "resid_pdrop", "attn_pdrop", "embd_pdrop"):
        if hasattr(model.config, key):
            setattr(model.config, key, 0.0)
