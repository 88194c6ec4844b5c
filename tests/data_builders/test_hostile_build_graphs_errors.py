"""``galla build-graphs`` on hostile input: every problem is one line naming the input and what to do,
exit code 2, and nothing of the user's changed; a file whose name is not UTF-8 is skipped with a reason
in the manifest instead of losing the build."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from data_builders.build import DATA_FILE, BuildOptions, build_graphs
from data_builders.walk import shard_of
from galla.cli import main

CODE = "def add(a, b):\n    return a + b\n"


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _build(*argv: str) -> int:
    return main(["build-graphs", *argv, "--workers", "1", "--quiet"])


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err and "\n" not in err and "Traceback" not in err
    return err


def _write_bytes_name(folder: Path, name: bytes, data: bytes) -> None:
    """Create ``folder/name`` with a name that is not valid UTF-8 (skip where the filesystem refuses)."""
    try:
        fd = os.open(os.fsencode(folder) + b"/" + name, os.O_CREAT | os.O_WRONLY, 0o644)
    except OSError as err:
        if err.errno in (errno.EILSEQ, errno.EINVAL):
            pytest.skip(f"this filesystem refuses names that are not UTF-8 ({err})")
        raise
    os.write(fd, data)
    os.close(fd)


@pytest.fixture
def src(tmp_path) -> Path:
    d = tmp_path / "src"
    d.mkdir()
    (d / "a.py").write_text(CODE)
    return d


@pytest.mark.parametrize("cache", [True, False])
def test_a_file_name_that_is_not_utf8_is_skipped_with_a_reason(src, tmp_path, cache):
    _write_bytes_name(src, b"bad\xff.py", b"def g(y):\n    return y\n")
    (src / "sub\udcfe").mkdir()  # a folder whose name is not UTF-8: its files are skipped the same way
    (src / "sub\udcfe" / "c.py").write_text(CODE)
    out = tmp_path / "out"
    assert _build(str(src), "--out", str(out), *([] if cache else ["--no-cache"])) == 0
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    skipped = {s["path"]: s for s in manifest["skipped"]}
    assert set(skipped) == {"src/bad\\xff.py", "src/sub\\xfe/c.py"}
    assert all(s["reason"] == "not-utf8" and "rename it" in s["detail"] for s in skipped.values())
    assert manifest["skipped_by_reason"] == {"not-utf8": 2}
    assert manifest["totals"]["units"] == 1  # a.py's function is built
    assert (out / DATA_FILE).is_file()
    json.dumps(manifest, ensure_ascii=False).encode("utf-8")  # the manifest is valid UTF-8 text


def test_shards_of_names_that_are_not_utf8(src, tmp_path):
    """Sharding hashes every walked name, skipped ones too (a vendored folder below a folder whose name
    is not UTF-8); the shards still cover each record once."""
    _write_bytes_name(src, b"bad\xff.py", CODE.encode())
    (src / "sub\udcfe" / "node_modules").mkdir(parents=True)
    (src / "sub\udcfe" / "node_modules" / "x.js").write_text("var x = 1;\n")
    assert shard_of("src/bad\udcff.py", 3) == shard_of("src/bad\udcff.py", 3)
    seen = []
    for i in range(2):
        report = build_graphs(
            BuildOptions(paths=[str(src)], out=tmp_path / f"shard{i}", workers=1, num_shards=2, shard_index=i)
        )
        seen += [s["path"] for s in report.manifest["skipped"]]
        json.dumps(report.manifest, ensure_ascii=False).encode("utf-8")
    assert sorted(seen) == ["src/bad\\xff.py", "src/sub\\xfe/node_modules"]


def _unwritable_root() -> Path:
    """A folder nobody may create entries in, root included (sysfs); skip where there is none."""
    probe = Path("/sys") / f"galla-probe-{os.getpid()}"
    try:
        probe.mkdir()
    except OSError:
        return Path("/sys")
    probe.rmdir()
    pytest.skip("/sys accepts new folders here; no unwritable location to test with")


@pytest.fixture
def user_files(tmp_path) -> Path:
    """The user's own files next to the outputs: a file where --out points, another beside it."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "notes.txt").write_text("notes\n")
    (home / "data.bin").write_bytes(b"\x00\x01 mine")
    return home


@pytest.mark.parametrize("target", ["notes.txt", "notes.txt/sub", "notes.txt/sub/deeper"])
def test_out_that_is_or_is_below_a_file(src, user_files, capsys, target):
    before = _snapshot(user_files)
    out = user_files / target
    assert _build(str(src), "--out", str(out)) == 2
    err = _one_line(capsys)
    assert err.startswith(f"galla build-graphs: --out '{out}'")
    assert f"{user_files / 'notes.txt'}' is a file, not a folder" in err
    assert "choose another --out" in err
    assert _snapshot(user_files) == before


def test_out_in_a_location_that_cannot_be_written(src, capsys):
    out = _unwritable_root() / "galla-out"
    assert _build(str(src), "--out", str(out)) == 2
    err = _one_line(capsys)
    assert err.startswith(f"galla build-graphs: --out '{out}': could not write")
    assert "choose another --out" in err
    assert not out.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="running as root, which writes into chmod 0o555 folders")
def test_out_in_a_read_only_folder(src, user_files, capsys):
    user_files.chmod(0o555)
    try:
        before = _snapshot(user_files)
        assert _build(str(src), "--out", str(user_files / "out")) == 2
        err = _one_line(capsys)
        assert f"'{user_files}' is not writable" in err and "choose another --out" in err
        assert _snapshot(user_files) == before
    finally:
        user_files.chmod(0o755)


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--num-shards", "0"], "argument --num-shards: must be at least 1, got 0"),
        (["--num-shards", "-3"], "argument --num-shards: must be at least 1, got -3"),
        (["--num-shards", "two"], "argument --num-shards: expected an integer, got 'two'"),
        (["--shard-index", "-1"], "argument --shard-index: must be at least 0, got -1"),
    ],
)
def test_shard_flags_are_checked_by_the_parser(src, tmp_path, capsys, flags, says):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_:
        _build(str(src), "--out", str(out), *flags)
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("usage: galla build-graphs") and err[-1] == f"galla build-graphs: error: {says}"
    assert not out.exists()


def test_a_shard_index_past_the_shards_is_the_only_line(src, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["build-graphs", str(src), "--out", str(out), "--num-shards", "2", "--shard-index", "2"]) == 2
    assert _one_line(capsys) == "galla build-graphs: --shard-index 2 must be in 0..1 (--num-shards 2)"
    assert not out.exists()
