"""benchmarks/galla_effect.py's report: per-arm means over seeds, paired differences, held-out losses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.galla_effect import report


def _run(arm: str, seed: int, scores: list[float], stages: list[list[dict]]) -> dict:
    items = [{"index": i, "pass@1": s} for i, s in enumerate(scores)]
    mean = sum(scores) / len(scores)
    return {
        "arm": arm,
        "seed": seed,
        "train": [{"steps": 10, "seconds": 60.0, "eval": ev} for ev in stages],
        "eval": {
            "tasks": {"humaneval": {"pass@1": {"mean": mean, "lo": 0.0, "hi": 1.0, "n": len(scores)}}},
            "items": {"humaneval": items},
        },
    }


def test_report_pairs_items_and_averages_seeds(tmp_path: Path) -> None:
    sft = [[{"step": 0, "text": 1.4}, {"step": 10, "text": 1.2}]]
    galla = [
        [{"step": 0, "graph": 3.2}, {"step": 10, "graph": 2.9}],
        [{"step": 0, "text": 1.3, "graph": 1.9}, {"step": 10, "text": 1.1, "graph": 1.7}],
    ]
    finished = {
        "A": [_run("A", 0, [0, 0, 1, 0], sft), _run("A", 1, [0, 1, 1, 0], sft)],
        "B": [_run("B", 0, [1, 1, 1, 0], galla)],
        "C": [_run("C", 0, [1, 0, 1, 0], galla[1:])],
    }
    p = report({"name": "t"}, tmp_path, finished)
    row = p["table"][0]
    assert (row["task"], row["metric"]) == ("humaneval", "pass@1")
    assert row["arms"]["A"]["mean"] == pytest.approx(0.375) and row["arms"]["A"]["seeds"] == [0, 1]
    assert row["arms"]["A"]["std"] == pytest.approx(0.1767767, rel=1e-5)  # sample std of 0.25, 0.5
    # per item, A's seeds averaged: 0, .5, 1, 0 against B's 1, 1, 1, 0
    assert row["vs_A"]["B"]["diff"] == pytest.approx((1 + 0.5 + 0 + 0) / 4) and row["vs_A"]["B"]["n"] == 4
    assert row["vs_A"]["C"]["diff"] == pytest.approx((1 - 0.5 + 0 + 0) / 4)
    assert row["B_vs"]["C"]["diff"] == pytest.approx(0.25) and "D" not in row["B_vs"]  # B - C, per item
    assert row["B_minus_A_by_seed"] == {"0": pytest.approx(0.5)}  # B has seed 0 only
    held = p["held_out"]
    assert held["A"] == {"downstream/text": {"first": 1.4, "last": 1.2}}
    assert held["B"]["alignment/graph"] == {"first": 3.2, "last": 2.9}
    assert held["B"]["downstream/graph"]["last"] == pytest.approx(1.7)
    assert p["compute"]["B"]["train_steps"] == 20
    md = (tmp_path / "report.md").read_text()
    assert (
        "alignment/graph 3.200 → 2.900" in md
        and "| humaneval | pass@1 | 37.5 ± 17.7 | 75.0 ± 0.0 | 50.0 ± 0.0 |" in md
        and "Δ B − C [95% CI]" in md
    )
    assert json.loads((tmp_path / "report.json").read_text())["held_out"] == held
    assert (tmp_path / "report.png").stat().st_size > 10_000


def test_a_run_held_by_another_process_is_left_to_it(tmp_path: Path) -> None:
    import subprocess
    import sys

    from benchmarks.galla_effect import run_one, run_plan

    assert run_plan({"arms": {"A": [0, 1], "B": [0, 1], "D": [0]}}) == [
        ("A", 0),
        ("B", 0),
        ("D", 0),
        ("A", 1),
        ("B", 1),
    ]
    run = tmp_path / "A-s0"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from data_builders.lock import acquire; "
            f"acquire({str(run)!r}, 'test'); print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        # the run is not touched: no training starts (cfg and data are not even looked at)
        assert run_one({}, "A", 0, run, {}) is False
        assert not (run / "done.json").exists()
    finally:
        holder.kill()
        holder.wait()
    (run / "done.json").write_text("{}")  # finished elsewhere meanwhile: skipped, not redone
    assert run_one({}, "A", 0, run, {}) is False


@pytest.mark.parametrize("preset", sorted(Path("configs/experiments").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_preset_gives_valid_train_configs(preset: Path, tmp_path: Path) -> None:
    from benchmarks.galla_effect import load_preset, stage_configs
    from galla.train.config import TrainConfig

    cfg = load_preset(preset)
    data = {"text": "t.jsonl", "graphs": "g", "task_data": "d"}
    for arm, seeds in cfg["arms"].items():
        stages = [TrainConfig.from_dict(s) for s in stage_configs(cfg, arm, seeds[0], tmp_path / arm, data)]
        assert len(stages) == (2 if arm in ("B", "D") else 1)
        assert stages[-1].model.llm == cfg["model"]["llm"] and stages[-1].run.seed == seeds[0]
        if arm in ("B", "D"):
            assert not stages[0].model.llm_trainable and stages[-1].init_from == str(
                tmp_path / arm / "stage1" / "final"
            )
