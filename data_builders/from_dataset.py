"""Source files from a dataset's rows: ``galla build-graphs --from-dataset`` and ``datasets.map``.

A corpus at scale is rarely a directory: it is parquet or JSONL shards with one file per row (a
``content`` column, usually a ``path`` and a language column, as in The Stack). :func:`iter_dataset`
reads such a source (a parquet or JSONL file, a folder of them, a ``datasets.save_to_disk`` folder, or a
hub id streamed with ``datasets.load_dataset(..., streaming=True)``) in small batches and yields the
same ``SourceFile`` / ``Skipped`` records as the directory walk, through the walk's own name and content
checks, so ``data_builders.build`` runs one pipeline (workers, caps, cache, manifest) for both inputs.

:func:`graph_rows_from_batch` is the same extraction as a ``datasets.Dataset.map`` function (batched,
any ``num_proc``); ``data_builders.datatrove_steps`` wraps it as a datatrove pipeline step.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pathspec
import pyarrow as pa

from data_builders.content import Skipped, SourceFile, inspect_content
from data_builders.walk import _LanguagePicker, _suffix

__all__ = [
    "LANGUAGE_NAMES",
    "DatasetColumns",
    "DatasetError",
    "RowReader",
    "graph_rows_from_batch",
    "iter_dataset",
    "language_named",
    "open_dataset",
]

LANGUAGE_NAMES: Mapping[str, str] = {
    **{k: "python" for k in ("python", "py", "python3", "python 3", "python2")},
    **{k: "java" for k in ("java",)},
    **{k: "javascript" for k in ("javascript", "js", "jsx", "node", "nodejs", "ecmascript")},
    **{k: "typescript" for k in ("typescript", "ts")},
    **{k: "tsx" for k in ("tsx",)},
    **{k: "go" for k in ("go", "golang")},
    **{k: "rust" for k in ("rust", "rs")},
    **{k: "c" for k in ("c", "ansi c")},
    **{k: "cpp" for k in ("cpp", "c++", "cxx", "cc", "c plus plus", "cplusplus", "cuda")},
}
"""Language-column spellings (lower-cased, trimmed) -> galla language name (``parsers.languages``)."""

PARQUET_SUFFIXES = (".parquet",)
JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson", ".jsonl.gz", ".json.gz", ".ndjson.gz")
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")
BATCH_ROWS = 64
"""Rows read at a time (a parquet batch): small, so memory stays flat whatever the source's size."""


class DatasetError(ValueError):
    """A dataset source cannot be read as asked; the message names it and says what to do."""


def language_named(value: object) -> str | None:
    """The galla language a language-column value names ("Python", "C++", "js"), or None."""
    if not isinstance(value, str):
        return None
    return LANGUAGE_NAMES.get(value.strip().lower())


@dataclass(frozen=True)
class DatasetColumns:
    """Which columns hold what; ``path`` may join several (``repo_name,path`` -> "repo/dir/f.py")."""

    content: str = "content"
    path: str = ""
    """Comma-separated column(s) joined with "/" into the file's relpath; "" = ``path`` if the source
    has it, else rows are named ``row-<index>`` (then the language must come from ``language``)."""
    language: str = ""
    """Column naming each row's language; "" or an empty value: the path's extension decides."""

    def path_columns(self) -> list[str]:
        return [c.strip() for c in self.path.split(",") if c.strip()]


# --- row -> file -------------------------------------------------------------------------------


