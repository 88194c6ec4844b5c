"""Training config: YAML, overrides, validation messages that name the key, presets, the schedule."""

from __future__ import annotations

from pathlib import Path

import pytest

from galla.config import ConfigError
from galla.train.config import TrainConfig, apply_overrides, load_config
from galla.train.trainer import cosine_lr

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_overrides_and_nested_sections(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("data:\n  text: [a.jsonl]\noptim:\n  lr: 1.0e-4\n")
    cfg = load_config(
        p,
        [
            "optim.batch_size=8",
            "params.kind=svft",
            "params.svft.off_diag=4",
            "model.encoder.name=rgcn",
            "data.graph_tasks=[graph2code, graph_qa]",
        ],
    )
    assert cfg.optim.batch_size == 8 and cfg.params.svft.off_diag == 4 and cfg.model.encoder.name == "rgcn"
    assert cfg.data.graph_tasks == ["graph2code", "graph_qa"] and cfg.recipe == "sft"
    assert cfg.method == "lm"
    assert apply_overrides(cfg, ["run.seed=3"]).run.seed == 3


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["optim.lrr=1"], r"no key 'lrr' in optim"),
        (["optim.lr=-1"], r"OptimConfig\.lr"),
        (["params.kind=qlora"], r"ParamsConfig\.kind"),
        (["params.svft.pattern=diag"], r"SVFTConfig\.pattern"),
        (["run.strategy=deepspeed"], r"RunConfig\.strategy: .*choose one of ddp, fsdp, fsdp_grad_op"),
        (["data.graph_tasks=[code2graph]"], r"graph_tasks"),
        (["optim.batch_size=two"], r"OptimConfig\.batch_size: expected int"),
        (["data.text=[]"], r"no data"),
        (["data.preference=[p.jsonl]"], r"either text .* or preference"),
        (["dpo.reference=self"], r"DPOConfig\.reference"),
    ],
)
def test_bad_values_name_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, ["data.text=[a.jsonl]", *overrides])


def test_method_defaults_from_the_data_and_a_mismatch_names_the_key():
    assert load_config(None, ["data.text=[a.jsonl]"]).method == "lm"
    assert load_config(None, ["data.preference=[p.jsonl]"]).method == "dpo"
    assert load_config(None, ["data.graphs=[g]", "method=lm"]).method == "lm"
    with pytest.raises(ConfigError, match=r"TrainConfig\.method: dpo trains on data\.preference"):
        load_config(None, ["data.text=[a.jsonl]", "method=dpo"])
    with pytest.raises(ConfigError, match=r"TrainConfig\.method: data\.preference is DPO data"):
        load_config(None, ["data.preference=[p.jsonl]", "method=lm"])
    with pytest.raises(ConfigError, match=r"TrainConfig\.method: choose one of lm, dpo"):
        load_config(None, ["data.text=[a.jsonl]", "method=ppo"])


def test_node_text_is_refused_for_graph_streams_with_what_to_use_instead():
    """No training stream attaches node-text embeddings, so a run with them would stop at its first
    graph batch: refused when the config is read, naming the key and the alternative."""
    with pytest.raises(ConfigError, match=r"model\.encoder\.node_text: true is not supported.*node_features"):
        load_config(None, ["data.graphs=[g]", "model.encoder.node_text=true"])
    assert load_config(None, ["data.text=[a.jsonl]", "model.encoder.node_text=true"]).model.encoder.node_text


def test_method_registry_raises_on_unknown_names():
    from galla.train import methods

    assert methods.get("lm") is methods.LM and methods.get("dpo") is methods.DPO
    with pytest.raises(ConfigError, match=r"unknown method 'ppo'; known: lm, dpo"):
        methods.get("ppo")


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("optim: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_every_preset_loads():
    presets = sorted(CONFIGS.glob("*.yaml"))
    assert len(presets) >= 6
    for p in presets:
        cfg = load_config(p)
        assert isinstance(cfg, TrainConfig), p
        assert p.read_text().startswith("#"), f"{p.name}: the first lines say how to run it"


def test_cosine_schedule_warmup_and_floor():
    kw = {"lr": 1e-3, "min_lr": 1e-4, "warmup": 10, "total": 110}
    assert cosine_lr(0, **kw) == pytest.approx(1e-4)
    assert cosine_lr(9, **kw) == pytest.approx(1e-3)
    assert cosine_lr(60, **kw) == pytest.approx(5.5e-4)
    assert cosine_lr(110, **kw) == pytest.approx(1e-4) and cosine_lr(500, **kw) == pytest.approx(1e-4)
