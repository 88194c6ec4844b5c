"""benchmarks/graph_speed.py: corpus selection, the tree-sitter floor and the report, on three tiny files."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import graph_speed
from benchmarks.graph_speed import EXCLUDED_DIRS, floor, galla_in_process, print_report, stdlib_corpus

FILES = {
    "a.py": "def f(x):\n    y = x + 1\n    return y\n",
    "pkg/b.py": "class C:\n    def m(self, n):\n        for i in range(n):\n            n -= i\n"
    "        return n\n",
    "pkg/sub/c.py": "import os\n\ndef g():\n    return os.sep\n",
    # left out: excluded directories, caches, other extensions
    "test/t.py": "def t(): pass\n",
    "pkg/tests/t.py": "def t(): pass\n",
    "idlelib/idle_test/t.py": "def t(): pass\n",
    "site-packages/lib.py": "def t(): pass\n",
    "pkg/__pycache__/b.py": "def t(): pass\n",
    "README.txt": "not python\n",
}


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    for rel, text in FILES.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return tmp_path


def test_corpus_keeps_python_outside_excluded_dirs(corpus: Path) -> None:
    files = stdlib_corpus(corpus)
    assert [p.relative_to(corpus).as_posix() for p in files] == ["a.py", "pkg/b.py", "pkg/sub/c.py"]


def test_default_corpus_is_this_interpreters_stdlib() -> None:
    files = stdlib_corpus()
    assert any(p.name == "os.py" for p in files)
    assert not any(set(p.parts) & EXCLUDED_DIRS for p in files)


def test_floor_and_engine_rows(corpus: Path) -> None:
    sources = [p.read_bytes() for p in stdlib_corpus(corpus)]
    fl = floor(sources)
    assert fl["files"] == 3
    assert fl["bytes"] == sum(map(len, sources))
    assert fl["nodes"] > 50
    assert fl["seconds"] >= 0
    ours = galla_in_process(sources)
    assert ours["units"] == 3  # f, C.m, g
    assert ours["edges"]["LAST_WRITE"] > 0
    assert ours["edges"]["CHILD"] > 0


def test_report_prints_rows_and_ratios(capsys: pytest.CaptureFixture[str]) -> None:
    row = {"files": 3, "bytes": 2_000_000, "edges": {"CHILD": 10, "LAST_WRITE": 2}, "edge_types": 2}
    rows = {
        "floor": {"files": 3, "bytes": 2_000_000, "seconds": 1.0},
        "galla build-graphs": {**row, "seconds": 1.2},
        "GraphCodeBERT DFG": {**row, "seconds": 9.0, "failed": 1, "failures": "DFG_python raised"},
    }
    for r in rows.values():
        r["mb_per_s"] = r["bytes"] / 1e6 / r["seconds"]
    res = {
        "rows": rows,
        "ratios": {"build_graphs_over_floor": 1.2, "gcb_over_build_graphs": 7.5},
        "targets": graph_speed.TARGETS,
    }
    print_report(res)
    out = capsys.readouterr().out
    assert "galla build-graphs" in out and "LAST_WRITE 2" in out
    assert "build_graphs_over_floor" in out and "met" in out and "NOT met" not in out
