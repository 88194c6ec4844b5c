"""Training records for every galla objective: Graph2Code, GraphQA, downstream SFT and DPO pairs.

Graph rows (one code unit each, as written by ``galla build-graphs``) become alignment records; JSONL
files in the official GALLa shapes become downstream records. Every record has the same keys
(:data:`TASK_FEATURES`), so all tasks concatenate into one ``datasets.Dataset``.

The schema and shared helpers are in :mod:`data_builders.records`, Graph2Code in
:mod:`data_builders.graph2code`, GraphQA in :mod:`data_builders.graph_qa`; this module reads the
downstream files, writes task datasets (:func:`build_tasks`), and re-exports every public name of those
modules, so ``from data_builders.tasks import ...`` works for all of them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
from datasets import Dataset, IterableDataset

from data_builders.formats import (
    DATA_FILE,
    json_records,
    official_language,
    read_official,
    write_dataset_metadata,
)
from data_builders.graph2code import G2C_QUESTIONS, dedent_unit, graph2code_records, unit_indent
from data_builders.graph_qa import GRAPH_NAMES, MAX_TEXT, QA_SUBTASKS, check_qa, graph_qa_records
from data_builders.records import (
    _REQUIRED,
    LANGUAGE_NAMES,
    REQUIRED_GRAPH_COLUMNS,
    TASK_FEATURES,
    TASKS,
    row_from_graph,
    task_record,
    to_dataset,
)
from parsers.graph import EdgeType

__all__ = [
    "G2C_QUESTIONS",
    "GRAPH_NAMES",
    "LANGUAGE_NAMES",
    "MANIFEST",
    "MAX_TEXT",
    "QA_SUBTASKS",
    "REQUIRED_GRAPH_COLUMNS",
    "ROWS_PER_READ",
    "TASKS",
    "TASK_FEATURES",
    "WRITE_BATCH",
    "build_tasks",
    "check_qa",
    "dedent_unit",
    "dpo_records",
    "graph2code_records",
    "graph_input_rows",
    "graph_qa_records",
    "read_task_file",
    "row_from_graph",
    "sft_records",
    "task_record",
    "to_dataset",
    "unit_indent",
    "write_task_dataset",
]

MANIFEST = "tasks_manifest.json"
WRITE_BATCH = 1024
"""Records :func:`build_tasks` holds before writing them as one Arrow record batch."""
ROWS_PER_READ = 256
"""Graph rows :func:`build_tasks` reads from a dataset at a time."""
_SFT_FIELDS = (("human", "bot"), ("prompt", "completion"), ("instruction", "output"))
_DPO_FIELDS = ("prompt", "chosen", "rejected")
_GRAPH_INPUT = "pass a `galla build-graphs` output folder, or its rows as parquet (one file or a folder)"
"""What to do, in the errors for a graph input that :func:`build_tasks` cannot read."""


# --- downstream files ----------------------------------------------------------------------------


def _read(path_or_rows: str | Path | Iterable[Mapping[str, Any]]) -> Iterator[tuple[str, int, Mapping]]:
    """``(where, number, record)`` for each record of a .jsonl/.json file (or of given rows)."""
    if not isinstance(path_or_rows, (str, Path)):
        for i, rec in enumerate(path_or_rows, 1):
            yield f"record {i}", i, rec
        return
    p = Path(path_or_rows)
    if not p.is_file():
        raise FileNotFoundError(f"task file '{p}' does not exist; pass a .jsonl or .json file")
    yield from json_records(p)


def _str(rec: Mapping, key: str, where: str) -> str:
    value = rec[key]
    if not isinstance(value, str):
        raise ValueError(f"{where}: field '{key}' must be a string, got {type(value).__name__}")
    return value


def _sft(rec: Mapping, where: str) -> dict:
    for human, bot in _SFT_FIELDS:
        if human in rec and bot in rec:
            question = _str(rec, human, where)
            if human == "instruction" and rec.get("input"):
                question += "\n\n" + _str(rec, "input", where)
            return task_record("sft", question=question, answer=_str(rec, bot, where))
    raise ValueError(
        f"{where}: expected fields 'human' and 'bot' (or 'prompt'/'completion', 'instruction'/'output'); "
        f"found {sorted(rec)}"
    )


def _dpo(rec: Mapping, where: str) -> dict:
    missing = [k for k in _DPO_FIELDS if k not in rec]
    if missing:
        raise ValueError(f"{where}: expected fields 'prompt', 'chosen', 'rejected'; missing {missing}")
    question, chosen, rejected = (_str(rec, k, where) for k in _DPO_FIELDS)
    return task_record("dpo", question=question, chosen=chosen, rejected=rejected)


def sft_records(path_or_rows: str | Path | Iterable[Mapping[str, Any]]) -> list[dict]:
    """Downstream records from official ``human``/``bot`` JSONL (or ``prompt``/``completion``,
    ``instruction``[/``input``]/``output``); a bad line raises ``ValueError`` naming file and line."""
    return [_sft(rec, where) for where, _, rec in _read(path_or_rows)]


def dpo_records(path_or_rows: str | Path | Iterable[Mapping[str, Any]]) -> list[dict]:
    """Preference pairs from ``prompt``/``chosen``/``rejected`` records (the prompt goes in ``question``;
    reference log-probabilities, if present, are ignored); errors as in :func:`sft_records`."""
    return [_dpo(rec, where) for where, _, rec in _read(path_or_rows)]


def _official(rec: Mapping, graph: dict, where: str, gid: str, language: str) -> dict:
    """An official GALLa graph record (``node_ids``, ``edge_index``) as graph2code or graph_qa."""
    common = {"graph_id": str(rec.get("id", gid)), "language": str(rec.get("language", language))}
    if "question" in rec and "bot" in rec:
        return task_record("graph_qa", graph=graph, subtask="official", question=_str(rec, "question", where),
                      answer=_str(rec, "bot", where), **common)  # fmt: skip
    if "source" in rec:
        return task_record("graph2code", graph=graph, answer=_str(rec, "source", where), **common)
    raise ValueError(f"{where}: graph record needs 'source' (stage 1) or 'question' and 'bot' (stage 2)")


def read_task_file(path: str | Path, *, edge_type: EdgeType | None = None) -> list[dict]:
    """Records from a .jsonl/.json file, each line's task told by its fields.

    ``node_ids`` + ``edge_index`` + ``question`` + ``bot`` (official stage-2 graph record) -> graph_qa
    (subtask ``official``); ``node_ids`` + ``edge_index`` + ``source`` (stage 1) -> graph2code;
    ``prompt`` + ``chosen`` + ``rejected`` -> dpo; ``human`` + ``bot`` (and the other SFT pairs) -> sft.
    Official records are read by :func:`data_builders.formats.read_official`, as for a graph dataset:
    galla's own export's ``typed_edges`` are taken where a record has them; untyped edges get the
    record's own ``edge_type`` list if it has one, else ``edge_type``, else the
    file name's type (:func:`~data_builders.formats.official_edge_type`: ``CHILD`` for a name containing
    ``AST``, ``DATA_FLOW`` otherwise).
    Official node ids are the official 43-type vocabulary; spans are unknown (empty lists).
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"task file '{p}' does not exist; pass a .jsonl or .json file")
    language = official_language(p)
    out = []
    for where, i, rec, graph in read_official(p, edge_type):
        if graph is not None:
            out.append(_official(rec, graph, where, f"{p.name}:{i}", language))
        elif all(k in rec for k in _DPO_FIELDS):
            out.append(_dpo(rec, where))
        elif any(h in rec and b in rec for h, b in _SFT_FIELDS):
            out.append(_sft(rec, where))
        else:
            raise ValueError(
                f"{where}: unknown record; expected node_ids+edge_index+source|question+bot (GALLa graph), "
                f"human+bot (SFT) or prompt+chosen+rejected (DPO); found {sorted(rec)}"
            )
    return out


