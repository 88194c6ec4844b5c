"""Losses against hand-computed values."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from galla.constants import IGNORE_INDEX
from galla.train.losses import dpo_loss, lm_loss, sequence_logps, token_logps


def test_dpo_is_ln2_when_policy_equals_reference():
    lp = torch.tensor([-12.5, -3.0, -40.0])
    losses, m = dpo_loss(lp, lp - 1.0, lp, lp - 1.0, beta=0.1)
    assert torch.allclose(losses, torch.full((3,), math.log(2)))
    assert torch.equal(m["rewards/margins"], torch.zeros(3))


def test_dpo_matches_hand_computed_value():
    # delta = (-10 - -12) - (-15 - -13) = 2 - (-2) = 4; loss = -log sigmoid(0.1 * 4) = log(1 + e^-0.4)
    losses, m = dpo_loss(
        torch.tensor([-10.0]), torch.tensor([-15.0]), torch.tensor([-12.0]), torch.tensor([-13.0]), beta=0.1
    )
    assert losses.item() == pytest_approx(math.log1p(math.exp(-0.4)))
    assert m["rewards/chosen"].item() == pytest_approx(0.2)
    assert m["rewards/rejected"].item() == pytest_approx(-0.2)
    assert m["rewards/accuracies"].item() == 1.0


def pytest_approx(x: float):
    import pytest

    return pytest.approx(x, abs=1e-6)


def test_token_logps_equal_full_logits_cross_entropy():
    torch.manual_seed(0)
    head = torch.nn.Linear(8, 11, bias=False)
    hidden = torch.randn(2, 5, 8)
    labels = torch.tensor(
        [[IGNORE_INDEX, IGNORE_INDEX, 3, 4, 5], [IGNORE_INDEX, 1, 2, IGNORE_INDEX, IGNORE_INDEX]]
    )
    logps, rows = token_logps(hidden, labels, head, chunk=2)  # chunking must not change anything
    full = F.cross_entropy(
        head(hidden[:, :-1]).reshape(-1, 11),
        labels[:, 1:].reshape(-1),
        ignore_index=IGNORE_INDEX,
        reduction="sum",
    )
    assert torch.allclose(lm_loss(logps), full, atol=1e-5)
    assert rows.tolist() == [0, 0, 0, 1, 1]
    per_row = sequence_logps(logps, rows, 2)
    assert torch.allclose(per_row.sum(), -full, atol=1e-5)