class RowNamer:
    """Turns (index, content, path parts, language value) into a ``SourceFile`` or ``Skipped`` with
    the walk's checks and language rules (overrides, then extensions), shared by every reader."""

    def __init__(
        self,
        extensions: Mapping[str, str],
        language_overrides: Mapping[str, str] | None = None,
        max_file_bytes: int = 1_000_000,
        include_generated: bool = False,
        exclude: Sequence[str] = (),
    ) -> None:
        self.picker = _LanguagePicker(extensions, language_overrides or {})
        self.max_file_bytes = max_file_bytes
        self.include_generated = include_generated
        self.excluded = pathspec.GitIgnoreSpec.from_lines(exclude) if exclude else None

    def file(
        self, index: int, content: object, path: object, language: object, where: str
    ) -> SourceFile | Skipped | None:
        """One row; None when ``--exclude`` leaves it out (silently, as the walk does)."""
        relpath = path if isinstance(path, str) and path else f"row-{index}"
        if self.excluded is not None and self.excluded.match_file(relpath):
            return None
        if isinstance(content, str):
            data = content.encode("utf-8", "surrogatepass")  # lone surrogates: replaced and counted later
        elif isinstance(content, bytes | bytearray | memoryview):
            data = bytes(content)
        else:
            return Skipped(
                relpath,
                "unreadable",
                f"'{relpath}' (row {index} of {where}) has no text in its content column "
                f"({type(content).__name__}); fill it or drop the row",
            )
        lang = language_named(language)
        if lang is None and isinstance(language, str) and language.strip():
            return Skipped(
                relpath,
                "unknown-language",
                f"'{relpath}' (row {index} of {where}) is in {language.strip()!r}, which galla does not "
                f"parse; supported: {', '.join(sorted(set(LANGUAGE_NAMES.values())))}",
            )
        if lang is None:
            lang = self.picker.pick(relpath, relpath)
        if lang is None:
            return Skipped(
                relpath,
                "unknown-language",
                f"'{relpath}' (row {index} of {where}) has no known language; map "
                f"'{_suffix(relpath) or relpath}' to one with --language, or pass --language-column",
            )
        return inspect_content(
            relpath, lang, data, max_file_bytes=self.max_file_bytes, include_generated=self.include_generated
        )


def _join_path(parts: Sequence[object]) -> str | None:
    names = [str(p).strip("/") for p in parts if p is not None and str(p)]
    return "/".join(names) if names else None


# --- readers -----------------------------------------------------------------------------------


class RowReader:
    """An opened source: ``batches()`` yields (first row index, contents, paths, languages, where)."""

    def __init__(self, source: str, columns: DatasetColumns) -> None:
        self.source = source
        self.columns = columns
        self.path_columns: list[str] = []
        self.kind = ""
        self.flags = ("--content-column", "--path-column", "--language-column")
        """How the user names the columns, for messages (flags here, keywords for the map function)."""

    def wanted(self, names: Iterable[str], where: str) -> list[str]:
        """The columns to read from a part whose columns are ``names``; DatasetError if one is missing."""
        have = set(names)
        cols = self.columns
        missing = [c for c in (cols.content, *cols.path_columns(), cols.language) if c and c not in have]
        if missing:
            shown = ", ".join(sorted(have)) or "none"
            raise DatasetError(
                f"{where} has no column {missing[0]!r} (its columns: {shown}); "
                f"name the right one with {' / '.join(self.flags)}"
            )
        self.path_columns = cols.path_columns() or (["path"] if "path" in have else [])
        if not self.path_columns and not cols.language:
            _, path_flag, lang_flag = self.flags
            raise DatasetError(
                f"{where} has no 'path' column and no {lang_flag}, so no row's "
                f"language can be known; pass {path_flag} or {lang_flag}"
            )
        return [cols.content, *self.path_columns, *([cols.language] if cols.language else [])]

    def split_batch(self, batch: Mapping[str, Sequence[Any]], n: int) -> tuple[list, list, list]:
        contents = list(batch[self.columns.content])
        if self.path_columns:
            parts = [batch[c] for c in self.path_columns]
            paths = [_join_path(row) for row in zip(*parts, strict=True)]
        else:
            paths = [None] * n
        langs = list(batch[self.columns.language]) if self.columns.language else [None] * n
        return contents, paths, langs

    def batches(self) -> Iterator[tuple[int, list, list, list, str]]:
        raise NotImplementedError


