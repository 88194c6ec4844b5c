"""Run untrusted generated programs (Python or Rust) outside the galla process.

Every sample gets:

- its own process, started with :mod:`subprocess` in a fresh temporary directory that is removed afterwards
  (the directory is also the child's cwd, ``HOME`` and ``TMPDIR``);
- its own session and process group: on a wall-clock timeout, and again after the main process exits, the
  whole group is killed with SIGKILL, so children it forked die with it (a child that calls ``setsid()``
  itself leaves the group and is not caught: there is no PID namespace);
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

There is no file-system isolation beyond the temporary cwd: a program that writes to an absolute path the
galla user may write to can do so (``RLIMIT_FSIZE`` bounds the size of each file).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import resource
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

Language = Literal["python", "rust"]
Status = Literal["passed", "failed", "timeout", "memory", "compile_error", "error"]
STATUSES: tuple[str, ...] = ("passed", "failed", "timeout", "memory", "compile_error", "error")

RUSTC_MISSING = "skipping the Rust direction: rustc not found; install Debian's rustc (apt-get install rustc)"

_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000
_TAIL = 4000  # characters of stdout / stderr kept in a result


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

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- network namespace ---------------------------------------------------------------------------------


@cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


def _unshare(flags: int) -> None:
    libc = _libc()
    if libc is None:
        raise OSError("unshare is not available on this platform")
    if libc.unshare(ctypes.c_int(flags)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _namespace_candidates() -> list[int]:
    flags = [_CLONE_NEWNET] if os.geteuid() == 0 else []
    return [*flags, _CLONE_NEWUSER | _CLONE_NEWNET]


@cache
def network_namespace_flags() -> int | None:
    """The ``unshare`` flags that put a child into a fresh network namespace here, or ``None`` when no
    variant works (not Linux, user namespaces disabled, seccomp in a container...). Probed once, in
    throw-away children, never in the galla process itself."""
    if _libc() is None:
        return None
    for flags in _namespace_candidates():
        try:
            proc = subprocess.run(
                [sys.executable, "-I", "-c", "pass"],
                preexec_fn=lambda f=flags: _unshare(f),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env={},
                timeout=30,
                check=False,
            )
        except (subprocess.SubprocessError, OSError):
            continue
        if proc.returncode == 0:
            return flags
    return None


def network_isolation_available() -> bool:
    return network_namespace_flags() is not None


# --- the child's setup -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Limits:
    memory_mb: int | None
    cpu_s: int | None
    fsize_mb: int | None
    nproc: int | None
    netns_flags: int | None

    def apply(self) -> None:
        """Runs in the forked child before exec (single-threaded there, so ``unshare`` may create a user
        namespace). Any exception makes ``Popen`` raise in the parent: the sample is reported as error."""
        if self.netns_flags is not None:
            _unshare(self.netns_flags)

        def setlimit(kind: int, value: int, slack: int = 0) -> None:
            _, hard = resource.getrlimit(kind)
            soft, new_hard = value, value + slack
            if hard != resource.RLIM_INFINITY:
                soft, new_hard = min(soft, hard), min(new_hard, hard)
            resource.setrlimit(kind, (soft, new_hard))

        setlimit(resource.RLIMIT_CORE, 0)
        if self.memory_mb is not None:
            setlimit(resource.RLIMIT_AS, self.memory_mb * 1024 * 1024)
        if self.cpu_s is not None:
            # SIGXCPU at the soft limit; at an equal hard limit the kernel would send SIGKILL instead
            setlimit(resource.RLIMIT_CPU, self.cpu_s, slack=1)
        if self.fsize_mb is not None:
            setlimit(resource.RLIMIT_FSIZE, self.fsize_mb * 1024 * 1024)
        if self.nproc is not None:
            setlimit(resource.RLIMIT_NPROC, self.nproc)


def _environment(workdir: str, extra_path: str = "") -> dict[str, str]:
    path = "/usr/local/bin:/usr/bin:/bin"
    return {
        "PATH": f"{extra_path}:{path}" if extra_path else path,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": workdir,
        "TMPDIR": workdir,
    }


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _tail(path: Path) -> str:
    try:
        with path.open("rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(0, size - 4 * _TAIL))
            data = fh.read()
    except OSError:
        return ""
    return data.decode("utf-8", errors="replace")[-_TAIL:]


@dataclass(frozen=True)
class _Step:
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool
    seconds: float
    error: str = ""


def _run_step(
    argv: list[str], workdir: str, name: str, timeout_s: float, limits: _Limits, env: dict[str, str]
) -> _Step:
    out_path, err_path = Path(workdir, f".{name}.stdout"), Path(workdir, f".{name}.stderr")
    start = time.monotonic()
    with out_path.open("wb") as out, err_path.open("wb") as err:
        try:
            proc = subprocess.Popen(
                argv,
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
                preexec_fn=limits.apply,
                close_fds=True,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return _Step(None, "", "", False, time.monotonic() - start, f"could not start: {exc}")
    timed_out = False
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        _kill_group(proc.pid)  # the session id is the child's pid; leftovers of a finished child die too
        proc.wait()
    return _Step(proc.returncode, _tail(out_path), _tail(err_path), timed_out, time.monotonic() - start)


def _memory_exhausted(step: _Step) -> bool:
    last = step.stderr.strip().splitlines()[-1:] or [""]
    return (
        last[0].startswith("MemoryError")
        or "memory allocation of" in step.stderr  # Rust's alloc error handler (then SIGABRT)
        or "Cannot allocate memory" in step.stderr
        or "std::bad_alloc" in step.stderr
    )


def _classify(step: _Step, memory_mb: int | None) -> tuple[Status, str]:
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
    the platform allows it (``network_isolated`` in the result says whether it did).
    """
    if language not in ("python", "rust"):
        raise ValueError(f"unsupported language {language!r} (python or rust)")
    rustc = require_rustc() if language == "rust" else None
    flags = network_namespace_flags() if isolate_network else None
    isolated = flags is not None
    cpu = cpu_s if cpu_s is not None else int(timeout_s) + 1
    limits = _Limits(memory_mb, cpu, fsize_mb, nproc, flags)
    start = time.monotonic()
    workdir = tempfile.mkdtemp(prefix="galla-sandbox-")
    try:
        env = _environment(workdir)
        if language == "python":
            Path(workdir, "main.py").write_text(source, encoding="utf-8")
            argv = [python or sys.executable, "-I", "main.py"]
            step = _run_step(argv, workdir, "run", timeout_s, limits, env)
        else:
            assert rustc is not None
            Path(workdir, "main.rs").write_text(source, encoding="utf-8")
            argv = [rustc, "--edition", rust_edition, *(["-O"] if rust_opt else []), "--test", "main.rs"]
            argv += ["-o", "main", "--crate-name", "sample"]
            compile_limits = _Limits(compile_memory_mb, int(compile_timeout_s) + 1, 512, nproc, flags)
            cenv = _environment(workdir, extra_path=str(Path(rustc).parent))
            build = _run_step(argv, workdir, "compile", compile_timeout_s, compile_limits, cenv)
            if build.error or build.timed_out or build.returncode != 0:
                status, detail = _classify(build, compile_memory_mb)
                if status in ("failed", "passed"):
                    status, detail = "compile_error", f"rustc: {detail}"
                else:
                    detail = f"rustc: {detail}"
                return ExecResult(
                    status,
                    build.returncode,
                    build.stdout,
                    build.stderr,
                    time.monotonic() - start,
                    isolated,
                    detail,
                )
            step = _run_step(["./main", "--test-threads=1"], workdir, "run", timeout_s, limits, env)
        status, detail = _classify(step, memory_mb)
        return ExecResult(
            status, step.returncode, step.stdout, step.stderr, time.monotonic() - start, isolated, detail
        )
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
    if any(job.get("isolate_network", True) for job in jobs):
        network_namespace_flags()  # probe once before the threads start

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
