"""`galla build-graphs` end to end on small real repositories built in temp dirs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from data_builders.build import CACHE_DB, BuildError, BuildOptions, build_graphs, load_graphs
from data_builders.formats import DATA_FILE, read_galla_jsonl
from galla.cli import main as cli_main
from parsers import EdgeType, extract_file

GOOD = (
    "def add(a, b):\n    c = a + b\n    return c\n\n\n"
    "class K:\n    def m(self, x):\n        return add(x, 1)\n"
)


def make_repo(root: Path) -> Path:
    repo = root / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "good.py").write_text(GOOD)
    (repo / "pkg" / "broken.py").write_text("def f(x):\n    return (x +\n\ndef g(y):\n    return y\n")
    (repo / "pkg" / "latin1.py").write_bytes(b"def h():\n    return '\xe9t\xe9'\n")
    (repo / "pkg" / "empty.py").write_text("")
    (repo / "pkg" / "blob.py").write_bytes(b"\x00\x01\x02binary")
    (repo / "pkg" / "ignored.py").write_text(GOOD)
    (repo / ".gitignore").write_text("pkg/ignored.py\n")
    (repo / "node_modules").mkdir()
    (repo / "node_modules" / "dep.js").write_text("function f() {}\n")
    # 500 nested ifs (one more space of indentation each) and 5,000 nested parentheses
    deep = "def deep(x):\n" + "".join(" " * (i + 1) + "if x:\n" for i in range(500)) + " " * 501 + "x = 1\n"
    (repo / "pkg" / "deep.py").write_text(deep)
    (repo / "pkg" / "parens.py").write_text(
        "def p():\n    return " + "(\n" * 5000 + "1" + "\n)" * 5000 + "\n"
    )
    return repo


def opts(repo: Path, out: Path, **kw) -> BuildOptions:
    return BuildOptions(paths=[str(repo)], out=out, workers=kw.pop("workers", 1), **kw)


def test_build_writes_a_loadable_dataset_and_manifest(tmp_path):
    repo = make_repo(tmp_path)
    report = build_graphs(opts(repo, tmp_path / "out"))
    ds = load_graphs(tmp_path / "out")
    names = sorted(ds["name"])
    assert names == ["K.m", "add", "deep", "f", "g", "h", "p"]
    m = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert m["totals"]["units"] == report.units == len(ds)
    skipped = {s["path"]: s["reason"] for s in m["skipped"]}
    assert skipped == {"repo/node_modules": "vendored", "repo/pkg/blob.py": "binary"}
    assert m["totals"]["files_with_invalid_utf8"] == 1
    assert m["totals"]["units_with_syntax_errors"] >= 1
    row = next(r for r in ds if r["name"] == "add")
    assert row["id"] == "repo/pkg/good.py::add@1"
    assert row["source"].startswith("def add(a, b):")
    assert len(row["node_kind"]) == row["num_nodes"] and len(row["edge_src"]) == row["num_edges"]
    # the stored graph is the engine's graph
    (g,) = [g for g in extract_file(GOOD, "python").graphs if g.name == "add"]
    assert row["edge_src"] == g.edge_src.tolist() and row["edge_type"] == g.edge_type.tolist()
    assert m["edge_counts"]["LAST_WRITE"] > 0 and m["languages"]["python"]["files"] == 6
    assert m["files_without_units"] == [{"path": "repo/pkg/empty.py", "reason": "no function definitions"}]


def test_syntax_errors_are_kept_flagged_or_dropped(tmp_path):
    repo = make_repo(tmp_path)
    ds = load_graphs(build_graphs(opts(repo, tmp_path / "a")).out)
    flagged = {r["name"]: r["has_error"] for r in ds}
    assert flagged["add"] is False and any(flagged[n] for n in ("f", "g"))
    ds2 = load_graphs(build_graphs(opts(repo, tmp_path / "b", skip_errors=True)).out)
    assert all(not r["has_error"] for r in ds2)
    assert len(ds2) < len(ds)


def test_parallel_output_is_identical_to_serial(tmp_path):
    repo = make_repo(tmp_path)
    build_graphs(opts(repo, tmp_path / "one", workers=1, cache=False))
    build_graphs(opts(repo, tmp_path / "two", workers=2, cache=False))
    assert (tmp_path / "one" / DATA_FILE).read_bytes() == (tmp_path / "two" / DATA_FILE).read_bytes()
    m1 = (tmp_path / "one" / "manifest.json").read_text()
    assert m1 == (tmp_path / "two" / "manifest.json").read_text()


def test_shards_partition_the_corpus(tmp_path):
    repo = make_repo(tmp_path)
    full = set(load_graphs(build_graphs(opts(repo, tmp_path / "full")).out)["id"])
    parts = [
        set(load_graphs(build_graphs(opts(repo, tmp_path / f"s{i}", num_shards=3, shard_index=i)).out)["id"])
        for i in range(3)
    ]
    assert set.union(*parts) == full
    assert sum(len(p) for p in parts) == len(full)
    merged = load_graphs(*(tmp_path / f"s{i}" for i in range(3)))
    assert sorted(merged["id"]) == sorted(full)


def test_rerun_after_edit_touches_only_the_changed_file(tmp_path):
    repo = make_repo(tmp_path)
    first = build_graphs(opts(repo, tmp_path / "out"))
    assert first.cached_files == 0
    (repo / "pkg" / "good.py").write_text(GOOD + "\ndef extra(z):\n    return z\n")
    second = build_graphs(opts(repo, tmp_path / "out"))
    assert second.cached_files == second.files - 1
    clean = build_graphs(opts(repo, tmp_path / "clean", cache=False))
    assert clean.files == second.files
    assert (tmp_path / "out" / DATA_FILE).read_bytes() == (tmp_path / "clean" / DATA_FILE).read_bytes()


def _cached_entries(cache: Path) -> int:
    """Entries committed so far (read while the build writes)."""
    for db in cache.glob(f"*/{CACHE_DB}"):
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
                return con.execute("SELECT count(*) FROM entries").fetchone()[0]
        except sqlite3.Error:
            return 0
    return 0


def _cache_db(out: Path) -> Path:
    (db,) = (out / ".cache").glob(f"*/{CACHE_DB}")
    return db


def test_damaged_cache_entries_are_rebuilt(tmp_path):
    repo = make_repo(tmp_path)
    first = build_graphs(opts(repo, tmp_path / "out"))
    build_graphs(opts(repo, tmp_path / "clean", cache=False))
    db = _cache_db(tmp_path / "out")
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT key, pack, offset, length FROM entries ORDER BY key").fetchall()
        assert len(rows) == first.files
        con.execute("UPDATE entries SET meta = 'not json' WHERE key = ?", (rows[1][0],))
        con.execute("UPDATE entries SET length = length - 1 WHERE key = ?", (rows[2][0],))
        con.execute("UPDATE entries SET pack = 'gone.pack' WHERE key = ?", (rows[3][0],))
    _, pack, offset, length = rows[0]
    with open(db.parent / "packs" / pack, "r+b") as f:  # the batch's last bytes overwritten
        f.seek(offset + length - 4)
        f.write(b"oops")
    again = build_graphs(opts(repo, tmp_path / "out", workers=2))
    assert again.cached_files == first.files - 4
    assert (tmp_path / "out" / DATA_FILE).read_bytes() == (tmp_path / "clean" / DATA_FILE).read_bytes()
    _cache_db(tmp_path / "out").write_bytes(b"this is not a database" * 100)  # the whole cache damaged
    third = build_graphs(opts(repo, tmp_path / "out"))
    assert third.cached_files == 0
    assert (tmp_path / "out" / DATA_FILE).read_bytes() == (tmp_path / "clean" / DATA_FILE).read_bytes()


def _stdlib_copy(tmp_path: Path, files: int) -> Path:
    """A corpus of the first ``files`` top-level stdlib modules, copied under ``tmp_path``."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for f in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))[:files]:
        shutil.copy(f, corpus / f.name)
    return corpus


