"""The data streams of a run, as task records (``data_builders.tasks`` schema), from the config's paths.

- ``graph``: alignment records built from ``data.graphs`` (``graph_tasks``: Graph2Code, GraphQA) plus
  prebuilt ``data.task_files`` (``galla build-tasks`` output or official GALLa JSONL);
- ``text``: downstream ``data.text`` (SFT) or ``data.preference`` (DPO).

Paths that do not exist fail in :func:`open_streams`, naming the config key, before any model is
trained. Graph records are produced chunk by chunk (:meth:`Streams.graph`): the trainer encodes each
record as it comes, so only the encoded samples of a corpus are held in memory, never its rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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


ROWS_PER_CHUNK = 256
"""Graph rows materialised at a time while records are built (the rest stays in the Arrow file)."""


def _open_graphs(paths: list[str]):
    from data_builders.build import load_graphs

    for p in paths:
        _exists("graphs", p)
    try:
        return load_graphs(*paths)
    except FileNotFoundError as err:
        raise ConfigError(f"data.graphs: {err}") from None


def _chunks(ds, idx: list[int], size: int = ROWS_PER_CHUNK) -> Iterator[list[dict[str, Any]]]:
    for a in range(0, len(idx), size):
        yield ds.select(idx[a : a + size]).to_list()


def iter_graph_rows(
    paths: list[str], limit: int = 0, seed: int = 0, size: int = ROWS_PER_CHUNK
) -> Iterator[list[dict[str, Any]]]:
    """The rows of one or more ``galla build-graphs`` outputs in chunks of ``size`` (a seeded subset of
    ``limit`` rows if set), so a corpus never sits in memory as Python objects all at once."""
    ds = _open_graphs(paths)
    yield from _chunks(ds, _subset(list(range(len(ds))), limit, seed), size)


def graph_rows(paths: list[str], limit: int = 0, seed: int = 0) -> list[dict[str, Any]]:
    """Rows of one or more ``galla build-graphs`` outputs (a seeded subset of ``limit`` rows if set)."""
    return [row for chunk in iter_graph_rows(paths, limit, seed) for row in chunk]


@dataclass
class Streams:
    """A run's records, produced lazily: :meth:`graph` streams the alignment records chunk by chunk,
    :attr:`text` holds the downstream records (small; already subset to ``data.max_text``)."""

    cfg: TrainConfig
    text: list[dict[str, Any]]
    graph_rows: int
    """Graph-dataset rows one pass over ``data.graphs`` reads (after ``data.max_graphs``)."""
    task_rows: int
    """Records in ``data.task_files``."""
    task_records: dict[str, list[dict[str, Any]]]
    """The records of the JSONL/JSON ``data.task_files`` (read and checked up front), by path."""
    rows_per_chunk: int = ROWS_PER_CHUNK

    @property
    def graph_passes(self) -> int:
        return (
            sum(t in self.cfg.data.graph_tasks for t in ("graph2code", "graph_qa")) if self.graph_rows else 0
        )

    @property
    def graph_work(self) -> int:
        """Rows :meth:`graph` reads in all (for a progress bar)."""
        return self.graph_rows * self.graph_passes + self.task_rows

    def graph(self, on_rows: Callable[[int], None] | None = None) -> Iterator[dict[str, Any]]:
        """Graph records in a fixed order: Graph2Code of every row, GraphQA of every row, then the
        prebuilt task files. ``on_rows(n)`` is called as each chunk of ``n`` rows has been read."""
        from data_builders import tasks

        d, seed = self.cfg.data, self.cfg.run.seed
        tick = on_rows or (lambda n: None)
        if d.graphs:
            with_question = d.has_text_stream if d.graph2code_question is None else d.graph2code_question
            if "graph2code" in d.graph_tasks:
                for rows in iter_graph_rows(d.graphs, d.max_graphs, seed, self.rows_per_chunk):
                    yield from tasks.graph2code_records(rows, with_question=with_question, seed=seed)
                    tick(len(rows))
            if "graph_qa" in d.graph_tasks:
                for rows in iter_graph_rows(d.graphs, d.max_graphs, seed, self.rows_per_chunk):
                    yield from tasks.graph_qa_records(rows, per_graph=d.qa_per_graph, seed=seed)
                    tick(len(rows))
        for path in d.task_files:
            p = Path(path)
            if p.is_dir():
                from datasets import load_from_disk

                ds = load_from_disk(str(p))
                for rows in _chunks(ds, list(range(len(ds))), self.rows_per_chunk):
                    yield from rows
                    tick(len(rows))
            else:
                recs = self.task_records[path]
                yield from recs
                tick(len(recs))


def open_streams(cfg: TrainConfig, rows_per_chunk: int = ROWS_PER_CHUNK) -> Streams:
    """Check every data path of ``cfg`` and read the downstream records; graph records come later,
    streamed by :meth:`Streams.graph`. Bad paths fail here, naming the config key."""
    from data_builders import tasks

    d, seed = cfg.data, cfg.run.seed
    rows = 0
    if d.graphs:
        ds = _open_graphs(d.graphs)
        rows = min(len(ds), d.max_graphs) if d.max_graphs else len(ds)
    task_rows, task_records = 0, {}
    for path in d.task_files:
        p = _exists("task_files", path)
        if p.is_dir():
            from datasets import load_from_disk

            task_rows += len(load_from_disk(str(p)))
        else:
            task_records[path] = tasks.read_task_file(p)
            task_rows += len(task_records[path])
    text: list[dict[str, Any]] = []
    for path in d.text:
        text += tasks.sft_records(_exists("text", path))
    for path in d.preference:
        text += tasks.dpo_records(_exists("preference", path))
    if d.has_text_stream and not text:
        raise ConfigError("data.text / data.preference: the files hold no records")
    return Streams(cfg, _subset(text, d.max_text, seed), rows, task_rows, task_records, rows_per_chunk)


def load_streams(cfg: TrainConfig) -> dict[str, list[dict[str, Any]]]:
    """Every record of a run in memory (``graph`` and ``text`` lists); the trainer streams instead."""
    st = open_streams(cfg)
    out = {}
    graph = list(st.graph())
    if graph:
        out["graph"] = graph
    if st.text:
        out["text"] = st.text
    if (cfg.data.graphs or cfg.data.task_files) and not graph:
        raise ConfigError("data.graphs / data.task_files: no graph records could be built (empty datasets?)")
    return out
