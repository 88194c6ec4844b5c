"""Checking an output path before anything is written to it, so that a bad ``--out`` is one clear line
instead of a traceback from deep inside a writer (and nothing is half-written).

Only what can be known in advance is checked: a file where a folder must be (the path itself, or a
component above it), a missing folder for an output file, and a folder the user may not write to
(permissions; a process running as root passes that check and meets a real read-only mount only when
it writes, which the commands report as an ``OSError``)."""

from __future__ import annotations

import os
from pathlib import Path


def output_problem(path: str | Path, flag: str, *, folder: bool = True) -> str | None:
    """Why ``path`` (a folder to create or fill, or with ``folder=False`` a file to write) cannot be
    written, as ``"<flag> '<path>': what is wrong; what to do"``; None when it looks writable."""
    path = Path(path)
    other = f"choose another {flag}"
    if folder and path.exists() and not path.is_dir():
        return f"{flag} '{path}' is a file, not a folder; {other} (nothing was changed)"
    if not folder and path.is_dir():
        return f"{flag} '{path}' is a folder; give a file name inside it"
    start = path if folder else path.parent
    existing = start
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{flag} '{path}': '{existing}' is a file, not a folder, so nothing can go below it; {other}"
    if not folder and existing != start:
        return f"{flag} '{path}': folder '{start}' does not exist; create it first or {other}"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{flag} '{path}': '{existing}' is not writable (permissions); {other}"
    return None


def write_failure(err: OSError, flag: str, path: str | Path) -> str:
    """The one-line message for an ``OSError`` met while writing the output ``path`` (a full disk, a
    read-only mount, a folder that cannot be created)."""
    reason = err.strerror or str(err)
    where = f" {err.filename}" if err.filename else ""
    return (
        f"{flag} '{path}': could not write{where}: {reason}; make room on the disk or fix the permissions "
        f"there, or choose another {flag}"
    )
