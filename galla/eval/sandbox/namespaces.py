"""The sandbox's isolation, as set up in the child before it runs a sample: which namespaces it gets
(:func:`plans`, probed by :func:`galla.eval.sandbox.runner.namespace_plan`), the read-only file system
(:func:`isolate_fs`) and the tiny init that is pid 1 of the sample's PID namespace (:func:`wrap`).
Nothing here runs in the galla process itself except the one-off probes."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

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


@cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


def unshare(flags: int) -> None:
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
                preexec_fn=lambda f=flags: unshare(f),
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


def isolate_fs(workdir: str) -> None:
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
class Plan:
    """The namespaces a child is put into: ``flags`` for ``unshare``, and what they give."""

    flags: int
    network: bool
    fs: bool
    pids: bool


def wrap(argv: list[str], plan: Plan) -> list[str]:
    if not plan.pids:
        return argv
    return [sys.executable, "-I", "-S", "-c", _INIT, "1" if plan.fs else "0", *argv]


def plans(network: bool = True, fs: bool = True) -> list[Plan]:
    """The isolation variants to try, strongest first: a new network namespace when ``network`` (see
    :func:`network_namespace_flags`), a read-only file system when ``fs``, and a PID namespace whenever
    possible. The last one (no PID or mount namespace) needs no probe."""
    netflags = network_namespace_flags() if network else None
    base = netflags or 0
    out = []
    if _libc() is not None:
        user = base & _CLONE_NEWUSER if base else (0 if os.geteuid() == 0 else _CLONE_NEWUSER)
        for want_fs in [True, False] if fs else [False]:
            flags = base | user | _CLONE_NEWPID | (_CLONE_NEWNS if want_fs else 0)
            out.append(Plan(flags, netflags is not None, want_fs, True))
    out.append(Plan(base, netflags is not None, False, False))
    return out
