"""The graph encoder: node features, then a GNN chosen by name, one vector per node.

- ``duplex`` (:class:`~galla.model.duplex.DuplexEncoder`) is the official GALLa configuration.
- ``gat``, ``gatv2``, ``rgcn``, ``gin`` and ``gcn`` are stacks of stock PyG convolutions
  (:class:`GNNStack`). ``rgcn`` reads the typed edges of :class:`parsers.graph.EdgeType`; ``gat`` and
  ``gatv2`` can read them as learned edge features (``edge_dim``); the others see untyped edges.
- Message passing follows the stored edge direction (source -> target). ``reverse_edges`` adds the reversed
  copies here, never on disk; for typed convolutions a reversed edge gets its own type.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch, Data
from torch_geometric.nn import GATConv, GATv2Conv, GCNConv, GINConv, RGCNConv
from torch_geometric.typing import Adj, OptTensor

from data_builders.pyg import to_pyg
from galla.config import ENCODERS, EncoderConfig
from galla.model.duplex import DuplexEncoder
from galla.model.node_features import NodeFeatures, build_node_features
from parsers.graph import CodeGraph, EdgeType

NUM_EDGE_TYPES = len(EdgeType)

GraphInput = Batch | Data | CodeGraph | Mapping[str, Any] | Sequence[Data | CodeGraph | Mapping[str, Any]]
"""What the encoder accepts: a PyG batch, or graphs (``Data``, ``CodeGraph`` or dataset rows) to batch."""


class GNNStack(nn.Module):
    r"""A stack of stock PyG convolutions with ReLU and dropout between layers.

    ``gat``: `Graph Attention Networks <https://arxiv.org/abs/1710.10903>`_ (Velickovic et al., 2018);
    ``gatv2``: `How Attentive are Graph Attention Networks? <https://arxiv.org/abs/2105.14491>`_ (Brody et
    al., 2022); ``rgcn``: `Modeling Relational Data with Graph Convolutional Networks
    <https://arxiv.org/abs/1703.06103>`_ (Schlichtkrull et al., 2018); ``gin``: `How Powerful are Graph
    Neural Networks? <https://arxiv.org/abs/1810.00826>`_ (Xu et al., 2019); ``gcn``: `Semi-Supervised
    Classification with Graph Convolutional Networks <https://arxiv.org/abs/1609.02907>`_ (Kipf and Welling,
    2017).

    Args:
        conv (str): ``gat``, ``gatv2``, ``rgcn``, ``gin`` or ``gcn``.
        in_channels (int): size of the node features.
        hidden_channels (int): width of the hidden layers.
        out_channels (int): width of the output.
        num_layers (int): number of convolutions.
        heads (int): attention heads of ``gat``/``gatv2`` (concatenated in hidden layers, averaged in
            the last).
        dropout (float): dropout after each hidden layer.
        self_loops (bool): let ``gat``/``gatv2``/``gcn`` add self-loops (PyG's default; off in GALLa).
        num_relations (int): edge types, for ``rgcn`` and for edge features.
        num_bases (int): ``rgcn`` basis decomposition (0: none).
        edge_dim (int): width of a learned edge-type embedding passed to ``gat``/``gatv2`` (0: none).

    Shapes:
        - **input:** node features :math:`(|V|, F_{in})`, edge indices :math:`(2, |E|)`, edge types
          :math:`(|E|)` (optional)
        - **output:** node features :math:`(|V|, F_{out})`
    """

    def __init__(
        self,
        conv: str,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        num_layers: int = 3,
        heads: int = 1,
        dropout: float = 0.1,
        self_loops: bool = False,
        num_relations: int = NUM_EDGE_TYPES,
        num_bases: int = 0,
        edge_dim: int = 0,
    ) -> None:
        super().__init__()
        if conv not in ("gat", "gatv2", "rgcn", "gin", "gcn"):
            raise ValueError(f"unknown convolution '{conv}'; choose gat, gatv2, rgcn, gin or gcn")
        self.conv, self.heads, self.self_loops = conv, heads, self_loops
        self.in_channels, self.hidden_channels, self.out_channels = in_channels, hidden_channels, out_channels
        self.num_relations, self.num_bases, self.edge_dim = num_relations, num_bases, edge_dim
        self.edge_embedding = nn.Embedding(num_relations, edge_dim) if edge_dim else None
        sizes = [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
        last = num_layers - 1
        self.convs = nn.ModuleList(
            self._make(a, b, i == last) for i, (a, b) in enumerate(itertools.pairwise(sizes))
        )
        self.dropout = nn.Dropout(dropout)
        self.reset_parameters()

    def _make(self, n_in: int, n_out: int, last: bool) -> nn.Module:
        if self.conv in ("gat", "gatv2"):
            cls = GATConv if self.conv == "gat" else GATv2Conv
            width = n_out if last else n_out // self.heads
            return cls(
                n_in,
                width,
                heads=self.heads,
                concat=not last,
                add_self_loops=self.self_loops,
                edge_dim=self.edge_dim or None,
            )
        if self.conv == "rgcn":
            return RGCNConv(n_in, n_out, self.num_relations, num_bases=self.num_bases or None)
        if self.conv == "gin":
            mlp = nn.Sequential(nn.Linear(n_in, n_out), nn.ReLU(), nn.Linear(n_out, n_out))
            return GINConv(mlp, train_eps=True)
        return GCNConv(n_in, n_out, add_self_loops=self.self_loops)

    def reset_parameters(self) -> None:
        for conv in self.convs:
            conv.reset_parameters()
        if self.edge_embedding is not None:
            self.edge_embedding.reset_parameters()

    def forward(self, x: Tensor, edge_index: Adj, edge_type: OptTensor = None) -> Tensor:
        if edge_type is None:
            edge_type = torch.zeros(edge_index.shape[1], dtype=torch.long, device=x.device)
        edge_attr = (
            self.edge_embedding(edge_type) if self.edge_embedding is not None else None
        )  # (E, edge_dim)
        for i, conv in enumerate(self.convs):
            if self.conv == "rgcn":
                x = conv(x, edge_index, edge_type)
            elif self.conv in ("gat", "gatv2"):
                x = conv(x, edge_index, edge_attr)
            else:
                x = conv(x, edge_index)
            if i < len(self.convs) - 1:  # (N, hidden)
                x = self.dropout(torch.relu(x))
        return x  # (N, out)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.conv}, {self.in_channels}, {self.out_channels}, "
            f"hidden={self.hidden_channels}, layers={len(self.convs)}, heads={self.heads}, "
            f"self_loops={self.self_loops}, edge_dim={self.edge_dim})"
        )


def build_gnn(cfg: EncoderConfig, in_channels: int) -> nn.Module:
    """The GNN named by ``cfg.name``; raises on unknown names."""
    if cfg.name not in ENCODERS:
        raise ValueError(f"unknown encoder '{cfg.name}'; choose one of {', '.join(ENCODERS)}")
    if cfg.name == "duplex":
        return DuplexEncoder(in_channels, cfg.hidden_dim, cfg.out_dim, cfg.num_layers, cfg.heads, cfg.dropout)
    relations = NUM_EDGE_TYPES * (2 if cfg.reverse_edges else 1)
    return GNNStack(
        cfg.name,
        in_channels,
        cfg.hidden_dim,
        cfg.out_dim,
        cfg.num_layers,
        cfg.heads,
        cfg.dropout,
        cfg.self_loops,
        relations,
        cfg.num_bases,
        cfg.edge_dim,
    )


def add_reverse_edges(edge_index: Tensor, edge_type: Tensor, num_edge_types: int) -> tuple[Tensor, Tensor]:
    """Append every edge reversed; reversed edges of type ``t`` get type ``t + num_edge_types``."""
    return (
        torch.cat([edge_index, edge_index.flip(0)], dim=1),  # (2, 2E)
        torch.cat([edge_type, edge_type + num_edge_types]),  # (2E,)
    )


def as_batch(graphs: GraphInput) -> Batch:
    """One PyG ``Batch`` from a batch, a graph, or a sequence of ``Data`` / ``CodeGraph`` / dataset rows."""
    if isinstance(graphs, Batch):
        return graphs
    if isinstance(graphs, Data | CodeGraph | Mapping):
        graphs = [graphs]
    return Batch.from_data_list([g if isinstance(g, Data) else to_pyg(g) for g in graphs])


class GraphEncoder(nn.Module):
    """Node features followed by a GNN: a batch of graphs to one vector per node.

    Args:
        features (NodeFeatures): node kinds (and node text) to vectors.
        gnn (nn.Module): any module with ``forward(x, edge_index, edge_type) -> (N, out_dim)``.
        out_dim (int): the GNN's output width.
        reverse_edges (bool): add reversed edges before message passing.
        config (EncoderConfig, optional): the configuration it was built from (saved with a checkpoint).

    Shapes:
        - **input:** a PyG ``Batch`` with ``x`` (kind ids) :math:`(|V|)`, ``edge_index`` :math:`(2, |E|)`,
          ``edge_type`` :math:`(|E|)`, optionally ``x_text`` :math:`(|V|, D_{text})`
        - **output:** :math:`(|V|, F_{out})`
    """

    def __init__(
        self,
        features: NodeFeatures,
        gnn: nn.Module,
        out_dim: int,
        reverse_edges: bool = False,
        config: EncoderConfig | None = None,
    ) -> None:
        super().__init__()
        self.features, self.gnn, self.out_dim = features, gnn, out_dim
        self.reverse_edges, self.config = reverse_edges, config

    def reset_parameters(self) -> None:
        self.features.reset_parameters()
        self.gnn.reset_parameters()

    def forward(self, graphs: Batch) -> Tensor:
        edge_index, edge_type = graphs.edge_index, getattr(graphs, "edge_type", None)
        if edge_type is None:
            edge_type = torch.zeros(edge_index.shape[1], dtype=torch.long, device=edge_index.device)
        edge_type = edge_type.long()
        if self.reverse_edges:
            edge_index, edge_type = add_reverse_edges(edge_index, edge_type, NUM_EDGE_TYPES)
        x = self.features(graphs.x, getattr(graphs, "x_text", None))  # (N, in_dim)
        dtype = next(self.gnn.parameters()).dtype
        return self.gnn(x.to(dtype), edge_index, edge_type)  # (N, out_dim)


def build_encoder(cfg: EncoderConfig, kind_table: Tensor | None = None) -> GraphEncoder:
    """Node features plus the GNN named in ``cfg``."""
    features = build_node_features(cfg, kind_table)
    return GraphEncoder(features, build_gnn(cfg, features.out_dim), cfg.out_dim, cfg.reverse_edges, cfg)
