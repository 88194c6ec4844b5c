"""On-disk forms of code graphs: the Arrow schema, the HF ``datasets`` layout, official GALLa JSONL.

A graph dataset is a directory that ``datasets.load_from_disk`` opens directly: one Arrow stream file
``data-00000-of-00001.arrow``, ``dataset_info.json`` and ``state.json``, plus galla's ``manifest.json``.
Rows are units; node and edge arrays are list columns (see :data:`SCHEMA`).

The official GALLa release (``codefuse-ai/GALLa``) stores one JSON object per line with ``node_ids``,
``edge_index`` (``[[src, dst], ...]``) and ``source`` (stage 1) or ``question``/``bot`` (stage 2).
:func:`write_galla_jsonl` writes that shape from our rows (plus typed edges and provenance, which the
official loader ignores). :func:`read_official` is the one reader of such files (its edge-type rule:
:func:`official_edge_type`); :func:`read_galla_jsonl` builds a graph dataset from it and
``data_builders.tasks.read_task_file`` training records.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from parsers.extract import FileGraphs
from parsers.graph import EdgeType

DATA_FILE = "data-00000-of-00001.arrow"
KIND_VOCAB = "galla-tree-sitter-v1"
"""Name of the node-kind vocabulary in ``parsers/node_kinds.txt``; rows read from official GALLa files
carry ``official-galla`` instead (their 43 node types)."""


def _list(t: pa.DataType) -> pa.DataType:
    return pa.list_(t)


SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("language", pa.string()),
        ("path", pa.string()),
        ("unit_kind", pa.string()),
        ("name", pa.string()),
        ("start_line", pa.int32()),
        ("source", pa.string()),
        ("kind_vocab", pa.string()),
        ("has_error", pa.bool_()),
        ("truncated_nodes", pa.int32()),
        ("truncated_edges", pa.int32()),
        ("num_nodes", pa.int32()),
        ("num_edges", pa.int32()),
        ("node_kind", _list(pa.int16())),
        ("node_named", _list(pa.int8())),
        ("node_start_byte", _list(pa.int32())),
        ("node_end_byte", _list(pa.int32())),
        ("node_start_line", _list(pa.int32())),
        ("node_start_col", _list(pa.int32())),
        ("node_end_line", _list(pa.int32())),
        ("node_end_col", _list(pa.int32())),
        ("edge_src", _list(pa.int32())),
        ("edge_dst", _list(pa.int32())),
        ("edge_type", _list(pa.int8())),
    ]
)
_NODE = [f.name for f in SCHEMA if f.name.startswith("node_") and f.name != "node_kind"] + ["node_kind"]
_EDGE = ["edge_src", "edge_dst", "edge_type"]


# Arrays are built from buffers, not with ``pa.array``: its first call in a process imports pandas,
# a slow import every build-graphs worker would pay.
_NUMPY_TYPES = {pa.int8(): np.int8, pa.int16(): np.int16, pa.int32(): np.int32, pa.int64(): np.int64}


def _numeric(values, t: pa.DataType) -> pa.Array:
    v = np.ascontiguousarray(values, dtype=_NUMPY_TYPES[t])
    return pa.Array.from_buffers(t, len(v), [None, pa.py_buffer(v)])


def _bools(values) -> pa.Array:
    bits = np.packbits(np.asarray(values, dtype=bool), bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(bits)])


def _strings(values: list[str]) -> pa.Array:
    data = [v.encode("utf-8") for v in values]
    offsets = np.zeros(len(data) + 1, dtype=np.int32)
    np.cumsum([len(b) for b in data], out=offsets[1:])
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))]
    return pa.Array.from_buffers(pa.string(), len(data), buffers)


def _repeated(value: str, n: int) -> pa.Array:
    """A string column holding ``value`` ``n`` times."""
    b = value.encode("utf-8")
    offsets = np.arange(n + 1, dtype=np.int32) * len(b)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(b * n)])


def _column(values, t: pa.DataType) -> pa.Array:
    if t == pa.string():
        return _strings(values)
    if t == pa.bool_():
        return _bools(values)
    return _numeric(values, t)


def empty_batch() -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([pa.nulls(0, f.type) for f in SCHEMA], schema=SCHEMA)


_TYPES = {f.name: f.type for f in SCHEMA}


def file_batch(fg: FileGraphs, relpath: str, keep: np.ndarray | None = None) -> pa.RecordBatch:
    """The units of one file as a record batch of :data:`SCHEMA` (``keep``: mask of units to keep)."""
    n = len(fg)
    if n == 0 or (keep is not None and not keep.any()):
        return empty_batch()
    idx = np.arange(n) if keep is None else np.flatnonzero(keep)
    no, eo = fg.node_offsets, fg.edge_offsets
    arrays: dict[str, pa.Array] = {}
    node_counts = (no[1:] - no[:-1])[idx]
    edge_counts = (eo[1:] - eo[:-1])[idx]
    for names, off, counts in ((_NODE, no, node_counts), (_EDGE, eo, edge_counts)):
        if keep is None:
            sel = None
            offsets = off
        else:
            sel = (
                np.concatenate([np.arange(off[u], off[u + 1]) for u in idx]) if len(idx) else np.zeros(0, int)
            )
            offsets = np.concatenate(([0], np.cumsum(counts)))
        offsets_buf = pa.py_buffer(np.ascontiguousarray(offsets, dtype=np.int32))  # shared by the group
        for name in names:
            values = fg.columns[name]
            if sel is not None:
                values = values[sel]
            t = _TYPES[name]
            arrays[name] = pa.Array.from_buffers(
                t, len(idx), [None, offsets_buf], children=[_numeric(values, t.value_type)]
            )
    names = [fg.names[u] for u in idx]
    starts = [fg.start_lines[u] for u in idx]
    cols = {
        "id": [f"{relpath}::{nm}@{s + 1}" for nm, s in zip(names, starts, strict=True)],
        "name": names,
        "start_line": starts,
        "source": [fg.sources[u] for u in idx],
        "has_error": [fg.unit_has_error[u] for u in idx],
        "truncated_nodes": [fg.truncated_nodes[u] for u in idx],
        "truncated_edges": [fg.truncated_edges[u] for u in idx],
        "num_nodes": node_counts.astype(np.int32),
        "num_edges": edge_counts.astype(np.int32),
    }
    for name, values in cols.items():
        arrays[name] = _column(values, _TYPES[name])
    for name, value in (("language", fg.language), ("path", relpath), ("unit_kind", fg.unit_kind)):
        arrays[name] = _repeated(value, len(idx))
    arrays["kind_vocab"] = _repeated(KIND_VOCAB, len(idx))
    return pa.RecordBatch.from_arrays([arrays[f.name] for f in SCHEMA], schema=SCHEMA)


_EOS = b"\xff\xff\xff\xff\x00\x00\x00\x00"
"""End of an Arrow IPC stream."""


@cache
def _stream_head(with_features: bool) -> bytes:
    """The bytes an IPC stream of :data:`SCHEMA` starts with (its schema message)."""
    schema = SCHEMA.with_metadata(_features_metadata()) if with_features else SCHEMA
    sink = pa.BufferOutputStream()
    pa.ipc.new_stream(sink, schema).close()
    data = sink.getvalue().to_pybytes()
    if not data.endswith(_EOS):
        raise RuntimeError("unexpected Arrow IPC stream layout")
    return data[: -len(_EOS)]


def serialize_batch(batch: pa.RecordBatch) -> tuple[bytes, pa.Buffer, bytes]:
    """``batch`` as a one-batch IPC stream of :data:`SCHEMA`, in three parts to write one after another
    (the schema head, the batch's message, the end marker): the stream ``pa.ipc.new_stream`` writes,
    without growing a buffer for it (which cost more than building the batch)."""
    return _stream_head(False), batch.serialize(), _EOS


def holds_batch(fd: int, offset: int, length: int) -> bool:
    """Whether bytes ``[offset, offset + length)`` of the open file ``fd`` start and end as a
    :func:`serialize_batch` stream does (its first and last bytes; the content is not decoded)."""
    head = _stream_head(False)
    return (
        length > len(head) + len(_EOS)
        and os.pread(fd, len(head), offset) == head
        and os.pread(fd, len(_EOS), offset + length - len(_EOS)) == _EOS
    )


def _feature(t: pa.DataType) -> dict:
    """The ``datasets`` feature dict of an Arrow type (written by hand: importing ``datasets`` costs 1 s
    per build; ``tests/data_builders`` checks it against ``Features.from_arrow_schema``)."""
    if pa.types.is_list(t):
        return {"feature": _feature(t.value_type), "_type": "List"}
    return {"dtype": str(t) if str(t) != "bool" else "bool", "_type": "Value"}


def features_dict() -> dict:
    return {f.name: _feature(f.type) for f in SCHEMA}


def _features_metadata() -> dict[bytes, bytes]:
    return {b"huggingface": json.dumps({"info": {"features": features_dict()}}).encode()}


class DatasetWriter:
    """Streams record batches into ``<dir>/data-00000-of-00001.arrow``; :meth:`close` adds the
    ``datasets`` metadata so ``datasets.load_from_disk(dir)`` opens it.

    Batches arrive as byte ranges of files holding a :func:`serialize_batch` stream; their record-batch
    messages are copied as bytes after one schema message (which carries the ``datasets`` features), so
    the main process of a build does no Arrow decoding or encoding.
    """

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        # unbuffered: batches are copied into it by the kernel (copy_file_range), between plain writes
        self._out = open(self.dir / DATA_FILE, "wb", buffering=0)  # noqa: SIM115 - closed in close()
        self._write(_stream_head(True))
        self.rows = 0

    def _write(self, data) -> None:
        view = memoryview(data)
        while view:
            view = view[self._out.write(view) :]

    def append(self, path: Path, offset: int, length: int, rows: int) -> None:
        """Append the ``rows``-row batch stored as a stream at ``path[offset : offset + length]``."""
        if not rows:
            return
        head = _stream_head(False)
        with open(path, "rb") as src:
            fd = src.fileno()
            if os.fstat(fd).st_size < offset + length:
                raise ValueError(
                    f"'{path}' ends before byte {offset + length}; delete it and rerun the build"
                )
            if not holds_batch(fd, offset, length):
                raise ValueError(
                    f"'{path}' at byte {offset} holds no galla batch; delete it and rerun the build"
                )
            self._copy(fd, offset + len(head), length - len(head) - len(_EOS))
        self.rows += rows

    def _copy(self, fd: int, pos: int, count: int) -> None:
        """Copy ``count`` bytes at ``pos`` of ``fd`` to the end of the data file."""
        copy = getattr(os, "copy_file_range", None)
        out = self._out.fileno()
        while count > 0:
            n = 0
            if copy is not None:
                try:
                    n = copy(fd, out, count, pos)
                except OSError:  # e.g. a file system that cannot: copy through memory instead
                    copy = None
            if not n:
                data = os.pread(fd, min(count, 1 << 24), pos)
                if not data:
                    raise ValueError(f"a batch file ends before byte {pos + count}; delete it and rerun")
                self._write(data)
                n = len(data)
            pos += n
            count -= n

    def close(self, fingerprint: str) -> None:
        self._write(_EOS)
        self._out.close()
        write_dataset_metadata(self.dir, fingerprint)


def write_dataset_metadata(
    directory: Path,
    fingerprint: str,
    features: dict | None = None,
    description: str = "galla code graphs (see manifest.json)",
) -> None:
    """``dataset_info.json`` and ``state.json`` beside ``DATA_FILE``, so ``datasets.load_from_disk``
    opens a file galla streamed itself; ``features``: a ``Features.to_dict()`` (default: graph rows)."""
    info = {
        "citation": "",
        "description": description,
        "features": features_dict() if features is None else features,
        "homepage": "",
        "license": "",
    }
    (directory / "dataset_info.json").write_text(json.dumps(info, indent=2))
    state = {
        "_data_files": [{"filename": DATA_FILE}],
        "_fingerprint": fingerprint,
        "_format_columns": None,
        "_format_kwargs": {},
        "_format_type": None,
        "_output_all_columns": False,
        "_split": None,
    }
    (directory / "state.json").write_text(json.dumps(state, indent=2))


# --- official GALLa JSONL ---------------------------------------------------------------------


def galla_records(table: pa.Table, node_text: bool = False) -> Iterator[dict]:
    """Rows as official GALLa stage-1 records (``node_ids``, ``edge_index``, ``source``) plus extras.

    ``edge_index`` is untyped, as the official one is: edges of different types between the same two
    nodes (a ``CHILD`` that is also a ``LAST_WRITE``...) would repeat a pair, so each ``[src, dst]``
    pair is written once, in the order it first occurs. ``edge_type`` is parallel to it (the type each
    pair first comes with); ``typed_edges`` keeps every edge as ``[src, dst, type]``."""
    cols = {
        name: table.column(name).to_pylist()
        for name in (
            "id",
            "language",
            "path",
            "name",
            "unit_kind",
            "source",
            "node_kind",
            "edge_src",
            "edge_dst",
            "edge_type",
            "node_start_byte",
            "node_end_byte",
        )
    }
    for i in range(table.num_rows):
        typed = list(zip(cols["edge_src"][i], cols["edge_dst"][i], cols["edge_type"][i], strict=True))
        first: dict[tuple[int, int], int] = {}  # each pair once, with the type it first comes with
        for a, b, t in typed:
            first.setdefault((a, b), t)
        rec = {
            "node_ids": cols["node_kind"][i],
            "edge_index": [[a, b] for a, b in first],
            "source": cols["source"][i],
            "edge_type": list(first.values()),
            "typed_edges": [list(e) for e in typed],
            "id": cols["id"][i],
            "language": cols["language"][i],
            "path": cols["path"][i],
            "name": cols["name"][i],
            "unit_kind": cols["unit_kind"][i],
        }
        if node_text:
            data = cols["source"][i].encode()
            rec["text"] = [
                data[s:e].decode(errors="replace")
                for s, e in zip(cols["node_start_byte"][i], cols["node_end_byte"][i], strict=True)
            ]
        yield rec


def write_galla_jsonl(table: pa.Table, path: Path, node_text: bool = False) -> int:
    """Write rows as official GALLa JSONL; returns the number of records."""
    n = 0
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for rec in galla_records(table, node_text):
            f.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")))
            f.write("\n")
            n += 1
    os.replace(tmp, path)
    return n


# --- official GALLa JSONL: the one reader ------------------------------------------------------


def official_edge_type(path: str | Path, edge_type: EdgeType | None = None) -> EdgeType:
    """The type given to the untyped edges of official file ``path``: ``edge_type`` when given, else
    ``CHILD`` when the file's name contains ``AST`` and ``DATA_FLOW`` otherwise.

    The official release names its files by graph (``..._AST_...``, ``..._DFG_...``). A file named
    neither (``graphs.jsonl``) gets ``DATA_FLOW``: that is what training on ``data.task_files`` has always
    given such files, so a run on them keeps its graphs; galla's own files (:func:`write_galla_jsonl`)
    carry a typed ``edge_type`` per record, which wins over any default. Pass ``edge_type`` when the name
    does not say."""
    if edge_type is not None:
        return edge_type
    return EdgeType.CHILD if "AST" in Path(path).name.upper() else EdgeType.DATA_FLOW


def official_language(path: str | Path) -> str:
    """``java`` / ``python`` when the file's name says so, else ``""`` (a record's own ``language`` wins)."""
    name = Path(path).name.upper()
    return "java" if "JAVA" in name else "python" if "PYTHON" in name else ""


def json_records(path: str | Path) -> Iterator[tuple[str, int, dict]]:
    """``(where, number, record)`` for each object of a ``.jsonl`` file (or of a ``.json`` file holding
    one object or a list); ``where`` is ``file:line`` for the messages. A line that is not JSON or not
    an object raises ``ValueError`` naming it."""
    p = Path(path)
    if p.suffix == ".json":
        raw = p.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            lineno = raw.count(b"\n", 0, err.start) + 1
            raise ValueError(_not_utf8(p, lineno, raw[raw.rfind(b"\n", 0, err.start) + 1 :])) from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"{p}:{err.lineno}: not valid JSON ({err.msg})") from err
        items = data if isinstance(data, list) else [data]
        located: Iterable[tuple[str, int, Any]] = (
            (f"{p}: item {i}", i, rec) for i, rec in enumerate(items, 1)
        )
    else:
        located = _jsonl(p)
    for where, i, rec in located:
        if not isinstance(rec, dict):
            raise ValueError(f"{where}: expected a JSON object, got {type(rec).__name__}")
        yield where, i, rec


def _not_utf8(p: Path, lineno: int, line: bytes) -> str:
    """``FILE:LINE: not valid UTF-8 ...; what to do`` for ``line`` (from its start), which does not decode."""
    try:
        line.decode("utf-8")
        where = ""
    except UnicodeDecodeError as err:
        shown = " ".join(f"0x{b:02x}" for b in line[err.start : err.end])
        where = f" (byte {shown} at column {err.start + 1})"
    return (
        f"{p}:{lineno}: not valid UTF-8{where}; save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8) "
        "or drop that line"
    )


def _jsonl(p: Path) -> Iterator[tuple[str, int, Any]]:
    with open(p, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise ValueError(_not_utf8(p, lineno, raw)) from None
            if line.strip():
                try:
                    yield f"{p}:{lineno}", lineno, json.loads(line)
                except json.JSONDecodeError as err:
                    msg = f"{p}:{lineno}: not valid JSON ({err.msg}); expected one JSON object per line"
                    raise ValueError(msg) from err


def official_graph(rec: dict, where: str, edge_type: EdgeType) -> dict[str, list[int]]:
    """``node_kind``, ``edge_src``, ``edge_dst``, ``edge_type`` of an official graph record (``node_ids``,
    ``edge_index``); galla's ``typed_edges`` where present (its export writes each pair once in
    ``edge_index``), else its own ``edge_type`` list if it has one per edge, else ``edge_type`` for every
    edge. A record without ``edge_index`` or with an edge outside its nodes raises, naming ``where``."""
    if "edge_index" not in rec:
        msg = f"{where}: graph record without 'edge_index' (a GALLa graph record has node_ids and edge_index)"
        raise ValueError(msg)
    kinds = [int(k) for k in rec["node_ids"]]
    pairs = rec["edge_index"] or []
    src = [int(a) for a, _ in pairs]
    dst = [int(b) for _, b in pairs]
    if any(not 0 <= v < len(kinds) for v in src + dst):
        raise ValueError(f"{where}: edge_index refers to a node outside 0..{len(kinds) - 1}")
    types = rec.get("edge_type")
    if isinstance(types, list) and len(types) == len(pairs):
        types = [int(t) for t in types]
    else:
        types = [int(edge_type)] * len(pairs)
    typed = rec.get("typed_edges")  # galla's own export: every typed edge, where edge_index pairs are unique
    if isinstance(typed, list) and all(
        isinstance(e, list) and len(e) == 3 and all(0 <= int(i) < len(kinds) for i in e[:2]) for e in typed
    ):
        src, dst, types = [int(e[0]) for e in typed], [int(e[1]) for e in typed], [int(e[2]) for e in typed]
    return {"node_kind": kinds, "edge_src": src, "edge_dst": dst, "edge_type": types}


def read_official(
    path: str | Path, edge_type: EdgeType | None = None
) -> Iterator[tuple[str, int, dict, dict[str, list[int]] | None]]:
    """Every record of an official GALLa file as ``(where, number, record, graph)``; ``graph`` is
    :func:`official_graph` for graph records (``node_ids``), ``None`` for the others (downstream
    ``human``/``bot`` lines). Untyped edges get :func:`official_edge_type`. Both readers of official files
    (:func:`read_galla_jsonl`, ``data_builders.tasks.read_task_file``) go through it."""
    default = official_edge_type(path, edge_type)
    for where, i, rec in json_records(path):
        yield where, i, rec, official_graph(rec, where, default) if "node_ids" in rec else None


def read_galla_jsonl(paths: str | Path | Iterable[str | Path], edge_type: EdgeType | None = None):
    """Load official GALLa JSONL files (graph records) into a ``datasets.Dataset`` of :data:`SCHEMA`.

    Args:
        paths: one or more ``.jsonl`` files. Lines without ``node_ids`` (downstream ``human``/``bot``
            records) are skipped.
        edge_type: the type given to the untyped official edges; default from the file's name
            (:func:`official_edge_type`). A record's own ``edge_type`` list (galla's files) wins.

    Stage-2 records (``question``/``bot`` instead of ``source``) get the question as ``source`` and
    keep both texts as extra columns ``question`` and ``bot``. Spans are unknown (-1) and node kinds
    are the official ids (``kind_vocab`` = ``official-galla``).

    Raises:
        ValueError: a line is not JSON or lacks ``edge_index``; the message names file and line.
    """
    from datasets import Dataset

    if isinstance(paths, (str, Path)):
        paths = [paths]
    rows: dict[str, list] = {f.name: [] for f in SCHEMA}
    extra: dict[str, list] = {"question": [], "bot": []}
    for p in map(Path, paths):
        if not p.exists():
            raise ValueError(f"GALLa JSONL file '{p}' does not exist; pass the path of a .jsonl file")
        language = official_language(p)
        for _, lineno, rec, graph in read_official(p, edge_type):
            if graph is None:
                continue
            n = len(graph["node_kind"])
            minus = [-1] * n
            values = {
                "id": str(rec.get("id", f"{p.name}:{lineno}")),
                "language": rec.get("language", language),
                "path": str(p),
                "unit_kind": "program",
                "name": f"line {lineno}",
                "start_line": 0,
                "source": rec.get("source") or rec.get("question") or "",
                "kind_vocab": "official-galla",
                "has_error": False,
                "truncated_nodes": 0,
                "truncated_edges": 0,
                "num_nodes": n,
                "num_edges": len(graph["edge_src"]),
                "node_named": [1] * n,
                "node_start_byte": minus,
                "node_end_byte": minus,
                "node_start_line": minus,
                "node_start_col": minus,
                "node_end_line": minus,
                "node_end_col": minus,
            } | graph
            for k, v in values.items():
                rows[k].append(v)
            extra["question"].append(rec.get("question"))
            extra["bot"].append(rec.get("bot"))
    table = pa.table({f.name: pa.array(rows[f.name], type=f.type) for f in SCHEMA})
    for k, v in extra.items():
        if any(x is not None for x in v):
            table = table.append_column(k, pa.array(v, type=pa.string()))
    return Dataset(table)
