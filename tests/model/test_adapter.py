"""Adapters: the official cross-attention shapes, key-padding masks, the per-node MLP and its cap."""

from __future__ import annotations

import pytest
import torch

from galla.config import AdapterConfig
from galla.model import CrossAttentionAdapter, MLPAdapter, build_adapter


def nodes(*sizes: int, dim: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """Random node vectors for graphs of the given sizes, and their batch vector."""
    torch.manual_seed(0)
    batch = torch.cat([torch.full((n,), i) for i, n in enumerate(sizes)])
    return torch.randn(len(batch), dim), batch


def test_cross_attention_official_shapes():
    """Qwen2.5-Coder-1.5B width: 256 queries of 1536, 8 heads, keys and values from the 1024-d GNN."""
    adapter = CrossAttentionAdapter(1024, 1536, num_tokens=256, num_heads=8)
    d, f = 1536, 1024
    expected = 256 * d + (d * d + 2 * d * f + 3 * d) + (d * d + d)  # queries, q/k/v proj, out proj
    assert sum(p.numel() for p in adapter.parameters()) == expected
    assert adapter.attn.kdim == adapter.attn.vdim == 1024 and adapter.attn.batch_first
    assert repr(adapter) == "CrossAttentionAdapter(1024, 1536, num_tokens=256, heads=8)"


def test_cross_attention_masks_padding_nodes():
    adapter = CrossAttentionAdapter(16, 32, num_tokens=5, num_heads=4).eval()
    h, batch = nodes(3, 7)
    tokens, valid = adapter(h, batch, 2)
    assert tokens.shape == (2, 5, 32) and valid.all()
    alone, _ = adapter(h[:3], batch[:3], 1)  # graph 0 without the 4 padding slots the batch gives it
    assert torch.allclose(tokens[0], alone[0], atol=1e-6)
    assert adapter.num_tokens(1) == adapter.num_tokens(500) == 5


def test_cross_attention_survives_empty_graphs():
    adapter = CrossAttentionAdapter(16, 32, num_tokens=2, num_heads=4)
    h, batch = nodes(4)
    tokens, _ = adapter(h, batch + 1, 3)  # graphs 0 and 2 have no nodes
    assert tokens.shape == (3, 2, 32) and torch.isfinite(tokens).all()
    tokens, _ = adapter(h[:0], batch[:0], 2)
    assert torch.isfinite(tokens).all()


def test_mlp_gives_one_token_per_node_up_to_the_cap():
    adapter = MLPAdapter(16, 32, max_tokens=5).eval()
    h, batch = nodes(3, 7)
    tokens, valid = adapter(h, batch, 2)
    assert tokens.shape == (2, 5, 32)
    assert valid.sum(1).tolist() == [3, 5] == [adapter.num_tokens(3), adapter.num_tokens(7)]
    assert torch.allclose(tokens[1, :5], adapter.net(h[3:8]))  # the first 5 nodes of graph 1, in order
    assert [type(m).__name__ for m in adapter.net] == ["SiLU", "Linear", "SiLU", "Linear", "SiLU", "Linear"]


def test_builder_and_validation():
    assert isinstance(build_adapter(AdapterConfig(name="mlp", num_tokens=8), 16, 32), MLPAdapter)
    with pytest.raises(ValueError, match="num_heads"):
        build_adapter(AdapterConfig(num_heads=5), 16, 32)
    bad = AdapterConfig()
    object.__setattr__(bad, "name", "perceiver")
    with pytest.raises(ValueError, match="unknown adapter 'perceiver'"):
        build_adapter(bad, 16, 32)
