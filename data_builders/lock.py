"""One run per output folder: an exclusive lock that a killed holder releases by itself.

``build-graphs --out DIR`` and ``galla train`` (its ``run.out_dir``) call :func:`lock_folder` before
they touch the folder: ``DIR/.galla.lock`` is opened and ``fcntl.flock``-ed for as long as the run
lives (the kernel drops the lock with the process, so a kill -9 leaves nothing to clean up) and holds
the holder's pid, host and command for the message a second run gets. Within one process the lock is
re-entrant (the embedded default run, tests). Where ``fcntl`` is missing (Windows) nothing is locked.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".galla.lock"

_HELD: dict[Path, list] = {}
"""This process's locks: folder -> [fd, depth]."""


class FolderBusy(RuntimeError):
    """Another live process holds the folder; the message names it, the holder and what to do."""


def holder(folder: Path) -> dict:
    """What the lock file of ``folder`` says about its holder (empty when unreadable)."""
    try:
        info = json.loads((Path(folder) / LOCK_NAME).read_text())
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def acquire(folder: Path, what: str) -> None:
    """Lock ``folder`` (created if missing) for this process, or raise :class:`FolderBusy` at once.

    ``what`` names the kind of run for the message (``build-graphs --out``, ``train run.out_dir``)."""
    folder = Path(folder).absolute()
    if folder in _HELD:
        _HELD[folder][1] += 1
        return
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    if fcntl is None:  # pragma: no cover
        _HELD[folder] = [None, 1]
        return
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            info = holder(folder)
            who = f"pid {info.get('pid', '?')} on {info.get('host', '?')}"
            since = f", since {info['started']}" if "started" in info else ""
            raise FolderBusy(
                f"{folder}: in use by another {what} run ({who}{since}); wait for it to finish or stop "
                "it, or write somewhere else"
            ) from None
        # the holder before us may have removed the file between our open and flock: then we hold a
        # lock on a file nobody else sees, so try again on the one at the path now
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    info = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "command": " ".join(sys.argv)[:500],
    }
    os.ftruncate(fd, 0)
    os.write(fd, (json.dumps(info) + "\n").encode())
    _HELD[folder] = [fd, 1]


def release(folder: Path) -> None:
    """Undo one :func:`acquire` of ``folder``; the last one removes the lock file and unlocks it."""
    folder = Path(folder).absolute()
    held = _HELD.get(folder)
    if held is None:
        return
    held[1] -= 1
    if held[1] > 0:
        return
    del _HELD[folder]
    if held[0] is not None:
        with contextlib.suppress(OSError):
            os.unlink(folder / LOCK_NAME)  # while still locked: the next holder re-checks the path
        os.close(held[0])


def _forget_in_child() -> None:
    """A forked child (a build-graphs worker) closes its copies of the lock descriptors without
    unlocking: the lock stays the parent's, and a killed parent's lock is released even while a
    child lingers."""
    for fd, _ in _HELD.values():
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)


@contextlib.contextmanager
def lock_folder(folder: Path, what: str) -> Iterator[None]:
    """``with lock_folder(out, "build-graphs --out"):`` run with ``out`` to ourselves."""
    acquire(folder, what)
    try:
        yield
    finally:
        release(folder)


__all__ = ["LOCK_NAME", "FolderBusy", "acquire", "holder", "lock_folder", "release"]
