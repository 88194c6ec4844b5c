"""``galla eval surge|tasks --model`` naming nothing loadable (a missing path, a folder that is no model):
one line naming the spec and what to do, exit code 2, before any output folder exists."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "surge"))

from surge_fixtures import write_tiny_surge

from galla.cli import main


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err and "\n" not in err and "Traceback" not in err
    return err


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """The working folder: SURGE data, a folder holding only a tokenizer file, a note of the user's."""
    write_tiny_surge(tmp_path / "surge")
    (tmp_path / "tok").mkdir()
    (tmp_path / "tok" / "tokenizer.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("notes\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _eval(command: str, model: str, home: Path) -> int:
    extra = ["--data", str(home / "surge"), "--limit", "1"] if command == "surge" else []
    return main(["eval", command, "--model", model, "--out", str(home / "out"), *extra])


@pytest.mark.parametrize("command", ["surge", "tasks"])
@pytest.mark.parametrize("model", ["./nope", "../nope/llm", "runs/nope/export", "~/galla-nope", "nope"])
def test_a_model_that_is_not_there(home, capsys, command, model):
    before = _snapshot(home)
    assert _eval(command, model, home) == 2
    err = _one_line(capsys)
    assert err.startswith(
        f"galla eval {command}: --model: '{model}' is not a local folder or file, and not a known "
        "offline name or hub id (offline names: smollm2-135m"
    )
    assert "check the spelling or the path" in err
    assert _snapshot(home) == before and not (home / "out").exists() and not (home / "runs").exists()


@pytest.mark.parametrize("command", ["surge", "tasks"])
def test_a_folder_without_config_json(home, capsys, command):
    before = _snapshot(home)
    assert _eval(command, str(home / "tok"), home) == 2
    err = _one_line(capsys)
    assert err.startswith(f"galla eval {command}: --model: {home / 'tok'} is not a model directory")
    assert "no config.json" in err and "point it at a Hugging Face model folder" in err
    assert _snapshot(home) == before and not (home / "out").exists()
