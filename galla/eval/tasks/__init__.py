"""Downstream evaluation (``galla eval tasks``): fixed splits of real code, generation shared with SURGE,
official-style metrics, tables.

Tasks by name (:func:`get_task`): ``humaneval`` (code generation, pass@1 by sandboxed execution),
``summarize`` (docstring generation, smoothed BLEU-4 and ROUGE-L), ``graph_probe`` (GraphQA answered by
likelihood, with the real graph, a shuffled one, and none), ``repair`` (fix one injected, behaviour-changing
bug; pass and exact match), ``translate_rs2py`` / ``translate_py2rs`` (HumanEval's Rust/Python pairs, pass@1
by executing the target language's tests; test-only). A task that cannot run here (``translate_py2rs``
without rustc) raises ``TaskSkipped`` and ``run_tasks`` reports it as a note.
Each task's train split is downstream data for ``galla train`` (``human``/``bot`` JSONL, written by
:func:`write_task_data`); its test split is disjoint from every train split (split by source package,
deduplicated by normalised source).
"""

from __future__ import annotations

from galla.eval.tasks.base import Task, TaskExample, TaskSkipped, task_data
from galla.eval.tasks.run import TasksResult, run_tasks, write_task_data

__all__ = [
    "Task",
    "TaskExample",
    "TaskSkipped",
    "TasksResult",
    "get_task",
    "run_tasks",
    "task_data",
    "write_task_data",
]


def _registry() -> dict[str, type[Task]]:
    from galla.eval.tasks.codegen import HumanEval
    from galla.eval.tasks.probe import GraphProbe
    from galla.eval.tasks.repair import Repair
    from galla.eval.tasks.summarize import Summarize
    from galla.eval.tasks.translate import TranslatePy2Rs, TranslateRs2Py

    return {t.name: t for t in (HumanEval, Summarize, GraphProbe, Repair, TranslateRs2Py, TranslatePy2Rs)}


def get_task(name: str) -> Task:
    """The task called ``name``; unknown names raise ``ValueError`` listing the known ones."""
    registry = _registry()
    if name not in registry:
        raise ValueError(f"unknown task {name!r}; choose from {', '.join(registry)}")
    return registry[name]()
