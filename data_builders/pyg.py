"""Code graphs as PyTorch Geometric ``Data`` objects.

``x`` holds node-kind ids (one vocabulary across languages), ``edge_index`` the directed edges and
``edge_type`` their :class:`~parsers.graph.EdgeType` ids. Reverse edges are not added here: the
encoder does that, so the stored direction stays the program-graph convention.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch_geometric.data import Data

from parsers.graph import CodeGraph, EdgeType


def to_pyg(graph: CodeGraph | Mapping[str, Any], edge_types: Sequence[EdgeType] | None = None) -> Data:
    """Convert a :class:`CodeGraph` or a dataset row (dict with ``node_kind``, ``edge_src``, ...).

    Args:
        graph: the graph.
        edge_types: keep only these edge kinds (default: all).
    """
    if isinstance(graph, CodeGraph):
        kinds, src, dst, typ = graph.node_kind, graph.edge_src, graph.edge_dst, graph.edge_type
        name = graph.name
    else:
        kinds = np.asarray(graph["node_kind"], dtype=np.int64)
        src = np.asarray(graph["edge_src"], dtype=np.int64)
        dst = np.asarray(graph["edge_dst"], dtype=np.int64)
        typ = np.asarray(graph["edge_type"], dtype=np.int64)
        name = graph.get("id", "")
    if edge_types is not None:
        keep = np.isin(typ, np.asarray([int(t) for t in edge_types]))
        src, dst, typ = src[keep], dst[keep], typ[keep]
    return Data(
        x=torch.as_tensor(np.asarray(kinds, dtype=np.int64)),
        edge_index=torch.as_tensor(np.stack([np.asarray(src, np.int64), np.asarray(dst, np.int64)])),
        edge_type=torch.as_tensor(np.asarray(typ, dtype=np.int64)),
        num_nodes=len(kinds),
        name=name,
    )


class GraphDataset(torch.utils.data.Dataset):
    """A ``datasets.Dataset`` of graph rows seen as PyG ``Data`` items (for a PyG ``DataLoader``)."""

    def __init__(self, rows, edge_types: Sequence[EdgeType] | None = None) -> None:
        self.rows = rows
        self.edge_types = edge_types

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> Data:
        return to_pyg(self.rows[int(i)], self.edge_types)
