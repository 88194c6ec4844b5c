"""``galla.run_layout``: the names it gives are the ones a real run writes and the readers follow."""

from __future__ import annotations

from pathlib import Path

from galla.eval.generate import model_label, resolve_model
from galla.eval.tasks.run import graph_llm_dir
from galla.run_layout import GraphLLMDir, RunDir
from galla.train.checkpoint import latest_checkpoint
from galla.train.trainer import train


def test_a_two_step_run_writes_what_run_dir_names(make_cfg, sft_file, tmp_path):
    cfg = make_cfg(
        data={"text": [str(sft_file)]}, run={"export": True, "save_every": 1, "keep_checkpoints": 5}
    )
    train(cfg)
    run = RunDir(cfg.run.out_dir)
    assert isinstance(run.path, Path) and run.path == tmp_path / "run"
    for path in (run.config, run.summary, run.latest):
        assert path.is_file(), path
    for path in (run.tensorboard, run.final, run.export, run.checkpoint(1), run.checkpoint(2)):
        assert path.is_dir(), path
    assert run.latest.read_text().strip() == run.checkpoint(2).name
    assert latest_checkpoint(run.path) == run.checkpoint(2)
    final = GraphLLMDir(run.final)
    assert final.exists() and (final.llm / "config.json").is_file()
    assert final.weights("encoder").is_file() and final.weights("adapter").is_file()
    # the readers: a run dir is generated from its export/, probed through its final/
    assert resolve_model(str(run.path)) == str(run.export.resolve())
    assert resolve_model(str(run.final)) == str(final.llm.resolve())
    assert graph_llm_dir(str(run.path)) == run.final
    assert model_label(resolve_model(str(run.final))) == "run/final"


def test_stages_in_numeric_order_and_only_stage_n_directories(tmp_path):
    root = RunDir(tmp_path)
    assert root.stages() == [] and root.last_stage() is None
    for name in ("stage2", "stage10", "stage1", "stage", "stagex", "stage3.bak"):
        (tmp_path / name).mkdir()
    (tmp_path / "stage4").write_text("a file, not a stage")
    assert [s.path.name for s in root.stages()] == ["stage1", "stage2", "stage10"]
    assert root.last_stage() == root.stage(10) == RunDir(tmp_path / "stage10")
    assert RunDir(tmp_path / "missing").stages() == []


def test_a_multi_stage_run_resolves_to_its_last_stage(tmp_path):
    last = RunDir(tmp_path).stage(2)
    (RunDir(tmp_path).stage(1).export).mkdir(parents=True)
    (RunDir(tmp_path).stage(1).export / "config.json").write_text("{}")
    last.export.mkdir(parents=True)
    (last.export / "config.json").write_text("{}")
    assert resolve_model(str(tmp_path)) == str(last.export.resolve())
    assert graph_llm_dir(str(tmp_path)) is None  # no final/ anywhere: the probe has no encoder
