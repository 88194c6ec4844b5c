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
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
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

_CLONE_NEWNS = 0x00020000
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWPID = 0x20000000
_CLONE_NEWNET = 0x40000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
_MS_REMOUNT, _MS_NOATIME, _MS_NODIRATIME, _MS_BIND = 0x20, 0x400, 0x800, 0x1000
_MS_REC, _MS_PRIVATE, _MS_RELATIME, _MS_STRICTATIME = 0x4000, 0x40000, 0x200000, 0x1000000
_MOUNT_ATTR_RDONLY, _MOUNT_ATTR_NOSUID = 0x1, 0x2
_AT_FDCWD, _AT_RECURSIVE = -100, 0x8000
_SYS_MOUNT_SETATTR = 442  # the same number on every architecture but alpha (Linux >= 5.12)
_DEVICES = ("null", "zero", "full", "random", "urandom")
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
    fs_isolated: bool = False
    pids_isolated: bool = False

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


# --- mount and PID namespaces ----------------------------------------------------------------------------


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    libc = _libc()
    if libc is None:
        raise OSError("mount is not available on this platform")
    enc = [None if v is None else os.fsencode(v) for v in (source, target, fstype, data)]
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    _check(libc.mount(enc[0], enc[1], enc[2], flags, enc[3]), f"mount {target}")


def _mount_setattr(path: str, flags: int, attr_set: int, attr_clr: int) -> None:
    libc = _libc()
    if libc is None:
        raise OSError("mount_setattr is not available on this platform")
    attr = _MountAttr(attr_set, attr_clr, 0, 0)
    ret = libc.syscall(
        ctypes.c_long(_SYS_MOUNT_SETATTR),
        ctypes.c_int(_AT_FDCWD),
        ctypes.c_char_p(os.fsencode(path)),
        ctypes.c_uint(flags),
        ctypes.byref(attr),
        ctypes.c_size_t(ctypes.sizeof(attr)),
    )
    _check(ret, f"mount_setattr {path}")


def _unescape(field: str) -> str:
    # mountinfo writes space, tab, newline and backslash as octal escapes (backslash, three digits)
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


_MOUNT_OPTION_FLAGS = {
    "nosuid": _MS_NOSUID,
    "nodev": _MS_NODEV,
    "noexec": _MS_NOEXEC,
    "noatime": _MS_NOATIME,
    "nodiratime": _MS_NODIRATIME,
    "relatime": _MS_RELATIME,
    "strictatime": _MS_STRICTATIME,
}


def _remount_all_readonly(keep: str) -> None:
    """The pre-5.12 way: remount every mount point read-only (keeping its other per-mount flags, which a
    user namespace may not clear), parents before children as mountinfo lists them."""
    lines = Path("/proc/self/mountinfo").read_text().splitlines()
    for line in lines:
        fields = line.split()
        target, options = _unescape(fields[4]), fields[5].split(",")
        if target == keep:
            continue
        flags = _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOSUID
        for opt in options:
            flags |= _MOUNT_OPTION_FLAGS.get(opt, 0)
        try:
            _mount(None, target, None, flags)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.EACCES) and not os.path.exists(target):
                continue  # a mount point shadowed by a later mount, or under a removed directory
            raise


