"""``galla.eval.sandbox``: real subprocesses, real limits (each test runs a few short-lived children)."""

from __future__ import annotations

import socket
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from galla.eval.sandbox import (
    ExecResult,
    find_rustc,
    network_isolation_available,
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


def test_forked_children_are_killed_when_parent_exits():
    src = textwrap.dedent(
        """
        import os, time
        for _ in range(3):
            pid = os.fork()
            if pid == 0:
                time.sleep(1000)
                os._exit(0)
            print(pid, flush=True)
        """
    )
    res = run_program(src, timeout_s=10)
    assert res.status == "passed", res.stderr
    pids = [int(p) for p in res.stdout.split()]
    assert len(pids) == 3
    deadline = time.monotonic() + 3
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in pids)


def test_forked_children_are_killed_on_timeout():
    src = textwrap.dedent(
        """
        import os, time
        for _ in range(2):
            pid = os.fork()
            if pid == 0:
                time.sleep(1000)
                os._exit(0)
            print(pid, flush=True)
        time.sleep(1000)
        """
    )
    res = run_program(src, timeout_s=1.5)
    assert res.status == "timeout"
    pids = [int(p) for p in res.stdout.split()]
    assert len(pids) == 2
    deadline = time.monotonic() + 3
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in pids)


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
