"""``galla build-graphs``: repositories -> a code-graph dataset on disk.

Pipeline: walk the roots (:mod:`data_builders.walk`), keep this shard's files, extract every file in a
process pool (:func:`_ordered_pool` keeps input order, so output order is deterministic), stream the
record batches into one Arrow file in the ``datasets`` layout, then write ``manifest.json``.

Each file's batch is cached under ``OUT/.cache/<options>/`` keyed by its path and content hash; a
rerun after an edit only parses changed files, and a run killed half-way resumes from the cache and
produces byte-identical output. Workers append batches to their own pack file in the cache (or, with
``--no-cache``, to a spool file) and the main process copies those bytes into the dataset, which is
written to a temporary directory and moved into place only when complete.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import hashlib
import json
import multiprocessing as mp
import multiprocessing.connection as mpc
import os
import re
import secrets
import shutil
import signal
import sqlite3
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa

from data_builders.formats import (
    DATA_FILE,
    KIND_VOCAB,
    DatasetWriter,
    file_batch,
    holds_batch,
    serialize_batch,
    write_galla_jsonl,
)
from data_builders.lock import LOCK_NAME, FolderBusy, acquire, release
from data_builders.outputs import output_problem
from data_builders.walk import Skipped, SourceFile, WalkError, iter_repository, shard_of
from parsers.extract import DEFAULT_MAX_EDGES, DEFAULT_MAX_NODES, UNITS, Unit, extract_file
from parsers.graph import EdgeType, parse_edge_types
from parsers.languages import LANGUAGES, extension_map

EXTRACTOR_VERSION = "3"
"""Bump when the graphs the engine emits change; it is part of every cache key and of the manifest."""
MANIFEST = "manifest.json"
Format = Literal["arrow", "galla-jsonl"]


class BuildError(ValueError):
    """Bad input to a build (path, option); the message says what to do."""


@dataclass
class BuildOptions:
    """Options of ``galla build-graphs``; every field maps to a command-line flag."""

    paths: list[str]
    """Repository directories and/or source files (none with ``from_dataset``)."""
    out: Path
    """Output directory (created; an existing dataset there is replaced when the build completes)."""
    unit: Unit = "function"
    """What one graph covers: ``function`` (every function and method), ``class`` or ``file``."""
    edges: str = "all"
    """Edge kinds: ``all``, or groups/names such as ``ast,cfg,LAST_WRITE``."""
    workers: int = 0
    """Processes; 0 = all cores."""
    num_shards: int = 1
    shard_index: int = 0
    format: Format = "arrow"
    """``arrow``: a ``datasets`` dataset; ``galla-jsonl``: official GALLa records (``graphs.jsonl``) too."""
    node_text: bool = False
    """galla-jsonl: add each node's source text (``text``), as the official sample data has."""
    languages: dict[str, str] = field(default_factory=dict)
    """Overrides: glob or extension -> language, e.g. ``{"*.h": "cpp"}``."""
    exclude: list[str] = field(default_factory=list)
    """Extra gitignore-style patterns to leave out, e.g. ``test/``."""
    max_file_bytes: int = 1_000_000
    max_nodes: int = DEFAULT_MAX_NODES
    max_edges: int = DEFAULT_MAX_EDGES
    skip_errors: bool = False
    """Drop units with syntax errors instead of keeping them flagged ``has_error``."""
    respect_gitignore: bool = True
    include_vendored: bool = False
    include_generated: bool = False
    """Keep files marked as generated (``*_pb2.py``, ``DO NOT EDIT`` headers) instead of skipping them."""
    cache: bool = True
    from_dataset: str = ""
    """Read files from a dataset's rows instead of ``paths``: a parquet or JSONL file or folder, a
    ``datasets.save_to_disk`` folder, or a hub dataset id (streamed); see
    :mod:`data_builders.from_dataset`."""
    content_column: str = "content"
    path_column: str = ""
    """Column(s), comma-separated and joined with "/", giving each row's relpath; "" = ``path`` if present."""
    language_column: str = ""
    """Column naming each row's language ("Python", "C++", ...); else the path's extension decides."""
    split: str = ""
    """Split of a hub dataset (default ``train``) or of a saved ``DatasetDict`` (default: its only one)."""

    def validate(self) -> None:
        if self.unit not in UNITS:
            raise BuildError(f"--unit {self.unit!r} is not one of {', '.join(UNITS)}")
        if self.num_shards < 1 or not 0 <= self.shard_index < self.num_shards:
            raise BuildError(
                f"--shard-index {self.shard_index} must be in 0..{self.num_shards - 1} "
                f"(--num-shards {self.num_shards})"
            )
        if self.format not in ("arrow", "galla-jsonl"):
            raise BuildError(f"--format {self.format!r} is not one of arrow, galla-jsonl")
        for name in ("max_file_bytes", "max_nodes", "max_edges"):
            if getattr(self, name) < 1:
                raise BuildError(f"--{name.replace('_', '-')} must be positive")
        for pattern, lang in self.languages.items():
            if lang not in LANGUAGES:
                choices = ", ".join(sorted(LANGUAGES))
                raise BuildError(f"--language {pattern}={lang}: unknown language; choose from {choices}")
        try:
            parse_edge_types(self.edges)
        except ValueError as err:
            raise BuildError(str(err)) from None
        if self.from_dataset and self.paths:
            raise BuildError(
                "--from-dataset reads files from a dataset's rows: pass it or repository paths, not both"
            )
        if not self.paths and not self.from_dataset:
            raise BuildError(
                "no input path given; pass one or more repository directories or files, or --from-dataset"
            )
        if self.from_dataset and not self.content_column:
            raise BuildError("--content-column must name the column that holds each file's text")

    def signature(self) -> str:
        """What a cached file result depends on besides the file itself."""
        keys = {
            "extractor": EXTRACTOR_VERSION,
            "cache_format": CACHE_DB,
            "unit": self.unit,
            "edges": sorted(t.name for t in parse_edge_types(self.edges)),
            "max_nodes": self.max_nodes,
            "max_edges": self.max_edges,
            "skip_errors": self.skip_errors,
            "grammars": grammar_versions(),
        }
        return hashlib.blake2b(json.dumps(keys, sort_keys=True).encode(), digest_size=8).hexdigest()