class _FilesReader(RowReader):
    """Parquet and JSONL files, read one after another in sorted order, a batch at a time."""

    def __init__(self, source: str, columns: DatasetColumns, files: list[Path]) -> None:
        super().__init__(source, columns)
        self.files = files
        self.kind = "parquet/jsonl"
        self._first = self._open(files[0])  # checks the columns now, before anything is built

    def _open(self, f: Path) -> Iterator[tuple[int, list, list, list]]:
        if f.name.lower().endswith(PARQUET_SUFFIXES):
            return self._parquet(f)
        return self._jsonl(f)

    def _parquet(self, f: Path) -> Iterator[tuple[int, list, list, list]]:
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(f)
            names = pf.schema_arrow.names
        except (OSError, pa.ArrowException) as err:
            raise DatasetError(
                f"--from-dataset '{f}' could not be read as parquet ({err}); check the file "
                "or leave it out of the folder"
            ) from None
        cols = self.wanted(names, f"--from-dataset '{f}'")
        return self._parquet_rows(f, pf, cols)

    def _parquet_rows(self, f: Path, pf: Any, cols: list[str]) -> Iterator[tuple[int, list, list, list]]:
        i = 0
        try:
            for rb in pf.iter_batches(batch_size=BATCH_ROWS, columns=cols):
                batch = {name: rb.column(name).to_pylist() for name in set(cols)}
                yield (i, *self.split_batch(batch, rb.num_rows))
                i += rb.num_rows
        except (OSError, pa.ArrowException) as err:
            raise DatasetError(
                f"--from-dataset '{f}' could not be read past row {i} ({err}); check the file "
                "(rows built so far are cached, a rerun resumes)"
            ) from None

    def _jsonl(self, f: Path) -> Iterator[tuple[int, list, list, list]]:
        """Check the first row's keys now; the rows are read (the file opened again) when iterated."""
        try:
            with _open_text(f) as handle:
                line_no, head = 1, handle.readline()
                while head and not head.strip():
                    line_no, head = line_no + 1, handle.readline()
        except (OSError, UnicodeDecodeError, EOFError) as err:
            raise DatasetError(f"--from-dataset '{f}' could not be read ({err}); check the file") from None
        if head:
            self.wanted(self._json_row(f, line_no, head), f"--from-dataset '{f}'")
        return self._jsonl_rows(f) if head else iter(())

    def _json_row(self, f: Path, line_no: int, line: str) -> dict:
        try:
            row = json.loads(line)
        except ValueError as err:
            raise DatasetError(
                f"--from-dataset '{f}' line {line_no} is not JSON ({err}); JSONL sources hold one "
                "JSON object per line"
            ) from None
        if not isinstance(row, dict):
            raise DatasetError(
                f"--from-dataset '{f}' line {line_no} is a JSON {type(row).__name__}, not an object; "
                "JSONL sources hold one JSON object per line"
            )
        return row

    def _jsonl_rows(self, f: Path) -> Iterator[tuple[int, list, list, list]]:
        lang = self.columns.language
        keys = [self.columns.content, *self.path_columns, *([lang] if lang else [])]
        rows: list[dict] = []
        i = line_no = 0
        with _open_text(f) as handle:
            while True:
                try:
                    line = handle.readline()
                except (OSError, UnicodeDecodeError, EOFError) as err:
                    raise DatasetError(
                        f"--from-dataset '{f}' could not be read past line {line_no} ({err}); check the file"
                    ) from None
                line_no += 1
                if line.strip():
                    rows.append(self._json_row(f, line_no, line))
                if rows and (len(rows) == BATCH_ROWS or not line):
                    yield (i, *self.split_batch({k: [r.get(k) for r in rows] for k in keys}, len(rows)))
                    i += len(rows)
                    rows = []
                if not line:
                    return

    def batches(self) -> Iterator[tuple[int, list, list, list, str]]:
        base = 0
        for n, f in enumerate(self.files):
            rows = self._first if n == 0 else self._open(f)
            last = 0
            for start, contents, paths, langs in rows:
                yield base + start, contents, paths, langs, str(f)
                last = start + len(contents)
            base += last


