"""The dataset writer's byte-level copy gives the file pyarrow's own stream writer would."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from datasets import load_from_disk

from data_builders.formats import (
    DATA_FILE,
    SCHEMA,
    DatasetWriter,
    _features_metadata,
    file_batch,
    serialize_batch,
    write_galla_jsonl,
)
from data_builders.tasks import read_task_file
from parsers import extract_file

CODE = [
    "def f(a):\n    return a + 1\n",
    "class K:\n    def m(self, x):\n        y = [x for x in range(3)]\n        return y\n",
    "x = 1\n",  # no function: an empty batch
    "def g(s):\n    return 'é' + s\n",
]


def test_copied_batches_equal_a_pyarrow_written_stream(tmp_path):
    batches = [file_batch(extract_file(code, "python"), f"m{i}.py") for i, code in enumerate(CODE)]
    spool = tmp_path / "spool"
    offsets = []
    with open(spool, "wb") as f:
        for b in batches:
            data = b"".join(map(bytes, serialize_batch(b)))
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, SCHEMA) as w:
                w.write_batch(b)
            assert data == sink.getvalue().to_pybytes()  # the parts make the stream pyarrow writes
            offsets.append((f.tell(), len(data), b.num_rows))
            f.write(data)
    writer = DatasetWriter(tmp_path / "ours")
    for off, size, rows in offsets:
        writer.append(spool, off, size, rows)
    writer.close("x")
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, SCHEMA.with_metadata(_features_metadata())) as w:
        for b in batches:
            if b.num_rows:
                w.write_batch(b)
    assert (tmp_path / "ours" / DATA_FILE).read_bytes() == sink.getvalue().to_pybytes()
    ds = load_from_disk(str(tmp_path / "ours"))
    assert ds.num_rows == sum(b.num_rows for b in batches)
    assert "é" in ds[-1]["source"]


def test_a_damaged_batch_is_refused_with_its_location(tmp_path):
    writer = DatasetWriter(tmp_path / "out")
    bad = tmp_path / "bad.spool"
    bad.write_bytes(b"\0" * 64)
    with pytest.raises(ValueError, match=r"bad\.spool' at byte 0 holds no galla batch"):
        writer.append(bad, 0, 64, 1)
    with pytest.raises(ValueError, match="ends before byte 100"):
        writer.append(bad, 0, 100, 1)


def test_galla_jsonl_writes_each_pair_once_and_keeps_the_typed_edges(tmp_path):
    fg = extract_file("def f(a):\n    b = a\n    return b + a\n", "python")
    table = pa.Table.from_batches([file_batch(fg, "m.py")])
    columns = ("edge_src", "edge_dst", "edge_type")
    typed = list(zip(*(table.column(c)[0].as_py() for c in columns), strict=True))
    pairs = [(a, b) for a, b, _ in typed]
    assert len(set(pairs)) < len(pairs)  # edges of different types between the same nodes collapse
    path = tmp_path / "graphs.jsonl"
    assert write_galla_jsonl(table, path) == 1
    rec = json.loads(path.read_text())
    written = [tuple(e) for e in rec["edge_index"]]
    assert len(written) == len(set(written)) and set(written) == set(pairs)
    assert written == list(dict.fromkeys(pairs))  # in the order each pair first occurs
    assert len(rec["edge_type"]) == len(written)
    assert [tuple(e) for e in rec["typed_edges"]] == typed  # nothing lost
    (task,) = read_task_file(path)  # galla's own export read back as Graph2Code: every typed edge
    assert task["task"] == "graph2code"
    assert list(zip(*(task[c] for c in columns), strict=True)) == typed