@dataclass
class FileOutcome:
    """What happened to one file (sent back from a worker)."""

    relpath: str
    language: str
    size: int
    batch_file: str = ""
    """Where the file's record batch (an IPC stream ``batch_bytes`` long) waits for the main process:
    a cache pack file or the worker's spool file, at ``batch_offset``; so 70 MB of graphs never travel
    through pipes."""
    batch_offset: int = 0
    batch_bytes: int = 0
    units: int = 0
    nodes: int = 0
    edges: int = 0
    edge_counts: dict[int, int] = field(default_factory=dict)
    has_error: bool = False
    error_units: int = 0
    skipped_error_units: int = 0
    truncated_units: int = 0
    replaced_invalid_utf8: bool = False
    cached: bool = False
    failure: str = ""
    """Set when reading or extracting failed; the file contributes no units."""


@dataclass
class BuildReport:
    """Returned by :func:`build_graphs`; also what ``manifest.json`` records."""

    out: Path
    files: int = 0
    units: int = 0
    nodes: int = 0
    edges: int = 0
    seconds: float = 0.0
    cached_files: int = 0
    manifest: dict = field(default_factory=dict)


def grammar_versions() -> dict[str, str]:
    out = {"tree-sitter": _version("tree-sitter")}
    for name in ("python", "java", "javascript", "typescript", "go", "rust", "c", "cpp"):
        out[f"tree-sitter-{name}"] = _version(f"tree-sitter-{name}")
    return out


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


# --- workers ----------------------------------------------------------------------------------

_OPTS: BuildOptions | None = None
_CACHE: Path | None = None
_SPOOL: Path | None = None


def _init_worker(opts: BuildOptions, cache: Path | None, spool: Path | None = None) -> None:
    global _OPTS, _CACHE, _SPOOL
    _OPTS, _CACHE, _SPOOL = opts, cache, spool


@cache
def _edge_types(edges: str) -> frozenset[EdgeType]:
    return frozenset(parse_edge_types(edges))


def _cache_key(relpath: str, data: bytes) -> str:
    h = hashlib.blake2b(data, digest_size=16)
    h.update(b"\0" + relpath.encode())
    return h.hexdigest()


# The cache of one option set is an index and pack files. Each worker appends batches to a pack file
# of its own (`packs/<pid>-<token>.pack`), then records key -> (the file's outcome as JSON, pack, offset,
# length) in one SQLite database (a file per entry cost 15% of a build in inode creation on ext4 here,
# and batches as SQLite blobs 10%: written to the WAL, then again at each checkpoint). Each process has
# its own connection; WAL mode lets the workers write while the main process reads, and a row is
# committed only after its bytes are written, so a killed build leaves only complete entries. Rows are
# committed a few dozen at a time (a transaction per file was 5% of a build): a kill loses at most each
# worker's last 32 uncommitted rows, whose files the next run builds again.
CACHE_DB = "cache-v2.sqlite"
PACKS = "packs"
_DB: tuple[int, Path, sqlite3.Connection] | None = None
_PENDING: list[tuple[str, str, str, int, int]] = []
"""Cache rows of this process not yet committed (see :func:`_flush_entries`)."""
_PENDING_SINCE = [0.0]
_FLUSH_ROWS = 32
_FLUSH_SECONDS = 1.0


