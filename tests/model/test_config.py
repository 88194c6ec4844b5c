"""ModelConfig / EncoderConfig / AdapterConfig: defaults, validation naming the key, dict round trip."""

from __future__ import annotations

import pytest

from galla.config import ADAPTERS, ENCODERS, AdapterConfig, ConfigError, EncoderConfig, ModelConfig
from galla.constants import GRAPH_TOKEN


def test_defaults_are_the_official_galla_shapes():
    cfg = ModelConfig()
    assert (cfg.encoder.name, cfg.encoder.num_layers, cfg.encoder.hidden_dim, cfg.encoder.out_dim) == (
        "duplex",
        3,
        1024,
        1024,
    )
    assert (cfg.encoder.heads, cfg.encoder.dropout, cfg.encoder.self_loops) == (1, 0.1, False)
    assert (cfg.adapter.name, cfg.adapter.num_tokens, cfg.adapter.num_heads) == ("cross_attention", 256, 8)
    assert cfg.graph_token == GRAPH_TOKEN == "<｜graph_pad｜>"
    assert not cfg.trust_remote_code


def test_dict_round_trip_with_nested_sections():
    cfg = ModelConfig.from_dict({"llm": "x/y", "encoder": {"name": "rgcn", "reverse_edges": True}})
    assert cfg.encoder == EncoderConfig(name="rgcn", reverse_edges=True)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"encoder": {"name": "magnet"}}, "EncoderConfig.name"),
        ({"adapter": {"name": "qformer"}}, "AdapterConfig.name"),
        ({"encoder": {"hidden_dim": "1024"}}, "EncoderConfig.hidden_dim"),
        ({"encoder": {"dropout": 1.0}}, "EncoderConfig.dropout"),
        ({"encoder": {"hidden_dim": 1000, "heads": 3}}, "EncoderConfig.heads"),
        ({"encoder": {"name": "rgcn", "edge_dim": 8}}, "EncoderConfig.edge_dim"),
        ({"encoder": {"node_features": "table"}}, "EncoderConfig.kind_table"),
        ({"encoder": {"node_features": "codet5"}}, "EncoderConfig.node_features"),
        ({"adapter": {"num_tokens": 0}}, "AdapterConfig.num_tokens"),
        ({"dtype": "fp8"}, "ModelConfig.dtype"),
        ({"llm_trainable": "no"}, "ModelConfig.llm_trainable"),
        ({"encoder": {"nme": "gat"}}, "EncoderConfig: unknown key(s) nme"),
        ({"lr": 1e-5}, "ModelConfig: unknown key(s) lr"),
    ],
)
def test_bad_values_name_the_key(data, key):
    with pytest.raises(ConfigError, match=key.replace("(", r"\(").replace(")", r"\)")):
        ModelConfig.from_dict(data)


def test_every_configurable_name_has_a_builder():
    from galla.model import build_adapter, build_gnn

    for name in ENCODERS:
        assert build_gnn(EncoderConfig(name=name, hidden_dim=8, out_dim=8), 4) is not None
    for name in ADAPTERS:
        assert build_adapter(AdapterConfig(name=name, num_tokens=2, num_heads=2), 8, 8) is not None
