"""``galla.eval.sandbox``: real subprocesses, real limits (each test runs a few short-lived children)."""

from __future__ import annotations

import errno
import os
import signal
import socket
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from galla.eval.sandbox import (
    ExecResult,
    find_rustc,
    fs_isolation_available,
    namespaces,
    network_isolation_available,
    pid_isolation_available,
    run_many,
    run_program,
)

needs_netns = pytest.mark.skipif(
    not network_isolation_available(), reason="no network namespace here (unshare CLONE_NEWNET refused)"
)
needs_rustc = pytest.mark.skipif(find_rustc() is None, reason="rustc not found; install Debian's rustc")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_pass_fail_and_output():
    ok = run_program("print('hello')")
    assert isinstance(ok, ExecResult) and ok.status == "passed" and ok.returncode == 0
    assert ok.stdout == "hello\n" and ok.passed
    bad = run_program("import sys\nprint('oops', file=sys.stderr)\nassert 1 == 2")
    assert bad.status == "failed" and bad.returncode == 1 and "AssertionError" in bad.stderr
    assert "oops" in bad.stderr and not bad.passed


def test_isolated_interpreter_empty_environment_and_no_stdin(monkeypatch):
    monkeypatch.setenv("GALLA_SECRET_TOKEN", "s3cret")
    src = textwrap.dedent(
        """
        import os, sys
        assert sys.flags.isolated == 1
        assert "GALLA_SECRET_TOKEN" not in os.environ, os.environ
        print(sorted(os.environ))
        try:
            input()
        except EOFError:
            print("no stdin")
        """
    )
    res = run_program(src)
    assert res.status == "passed", res.stderr
    assert "no stdin" in res.stdout


def test_infinite_loop_is_killed_as_timeout():
    start = time.monotonic()
    res = run_program("while True:\n    pass\n", timeout_s=1.5)
    assert res.status == "timeout" and not res.passed
    assert time.monotonic() - start < 6


def test_cpu_limit_reports_timeout():
    # the wall clock allows 10 s but the kernel stops the busy loop after 1 s of CPU (SIGXCPU)
    res = run_program("while True:\n    pass\n", timeout_s=10, cpu_s=1)
    assert res.status == "timeout" and "SIGXCPU" in res.detail


def test_unbounded_allocation_is_stopped():
    res = run_program("x = []\nwhile True:\n    x.append(' ' * 10**7)\n", memory_mb=200, timeout_s=20)
    assert res.status in ("memory", "failed"), res
    assert res.status == "memory", res.detail  # MemoryError under RLIMIT_AS