def _isolate_fs(workdir: str) -> None:
    """In the child, after ``unshare(CLONE_NEWNS)``: everything read-only except ``workdir``."""
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE)
    # a minimal /dev: bind mounts of the harmless character devices onto files in a fresh tmpfs
    fds = {}
    for name in _DEVICES:
        with contextlib.suppress(OSError):
            fds[name] = os.open(f"/dev/{name}", os.O_PATH | os.O_CLOEXEC)
    try:
        _mount("tmpfs", "/dev", "tmpfs", _MS_NOSUID | _MS_NOEXEC, "mode=755,size=64k")
        for name, fd in fds.items():
            os.close(os.open(f"/dev/{name}", os.O_CREAT | os.O_WRONLY, 0o666))
            _mount(f"/proc/self/fd/{fd}", f"/dev/{name}", None, _MS_BIND)
    finally:
        for fd in fds.values():
            os.close(fd)
    for link, dest in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0")):
        os.symlink(dest, f"/dev/{link}")
    os.symlink("/proc/self/fd/1", "/dev/stdout")
    os.symlink("/proc/self/fd/2", "/dev/stderr")
    _mount(workdir, workdir, None, _MS_BIND)
    try:
        _mount_setattr("/", _AT_RECURSIVE, _MOUNT_ATTR_RDONLY | _MOUNT_ATTR_NOSUID, 0)
    except OSError as exc:
        if exc.errno not in (errno.ENOSYS, errno.EINVAL):
            raise
        _remount_all_readonly(keep=workdir)
        _mount(None, workdir, None, _MS_REMOUNT | _MS_BIND | _MS_NOSUID)
    else:
        _mount_setattr(workdir, 0, 0, _MOUNT_ATTR_RDONLY)
    os.chdir(workdir)  # Popen changed into it before the bind mount: step onto the writable mount


# Runs as ``python3 -I -S -c _INIT MOUNT_PROC PROGRAM...`` in the child's new namespaces. Its first child is
# pid 1 of the new PID namespace: it mounts a fresh read-only /proc (MOUNT_PROC = 1), drops all
# capabilities from the bounding set, sets no_new_privs and forks the program (in a session of its own) as
# pid 2; when the program ends, pid 1 sends its wait status up a pipe and exits, and the kernel kills all
# that is left in the namespace. The outer process then ends the way the program did (the same exit code,
# or the same signal), so the parent sees the program's status. Under uid 0 a failed step is fatal (125).
_INIT = r"""
import ctypes, os, signal, sys
mount_proc, argv = sys.argv[1] == "1", sys.argv[2:]
r, w = os.pipe()
pid1 = os.fork()
if pid1 == 0:
    os.close(r)
    libc = ctypes.CDLL(None, use_errno=True)
    strict = os.geteuid() == 0
    def fail(what):
        if strict:
            err = ctypes.get_errno()
            os.write(2, f"galla sandbox init: {what}: {os.strerror(err)}\n".encode())
            os._exit(125)
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    if mount_proc:
        libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
        if libc.mount(b"proc", b"/proc", b"proc", 0x1 | 0x2 | 0x4 | 0x8, None) != 0:
            fail("mount /proc")
    last = int(open("/proc/sys/kernel/cap_last_cap").read())
    for cap in range(last + 1):
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            fail(f"drop capability {cap}")
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        fail("no_new_privs")
    prog = os.fork()
    if prog == 0:
        os.setsid()
        for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)
        try:
            os.execvp(argv[0], argv)
        except OSError as exc:
            os.write(2, f"galla sandbox init: cannot run {argv[0]}: {exc}\n".encode())
        os._exit(127)
    while True:
        try:
            done, status = os.wait()
        except ChildProcessError:
            os._exit(125)
        except InterruptedError:
            continue
        if done == prog:
            os.write(w, str(status).encode())
            os._exit(0)
os.close(w)
data = b""
while chunk := os.read(r, 64):
    data += chunk
os.waitpid(pid1, 0)
if not data:
    os._exit(125)
status = int(data)
if os.WIFSIGNALED(status):
    sig = os.WTERMSIG(status)
    if sig not in (signal.SIGKILL, signal.SIGSTOP):
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [sig])
    os.kill(os.getpid(), sig)
os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 125)
"""


@dataclass(frozen=True)
class _Plan:
    """The namespaces a child is put into: ``flags`` for ``unshare``, and what they give."""

    flags: int
    network: bool
    fs: bool
    pids: bool


def _wrap(argv: list[str], plan: _Plan) -> list[str]:
    if not plan.pids:
        return argv
    return [sys.executable, "-I", "-S", "-c", _INIT, "1" if plan.fs else "0", *argv]


