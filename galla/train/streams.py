"""The data streams of a run, as task records (``data_builders.tasks`` schema), from the config's paths.

- ``graph``: alignment records built from ``data.graphs`` (``graph_tasks``: Graph2Code, GraphQA) plus
  prebuilt ``data.task_files`` (``galla build-tasks`` output or official GALLa JSONL);
- ``text``: downstream ``data.text`` (SFT) or ``data.preference`` (DPO).

``data.graphs`` and the dataset entries of ``data.task_files`` are read by
:func:`data_builders.sources.open_rows`: ``save_to_disk`` folders and parquet files or folders of
shards (memory-mapped), or hub dataset ids (streamed). Paths that do not exist fail in
:func:`open_streams`, naming the config key, before any model is trained. Graph records are produced
chunk by chunk (:meth:`Streams.graph`): the trainer encodes each record as it comes, so only the
encoded samples of a corpus are held in memory, never its rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from galla.config import ConfigError
from galla.train.config import TrainConfig


def _exists(key: str, path: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"data.{key}: '{p}' does not exist")
    return p


def _subset(items: list, limit: int, seed: int) -> list:
    if not limit or len(items) <= limit:
        return items
    keep = np.sort(np.random.default_rng(seed).permutation(len(items))[:limit])
    return [items[i] for i in keep]


GRAPH_COLUMNS = ("node_kind", "edge_src", "edge_dst", "edge_type")
"""The record columns a graph is built from (``galla.train.data._graph``)."""
ROWS_PER_CHUNK = 256
"""Graph rows materialised at a time while records are built (the rest stays in the Arrow file)."""


def _open(key: str, value: str):
    """``value`` as rows (:func:`~data_builders.sources.open_rows`); failures name ``data.<key>``."""
    from data_builders.sources import SourceError, open_rows

    try:
        return open_rows(value)
    except SourceError as err:
        raise ConfigError(f"data.{key}: {err}") from None


def _check_columns(key: str, value: str, ds, needed) -> None:
    names = getattr(ds, "column_names", None)  # None: a hub stream, checked row by row instead
    missing = [c for c in needed if names is not None and c not in names]
    if missing:
        raise ConfigError(f"data.{key}: '{value}' lacks the columns {missing}")


def _open_graphs(paths: list[str]):
    """The ``data.graphs`` entries as one dataset (an ``IterableDataset`` when any is a hub stream)."""
    from datasets import Dataset, concatenate_datasets

    from data_builders.tasks import REQUIRED_GRAPH_COLUMNS

    parts = []
    for p in paths:
        ds = _open("graphs", p)
        _check_columns("graphs", p, ds, REQUIRED_GRAPH_COLUMNS)
        parts.append(ds)
    if len(parts) == 1:
        return parts[0]
    if not all(isinstance(ds, Dataset) for ds in parts):
        parts = [ds.to_iterable_dataset() if isinstance(ds, Dataset) else ds for ds in parts]
    return concatenate_datasets(parts)


def _streamed(ds) -> bool:
    from datasets import IterableDataset

    return isinstance(ds, IterableDataset)


def _chunks(ds, idx: list[int] | None, size: int = ROWS_PER_CHUNK) -> Iterator[list[dict[str, Any]]]:
    """Rows ``idx`` of a memory-mapped dataset ``size`` at a time, or (``idx`` None) a stream's rows."""
    if idx is not None:
        for a in range(0, len(idx), size):
            yield ds.select(idx[a : a + size]).to_list()
        return
    for batch in ds.iter(batch_size=size):
        cols = list(batch)
        yield [dict(zip(cols, values, strict=True)) for values in zip(*batch.values(), strict=True)]


def _index(ds, limit: int, seed: int) -> list[int] | None:
    """The rows one pass reads: all, or a seeded subset of ``limit``; ``None`` for a stream (whose
    length is unknown: a limit takes its first rows, :func:`_limited`)."""
    return None if _streamed(ds) else _subset(list(range(len(ds))), limit, seed)


