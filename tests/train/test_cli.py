"""``galla train`` and ``galla build-tasks`` from the command line (in-process through ``galla.cli.main``)."""

from __future__ import annotations

import json

import yaml
from datasets import load_from_disk

from galla.cli import main


def test_train_cli_with_overrides(make_cfg, sft_file, tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(make_cfg(data={"text": [str(sft_file)]}).to_dict()))
    out = tmp_path / "cli-run"
    assert (
        main(
            [
                "train",
                str(path),
                f"run.out_dir={out}",
                "optim.max_steps=3",
                "params.kind=lora",
                "run.export=true",
            ]
        )
        == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 3 and summary["params"] == "lora"
    assert (out / "export" / "config.json").exists() and (out / "tb").is_dir()
    assert yaml.safe_load((out / "config.yaml").read_text())["optim"]["max_steps"] == 3


def test_train_cli_reports_bad_input(tmp_path, capsys):
    assert main(["train", str(tmp_path / "missing.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: {text: [x.jsonl]}\noptim: {learning_rate: 1}\n")
    assert main(["train", str(bad)]) == 2
    assert "unknown key(s) learning_rate" in capsys.readouterr().err


def test_build_tasks_cli(graph_dir, tmp_path):
    out = tmp_path / "tasks"
    assert main(["build-tasks", str(graph_dir), "--out", str(out), "--per-graph", "2", "--docstrings"]) == 0
    ds = load_from_disk(str(out))
    assert {"graph2code", "graph_qa"} <= set(ds["task"])
    assert (out / "docstrings.jsonl").exists() and (out / "docstring_pairs.jsonl").exists()
    assert main(["build-tasks", str(tmp_path / "nope"), "--out", str(out)]) == 2
