"""Run untrusted generated programs (Python or Rust) outside the galla process.

Every sample gets:

- its own process, started with :mod:`subprocess` in a fresh temporary directory that is removed afterwards
  (the directory is also the child's cwd, ``HOME`` and ``TMPDIR``);
- its own session and process group: on a wall-clock timeout, and again after the main process exits, the
  whole group is killed with SIGKILL, so children it forked die with it;
- where Linux allows it, its own PID namespace: the program runs under a tiny init (``python3 -I -S -c
  _INIT``) whose first child is pid 1 of a fresh namespace and forks the program; when the program ends
  (or the group is killed), pid 1 exits and the kernel kills every process left in the namespace, including
  ones that called ``setsid()`` or double-forked. The program's wait status is passed back, so exit codes
  and deaths by signal read as if it had run directly. Where no PID namespace can be made, only the
  process-group kill remains and the result says ``pids_isolated=False``;
- where Linux allows it, a read-only view of the file system: the child gets its own mount namespace
  (``CLONE_NEWNS``, mounts made private), ``/dev`` is replaced by a small tmpfs holding only ``null``,
  ``zero``, ``full``, ``random``, ``urandom`` (bind mounts of the real nodes) and the ``fd``/``std*`` links,
  the temporary directory is bind-mounted onto itself, every mount is made read-only and nosuid
  (``mount_setattr(2)`` with ``AT_RECURSIVE``; on kernels before 5.12 each line of
  ``/proc/self/mountinfo`` is remounted ``MS_REMOUNT | MS_BIND | MS_RDONLY``) and write is re-enabled on
  the temporary directory only. pid 1 then mounts a fresh, read-only ``/proc`` (only the sample's own
  processes are visible), drops every capability from the bounding set and sets ``no_new_privs``, so the
  program (still uid 0 when galla runs as root) has no capabilities and cannot remount anything. Where
  this cannot be set up (not Linux, no privileges, user namespaces disabled...) the sample runs with the
  host file system and its result says ``fs_isolated=False``;
- an almost empty environment (``PATH=/usr/bin:/bin``, ``LANG``, ``HOME``/``TMPDIR``), stdin from
  ``/dev/null``, stdout and stderr written to files in its directory (so a forked child that keeps them
  open cannot stall the parent) and returned as tails;
- resource limits set in ``preexec_fn``: ``RLIMIT_AS`` (memory), ``RLIMIT_CPU``, ``RLIMIT_FSIZE``,
  ``RLIMIT_CORE`` = 0 and, when asked, ``RLIMIT_NPROC`` (not enforced for root; counted per user across
  all of that user's processes otherwise);
- no network where Linux allows it: the child is moved into a new, empty network namespace with
  ``unshare(CLONE_NEWNET)`` (as root) or ``unshare(CLONE_NEWUSER | CLONE_NEWNET)`` (as a normal user).
  Which of the two works is probed once per process; where neither does, the sample runs with the host
  network and its result says ``network_isolated=False``.

Python runs as ``python3 -I`` (isolated mode: no ``PYTHON*`` variables, no user site, no script directory
on ``sys.path``) with the interpreter galla itself runs on unless ``python=`` names another. Rust is
compiled with ``rustc --test`` inside the same limits (its own time and memory budget) and the test binary
then runs under the sample's limits; ``SandboxUnavailable`` is raised when no rustc is found.

What remains open: a sample can read whatever the galla user can read (it is still uid 0 under a root
galla), and a Unix socket file on a read-only mount can still be connected to (read-only mounts do not
apply to sockets); ``RLIMIT_FSIZE`` bounds each file written in the temporary directory.

This module is the API and the reading of how a sample ended; :mod:`.namespaces` sets up the isolation
in the child (namespaces, the read-only file system, the PID-1 init), :mod:`.runner` starts one step
under its rlimits and timeout and probes which isolation works here.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from galla.eval.sandbox.namespaces import network_isolation_available, network_namespace_flags, wrap
from galla.eval.sandbox.runner import (
    Limits,
    Step,
    environment,
    fs_isolation_available,
    namespace_plan,
    pid_isolation_available,
    run_step,
)

Language = Literal["python", "rust"]
Status = Literal["passed", "failed", "timeout", "memory", "compile_error", "error"]
STATUSES: tuple[str, ...] = ("passed", "failed", "timeout", "memory", "compile_error", "error")

RUSTC_MISSING = "skipping the Rust direction: rustc not found; install Debian's rustc (apt-get install rustc)"


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot run this language here (e.g. rustc is not installed)."""


