"""Streamed record building: the same records, in the same order, whatever the chunk size."""

from __future__ import annotations

import pytest

from galla.config import ConfigError
from galla.train.streams import iter_graph_rows, load_streams, open_streams


def _cfg(make_cfg, graph_dir, **data):
    return make_cfg(data={"graphs": [str(graph_dir)], "graph_tasks": ["graph2code", "graph_qa"], **data})


def test_chunking_does_not_change_rows_or_records(make_cfg, graph_dir):
    whole = [r["id"] for chunk in iter_graph_rows([str(graph_dir)], size=10_000) for r in chunk]
    chunks = list(iter_graph_rows([str(graph_dir)], size=2))
    assert [r["id"] for c in chunks for r in c] == whole and max(len(c) for c in chunks) == 2
    cfg = _cfg(make_cfg, graph_dir)
    big = list(open_streams(cfg).graph())
    small = list(open_streams(cfg, rows_per_chunk=2).graph())
    assert small == big and load_streams(cfg)["graph"] == big
    tasks = [r["task"] for r in big]
    assert tasks == sorted(tasks, key=lambda t: t != "graph2code")  # every Graph2Code record, then GraphQA


def test_progress_counts_every_row_read(make_cfg, graph_dir):
    st = open_streams(_cfg(make_cfg, graph_dir, max_graphs=5))
    seen = []
    records = list(st.graph(seen.append))
    assert st.graph_rows == 5 and st.graph_passes == 2 and sum(seen) == st.graph_work == 10
    assert {r["graph_id"] for r in records} == {r["graph_id"] for r in records if r["task"] == "graph2code"}


def test_bad_paths_fail_before_streaming(make_cfg, graph_dir, tmp_path):
    with pytest.raises(ConfigError, match=r"data\.graphs"):
        open_streams(make_cfg(data={"graphs": [str(tmp_path / "nope")], "graph_tasks": ["graph2code"]}))
    with pytest.raises(ConfigError, match=r"data\.text"):
        open_streams(_cfg(make_cfg, graph_dir, text=[str(tmp_path / "missing.jsonl")]))


def test_task_files_come_after_graph_records_and_count_in_the_progress(make_cfg, graph_dir, tmp_path):
    from data_builders.downstream import write_jsonl
    from data_builders.tasks import build_tasks, graph2code_records
    from galla.train.streams import graph_rows

    build_tasks(graph_dir, tmp_path / "tasks", tasks=["graph_qa"], per_graph=1)
    jsonl = tmp_path / "g2c.jsonl"
    g2c = graph2code_records(graph_rows([str(graph_dir)]))
    official = [
        {
            "node_ids": r["node_kind"],
            "edge_index": list(zip(r["edge_src"], r["edge_dst"], strict=True)),
            "source": r["answer"],
        }
        for r in g2c
    ]  # the official GALLa stage-1 layout
    write_jsonl(official, jsonl)
    cfg = _cfg(
        make_cfg, graph_dir, graph_tasks=["graph2code"], task_files=[str(tmp_path / "tasks"), str(jsonl)]
    )
    st = open_streams(cfg, rows_per_chunk=3)
    seen = []
    records = list(st.graph(seen.append))
    n_rows, n_dir = st.graph_rows, st.task_rows - len(g2c)
    assert sum(seen) == st.graph_work == n_rows + n_dir + len(g2c)
    tasks = [r["task"] for r in records]
    assert tasks[:n_rows] == ["graph2code"] * n_rows and set(tasks[n_rows : n_rows + n_dir]) == {"graph_qa"}
    assert tasks[n_rows + n_dir :] == ["graph2code"] * len(g2c)


def test_graph_ablations_keep_the_text_and_change_only_the_graphs(make_cfg, graph_dir):
    base = list(open_streams(_cfg(make_cfg, graph_dir)).graph())
    bare = list(open_streams(_cfg(make_cfg, graph_dir, graph_ablation="no_graph")).graph())
    moved = list(open_streams(_cfg(make_cfg, graph_dir, graph_ablation="shuffled"), rows_per_chunk=3).graph())
    text = ("task", "graph_id", "question", "answer")
    assert [[r[k] for k in text] for r in bare] == [[r[k] for k in text] for r in base] == [
        [r[k] for k in text] for r in moved
    ]
    assert all(r["node_kind"] == [] and r["edge_src"] == [] for r in bare)
    graphs = {r["graph_id"]: r["node_kind"] for r in base}
    own = {r["graph_id"]: (r["node_kind"], r["edge_src"]) for r in base}
    # every unit shows another unit's graph, the same one in all its records, and each graph is shown once
    donors = {r["graph_id"]: (r["node_kind"], r["edge_src"]) for r in moved}
    assert all(donors[g] != own[g] for g in own if list(graphs.values()).count(graphs[g]) == 1)
    assert sorted(map(str, donors.values())) == sorted(map(str, own.values()))
    with pytest.raises(ConfigError, match="graph_ablation"):
        _cfg(make_cfg, graph_dir, graph_ablation="random")
