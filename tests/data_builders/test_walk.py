"""Tests for `data_builders.walk`: ignore rules, skips with reasons, symlinks, order and sharding."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from data_builders import walk
from data_builders.walk import Skipped, SourceFile, WalkError, iter_repository, shard_of

EXTENSIONS = {".py": "python", ".js": "javascript", ".c": "c", ".h": "c", ".ts": "typescript"}
REPO_ROOT = Path(__file__).resolve().parents[2]


def make(root: Path, files: dict[str, str | bytes]) -> Path:
    """Create `files` (relative POSIX path to content) under `root` and return `root`."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def run(*paths: Path | str, **options: object) -> list[SourceFile | Skipped]:
    options.setdefault("extensions", EXTENSIONS)
    return list(iter_repository(list(paths), **options))  # type: ignore[arg-type]


def kept(results: list[SourceFile | Skipped]) -> list[str]:
    return [r.relpath for r in results if isinstance(r, SourceFile)]


def skipped(results: list[SourceFile | Skipped]) -> dict[str, str]:
    return {r.relpath: r.reason for r in results if isinstance(r, Skipped)}


def only_skip(results: list[SourceFile | Skipped]) -> Skipped:
    records = [r for r in results if isinstance(r, Skipped)]
    assert len(records) == 1, records
    return records[0]


# --- ignore rules --------------------------------------------------------------------------------


def test_nested_gitignore_negation_dir_and_anchored_patterns(tmp_path: Path) -> None:
    root = make(
        tmp_path / "repo",
        {
            ".gitignore": "secret_*.py\nout/\n!out/x.py\n/anchored.py\ndocs/**/draft.py\n",
            "main.py": "",
            "anchored.py": "",
            "out.py": "",  # `out/` matches directories only
            "out/x.py": "",  # cannot be re-included: its directory is excluded
            "secret_a.py": "",
            "docs/a/b/draft.py": "",
            "docs/a/keep.py": "",
            "sub/.gitignore": "!secret_ok.py\n",
            "sub/anchored.py": "",  # `/anchored.py` is anchored to the root
            "sub/secret_ok.py": "",  # deeper negation wins
            "sub/secret_no.py": "",
            "sub/out/y.py": "",  # unanchored `out/` applies at every level
            "lib/.gitignore": "*.py\n!keep.py\n",
            "lib/drop.py": "",
            "lib/keep.py": "",
            "lib/inner/deep.py": "",
            "lib/inner/keep.py": "",
        },
    )
    results = run(root)
    assert kept(results) == [
        "repo/docs/a/keep.py",
        "repo/lib/inner/keep.py",
        "repo/lib/keep.py",
        "repo/main.py",
        "repo/out.py",
        "repo/sub/anchored.py",
        "repo/sub/secret_ok.py",
    ]
    assert skipped(results) == {}  # ignored files are excluded silently

    everything = kept(run(root, respect_gitignore=False))
    assert "repo/out/x.py" in everything and "repo/lib/drop.py" in everything


def test_git_info_exclude_and_vcs_dirs(tmp_path: Path) -> None:
    root = make(
        tmp_path / "repo",
        {
            ".git/info/exclude": "local_*.py\n",
            ".git/hooks/hook.py": "",
            ".hg/x.py": "",
            "pkg/.svn/y.py": "",
            ".gitignore": "!local_keep.py\n",  # .gitignore outranks info/exclude
            "local_scratch.py": "",
            "local_keep.py": "",
            "pkg/local_other.py": "",
            "pkg/mod.py": "",
        },
    )
    assert kept(run(root)) == ["repo/local_keep.py", "repo/pkg/mod.py"]


def test_root_without_git_still_uses_gitignore(tmp_path: Path) -> None:
    root = make(tmp_path / "plain", {".gitignore": "*.c\n", "a.c": "", "b.py": ""})
    assert kept(run(root)) == ["plain/b.py"]


def test_vendored_directory_reported_once(tmp_path: Path) -> None:
    root = make(
        tmp_path / "repo",
        {
            "app.js": "",
            "node_modules/left-pad/index.js": "",
            "node_modules/left-pad/lib/more.js": "",
            "src/vendor/lib.py": "",
            "src/vendor.py": "",  # a file named like a vendored directory is fine
            ".gitignore": "dist/\n",
            "dist/bundle.js": "",  # gitignored: silent, not "vendored"
        },
    )
    results = run(root)
    assert kept(results) == ["repo/app.js", "repo/src/vendor.py"]
    assert skipped(results) == {"repo/node_modules": "vendored", "repo/src/vendor": "vendored"}
    record = next(r for r in results if isinstance(r, Skipped) and r.relpath == "repo/node_modules")
    assert "repo/node_modules" in record.detail and "--include-vendored" in record.detail

    results = run(root, include_vendored=True)
    assert "repo/node_modules/left-pad/lib/more.js" in kept(results)
    assert "repo/src/vendor/lib.py" in kept(results)
    assert skipped(results) == {}


