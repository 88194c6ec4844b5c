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


class _Batch:
    """One record batch of the file as numpy views into the map (no copies, no Python objects per id)."""

    def __init__(self, batch: pa.RecordBatch) -> None:
        def lists(name: str) -> tuple[np.ndarray, np.ndarray]:
            col = batch.column(name)
            return col.offsets.to_numpy(), col.values.to_numpy()

        self.ids = lists("ids")
        self.graph = {c: lists(c) for c in _GRAPH_COLUMNS[:4]}
        self.prompt = batch.column("prompt_len").to_numpy()
        self.graph_at = batch.column("graph_at").to_numpy()
        self.task = batch.column("task")
        self.name = batch.column("name")

    def row_ids(self, k: int) -> np.ndarray:
        off, val = self.ids
        return val[off[k] : off[k + 1]]

    def row_graph(self, k: int) -> Data:
        def col(c: str) -> np.ndarray:
            off, val = self.graph[c]
            return val[off[k] : off[k + 1]]

        row = {c: col(c) for c in _GRAPH_COLUMNS[:4]}
        return to_pyg({**row, "id": self.name[k].as_py() or ""})


class DiskExamples(Sequence[Example]):
    """The encoded samples of one stream, memory-mapped from an Arrow file (a view when ``rows`` is set:
    :meth:`subset`). ``lengths`` and ``num_targets`` are in memory; samples are built on access."""

    def __init__(self, path: Path, rows: np.ndarray | None = None, _file: tuple | None = None) -> None:
        self.path = Path(path)
        if _file is None:
            source = pa.memory_map(str(self.path))  # kept open: the batches point into it
            reader = pa.ipc.open_file(source)
            batches = [_Batch(reader.get_batch(i)) for i in range(reader.num_record_batches)]
            starts = np.cumsum([0] + [len(b.prompt) for b in batches])
            sizes = np.concatenate([np.diff(b.ids[0]) for b in batches]) if batches else np.zeros(0, np.int64)
            prompt = np.concatenate([b.prompt for b in batches]) if batches else np.zeros(0, np.int64)
            _file = (source, batches, starts, sizes.astype(np.int64), sizes - prompt)
        self._file = _file
        _, self._batches, self._starts, lengths, targets = _file
        total = int(self._starts[-1])
        self._rows = np.arange(total) if rows is None else np.asarray(rows, dtype=np.int64)
        self.lengths = lengths[self._rows]
        self.num_targets = targets[self._rows]

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return self.take([i])[0]

    def __iter__(self) -> Iterator[Example]:
        for a in range(0, len(self), ROWS_PER_BATCH):
            yield from self.take(range(a, min(a + ROWS_PER_BATCH, len(self))))

    def _locate(self, row: int) -> tuple[_Batch, int]:
        b = int(np.searchsorted(self._starts, row, side="right")) - 1
        return self._batches[b], row - int(self._starts[b])

    def take(self, indices: Iterable[int]) -> list[Example]:
        """The samples at ``indices`` (positions in this view), in that order; samples of one unit taken
        together share one graph."""
        graphs: dict[int, Data] = {}
        out = []
        for i in indices:
            batch, k = self._locate(int(self._rows[int(i)]))
            g = int(batch.graph_at[k])
            graph = None
            if g >= 0:
                if g not in graphs:  # the row that holds it: this one or an earlier one of its unit
                    graphs[g] = _graph_at(self, g)
                graph = graphs[g]
            ids = np.array(batch.row_ids(k), TOKEN_DTYPE)  # a copy: the map is read-only
            out.append(Example(ids, int(batch.prompt[k]), batch.task[k].as_py(), graph))
        return out

    def subset(self, indices: Sequence[int]) -> DiskExamples:
        """A view of the samples at ``indices`` (positions in this view), the same file underneath."""
        return DiskExamples(self.path, self._rows[np.asarray(indices, dtype=np.int64)], self._file)


def _graph_at(samples: DiskExamples, row: int) -> Data:
    batch, k = samples._locate(row)
    return batch.row_graph(k)


def _list_array(values: list[np.ndarray | None], dtype) -> pa.Array:
    """A list array from per-row numpy arrays (None: a null row), built from one flat buffer."""
    sizes = np.fromiter((0 if v is None else len(v) for v in values), np.int64, len(values))
    offsets = np.zeros(len(values) + 1, np.int32)
    np.cumsum(sizes, out=offsets[1:])
    present = [v for v in values if v is not None]
    flat = np.concatenate(present).astype(dtype, copy=False) if present else np.zeros(0, dtype)
    mask = np.fromiter((v is None for v in values), bool, len(values))
    return pa.ListArray.from_arrays(
        pa.array(offsets), pa.array(flat), mask=pa.array(mask) if mask.any() else None
    )


def write_examples(examples: Iterable[Example | None], path: Path) -> tuple[DiskExamples | None, int]:
    """Write the non-None ``examples`` to ``path`` as they come; ``(the samples, memory-mapped, or None if
    there were none; how many items were read, None included)``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    read = written = 0
    last_graph, last_at = None, -1
    buf: dict[str, list] = {name: [] for name in SCHEMA.names}
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, SCHEMA) as writer:

        def flush() -> None:
            if not buf["ids"]:
                return
            cols = [_list_array(buf["ids"], np.int32), pa.array(buf["prompt_len"], pa.int32())]
            cols += [pa.array(buf["task"], pa.string()), pa.array(buf["graph_at"], pa.int64())]
            cols += [_list_array(buf[c], np.int32) for c in _GRAPH_COLUMNS[:4]]
            cols.append(pa.array(buf["name"], pa.string()))
            writer.write_batch(pa.record_batch(cols, schema=SCHEMA))
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
            cols: tuple = (None,) * len(_GRAPH_COLUMNS)
            if g is None:
                at = -1
            elif g is last_graph:
                at = last_at
            else:
                at = last_at = written
                last_graph = g
                cols = (
                    g.x.numpy(),
                    g.edge_index[0].numpy(),
                    g.edge_index[1].numpy(),
                    g.edge_type.numpy(),
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