def _db(cache: Path) -> sqlite3.Connection:
    """This process's connection to the cache in ``cache`` (a damaged database is started afresh)."""
    global _DB
    if _DB is not None and _DB[:2] == (os.getpid(), cache):
        return _DB[2]
    _close_db()
    (cache / PACKS).mkdir(parents=True, exist_ok=True)
    path = cache / CACHE_DB
    for attempt in range(2):
        try:
            con = sqlite3.connect(path, timeout=120, isolation_level=None, check_same_thread=False)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            con.execute(
                "CREATE TABLE IF NOT EXISTS entries "
                "(key TEXT PRIMARY KEY, meta TEXT, pack TEXT, offset INTEGER, length INTEGER)"
            )
            break
        except sqlite3.DatabaseError:
            if attempt:
                raise
            _remove_db(path)
    _DB = (os.getpid(), cache, con)
    return con


def _check_cache(cache: Path) -> None:
    """Start the cache afresh when its database is damaged (run once, before any worker opens it)."""
    path = cache / CACHE_DB
    try:
        ok = _db(cache).execute("PRAGMA quick_check").fetchone()[0] == "ok"
    except sqlite3.DatabaseError:
        ok = False
    _close_db()
    if not ok:
        _remove_db(path)


def _remove_db(path: Path) -> None:
    """Delete the cache database at ``path`` and the pack files it indexes."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(path.parent / PACKS, ignore_errors=True)


def _close_db() -> None:
    global _DB
    if _DB is not None and _DB[0] == os.getpid():
        _flush_entries()
        _DB[2].close()
    _DB = None
    _PENDING.clear()


def _flush_entries() -> None:
    """Commit this process's pending cache rows in one transaction; if the database refuses them (a
    full disk, say), their files go uncached and the build goes on."""
    if not _PENDING or _DB is None or _DB[0] != os.getpid():
        return
    con = _DB[2]
    try:
        with con:  # a transaction (the connection is in autocommit mode otherwise)
            con.execute("BEGIN")
            con.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?)", _PENDING)
    except sqlite3.Error:
        pass
    _PENDING.clear()


_META_FIELDS = tuple(
    f.name
    for f in fields(FileOutcome)
    if f.name not in ("batch_file", "batch_offset", "relpath", "language", "size", "cached")
)
"""FileOutcome fields a cache entry records (not where the batch is, nor what the walk already knows)."""


def _write_entry(cache: Path, key: str, out: FileOutcome, stream: Sequence[bytes | pa.Buffer]) -> None:
    pack, offset = _append_to(_PACKS, cache / PACKS, stream)
    meta = json.dumps({k: getattr(out, k) for k in _META_FIELDS})
    _db(cache)
    now = time.monotonic()
    if not _PENDING:
        _PENDING_SINCE[0] = now
    _PENDING.append((key, meta, pack.name, offset, out.batch_bytes))
    out.batch_file, out.batch_offset = str(pack), offset
    if len(_PENDING) >= _FLUSH_ROWS or now - _PENDING_SINCE[0] > _FLUSH_SECONDS:
        _flush_entries()


def _read_entry(cache: Path, key: str, out: FileOutcome) -> bool:
    """Fill ``out`` from the cache entry ``key``; False when it is missing or damaged."""
    try:
        row = (
            _db(cache)
            .execute("SELECT meta, pack, offset, length FROM entries WHERE key = ?", (key,))
            .fetchone()
        )
        meta = json.loads(row[0]) if row is not None else None
    except (sqlite3.DatabaseError, ValueError, TypeError):
        return False
    if not isinstance(meta, dict) or meta.get("batch_bytes") != row[3] or not isinstance(row[1], str):
        return False
    pack = cache / PACKS / Path(row[1]).name
    if not _holds_batch(pack, row[2], row[3]):
        return False
    for k, v in meta.items():
        setattr(out, k, v)
    out.edge_counts = {int(k): v for k, v in out.edge_counts.items()}
    out.batch_file, out.batch_offset, out.cached = str(pack), row[2], True
    return True


def _holds_batch(path: Path, offset: object, length: object) -> bool:
    """Whether a cache entry's (offset, length) in pack ``path`` hold a batch (an empty one trivially)."""
    if not isinstance(offset, int) or not isinstance(length, int) or offset < 0 or length < 0:
        return False
    if length == 0:
        return True
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        return holds_batch(fd, offset, length)
    except OSError:
        return False
    finally:
        os.close(fd)


class _AppendFile:
    """One append-only file of this process (a cache pack or a spool file), opened on first use."""

    def __init__(self, suffix: str) -> None:
        self.suffix = suffix
        self.state: tuple[int, Path, int, Path] | None = None
        """(pid, directory, fd, path)."""

    def close(self) -> None:
        if self.state is not None and self.state[0] == os.getpid():
            os.close(self.state[2])
        self.state = None