def test_killed_build_resumes_to_identical_output(tmp_path):
    corpus = _stdlib_copy(tmp_path, 120)
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "galla.cli",
        "build-graphs",
        str(corpus),
        "--out",
        str(out),
        "--workers",
        "1",
        "--quiet",
    ]
    proc = subprocess.Popen(cmd)
    cache = out / ".cache"
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        if _cached_entries(cache) >= 20:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the build finished before it could be killed"
    assert not (out / DATA_FILE).exists()  # nothing half-written in place
    assert subprocess.run(cmd).returncode == 0
    clean = tmp_path / "clean"
    assert (
        subprocess.run(
            [*cmd[:5], str(corpus), "--out", str(clean), "--workers", "1", "--quiet", "--no-cache"],
            check=False,
        ).returncode
        == 0
    )
    assert (out / DATA_FILE).read_bytes() == (clean / DATA_FILE).read_bytes()
    assert (out / "manifest.json").read_text() == (clean / "manifest.json").read_text()


def test_a_killed_worker_stops_the_build_with_its_files_and_a_rerun_finishes(tmp_path):
    corpus = _stdlib_copy(tmp_path, 150)
    out = tmp_path / "out"
    cli = [sys.executable, "-m", "galla.cli", "build-graphs", str(corpus)]
    cmd = [*cli, "--out", str(out), "--workers", "2"]
    proc = subprocess.Popen([*cmd, "--quiet"], stderr=subprocess.PIPE, text=True)
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    killed = False
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None and not killed:
        workers = children.read_text().split() if children.exists() else []
        if len(workers) == 2 and _cached_entries(out / ".cache") >= 10:
            os.kill(int(workers[0]), signal.SIGKILL)  # as the OOM killer would
            killed = True
        time.sleep(0.01)
    _, err = proc.communicate(timeout=60)
    assert killed, "the build finished before a worker could be killed"
    assert proc.returncode != 0
    assert "a worker process died while building" in err and ".py" in err, err
    assert not (out / DATA_FILE).exists()
    assert subprocess.run([*cmd, "--quiet"]).returncode == 0
    clean = tmp_path / "clean"
    assert subprocess.run([*cli, "--out", str(clean), "--quiet", "--no-cache"]).returncode == 0
    assert (out / DATA_FILE).read_bytes() == (clean / DATA_FILE).read_bytes()


