"""galla.recipes.default: the embedded default's stages come from their YAML presets, paths filled in."""

from __future__ import annotations

from pathlib import Path

import pytest

from galla.config import ConfigError
from galla.recipes.default import PRESETS, stage_configs


def test_stages_read_the_presets_and_fill_in_the_run_paths(tmp_path: Path) -> None:
    out = tmp_path / "a run [1]"  # brackets and spaces survive the override parser
    graphs, text = out / "graphs", out / "docstrings.jsonl"
    s1, s2 = stage_configs(out, graphs, text, ["optim.max_steps=3"])
    assert s1.name == "default-stage1" and not s1.model.llm_trainable
    assert s1.data.graphs == [str(graphs)] and s1.data.graph_tasks == ["graph2code"]
    assert s1.run.out_dir == str(out / "stage1") and s1.model.adapter.num_tokens == 32
    assert s2.init_from == str(out / "stage1" / "final") and s2.data.text == [str(text)]
    assert s2.run.out_dir == str(out / "stage2") and s2.model.llm_trainable
    assert s1.optim.max_steps == s2.optim.max_steps == 3  # a user override reaches both stages
    assert all(p.is_file() and p.parent.name == "recipes" for p in PRESETS.values())


def test_a_bad_override_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"optim\.nope"):
        stage_configs(tmp_path, tmp_path / "g", tmp_path / "t.jsonl", ["optim.nope=1"])