class _DatasetsReader(RowReader):
    """A ``datasets`` dataset: a ``save_to_disk`` folder (memory-mapped) or a streamed hub dataset."""

    def __init__(self, source: str, columns: DatasetColumns, ds: Any, kind: str) -> None:
        super().__init__(source, columns)
        self.kind = kind
        self.ds = ds
        names = ds.column_names
        if names is None:  # a stream that does not know its features: look at its first row
            try:
                names = list(next(iter(ds)).keys())
            except StopIteration:
                names = []
            except Exception as err:
                raise _hub_error(source, err) from None
        self._cols = self.wanted(names, f"--from-dataset '{source}'")

    def batches(self) -> Iterator[tuple[int, list, list, list, str]]:
        i = 0
        try:
            for batch in self.ds.select_columns(self._cols).iter(batch_size=BATCH_ROWS):
                n = len(batch[self.columns.content])
                yield (i, *self.split_batch(batch, n), self.source)
                i += n
        except DatasetError:
            raise
        except Exception as err:  # a stream dropped half-way, a damaged arrow file
            raise DatasetError(
                f"--from-dataset '{self.source}' failed after row {i} ({_first_line(err)}); rerun "
                "(rows built so far are cached)"
            ) from None


def _open_text(f: Path) -> IO[str]:
    if f.name.lower().endswith(".gz"):
        return gzip.open(f, "rt", encoding="utf-8")
    return f.open(encoding="utf-8")


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__


def _hub_error(source: str, err: BaseException) -> DatasetError:
    return DatasetError(
        f"--from-dataset '{source}' is not a local file or folder, and the Hugging Face hub could not "
        f"stream it ({_first_line(err)}); check the id and the network, or pass a local parquet/JSONL "
        "file or save_to_disk folder"
    )


