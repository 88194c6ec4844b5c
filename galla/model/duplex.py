"""DUPLEX as configured in the released GALLa code: two independent GAT stacks, concatenated and projected."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.nn import GATConv
from torch_geometric.typing import Adj, OptTensor


class DuplexEncoder(nn.Module):
    r"""The GNN of GALLa: the DUPLEX dual-GAT encoder of `"DUPLEX: Dual GAT for Complex Embedding of
    Directed Graphs" <https://arxiv.org/abs/2406.05391>`_ (Ke et al., ICML 2024) in the simplified form
    that GALLa (`codefuse-ai/GALLa` ``modeling/duplex.py``, arXiv 2409.04183) ships.

    Two branches (DUPLEX's "amplitude" and "phase") are independent stacks of single-graph GAT layers
    over the *same* directed graph and the same input features; the fusion layer and the Hermitian
    decomposition of full DUPLEX are off. Per branch,

    .. math::
        \mathbf{h}^{(l+1)} = \mathrm{Dropout}(\mathrm{ReLU}(\mathrm{GAT}^{(l)}(\mathbf{h}^{(l)}, E)))

    for hidden layers (heads concatenated), the last layer averaging its heads without activation; the
    output is :math:`\mathbf{W}[\mathbf{h}_{am} \,\|\, \mathbf{h}_{ph}] + \mathbf{b}`.

    As in the original (a DGL ``GATConv`` with ``allow_zero_in_degree=True``) no self-loops are added:
    a node hears only its in-neighbours, so a node without incoming edges (an AST root) outputs the bias,
    and after :math:`L` layers a node's output depends only on nodes that reach it by walks of exactly
    :math:`L` edges (``reverse_edges`` or an explicit self-loop edge type widen this).
    Initialisation follows DGL: Xavier-normal with gain :math:`\sqrt{2}` for the weights and attention
    vectors, zero bias. The released code applies ReLU + dropout twice between layers (an effective
    dropout of about 0.19); this module applies them once.

    Args:
        in_channels (int): size of the node features (official: 256).
        hidden_channels (int): width of the hidden layers (official: 1024).
        out_channels (int): width of the output (official: 1024).
        num_layers (int): GAT layers per branch (official: 3).
        heads (int): attention heads; must divide ``hidden_channels`` (official: 1).
        dropout (float): dropout after each hidden layer (official: 0.1).

    Shapes:
        - **input:** node features :math:`(|V|, F_{in})`, edge indices :math:`(2, |E|)` (source, target)
        - **output:** node features :math:`(|V|, F_{out})`
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int = 1024,
        out_channels: int = 1024,
        num_layers: int = 3,
        heads: int = 1,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if hidden_channels % heads:
            raise ValueError(f"heads ({heads}) must divide hidden_channels ({hidden_channels})")
        self.in_channels, self.hidden_channels, self.out_channels = in_channels, hidden_channels, out_channels
        self.num_layers, self.heads = num_layers, heads
        self.dropout = nn.Dropout(dropout)
        self.am_layers = self._branch()
        self.ph_layers = self._branch()
        self.projector = nn.Linear(2 * out_channels, out_channels)
        self.reset_parameters()

    def _branch(self) -> nn.ModuleList:
        sizes = [self.in_channels] + [self.hidden_channels] * (self.num_layers - 1)
        layers = [
            GATConv(n_in, self.hidden_channels // self.heads, heads=self.heads, add_self_loops=False)
            for n_in in sizes[:-1]
        ]
        last = GATConv(sizes[-1], self.out_channels, heads=self.heads, concat=False, add_self_loops=False)
        return nn.ModuleList([*layers, last])

    def reset_parameters(self) -> None:
        gain = nn.init.calculate_gain("relu")
        for conv in [*self.am_layers, *self.ph_layers]:
            nn.init.xavier_normal_(conv.lin.weight, gain=gain)
            nn.init.xavier_normal_(conv.att_src, gain=gain)
            nn.init.xavier_normal_(conv.att_dst, gain=gain)
            nn.init.zeros_(conv.bias)
        self.projector.reset_parameters()

    def _run(self, layers: nn.ModuleList, x: Tensor, edge_index: Adj) -> Tensor:
        for i, conv in enumerate(layers):
            x = conv(x, edge_index)  # (N, hidden) with heads concatenated; (N, out) for the last layer
            if i < len(layers) - 1:
                x = self.dropout(torch.relu(x))
        return x

    def forward(self, x: Tensor, edge_index: Adj, edge_type: OptTensor = None) -> Tensor:
        """``edge_type`` is accepted for a uniform interface and ignored (GALLa's edges are untyped)."""
        h_am = self._run(self.am_layers, x, edge_index)  # (N, out)
        h_ph = self._run(self.ph_layers, x, edge_index)  # (N, out)
        return self.projector(torch.cat([h_am, h_ph], dim=-1))  # (N, out)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.in_channels}, {self.out_channels}, hidden={self.hidden_channels}, "
            f"layers={self.num_layers}x2, heads={self.heads}, dropout={self.dropout.p})"
        )
