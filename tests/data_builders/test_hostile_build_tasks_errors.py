"""``galla build-tasks`` with an ``--out`` it cannot use: one line naming it and what to do, exit code 2,
and the user's files byte-identical afterwards."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from data_builders.build import BuildOptions, build_graphs
from galla.cli import main

CODE = "def add(a, b):\n    return a + b\n\n\ndef neg(x):\n    return -x\n"


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err and "\n" not in err and "Traceback" not in err
    return err


@pytest.fixture(scope="module")
def graphs(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    (src / "a.py").write_text(CODE)
    out = tmp_path_factory.mktemp("graphs") / "g"
    build_graphs(BuildOptions(paths=[str(src)], out=out, workers=1, cache=False))
    return out


@pytest.fixture
def user_files(tmp_path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / "tasks").write_text("my notes called tasks\n")
    (home / "other.txt").write_bytes(b"\x00mine")
    return home


@pytest.mark.parametrize("target", ["tasks", "tasks/sub"])
def test_out_that_is_or_is_below_a_file(graphs, user_files, capsys, target):
    before = _snapshot(user_files)
    out = user_files / target
    assert main(["build-tasks", str(graphs), "--out", str(out)]) == 2
    err = _one_line(capsys)
    assert err.startswith(f"galla build-tasks: --out '{out}'")
    assert f"{user_files / 'tasks'}' is a file, not a folder" in err and "choose another --out" in err
    assert _snapshot(user_files) == before
    assert sorted(p.name for p in user_files.iterdir()) == ["other.txt", "tasks"]  # no temporary left


def test_the_library_refuses_a_file_too(graphs, user_files):
    from data_builders.tasks import build_tasks

    before = _snapshot(user_files)
    with pytest.raises(ValueError, match="is a file, not a folder"):
        build_tasks(graphs, user_files / "tasks")
    assert _snapshot(user_files) == before


def test_out_in_a_location_that_cannot_be_written(graphs, capsys):
    probe = Path("/sys") / f"galla-probe-{os.getpid()}"
    try:
        probe.mkdir()
    except OSError:
        pass
    else:
        probe.rmdir()
        pytest.skip("/sys accepts new folders here; no unwritable location to test with")
    out = Path("/sys") / "galla-tasks"
    assert main(["build-tasks", str(graphs), "--out", str(out)]) == 2
    err = _one_line(capsys)
    assert err.startswith(f"galla build-tasks: --out '{out}': could not write")
    assert "choose another --out" in err


def test_a_missing_graph_folder_is_named(tmp_path, capsys):
    out = tmp_path / "tasks"
    assert main(["build-tasks", str(tmp_path / "nope"), "--out", str(out)]) == 2
    err = _one_line(capsys)
    assert f"'{tmp_path / 'nope'}' does not exist" in err and "galla build-graphs" in err
    assert not out.exists()
