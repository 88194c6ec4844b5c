"""``galla build-tasks`` reads graph rows from parquet (one file, or a folder of shards) and writes the
same task records as from the ``save_to_disk`` folder the rows came from; inputs it cannot read get one
line naming them and what to pass instead."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datasets import IterableDataset, load_dataset, load_from_disk

from data_builders.build import BuildOptions, build_graphs
from data_builders.corpora import stdlib_root
from data_builders.tasks import MANIFEST, _open_graphs, build_tasks, sft_records, to_dataset
from galla.cli import main

FILES = ("bisect.py", "colorsys.py")  # small real modules: a few dozen units between them


@pytest.fixture(scope="module")
def graphs(tmp_path_factory) -> dict[str, Path]:
    """The graphs of ``FILES`` as a build-graphs folder, as one parquet file, and as two shards below a
    nested folder (found recursively, read in sorted order)."""
    root = tmp_path_factory.mktemp("graphs")
    folder = root / "folder"
    build_graphs(
        BuildOptions(paths=[str(stdlib_root() / f) for f in FILES], out=folder, workers=1, cache=False)
    )
    ds = load_from_disk(str(folder))
    assert len(ds) > 10
    ds.to_parquet(str(root / "graphs.parquet"))
    shards = root / "shards" / "train"
    shards.mkdir(parents=True)
    for i in range(2):
        ds.shard(2, i, contiguous=True).to_parquet(str(shards / f"part-{i:05d}.parquet"))
    return {"folder": folder, "file": root / "graphs.parquet", "shards": root / "shards"}


def _build(src: Path, out: Path) -> dict:
    assert main(["build-tasks", str(src), "--out", str(out), "--seed", "3", "--per-graph", "2"]) == 0
    return json.loads((out / MANIFEST).read_text())


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err and "\n" not in err and "Traceback" not in err
    return err


@pytest.mark.parametrize("kind", ["file", "shards"])
def test_parquet_gives_the_records_of_the_folder(graphs, tmp_path, kind):
    want = _build(graphs["folder"], tmp_path / "from-folder")
    got = _build(graphs[kind], tmp_path / f"from-{kind}")
    expected, records = (
        load_from_disk(str(tmp_path / "from-folder")),
        load_from_disk(str(tmp_path / f"from-{kind}")),
    )
    assert set(want["counts"]) == {"graph2code", "graph_qa"} and want["records"] > 20
    assert records.features == expected.features
    assert records.to_list() == expected.to_list()  # same records, same order, same ids
    assert got["graphs"] == str(graphs[kind])
    assert {k: v for k, v in got.items() if k != "graphs"} == {k: v for k, v in want.items() if k != "graphs"}


def test_docstring_files_from_parquet_are_those_of_the_folder(graphs, tmp_path):
    for kind in ("folder", "shards"):
        out = tmp_path / kind
        assert main(["build-tasks", str(graphs[kind]), "--out", str(out), "--docstrings"]) == 0
    for name in ("docstrings.jsonl", "docstring_pairs.jsonl"):
        text = (tmp_path / "folder" / name).read_text()
        assert text.count("\n") > 3 and (tmp_path / "shards" / name).read_text() == text


def test_the_datatrove_pipelines_parquet_gives_the_records_of_the_folder(graphs, tmp_path):
    """The corpus-scale producer: graph_pipeline writes the graph rows as parquet (pyarrow's schema, no
    ``datasets`` metadata), and build-tasks reads its output folder as it is."""
    pytest.importorskip("datatrove")
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import ParquetReader

    from data_builders.datatrove_steps import graph_pipeline

    (tmp_path / "corpus").mkdir()
    files = {"content": [(stdlib_root() / f).read_text(encoding="utf-8") for f in FILES], "path": list(FILES)}
    pq.write_table(pa.table(files), tmp_path / "corpus" / "files.parquet")
    pipeline = graph_pipeline(
        ParquetReader(str(tmp_path / "corpus"), text_key="content"), str(tmp_path / "dt")
    )
    LocalPipelineExecutor(pipeline, tasks=1, workers=1, logging_dir=str(tmp_path / "logs")).run()
    assert len(list((tmp_path / "dt").glob("*.parquet"))) == 1
    want = _build(graphs["folder"], tmp_path / "from-folder")
    got = _build(tmp_path / "dt", tmp_path / "from-datatrove")
    records = load_from_disk(str(tmp_path / "from-datatrove")).to_list()
    assert records == load_from_disk(str(tmp_path / "from-folder")).to_list()
    assert got["records"] == want["records"] and got["counts"] == want["counts"]


def test_parquet_rows_are_streamed_not_copied(graphs):
    """Parquet is read record batch by record batch, as often as there are tasks, never converted into an
    Arrow copy (the uncompressed size on disk) nor held whole."""
    rows, _ = _open_graphs(graphs["shards"])
    assert isinstance(rows, IterableDataset)
    assert sum(1 for _ in rows) == sum(1 for _ in rows) == len(load_from_disk(str(graphs["folder"])))


def test_a_stream_given_as_rows_is_read_once_per_task_and_counted(graphs, tmp_path):
    """A hub stream passed to the library (here the same kind of stream over local parquet) is not
    materialised; its units are counted as it is read, or by a pass of their own with no graph task."""
    stream = load_dataset("parquet", data_files=str(graphs["file"]), split="train", streaming=True)
    n = len(load_from_disk(str(graphs["folder"])))
    want = build_tasks(graphs["folder"], tmp_path / "folder", seed=3)
    got = build_tasks(stream, tmp_path / "stream", seed=3)
    assert got["graph_units"] == want["graph_units"] == n and got["records"] == want["records"]
    assert (
        load_from_disk(str(tmp_path / "stream")).to_list()
        == load_from_disk(str(tmp_path / "folder")).to_list()
    )
    for tasks in (["graph_qa"], []):
        assert build_tasks(stream, tmp_path / f"only-{len(tasks)}", tasks=tasks)["graph_units"] == n


@pytest.mark.parametrize("where", ["tasks.parquet", "shards/part-00001.parquet"])
def test_parquet_without_the_graph_columns_is_named_before_any_row_is_read(graphs, tmp_path, capsys, where):
    """The shard that lacks the columns is named from its footer, before any shard's rows are read."""
    bad = tmp_path / where
    bad.parent.mkdir(exist_ok=True)
    if where.startswith("shards/"):  # a graph shard, then a shard of task records
        load_from_disk(str(graphs["folder"])).to_parquet(str(tmp_path / "shards" / "part-00000.parquet"))
    to_dataset(sft_records([{"human": "h", "bot": "b"}])).to_parquet(str(bad))
    given = tmp_path / where.partition("/")[0]
    capsys.readouterr()  # to_parquet's progress bars
    out = tmp_path / "out"
    assert main(["build-tasks", str(given), "--out", str(out)]) == 2
    err = _one_line(capsys)
    assert err.startswith(f"galla build-tasks: '{bad}' lacks columns [")
    assert "so it is not a graph dataset; pass a `galla build-graphs` output folder" in err
    assert "parquet" in err.rpartition(";")[2] and not out.exists()


@pytest.mark.parametrize("name", ["notes.txt", "empty", "broken.parquet"])
def test_a_path_that_is_neither_folder_nor_parquet_is_named(tmp_path, capsys, name):
    bad = tmp_path / name
    if name == "empty":
        bad.mkdir()
    else:
        bad.write_bytes(b"not a graph dataset at all\n")
    out = tmp_path / "out"
    assert main(["build-tasks", str(bad), "--out", str(out)]) == 2
    err = _one_line(capsys)
    assert err.startswith(f"galla build-tasks: '{bad}'")
    assert "so it is not a graph dataset; pass a `galla build-graphs` output folder" in err
    assert ("cannot read its parquet" if name == "broken.parquet" else "is neither") in err
    assert not out.exists()
