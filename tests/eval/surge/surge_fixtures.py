"""Where the real SURGE data is (if anywhere), and a tiny hand-written SURGE folder for tests.

The real files are never copied into the repository: tests read them from ``$GALLA_SURGE_DATA`` or
``../shared/data/surge`` (relative to the repository root) and skip when neither exists. The fixture
records below are invented; they only have the shape of the real ones.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
REAL_DATA = Path(os.environ.get("GALLA_SURGE_DATA", REPO_ROOT.parent / "shared" / "data" / "surge"))
needs_real_data = pytest.mark.skipif(
    not (REAL_DATA / "fl.json").is_file(), reason=f"SURGE data not found at {REAL_DATA}"
)

_SYS = {"sys_0shot": "Say the output.", "sys_cot": "Think, then say the output.", "sys_3shot": "Examples..."}
_FL_FAIL = json.dumps(
    {
        "errors": [
            {
                "severity": "error",
                "pos": {"line": 7, "column": 2},
                "endPos": None,
                "data": "unsolved goals x",
            },
            {"severity": "error", "pos": {"line": 9, "column": 4}, "endPos": None, "data": "type mismatch"},
        ],
        "pass": False,
        "complete": False,
    }
)
_FL_PASS = json.dumps({"errors": [], "pass": True, "complete": True})


def _rec(category: int, gt: str, features: dict, key: str = "custom_category") -> dict:
    return {"question": "code:```print(1)```", "gt": gt, key: category, "custom_features": features, **_SYS}


TINY: dict[str, list[dict]] = {
    "ml": [
        _rec(1, "42", {"language": "CPP", "lines": 3, "repo": "McEval"}, "custom_categoey"),
        _rec(1, "hello", {"language": "C#", "lines": 3, "repo": "McEval"}, "custom_categoey"),
    ],
    "cl": [
        _rec(1, "1 2\n3 4", {"language": "Python", "repo": "LeetCode", "difficulty": 2}, "custom_categoey"),
    ],
    "rl": [
        _rec(3, "5 3", {"repo": "TUOJ", "run_instruction": "make", "language": "Python"}, "custom_categoey"),
        _rec(3, "car ok", {"repo": "TUOJ", "run_instruction": "g++ main.cpp\n./main"}, "custom_categoey"),
        _rec(3, "(1+2)*8 = 24", {"repo": "TUOJ", "run_instruction": "python 24_game.py"}, "custom_categoey"),
        _rec(3, "\\begin{tikz}\n\\end{tikz}", {"repo": "PlotNeuralNet"}, "custom_categoey"),
        _rec(
            3,
            "1 2 3\n------- 0 -------",
            {
                "repo": "https://github.com/psychopurp/sudoku-player",
                "run_instruction": "./main",
                "task": "sudoku",
            },
            "custom_categoey",
        ),
    ],
    "sc": [
        _rec(4, "[1.0, 2.0, 4.0]", {"qid": 1, "time": None, "fid": "heat_eq_x"}),
        _rec(4, "[[1. 2.]\n [3. 4.]]", {"qid": 2, "time": None, "fid": "gd_hbv"}),
    ],
    "tc": [
        _rec(5, "0 1 2 0", {"qid": 1, "time": "0.0000 seconds", "fid": "tsp"}),
        _rec(5, "[3, 1, 2]", {"qid": 2, "time": None, "fid": "bubble_sort"}),
        _rec(5, "Estimated value: 3.14", {"qid": 3, "time": None, "fid": "mc_1"}),
        _rec(5, "[[1.0, 0.0], [0.0, 1.0]]", {"qid": 4, "time": None, "fid": "matrix_inv"}),
    ],
    "bg": [
        _rec(6, "Compilation Error: /app/test.cpp: error", {"language": "cpp", "gt0": "1", "type": "None"}),
        _rec(6, "7", {"language": "java", "gt0": "7", "type": "None"}),
        _rec(6, "Traceback: NameError x", {"language": "python3", "gt0": "1", "type": ["undefined"]}),
    ],
    "dr": [_rec(7, "255\n", {"dependencies": [True, False, False], "key": "g++-C++11--O1"})],
    "fl": [_rec(8, _FL_PASS, {}), _rec(8, _FL_FAIL, {})],
}


def write_tiny_surge(folder: Path, subsets: tuple[str, ...] | None = None) -> Path:
    """Write the hand-made SURGE files (all eight, or ``subsets``) into ``folder``; returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    for subset, records in TINY.items():
        if subsets is None or subset in subsets:
            (folder / f"{subset}.json").write_text(json.dumps(records), encoding="utf-8")
    return folder