def _marked(marker: str) -> list[int]:
    """Host pids of live processes whose command line contains ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline and _alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def _none_left(marker: str, wait_s: float = 3.0) -> bool:
    deadline = time.monotonic() + wait_s
    while _marked(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _marked(marker)


# a child that runs ``python -c 'sleep'`` with the marker on its command line
SLEEPER = "os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(1000)', {marker!r}])"


def test_forked_children_are_killed_when_parent_exits():
    marker = f"galla-fork-{uuid.uuid4().hex}"
    src = textwrap.dedent(
        f"""
        import os, sys
        for _ in range(3):
            if os.fork() == 0:
                {SLEEPER.format(marker=marker)}
        print("forked", flush=True)
        """
    )
    res = run_program(src, timeout_s=10)
    assert res.status == "passed", res.stderr
    assert _none_left(marker)


def test_forked_children_are_killed_on_timeout():
    marker = f"galla-fork-{uuid.uuid4().hex}"
    src = textwrap.dedent(
        f"""
        import os, sys, time
        for _ in range(2):
            if os.fork() == 0:
                {SLEEPER.format(marker=marker)}
        time.sleep(1000)
        """
    )
    res = run_program(src, timeout_s=1.5)
    assert res.status == "timeout"
    assert _none_left(marker)


@pytest.mark.skipif(not pid_isolation_available(), reason="no PID namespace here")
@pytest.mark.parametrize("timeout", [False, True])
def test_setsid_double_fork_escapees_are_killed(timeout):
    marker = f"galla-escape-{uuid.uuid4().hex}"
    src = textwrap.dedent(
        f"""
        import os, sys, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                {SLEEPER.format(marker=marker)}
            os._exit(0)
        os.wait()
        time.sleep(0.5)  # the grandchild has exec'd by now
        print("escaped", flush=True)
        {"time.sleep(1000)" if timeout else ""}
        """
    )
    res = run_program(src, timeout_s=2.0 if timeout else 10)
    assert res.pids_isolated is True
    assert res.status == ("timeout" if timeout else "passed"), res.stderr
    assert "escaped" in res.stdout
    assert _none_left(marker)


def test_exit_status_and_signals_pass_through_the_init():
    assert run_program("raise SystemExit(7)").returncode == 7
    killed = run_program("import os, signal\nos.kill(os.getpid(), signal.SIGTERM)\n")
    assert killed.returncode == -signal.SIGTERM and killed.status == "failed"


needs_fs = pytest.mark.skipif(not fs_isolation_available(), reason="no mount namespace here")


@needs_fs
def test_writes_outside_the_temp_dir_fail(tmp_path):
    target = tmp_path / "fresh"
    target.mkdir()
    src = f"open({str(target / 'owned.txt')!r}, 'w').write('pwned')\n"
    res = run_program(src)
    assert res.fs_isolated is True
    assert res.status == "failed" and "Read-only file system" in res.stderr
    assert not (target / "owned.txt").exists() and list(target.iterdir()) == []
    # the same sample without the isolation really writes there (the control)
    loose = run_program(src, isolate_fs=False)
    assert loose.status == "passed" and loose.fs_isolated is False
    assert (target / "owned.txt").read_text() == "pwned"


@needs_fs
def test_removing_a_file_outside_fails(tmp_path):
    victim = tmp_path / "precious.bin"
    data = os.urandom(4096)
    victim.write_bytes(data)
    src = textwrap.dedent(
        f"""
        import os, shutil
        for attempt in (lambda: os.remove({str(victim)!r}), lambda: shutil.rmtree({str(tmp_path)!r})):
            try:
                attempt()
            except OSError as exc:
                print(type(exc).__name__, exc.errno)
            else:
                print("removed")
        open({str(victim)!r}, "r+b").write(b"x")
        """
    )
    res = run_program(src)
    assert res.status == "failed" and "removed" not in res.stdout, res.stdout
    assert "Read-only file system" in res.stderr
    assert victim.read_bytes() == data


@needs_fs
def test_per_mount_remount_fallback_without_mount_setattr(tmp_path, monkeypatch):
    # kernels before 5.12 have no mount_setattr: every mountinfo line is remounted read-only instead
    def enosys(*args, **kwargs):
        raise OSError(errno.ENOSYS, "mount_setattr forced off")

    monkeypatch.setattr(namespaces, "_mount_setattr", enosys)  # the forked child sees the patched module
    src = f"open('mine', 'w').write('1')\nopen({str(tmp_path / 'x')!r}, 'w')\n"
    res = run_program(src)
    assert res.status == "failed" and "Read-only file system" in res.stderr, res.stderr
    assert res.stderr.count("Read-only") == 1 and list(tmp_path.iterdir()) == []


@needs_fs
def test_cwd_stays_writable_and_devices_work():
    src = textwrap.dedent(
        """
        import os, subprocess
        open("out.txt", "w").write("x" * 1000)
        os.mkdir("sub")
        open("sub/y", "w").write("y")
        os.remove("out.txt")
        open("/dev/null", "w").write("ignored")
        assert len(open("/dev/urandom", "rb").read(16)) == 16
        print(sorted(os.listdir(".")))
        print(sorted(os.listdir("/dev")))
        print(sorted(p for p in os.listdir("/proc") if p.isdigit()))
        r = subprocess.run(["mount", "-o", "remount,rw", "/"], capture_output=True)
        print("remount", r.returncode)
        """
    )
    res = run_program(src)
    assert res.status == "passed", res.stderr
    lines = res.stdout.splitlines()
    assert "'sub'" in lines[0] and "out.txt" not in lines[0]
    assert "vda" not in lines[1] and "'null'" in lines[1] and "'urandom'" in lines[1]
    assert lines[2] == "['1', '2']"  # only the sample's own processes: the init and the sample
    assert lines[3] != "remount 0"


@pytest.fixture
def listener():
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    yield srv.getsockname()[1]
    srv.close()


CONNECT = (
    "import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=3).close()\nprint('connected')\n"
)


def test_connect_to_host_loopback_works_without_isolation(listener):
    # the control: the same sample reaches the parent's listener when the namespace is not used
    res = run_program(CONNECT.format(port=listener), isolate_network=False)
    assert res.status == "passed" and "connected" in res.stdout
    assert res.network_isolated is False


@needs_netns
def test_network_namespace_blocks_loopback_and_dns(listener):
    res = run_program(CONNECT.format(port=listener))
    assert res.network_isolated is True
    assert res.status == "failed" and "connected" not in res.stdout
    assert "OSError" in res.stderr or "ConnectionRefusedError" in res.stderr
    dns = run_program("import socket\nprint(socket.getaddrinfo('example.com', 80))\n")
    assert dns.status == "failed" and "gaierror" in dns.stderr


def test_files_stay_in_the_removed_temp_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    src = textwrap.dedent(
        """
        import os, tempfile
        open("out.txt", "w").write("x" * 100)
        with open(os.path.join(tempfile.gettempdir(), "tmp.txt"), "w") as fh:
            fh.write("y")
        print(os.getcwd())
        print(tempfile.gettempdir())
        """
    )
    res = run_program(src)
    assert res.status == "passed", res.stderr
    cwd, tmp = res.stdout.split()
    assert cwd == tmp and Path(cwd).name.startswith("galla-sandbox-")
    assert Path(cwd).parent == Path(tempfile.gettempdir())
    assert not Path(cwd).exists()
    assert list(tmp_path.iterdir()) == []


def test_file_size_limit():
    res = run_program("open('big', 'w').write('x' * (3 * 1024 * 1024))\n", fsize_mb=1)
    assert res.status == "failed"


def test_run_many_bounded_pool_in_order():
    programs = [f"import time\ntime.sleep(0.6)\nprint({i})" for i in range(4)]
    programs.append({"source": "while True: pass", "timeout_s": 1.0})
    start = time.monotonic()
    results = run_many(programs, workers=2, timeout_s=5)
    elapsed = time.monotonic() - start
    assert [r.stdout.strip() for r in results[:4]] == ["0", "1", "2", "3"]
    assert all(r.status == "passed" for r in results[:4]) and results[4].status == "timeout"
    assert 1.1 < elapsed < 6  # two at a time: at least two rounds of 0.6 s


def test_unknown_language():
    with pytest.raises(ValueError):
        run_program("x", language="cobol")  # type: ignore[arg-type]


RUST_OK = """
fn add(a: i32, b: i32) -> i32 { a + b }
#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn t() { assert_eq!(add(2, 3), 5); }
}
"""


@needs_rustc
def test_rust_compile_run_and_errors():
    ok = run_program(RUST_OK, language="rust", rust_opt=False)
    assert ok.status == "passed", ok.stderr
    assert "1 passed" in ok.stdout
    wrong = run_program(RUST_OK.replace("a + b", "a - b"), language="rust", rust_opt=False)
    assert wrong.status == "failed" and wrong.returncode == 101
    broken = run_program(RUST_OK.replace("a + b", "a + "), language="rust", rust_opt=False)
    assert broken.status == "compile_error" and "error" in broken.stderr
    loop = RUST_OK.replace("a + b", "loop {}")
    assert run_program(loop, language="rust", rust_opt=False, timeout_s=1.5).status == "timeout"