# --- building a task dataset ---------------------------------------------------------------------


def _open_graphs(graphs: str | Path | Iterable) -> tuple[Iterable, str]:
    if not isinstance(graphs, (str, Path)):
        return graphs, f"<{type(graphs).__name__}>"
    from data_builders.sources import SourceError, open_rows

    p = Path(graphs)
    if not p.exists():  # checked here: a missing local path is a typo to name, never a hub id to fetch
        raise FileNotFoundError(
            f"graph directory '{p}' does not exist; build it: galla build-graphs ... --out {p}"
        )
    try:  # a save_to_disk folder, memory-mapped, or parquet streamed: two passes need no random access
        ds = open_rows(p, columns=_REQUIRED, streaming=True)
    except SourceError as err:
        raise ValueError(f"{err}, so it is not a graph dataset; {_GRAPH_INPUT}") from None
    return ds, str(p)


def _each_row(rows: Iterable) -> Iterator[Mapping[str, Any]]:
    """The rows of a ``Dataset`` read ``ROWS_PER_READ`` at a time (the rest stays in the Arrow file), of
    an ``IterableDataset`` as it streams them in batches of that size, or of any other iterable as they
    are."""
    if not isinstance(rows, (Dataset, IterableDataset)):
        yield from rows
        return
    for batch in rows.iter(batch_size=ROWS_PER_READ):
        cols = list(batch)
        yield from (dict(zip(cols, values, strict=True)) for values in zip(*batch.values(), strict=True))