def _limited(ds, limit: int):
    return ds.take(limit) if limit and _streamed(ds) else ds


def iter_graph_rows(
    paths: list[str], limit: int = 0, seed: int = 0, size: int = ROWS_PER_CHUNK
) -> Iterator[list[dict[str, Any]]]:
    """The rows of one or more ``galla build-graphs`` outputs in chunks of ``size`` (a seeded subset of
    ``limit`` rows if set), so a corpus never sits in memory as Python objects all at once."""
    ds = _open_graphs(paths)
    yield from _chunks(_limited(ds, limit), _index(ds, limit, seed), size)


def graph_rows(paths: list[str], limit: int = 0, seed: int = 0) -> list[dict[str, Any]]:
    """Rows of one or more ``galla build-graphs`` outputs (a seeded subset of ``limit`` rows if set)."""
    return [row for chunk in iter_graph_rows(paths, limit, seed) for row in chunk]


@dataclass
class Streams:
    """A run's records, produced lazily: :meth:`graph` streams the alignment records chunk by chunk,
    :attr:`text` holds the downstream records (small; already subset to ``data.max_text``)."""

    cfg: TrainConfig
    text: list[dict[str, Any]]
    graphs: Any
    """The ``data.graphs`` datasets as one memory-mapped ``datasets.Dataset``, or an
    ``IterableDataset`` when one is a hub stream (None without graphs)."""
    graph_index: list[int] | None
    """Rows of :attr:`graphs` one pass reads (all, or the seeded ``data.max_graphs`` subset); None for
    a stream, read from its start (its first ``data.max_graphs`` rows)."""
    task_sources: list[Any]
    """Each ``data.task_files`` entry in order: a task ``Dataset`` (a folder or parquet), an
    ``IterableDataset`` (a hub id) or the records of a JSONL/JSON file (read and checked up front)."""
    rows_per_chunk: int = ROWS_PER_CHUNK

    @property
    def graph_rows(self) -> int | None:
        """Graph rows one pass reads (None: a stream of unknown length)."""
        if self.graphs is None:
            return 0
        return None if self.graph_index is None else len(self.graph_index)

    @property
    def task_rows(self) -> int | None:
        if any(_streamed(src) for src in self.task_sources):
            return None
        return sum(len(src) for src in self.task_sources)

    @property
    def graph_passes(self) -> int:
        return (
            sum(t in self.cfg.data.graph_tasks for t in ("graph2code", "graph_qa"))
            if self.graph_rows != 0
            else 0
        )

    @property
    def graph_work(self) -> int | None:
        """Rows :meth:`graph` reads in all (for a progress bar; None when a stream's length is unknown)."""
        rows, tasks = self.graph_rows, self.task_rows
        if (rows is None and self.graph_passes) or tasks is None:
            return None
        return (rows or 0) * self.graph_passes + tasks

    def graph(self, on_rows: Callable[[int], None] | None = None) -> Iterator[dict[str, Any]]:
        """Graph records in a fixed order: Graph2Code of every row, GraphQA of every row, then the
        prebuilt task files. ``on_rows(n)`` is called as each chunk of ``n`` rows has been read."""
        from data_builders import tasks

        d, seed = self.cfg.data, self.cfg.run.seed
        tick = on_rows or (lambda n: None)
        with_question = d.has_text_stream if d.graph2code_question is None else d.graph2code_question
        builders = {
            "graph2code": lambda rows: tasks.graph2code_records(rows, with_question=with_question, seed=seed),
            "graph_qa": lambda rows: tasks.graph_qa_records(rows, per_graph=d.qa_per_graph, seed=seed),
        }
        donors = None
        if d.graph_ablation == "shuffled" and self.graph_index is not None:
            donors = _derangement(self.graph_index, seed)
        graphs = _limited(self.graphs, d.max_graphs)
        for task in ("graph2code", "graph_qa"):
            if task not in d.graph_tasks or not self.graph_passes:
                continue
            a = 0
            for rows in _chunks(graphs, self.graph_index, self.rows_per_chunk):
                records = builders[task](rows)
                if d.graph_ablation == "no_graph":
                    records = [{**r, **{c: [] for c in GRAPH_COLUMNS}} for r in records]
                elif donors is not None:
                    records = _swap_graphs(records, rows, self.graphs.select(donors[a : a + len(rows)]))
                yield from records
                tick(len(rows))
                a += len(rows)
        for src in self.task_sources:
            if isinstance(src, list):
                chunks: Iterable[list[dict[str, Any]]] = [src]
            else:
                chunks = _chunks(src, None if _streamed(src) else list(range(len(src))), self.rows_per_chunk)
            for rows in chunks:
                yield from rows
                tick(len(rows))


