"""The SURGE results table: 15 columns, the paper's average, writers and a bar chart.

Columns and average follow the official ``eval/tab.py`` (reference ``surge.md`` §3, "Aggregation"):
ML is split by language into CPP, Rust, Java, Python, Julia and Others (C + C#), BG into CPP, Java and
Python; a column is mean(item score) × 100; **Avg is the mean of the 15 columns leaving out every column
that is exactly 0**, which reproduces all 63 published rows (so ML and BG weigh 6 and 3 "votes").

galla additionally marks a column that had no scored item as None ("n/a"); the official code prints
such a column as 0.00, and either way it is left out of Avg.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from galla.eval.surge.paper import PAPER_CITATION, PaperRow

__all__ = [
    "COLUMNS",
    "ColumnScores",
    "TableRow",
    "format_markdown",
    "paper_average",
    "plot_bars",
    "write_csv",
    "write_json",
    "write_markdown",
]

COLUMNS: tuple[str, ...] = (
    "ML-CPP",
    "ML-Rust",
    "ML-Java",
    "ML-Python",
    "ML-Julia",
    "ML-Others",
    "CL",
    "RL",
    "SC",
    "TC",
    "BG-CPP",
    "BG-Java",
    "BG-Python",
    "DR",
    "FL",
)


def paper_average(values: Iterable[float | None]) -> float:
    """The paper's Avg: mean of the values that are neither None nor exactly 0; 0 if none is left."""
    kept = [v for v in values if v is not None and v != 0]
    return sum(kept) / len(kept) if kept else 0.0


@dataclass(frozen=True)
class TableRow:
    """One table row: a score in percent per column (None: nothing scored), and its Avg."""

    name: str
    scores: Mapping[str, float | None]
    avg: float
    source: str = "galla"
    """``galla`` for a scored run, ``paper`` for a published row."""
    setting: str | None = None
    """Prompt setting (``0shot``, ``cot``, ``3shot``) when known."""
    counts: Mapping[str, int] = field(default_factory=dict)
    """Items scored per column (galla rows only)."""

    @classmethod
    def from_scores(
        cls,
        name: str,
        scores: Mapping[str, float | None],
        *,
        setting: str | None = None,
        counts: Mapping[str, int] | None = None,
    ) -> TableRow:
        """A row whose Avg is computed with ``paper_average`` over ``COLUMNS``."""
        unknown = sorted(set(scores) - set(COLUMNS))
        if unknown:
            raise ValueError(f"unknown SURGE column(s) {unknown}; columns are {', '.join(COLUMNS)}")
        full = {c: scores.get(c) for c in COLUMNS}
        return cls(name, full, paper_average(full.values()), "galla", setting, dict(counts or {}))

    @classmethod
    def from_paper(cls, row: PaperRow) -> TableRow:
        """A published row, keeping the paper's own Avg."""
        return cls(row.model, dict(zip(COLUMNS, row.scores, strict=True)), row.avg, "paper", row.setting)


class ColumnScores:
    """Running per-column sums of item scores (each in [0, 1]), turned into a ``TableRow``."""

    def __init__(self) -> None:
        self.total: dict[str, float] = dict.fromkeys(COLUMNS, 0.0)
        self.count: dict[str, int] = dict.fromkeys(COLUMNS, 0)

    def add(self, column: str | None, score: float) -> None:
        """Count one item score; a None column (a BG language outside the table) is ignored."""
        if column is None:
            return
        if column not in self.total:
            raise ValueError(f"unknown SURGE column {column!r}")
        self.total[column] += score
        self.count[column] += 1

    def row(self, name: str, setting: str | None = None) -> TableRow:
        """Column means × 100 (None where nothing was scored) with the paper's Avg."""
        scores = {c: (100 * self.total[c] / self.count[c] if self.count[c] else None) for c in COLUMNS}
        return TableRow.from_scores(name, scores, setting=setting, counts=self.count)


def _cell(value: float | None, decimals: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{decimals}f}"


