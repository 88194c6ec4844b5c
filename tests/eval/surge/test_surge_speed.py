"""benchmarks/surge_speed.py on a tiny random-init model: both sides run, the report is honest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from surge_fixtures import write_tiny_surge
from surge_tiny_llm import save_tiny_chat_llm

from benchmarks import surge_speed


def test_speed_report_on_tiny_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    llm = save_tiny_chat_llm(tmp_path / "llm")
    data = write_tiny_surge(tmp_path / "surge", ("rl",))  # five items
    out = tmp_path / "speed.json"
    args = ["--model", str(llm), "--data", str(data), "--subset", "rl", "--items", "5", "--batch-size", "2"]
    assert surge_speed.main([*args, "--max-new-tokens", "4", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["items"] == 5 and res["agree"] == 5  # fp32 greedy: the batched replies are the same
    for side in ("batched", "sequential"):
        assert res[side]["seconds"] > 0 and 5 <= res[side]["new_tokens"] <= 20
    assert res["ratio"] == pytest.approx(
        res["batched"]["items_per_s"] / res["sequential"]["items_per_s"], 1e-2
    )
    assert res["met"] == (res["ratio"] >= 3.0) and 0 <= res["padding_fraction"] < 1
    printed = capsys.readouterr().out
    assert ("(target >= 3: met)" in printed) == res["met"] and "replies identical: 5/5" in printed