def _derangement(index: list[int], seed: int) -> list[int]:
    """For each row of ``index``, another row of it (a seeded cyclic shift of a permutation: no row keeps
    its own graph when there are two or more)."""
    if len(index) < 2:
        return list(index)
    order = np.random.default_rng([seed, 7]).permutation(len(index))
    donor = np.empty(len(index), dtype=np.int64)
    donor[order] = order[np.r_[1 : len(order), 0]]
    return [index[i] for i in donor]


def _swap_graphs(records: list[dict[str, Any]], rows: list[dict[str, Any]], donors) -> list[dict[str, Any]]:
    """``records`` with each graph replaced by that of its row's donor (matched by ``graph_id``)."""
    by_id = {
        row["id"]: {c: donor[c] for c in GRAPH_COLUMNS}
        for row, donor in zip(rows, donors.select_columns(list(GRAPH_COLUMNS)).to_list(), strict=True)
    }
    return [{**r, **by_id[r["graph_id"]]} for r in records]


def open_streams(cfg: TrainConfig, rows_per_chunk: int = ROWS_PER_CHUNK) -> Streams:
    """Check every data path of ``cfg`` and read the downstream records; graph records come later,
    streamed by :meth:`Streams.graph`. Bad paths fail here, naming the config key."""
    from data_builders import tasks

    d, seed = cfg.data, cfg.run.seed
    graphs, index = None, None
    if d.graphs:
        graphs = _open_graphs(d.graphs)
        index = _index(graphs, d.max_graphs, seed)
        if index is None and d.graph_ablation == "shuffled":
            raise ConfigError(
                "data.graph_ablation: 'shuffled' draws donor graphs from anywhere in the corpus and needs "
                "random access; a hub dataset in data.graphs is streamed: save it locally (parquet or "
                "save_to_disk) and name that instead"
            )
    sources: list[Any] = []
    for path in d.task_files:
        p = Path(path)
        if p.is_file() and p.suffix != ".parquet":  # official GALLa / galla JSONL or JSON
            sources.append(tasks.read_task_file(p))
            continue
        src = _open("task_files", path)
        _check_columns("task_files", path, src, list(tasks.TASK_FEATURES))
        sources.append(src)
    text: list[dict[str, Any]] = []
    for path in d.text:
        text += tasks.sft_records(_exists("text", path))
    for path in d.preference:
        text += tasks.dpo_records(_exists("preference", path))
    if d.has_text_stream and not text:
        raise ConfigError("data.text / data.preference: the files hold no records")
    return Streams(cfg, _subset(text, d.max_text, seed), graphs, index, sources, rows_per_chunk)


def load_streams(cfg: TrainConfig) -> dict[str, list[dict[str, Any]]]:
    """Every record of a run in memory (``graph`` and ``text`` lists); the trainer streams instead."""
    st = open_streams(cfg)
    out = {}
    graph = list(st.graph())
    if graph:
        out["graph"] = graph
    if st.text:
        out["text"] = st.text
    check_graph_records(cfg, len(graph))
    return out


def check_graph_records(cfg: TrainConfig, n: int) -> None:
    """Fail when graph data was configured but ``n`` (the records it gave) is 0."""
    if (cfg.data.graphs or cfg.data.task_files) and not n:
        raise ConfigError("data.graphs / data.task_files: no graph records could be built (empty datasets?)")
