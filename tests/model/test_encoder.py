"""GNN encoders: the official DUPLEX shapes, every stock alternative, edge direction and edge types."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch_geometric.data import Batch

from galla.config import ENCODERS, EncoderConfig
from galla.model import DuplexEncoder, GNNStack, add_reverse_edges, as_batch, build_encoder, build_gnn
from parsers import EdgeType

# A 4-node directed graph: 0 -> 1 -> 2 -> 3 and 0 -> 2; node 0 has no incoming edge.
EDGES = torch.tensor([[0, 1, 2, 0], [1, 2, 3, 2]])
TYPES = torch.tensor([0, 2, 3, 5])


def official_count(fin: int = 256, hidden: int = 1024, out: int = 1024) -> int:
    """DGL GATConv, one head: weight + attn_l + attn_r + bias; two branches; Linear(2*out, out)."""
    layer = lambda a, b: a * b + 3 * b  # noqa: E731
    branch = layer(fin, hidden) + layer(hidden, hidden) + layer(hidden, out)
    return 2 * branch + (2 * out * out + out)


def test_duplex_matches_the_official_configuration():
    gnn = DuplexEncoder(256, 1024, 1024, num_layers=3, heads=1, dropout=0.1)
    assert sum(p.numel() for p in gnn.parameters()) == official_count() == 6_835_200
    for branch in (gnn.am_layers, gnn.ph_layers):
        assert [tuple(c.lin.weight.shape) for c in branch] == [(1024, 256), (1024, 1024), (1024, 1024)]
        assert all(c.heads == 1 and not c.add_self_loops and c.negative_slope == 0.2 for c in branch)
        assert all(not c.bias.detach().any() for c in branch)  # DGL init: zero bias
    assert tuple(gnn.projector.weight.shape) == (1024, 2048)
    assert repr(gnn) == "DuplexEncoder(256, 1024, hidden=1024, layers=3x2, heads=1, dropout=0.1)"
    assert build_gnn(EncoderConfig(), 256).__class__ is DuplexEncoder


def test_duplex_adds_no_self_loops():
    """A node without incoming edges hears nothing, not even itself: its output is constant. With
    three layers a node hears exactly the nodes that reach it by walks of three edges (0->1->2->3)."""
    gnn = DuplexEncoder(6, 8, 8).eval()
    x = torch.randn(4, 6)
    y = x.clone()
    y[0] += 5.0
    a, b = gnn(x, EDGES), gnn(y, EDGES)
    assert torch.allclose(a[0], b[0])
    assert torch.allclose(a[1], b[1])  # one hop from node 0: by layer 3 it hears only node 0's bias
    assert not torch.allclose(a[3], b[3])


@pytest.mark.parametrize("name", ENCODERS)
def test_every_encoder_runs_and_follows_pyg_anatomy(name):
    gnn = build_gnn(EncoderConfig(name=name, hidden_dim=12, out_dim=10, heads=2 if "gat" in name else 1), 6)
    x = torch.randn(4, 6, requires_grad=True)
    out = gnn(x, EDGES, TYPES)
    assert out.shape == (4, 10)
    out.sum().backward()
    assert x.grad is not None
    gnn.reset_parameters()
    assert "10" in repr(gnn) and (name in repr(gnn) or name == "duplex")


def test_rgcn_and_edge_features_read_edge_types():
    for cfg in (EncoderConfig(name="rgcn", hidden_dim=8, out_dim=8), EncoderConfig(name="gat", edge_dim=4)):
        gnn = build_gnn(dataclasses.replace(cfg, hidden_dim=8, out_dim=8), 6).eval()
        x = torch.randn(4, 6)
        assert not torch.allclose(gnn(x, EDGES, TYPES), gnn(x, EDGES, torch.zeros_like(TYPES)))
    gcn = build_gnn(EncoderConfig(name="gcn", hidden_dim=8, out_dim=8), 6).eval()
    assert torch.allclose(gcn(x, EDGES, TYPES), gcn(x, EDGES, torch.zeros_like(TYPES)))


def test_self_loops_are_a_flag():
    x = torch.randn(4, 6)
    y = x.clone()
    y[0] += 5.0
    for loops in (False, True):
        gnn = GNNStack("gat", 6, 8, 8, num_layers=2, dropout=0.0, self_loops=loops).eval()
        assert torch.allclose(gnn(x, EDGES)[0], gnn(y, EDGES)[0]) is not loops


def test_reverse_edges_get_their_own_types():
    ei, et = add_reverse_edges(EDGES, TYPES, len(EdgeType))
    assert ei.shape == (2, 8) and ei[:, 4:].tolist() == EDGES.flip(0).tolist()
    assert et[4:].tolist() == (TYPES + len(EdgeType)).tolist()
    enc = build_encoder(
        EncoderConfig(
            name="rgcn", hidden_dim=8, out_dim=8, reverse_edges=True, node_features="learned", kind_dim=6
        )
    )
    assert enc.gnn.num_relations == 2 * len(EdgeType)


def test_reverse_edges_let_the_root_hear_its_children(graphs):
    outs = {}
    for reverse in (False, True):
        torch.manual_seed(0)
        cfg = EncoderConfig(
            hidden_dim=8, out_dim=8, reverse_edges=reverse, node_features="learned", kind_dim=6
        )
        enc = build_encoder(cfg).eval()
        batch = as_batch(graphs[0])
        perturbed = batch.clone()
        perturbed.x = torch.where(torch.arange(len(batch.x)) == 1, batch.x + 1, batch.x)
        outs[reverse] = torch.allclose(enc(batch)[0], enc(perturbed)[0])
    assert outs == {False: True, True: False}  # the root (node 0) has no incoming CHILD edge


def test_encoder_batches_code_graphs_rows_and_data(graphs):
    from data_builders.pyg import to_pyg

    enc = build_encoder(
        EncoderConfig(name="gin", hidden_dim=8, out_dim=5, node_features="learned", kind_dim=6)
    )
    n = sum(g.num_nodes for g in graphs)
    assert enc(as_batch(graphs)).shape == (n, 5)
    batch = as_batch([to_pyg(g) for g in graphs])
    assert isinstance(batch, Batch) and batch.num_graphs == 2 and as_batch(batch) is batch


def test_unknown_names_raise():
    bad = EncoderConfig()
    object.__setattr__(bad, "name", "magnet")
    with pytest.raises(ValueError, match="unknown encoder 'magnet'"):
        build_gnn(bad, 4)
    with pytest.raises(ValueError, match="unknown convolution"):
        GNNStack("sage", 4, 4, 4)