# --- content checks ------------------------------------------------------------------------------


def test_generated_markers_and_names(tmp_path: Path) -> None:
    root = make(
        tmp_path / "repo",
        {
            "a.py": "# Code generated by protoc-gen-go. DO NOT EDIT.\nx = 1\n",
            "b.ts": "// This file is AUTO-GENERATED\n",
            "c.js": "/* @Generated by tool */\n",
            "late.py": "x = 1\n" * 300 + "# autogenerated\n",  # marker after the first 1 KB
            "msg_pb2.py": "x = 1\n",
            "msg_pb2_grpc.py": "x = 1\n",
            "lib.min.js": "var a=1;\n",
            "api.generated.ts": "let a = 1;\n",
            "plain.py": "x = 1\n",
        },
    )
    results = run(root)
    assert kept(results) == ["repo/late.py", "repo/plain.py"]
    assert set(skipped(results).values()) == {"generated"}
    assert len(skipped(results)) == 7


MODULAR_HEADER = """\
#                🚨🚨🚨🚨🚨🚨🚨🚨
#           This file was automatically generated from src/transformers/models/llama/modular_llama.py.
#               Do NOT edit this file manually as any edits will be overwritten by the generation of
#             the file from the modular. If any change should be done, please apply the change to the
#                          modular_llama.py file directly. One of our CI enforces this.
#                🚨🚨🚨🚨🚨🚨🚨🚨
"""

GENERATED = {
    "modeling_llama.py": MODULAR_HEADER + "class LlamaModel:\n    pass\n",
    "msg_pb2.py": "x = 1\n",
    "proto_msg.py": "# Generated by the protocol buffer compiler.\nx = 1\n",
    "gen.py": "# Code generated by mockgen. DO NOT EDIT.\nx = 1\n",
    "tool.js": "// @generated by relay\nvar a = 1;\n",
    "modular_llama.py": "class LlamaModel:\n    pass\n",
}


def test_modular_converter_output_is_read_but_codegen_is_skipped(tmp_path: Path) -> None:
    root = make(tmp_path / "repo", GENERATED)
    results = run(root)
    assert kept(results) == ["repo/modeling_llama.py", "repo/modular_llama.py"]
    assert skipped(results) == {
        "repo/gen.py": "generated",
        "repo/msg_pb2.py": "generated",
        "repo/proto_msg.py": "generated",
        "repo/tool.js": "generated",
    }
    # the exemption is for a converter's own header only: "do not edit" near another modular name is not
    other = make(tmp_path / "other", {"m.py": "# DO NOT EDIT: see modular_x.py\nx = 1\n"})
    assert skipped(run(other)) == {"other/m.py": "generated"}


def test_include_generated_keeps_every_generated_file(tmp_path: Path) -> None:
    root = make(tmp_path / "repo", {**GENERATED, "lib.min.js": "var a=1;" * 2000})
    results = run(root, include_generated=True)
    assert kept(results) == sorted(f"repo/{name}" for name in GENERATED)
    assert skipped(results) == {"repo/lib.min.js": "minified"}  # minified code is still left out
    (alone,) = run(root / "msg_pb2.py", include_generated=True)  # a file given directly too
    assert isinstance(alone, SourceFile)
    hint = next(r for r in run(root) if isinstance(r, Skipped) and r.relpath == "repo/gen.py")
    assert "--include-generated" in hint.detail


def test_binary_needs_nul_in_first_8kb(tmp_path: Path) -> None:
    root = make(
        tmp_path / "repo",
        {"bin.py": b"x = 1\n\x00\x01\x02", "late_nul.py": b"x = 1\n" * 2000 + b"\x00", "ok.py": b"x = 1\n"},
    )
    results = run(root)
    assert kept(results) == ["repo/late_nul.py", "repo/ok.py"]
    assert skipped(results) == {"repo/bin.py": "binary"}


