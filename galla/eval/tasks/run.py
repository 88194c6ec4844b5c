"""``galla eval tasks``: generate (resumable, batched, shared with SURGE), score, tabulate.

Outputs in ``OUT``: ``responses.jsonl`` (one line per generated item, ``subset`` = the task name,
appended after every batch; a rerun skips what is there and refuses a file of another model),
``scores.jsonl`` (per item and metric), ``table.{json,csv,md}`` (mean, bootstrap 95% interval over items,
n, per task and metric) and ``chart.png``.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from galla.eval.generate import (
    RESPONSES_FILE,
    GenerationStats,
    check_chat_template,
    generate_missing,
    load_for_generation,
    model_label,
    read_finished,
    render_chat,
    resolve_model,
)
from galla.eval.tasks.base import Task, TaskExample, TaskSkipped, mean_and_interval, read_jsonl, task_data
from galla.run_layout import GraphLLMDir, RunDir

SETTING = "chat"
"""The ``setting`` of every responses line: the user turn through the chat template, no system prompt."""


def default_data_dir() -> Path:
    return Path(os.environ.get("GALLA_CACHE", Path.home() / ".cache" / "galla")).expanduser() / "eval-data"


def graph_llm_dir(spec: str) -> Path | None:
    """The GraphLLM directory behind ``spec`` (itself, its ``final/``, a multi-stage run's last stage's),
    or None: the graph probe needs the encoder, which ``export/`` does not hold."""
    path = Path(spec).expanduser()
    if not path.is_dir():
        return None
    if GraphLLMDir(path).exists():
        return path
    run = RunDir(path)
    if GraphLLMDir(run.final).exists():
        return run.final
    last = run.last_stage()
    return graph_llm_dir(str(last.path)) if last is not None else None


def write_task_data(out: Path, names: Sequence[str]) -> dict[str, Path]:
    """Build each task's splits into ``out/<task>/{train,test}.jsonl`` (once); their train files."""
    from galla.eval.tasks import get_task

    paths = {}
    for name in names:
        task = get_task(name)
        task_data(task, out)
        paths[name] = out / name / "train.jsonl"
    return paths


@dataclass
class TasksResult:
    model: str
    label: str
    out: Path
    table: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    """task -> metric -> {mean, lo, hi, n}"""
    generation: GenerationStats | None = None
    files: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def run_tasks(
    model_spec: str,
    names: Sequence[str],
    out_dir: str | Path,
    *,
    data_dir: str | Path | None = None,
    limit: int | None = None,
    batch_size: int = 8,
    max_new_tokens: int | None = None,
    device: str | None = None,
    dtype: str = "auto",
    name: str | None = None,
    chart: bool = True,
    progress: bool = True,
) -> TasksResult:
    """Evaluate ``model_spec`` on the tasks ``names`` (``limit``: the first N test items of each)."""
    from galla.eval.tasks import get_task

    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    tasks = [get_task(n) for n in dict.fromkeys(names)]
    data = Path(data_dir) if data_dir is not None else default_data_dir()
    model_id = resolve_model(model_spec)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = TasksResult(model_id, name or model_label(model_id), out)
    available = []
    for task in tasks:
        try:
            task.check_available()
            available.append(task)
        except TaskSkipped as skipped:
            result.notes.append(str(skipped))
    tasks = available
    examples: dict[str, list[TaskExample]] = {}
    for task in tasks:
        _, test = task_data(task, data)
        examples[task.name] = task.examples(test)[:limit]

    responses = out / RESPONSES_FILE
    done = read_finished(responses, model_id, SETTING)
    todo = [
        (task, ex)
        for task in tasks
        if task.generative
        for ex in examples[task.name]
        if (task.name, ex.index) not in done
    ]
    loaded = None
    if todo or any(not t.generative for t in tasks):
        loaded = load_for_generation(model_id, device, dtype)
    if todo:
        model, tokenizer = loaded
        check_chat_template(tokenizer, "galla eval tasks")
        requests = [
            (render_chat(tokenizer, ex.messages, task.name, ex.index), max_new_tokens or task.max_new_tokens)
            for task, ex in todo
        ]
        result.generation = generate_missing(
            model,
            tokenizer,
            requests,
            responses,
            model_id=model_id,
            setting=SETTING,
            batch_size=batch_size,
            title="tasks generate",
            show=progress,
        )
    replies: dict[tuple[str, int], str | None] = {}
    if responses.is_file():
        for rec in read_jsonl(responses):
            replies[(rec["subset"], int(rec["index"]))] = rec.get("response")

    rows: list[dict[str, Any]] = []
    for task in tasks:
        exs = examples[task.name]
        if task.generative:
            scored = task.score(
                exs,
                {ex.index: replies[(task.name, ex.index)] for ex in exs if (task.name, ex.index) in replies},
            )
        else:
            scored = _score_model_task(task, exs, loaded, model_spec, device, dtype, result)
        rows += [{"task": task.name, **r} for r in scored]
        result.table[task.name] = {
            m: mean_and_interval([r[m] for r in scored if m in r])
            for m in task.metrics
            if any(m in r for r in scored)
        }
    result.files = _write(result, rows, chart)
    return result


