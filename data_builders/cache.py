"""The build cache of ``galla build-graphs``: where each file's record batch waits for the main process.

One folder per option set under ``OUT/.cache/``; in it, pack files of batches and a SQLite index of
them keyed by path and content hash (:func:`_cache_key`). Also the spool files that hold batches with
``--no-cache``, the pruning of other option sets' caches, and the checks that a folder is a cache of
ours before anything in it is deleted.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import secrets
import shutil
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from data_builders.formats import holds_batch

if TYPE_CHECKING:
    from data_builders.options import FileOutcome


def _cache_key(relpath: str, data: bytes) -> str:
    h = hashlib.blake2b(data, digest_size=16)
    h.update(b"\0" + relpath.encode())
    return h.hexdigest()


# The cache of one option set is an index and pack files. Each worker appends batches to a pack file
# of its own (`packs/<pid>-<token>.pack`), then records key -> (the file's outcome as JSON, pack, offset,
# length) in one SQLite database (not a file per entry, whose inode creation is slow, nor batches as
# SQLite blobs, which are written twice: to the WAL, then at each checkpoint). Each process has its own
# connection; WAL mode lets the workers write while the main process reads, and a row is committed only
# after its bytes are written, so a killed build leaves only complete entries. Rows are committed a few
# dozen at a time (a transaction per file is costly): a kill loses at most each worker's last 32
# uncommitted rows, whose files the next run builds again.
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


@functools.cache
def _meta_fields(outcome: type) -> tuple[str, ...]:
    """FileOutcome fields a cache entry records (not where the batch is, nor what the walk already knows)."""
    skip = ("batch_file", "batch_offset", "relpath", "language", "size", "cached")
    return tuple(f.name for f in fields(outcome) if f.name not in skip)


def _write_entry(cache: Path, key: str, out: FileOutcome, stream: Sequence[bytes | pa.Buffer]) -> None:
    pack, offset = _append_to(_PACKS, cache / PACKS, stream)
    meta = json.dumps({k: getattr(out, k) for k in _meta_fields(type(out))})
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


def _prune_cache(root: Path, keep: Path) -> None:
    """Drop the caches of other option sets that build-graphs wrote (entries of this one are kept for
    the next run); anything else under ``root`` is not ours and stays."""
    for d in root.iterdir() if root.exists() else ():
        if d != keep and _is_own_cache(d):
            shutil.rmtree(d, ignore_errors=True)


CACHE_ROOT = ".cache"
CACHE_OWNER = "galla-build-graphs"
"""A file in each cache folder build-graphs creates: only folders holding it (or an older cache's
files alone) are ever deleted, so ``--out`` somewhere with a ``.cache`` of its own loses nothing."""
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