def test_too_large_checked_by_stat(tmp_path: Path) -> None:
    root = make(tmp_path / "repo", {"small.py": "x" * 100, "big.py": "x" * 101})
    with (root / "huge.py").open("wb") as handle:
        handle.truncate(12_300_000)  # sparse: only its stat size matters
    results = run(root, max_file_bytes=100)
    assert kept(results) == ["repo/small.py"]
    assert skipped(results) == {"repo/big.py": "too-large", "repo/huge.py": "too-large"}
    huge = next(r for r in run(root) if r.relpath == "repo/huge.py")
    assert isinstance(huge, Skipped)
    assert "12.3 MB" in huge.detail and "--max-file-bytes 1000000" in huge.detail


def test_minified_single_line_file(tmp_path: Path) -> None:
    root = make(
        tmp_path / "repo",
        {
            "bundle.js": b"var a=1;" * 1_250_000,  # 10 MB, one line
            # one 6,000-byte line among many short ones: the average stays low
            "long_line_ok.py": "x = 1\n" * 2000 + "y = '" + "z" * 6000 + "'\n",
        },
    )
    results = run(root, max_file_bytes=20_000_000)
    assert kept(results) == ["repo/long_line_ok.py"]
    record = only_skip(results)
    assert (record.relpath, record.reason) == ("repo/bundle.js", "minified")


def test_unreadable_file_with_chmod(tmp_path: Path) -> None:
    root = make(tmp_path / "repo", {"locked.py": "x = 1\n", "ok.py": ""})
    locked = root / "locked.py"
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("running with privileges that read chmod 000 files")
        results = run(root)
    finally:
        locked.chmod(0o644)
    assert kept(results) == ["repo/ok.py"]
    record = only_skip(results)
    assert (record.relpath, record.reason) == ("repo/locked.py", "unreadable")
    assert "Permission denied" in record.detail