def _probe(plan: _Plan) -> bool:
    workdir = tempfile.mkdtemp(prefix="galla-sandbox-probe-")
    try:
        check = "open('ok', 'w').write('1')\n"
        if plan.fs:  # the parent directory must be read-only (a new file there would fail the probe)
            check += "try:\n    open('../galla-probe', 'x').close()\nexcept OSError:\n    pass\n"
            check += "else:\n    raise SystemExit(3)\n"
        step = _run_step(
            _wrap([sys.executable, "-I", "-S", "-c", check], plan),
            workdir,
            "probe",
            30.0,
            _Limits(None, None, None, None, plan, workdir),
            {},
        )
        return step.returncode == 0 and Path(workdir, "ok").exists()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@cache
def namespace_plan(network: bool = True, fs: bool = True) -> _Plan:
    """The strongest isolation that works here (probed once per argument pair, in throw-away children):
    a new network namespace when ``network`` (see :func:`network_namespace_flags`), a read-only file system
    when ``fs``, and a PID namespace whenever possible; weaker variants are tried in turn."""
    netflags = network_namespace_flags() if network else None
    base = netflags or 0
    if _libc() is not None:
        user = base & _CLONE_NEWUSER if base else (0 if os.geteuid() == 0 else _CLONE_NEWUSER)
        for want_fs in ([True, False] if fs else [False]):
            flags = base | user | _CLONE_NEWPID | (_CLONE_NEWNS if want_fs else 0)
            plan = _Plan(flags, netflags is not None, want_fs, True)
            if _probe(plan):
                return plan
    return _Plan(base, netflags is not None, False, False)


def fs_isolation_available() -> bool:
    return namespace_plan(True, True).fs


def pid_isolation_available() -> bool:
    return namespace_plan(True, True).pids


# --- the child's setup -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Limits:
    memory_mb: int | None
    cpu_s: int | None
    fsize_mb: int | None
    nproc: int | None
    plan: _Plan
    workdir: str

    def apply(self) -> None:
        """Runs in the forked child before exec (single-threaded there, so ``unshare`` may create a user
        namespace). Any exception makes ``Popen`` raise in the parent: the sample is reported as error."""
        if self.plan.flags:
            _unshare(self.plan.flags)
        if self.plan.fs:
            _isolate_fs(self.workdir)

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
    limits = _Limits(memory_mb, cpu, fsize_mb, nproc, plan, workdir)

    def result(status: Status, step: _Step, detail: str) -> ExecResult:
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
        env = _environment(workdir)
        if language == "python":
            Path(workdir, "main.py").write_text(source, encoding="utf-8")
            argv = [python or sys.executable, "-I", "main.py"]
            step = _run_step(_wrap(argv, plan), workdir, "run", timeout_s, limits, env)
        else:
            assert rustc is not None
            Path(workdir, "main.rs").write_text(source, encoding="utf-8")
            argv = [rustc, "--edition", rust_edition, *(["-O"] if rust_opt else []), "--test", "main.rs"]
            argv += ["-o", "main", "--crate-name", "sample"]
            compile_limits = _Limits(compile_memory_mb, int(compile_timeout_s) + 1, 512, nproc, plan, workdir)
            cenv = _environment(workdir, extra_path=str(Path(rustc).parent))
            build = _run_step(_wrap(argv, plan), workdir, "compile", compile_timeout_s, compile_limits, cenv)
            if build.error or build.timed_out or build.returncode != 0:
                status, detail = _classify(build, compile_memory_mb)
                if status in ("failed", "passed"):
                    status, detail = "compile_error", f"rustc: {detail}"
                else:
                    detail = f"rustc: {detail}"
                return result(status, build, detail)
            run_argv = _wrap(["./main", "--test-threads=1"], plan)
            step = _run_step(run_argv, workdir, "run", timeout_s, limits, env)
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
