"""``galla train`` on input it cannot use: a run.out_dir it cannot write, a model.llm that names nothing,
a data file that is not UTF-8, a disk that fills while a checkpoint is written. Each is one line naming the
input and what to do, exit code 2, and nothing of the user's (the previous checkpoint included) changed."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import pytest
import yaml

from galla.cli import main
from galla.train import checkpoint as checkpoint_module
from galla.train.checkpoint import latest_checkpoint


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()[-1]  # the last line: progress and load bars come first
    assert "Traceback" not in err
    return err


@pytest.fixture
def config(make_cfg, sft_file, tmp_path) -> Path:
    cfg = make_cfg(data={"text": [str(sft_file)]}, run={"save_every": 1, "progress": False})
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg.to_dict()))
    return path


@pytest.fixture
def home(tmp_path) -> Path:
    d = tmp_path / "home"
    d.mkdir()
    (d / "notes.txt").write_text("notes\n")
    (d / "data.bin").write_bytes(b"\x00mine")
    return d


@pytest.mark.parametrize("target", ["notes.txt", "notes.txt/run"])
def test_an_out_dir_that_is_or_is_below_a_file(config, home, capsys, target):
    before = _snapshot(home)
    out = home / target
    assert main(["train", str(config), f"run.out_dir={out}"]) == 2
    err = _one_line(capsys)
    assert err.startswith(f"galla train: run.out_dir '{out}'")
    assert f"{home / 'notes.txt'}' is a file, not a folder" in err and "choose another run.out_dir" in err
    assert _snapshot(home) == before


def test_an_out_dir_that_cannot_be_created(config, capsys):
    probe = Path("/sys") / f"galla-probe-{os.getpid()}"
    try:
        probe.mkdir()
    except OSError:
        pass
    else:
        probe.rmdir()
        pytest.skip("/sys accepts new folders here; no unwritable location to test with")
    out = Path("/sys") / "galla-run"
    assert main(["train", str(config), f"run.out_dir={out}"]) == 2
    err = _one_line(capsys)
    assert err.startswith(f"galla train: run.out_dir '{out}': could not write")
    assert "choose another run.out_dir" in err


def test_the_default_run_refuses_an_out_below_a_file(home, capsys):
    before = _snapshot(home)
    out = home / "notes.txt" / "default"
    assert main(["train", "--out", str(out)]) == 2
    err = _one_line(capsys)
    assert err.startswith(f"galla train: --out '{out}'") and "is a file, not a folder" in err
    assert _snapshot(home) == before


@pytest.mark.parametrize("spec", ["./nope", "../nope", "nope/llm/export", "~/galla-nope", "nope", "x.gguf"])
def test_a_model_that_is_not_there(config, tmp_path, capsys, monkeypatch, spec):
    monkeypatch.chdir(tmp_path)
    assert main(["train", str(config), f"model.llm={spec}"]) == 2
    err = _one_line(capsys)
    assert err.startswith(
        f"galla train: model.llm: '{spec}' is not a local folder or file, and not a known offline name or "
        "hub id (offline names: smollm2-135m, qwen2.5-coder-0.5b; hub ids look like 'org/name')"
    )
    assert err.endswith("check the spelling or the path")
    assert not (tmp_path / "run").exists()  # run.out_dir: not even created


def test_a_model_folder_without_config_json(config, tiny_llm, tmp_path, capsys):
    folder = tmp_path / "tokenizer-only"
    folder.mkdir()
    shutil.copy(tiny_llm / "tokenizer.json", folder)
    before = _snapshot(folder)
    assert main(["train", str(config), f"model.llm={folder}"]) == 2
    err = _one_line(capsys)
    assert err.startswith(f"galla train: model.llm: '{folder}' is a folder without config.json")
    assert "point it at one" in err
    assert _snapshot(folder) == before and not (tmp_path / "run").exists()
    (folder / "galla_config.json").write_text("{}")  # a GraphLLM save: its llm/ is the model
    assert main(["train", str(config), f"model.llm={folder}"]) == 2
    assert "is a GraphLLM folder (galla_config.json)" in _one_line(capsys)


@pytest.mark.parametrize(
    ("name", "content", "line", "byte"),
    [
        ("bad.jsonl", b'{"human": "a", "bot": "b"}\n{"human": "caf\xe9", "bot": "c"}\n', 2, "0xe9"),
        ("bad.json", b'[{"human": "a",\n  "bot": "\xff"}]\n', 2, "0xff"),
    ],
)
def test_a_data_file_that_is_not_utf8(config, tmp_path, capsys, name, content, line, byte):
    data = tmp_path / name
    data.write_bytes(content)
    assert main(["train", str(config), f"data.text=[{data}]"]) == 2
    err = _one_line(capsys)
    assert err.startswith(f"galla train: {data}:{line}: not valid UTF-8 (byte {byte} at column ")
    assert "save the file as UTF-8" in err
    assert data.read_bytes() == content
    assert not (tmp_path / "run").exists()  # created for the lock, removed again: nothing was written


@pytest.mark.parametrize("writer", ["save_file", "torch.save"])
def test_a_full_disk_while_a_checkpoint_is_written(config, tmp_path, capsys, monkeypatch, writer):
    """The disk fills while step 2's checkpoint is written (the low-level writer raises as a full disk
    makes it): the run stops with one line, step 1's checkpoint is byte-identical, and resumes."""
    run = tmp_path / "run"
    seen: dict[str, dict[str, bytes]] = {}

    def full(real):
        def write(obj, path, *args, **kwargs):
            if ".step-000002.tmp" in str(path) and Path(path).name in ("model.safetensors", "optimizer.pt"):
                seen["before"] = _snapshot(run / "checkpoints" / "step-000001")
                if writer == "save_file":
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                raise RuntimeError(
                    "[enforce fail at inline_container.cc:626] . unexpected pos 64 vs 0\n"
                    "PytorchStreamWriter failed writing file data/0: file write failed"
                )
            return real(obj, path, *args, **kwargs)

        return write

    if writer == "save_file":
        monkeypatch.setattr(checkpoint_module, "save_file", full(checkpoint_module.save_file))
    else:
        monkeypatch.setattr(checkpoint_module.torch, "save", full(checkpoint_module.torch.save))
    assert main(["train", str(config)]) == 2
    err = _one_line(capsys)
    assert err == (
        f"galla train: could not write checkpoint {run / 'checkpoints' / 'step-000002'}: "
        + ("[Errno 28] No space left on device" if writer == "save_file" else
           "[enforce fail at inline_container.cc:626] . unexpected pos 64 vs 0 PytorchStreamWriter failed "
           "writing file data/0: file write failed")
        + "; free space or change run.out_dir; the previous checkpoint step-000001 is intact "
        "(--resume continues from it)"
    )  # fmt: skip
    assert seen["before"] and _snapshot(run / "checkpoints" / "step-000001") == seen["before"]
    assert latest_checkpoint(run).name == "step-000001"
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["latest", "step-000001"]
    monkeypatch.undo()  # room again: the run continues from step 1
    assert main(["train", str(config), "--resume"]) == 0
    assert latest_checkpoint(run).name == "step-000002"