@dataclass(frozen=True)
class ExecResult:
    """What one sample did. ``status`` is one of :data:`STATUSES`; ``returncode`` is negative for a
    signal; ``seconds`` is the wall-clock time of the run (for Rust: compile plus run)."""

    status: Status
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float
    network_isolated: bool
    detail: str = ""
    fs_isolated: bool = False
    pids_isolated: bool = False

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- how a step ended ----------------------------------------------------------------------------------


def _memory_exhausted(step: Step) -> bool:
    last = step.stderr.strip().splitlines()[-1:] or [""]
    return (
        last[0].startswith("MemoryError")
        or "memory allocation of" in step.stderr  # Rust's alloc error handler (then SIGABRT)
        or "Cannot allocate memory" in step.stderr
        or "std::bad_alloc" in step.stderr
    )


def _classify(step: Step, memory_mb: int | None) -> tuple[Status, str]:
    if step.error:
        return "error", step.error
    rc = step.returncode
    if step.timed_out:
        return "timeout", "wall-clock limit reached; process group killed"
    if rc == -signal.SIGXCPU:
        return "timeout", "CPU-time limit reached (SIGXCPU)"
    if rc == 0:
        return "passed", ""
    if _memory_exhausted(step):
        return "memory", f"memory limit reached ({memory_mb} MiB address space)"
    if rc == -signal.SIGKILL:
        return "memory", "killed by SIGKILL (likely the kernel's out-of-memory killer)"
    if rc == -signal.SIGXFSZ:
        return "failed", "file-size limit reached (SIGXFSZ)"
    if rc is not None and rc < 0:
        return "failed", f"killed by {signal.Signals(-rc).name}"
    return "failed", f"exit status {rc}"


# --- Rust toolchain --------------------------------------------------------------------------------------


