"""``galla show-graph`` on input it cannot use (an unknown --language, an --out it cannot write): one
line naming the input and what to do, exit code 2, and the user's files byte-identical afterwards."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from galla.cli import main
from parsers.languages import LANGUAGES


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err and "\n" not in err and "Traceback" not in err
    return err


@pytest.fixture
def home(tmp_path) -> Path:
    (tmp_path / "a.py").write_text("def add(a, b):\n    return a + b\n")
    (tmp_path / "notes.txt").write_text("notes\n")
    return tmp_path


def test_an_unknown_language_lists_the_languages(home, capsys):
    before = _snapshot(home)
    out = home / "g.dot"
    assert main(["show-graph", str(home / "a.py"), "--out", str(out), "--language", "klingon"]) == 2
    err = _one_line(capsys)
    assert err.startswith("galla show-graph: --language 'klingon' is not a supported language")
    assert err.endswith(f"choose from {', '.join(sorted(LANGUAGES))}")
    assert _snapshot(home) == before


@pytest.mark.parametrize(
    ("target", "says"),
    [
        ("notes.txt/g.svg", "notes.txt' is a file, not a folder"),
        ("missing/g.svg", "folder '{home}/missing' does not exist; create it first"),
        (".", "is a folder; give a file name inside it"),
    ],
)
def test_an_out_that_cannot_be_written(home, capsys, target, says):
    before = _snapshot(home)
    out = home / target
    assert main(["show-graph", str(home / "a.py"), "--out", str(out)]) == 2
    err = _one_line(capsys)
    assert err.startswith(f"galla show-graph: --out '{out}'")
    assert says.format(home=home) in err
    assert _snapshot(home) == before
    assert not (home / "missing").exists()


def test_an_out_in_a_location_that_cannot_be_written(home, capsys):
    probe = Path("/sys") / f"galla-probe-{os.getpid()}"
    try:
        probe.mkdir()
    except OSError:
        pass
    else:
        probe.rmdir()
        pytest.skip("/sys accepts new files here; no unwritable location to test with")
    out = Path("/sys") / "galla-graph.dot"
    assert main(["show-graph", str(home / "a.py"), "--out", str(out)]) == 2
    err = _one_line(capsys)
    assert err.startswith(f"galla show-graph: --out '{out}': could not write")
    assert "choose another --out" in err
