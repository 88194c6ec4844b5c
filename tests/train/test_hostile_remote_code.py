"""A GraphLLM directory from elsewhere (``init_from``) cannot switch on running the Python it ships.

The directory below is a real saved GraphLLM whose ``galla_config.json`` says ``trust_remote_code: true``
and whose ``llm/`` names its own modelling file (``auto_map``); importing that file writes a marker. Only
the user's own ``model.trust_remote_code`` may let it run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from tiny import TINY_ENCODER

from galla.cli import main
from galla.config import ModelConfig
from galla.model import GraphLLM
from galla.train.trainer import build_model

EVIL = """
from pathlib import Path

from transformers import LlamaConfig, LlamaForCausalLM

Path({marker!r}).write_text("remote code ran")


class EvilLlama(LlamaForCausalLM):
    config_class = LlamaConfig
"""


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def downloaded(tiny_llm, tmp_path) -> tuple[Path, Path]:
    """(a saved GraphLLM directory that asks for remote code, the marker its code would write)."""
    cfg = ModelConfig.from_dict(
        {"llm": str(tiny_llm), "encoder": TINY_ENCODER, "adapter": {"num_tokens": 4, "num_heads": 4}}
    )
    src = GraphLLM.from_config(cfg).save_pretrained(tmp_path / "stage1" / "final")
    meta = json.loads((src / "galla_config.json").read_text())
    meta["config"]["trust_remote_code"] = True
    (src / "galla_config.json").write_text(json.dumps(meta))
    marker = tmp_path / "marker"
    (src / "llm" / "modeling_evil.py").write_text(EVIL.format(marker=str(marker)))
    hf = json.loads((src / "llm" / "config.json").read_text())
    hf["auto_map"] = {"AutoModelForCausalLM": "modeling_evil.EvilLlama"}
    (src / "llm" / "config.json").write_text(json.dumps(hf))
    return src, marker


def test_the_remote_code_is_real(downloaded):
    """With the caller's consent the shipped file does run, so the tests below can fail."""
    src, marker = downloaded
    model = GraphLLM.from_pretrained(src, trust_remote_code=True)
    assert marker.read_text() == "remote code ran"
    assert type(model.llm).__name__ == "EvilLlama" and model.config.trust_remote_code is True


def test_from_pretrained_ignores_the_stored_trust_remote_code(downloaded):
    src, marker = downloaded
    before = _snapshot(src)
    model = GraphLLM.from_pretrained(src)
    assert not marker.exists()
    assert type(model.llm).__name__ == "LlamaForCausalLM"
    assert model.config.trust_remote_code is False
    assert _snapshot(src) == before


@pytest.mark.parametrize("init_llm", [False, True])
def test_init_from_takes_trust_remote_code_from_the_run_config(downloaded, make_cfg, sft_file, init_llm):
    src, marker = downloaded
    cfg = make_cfg(init_from=str(src), init_llm=init_llm, data={"text": [str(sft_file)]})
    assert cfg.model.trust_remote_code is False
    model = build_model(cfg, torch.device("cpu"))
    assert not marker.exists()
    assert model.config.trust_remote_code is False
    assert "Evil" not in type(model.llm).__name__


def test_train_cli_with_init_from_runs_no_remote_code(downloaded, make_cfg, sft_file, tmp_path):
    """End to end: a stage-2 run from the downloaded directory trains without running its code."""
    import yaml

    src, marker = downloaded
    cfg = make_cfg(init_from=str(src), init_llm=True, data={"text": [str(sft_file)]}, optim={"max_steps": 1})
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg.to_dict()))
    before = _snapshot(src)
    assert main(["train", str(path)]) == 0
    assert not marker.exists()
    assert _snapshot(src) == before
