"""The data streams of a run, as task records (``data_builders.tasks`` schema), from the config's paths.

- ``graph``: alignment records built from ``data.graphs`` (``graph_tasks``: Graph2Code, GraphQA) plus
  prebuilt ``data.task_files`` (``galla build-tasks`` output or official GALLa JSONL);
- ``text``: downstream ``data.text`` (SFT) or ``data.preference`` (DPO).

Paths that do not exist fail here, naming the config key, before any model is trained.
"""

from __future__ import annotations

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


def graph_rows(paths: list[str], limit: int = 0, seed: int = 0) -> list[dict[str, Any]]:
    """Rows of one or more ``galla build-graphs`` outputs (a seeded subset of ``limit`` rows if set)."""
    from data_builders.build import load_graphs

    for p in paths:
        _exists("graphs", p)
    try:
        ds = load_graphs(*paths)
    except FileNotFoundError as err:
        raise ConfigError(f"data.graphs: {err}") from None
    idx = list(range(len(ds)))
    idx = _subset(idx, limit, seed)
    return ds.select(idx).to_list() if len(idx) != len(ds) else ds.to_list()


def load_streams(cfg: TrainConfig) -> dict[str, list[dict[str, Any]]]:
    from data_builders import tasks

    d, seed = cfg.data, cfg.run.seed
    graph: list[dict[str, Any]] = []
    if d.graphs:
        rows = graph_rows(d.graphs, d.max_graphs, seed)
        with_question = d.has_text_stream if d.graph2code_question is None else d.graph2code_question
        if "graph2code" in d.graph_tasks:
            graph += tasks.graph2code_records(rows, with_question=with_question, seed=seed)
        if "graph_qa" in d.graph_tasks:
            graph += tasks.graph_qa_records(rows, per_graph=d.qa_per_graph, seed=seed)
    for path in d.task_files:
        p = _exists("task_files", path)
        if p.is_dir():
            from datasets import load_from_disk

            graph += load_from_disk(str(p)).to_list()
        else:
            graph += tasks.read_task_file(p)
    text: list[dict[str, Any]] = []
    for path in d.text:
        text += tasks.sft_records(_exists("text", path))
    for path in d.preference:
        text += tasks.dpo_records(_exists("preference", path))
    out = {}
    if graph:
        out["graph"] = graph
    if text:
        out["text"] = _subset(text, d.max_text, seed)
    if (d.graphs or d.task_files) and not graph:
        raise ConfigError("data.graphs / data.task_files: no graph records could be built (empty datasets?)")
    if d.has_text_stream and not text:
        raise ConfigError("data.text / data.preference: the files hold no records")
    return out
