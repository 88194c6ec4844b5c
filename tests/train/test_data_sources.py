"""``galla train`` reads graph and task data from parquet and hub ids as well as ``save_to_disk`` folders."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from datasets import load_dataset, load_from_disk

from data_builders.tasks import build_tasks
from galla.config import ConfigError
from galla.train.streams import Streams, open_streams
from galla.train.trainer import train

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def task_dir(graph_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tasks") / "t"
    build_tasks(graph_dir, out, tasks=["graph_qa"], per_graph=1, seed=1)
    return out


@pytest.fixture(scope="module")
def parquet(graph_dir, task_dir, tmp_path_factory) -> dict[str, Path]:
    """The graphs as a folder of two parquet shards, the tasks as one parquet file."""
    root = tmp_path_factory.mktemp("parquet")
    graphs = load_from_disk(str(graph_dir))
    (root / "graphs").mkdir()
    for i in range(2):
        graphs.shard(2, i, contiguous=True).to_parquet(str(root / "graphs" / f"part-{i:05d}.parquet"))
    load_from_disk(str(task_dir)).to_parquet(str(root / "tasks.parquet"))
    return {"graphs": root / "graphs", "tasks": root / "tasks.parquet"}


def _data(graphs, tasks, sft_file, **more) -> dict:
    return {
        "graphs": [str(graphs)], "graph_tasks": ["graph2code", "graph_qa"], "task_files": [str(tasks)],
        "text": [str(sft_file)], "qa_per_graph": 1, **more,
    }  # fmt: skip


def test_parquet_data_trains_with_the_losses_of_save_to_disk_data(
    make_cfg, graph_dir, task_dir, parquet, sft_file, tmp_path
):
    optim = {"max_steps": 3, "batch_size": 2}
    disk = make_cfg(
        data=_data(graph_dir, task_dir, sft_file), optim=optim, run={"out_dir": str(tmp_path / "a")}
    )
    pq = make_cfg(
        data=_data(parquet["graphs"], parquet["tasks"], sft_file),
        optim=optim,
        run={"out_dir": str(tmp_path / "b")},
    )
    st = open_streams(pq)
    # memory-mapped Arrow files, not tables in memory
    assert st.graphs.cache_files and st.task_sources[0].cache_files
    assert st.graph_rows == len(load_from_disk(str(graph_dir))) and st.graph_work is not None
    records = list(st.graph())
    assert records == list(open_streams(disk).graph()) and {r["task"] for r in records} == {
        "graph2code",
        "graph_qa",
    }
    a, b = train(disk), train(pq)
    assert len(a.losses) == 3 and b.losses == pytest.approx(a.losses, rel=1e-6, abs=1e-7)
    assert b.summary["samples"] == a.summary["samples"]


def test_a_streamed_dataset_gives_the_records_of_the_memory_mapped_one(
    make_cfg, graph_dir, task_dir, parquet, sft_file
):
    """A hub id opens as an ``IterableDataset``; here the same kind of stream, over local parquet."""
    cfg = make_cfg(data=_data(graph_dir, task_dir, sft_file))
    mapped = open_streams(cfg)
    shards = sorted(map(str, parquet["graphs"].glob("*.parquet")))
    graphs = load_dataset("parquet", data_files=shards, split="train", streaming=True)
    tasks = load_dataset("parquet", data_files=str(parquet["tasks"]), split="train", streaming=True)
    stream = Streams(cfg, mapped.text, graphs, None, [tasks], rows_per_chunk=3)
    assert stream.graph_rows is None and stream.graph_work is None and stream.graph_passes == 2
    seen: list[int] = []
    assert list(stream.graph(seen.append)) == list(mapped.graph())
    assert sum(seen) == mapped.graph_work and max(seen) == 3
    first = make_cfg(data=_data(graph_dir, task_dir, sft_file, max_graphs=4))
    stream.cfg = first  # a stream has no length: max_graphs takes its first rows
    g2c = [r["graph_id"] for r in stream.graph() if r["task"] == "graph2code"]
    assert g2c == load_from_disk(str(graph_dir))["id"][:4]


def _train_cli(cfg, tmp_path, **env) -> subprocess.CompletedProcess:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg.to_dict()))
    return subprocess.run(
        [sys.executable, "-m", "galla.cli", "train", str(path)],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_hub_id_is_streamed_from_the_hub_and_fails_offline_in_one_line(make_cfg, sft_file, tmp_path):
    hub = "galla-tests/no-such-graphs"
    cfg = make_cfg(data={"graphs": [hub], "text": [str(sft_file)]})
    proc = _train_cli(cfg, tmp_path, HF_HUB_OFFLINE="1")
    err = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert err[-1].startswith(
        f"galla train: data.graphs: '{hub}' is no local path, and as a Hugging Face hub"
    )
    assert "OfflineModeIsEnabled" in err[-1] and not (tmp_path / "run").exists()


def test_local_values_that_name_nothing_readable_fail_naming_the_key(make_cfg, graph_dir, sft_file, tmp_path):
    with pytest.raises(ConfigError, match=r"data\.graphs: '.*missing\.parquet' does not exist"):
        open_streams(make_cfg(data={"graphs": [str(tmp_path / "missing.parquet")], "text": [str(sft_file)]}))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"data\.task_files: .*empty' is neither a `save_to_disk`.*parquet"):
        open_streams(make_cfg(data={"task_files": [str(tmp_path / "empty")]}))
    with pytest.raises(ConfigError, match=r"data\.task_files: .*lacks the columns \['task'"):
        open_streams(make_cfg(data={"task_files": [str(graph_dir)]}))  # graph rows are not task records
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet at all")
    with pytest.raises(ConfigError, match=r"data\.graphs: .*bad\.parquet': cannot read its parquet"):
        open_streams(make_cfg(data={"graphs": [str(bad)], "text": [str(sft_file)]}))
