"""Running one step of a sample (the program, or rustc): a child process in its own session with the
rlimits and namespaces of its :class:`Limits`, stdout and stderr to files, a wall-clock timeout that
kills the whole process group; and :func:`namespace_plan`, the strongest isolation that works here."""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from galla.eval.sandbox.namespaces import Plan, isolate_fs, plans, unshare, wrap

_TAIL = 4000  # characters of stdout / stderr kept in a result


@dataclass(frozen=True)
class Limits:
    memory_mb: int | None
    cpu_s: int | None
    fsize_mb: int | None
    nproc: int | None
    plan: Plan
    workdir: str

    def apply(self) -> None:
        """Runs in the forked child before exec (single-threaded there, so ``unshare`` may create a user
        namespace). Any exception makes ``Popen`` raise in the parent: the sample is reported as error."""
        if self.plan.flags:
            unshare(self.plan.flags)
        if self.plan.fs:
            isolate_fs(self.workdir)

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


def environment(workdir: str, extra_path: str = "") -> dict[str, str]:
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
class Step:
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool
    seconds: float
    error: str = ""


def run_step(
    argv: list[str], workdir: str, name: str, timeout_s: float, limits: Limits, env: dict[str, str]
) -> Step:
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
            return Step(None, "", "", False, time.monotonic() - start, f"could not start: {exc}")
    timed_out = False
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        _kill_group(proc.pid)  # the session id is the child's pid; leftovers of a finished child die too
        proc.wait()
    return Step(proc.returncode, _tail(out_path), _tail(err_path), timed_out, time.monotonic() - start)


def _probe(plan: Plan) -> bool:
    workdir = tempfile.mkdtemp(prefix="galla-sandbox-probe-")
    try:
        check = "open('ok', 'w').write('1')\n"
        if plan.fs:  # the parent directory must be read-only (a new file there would fail the probe)
            check += "try:\n    open('../galla-probe', 'x').close()\nexcept OSError:\n    pass\n"
            check += "else:\n    raise SystemExit(3)\n"
        step = run_step(
            wrap([sys.executable, "-I", "-S", "-c", check], plan),
            workdir,
            "probe",
            30.0,
            Limits(None, None, None, None, plan, workdir),
            {},
        )
        return step.returncode == 0 and Path(workdir, "ok").exists()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@cache
def namespace_plan(network: bool = True, fs: bool = True) -> Plan:
    """The strongest isolation that works here (probed once per argument pair, in throw-away children):
    the first of :func:`~galla.eval.sandbox.namespaces.plans` whose probe passes."""
    *tried, fallback = plans(network, fs)
    return next((plan for plan in tried if _probe(plan)), fallback)


def fs_isolation_available() -> bool:
    return namespace_plan(True, True).fs


def pid_isolation_available() -> bool:
    return namespace_plan(True, True).pids