def test_unreadable_file_and_directory_errors_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same paths as chmod 000 without depending on the user: fail the reads themselves."""
    root = make(tmp_path / "repo", {"a.py": "", "locked.py": "", "secret/x.py": "", "z.py": ""})
    real_read, real_scandir = walk._read_bytes, os.scandir

    def read(path: str, limit: int) -> bytes:
        if path.endswith("locked.py"):
            raise PermissionError(13, "Permission denied", path)
        return real_read(path, limit)

    def scandir(path: str) -> object:
        if str(path).endswith("secret"):
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(walk, "_read_bytes", read)
    monkeypatch.setattr(os, "scandir", scandir)
    results = run(root)
    assert kept(results) == ["repo/a.py", "repo/z.py"]
    assert skipped(results) == {"repo/locked.py": "unreadable", "repo/secret": "unreadable"}
    assert all("Permission denied" in r.detail for r in results if isinstance(r, Skipped))
    assert [r.relpath for r in results] == sorted(r.relpath for r in results)


# --- symlinks ------------------------------------------------------------------------------------


def test_symlinks_outside_inside_and_loops(tmp_path: Path) -> None:
    outside = make(tmp_path / "elsewhere", {"secret.py": "", "pkg/mod.py": ""})
    root = make(
        tmp_path / "repo",
        {".gitignore": "hidden/\n", "real.py": "", "sub/inner.py": "", "hidden/only_here.py": ""},
    )
    os.symlink(outside / "secret.py", root / "leak.py")
    os.symlink(outside / "pkg", root / "leakdir")
    os.symlink(root / "real.py", root / "alias.py")  # duplicate of a walked file
    os.symlink("../real.py", root / "sub" / "alias2.py")
    os.symlink(root / "hidden" / "only_here.py", root / "exposed.py")  # target is not walked
    os.symlink(root, root / "sub" / "loop")  # directory cycle
    os.symlink("b.py", root / "a.py")
    os.symlink("a.py", root / "b.py")  # file link loop
    os.symlink(outside / "notes.txt", root / "notes.txt")  # unknown language: silent

    results = run(root)
    assert kept(results) == ["repo/exposed.py", "repo/real.py", "repo/sub/inner.py"]
    assert skipped(results) == {
        "repo/a.py": "unreadable",
        "repo/b.py": "unreadable",
        "repo/leak.py": "symlink-outside-root",
        "repo/leakdir": "symlink-outside-root",
    }
    exposed = next(r for r in results if r.relpath == "repo/exposed.py")
    assert isinstance(exposed, SourceFile) and exposed.path == root / "exposed.py"


# --- paths, order, languages ---------------------------------------------------------------------


def test_nonexistent_path_raises_before_iteration(tmp_path: Path) -> None:
    good = make(tmp_path / "repo", {"a.py": ""})
    missing = tmp_path / "no" / "such-repo"
    with pytest.raises(WalkError, match="such-repo") as caught:
        iter_repository([good, missing], extensions=EXTENSIONS)  # raises at the call, not at next()
    assert str(missing) in str(caught.value) and "does not exist" in str(caught.value)


def test_roots_sharing_a_name_are_refused(tmp_path: Path) -> None:
    first = make(tmp_path / "a" / "src", {"x.py": ""})
    second = make(tmp_path / "b" / "src", {"y.py": ""})
    with pytest.raises(WalkError, match="share the name 'src'"):
        iter_repository([first, second], extensions=EXTENSIONS)
    assert kept(run(first, first)) == ["src/x.py"]  # the same root twice is walked once


def test_order_is_sorted_by_relpath(tmp_path: Path) -> None:
    names = ["b.py", "a/x.py", "a.py", "a-b.py", "a0.py", "B.py", "a/b/c.py", "a.b/z.py", "vendor.py"]
    root = make(tmp_path / "repo", {name: "" for name in names} | {"vendor/v.py": "", "vendor-x.py": ""})
    other = make(tmp_path / "alpha", {"z.py": ""})
    results = run(root, other)
    relpaths = [r.relpath for r in results]
    assert relpaths == sorted(relpaths)
    assert relpaths == [
        "alpha/z.py",
        "repo/B.py",
        "repo/a-b.py",
        "repo/a.b/z.py",
        "repo/a.py",
        "repo/a/b/c.py",
        "repo/a/x.py",
        "repo/a0.py",
        "repo/b.py",
        "repo/vendor",  # a skipped directory sorts as its own relpath
        "repo/vendor-x.py",
        "repo/vendor.py",
    ]
    assert run(other, root) == results


def test_language_overrides_by_glob_and_extension(tmp_path: Path) -> None:
    root = make(
        tmp_path / "repo",
        {"a.h": "", "b.c": "", "legacy/old.py": "", "stubs/s.pyi": "", "notes.txt": "", "x.d.ts": ""},
    )
    overrides = {"legacy/**": "python2", ".h": "cpp", "repo/stubs/*.pyi": "python"}
    languages = {
        r.relpath: r.language for r in run(root, language_overrides=overrides) if isinstance(r, SourceFile)
    }
    assert languages == {
        "repo/a.h": "cpp",
        "repo/b.c": "c",
        "repo/legacy/old.py": "python2",
        "repo/stubs/s.pyi": "python",
        "repo/x.d.ts": "typescript",
    }


def test_single_explicit_file(tmp_path: Path) -> None:
    root = make(tmp_path / "repo", {".gitignore": "*.py\n", "tool.py": "x = 1\n", "README.md": "hi"})
    results = run(root / "tool.py")
    assert results == [SourceFile(path=root / "tool.py", relpath="tool.py", language="python", size=6)]

    record = only_skip(run(root / "README.md"))
    assert (record.relpath, record.reason) == ("README.md", "unknown-language")
    assert "README.md" in record.detail and ".md" in record.detail


def test_deep_tree_needs_no_recursion(tmp_path: Path) -> None:
    depth = 300
    current = tmp_path / "repo"
    current.mkdir()
    for _ in range(depth):
        current = current / "d"
        current.mkdir()
    (current / "leaf.py").write_text("")
    frames, frame = 0, sys._getframe()
    while frame is not None:
        frames, frame = frames + 1, frame.f_back
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(frames + 100)  # far fewer than `depth` frames to spare
    try:
        results = run(tmp_path / "repo")
    finally:
        sys.setrecursionlimit(limit)
    assert kept(results) == ["repo/" + "d/" * depth + "leaf.py"]


# --- sharding ------------------------------------------------------------------------------------


def test_shard_of_golden_and_roughly_uniform() -> None:
    assert shard_of("myrepo/pkg/mod.py", 16) == 15
    assert shard_of("myrepo/pkg/mod.py", 1) == 0
    counts = Counter(shard_of(f"repo/pkg{i % 7}/module_{i}.py", 8) for i in range(1000))
    assert set(counts) == set(range(8))
    assert all(80 <= count <= 170 for count in counts.values()), counts
    with pytest.raises(ValueError):
        shard_of("x", 0)


def test_shard_of_independent_of_hash_seed() -> None:
    names = [f"repo/file_{i}.py" for i in range(50)]
    expected = [shard_of(name, 7) for name in names]
    code = f"from data_builders.walk import shard_of\nprint([shard_of(n, 7) for n in {names!r}])\n"
    for seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO_ROOT)}
        output = subprocess.run(
            [sys.executable, "-c", code], env=env, cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout
        assert output.strip() == str(expected)
