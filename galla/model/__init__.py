"""The GraphLLM model: LLM loading, node features, GNN encoders, adapters and their composition.

>>> from galla.config import ModelConfig
>>> from galla.model import GraphLLM
>>> model = GraphLLM.from_config(ModelConfig(llm="smollm2-135m", llm_trainable=False))  # doctest: +SKIP
"""

from galla.model.adapter import Adapter, CrossAttentionAdapter, MLPAdapter, build_adapter
from galla.model.duplex import DuplexEncoder
from galla.model.encoder import (
    GNNStack,
    GraphEncoder,
    GraphInput,
    add_reverse_edges,
    as_batch,
    build_encoder,
    build_gnn,
)
from galla.model.graph_llm import GraphLLM, splice_graph_tokens
from galla.model.llm import OFFLINE_MODELS, add_graph_token, cache_root, convert_gguf, load_llm, resolve_llm
from galla.model.node_features import (
    NodeFeatures,
    NodeTextEmbedder,
    TextEmbedder,
    attach_node_text,
    build_node_features,
    kind_embedding_table,
    node_texts,
)

__all__ = [
    "OFFLINE_MODELS",
    "Adapter",
    "CrossAttentionAdapter",
    "DuplexEncoder",
    "GNNStack",
    "GraphEncoder",
    "GraphInput",
    "GraphLLM",
    "MLPAdapter",
    "NodeFeatures",
    "NodeTextEmbedder",
    "TextEmbedder",
    "add_graph_token",
    "add_reverse_edges",
    "as_batch",
    "attach_node_text",
    "build_adapter",
    "build_encoder",
    "build_gnn",
    "build_node_features",
    "cache_root",
    "convert_gguf",
    "kind_embedding_table",
    "load_llm",
    "node_texts",
    "resolve_llm",
    "splice_graph_tokens",
]