_PACKS = _AppendFile(".pack")
_SPOOLS = _AppendFile(".spool")


def _append_to(target: _AppendFile, directory: Path, stream: Sequence[bytes | pa.Buffer]) -> tuple[Path, int]:
    """Append the parts of ``stream`` to this process's file of ``target`` in ``directory``; returns
    (path, offset)."""
    pid = os.getpid()
    if target.state is None or target.state[:2] != (pid, directory):
        target.close()
        path = directory / f"{pid}-{secrets.token_hex(4)}{target.suffix}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        target.state = (pid, directory, fd, path)
    fd, path = target.state[2], target.state[3]
    offset = os.lseek(fd, 0, os.SEEK_END)
    for part in stream:
        view = memoryview(part)
        while view:
            view = view[os.write(fd, view) :]
    return path, offset


def process_file(sf: SourceFile) -> FileOutcome:
    """Read, extract and serialise one file (runs in a worker process)."""
    opts, cache, spool = _OPTS, _CACHE, _SPOOL
    assert opts is not None and spool is not None
    out = FileOutcome(sf.relpath, sf.language, sf.size)
    if sf.data is not None:
        data = sf.data
    else:
        assert sf.path is not None
        try:
            data = sf.path.read_bytes()
        except OSError as err:
            out.failure = f"unreadable: {err.strerror or err}"
            return out
    key = _cache_key(sf.relpath, data) if cache is not None else ""
    if cache is not None and _read_entry(cache, key, out):
        return out  # (a damaged entry is rebuilt)
    batch = extract_into(out, data, opts)
    if batch is None:
        return out
    stream = serialize_batch(batch)
    out.batch_bytes = sum(len(p) for p in stream)
    if cache is not None:
        try:
            _write_entry(cache, key, out, stream)
            return out
        except (sqlite3.Error, OSError):  # e.g. a full disk: this file goes uncached, the build goes on
            pass
    path, out.batch_offset = _append_to(_SPOOLS, spool, stream)
    out.batch_file = str(path)
    return out


def extract_into(out: FileOutcome, data: bytes, opts: BuildOptions) -> pa.RecordBatch | None:
    """Extract the units of ``data`` (the file ``out`` describes) as a batch of the row schema and
    count them into ``out``; None, with ``out.failure`` set, when the engine fails. Every input path
    runs this (the build's workers, ``datasets.map``, the datatrove step), so all give the same rows."""
    try:
        fg = extract_file(
            data,
            out.language,
            unit=opts.unit,
            path=out.relpath,
            edges=_edge_types(opts.edges),
            max_nodes=opts.max_nodes,
            max_edges=opts.max_edges,
        )
    except Exception as err:  # an engine bug must not lose the rest of the corpus
        tb = traceback.format_exception_only(type(err), err)[-1].strip()
        out.failure = f"extractor error: {tb}"
        return None
    keep = None
    errors = np.asarray(fg.unit_has_error, dtype=bool)
    if opts.skip_errors and errors.any():
        keep = ~errors
        out.skipped_error_units = int(errors.sum())
    batch = file_batch(fg, out.relpath, keep)
    # counted on the numpy columns (``to_numpy`` on Arrow would import pandas in every worker)
    units = np.arange(len(fg)) if keep is None else np.flatnonzero(keep)
    out.units = batch.num_rows
    if len(units):
        no, eo = fg.node_offsets, fg.edge_offsets
        out.nodes = int(np.sum(no[units + 1] - no[units]))
        out.edges = int(np.sum(eo[units + 1] - eo[units]))
    if out.edges:
        types = fg.columns["edge_type"]
        if keep is not None:
            types = np.concatenate([types[eo[u] : eo[u + 1]] for u in units])
        counts = np.bincount(types.astype(np.int64))
        out.edge_counts = {int(t): int(c) for t, c in enumerate(counts) if c}
    out.has_error = fg.has_error
    out.error_units = int(errors.sum())
    out.truncated_units = sum(
        1 for a, b in zip(fg.truncated_nodes, fg.truncated_edges, strict=True) if a or b
    )
    out.replaced_invalid_utf8 = fg.replaced_invalid_utf8
    return batch


# --- the build --------------------------------------------------------------------------------


def build_graphs(
    opts: BuildOptions,
    progress: Callable[[int, int | None, FileOutcome], None] | None = None,
    on_files: Callable[[int], None] | None = None,
) -> BuildReport:
    """Build the dataset described by ``opts``.

    Args:
        progress: called after each file as ``progress(done, total, outcome)``; ``total`` is None
            while the walk (which runs alongside the workers) is still finding files.
        on_files: called once with the number of files to process, before any work.

    Raises:
        BuildError: bad options or input paths (nothing is written).
    """
    opts.validate()
    t0 = time.perf_counter()
    walk = _inputs(opts)
    files: list[SourceFile] = []
    skipped: list[Skipped] = []
    walk_done = [False]

    def this_shard():
        """Files of this shard, as the walk finds them (workers start before the walk ends)."""
        for w in walk:
            if opts.num_shards > 1 and shard_of(w.relpath, opts.num_shards) != opts.shard_index:
                continue
            if isinstance(w, Skipped):
                skipped.append(w)
            else:
                # kept for the manifest without a dataset row's content (which only the worker needs)
                files.append(w if w.data is None else dataclasses.replace(w, data=None))
                yield w
        walk_done[0] = True
        if on_files is not None:
            on_files(len(files))

    out = Path(opts.out)
    _owned_outputs(out, opts)  # refuse a folder that is not ours before creating anything in it
    try:
        acquire(out, "build-graphs --out")
    except FolderBusy as err:
        raise BuildError(str(err)) from None
    try:
        return _build_locked(opts, out, this_shard(), files, skipped, walk_done, progress, t0)
    finally:
        release(out)


def _inputs(opts: BuildOptions) -> Iterator[SourceFile | Skipped]:
    """The files to build: the walk of ``opts.paths``, or the rows of ``opts.from_dataset`` (opened
    and checked now, so that a bad source stops the build before anything is written)."""
    try:
        if opts.from_dataset:
            from data_builders.from_dataset import DatasetColumns, DatasetError, iter_dataset

            try:
                rows = iter_dataset(
                    opts.from_dataset,
                    DatasetColumns(opts.content_column, opts.path_column, opts.language_column),
                    extensions=extension_map(),
                    language_overrides=opts.languages,
                    max_file_bytes=opts.max_file_bytes,
                    include_generated=opts.include_generated,
                    exclude=opts.exclude,
                    split=opts.split,
                )
            except DatasetError as err:
                raise BuildError(str(err)) from None

            def checked() -> Iterator[SourceFile | Skipped]:
                """The rows, a source failing half-way (a later file unreadable) as a BuildError."""
                try:
                    yield from rows
                except DatasetError as err:
                    raise BuildError(str(err)) from None

            return checked()
        return iter_repository(
            opts.paths,
            extensions=extension_map(),
            language_overrides=opts.languages,
            max_file_bytes=opts.max_file_bytes,
            respect_gitignore=opts.respect_gitignore,
            include_vendored=opts.include_vendored,
            include_generated=opts.include_generated,
            exclude=opts.exclude,
        )
    except WalkError as err:
        raise BuildError(str(err)) from None


def _build_locked(
    opts: BuildOptions,
    out: Path,
    shard: Iterator[SourceFile],
    files: list[SourceFile],
    skipped: list[Skipped],
    walk_done: list[bool],
    progress: Callable[[int, int | None, FileOutcome], None] | None,
    t0: float,
) -> BuildReport:
    """The build, with ``out`` locked to this process."""
    owned = _owned_outputs(out, opts)  # again: another run may have written it while we waited
    cache = out / CACHE_ROOT / opts.signature() if opts.cache else None
    tmp = out / f"{TMP_PREFIX}{os.getpid()}"
    _remove_stale_tmp(out)
    shutil.rmtree(tmp, ignore_errors=True)
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        (cache / CACHE_OWNER).write_text(f"galla build-graphs cache, options {cache.name}\n")
        _check_cache(cache)
    writer = DatasetWriter(tmp)
    outcomes: list[FileOutcome] = []
    workers = max(1, opts.workers or os.cpu_count() or 1)
    try:
        for i, outcome in enumerate(_run(shard, opts, cache, workers, tmp / "spool"), 1):
            _append(writer, outcome)
            outcomes.append(outcome)
            if progress is not None:
                progress(i, len(files) if walk_done[0] else None, outcome)
        manifest = _manifest(opts, files, skipped, outcomes)
        fingerprint = hashlib.blake2b(
            json.dumps(manifest, sort_keys=True).encode(), digest_size=8
        ).hexdigest()
        writer.close(fingerprint)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        if opts.format == "galla-jsonl":
            import pyarrow as pa

            with pa.memory_map(str(tmp / DATA_FILE)) as src:
                table = pa.ipc.open_stream(src).read_all()
            write_galla_jsonl(table, tmp / "graphs.jsonl", node_text=opts.node_text)
        for name in (*OUTPUTS, JSONL):
            if (tmp / name).exists():
                os.replace(tmp / name, out / name)
        if opts.format != "galla-jsonl" and JSONL in owned:  # the previous build's, now outdated
            (out / JSONL).unlink(missing_ok=True)
    finally:
        _SPOOLS.close()
        _PACKS.close()
        _close_db()
        shutil.rmtree(tmp, ignore_errors=True)
    if cache is not None:
        _prune_cache(out / CACHE_ROOT, keep=cache)
    report = BuildReport(
        out=out,
        files=len(files),
        units=manifest["totals"]["units"],
        nodes=manifest["totals"]["nodes"],
        edges=manifest["totals"]["edges"],
        seconds=time.perf_counter() - t0,
        cached_files=sum(o.cached for o in outcomes),
        manifest=manifest,
    )
    return report


def _append(writer: DatasetWriter, o: FileOutcome) -> None:
    """Copy a file's batch from where its worker left it into the dataset."""
    if o.units and o.batch_file:
        writer.append(Path(o.batch_file), o.batch_offset, o.batch_bytes, o.units)
    o.batch_file = ""


def _keep_freed_memory() -> None:
    """Ask glibc to keep freed memory for reuse instead of returning it to the system after every
    file (each return costs page faults when the next file allocates again: 48k -> 30k faults on the
    stdlib). Workers inherit the setting through fork; elsewhere this does nothing."""
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    mallopt(m_trim_threshold, 256 << 20)
    mallopt(m_mmap_threshold, 32 << 20)


def _run(files: Iterator[SourceFile], opts: BuildOptions, cache: Path | None, workers: int, spool: Path):
    spool.mkdir(parents=True, exist_ok=True)
    _keep_freed_memory()
    if workers <= 1:
        _init_worker(opts, cache, spool)
        yield from map(process_file, files)
        return
    yield from _ordered_pool(files, workers, (opts, cache, spool))


_CHUNK = 2
"""Files per message to a worker."""
_IN_FLIGHT = 2
"""Chunks queued per worker, so none waits for the main process between chunks."""


def _ordered_pool(files: Iterator[SourceFile], workers: int, initargs: tuple) -> Iterator[FileOutcome]:
    """``process_file`` over ``files`` in ``workers`` processes, outcomes in input order.

    A pipe per worker; the main process hands out chunks as workers finish, taking files from ``files``
    as it goes (so the walk runs alongside), and reorders what comes back. (``multiprocessing.Pool``
    did this with three threads, one of which woke on every readable result: 7,394 wake-ups for the
    734 stdlib files, CPU the workers lacked on 2 cores.) A worker that dies, or a Python error outside
    ``process_file``'s own handling, stops the build naming the files it was on."""
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    ctx = mp.get_context(method)
    # forked with everything loaded so far in the collector's permanent generation, the workers'
    # collections leave the pages they share with us untouched (unless the caller freezes objects itself)
    froze = method == "fork" and gc.get_freeze_count() == 0
    if froze:
        gc.freeze()
    conns, procs = [], []
    try:
        for _ in range(workers):
            ours, theirs = ctx.Pipe()
            # a forked worker inherits our ends of its own and the earlier workers' pipes: it closes
            # them, so that our death is an end of file on every worker's pipe
            inherited = [c.fileno() for c in (*conns, ours)] if method == "fork" else []
            args = (theirs, initargs, os.getpid(), inherited)
            proc = ctx.Process(target=_worker_loop, args=args, daemon=True)
            proc.start()
            theirs.close()
            conns.append(ours)
            procs.append(proc)
    finally:
        if froze:
            gc.unfreeze()
    queued: dict[object, list[tuple[int, list[SourceFile]]]] = {c: [] for c in conns}
    done: dict[int, list[FileOutcome]] = {}
    seq = emitted = 0
    exhausted = finished = False

    def feed(conn) -> None:
        nonlocal seq, exhausted
        while not exhausted and len(queued[conn]) < _IN_FLIGHT:
            chunk = [sf for _, sf in zip(range(_CHUNK), files, strict=False)]
            if not chunk:
                exhausted = True
                return
            queued[conn].append((seq, chunk))
            seq += 1
            try:
                conn.send(queued[conn][-1])
            except OSError:
                raise died(conn) from None

    def died(conn) -> BuildError:
        lost = ", ".join(sf.relpath for _, chunk in queued[conn] for sf in chunk)
        return BuildError(
            f"a worker process died while building {lost}; rerun (finished files are cached) "
            "or leave those files out with --exclude"
        )

    try:
        for conn in conns:
            feed(conn)
        while any(queued.values()):
            for conn in mpc.wait([c for c in conns if queued[c]]):
                try:
                    got, outcomes = conn.recv()
                except (EOFError, OSError):
                    raise died(conn) from None
                if isinstance(outcomes, str):
                    names = ", ".join(sf.relpath for sf in queued[conn][0][1])
                    raise BuildError(f"internal error while building {names}: {outcomes}; please report it")
                queued[conn].pop(0)
                done[got] = outcomes
                feed(conn)
            while emitted in done:
                yield from done.pop(emitted)
                emitted += 1
        finished = True
    finally:
        if not finished:  # an error, Ctrl-C, or the caller stopped early: no need to wait for anyone
            for proc in procs:
                proc.terminate()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.send(None)
            conn.close()
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
                proc.join()


def _die_with_parent(parent: int) -> None:
    """Linux: have the kernel kill this worker when the main process dies (a kill -9 of the main
    process would otherwise leave workers running their current chunk, or waiting for ever)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            pr_set_pdeathsig = 1
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # it died before the request took effect
        os._exit(1)


def _worker_loop(conn, initargs: tuple, parent: int = 0, inherited: Sequence[int] = ()) -> None:
    """A worker: process the chunks it is sent until told to stop (None) or the main process is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the main process, which stops us
    for fd in inherited:
        with contextlib.suppress(OSError):
            os.close(fd)
    if parent:
        _die_with_parent(parent)
    _init_worker(*initargs)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            msg = None  # the main process is gone: keep what is built for the next run
        if msg is None:
            _close_db()  # commits the last cache rows
            return
        seq, chunk = msg
        try:
            outcomes: list[FileOutcome] | str = [process_file(sf) for sf in chunk]
        except Exception as err:  # process_file handles bad input itself: this is a bug, reported
            outcomes = "".join(traceback.format_exception_only(type(err), err)).strip()
        try:
            conn.send((seq, outcomes))
        except OSError:  # the main process is gone
            _close_db()
            return


def _prune_cache(root: Path, keep: Path) -> None:
    """Drop the caches of other option sets that build-graphs wrote (entries of this one are kept for
    the next run); anything else under ``root`` is not ours and stays."""
    for d in root.iterdir() if root.exists() else ():
        if d != keep and _is_own_cache(d):
            shutil.rmtree(d, ignore_errors=True)


# --- what build-graphs owns in --out ----------------------------------------------------------

OUTPUTS = (DATA_FILE, "dataset_info.json", "state.json", MANIFEST)
"""The files every build writes into ``--out`` (plus :data:`JSONL` with ``--format galla-jsonl``)."""
JSONL = "graphs.jsonl"
CACHE_ROOT = ".cache"
CACHE_OWNER = "galla-build-graphs"
"""A file in each cache folder build-graphs creates: only folders holding it (or an older cache's
files alone) are ever deleted, so ``--out`` somewhere with a ``.cache`` of its own loses nothing."""
TMP_PREFIX = ".tmp-"
_CACHE_FILES = re.compile(r"(packs|cache-v[0-9]+\.sqlite(-wal|-shm|-journal)?)")


def _is_own_cache(d: Path) -> bool:
    """Whether ``d`` is a cache folder of build-graphs: its marker, or (a cache of a galla version
    before the marker) a 16-hex-digit options name holding only cache databases and ``packs``."""
    if d.is_symlink() or not d.is_dir():
        return False
    if (d / CACHE_OWNER).is_file():
        return True
    names = [c.name for c in d.iterdir()]
    return bool(re.fullmatch(r"[0-9a-f]{16}", d.name)) and all(_CACHE_FILES.fullmatch(n) for n in names)


def _is_own_entry(entry: Path) -> bool:
    """Whether an entry of ``--out`` is a leftover of a build-graphs run (a killed one leaves only
    these): the cache, a temporary dataset, the lock file (:mod:`data_builders.lock`)."""
    if entry.name == CACHE_ROOT and entry.is_dir() and not entry.is_symlink():
        return all(_is_own_cache(d) for d in entry.iterdir())
    if re.fullmatch(re.escape(TMP_PREFIX) + r"[0-9]+", entry.name):
        return entry.is_dir() and not entry.is_symlink()
    return entry.name == LOCK_NAME and entry.is_file()


def _owned_outputs(out: Path, opts: BuildOptions) -> frozenset[str]:
    """The files in ``out`` a previous build wrote (so this one may replace or delete them).

    Raises :class:`BuildError`, before anything is written, when ``out`` is not empty and is not a
    galla graph dataset (a manifest of ours, or only a killed build's leftovers), or when this build
    would overwrite a file it did not write."""
    problem = output_problem(out, "--out")
    if problem:
        raise BuildError(problem)
    if not out.exists():
        return frozenset()
    try:
        manifest = json.loads((out / MANIFEST).read_text())
        ours = (
            isinstance(manifest, dict) and {"extractor_version", "kind_vocab", "options"} <= manifest.keys()
        )
    except (OSError, ValueError):
        manifest, ours = None, False
    if not ours:
        foreign = sorted(e.name for e in out.iterdir() if not _is_own_entry(e))
        if foreign:
            raise BuildError(
                f"--out '{out}' is not empty and is not a galla graph dataset (it holds '{foreign[0]}' "
                f"and no build-graphs {MANIFEST}); choose a new or empty directory (nothing was changed)"
            )
        return frozenset()
    owned = set(OUTPUTS)
    if isinstance(manifest["options"], dict) and manifest["options"].get("format") == "galla-jsonl":
        owned.add(JSONL)
    if opts.format == "galla-jsonl" and (out / JSONL).exists() and JSONL not in owned:
        raise BuildError(
            f"--out '{out}': {JSONL} there was not written by build-graphs (the dataset's manifest lists "
            "no galla-jsonl output); move it away or choose another --out (nothing was changed)"
        )
    return frozenset(owned)


def _remove_stale_tmp(out: Path) -> None:
    """Delete the temporary datasets of killed builds (``.tmp-<pid>`` whose process is gone); a live
    process's is left alone."""
    for d in out.glob(f"{TMP_PREFIX}*"):
        pid = d.name.removeprefix(TMP_PREFIX)
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)) and _is_own_entry(d):
            shutil.rmtree(d, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _manifest(
    opts: BuildOptions, files: list[SourceFile], skipped: list[Skipped], outs: list[FileOutcome]
) -> dict:
    per_lang: dict[str, Counter] = {}
    edge_counts: Counter = Counter()
    for o in outs:
        c = per_lang.setdefault(o.language, Counter())
        c["files"] += 1
        c["bytes"] += o.size
        c["units"] += o.units
        c["nodes"] += o.nodes
        c["edges"] += o.edges
        c["files_with_syntax_errors"] += int(o.has_error)
        c["failed_files"] += int(bool(o.failure))
        for t, n in o.edge_counts.items():
            edge_counts[EdgeType(t).name] += n
    failures = [{"path": o.relpath, "reason": o.failure} for o in outs if o.failure]
    no_units = [
        {"path": o.relpath, "reason": "syntax error" if o.has_error else f"no {opts.unit} definitions"}
        for o in outs
        if not o.failure and o.units == 0
    ]
    skip_reasons = Counter(s.reason for s in skipped)
    totals = {
        "files_found": len(files) + len(skipped),
        "files_parsed": sum(1 for o in outs if not o.failure),
        "files_skipped": len(skipped),
        "files_failed": len(failures),
        "bytes": sum(o.size for o in outs),
        "units": sum(o.units for o in outs),
        "nodes": sum(o.nodes for o in outs),
        "edges": sum(o.edges for o in outs),
        "units_with_syntax_errors": sum(o.error_units for o in outs),
        "units_dropped_for_syntax_errors": sum(o.skipped_error_units for o in outs),
        "units_truncated": sum(o.truncated_units for o in outs),
        "files_with_invalid_utf8": sum(int(o.replaced_invalid_utf8) for o in outs),
        "files_without_units": len(no_units),
    }
    return {
        "galla_version": _version("galla"),
        "extractor_version": EXTRACTOR_VERSION,
        "grammars": grammar_versions(),
        "kind_vocab": KIND_VOCAB,
        "edge_vocab": {t.name: int(t) for t in EdgeType},
        "options": {
            "unit": opts.unit,
            "edges": sorted(t.name for t in parse_edge_types(opts.edges)),
            "num_shards": opts.num_shards,
            "shard_index": opts.shard_index,
            "max_file_bytes": opts.max_file_bytes,
            "max_nodes": opts.max_nodes,
            "max_edges": opts.max_edges,
            "skip_errors": opts.skip_errors,
            "languages": opts.languages,
            "exclude": opts.exclude,
            "include_vendored": opts.include_vendored,
            "include_generated": opts.include_generated,
            "format": opts.format,
            **(
                {
                    "from_dataset": {
                        "source": opts.from_dataset,
                        "content_column": opts.content_column,
                        "path_column": opts.path_column,
                        "language_column": opts.language_column,
                        "split": opts.split,
                    }
                }
                if opts.from_dataset
                else {}
            ),
        },
        "totals": totals,
        "languages": {k: dict(sorted(v.items())) for k, v in sorted(per_lang.items())},
        "edge_counts": dict(sorted(edge_counts.items())),
        "skipped_by_reason": dict(sorted(skip_reasons.items())),
        "skipped": [{"path": s.relpath, "reason": s.reason, "detail": s.detail} for s in skipped],
        "failed": failures,
        "files_without_units": no_units,
    }


def load_graphs(*dirs: str | Path):
    """Open one or more build outputs (e.g. the shards of a corpus) as one ``datasets.Dataset``."""
    from datasets import concatenate_datasets, load_from_disk

    parts = []
    for d in dirs:
        p = Path(d)
        if not (p / DATA_FILE).exists():
            raise FileNotFoundError(
                f"'{p}' holds no graph dataset; run `galla build-graphs ... --out {p}` first"
            )
        parts.append(load_from_disk(str(p)))
    if not parts:
        raise ValueError("load_graphs needs at least one directory")
    return parts[0] if len(parts) == 1 else concatenate_datasets(parts)
