"""Adapters: per-node GNN outputs to graph tokens in the LLM's embedding space.

Every adapter maps ``(node vectors (N, F), batch (N,), num_graphs)`` to ``(tokens (B, G, D), valid (B, G))``:
``tokens[b, :valid[b].sum()]`` are graph ``b``'s tokens, which overwrite as many placeholder tokens in its
prompt. :meth:`num_tokens` says how many placeholders a graph of ``n`` nodes needs.

- ``cross_attention`` (official default): learnable queries attend over the graph's nodes, a single-layer
  Q-Former; every graph yields exactly ``num_tokens`` tokens.
- ``mlp`` (official ablation): an MLP per node, one token per node, the first ``num_tokens`` nodes at most.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.utils import to_dense_batch

from galla.config import ADAPTERS, AdapterConfig


class CrossAttentionAdapter(nn.Module):
    r"""Learnable queries cross-attending over a graph's nodes (GALLa ``modeling/model.py`` ``Adapter``).

    .. math::
        \mathbf{X}_g = \mathrm{MHA}(\mathbf{Q}, \mathbf{H}, \mathbf{H}), \quad
        \mathbf{Q} \in \mathbb{R}^{n_g \times d_{lm}}

    Keys and values are projected from the encoder width, the output projection lands in the LLM width;
    no LayerNorm, MLP or node positions, as released. Padding nodes are masked out of the attention.

    Args:
        in_dim (int): encoder output width (official: 1024).
        d_model (int): LLM hidden size.
        num_tokens (int): learnable queries = graph tokens per graph (official configs: 256).
        num_heads (int): attention heads (official: 8); must divide ``d_model``.

    Shapes:
        - **input:** node features :math:`(|V|, F)`, batch vector :math:`(|V|)`
        - **output:** tokens :math:`(B, n_g, d_{lm})`, validity mask :math:`(B, n_g)` (all true)
    """

    def __init__(self, in_dim: int, d_model: int, num_tokens: int = 256, num_heads: int = 8) -> None:
        super().__init__()
        if d_model % num_heads:
            raise ValueError(f"AdapterConfig.num_heads: {num_heads} does not divide the LLM width {d_model}")
        self.in_dim, self.d_model, self.n_tokens = in_dim, d_model, num_tokens
        self.queries = nn.Parameter(torch.empty(num_tokens, d_model))
        self.attn = nn.MultiheadAttention(d_model, num_heads, kdim=in_dim, vdim=in_dim, batch_first=True)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.queries)  # randn, as released
        self.attn._reset_parameters()

    def num_tokens(self, num_nodes: int) -> int:
        return self.n_tokens

    def forward(self, h: Tensor, batch: Tensor, num_graphs: int) -> tuple[Tensor, Tensor]:
        nodes, mask = to_dense_batch(h, batch, batch_size=num_graphs)  # (B, N_max, F), (B, N_max)
        if nodes.shape[1] == 0:  # no graph has a node
            nodes, mask = nodes.new_zeros(num_graphs, 1, self.in_dim), mask.new_zeros(num_graphs, 1)
        mask[:, 0] |= ~mask.any(dim=1)  # an empty graph attends to one zero vector instead of producing NaN
        queries = self.queries.expand(num_graphs, -1, -1)  # (B, n_g, d_model)
        nodes = nodes.to(queries.dtype)
        tokens, _ = self.attn(queries, nodes, nodes, key_padding_mask=~mask, need_weights=False)
        return tokens, torch.ones(tokens.shape[:2], dtype=torch.bool, device=tokens.device)  # (B, n_g, d)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.in_dim}, {self.d_model}, num_tokens={self.n_tokens}, "
            f"heads={self.attn.num_heads})"
        )


class MLPAdapter(nn.Module):
    r"""One graph token per node through an MLP (GALLa ``modeling/model_mlp.py``):
    ``SiLU -> Linear(F, d) -> SiLU -> Linear(d, d) -> SiLU -> Linear(d, d)``.

    Args:
        in_dim (int): encoder output width.
        d_model (int): LLM hidden size.
        max_tokens (int): keep at most this many nodes (tokens) per graph, in node order.

    Shapes:
        - **input:** node features :math:`(|V|, F)`, batch vector :math:`(|V|)`
        - **output:** tokens :math:`(B, \min(N_{max}, cap), d_{lm})`, validity mask of the same leading shape
    """

    def __init__(self, in_dim: int, d_model: int, max_tokens: int = 256) -> None:
        super().__init__()
        self.in_dim, self.d_model, self.max_tokens = in_dim, d_model, max_tokens
        self.net = nn.Sequential(
            nn.SiLU(),
            nn.Linear(in_dim, d_model),
            nn.SiLU(),
            nn.Linear(d_model, d_model),
            nn.SiLU(),
            nn.Linear(d_model, d_model),
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for layer in self.net:
            if isinstance(layer, nn.Linear):
                layer.reset_parameters()

    def num_tokens(self, num_nodes: int) -> int:
        return min(num_nodes, self.max_tokens)

    def forward(self, h: Tensor, batch: Tensor, num_graphs: int) -> tuple[Tensor, Tensor]:
        dtype = self.net[1].weight.dtype
        tokens = self.net(h.to(dtype))  # (N, d_model)
        return to_dense_batch(tokens, batch, batch_size=num_graphs, max_num_nodes=self.max_tokens)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_dim}, {self.d_model}, max_tokens={self.max_tokens})"


Adapter = CrossAttentionAdapter | MLPAdapter


def build_adapter(cfg: AdapterConfig, in_dim: int, d_model: int) -> Adapter:
    """The adapter named by ``cfg.name``; raises on unknown names."""
    if cfg.name == "cross_attention":
        return CrossAttentionAdapter(in_dim, d_model, cfg.num_tokens, cfg.num_heads)
    if cfg.name == "mlp":
        return MLPAdapter(in_dim, d_model, cfg.num_tokens)
    raise ValueError(f"unknown adapter '{cfg.name}'; choose one of {', '.join(ADAPTERS)}")
