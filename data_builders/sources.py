"""Where rows come from: one string names a local dataset in any of the forms ``datasets`` reads, or a
Hugging Face hub dataset, and :func:`open_rows` opens it without reading it into memory.

- a ``save_to_disk`` folder (``galla build-graphs`` and ``galla build-tasks`` outputs): memory-mapped;
- a ``.parquet`` file, or a folder of ``.parquet`` shards (searched recursively, in sorted order):
  converted once, batch by batch, into ``datasets``' Arrow cache and memory-mapped from there, so rows
  keep random access (seeded subsets, shuffled-graph controls) at any corpus size; or, with
  ``streaming=True``, streamed record batch by record batch, for a reader that needs no random access and
  should not pay the cache's disk (the uncompressed Arrow size, often several times the parquet's);
- a hub id (``owner/name``, optionally ``owner/name:split``) that is not a local path: streamed with
  ``datasets.load_dataset(..., streaming=True)``, an ``IterableDataset`` that reads as it is iterated.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from datasets import Dataset, IterableDataset

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(:[\w.-]+)?$")
"""``owner/name`` or ``owner/name:split``: a value that, when no such local path exists, is a hub id."""
PARQUET_BATCH = 256
"""Rows a parquet stream decodes at a time."""


class SourceError(ValueError):
    """A value that names no readable dataset; the message says what was tried."""


def parquet_files(p: Path) -> list[Path]:
    """The ``.parquet`` files a path names: itself, or the shards under a folder (sorted)."""
    if p.is_file():
        return [p] if p.suffix == ".parquet" else []
    return sorted(f for f in p.rglob("*.parquet") if f.is_file())


def open_rows(
    value: str | Path, split: str = "train", *, columns: Sequence[str] = (), streaming: bool = False
) -> Dataset | IterableDataset:
    """The rows ``value`` names (see the module docstring); raises :class:`SourceError` naming it.

    ``columns``: names a local dataset must have; for parquet they are checked on each file's footer,
    before any row is read (a hub stream's columns are not known until it is read). ``streaming``:
    local parquet as an ``IterableDataset`` instead of a memory-mapped copy."""
    p = Path(value)
    if p.exists():
        return _open_local(p, columns, streaming)
    text = str(value)
    if not HUB_ID.match(text) or text.endswith((".parquet", ".jsonl", ".json", ".arrow")):
        raise SourceError(f"'{text}' does not exist")
    return open_hub(text, split)


def _open_local(p: Path, columns: Sequence[str] = (), streaming: bool = False) -> Dataset | IterableDataset:
    from datasets import DatasetDict, load_from_disk

    if p.is_dir() and ((p / "state.json").exists() or (p / "dataset_dict.json").exists()):
        try:
            ds = load_from_disk(str(p))
        except (FileNotFoundError, ValueError) as err:
            raise SourceError(f"'{p}' is not a readable `save_to_disk` dataset: {err}") from None
        if isinstance(ds, DatasetDict):
            if "train" not in ds:
                raise SourceError(
                    f"'{p}' holds splits {sorted(ds)}; name one folder, e.g. '{p}/{next(iter(ds))}'"
                )
            ds = ds["train"]
        _check_columns(p, ds.column_names, columns)
        return ds
    files = parquet_files(p)
    if not files:
        raise SourceError(
            f"'{p}' is neither a `save_to_disk` dataset folder (no state.json) nor parquet "
            "(a .parquet file or a folder of .parquet shards)"
        )
    _check_footers(files, columns)
    try:
        if streaming:
            return _stream_parquet(files)
        return Dataset.from_parquet([str(f) for f in files])
    except Exception as err:  # pyarrow and datasets raise many kinds; name the file
        raise SourceError(f"'{p}': cannot read its parquet ({_one_line(err)})") from None


def _stream_parquet(files: list[Path]) -> IterableDataset:
    """Parquet as a stream: each file read record batch by record batch as the stream is iterated.

    Not ``load_dataset("parquet", streaming=True)``: its scanner decodes ahead of the reader in background
    threads: reading an 86 MB file (900 MB as Arrow) it held 0.6-1.4 GB, where this holds under 0.4 GB,
    about what it holds for a file six times smaller."""
    return IterableDataset.from_generator(_parquet_rows, gen_kwargs={"files": [str(f) for f in files]})


def _parquet_rows(files: list[str]) -> Iterator[dict]:
    import pyarrow.parquet as pq

    for f in files:
        with pq.ParquetFile(f) as parquet:
            for batch in parquet.iter_batches(batch_size=PARQUET_BATCH):
                yield from batch.to_pylist()


def _check_footers(files: list[Path], columns: Sequence[str]) -> None:
    """Read every file's schema (its footer, a few KB) first, so that a broken or foreign shard is named
    at once rather than after the shards before it were converted or streamed."""
    import pyarrow.parquet as pq

    for f in files:
        try:
            names = pq.read_schema(f).names
        except Exception as err:  # pyarrow raises several kinds for a file that is not parquet
            raise SourceError(f"'{f}': cannot read its parquet ({_one_line(err)})") from None
        _check_columns(f, names, columns)


def _check_columns(p: Path, names: Sequence[str], columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in names]
    if missing:
        raise SourceError(f"'{p}' lacks columns {missing}")


def open_hub(dataset_id: str, split: str = "train") -> IterableDataset:
    """A hub dataset, streamed; offline or unknown ids fail with one line naming the id."""
    from datasets import load_dataset

    name, _, given = dataset_id.partition(":")
    try:
        return load_dataset(name, split=given or split, streaming=True)
    except Exception as err:  # network, auth and missing-repo errors all end here
        raise SourceError(
            f"'{dataset_id}' is no local path, and as a Hugging Face hub dataset it could not be opened "
            f"({_one_line(err)})"
        ) from None


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    text = text if len(text) <= 300 else text[:299] + "…"
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
