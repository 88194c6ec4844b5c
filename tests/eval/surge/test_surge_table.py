"""The 15-column table, the paper's average, the published rows and the writers."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from galla.eval.surge.data import SETTINGS
from galla.eval.surge.paper import DEFAULT_COMPARE, PAPER_ROWS, paper_rows
from galla.eval.surge.table import (
    COLUMNS,
    ColumnScores,
    TableRow,
    format_markdown,
    paper_average,
    plot_bars,
    write_csv,
    write_json,
    write_markdown,
)


def test_columns() -> None:
    assert len(COLUMNS) == 15
    assert COLUMNS[:6] == ("ML-CPP", "ML-Rust", "ML-Java", "ML-Python", "ML-Julia", "ML-Others")
    assert COLUMNS[10:13] == ("BG-CPP", "BG-Java", "BG-Python")


def test_paper_average_skips_zero_and_missing() -> None:
    assert paper_average([10.0, 0.0, 20.0, None]) == 15.0
    assert paper_average([0.0, None]) == 0.0
    assert paper_average([]) == 0.0


def test_paper_rows_reproduce_published_average() -> None:
    # every published Avg follows from its 15 (rounded) columns with the skip-zero rule
    assert len(PAPER_ROWS) == 63
    for setting in SETTINGS:
        assert len(paper_rows(setting)) == 21
    for row in PAPER_ROWS:
        assert len(row.scores) == 15
        assert paper_average(row.scores) == pytest.approx(row.avg, abs=0.01), (row.setting, row.model)
    by_key = {(r.setting, r.model): r for r in PAPER_ROWS}
    assert round(paper_average(by_key["0shot", "LLaMA-3.1-8B-Instruct"].scores), 2) == 8.49
    assert round(paper_average(by_key["3shot", "Qwen-2.5-Coder-0.5B-Instruct"].scores), 2) == 9.25
    # a plain mean would differ where the paper skipped zero columns
    llama = by_key["0shot", "LLaMA-3.1-8B-Instruct"].scores
    assert round(sum(llama) / 15, 2) != 8.49


def test_paper_rows_filter() -> None:
    rows = paper_rows("cot", ["gpt-4o", "LLaMA-3.1-8B-Instruct"])
    assert [(r.model, r.setting) for r in rows] == [("GPT-4o", "cot"), ("LLaMA-3.1-8B-Instruct", "cot")]
    assert len(paper_rows("0shot", DEFAULT_COMPARE)) == len(DEFAULT_COMPARE)
    with pytest.raises(ValueError, match="no paper row for GPT-5"):
        paper_rows("0shot", ["GPT-5"])


def test_column_scores_row() -> None:
    acc = ColumnScores()
    for score in (1.0, 0.0, 0.5):
        acc.add("CL", score)
    acc.add("FL", 0.0)
    acc.add(None, 1.0)  # a BG language outside the table: ignored
    row = acc.row("mine", "cot")
    assert row.scores["CL"] == pytest.approx(50.0)
    assert row.scores["FL"] == 0.0
    assert row.scores["DR"] is None
    assert row.avg == pytest.approx(50.0)  # FL is 0 and the rest have no items: only CL counts
    assert row.counts["CL"] == 3 and row.counts["DR"] == 0
    with pytest.raises(ValueError, match="unknown SURGE column"):
        acc.add("ML", 1.0)
    with pytest.raises(ValueError, match="unknown SURGE column"):
        TableRow.from_scores("x", {"XX": 1.0})


def _rows() -> list[TableRow]:
    mine = TableRow.from_scores("mine", {"CL": 40.0, "RL": 20.0}, setting="0shot", counts={"CL": 2})
    return [mine, TableRow.from_paper(paper_rows("0shot", ["GPT-4o"])[0])]


def test_markdown() -> None:
    text = format_markdown(_rows())
    lines = text.splitlines()
    assert lines[0] == "| Model | " + " | ".join(COLUMNS) + " | Avg |"
    assert lines[2].startswith("| **mine** | n/a |") and lines[2].endswith("| 30.00 |")
    assert lines[3].startswith("| GPT-4o (paper) | 40.91 |") and lines[3].endswith("| 40.03 |")


def test_writers(tmp_path: Path) -> None:
    rows = _rows()
    write_markdown(tmp_path / "t.md", rows, "SURGE: mine", ["a note"])
    md = (tmp_path / "t.md").read_text()
    assert md.startswith("# SURGE: mine\n") and "- a note" in md and "arXiv 2502.11167" in md

    write_csv(tmp_path / "t.csv", rows)
    with (tmp_path / "t.csv").open() as f:
        table = list(csv.DictReader(f))
    assert table[0]["model"] == "mine" and table[0]["CL"] == "40.0000" and table[0]["DR"] == ""
    assert table[0]["Avg"] == "30.0000" and table[1]["source"] == "paper"

    write_json(tmp_path / "t.json", rows, {"coverage": {"cl": {"scored": 2, "total": 2}}})
    doc = json.loads((tmp_path / "t.json").read_text())
    assert doc["columns"] == list(COLUMNS)
    assert doc["rows"][0]["scores"]["DR"] is None and doc["rows"][0]["counts"] == {"CL": 2}
    assert doc["rows"][1]["avg"] == 40.03 and "counts" not in doc["rows"][1]
    assert doc["coverage"]["cl"]["total"] == 2 and "Table 5" in doc["paper_citation"]


def test_bar_chart(tmp_path: Path) -> None:
    path = tmp_path / "chart.png"
    plot_bars(path, _rows(), "SURGE: mine (0shot)")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
