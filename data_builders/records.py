"""The one schema of every galla task record (:data:`TASK_FEATURES`) and the helpers every task
builder shares: making a record, reading graph rows, the per-row RNG.

Every record has the same keys, so all tasks concatenate into one ``datasets.Dataset``:

- ``task`` (``graph2code`` | ``graph_qa`` | ``sft`` | ``dpo``), ``subtask`` (GraphQA only), ``question``
  (the human turn; ``""`` for stage-1 Graph2Code, whose sequence is graph tokens then source; the prompt
  for DPO), ``answer`` (the bot turn), ``chosen``/``rejected`` (DPO only), ``graph_id``, ``language``;
- the graph, so one record suffices for training: ``node_kind``, ``edge_src``, ``edge_dst``,
  ``edge_type``, plus ``node_start_byte``/``node_end_byte`` (spans in the unit's source, which the
  GraphQA checker needs; empty where unknown); empty lists for text-only records;
- ``meta``: JSON with what a GraphQA question is about (node indices, graph, template indices).

Every builder is a pure function of the rows and a seed, with one RNG per row and subtask
(:func:`_rng`), so output does not depend on row order or process count.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np
from datasets import Dataset, Features, List, Value

from data_builders.formats import KIND_VOCAB
from parsers.graph import CodeGraph

TASKS = ("graph2code", "graph_qa", "sft", "dpo")
_TEXT_COLUMNS = (
    "task",
    "subtask",
    "question",
    "answer",
    "chosen",
    "rejected",
    "graph_id",
    "language",
    "meta",
)
_GRAPH_COLUMNS = {
    "node_kind": "int16", "node_start_byte": "int32", "node_end_byte": "int32",
    "edge_src": "int32", "edge_dst": "int32", "edge_type": "int8",
}  # fmt: skip
TASK_FEATURES = Features(
    {**{k: Value("string") for k in _TEXT_COLUMNS}, **{k: List(Value(t)) for k, t in _GRAPH_COLUMNS.items()}}
)
"""The one schema of every task record (see the module docstring)."""
REQUIRED_GRAPH_COLUMNS = ("id", "language", "source", "node_kind", "edge_src", "edge_dst", "edge_type")
"""The graph-row columns every task builder reads."""
_REQUIRED = REQUIRED_GRAPH_COLUMNS

LANGUAGE_NAMES = {
    "python": "Python", "java": "Java", "javascript": "JavaScript", "typescript": "TypeScript",
    "tsx": "TSX", "go": "Go", "rust": "Rust", "c": "C", "cpp": "C++",
}  # fmt: skip

# --- records and rows ----------------------------------------------------------------------------


def task_record(task: str, *, graph: Mapping[str, Any] | None = None, **fields: str) -> dict:
    """A record of :data:`TASK_FEATURES`: ``fields`` for the text columns, ``graph`` (a row) for the graph."""
    rec: dict[str, Any] = dict.fromkeys(_TEXT_COLUMNS, "")
    rec.update(task=task, **fields)
    for col in _GRAPH_COLUMNS:
        rec[col] = np.asarray(graph.get(col, ()), dtype=np.int64).tolist() if graph is not None else []
    return rec


def to_dataset(records: Iterable[dict]) -> Dataset:
    """Records (any mix of tasks) as one ``datasets.Dataset`` with :data:`TASK_FEATURES`."""
    cols: dict[str, list] = {k: [] for k in TASK_FEATURES}
    for rec in records:
        for k, values in cols.items():
            values.append(rec[k])
    return Dataset.from_dict(cols, features=TASK_FEATURES)


def row_from_graph(g: CodeGraph) -> dict:
    """A :class:`CodeGraph` as a graph-dataset row (the ``id`` format of ``galla build-graphs``)."""
    row: dict[str, Any] = {
        "id": f"{g.path}::{g.name}@{g.start_line + 1}", "language": g.language, "path": g.path,
        "name": g.name, "unit_kind": g.unit_kind, "start_line": g.start_line, "source": g.source,
        "kind_vocab": KIND_VOCAB, "has_error": g.has_error,
    }  # fmt: skip
    for col in (
        "node_kind",
        "node_named",
        "node_start_byte",
        "node_end_byte",
        "node_start_line",
        "node_start_col",
    ):
        row[col] = getattr(g, col).tolist()
    for col in ("edge_src", "edge_dst", "edge_type"):
        row[col] = getattr(g, col).tolist()
    return row


def _rows(rows: Iterable[Mapping[str, Any] | CodeGraph]) -> Iterator[Mapping[str, Any]]:
    for r in rows:
        r = row_from_graph(r) if isinstance(r, CodeGraph) else r
        missing = [c for c in _REQUIRED if c not in r]
        if missing:
            raise ValueError(f"graph row {r.get('id', '?')!r} lacks columns {missing}; not a graph row")
        yield r


def _rng(seed: int, row_id: str, *parts: str) -> random.Random:
    return random.Random(":".join([str(seed), row_id, *parts]))
