"""``galla eval surge`` end to end: scoring a responses file with bad lines, exit codes, outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from surge_fixtures import REAL_DATA, TINY, needs_real_data, write_tiny_surge

from galla.cli import main
from galla.eval.surge.data import load_surge


def _fenced(answer: str) -> str:
    return f"Thought: easy.\nOutput:\n```\n{answer}\n```"


def _write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return write_tiny_surge(tmp_path / "surge")


def test_scores_file_with_problems(tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = [
        {"subset": "ml", "index": 0, "response": _fenced("42"), "model": "m", "meta": {"k": [1, 2]}},
        {"subset": "ML", "index": 1, "response": "Output: wrong", "model": "m"},
        {"subset": "fl", "index": 1, "response": _fenced(TINY["fl"][1]["gt"]), "model": "m"},
        {"subset": "tc", "index": 1, "response": _fenced("[3, 1, 2]"), "score": "stale"},
        {"subset": "rl", "index": 0, "response": None},
    ]
    lines = [json.dumps(r) for r in good[:2]]
    lines += [
        "{not json",  # line 3
        json.dumps({"subset": "zz", "index": 0, "response": "x"}),  # line 4
        json.dumps({"subset": "ml", "index": 2, "response": "x"}),  # line 5: ml has 2 items
        json.dumps({"subset": "ml", "index": -1, "response": "x"}),  # line 6
        "",  # line 7: blank, ignored
        json.dumps({"subset": "cl", "response": "x"}),  # line 8: no index
        json.dumps({"subset": "cl", "index": "0", "response": "x"}),  # line 9: index not an int
        json.dumps({"subset": "cl", "index": 0, "response": 5}),  # line 10: response not a string
        json.dumps(["subset", "ml"]),  # line 11
        json.dumps({"subset": "ml", "index": 0, "response": "again"}),  # line 12: duplicate
    ]
    lines += [json.dumps(r) for r in good[2:]]
    responses = _write_lines(tmp_path / "run1.jsonl", lines)
    out = tmp_path / "out"

    rc = main(["eval", "surge", "--data", str(tiny), "--responses", str(responses), "--out", str(out)])
    assert rc == 0
    err = capsys.readouterr().err
    assert "9 lines not scored" in err and "line 3: malformed" in err

    scored = _jsonl(out / "scores.jsonl")
    assert [r["score"] for r in scored] == [1.0, 0.0, 1.0, 1.0, 0.0]
    # every other field passes through untouched; an old score is replaced
    assert {k: v for k, v in scored[0].items() if k != "score"} == good[0]
    assert scored[1]["subset"] == "ML" and scored[3]["score"] == 1.0

    problems = _jsonl(out / "problems.jsonl")
    assert [(p["line"], p["kind"]) for p in problems] == [
        (3, "malformed"),
        (4, "unknown_subset"),
        (5, "index_out_of_range"),
        (6, "index_out_of_range"),
        (8, "missing_field"),
        (9, "bad_field"),
        (10, "bad_field"),
        (11, "malformed"),
        (12, "duplicate"),
    ]
    assert all(p["message"] for p in problems)

    table = json.loads((out / "table.json").read_text())
    mine = table["rows"][0]
    assert mine["name"] == "run1" and mine["setting"] == "0shot"
    assert mine["scores"]["ML-CPP"] == 100.0 and mine["scores"]["ML-Others"] == 0.0
    assert mine["scores"]["FL"] == 100.0 and mine["scores"]["TC"] == 100.0 and mine["scores"]["RL"] == 0.0
    assert mine["scores"]["CL"] is None
    assert mine["avg"] == pytest.approx(100.0)  # zero columns and empty columns are left out
    assert table["coverage"]["ml"] == {"scored": 2, "total": 2}
    assert table["coverage"]["fl"] == {"scored": 1, "total": 2}
    assert [r["source"] for r in table["rows"][1:]] == ["paper"] * 5
    assert "Incomplete subsets" in (out / "table.md").read_text()
    # the zero columns Avg skipped are named, with the reason
    assert "Avg leaves out ML-Others, RL (scored, all 0)" in (out / "table.md").read_text()
    assert "Avg leaves out ML-Others, RL (scored, all 0)" in " ".join(err.split())
    assert (out / "table.csv").is_file() and (out / "chart.png").stat().st_size > 1000


def test_problem_count_and_line_numbers(tiny: Path, tmp_path: Path) -> None:
    lines = [
        json.dumps({"subset": "dr", "index": 0, "response": _fenced("255")}).encode(),
        b'{"subset": "dr", "index": 0, "response": "\xff"}',  # not UTF-8
        json.dumps({"subset": "dr", "index": 1, "response": "x"}).encode(),
        json.dumps({"index": 0}).encode(),
    ]
    responses = tmp_path / "r.jsonl"
    responses.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "out"
    assert main(["eval", "surge", "--data", str(tiny), "--responses", str(responses), "--out", str(out)]) == 0
    problems = _jsonl(out / "problems.jsonl")
    assert [(p["line"], p["kind"]) for p in problems] == [
        (2, "malformed"),
        (3, "index_out_of_range"),
        (4, "missing_field"),
    ]
    assert "subset, response" in problems[2]["message"]
    assert _jsonl(out / "scores.jsonl") == [
        {"subset": "dr", "index": 0, "response": _fenced("255"), "score": 1.0}
    ]


def test_subsets_flag_skips_other_lines(
    tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tiny / "fl.json").unlink()  # not needed when only ml is selected
    lines = [
        json.dumps({"subset": "ml", "index": 0, "response": _fenced("42")}),
        json.dumps({"subset": "fl", "index": 0, "response": "x"}),
    ]
    responses = _write_lines(tmp_path / "r.jsonl", lines)
    args = ["eval", "surge", "--data", str(tiny), "--responses", str(responses), "--out", str(tmp_path / "o")]
    assert main([*args, "--subsets", "ml", "--compare", "none", "--no-chart", "--name", "mine"]) == 0
    assert "skipped lines of subsets not selected by --subsets: fl 1" in capsys.readouterr().err
    assert (tmp_path / "o" / "problems.jsonl").read_text() == ""
    assert not (tmp_path / "o" / "chart.png").exists()
    table = json.loads((tmp_path / "o" / "table.json").read_text())
    assert [r["name"] for r in table["rows"]] == ["mine"] and table["skipped_lines"] == {"fl": 1}
    # all eight subsets need all eight files
    assert main(args) == 2
    assert "fl.json" in capsys.readouterr().err


def test_no_model_and_no_responses_explains_both(tiny: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "surge", "--data", str(tiny)]) == 2
    err = capsys.readouterr().err
    assert "--model SPEC" in err and '"subset"' in err and "--responses" in err


def test_bad_paths_exit_2(tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    responses = _write_lines(
        tmp_path / "r.jsonl", [json.dumps({"subset": "ml", "index": 0, "response": "x"})]
    )
    out = str(tmp_path / "out")
    base = ["eval", "surge", "--data", str(tiny)]
    assert main([*base, "--responses", str(tmp_path / "missing.jsonl"), "--out", out]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert (
        main(
            ["eval", "surge", "--data", str(tmp_path / "nodata"), "--responses", str(responses), "--out", out]
        )
        == 2
    )
    assert "nodata" in capsys.readouterr().err
    assert main([*base, "--responses", str(responses)]) == 2  # no --out
    assert main([*base, "--responses", str(responses), "--out", str(responses)]) == 2  # --out is a file
    assert main([*base, "--responses", str(responses), "--out", out, "--subsets", "ml,xx"]) == 2
    assert main([*base, "--responses", str(responses), "--out", out, "--compare", "GPT-5"]) == 2
    assert "known models" in capsys.readouterr().err


def test_nothing_scored_exits_1(tiny: Path, tmp_path: Path) -> None:
    responses = _write_lines(tmp_path / "r.jsonl", ["nope", "[]"])
    assert (
        main(
            [
                "eval",
                "surge",
                "--data",
                str(tiny),
                "--responses",
                str(responses),
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 1
    )
    assert len(_jsonl(tmp_path / "o" / "problems.jsonl")) == 2


def test_rescoring_scores_file_in_place(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    responses = _write_lines(
        tmp_path / "r.jsonl", [json.dumps({"subset": "ml", "index": 0, "response": "42"})]
    )
    args = ["eval", "surge", "--data", str(tiny), "--out", str(out), "--no-chart"]
    assert main([*args, "--responses", str(responses)]) == 0
    assert main([*args, "--responses", str(out / "scores.jsonl")]) == 0
    assert _jsonl(out / "scores.jsonl") == [{"subset": "ml", "index": 0, "response": "42", "score": 1.0}]


@needs_real_data
def test_perfect_replies_over_real_data(tmp_path: Path) -> None:
    items = load_surge(REAL_DATA)
    lines = [
        json.dumps({"subset": s, "index": it.index, "response": it.perfect_response()})
        for s, group in items.items()
        for it in group
    ]
    responses = _write_lines(tmp_path / "oracle.jsonl", lines)
    out = tmp_path / "out"
    args = ["eval", "surge", "--data", str(REAL_DATA), "--responses", str(responses), "--out", str(out)]
    assert main([*args, "--no-chart"]) == 0
    row = json.loads((out / "table.json").read_text())["rows"][0]
    rounded = {k: round(v, 2) for k, v in row["scores"].items()}
    assert rounded == {**dict.fromkeys(rounded, 100.0), "RL": 99.95, "DR": 99.91, "FL": 98.79}
    assert round(row["avg"], 2) == 99.91
    assert sum(1 for _ in (out / "scores.jsonl").open()) == 1160
