"""Training methods as losses (cf. torchtune ``rlhf/loss/dpo.py``): they see tensors, never data or models.

- :func:`token_logps` — log-probabilities of the label tokens from hidden states, computing the LM head
  only at supervised positions (the full ``(B, T, V)`` logits are never built).
- :func:`lm_loss` — next-token cross-entropy summed over supervised tokens (``graph2code``, ``graph_qa``,
  ``sft``); the caller divides by the token count of the whole (global) batch.
- :func:`dpo_loss` — TRL's default ``sigmoid`` DPO loss, ``-log σ(β Δ)`` with
  ``Δ = (log π(y_w) - log π_ref(y_w)) - (log π(y_l) - log π_ref(y_l))``, log-probs summed over completion
  tokens. With the policy equal to the reference, Δ = 0 and the loss is ln 2.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from galla.constants import IGNORE_INDEX

LOSSES = ("graph2code", "graph_qa", "sft", "dpo")
"""Methods by name; the first three are :func:`lm_loss`."""


def token_logps(
    hidden: Tensor, labels: Tensor, lm_head: Callable[[Tensor], Tensor], chunk: int = 4096
) -> tuple[Tensor, Tensor]:
    """Log-probability of each supervised next token.

    Args:
        hidden: ``(B, T, D)`` last hidden states.
        labels: ``(B, T)`` token ids, ``IGNORE_INDEX`` where unsupervised (unshifted: position ``t``'s
            hidden state predicts ``labels[:, t + 1]``).
        lm_head: the output projection, ``(N, D) -> (N, V)``.
        chunk: supervised positions per LM-head call (bounds the ``(chunk, V)`` logits in memory).

    Returns:
        ``(N,)`` log-probs in float32 and the ``(N,)`` row index of each position (which sample it is in).
    """
    target = labels[:, 1:]  # (B, T-1)
    mask = target != IGNORE_INDEX  # (B, T-1)
    rows = mask.nonzero()[:, 0]  # (N,)
    h = hidden[:, :-1][mask]  # (N, D)
    y = target[mask]  # (N,)
    out = []
    for start in range(0, max(h.shape[0], 1), chunk):
        logits = lm_head(h[start : start + chunk]).float()  # (n, V)
        out.append(-F.cross_entropy(logits, y[start : start + chunk], reduction="none"))
    return torch.cat(out), rows


def lm_loss(logps: Tensor) -> Tensor:
    """Summed next-token cross-entropy over the supervised tokens (``-Σ log p``)."""
    return -logps.sum()


def sequence_logps(logps: Tensor, rows: Tensor, num_rows: int) -> Tensor:
    """``(num_rows,)``: the per-token log-probs summed per sample."""
    return torch.zeros(num_rows, dtype=logps.dtype, device=logps.device).index_add_(0, rows, logps)


def dpo_loss(
    policy_chosen: Tensor,
    policy_rejected: Tensor,
    ref_chosen: Tensor,
    ref_rejected: Tensor,
    beta: float = 0.1,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Per-pair sigmoid DPO loss and TRL-style metrics.

    Args:
        policy_chosen, policy_rejected, ref_chosen, ref_rejected: ``(P,)`` summed completion log-probs.
        beta: inverse temperature (TRL default 0.1).

    Returns:
        ``(P,)`` losses and ``rewards/chosen``, ``rewards/rejected``, ``rewards/margins``,
        ``rewards/accuracies`` (each ``(P,)``, detached).
    """
    chosen = policy_chosen - ref_chosen.to(policy_chosen.dtype)
    rejected = policy_rejected - ref_rejected.to(policy_rejected.dtype)
    losses = -F.logsigmoid(beta * (chosen - rejected))  # (P,)
    r_c, r_r = (beta * chosen).detach(), (beta * rejected).detach()
    metrics = {
        "rewards/chosen": r_c,
        "rewards/rejected": r_r,
        "rewards/margins": r_c - r_r,
        "rewards/accuracies": (r_c > r_r).float(),
    }
    return losses, metrics
