"""The worker processes of ``galla build-graphs``: an ordered pool over pipes (:func:`_ordered_pool`),
the worker loop, workers dying with the main process, and the allocator setting they inherit.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing as mp
import multiprocessing.connection as mpc
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from data_builders.cache import _close_db
from data_builders.options import BuildError

if TYPE_CHECKING:
    from data_builders.content import SourceFile
    from data_builders.options import FileOutcome


def _keep_freed_memory() -> None:
    """Ask glibc to keep freed memory for reuse instead of returning it to the system after every
    file (each return costs page faults when the next file allocates again). Workers inherit the
    setting through fork; elsewhere this does nothing."""
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    mallopt(m_trim_threshold, 256 << 20)
    mallopt(m_mmap_threshold, 32 << 20)


_CHUNK = 2
"""Files per message to a worker."""
_IN_FLIGHT = 2
"""Chunks queued per worker, so none waits for the main process between chunks."""


def _ordered_pool(
    files: Iterator[SourceFile],
    workers: int,
    init: Callable[..., None],
    initargs: tuple,
    work: Callable[[SourceFile], FileOutcome],
) -> Iterator[FileOutcome]:
    """``work`` (the build's ``process_file``) over ``files`` in ``workers`` processes, each set up
    by ``init(*initargs)``, outcomes in input order.

    A pipe per worker; the main process hands out chunks as workers finish, taking files from ``files``
    as it goes (so the walk runs alongside), and reorders what comes back. (``multiprocessing.Pool``
    does this with three threads, one of which wakes on every readable result: CPU the workers lack
    on a small machine.) A worker that dies, or a Python error outside ``work``'s own handling, stops
    the build naming the files it was on."""
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
            args = (theirs, init, initargs, work, os.getpid(), inherited)
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


def _worker_loop(
    conn,
    init: Callable[..., None],
    initargs: tuple,
    work: Callable[[SourceFile], FileOutcome],
    parent: int = 0,
    inherited: Sequence[int] = (),
) -> None:
    """A worker: process the chunks it is sent until told to stop (None) or the main process is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the main process, which stops us
    for fd in inherited:
        with contextlib.suppress(OSError):
            os.close(fd)
    if parent:
        _die_with_parent(parent)
    init(*initargs)
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
            outcomes: list[FileOutcome] | str = [work(sf) for sf in chunk]
        except Exception as err:  # work handles bad input itself: this is a bug, reported
            outcomes = "".join(traceback.format_exception_only(type(err), err)).strip()
        try:
            conn.send((seq, outcomes))
        except OSError:  # the main process is gone
            _close_db()
            return