def test_galla_jsonl_round_trip(tmp_path):
    repo = make_repo(tmp_path)
    build_graphs(opts(repo, tmp_path / "out", format="galla-jsonl", node_text=True))
    lines = (tmp_path / "out" / "graphs.jsonl").read_text().splitlines()
    rec = next(json.loads(x) for x in lines if json.loads(x)["name"] == "add")
    assert set(rec) >= {"node_ids", "edge_index", "source", "text"}
    assert rec["text"][0] == rec["source"]
    back = read_galla_jsonl(tmp_path / "out" / "graphs.jsonl", edge_type=EdgeType.CHILD)
    row = next(r for r in back if r["source"] == rec["source"])
    assert row["node_kind"] == rec["node_ids"]
    # one reader for official files: galla's own export comes back with every typed edge (typed_edges),
    # and its unique pairs are the file's edge_index
    edges = list(zip(row["edge_src"], row["edge_dst"], row["edge_type"], strict=True))
    assert edges == [tuple(e) for e in rec["typed_edges"]]
    assert list(dict.fromkeys((a, b) for a, b, _ in edges)) == [tuple(e) for e in rec["edge_index"]]


def test_read_official_galla_records(tmp_path):
    path = tmp_path / "Python_AST.jsonl"
    path.write_text(
        json.dumps({"node_ids": [3, 7, 7], "edge_index": [[0, 1], [0, 2]], "source": "M = 9"})
        + "\n"
        + json.dumps({"human": "hi", "bot": "there"})
        + "\n"
        + json.dumps({"node_ids": [1], "edge_index": [], "question": "Q?", "bot": "A"})
        + "\n"
    )
    ds = read_galla_jsonl(path)
    assert len(ds) == 2
    assert ds[0]["edge_type"] == [EdgeType.CHILD, EdgeType.CHILD] and ds[0]["language"] == "python"
    assert ds[1]["question"] == "Q?" and ds[1]["bot"] == "A"
    bad = tmp_path / "Java_DFG.jsonl"
    bad.write_text(json.dumps({"node_ids": [1], "edge_index": [[0, 0]]}) + "\n{oops\n")
    with pytest.raises(ValueError, match=r"Java_DFG.jsonl:2"):
        read_galla_jsonl(bad)


def test_bad_input_is_reported(tmp_path, capsys):
    with pytest.raises(BuildError, match="does not exist"):
        build_graphs(opts(tmp_path / "nope", tmp_path / "out"))
    assert cli_main(["build-graphs", str(tmp_path / "nope"), "--out", str(tmp_path / "out")]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(BuildError, match="--shard-index"):
        build_graphs(opts(tmp_path, tmp_path / "out", num_shards=2, shard_index=2))
    with pytest.raises(BuildError, match="unknown edge type"):
        build_graphs(opts(tmp_path, tmp_path / "out", edges="ast,bogus"))


def test_empty_repository(tmp_path):
    (tmp_path / "empty").mkdir()
    report = build_graphs(opts(tmp_path / "empty", tmp_path / "out"))
    assert report.units == 0 and len(load_graphs(tmp_path / "out")) == 0


def test_large_one_line_file_is_skipped_not_parsed(tmp_path):
    repo = tmp_path / "r"
    repo.mkdir()
    (repo / "big.py").write_bytes(b"x = 1; " * 1_500_000)  # 10.5 MB on one line
    m = build_graphs(opts(repo, tmp_path / "out")).manifest
    assert m["skipped"][0]["reason"] == "too-large" and "--max-file-bytes" in m["skipped"][0]["detail"]
    m = build_graphs(opts(repo, tmp_path / "out2", max_file_bytes=20_000_000)).manifest
    assert m["skipped"][0]["reason"] == "minified"


def test_node_cap_truncates_and_counts(tmp_path):
    repo = make_repo(tmp_path)
    ds = load_graphs(build_graphs(opts(repo, tmp_path / "out", max_nodes=20)).out)
    row = next(r for r in ds if r["name"] == "deep")
    assert row["num_nodes"] == 20 and row["truncated_nodes"] > 0
    assert max(row["edge_src"] + row["edge_dst"]) < 20


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads chmod-000 files")
def test_unreadable_file_is_recorded(tmp_path):
    repo = make_repo(tmp_path)
    (repo / "pkg" / "good.py").chmod(0)
    m = build_graphs(opts(repo, tmp_path / "out")).manifest
    assert any(s["reason"] == "unreadable" for s in m["skipped"] + m["failed"])
