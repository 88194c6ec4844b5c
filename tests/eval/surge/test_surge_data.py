"""Loading SURGE folders: item metadata, prompts and the errors for unusable data."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from surge_fixtures import REAL_DATA, TINY, needs_real_data, write_tiny_surge

from galla.eval.surge.data import (
    SETTINGS,
    SUBSETS,
    SurgeDataError,
    load_subset,
    load_surge,
    parse_subsets,
)


def test_fixture_metadata(tmp_path: Path) -> None:
    items = load_surge(write_tiny_surge(tmp_path))
    assert list(items) == list(SUBSETS)
    assert [it.column for it in items["ml"]] == ["ML-CPP", "ML-Others"]
    assert [it.column for it in items["bg"]] == ["BG-CPP", "BG-Java", "BG-Python"]
    assert [it.rl_task for it in items["rl"]] == ["cow", "car", "24_game", "plotneuralnet", "sudoku"]
    assert [it.fid for it in items["tc"]] == ["tsp", "bubble_sort", "mc_1", "matrix_inv"]
    assert {it.column for s in ("cl", "rl", "sc", "tc", "dr", "fl") for it in items[s]} == {
        "CL",
        "RL",
        "SC",
        "TC",
        "DR",
        "FL",
    }
    first = items["dr"][0]
    assert (first.subset, first.index, first.gt) == ("dr", 0, "255\n")


def test_messages_and_perfect_response(tmp_path: Path) -> None:
    item = load_surge(write_tiny_surge(tmp_path), ["ml"])["ml"][0]
    assert item.messages("cot") == [
        {"role": "system", "content": TINY["ml"][0]["sys_cot"]},
        {"role": "user", "content": TINY["ml"][0]["question"]},
    ]
    with pytest.raises(ValueError, match="unknown SURGE setting"):
        item.messages("5shot")
    assert item.perfect_response().endswith("Output:\n```\n42\n```")
    assert item.perfect_response(fenced=False).endswith("Output:\n42")


def test_parse_subsets() -> None:
    assert parse_subsets(None) == SUBSETS
    assert parse_subsets("all") == SUBSETS
    assert parse_subsets("FL, ml,") == ("ml", "fl")
    with pytest.raises(SurgeDataError, match="unknown SURGE subset"):
        parse_subsets("ml,xx")


def test_missing_folder_and_file(tmp_path: Path) -> None:
    with pytest.raises(SurgeDataError, match="does not exist"):
        load_surge(tmp_path / "nope")
    write_tiny_surge(tmp_path, ("ml",))
    assert list(load_surge(tmp_path, ["ml"])) == ["ml"]
    with pytest.raises(SurgeDataError, match=r"missing .*cl\.json.*Imbernoulli/SURGE.*--subsets"):
        load_surge(tmp_path)


def _write(folder: Path, subset: str, records: object) -> None:
    (folder / f"{subset}.json").write_text(json.dumps(records), encoding="utf-8")


def test_bad_records_name_file_record_and_field(tmp_path: Path) -> None:
    good = TINY["sc"][0]
    _write(tmp_path, "sc", [good, {k: v for k, v in good.items() if k != "gt"}])
    with pytest.raises(SurgeDataError, match=r"sc\.json: record 1: field 'gt' is missing"):
        load_subset(tmp_path, "sc")
    _write(tmp_path, "sc", [{**good, "custom_features": {"qid": 1}}])
    with pytest.raises(SurgeDataError, match=r"record 0: field 'custom_features\.fid' is missing"):
        load_subset(tmp_path, "sc")
    _write(tmp_path, "rl", [{**TINY["rl"][0], "custom_features": {"repo": "TUOJ"}}])
    with pytest.raises(SurgeDataError, match=r"custom_features\.run_instruction"):
        load_subset(tmp_path, "rl")
    _write(tmp_path, "sc", {"not": "a list"})
    with pytest.raises(SurgeDataError, match="expected an array"):
        load_subset(tmp_path, "sc")
    (tmp_path / "sc.json").write_text("[{", encoding="utf-8")
    with pytest.raises(SurgeDataError, match="cannot read"):
        load_subset(tmp_path, "sc")
    _write(tmp_path, "sc", [{**good, "custom_category": 5}])  # a TC record in sc.json
    with pytest.raises(SurgeDataError, match="swapped"):
        load_subset(tmp_path, "sc")
    _write(tmp_path, "fl", [{"question": "q", "gt": 3}])
    with pytest.raises(SurgeDataError, match="'gt' is not a string"):
        load_subset(tmp_path, "fl")


def test_system_prompts_optional_until_used(tmp_path: Path) -> None:
    _write(tmp_path, "dr", [{"question": "q", "gt": "1"}])
    item = load_subset(tmp_path, "dr")[0]
    assert item.system_prompts == {}
    with pytest.raises(SurgeDataError, match="sys_0shot"):
        item.messages()


@needs_real_data
def test_real_data_shape() -> None:
    items = load_surge(REAL_DATA)
    assert {s: len(v) for s, v in items.items()} == {
        "ml": 150,
        "cl": 150,
        "rl": 60,
        "sc": 150,
        "tc": 150,
        "bg": 150,
        "dr": 200,
        "fl": 150,
    }
    columns = Counter(it.column for group in items.values() for it in group)
    assert columns["ML-CPP"] == 21 and columns["ML-Java"] == 25 and columns["ML-Python"] == 18
    assert columns["ML-Julia"] == 26 and columns["ML-Rust"] == 20 and columns["ML-Others"] == 40
    assert (columns["BG-CPP"], columns["BG-Java"], columns["BG-Python"]) == (54, 51, 45)
    assert Counter(it.rl_task for it in items["rl"]) == {
        "car": 12,
        "cow": 14,
        "24_game": 11,
        "sudoku": 10,
        "plotneuralnet": 13,
    }
    assert all(set(it.system_prompts) == set(SETTINGS) for group in items.values() for it in group)