@cache
def find_rustc() -> str | None:
    """The real rustc binary (behind rustup's proxy, so it runs with an empty environment), or None."""
    candidates = [shutil.which("rustc"), str(Path.home() / ".cargo" / "bin" / "rustc"), "/usr/bin/rustc"]
    for cand in candidates:
        if not cand or not os.access(cand, os.X_OK):
            continue
        try:
            sysroot = subprocess.run(
                [cand, "--print", "sysroot"], capture_output=True, text=True, timeout=60, check=True
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            continue
        real = Path(sysroot, "bin", "rustc")
        return str(real) if os.access(real, os.X_OK) else cand
    return None


def require_rustc() -> str:
    rustc = find_rustc()
    if rustc is None:
        raise SandboxUnavailable(RUSTC_MISSING)
    return rustc


# --- public API ------------------------------------------------------------------------------------------


def run_program(
    source: str,
    *,
    language: Language = "python",
    timeout_s: float = 10.0,
    memory_mb: int | None = 1024,
    cpu_s: int | None = None,
    fsize_mb: int | None = 16,
    nproc: int | None = None,
    isolate_network: bool = True,
    isolate_fs: bool = True,
    python: str | None = None,
    rust_edition: str = "2021",
    rust_opt: bool = True,
    compile_timeout_s: float = 120.0,
    compile_memory_mb: int | None = 4096,
) -> ExecResult:
    """Run one program in a fresh sandbox and report how it ended.

    ``timeout_s`` is the wall-clock limit enforced by the parent; ``cpu_s`` (default: ``timeout_s`` rounded
    up, plus one) is the kernel's CPU-time limit; ``memory_mb`` bounds the address space. For Rust the
    program is a crate root compiled with ``rustc --edition E [-O] --test`` (``compile_timeout_s`` and
    ``compile_memory_mb`` apply to rustc) and its test binary is run with ``--test-threads=1``; a rustc
    failure is ``compile_error``. With ``isolate_network`` the child gets an empty network namespace when
    the platform allows it (``network_isolated`` in the result says whether it did); with ``isolate_fs``
    everything but the sample's temporary directory is read-only (``fs_isolated``). A PID namespace is
    used whenever one can be made (``pids_isolated``).
    """
    if language not in ("python", "rust"):
        raise ValueError(f"unsupported language {language!r} (python or rust)")
    rustc = require_rustc() if language == "rust" else None
    plan = namespace_plan(isolate_network, isolate_fs)
    cpu = cpu_s if cpu_s is not None else int(timeout_s) + 1
    start = time.monotonic()
    workdir = tempfile.mkdtemp(prefix="galla-sandbox-")
    limits = Limits(memory_mb, cpu, fsize_mb, nproc, plan, workdir)

    def result(status: Status, step: Step, detail: str) -> ExecResult:
        return ExecResult(
            status,
            step.returncode,
            step.stdout,
            step.stderr,
            time.monotonic() - start,
            plan.network,
            detail,
            fs_isolated=plan.fs,
            pids_isolated=plan.pids,
        )

    try:
        env = environment(workdir)
        if language == "python":
            Path(workdir, "main.py").write_text(source, encoding="utf-8")
            argv = [python or sys.executable, "-I", "main.py"]
            step = run_step(wrap(argv, plan), workdir, "run", timeout_s, limits, env)
        else:
            assert rustc is not None
            Path(workdir, "main.rs").write_text(source, encoding="utf-8")
            argv = [rustc, "--edition", rust_edition, *(["-O"] if rust_opt else []), "--test", "main.rs"]
            argv += ["-o", "main", "--crate-name", "sample"]
            compile_limits = Limits(compile_memory_mb, int(compile_timeout_s) + 1, 512, nproc, plan, workdir)
            cenv = environment(workdir, extra_path=str(Path(rustc).parent))
            build = run_step(wrap(argv, plan), workdir, "compile", compile_timeout_s, compile_limits, cenv)
            if build.error or build.timed_out or build.returncode != 0:
                status, detail = _classify(build, compile_memory_mb)
                if status in ("failed", "passed"):
                    status, detail = "compile_error", f"rustc: {detail}"
                else:
                    detail = f"rustc: {detail}"
                return result(status, build, detail)
            run_argv = wrap(["./main", "--test-threads=1"], plan)
            step = run_step(run_argv, workdir, "run", timeout_s, limits, env)
        status, detail = _classify(step, memory_mb)
        return result(status, step, detail)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run_many(
    programs: Iterable[str | Mapping[str, Any]], *, workers: int = 2, **defaults: Any
) -> list[ExecResult]:
    """Run several programs, at most ``workers`` at a time, and return their results in input order.

    Each item is a source string or a mapping with ``source`` and any :func:`run_program` keyword
    (overriding ``defaults``). Prints nothing; a sample that cannot even start is an ``error`` result.
    """
    jobs: list[dict[str, Any]] = []
    for item in programs:
        job = {**defaults, **({"source": item} if isinstance(item, str) else dict(item))}
        if "source" not in job:
            raise ValueError("each program needs a 'source'")
        jobs.append(job)
    if not jobs:
        return []
    if any(job.get("language") == "rust" for job in jobs):
        require_rustc()  # one clear error up front instead of one per sample
    for key in {(job.get("isolate_network", True), job.get("isolate_fs", True)) for job in jobs}:
        namespace_plan(*key)  # probe once before the threads start

    def one(job: dict[str, Any]) -> ExecResult:
        source = job.pop("source")
        try:
            return run_program(source, **job)
        except SandboxUnavailable:
            raise
        except Exception as exc:  # a sandbox bug must not lose the other samples' results
            return ExecResult("error", None, "", "", 0.0, False, f"{type(exc).__name__}: {exc}")

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(one, jobs))


__all__ = [
    "RUSTC_MISSING",
    "STATUSES",
    "ExecResult",
    "Language",
    "SandboxUnavailable",
    "Status",
    "find_rustc",
    "fs_isolation_available",
    "namespace_plan",
    "network_isolation_available",
    "network_namespace_flags",
    "pid_isolation_available",
    "require_rustc",
    "run_many",
    "run_program",
]
