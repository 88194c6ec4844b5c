"""Score a SURGE responses file: per-item scores, a problems report and the summary table.

Input: JSON Lines, one object per model reply, produced by any tool (an API model, another framework,
later galla's own generation)::

    {"subset": "ml", "index": 0, "response": "Thought: ...\\nOutput:\\n```\\n42\\n```", "model": "x"}

``subset`` is one of ml, cl, rl, sc, tc, bg, dr, fl (case-insensitive); ``index`` is the 0-based position
of the item in that subset's file; ``response`` is the model's full reply (a string, or null for "no
reply", which scores 0 as officially). Every other field is passed through untouched.

Output, in the ``out`` folder:

- ``scores.jsonl``: each scored input line as given, plus ``score`` (a float in [0, 1]; an existing
  ``score`` field is overwritten, so a scores file can be re-scored), in input order;
- ``problems.jsonl``: ``{"line", "kind", "message"}`` for every line that could not be scored —
  ``malformed`` (not JSON / not an object / undecodable), ``missing_field``, ``bad_field``,
  ``unknown_subset``, ``index_out_of_range``, ``duplicate`` (same subset and index again; the first
  one counts). Such lines are left out; the rest are still scored;
- ``table.md``, ``table.csv``, ``table.json``: the 15-column table with Avg, beside the paper's rows;
- ``chart.png``: the same as grouped bars.

Column means are over the items scored. Items missing from the responses file are *not* counted as
0; the coverage (scored / total per subset) is reported in ``table.json`` and the Markdown notes.
Lines whose subset is valid but not selected (``subsets``) are skipped and counted, not reported.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from galla.eval.surge.data import SUBSETS, SurgeItem
from galla.eval.surge.paper import DEFAULT_COMPARE, paper_rows
from galla.eval.surge.scoring import score_item
from galla.eval.surge.table import (
    ColumnScores,
    TableRow,
    plot_bars,
    write_csv,
    write_json,
    write_markdown,
)

__all__ = ["Problem", "ResponseScorer", "RunResult", "score_responses_file"]

OUTPUT_FILES: dict[str, str] = {
    "scores": "scores.jsonl",
    "problems": "problems.jsonl",
    "markdown": "table.md",
    "csv": "table.csv",
    "json": "table.json",
    "chart": "chart.png",
}


@dataclass(frozen=True)
class Problem:
    """A responses line that could not be scored."""

    line: int
    """1-based line number in the responses file."""
    kind: str
    message: str


@dataclass
class ResponseScorer:
    """Scores response records one at a time against loaded SURGE items (the selected subsets).

    ``feed`` takes one raw line and returns the output record (input fields + ``score``) or None;
    problems, skipped lines and column sums accumulate on the instance. A future generator can feed
    its own records through ``score_record`` without a file.
    """

    items: Mapping[str, Sequence[SurgeItem]]
    columns: ColumnScores = field(default_factory=ColumnScores)
    problems: list[Problem] = field(default_factory=list)
    scored: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    _seen: set[tuple[str, int]] = field(default_factory=set, init=False, repr=False)

    def feed(self, line_no: int, raw: bytes | str) -> dict[str, Any] | None:
        """Parse and score one JSONL line; blank lines are ignored."""
        try:
            text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        except UnicodeDecodeError as err:
            return self._problem(line_no, "malformed", f"not UTF-8 ({err.reason} at byte {err.start})")
        if not text.strip():
            return None
        try:
            record = json.loads(text)
        except (ValueError, RecursionError) as err:
            return self._problem(line_no, "malformed", f"not valid JSON ({err})")
        if not isinstance(record, dict):
            return self._problem(line_no, "malformed", f"a JSON {type(record).__name__}, not an object")
        return self.score_record(line_no, record)

    def score_record(self, line_no: int, record: dict[str, Any]) -> dict[str, Any] | None:
        """Validate one response record and score it; returns ``record`` with ``score`` set, or None."""
        missing = [k for k in ("subset", "index", "response") if k not in record]
        if missing:
            return self._problem(line_no, "missing_field", f"missing field(s) {', '.join(missing)}")
        subset, index, response = record["subset"], record["index"], record["response"]
        if not isinstance(subset, str):
            return self._problem(line_no, "bad_field", f"'subset' must be a string, got {subset!r}")
        key = subset.strip().lower()
        if key not in SUBSETS:
            return self._problem(
                line_no, "unknown_subset", f"unknown subset {subset!r}; expected one of {', '.join(SUBSETS)}"
            )
        if key not in self.items:
            self.skipped[key] += 1
            return None
        if isinstance(index, bool) or not isinstance(index, int):
            return self._problem(line_no, "bad_field", f"'index' must be an integer, got {index!r}")
        n = len(self.items[key])
        if not 0 <= index < n:
            return self._problem(
                line_no, "index_out_of_range", f"index {index} out of range for {key} ({n} items: 0..{n - 1})"
            )
        if response is not None and not isinstance(response, str):
            kind = type(response).__name__
            return self._problem(line_no, "bad_field", f"'response' must be a string or null, got a {kind}")
        if (key, index) in self._seen:
            return self._problem(line_no, "duplicate", f"{key}[{index}] already scored on an earlier line")
        self._seen.add((key, index))
        item = self.items[key][index]
        score = score_item(item, response)
        self.columns.add(item.column, score)
        self.scored[key] += 1
        record["score"] = score
        return record

    def coverage(self) -> dict[str, dict[str, int]]:
        """Per selected subset: items scored and items in the file."""
        return {s: {"scored": self.scored[s], "total": len(items)} for s, items in self.items.items()}

    def _problem(self, line_no: int, kind: str, message: str) -> None:
        self.problems.append(Problem(line_no, kind, message))
        return None


@dataclass(frozen=True)
class RunResult:
    """What ``score_responses_file`` did: the row, counts, problems and the files written."""

    row: TableRow
    compared: list[TableRow]
    scored: int
    skipped: dict[str, int]
    coverage: dict[str, dict[str, int]]
    problems: list[Problem]
    files: dict[str, Path]


def score_responses_file(
    items: Mapping[str, Sequence[SurgeItem]],
    responses: str | Path,
    out_dir: str | Path,
    *,
    name: str | None = None,
    setting: str | None = None,
    compare: Iterable[str] | None = DEFAULT_COMPARE,
    chart: bool = True,
) -> RunResult:
    """Score ``responses`` (JSONL) against ``items`` and write the outputs listed above into ``out_dir``.

    ``name`` labels the row (default: the responses file's stem); ``setting`` (``0shot``, ``cot``,
    ``3shot``) picks the paper rows of ``compare`` (model names, ``None`` or empty for none); without a
    setting no paper rows are added. Raises OSError for unreadable or unwritable paths and ValueError
    for unknown ``compare`` names.
    """
    responses, out = Path(responses), Path(out_dir)
    name = name or responses.stem
    compared = (
        [TableRow.from_paper(r) for r in paper_rows(setting, list(compare))] if compare and setting else []
    )
    out.mkdir(parents=True, exist_ok=True)
    files = {k: out / v for k, v in OUTPUT_FILES.items()}
    scorer = ResponseScorer(items)
    tmp = files["scores"].with_name(files["scores"].name + ".tmp")
    with responses.open("rb") as src, tmp.open("w", encoding="utf-8") as dst:
        for line_no, raw in enumerate(src, start=1):
            record = scorer.feed(line_no, raw)
            if record is not None:
                dst.write(json.dumps(record, ensure_ascii=False) + "\n")
    os.replace(tmp, files["scores"])  # after reading: re-scoring out/scores.jsonl in place is safe
    with files["problems"].open("w", encoding="utf-8") as f:
        for p in scorer.problems:
            f.write(json.dumps(asdict(p), ensure_ascii=False) + "\n")

    row = scorer.columns.row(name, setting)
    coverage = scorer.coverage()
    rows = [row, *compared]
    notes = _notes(responses, coverage, scorer, setting, row)
    title = f"SURGE: {name}" + (f" ({setting})" if setting else "")
    write_markdown(files["markdown"], rows, title, notes)
    write_csv(files["csv"], rows)
    extra = {
        "responses": str(responses),
        "coverage": coverage,
        "skipped_lines": dict(scorer.skipped),
        "problems": dict(Counter(p.kind for p in scorer.problems)),
    }
    write_json(files["json"], rows, extra)
    if chart:
        plot_bars(files["chart"], rows, title)
    else:
        files.pop("chart")
    return RunResult(
        row, compared, sum(scorer.scored.values()), dict(scorer.skipped), coverage, scorer.problems, files
    )


def _notes(
    responses: Path,
    coverage: Mapping[str, Mapping[str, int]],
    scorer: ResponseScorer,
    setting: str | None,
    row: TableRow,
) -> list[str]:
    notes = [
        f"Scored {sum(scorer.scored.values())} responses from `{responses.name}` with the official SURGE "
        "rules; columns are mean item score × 100, Avg leaves out columns equal to 0 (as the paper)."
    ]
    zero = [c for c, v in row.scores.items() if v == 0]
    if zero:
        notes.append(
            f"Avg leaves out {', '.join(zero)} (scored, all 0): the paper averages only non-zero columns, "
            "so a column that drops to 0 does not lower Avg; read the columns, not only Avg."
        )
    partial = [f"{s} {c['scored']}/{c['total']}" for s, c in coverage.items() if c["scored"] != c["total"]]
    if partial:
        notes.append(f"Incomplete subsets (means over the items scored): {', '.join(partial)}.")
    if scorer.problems:
        notes.append(f"{len(scorer.problems)} input lines could not be scored; see problems.jsonl.")
    if setting is None:
        notes.append("No prompt setting given, so no paper rows are shown.")
    return notes
