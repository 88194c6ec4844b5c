"""`galla build-graphs --from-dataset`: standard-library files as parquet, JSONL and save_to_disk rows
give the graph rows of the directory build of the same files."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data_builders.build import BuildError, BuildOptions, build_graphs, load_graphs
from data_builders.formats import DATA_FILE
from data_builders.from_dataset import DatasetError
from galla.cli import main as cli_main

STDLIB = Path(sysconfig.get_paths()["stdlib"])
MODULES = ("json", "textwrap.py", "shlex.py", "csv.py")
CPP = "int add(int a, int b) {\n  int c = a + b;\n  return c;\n}\n"


def copy_modules(root: Path) -> Path:
    """The chosen modules' files under ``root/lib`` (the directory build's input)."""
    lib = root / "lib"
    for name in MODULES:
        src = STDLIB / name
        for f in sorted(src.rglob("*.py")) if src.is_dir() else [src]:
            dest = lib / f.relative_to(STDLIB)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(f.read_bytes())
    return lib


def rows_of(lib: Path) -> dict[str, list[str]]:
    """content/path columns with the relpaths the directory build gives (``lib/...``), sorted."""
    files = sorted(p for p in lib.rglob("*.py"))
    paths = [f"lib/{p.relative_to(lib).as_posix()}" for p in files]
    order = sorted(range(len(files)), key=lambda i: paths[i])
    return {
        "content": [files[i].read_text(encoding="utf-8") for i in order],
        "path": [paths[i] for i in order],
    }


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, dict[str, list[str]], pa.Table]:
    """(the files, their rows, the directory build's table)."""
    root = tmp_path_factory.mktemp("corpus")
    lib = copy_modules(root)
    build_graphs(BuildOptions(paths=[str(lib)], out=root / "dir-build", workers=1))
    return lib, rows_of(lib), table_of(root / "dir-build")


def table_of(out: Path) -> pa.Table:
    with pa.memory_map(str(out / DATA_FILE)) as src:
        return pa.ipc.open_stream(src).read_all()


def from_dataset(source: Path | str, out: Path, **kw) -> BuildOptions:
    return BuildOptions(paths=[], out=out, from_dataset=str(source), workers=kw.pop("workers", 1), **kw)


def test_parquet_rows_give_the_directory_builds_rows(corpus, tmp_path):
    lib, rows, expected = corpus
    assert len(rows["path"]) >= 8 and expected.num_rows > 50
    pq.write_table(pa.table(rows), tmp_path / "src.parquet")
    report = build_graphs(from_dataset(tmp_path / "src.parquet", tmp_path / "out"))
    got = table_of(tmp_path / "out")
    assert got.equals(expected)  # same ids, sources, graphs, in the same order
    assert report.units == expected.num_rows and report.files == len(rows["path"])
    m = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert m["options"]["from_dataset"]["source"] == str(tmp_path / "src.parquet")
    assert m["totals"]["files_skipped"] == 0 and m["languages"]["python"]["files"] == len(rows["path"])
    # loads as the directory build does, with the same features
    assert load_graphs(tmp_path / "out").features == load_graphs(lib.parent / "dir-build").features
    assert load_graphs(tmp_path / "out")["id"] == expected.column("id").to_pylist()


def test_cli_with_two_workers_and_a_rerun_from_cache(corpus, tmp_path, capsys):
    _, rows, expected = corpus
    pq.write_table(pa.table(rows), tmp_path / "src.parquet")
    args = ["build-graphs", "--from-dataset", str(tmp_path / "src.parquet"), "--out", str(tmp_path / "o")]
    assert cli_main([*args, "--workers", "2", "--quiet"]) == 0
    assert table_of(tmp_path / "o").equals(expected)
    report = build_graphs(from_dataset(tmp_path / "src.parquet", tmp_path / "o"))
    assert report.cached_files == len(rows["path"])  # keyed by path and content, as files are
    assert table_of(tmp_path / "o").equals(expected)


def test_jsonl_folder_and_save_to_disk_sources(corpus, tmp_path):
    from datasets import Dataset, DatasetDict

    _, rows, expected = corpus
    half = len(rows["path"]) // 2
    parts = tmp_path / "jsonl"
    parts.mkdir()
    records = [dict(zip(rows, values, strict=True)) for values in zip(*rows.values(), strict=True)]
    # a folder of shards, read in name order: a plain file then a gzipped one (blank lines ignored)
    (parts / "a.jsonl").write_text("\n" + "".join(json.dumps(r) + "\n\n" for r in records[:half]))
    with gzip.open(parts / "b.jsonl.gz", "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in records[half:])
    build_graphs(from_dataset(parts, tmp_path / "o-jsonl"))
    assert table_of(tmp_path / "o-jsonl").equals(expected)

    Dataset.from_dict(rows).save_to_disk(str(tmp_path / "saved"))
    build_graphs(from_dataset(tmp_path / "saved", tmp_path / "o-saved", workers=2))
    assert table_of(tmp_path / "o-saved").equals(expected)

    DatasetDict({"train": Dataset.from_dict(rows), "test": Dataset.from_dict(rows)}).save_to_disk(
        str(tmp_path / "dict")
    )
    with pytest.raises(BuildError, match=r"holds several splits \(test, train\); choose one with --split"):
        build_graphs(from_dataset(tmp_path / "dict", tmp_path / "o-dict"))
    build_graphs(from_dataset(tmp_path / "dict", tmp_path / "o-dict", split="train"))
    assert table_of(tmp_path / "o-dict").equals(expected)


def test_shards_of_a_dataset_partition_its_rows(corpus, tmp_path):
    _, rows, expected = corpus
    pq.write_table(pa.table(rows), tmp_path / "src.parquet")
    ids: list[str] = []
    for i in range(2):
        build_graphs(from_dataset(tmp_path / "src.parquet", tmp_path / f"s{i}", num_shards=2, shard_index=i))
        ids += table_of(tmp_path / f"s{i}").column("id").to_pylist()
    assert sorted(ids) == sorted(expected.column("id").to_pylist())
    assert len(ids) == len(set(ids))


def test_language_column_and_rows_galla_cannot_parse(corpus, tmp_path):
    _, rows, expected = corpus
    n = len(rows["path"])
    table = pa.table(
        {
            "repo": ["py"] * n + ["cc", "cc", "hs", "x", "x", "x"],
            "file": [p.removeprefix("lib/") for p in rows["path"]]
            + ["add", "same.cpp", "main.hs", "blob.py", "none.py", "gen.py"],
            "lang": ["Python"] * n + ["C++", "c++", "Haskell", None, "py", "Python"],
            "text": [*rows["content"], CPP, CPP, "main = print 1\n", "\0\1binary", None, "# @generated\n"],
        }
    )
    pq.write_table(table, tmp_path / "mixed.parquet")
    build_graphs(
        from_dataset(
            tmp_path / "mixed.parquet",
            tmp_path / "o",
            content_column="text",
            path_column="repo,file",
            language_column="lang",
        )
    )
    got = table_of(tmp_path / "o")
    py = got.filter(pa.compute.equal(got.column("language"), "python"))
    assert py.column("source").to_pylist() == expected.column("source").to_pylist()
    assert py.column("id").to_pylist()[0].startswith("py/")  # repo and file joined into the relpath
    cpp = got.filter(pa.compute.equal(got.column("language"), "cpp"))
    # the language column wins where the path has no extension
    assert cpp.column("id").to_pylist() == ["cc/add::add@1", "cc/same.cpp::add@1"]
    m = json.loads((tmp_path / "o" / "manifest.json").read_text())
    reasons = {s["path"]: s["reason"] for s in m["skipped"]}
    assert reasons == {
        "hs/main.hs": "unknown-language",
        "x/blob.py": "binary",
        "x/none.py": "unreadable",
        "x/gen.py": "generated",
    }
    assert m["skipped_by_reason"] == {"binary": 1, "generated": 1, "unknown-language": 1, "unreadable": 1}
    assert "'Haskell', which galla does not parse" in next(
        s["detail"] for s in m["skipped"] if s["path"] == "hs/main.hs"
    )
    assert m["totals"]["files_found"] == n + 6 and m["languages"]["cpp"]["files"] == 2


def test_rows_without_paths_are_named_by_index(tmp_path):
    pq.write_table(pa.table({"content": [CPP, "int"], "lang": ["cpp", "Rust"]}), tmp_path / "s.parquet")
    build_graphs(from_dataset(tmp_path / "s.parquet", tmp_path / "o", language_column="lang"))
    got = table_of(tmp_path / "o")
    assert got.column("id").to_pylist() == ["row-0::add@1"]
    m = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert m["files_without_units"] == [{"path": "row-1", "reason": "syntax error"}]


def bad(tmp_path: Path, source: str, capsys, *extra: str) -> str:
    rc = cli_main(
        ["build-graphs", "--from-dataset", source, "--out", str(tmp_path / "out"), "--quiet", *extra]
    )
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1, err
    return err


def test_bad_sources_are_one_line_and_exit_2(corpus, tmp_path, capsys):
    _, rows, _ = corpus
    pq.write_table(pa.table(rows), tmp_path / "src.parquet")
    err = bad(tmp_path, str(tmp_path / "src.parquet"), capsys, "--content-column", "text")
    assert "has no column 'text' (its columns: content, path)" in err and "--content-column" in err
    err = bad(tmp_path, str(tmp_path / "src.parquet"), capsys, "--path-column", "repo,path")
    assert "has no column 'repo'" in err
    assert "does not exist" in bad(tmp_path, str(tmp_path / "missing.parquet"), capsys)
    (tmp_path / "notes.txt").write_text("hello\n")
    assert "neither parquet nor JSONL" in bad(tmp_path, str(tmp_path / "notes.txt"), capsys)
    (tmp_path / "junk.parquet").write_bytes(b"not a parquet file at all")
    assert "could not be read as parquet" in bad(tmp_path, str(tmp_path / "junk.parquet"), capsys)
    (tmp_path / "empty").mkdir()
    assert "no parquet or JSONL files" in bad(tmp_path, str(tmp_path / "empty"), capsys)
    pq.write_table(pa.table({"content": ["x = 1"]}), tmp_path / "nopath.parquet")
    assert "no 'path' column and no --language-column" in bad(
        tmp_path, str(tmp_path / "nopath.parquet"), capsys
    )
    err = bad(tmp_path, str(tmp_path / "src.parquet"), capsys, str(tmp_path))
    assert "not both" in err
    assert not (tmp_path / "out").exists()  # nothing was written for any of them
    # found while building (after the first row): the build stops, leaving only its own cache
    (tmp_path / "bad.jsonl").write_text('{"content": "x = 1", "path": "a.py"}\n[1, 2]\n')
    assert "line 2 is a JSON list, not an object" in bad(tmp_path, str(tmp_path / "bad.jsonl"), capsys)
    assert sorted(os.listdir(tmp_path / "out")) == [".cache"]


def test_a_source_failing_half_way_keeps_the_previous_build(corpus, tmp_path, capsys):
    _, rows, expected = corpus
    folder = tmp_path / "shards"
    folder.mkdir()
    pq.write_table(pa.table(rows), folder / "a.parquet")
    assert (
        cli_main(["build-graphs", "--from-dataset", str(folder), "--out", str(tmp_path / "o"), "--quiet"])
        == 0
    )
    (folder / "b.parquet").write_bytes(b"PAR1 damaged")  # found only once a.parquet is built
    err = bad(tmp_path, str(folder), capsys, "--out", str(tmp_path / "o"))
    assert f"'{folder / 'b.parquet'}' could not be read as parquet" in err
    assert table_of(tmp_path / "o").equals(expected)  # the previous dataset is still there, whole
    assert sorted(os.listdir(tmp_path / "o")) == [
        ".cache",
        DATA_FILE,
        "dataset_info.json",
        "manifest.json",
        "state.json",
    ]


def test_a_hub_id_is_streamed_and_offline_says_so(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "galla.cli",
            "build-graphs",
            "--from-dataset",
            "bigcode/the-stack-smol",
            "--out",
            str(tmp_path / "o"),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        timeout=300,
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "'bigcode/the-stack-smol' is not a local file or folder, and the Hugging Face hub" in lines[0]
    assert "Offline" in lines[0]  # the hub's own reason, from datasets.load_dataset(..., streaming=True)
    assert not (tmp_path / "o").exists()


# --- datasets.map ------------------------------------------------------------------------------


def test_graph_rows_from_batch_with_two_processes_gives_build_graphs_rows(corpus):
    from datasets import Dataset, load_from_disk

    from data_builders.from_dataset import graph_rows_from_batch

    lib, rows, expected = corpus
    ds = Dataset.from_dict(rows)
    out = ds.map(
        graph_rows_from_batch,
        batched=True,
        batch_size=3,
        num_proc=2,
        remove_columns=ds.column_names,
        fn_kwargs={"content_column": "content", "path_column": "path"},
    )
    built = load_from_disk(str(lib.parent / "dir-build"))
    assert out.features == built.features  # the row schema's types (int16 kinds, int8 edge types)
    assert out.data.table.equals(expected)
    # an arrow-formatted dataset hands the function tables; options reach it through fn_kwargs
    calls = ds.with_format("arrow").map(
        graph_rows_from_batch,
        batched=True,
        remove_columns=ds.column_names,
        fn_kwargs={"edges": "ast", "unit": "class"},
    )
    table = calls.data.table
    assert set(table.column("unit_kind").to_pylist()) == {"class"} and len(calls) > 0
    assert {t for r in table.column("edge_type").to_pylist() for t in r} == {0, 1}  # CHILD, NEXT_TOKEN


def test_graph_rows_from_batch_names_pathless_rows_by_their_index(tmp_path):
    from datasets import Dataset

    from data_builders.from_dataset import graph_rows_from_batch

    ds = Dataset.from_dict({"code": ["x = 1\n", CPP, CPP], "lang": ["python", "C++", "Haskell"]})
    out = ds.map(
        graph_rows_from_batch,
        batched=True,
        batch_size=1,
        with_indices=True,
        remove_columns=ds.column_names,
        fn_kwargs={"content_column": "code", "language_column": "lang"},
    )
    assert out["id"] == ["row-1::add@1"]  # the Haskell row and the unit-less one give no rows
    pq.write_table(ds.data.table, tmp_path / "s.parquet")
    build_graphs(
        from_dataset(tmp_path / "s.parquet", tmp_path / "o", content_column="code", language_column="lang")
    )
    assert table_of(tmp_path / "o").equals(out.data.table)
    with pytest.raises(DatasetError, match=r"the batch has no column 'content' .*content_column="):
        graph_rows_from_batch({"code": ["x = 1\n"], "lang": ["python"]})


# --- datatrove ---------------------------------------------------------------------------------


def test_datatrove_pipeline_on_two_tasks_gives_build_graphs_rows(corpus, tmp_path):
    pytest.importorskip("datatrove")
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader, ParquetReader

    from data_builders.datatrove_steps import graph_pipeline

    _, rows, expected = corpus
    table = pa.table(rows)
    (tmp_path / "in").mkdir()
    half = table.num_rows // 2
    pq.write_table(table.slice(0, half), tmp_path / "in" / "a.parquet")  # a file per task
    pq.write_table(table.slice(half), tmp_path / "in" / "b.parquet")
    reader = ParquetReader(str(tmp_path / "in"), text_key="content")
    pipeline = graph_pipeline(reader, str(tmp_path / "out"))
    LocalPipelineExecutor(pipeline, tasks=2, workers=2, logging_dir=str(tmp_path / "logs")).run()
    parts = sorted((tmp_path / "out").glob("*.parquet"))
    assert len(parts) == 2  # one per task
    got = pa.concat_tables([pq.read_table(p) for p in parts])
    assert got.schema == expected.schema
    assert got.sort_by("id").equals(expected.sort_by("id"))
    # and a language key with options, on JSONL: rows galla cannot parse are counted by reason
    docs = [{"text": CPP, "id": "1", "file": "a", "lang": "C++"}, {"text": "x", "id": "2", "lang": "Haskell"}]
    (tmp_path / "j").mkdir()
    (tmp_path / "j" / "d.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    pipeline = graph_pipeline(
        JsonlReader(str(tmp_path / "j")),
        str(tmp_path / "jout"),
        path_key="file",
        language_key="lang",
        edges="cfg",
    )
    LocalPipelineExecutor(pipeline, tasks=1, workers=1, logging_dir=str(tmp_path / "jlogs")).run()
    (part,) = (tmp_path / "jout").glob("*.parquet")
    got = pq.read_table(part)
    assert got.column("id").to_pylist() == ["a::add@1"] and got.column("language").to_pylist() == ["cpp"]
    stats = json.loads((tmp_path / "jlogs" / "stats.json").read_text())
    step = next(s for s in stats if "galla" in s["name"])
    assert step["stats"] == {"files": 2, "units": 1, "skipped: unknown-language": 1}


def test_datatrove_steps_import_without_datatrove():
    code = (
        "import sys; sys.modules['datatrove'] = None\n"
        "import data_builders.datatrove_steps as m\n"
        "try:\n    m.GraphExtractor\nexcept ImportError as e:\n    print(e)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        check=True,
    )
    assert "pip install 'galla[datatrove]'" in proc.stdout
