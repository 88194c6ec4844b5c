"""What a downstream task is: fixed train/test splits, chat prompts, and a scorer.

A task's examples are chats in the layout the downstream training data uses: the user message is the
record's ``human`` text and the reference is its ``bot`` text, so ``galla train`` with
``data.template: chat`` on a task's ``train.jsonl`` sees exactly what ``galla eval tasks`` asks.
Generated tasks are scored from the replies; likelihood tasks (the graph probe) score the model directly.
"""

from __future__ import annotations

import json
import math
import random
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class TaskExample:
    """One test item."""

    index: int
    human: str
    """The user message."""
    reference: str
    """The reference answer (``bot``)."""
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def messages(self) -> list[dict[str, str]]:
        return [{"role": "user", "content": self.human}]


class TaskSkipped(RuntimeError):
    """A task that cannot run here (e.g. ``translate_py2rs`` without rustc): ``run_tasks`` leaves it out and
    adds the message to its notes instead of failing the other tasks."""


class Task(ABC):
    """A downstream task. Subclasses set ``name``, ``metrics`` (the first is the headline) and
    ``max_new_tokens``, and build their splits from real code or installed data."""

    name: str
    metrics: tuple[str, ...]
    max_new_tokens: int = 128
    generative: bool = True

    def check_available(self) -> None:
        """Raise :class:`TaskSkipped` if this machine cannot score the task (checked before generation)."""
        return None

    @abstractmethod
    def build(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
        """``(train records, test records, provenance)``; records are ``human``/``bot`` dicts with an
        ``id`` and any fields the scorer needs (``train`` may be empty for a test-only benchmark)."""

    def examples(self, records: Sequence[Mapping[str, Any]]) -> list[TaskExample]:
        return [
            TaskExample(i, r["human"], r["bot"], {k: v for k, v in r.items() if k not in ("human", "bot")})
            for i, r in enumerate(records)
        ]

    @abstractmethod
    def score(
        self, examples: Sequence[TaskExample], responses: Mapping[int, str | None]
    ) -> list[dict[str, Any]]:
        """One dict per example that has a response: ``index`` and a value per metric (0..1 or 0..100)."""


def seeded_order(items: list, seed: int = 0) -> list:
    """A fixed shuffle, so ``--limit N`` takes a spread of sources rather than the first package."""
    out = list(items)
    random.Random(seed).shuffle(out)
    return out


# --- the task data folder -----------------------------------------------------------------------------

MANIFEST = "manifest.json"


def write_jsonl(path: Path, records: Sequence[Mapping[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    tmp.replace(path)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def task_data(task: Task, data_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The task's splits from ``data_dir/<task>/{train,test}.jsonl``, built and written on first use."""
    folder = data_dir / task.name
    train, test = folder / "train.jsonl", folder / "test.jsonl"
    if not (train.is_file() and test.is_file() and (folder / MANIFEST).is_file()):
        tr, te, provenance = task.build()
        write_jsonl(train, tr)
        write_jsonl(test, te)
        manifest = {"task": task.name, "train": len(tr), "test": len(te), **provenance}
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return read_jsonl(train), read_jsonl(test)


def mean_and_interval(values: Sequence[float], *, resamples: int = 2000, seed: int = 0) -> dict[str, float]:
    """Mean with a percentile-bootstrap 95% interval over items."""
    import numpy as np

    x = np.asarray(values, dtype=float)
    if not len(x):
        return {"mean": math.nan, "lo": math.nan, "hi": math.nan, "n": 0}
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(resamples, len(x)))].mean(axis=1)
    return {
        "mean": float(x.mean()),
        "lo": float(np.percentile(means, 2.5)),
        "hi": float(np.percentile(means, 97.5)),
        "n": len(x),
    }