def graph_input_rows(graphs: str | Path) -> Iterator[Mapping[str, Any]]:
    """The rows of a graph input as :func:`build_tasks` reads them (a ``galla build-graphs`` folder or
    parquet of its rows, streamed), one at a time."""
    rows, _ = _open_graphs(graphs)
    return _each_row(rows)


class _Tally:
    """What the manifest says about the records, counted as they stream past."""

    def __init__(self) -> None:
        self.records = 0
        self.counts: Counter = Counter()
        self.by_subtask: dict[str, Counter] = defaultdict(Counter)
        self.edge: Counter = Counter()

    def __call__(self, records: Iterable[dict]) -> Iterator[dict]:
        for r in records:
            self.records += 1
            self.counts[r["task"]] += 1
            if r["subtask"]:
                self.by_subtask[r["task"]][r["subtask"]] += 1
            if r["subtask"] == "edge_exists":
                self.edge["yes" if r["answer"].startswith("Yes") else "no"] += 1
            yield r


def write_task_dataset(records: Iterable[dict], directory: Path, batch_size: int = WRITE_BATCH) -> int:
    """Write records of :data:`TASK_FEATURES` to ``directory`` as a ``datasets.load_from_disk`` folder,
    ``batch_size`` records at a time, so memory stays flat however many there are; returns the count.

    The folder is what ``to_dataset(records).save_to_disk(directory)`` writes (one Arrow stream file and
    the ``datasets`` metadata), without ever holding the records or their table whole."""
    directory.mkdir(parents=True, exist_ok=True)
    schema = TASK_FEATURES.arrow_schema
    digest = hashlib.blake2b(digest_size=8)
    n = 0
    with pa.OSFile(str(directory / DATA_FILE), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
        chunk: list[dict] = []
        for rec in records:
            chunk.append(rec)
            if len(chunk) == batch_size:
                n += _write_batch(writer, chunk, schema, digest)
                chunk = []
        if chunk or not n:
            n += _write_batch(writer, chunk, schema, digest)
    write_dataset_metadata(directory, digest.hexdigest(), TASK_FEATURES.to_dict(), "galla task records")
    return n


def _write_batch(writer: pa.ipc.RecordBatchStreamWriter, chunk: list[dict], schema: pa.Schema, digest) -> int:
    batch = pa.RecordBatch.from_pylist(chunk, schema=schema)
    for column in batch.columns:  # the fingerprint: a hash of every buffer written
        for buf in column.buffers():
            if buf is not None:
                digest.update(buf)
    writer.write_batch(batch)
    return len(chunk)


def build_tasks(
    graph_dir_or_dataset: str | Path | Iterable[Mapping[str, Any]],
    out_dir: str | Path,
    *,
    tasks: Sequence[str] = ("graph2code", "graph_qa"),
    seed: int = 0,
    per_graph: int = 4,
    with_question: bool = False,
    subtasks: Sequence[str] = QA_SUBTASKS,
    max_nodes_in_answer: int = 16,
    max_source_chars: int = 4000,
    downstream: Sequence[str | Path] = (),
    batch_size: int = WRITE_BATCH,
) -> dict:
    """Build task records from a graph dataset and write them to ``out_dir`` atomically, streamed.

    Records are made row by row and written ``batch_size`` at a time (:func:`write_task_dataset`), so
    memory does not grow with the corpus; the output is the same records in the same order as
    ``to_dataset(graph2code_records(rows) + graph_qa_records(rows) + downstream)``.

    Args:
        graph_dir_or_dataset: a ``galla build-graphs`` output directory; its rows as parquet, a
            ``.parquet`` file or a folder of shards such as ``datatrove_steps.graph_pipeline`` writes
            (streamed record batch by record batch, once per task, with no copy:
            :func:`data_builders.sources.open_rows`); or rows (a ``datasets.Dataset`` or
            ``IterableDataset``, a list of rows or :class:`CodeGraph` objects).
        out_dir: a ``datasets.load_from_disk`` folder plus ``tasks_manifest.json``; an existing task
            directory is replaced, anything else there is refused.
        tasks: graph tasks to build, of ``graph2code`` and ``graph_qa``.
        downstream: .jsonl/.json files read with :func:`read_task_file` and appended.
        batch_size: records per written Arrow batch.
        Other arguments: see :func:`graph2code_records` and :func:`graph_qa_records`.

    Returns:
        The manifest: counts per task and subtask, skipped units by reason, seed and sources.
    """
    bad = [t for t in tasks if t not in ("graph2code", "graph_qa")]
    if bad:
        raise ValueError(
            f"unknown graph tasks {bad}; choose from graph2code, graph_qa (downstream files: downstream=)"
        )
    if per_graph < 1:
        raise ValueError(f"per_graph must be at least 1, got {per_graph}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"'{out}' is a file, not a folder; choose a folder for the task dataset")
    if out.exists() and any(out.iterdir()) and not (out / MANIFEST).exists():
        raise ValueError(
            f"'{out}' exists and is not a task dataset (no {MANIFEST}); refusing to overwrite it"
        )
    rows, source = _open_graphs(graph_dir_or_dataset)
    if not isinstance(rows, (Dataset, IterableDataset, Sequence)):
        rows = list(rows)  # read twice (graph2code, graph_qa)
    streamed = isinstance(rows, IterableDataset)
    units = 0 if streamed else len(rows)  # a stream's length is known once it has been read
    first = next((t for t in ("graph2code", "graph_qa") if t in tasks), None)  # the pass that counts
    skipped: Counter = Counter()
    files: list[dict] = []

    def graph_rows(counting: bool) -> Iterator[Mapping[str, Any]]:
        nonlocal units
        for row in _each_row(rows):
            if streamed and counting:
                units += 1
            yield row

    def records() -> Iterator[dict]:
        # one row at a time: a unit's records are written before the next unit's are made
        for row in graph_rows(first == "graph2code") if "graph2code" in tasks else ():
            yield from graph2code_records([row], with_question=with_question, seed=seed, skipped=skipped)
        for row in graph_rows(first == "graph_qa") if "graph_qa" in tasks else ():
            yield from graph_qa_records(
                [row], per_graph=per_graph, seed=seed, subtasks=subtasks,
                max_nodes_in_answer=max_nodes_in_answer, max_source_chars=max_source_chars, skipped=skipped,
            )  # fmt: skip
        if first is None and streamed:
            for _ in graph_rows(True):  # no graph task: the stream is read only to count its units
                pass
        for f in downstream:
            recs = read_task_file(f)
            files.append({"path": str(f), "records": len(recs)})
            yield from recs

    tally = _Tally()
    tmp = out.with_name(f".{out.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        write_task_dataset(tally(records()), tmp, batch_size)
        manifest = {
            "format": "galla-tasks-v1", "graphs": source, "graph_units": units, "records": tally.records,
            "counts": dict(sorted(tally.counts.items())),
            "subtask_counts": {t: dict(c) for t, c in tally.by_subtask.items()},
            "edge_exists_answers": dict(sorted(tally.edge.items())), "skipped": dict(sorted(skipped.items())),
            "downstream": files, "seed": seed, "tasks": list(tasks), "subtasks": list(subtasks),
            "per_graph": per_graph, "with_question": with_question,
            "max_nodes_in_answer": max_nodes_in_answer, "max_source_chars": max_source_chars,
        }  # fmt: skip
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        old = out.with_name(f".{out.name}.old-{uuid.uuid4().hex[:8]}")
        if out.exists():
            os.replace(out, old)
        try:
            os.replace(tmp, out)
        except OSError:
            if old.exists():
                os.replace(old, out)
            raise
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest
