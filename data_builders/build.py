"""``galla build-graphs``: repositories -> a code-graph dataset on disk.

Pipeline: walk the roots (:mod:`data_builders.walk`), keep this shard's files, extract every file in a
process pool (:mod:`data_builders.pool` keeps input order, so output order is deterministic), stream
the record batches into one Arrow file in the ``datasets`` layout, then write ``manifest.json``
(:mod:`data_builders.manifest`).

Each file's batch is cached under ``OUT/.cache/<options>/`` keyed by its path and content hash
(:mod:`data_builders.cache`); a rerun after an edit only parses changed files, and a run killed
half-way resumes from the cache and produces byte-identical output. Workers append batches to their
own pack file in the cache (or, with ``--no-cache``, to a spool file) and the main process copies those
bytes into the dataset, which is written to a temporary directory and moved into place only when
complete.

The options and outcomes are in :mod:`data_builders.options`; every name of those modules that callers
use is importable from here too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import sqlite3
import time
import traceback
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa

from data_builders.cache import (
    _PACKS,
    _SPOOLS,
    CACHE_DB,
    CACHE_OWNER,
    CACHE_ROOT,
    PACKS,
    _append_to,
    _cache_key,
    _check_cache,
    _close_db,
    _prune_cache,
    _read_entry,
    _write_entry,
)
from data_builders.content import Skipped, SourceFile
from data_builders.formats import DATA_FILE, DatasetWriter, file_batch, serialize_batch, write_galla_jsonl
from data_builders.lock import FolderBusy, acquire, release
from data_builders.manifest import (
    JSONL,
    MANIFEST,
    OUTPUTS,
    TMP_PREFIX,
    _manifest,
    _owned_outputs,
    _remove_stale_tmp,
)
from data_builders.options import (
    EXTRACTOR_VERSION,
    BuildError,
    BuildOptions,
    BuildReport,
    FileOutcome,
    Format,
    grammar_versions,
)
from data_builders.pool import _keep_freed_memory, _ordered_pool
from data_builders.walk import WalkError, iter_repository, shard_of
from parsers.extract import extract_file
from parsers.graph import EdgeType, parse_edge_types
from parsers.languages import extension_map

__all__ = [
    "CACHE_DB",
    "CACHE_OWNER",
    "CACHE_ROOT",
    "DATA_FILE",
    "EXTRACTOR_VERSION",
    "JSONL",
    "MANIFEST",
    "OUTPUTS",
    "PACKS",
    "TMP_PREFIX",
    "BuildError",
    "BuildOptions",
    "BuildReport",
    "FileOutcome",
    "Format",
    "build_graphs",
    "extract_into",
    "grammar_versions",
    "load_graphs",
    "process_file",
]


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


def _run(files: Iterator[SourceFile], opts: BuildOptions, cache: Path | None, workers: int, spool: Path):
    spool.mkdir(parents=True, exist_ok=True)
    _keep_freed_memory()
    if workers <= 1:
        _init_worker(opts, cache, spool)
        yield from map(process_file, files)
        return
    yield from _ordered_pool(files, workers, _init_worker, (opts, cache, spool), process_file)


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