def _data_files(folder: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if name.lower().endswith(PARQUET_SUFFIXES + JSONL_SUFFIXES) and not name.startswith("."):
                found.append(Path(dirpath) / name)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def open_dataset(source: str, columns: DatasetColumns, split: str = "") -> RowReader:
    """Open ``source`` and check its columns (before anything is built); raises :class:`DatasetError`."""
    if not columns.content:
        raise DatasetError("--content-column must name a column")
    p = Path(source)
    if p.is_file():
        if not p.name.lower().endswith(PARQUET_SUFFIXES + JSONL_SUFFIXES):
            raise DatasetError(
                f"--from-dataset '{source}' is neither parquet nor JSONL (by its name); pass a .parquet, "
                ".jsonl or .jsonl.gz file, a folder of them, a save_to_disk folder or a hub dataset id"
            )
        return _FilesReader(source, columns, [p])
    if p.is_dir():
        if (p / "dataset_dict.json").is_file() or (p / "state.json").is_file():
            return _DatasetsReader(source, columns, _load_from_disk(p, split), "save_to_disk")
        files = _data_files(p)
        if not files:
            raise DatasetError(
                f"--from-dataset '{source}' is a folder with no parquet or JSONL files and no "
                "save_to_disk dataset; pass the folder that holds them"
            )
        return _FilesReader(source, columns, files)
    if (
        source.startswith((".", "/", "~"))
        or not _HUB_ID.fullmatch(source)
        or p.suffix
        in (
            *PARQUET_SUFFIXES,
            ".jsonl",
            ".json",
            ".gz",
        )
    ):
        raise DatasetError(
            f"--from-dataset '{source}' does not exist; pass a parquet/JSONL file or folder, a "
            "save_to_disk folder, or a hub dataset id (owner/name)"
        )
    return _DatasetsReader(source, columns, _stream_from_hub(source, split), "hub")


def _load_from_disk(p: Path, split: str) -> Any:
    from datasets import DatasetDict, load_from_disk

    try:
        ds = load_from_disk(str(p))
    except Exception as err:
        raise DatasetError(
            f"--from-dataset '{p}' could not be opened as a save_to_disk dataset ({_first_line(err)})"
        ) from None
    if isinstance(ds, DatasetDict):
        names = sorted(ds)
        if split in ds:
            return ds[split]
        if not split and len(names) == 1:
            return ds[names[0]]
        asked = f"has no split {split!r}" if split else "holds several splits"
        raise DatasetError(f"--from-dataset '{p}' {asked} ({', '.join(names)}); choose one with --split")
    return ds


def _stream_from_hub(source: str, split: str) -> Any:
    """``datasets.load_dataset(source, streaming=True)``: rows arrive as they are read, nothing is
    downloaded whole."""
    from datasets import load_dataset

    try:
        return load_dataset(source, split=split or "train", streaming=True)
    except Exception as err:  # offline, unknown id, gated, no such split: all one line for the user
        raise _hub_error(source, err) from None


def iter_dataset(
    source: str,
    columns: DatasetColumns,
    *,
    extensions: Mapping[str, str],
    language_overrides: Mapping[str, str] | None = None,
    max_file_bytes: int = 1_000_000,
    include_generated: bool = False,
    exclude: Sequence[str] = (),
    split: str = "",
) -> Iterator[SourceFile | Skipped]:
    """Yield a ``SourceFile`` (holding its content) or ``Skipped`` per row of ``source``, in row order.

    The source is opened and its columns checked when this is called; raises :class:`DatasetError`
    then, or while iterating when a later file of a folder turns out to be unreadable.
    """
    reader = open_dataset(source, columns, split)
    namer = RowNamer(extensions, language_overrides, max_file_bytes, include_generated, exclude)

    def rows() -> Iterator[SourceFile | Skipped]:
        for start, contents, paths, langs, where in reader.batches():
            for k, (content, path, lang) in enumerate(zip(contents, paths, langs, strict=True)):
                record = namer.file(start + k, content, path, lang, where)
                if record is not None:
                    yield record

    return rows()


# --- datasets.map ------------------------------------------------------------------------------


def graph_rows_from_batch(
    batch: Mapping[str, Sequence[Any]] | pa.Table,
    indices: Sequence[int] | None = None,
    *,
    content_column: str = "content",
    path_column: str = "",
    language_column: str = "",
    unit: str = "function",
    edges: str = "all",
    max_file_bytes: int = 1_000_000,
    max_nodes: int | None = None,
    max_edges: int | None = None,
    skip_errors: bool = False,
    include_generated: bool = False,
    languages: Mapping[str, str] | None = None,
) -> pa.Table:
    """Source rows -> graph rows (the schema ``galla build-graphs`` writes), as a batched
    ``datasets.Dataset.map`` function::

        ds.map(graph_rows_from_batch, batched=True, num_proc=4, remove_columns=ds.column_names,
               fn_kwargs={"content_column": "content", "path_column": "path"})

    Rows build-graphs would skip or fail on give no graph rows (``build-graphs --from-dataset`` counts
    them in its manifest). Pass ``with_indices=True`` when the rows have no path, so that they are
    named ``row-<index>`` as build-graphs names them.
    """
    from data_builders.build import BuildOptions, FileOutcome, extract_into
    from data_builders.formats import SCHEMA
    from parsers.languages import extension_map

    opts = BuildOptions.for_rows(
        "datasets.map",
        unit=unit,
        edges=edges,
        max_file_bytes=max_file_bytes,
        max_nodes=max_nodes or None,  # 0 or None: the default caps, as before
        max_edges=max_edges or None,
        skip_errors=skip_errors,
        include_generated=include_generated,
        languages=dict(languages or {}),
    )
    if isinstance(batch, pa.Table):
        batch = batch.to_pydict()
    reader = RowReader("datasets.map", DatasetColumns(content_column, path_column, language_column))
    reader.flags = ("content_column=", "path_column=", "language_column=")
    reader.wanted(batch.keys(), "graph_rows_from_batch: the batch")
    n = len(batch[content_column])
    contents, paths, langs = reader.split_batch(batch, n)
    namer = RowNamer(extension_map(), opts.languages, max_file_bytes, include_generated)
    parts = []
    for k, (content, path, lang) in enumerate(zip(contents, paths, langs, strict=True)):
        index = indices[k] if indices is not None else k
        sf = namer.file(index, content, path, lang, "the mapped dataset")
        if not isinstance(sf, SourceFile) or sf.data is None:
            continue
        got = extract_into(FileOutcome(sf.relpath, sf.language, sf.size), sf.data, opts)
        if got is not None and got.num_rows:
            parts.append(got)
    return pa.Table.from_batches(parts, schema=SCHEMA)