def format_markdown(rows: Sequence[TableRow]) -> str:
    """A Markdown table: Model, the 15 columns, Avg; paper rows are marked "(paper)"."""
    header = ["Model", *COLUMNS, "Avg"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        name = f"{r.name} (paper)" if r.source == "paper" else f"**{r.name}**"
        cells = [name, *(_cell(r.scores.get(c)) for c in COLUMNS), _cell(r.avg)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_markdown(path: str | Path, rows: Sequence[TableRow], title: str, notes: Sequence[str] = ()) -> None:
    """``# title``, the table, then notes as a bullet list (and the paper citation if paper rows appear)."""
    parts = [f"# {title}\n", format_markdown(rows)]
    bullets = list(notes)
    if any(r.source == "paper" for r in rows):
        bullets.append(f"Paper rows: {PAPER_CITATION}.")
    if bullets:
        parts.append("\n".join(f"- {b}" for b in bullets) + "\n")
    Path(path).write_text("\n".join(parts), encoding="utf-8")


def write_csv(path: str | Path, rows: Sequence[TableRow]) -> None:
    """One line per row: model, source, setting, the 15 columns, Avg (4 decimals; empty = n/a)."""
    with Path(path).open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["model", "source", "setting", *COLUMNS, "Avg"])
        for r in rows:
            values = [r.scores.get(c) for c in COLUMNS] + [r.avg]
            cells = ["" if v is None else f"{v:.4f}" for v in values]
            writer.writerow([r.name, r.source, r.setting or "", *cells])


def write_json(path: str | Path, rows: Sequence[TableRow], extra: Mapping[str, Any] | None = None) -> None:
    """``{"columns", "rows": [{name, source, setting, scores, avg, counts}], "paper_citation", **extra}``."""
    doc: dict[str, Any] = {
        "columns": list(COLUMNS),
        "rows": [
            {
                "name": r.name,
                "source": r.source,
                "setting": r.setting,
                "scores": dict(r.scores),
                "avg": r.avg,
                **({"counts": dict(r.counts)} if r.counts else {}),
            }
            for r in rows
        ],
        "paper_citation": PAPER_CITATION,
        **(extra or {}),
    }
    Path(path).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


def plot_bars(path: str | Path, rows: Sequence[TableRow], title: str) -> None:
    """Grouped bars: the 15 columns and Avg, one bar per row; galla rows in strong colours, paper rows
    in muted ones. galla's bars carry their item counts; columns without items are marked so."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    labels = [*COLUMNS, "Avg"]
    x = np.arange(len(labels), dtype=float)
    width = 0.84 / max(len(rows), 1)
    strong = plt.get_cmap("tab10")
    muted = [*plt.get_cmap("Pastel2").colors, *plt.get_cmap("Pastel1").colors]
    fig, ax = plt.subplots(figsize=(17, 5.5), layout="constrained")
    n_galla = n_paper = 0
    for i, r in enumerate(rows):
        values = [r.scores.get(c) for c in COLUMNS] + [r.avg]
        heights = [np.nan if v is None else v for v in values]
        if r.source == "paper":
            color, label, n_paper = muted[n_paper % len(muted)], f"{r.name} (paper)", n_paper + 1
        else:
            color, label, n_galla = strong(n_galla % 10), r.name, n_galla + 1
        offset = (i - (len(rows) - 1) / 2) * width
        ax.bar(x + offset, heights, width, label=label, color=color, edgecolor="0.3", linewidth=0.4)
        if r.source != "paper":  # item counts, so a 0 is told apart from a column without items
            counts = [r.counts.get(c, 0) for c in COLUMNS] + [sum(r.counts.get(c, 0) for c in COLUMNS)]
            for xi, h, n in zip(x + offset, heights, counts, strict=True):
                text, y = ("no items", 1.0) if np.isnan(h) else (f"n={n}", h + 1.0 if h < 85 else h - 12.0)
                ax.text(xi, y, text, ha="center", va="bottom", fontsize=6, rotation=90, color="0.25")
    ax.axvline(len(COLUMNS) - 0.5, color="0.5", linewidth=0.8, linestyle="--")
    ax.set_xticks(x, labels, rotation=35, ha="right")
    ax.set_ylim(0, 100)
    ax.set_ylabel("score (%)")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    fig.legend(fontsize=8, ncols=min(len(rows), 6), loc="outside lower center", frameon=False)
    fig.savefig(path, dpi=120)
    plt.close(fig)
