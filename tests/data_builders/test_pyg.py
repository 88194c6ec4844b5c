"""CodeGraph and dataset rows as PyG Data."""

from __future__ import annotations

import torch
from torch_geometric.loader import DataLoader

from data_builders.pyg import GraphDataset, to_pyg
from parsers import EdgeType, extract_file

CODE = "def f(a):\n    b = a + 1\n    return b\n\ndef g(x):\n    return f(x)\n"


def test_to_pyg_matches_the_graph():
    g = extract_file(CODE, "python").graphs[0]
    d = to_pyg(g)
    assert d.num_nodes == g.num_nodes
    assert d.x.dtype == torch.long and d.x.tolist() == g.node_kind.tolist()
    assert d.edge_index.shape == (2, g.num_edges)
    assert d.edge_type.tolist() == g.edge_type.tolist()
    only = to_pyg(g, [EdgeType.LAST_WRITE])
    assert set(only.edge_type.tolist()) == {EdgeType.LAST_WRITE}


def test_rows_batch_in_a_pyg_loader():
    rows = []
    for g in extract_file(CODE, "python").graphs:
        rows.append(
            {
                "id": g.name,
                "node_kind": g.node_kind.tolist(),
                "edge_src": g.edge_src.tolist(),
                "edge_dst": g.edge_dst.tolist(),
                "edge_type": g.edge_type.tolist(),
            }
        )
    batch = next(iter(DataLoader(GraphDataset(rows), batch_size=2)))
    assert batch.num_graphs == 2
    assert batch.x.shape[0] == sum(len(r["node_kind"]) for r in rows)
    assert int(batch.edge_index.max()) < batch.x.shape[0]