def _score_model_task(
    task: Task,
    exs: list[TaskExample],
    loaded: Any,
    spec: str,
    device: str | None,
    dtype: str,
    result: TasksResult,
) -> list[dict[str, Any]]:
    llm, tokenizer = loaded
    graph_llm = None
    source = graph_llm_dir(spec)
    if source is not None:
        from galla.model import GraphLLM

        graph_llm = GraphLLM.from_pretrained(
            source, device=llm.device, dtype=dtype if dtype != "auto" else None
        )
        graph_llm.eval()
    else:
        result.notes.append(
            f"{task.name}: {spec} has no GraphLLM directory (final/); text-only accuracy only"
        )
    return task.score_model(exs, llm, tokenizer, graph_llm)


def _write(result: TasksResult, rows: list[dict[str, Any]], chart: bool) -> dict[str, Path]:
    out = result.out
    files = {"responses": out / RESPONSES_FILE, "scores": out / "scores.jsonl"}
    with files["scores"].open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    payload = {"model": result.model, "name": result.label, "tasks": result.table, "notes": result.notes}
    files["json"] = out / "table.json"
    files["json"].write_text(json.dumps(payload, indent=2) + "\n")
    flat = [(t, m, v) for t, ms in result.table.items() for m, v in ms.items()]
    files["csv"] = out / "table.csv"
    with files["csv"].open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["model", "task", "metric", "mean", "ci95_lo", "ci95_hi", "n"])
        for t, m, v in flat:
            w.writerow([result.label, t, m, f"{v['mean']:.4f}", f"{v['lo']:.4f}", f"{v['hi']:.4f}", v["n"]])
    files["md"] = out / "table.md"
    lines = [
        f"# {result.label}\n",
        "| task | metric | mean | 95% CI (bootstrap over items) | n |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {t} | {m} | {_fmt(v['mean'], m)} | {_fmt(v['lo'], m)} – {_fmt(v['hi'], m)} | {v['n']} |"
        for t, m, v in flat
    ]
    files["md"].write_text("\n".join(lines + [""] + [f"- {n}" for n in result.notes]) + "\n")
    if chart and flat:
        files["chart"] = _chart(result, flat, out / "chart.png")
    return files


def _fmt(x: float, metric: str) -> str:
    return f"{100 * x:.1f}" if metric.startswith(("pass", "acc")) else f"{x:.2f}"


def _chart(result: TasksResult, flat: list, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{t}\n{m}" for t, m, _ in flat]
    scale = [100.0 if m.startswith(("pass", "acc")) else 1.0 for _, m, _ in flat]
    means = [v["mean"] * s for (_, _, v), s in zip(flat, scale, strict=True)]
    err = [
        [max(v["mean"] - v["lo"], 0) * s for (_, _, v), s in zip(flat, scale, strict=True)],
        [max(v["hi"] - v["mean"], 0) * s for (_, _, v), s in zip(flat, scale, strict=True)],
    ]
    fig, ax = plt.subplots(figsize=(1.6 * len(flat) + 2, 4))
    bars = ax.bar(range(len(flat)), means, yerr=err, capsize=4, color="#4c72b0")
    for bar, (_, _, v) in zip(bars, flat, strict=True):
        ax.annotate(
            f"n={v['n']}", (bar.get_x() + bar.get_width() / 2, 0), ha="center", va="bottom", fontsize=8
        )
    ax.set_xticks(range(len(flat)), labels, fontsize=8)
    ax.set_ylabel("score (0-100)")
    ax.set_title(f"galla eval tasks · {result.label} (95% bootstrap CI)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
