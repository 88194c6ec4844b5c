"""Encoded samples on disk: a corpus's graph stream trained without holding its samples in memory.

``data.encoded: disk`` (or ``auto`` on a large or streamed corpus) writes each encoded graph-stream
sample to an Arrow IPC file in the run directory as it is encoded, in record batches of
:data:`ROWS_PER_BATCH`, and memory-maps it back: the trainer keeps only every sample's length and
supervised-token count in memory (16 bytes a sample) and rebuilds the few samples of a batch when it
needs them. Pages the kernel mapped in are file-backed, so they are dropped under memory pressure
instead of swapped: a corpus larger than memory trains.

A unit's GraphQA questions share its graph (the encoder hands one :class:`~torch_geometric.data.Data` to
consecutive records of a unit): the file stores that graph once and the later rows point at it
(``graph_at``), so the file is about the size of the token ids plus one copy of each graph.

Each process writes its own file (``encoded/graph.rank{R}.arrow``); it is galla's, made anew by every run
(resumed or not: encoding is deterministic) and removed when the run ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
from torch_geometric.data import Data

from data_builders.pyg import to_pyg
from galla.train.data import TOKEN_DTYPE, Example

ROWS_PER_BATCH = 1024
"""Samples per Arrow record batch (written at once; what encoding holds before it goes to disk)."""
AUTO_DISK_ROWS = 50_000
"""``data.encoded: auto`` keeps the graph stream on disk above this many graph rows (or for a hub stream
of unknown length)."""

_INTS = pa.list_(pa.int32())
_GRAPH_COLUMNS = ("node_kind", "edge_src", "edge_dst", "edge_type", "name")
SCHEMA = pa.schema(
    [
        ("ids", _INTS),
        ("prompt_len", pa.int32()),
        ("task", pa.string()),
        ("graph_at", pa.int64()),  # the row holding this sample's graph (itself or an earlier one); -1: none
        ("node_kind", _INTS),
        ("edge_src", _INTS),
        ("edge_dst", _INTS),
        ("edge_type", _INTS),
        ("name", pa.string()),
    ]
)


def use_disk(mode: str, graph_rows: int | None) -> bool:
    """Whether the graph stream goes to disk: ``disk``; ``auto`` for a stream of unknown length (None) or
    one of more than :data:`AUTO_DISK_ROWS` rows; never for ``memory``."""
    if mode == "auto":
        return graph_rows is None or graph_rows > AUTO_DISK_ROWS
    return mode == "disk"


class DiskExamples(Sequence[Example]):
    """The encoded samples of one stream, memory-mapped from an Arrow file (a view when ``rows`` is set:
    :meth:`subset`). ``lengths`` and ``num_targets`` are in memory; samples are built on access."""

    def __init__(self, path: Path, rows: np.ndarray | None = None, _table: pa.Table | None = None) -> None:
        self.path = Path(path)
        if _table is None:
            with pa.memory_map(str(self.path)) as source:
                _table = pa.ipc.open_file(source).read_all()  # zero-copy: columns point into the map
        self._table = _table
        self._rows = np.arange(_table.num_rows) if rows is None else np.asarray(rows, dtype=np.int64)
        ids = _table.column("ids")
        sizes = np.concatenate([np.diff(c.offsets.to_numpy()) for c in ids.chunks]) if ids.num_chunks else []
        prompt = _table.column("prompt_len").to_numpy()
        self._all_lengths = np.asarray(sizes, dtype=np.int64)
        self.lengths = self._all_lengths[self._rows]
        self.num_targets = (self._all_lengths - prompt)[self._rows]

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return self.take([i])[0]

    def __iter__(self) -> Iterator[Example]:
        for a in range(0, len(self), ROWS_PER_BATCH):
            yield from self.take(range(a, min(a + ROWS_PER_BATCH, len(self))))

    def take(self, indices: Iterable[int]) -> list[Example]:
        """The samples at ``indices`` (positions in this view), in that order."""
        at = self._rows[np.asarray(list(indices), dtype=np.int64)]
        if len(at) == 0:
            return []
        cols = self._table.take(pa.array(at)).select(["ids", "prompt_len", "task", "graph_at"]).to_pydict()
        owners = sorted({int(g) for g in cols["graph_at"] if g >= 0})
        graphs: dict[int, Data] = {}
        if owners:  # the rows that hold the graphs: a sample's own row or an earlier one of its unit
            held = self._table.take(pa.array(owners)).select(list(_GRAPH_COLUMNS)).to_pylist()
            graphs = {g: to_pyg({**row, "id": row["name"]}) for g, row in zip(owners, held, strict=True)}
        return [
            Example(np.asarray(ids, TOKEN_DTYPE), int(prompt), task, graphs.get(int(g)))
            for ids, prompt, task, g in zip(
                cols["ids"], cols["prompt_len"], cols["task"], cols["graph_at"], strict=True
            )
        ]

    def subset(self, indices: Sequence[int]) -> DiskExamples:
        """A view of the samples at ``indices`` (positions in this view), the same file underneath."""
        return DiskExamples(self.path, self._rows[np.asarray(indices, dtype=np.int64)], self._table)


def write_examples(examples: Iterable[Example | None], path: Path) -> tuple[DiskExamples | None, int]:
    """Write the non-None ``examples`` to ``path`` as they come; ``(the samples, memory-mapped, or None if
    there were none; how many items were read, None included)``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    read = written = 0
    last_graph, last_at = None, -1
    buf: dict[str, list] = {name: [] for name in SCHEMA.names}
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, SCHEMA) as writer:

        def flush() -> None:
            if buf["ids"]:
                writer.write_batch(
                    pa.record_batch(
                        [pa.array(buf[n], SCHEMA.field(n).type) for n in SCHEMA.names], schema=SCHEMA
                    )
                )
                for v in buf.values():
                    v.clear()

        for ex in examples:
            read += 1
            if ex is None:
                continue
            if ex.chosen is not None:
                raise ValueError(
                    "DPO pairs are the text stream, which stays in memory; write graph samples only"
                )
            g = ex.graph
            none = (None,) * len(_GRAPH_COLUMNS)
            if g is None:
                at, cols = -1, none
            elif g is last_graph:
                at, cols = last_at, none
            else:
                at = last_at = written
                last_graph = g
                cols = (
                    g.x.tolist(),
                    g.edge_index[0].tolist(),
                    g.edge_index[1].tolist(),
                    g.edge_type.tolist(),
                    str(getattr(g, "name", "") or ""),
                )
            buf["ids"].append(ex.ids)
            buf["prompt_len"].append(ex.prompt_len)
            buf["task"].append(ex.task)
            buf["graph_at"].append(at)
            for name, value in zip(_GRAPH_COLUMNS, cols, strict=True):
                buf[name].append(value)
            written += 1
            if len(buf["ids"]) >= ROWS_PER_BATCH:
                flush()
        flush()
    if not written:
        with contextlib.suppress(OSError):
            path.unlink()
        return None, read
    return DiskExamples(path), read


def remove(path: Path) -> None:
    """Remove a file :func:`write_examples` wrote, and its folder if that is then empty."""
    with contextlib.suppress(OSError):
        path.unlink()
    with contextlib.suppress(OSError):
        path.parent.rmdir()
