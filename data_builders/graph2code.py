"""Graph2Code records: a unit's graph in, its source out (dedented, so a method reads as it would at
top level); stage 2 adds a seeded instruction as the question.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from data_builders.records import LANGUAGE_NAMES, _rng, _rows, task_record
from parsers.graph import CodeGraph

# fmt: off
G2C_QUESTIONS = (
    "Reconstruct the source code that this {lang} graph represents.",
    "Write the {lang} code whose code graph is given.",
    "Here is the graph of a piece of {lang} code. Write the code.",
    "Generate the {lang} source code that corresponds to this graph.",
    "Translate this code graph back into {lang} source code.",
)
# fmt: on


def unit_indent(row: Mapping[str, Any]) -> int:
    """How many leading characters :func:`dedent_unit` takes off the lines after a unit's first.

    A unit's ``source`` starts at the unit (column 0) while its later lines keep their indentation in
    the file: a method's body sits under a ``def`` that read at column 4. This is the unit's start
    column (``node_start_col`` of its root), or less where a later line is indented less (a unit that
    starts mid-line, ``const f = () => {``, ends at its line's indentation): 0 without spans."""
    cols = row.get("node_start_col")
    start = int(cols[0]) if cols is not None and len(cols) else -1
    lines = row["source"].split("\n")[1:]
    if start <= 0 or not lines:
        return 0
    return min([start] + [len(ln) - len(ln.lstrip()) for ln in lines if ln.strip()])


def dedent_unit(source: str, indent: int) -> str:
    """``source`` with ``indent`` characters taken off each later line that is not blank (blank lines
    are left alone, so :func:`_indent_back` restores the byte offsets exactly)."""
    if indent <= 0:
        return source
    first, *rest = source.split("\n")
    return "\n".join([first, *(ln[indent:] if ln.strip() else ln for ln in rest)])


def _indent_back(text: str, indent: int) -> str:
    """The inverse of :func:`dedent_unit` up to the whitespace characters put back (spaces)."""
    if indent <= 0:
        return text
    first, *rest = text.split("\n")
    return "\n".join([first, *(" " * indent + ln if ln.strip() else ln for ln in rest)])


def graph2code_records(
    rows: Iterable[Mapping[str, Any] | CodeGraph],
    *,
    with_question: bool = False,
    seed: int = 0,
    skipped: Counter | None = None,
) -> list[dict]:
    """Graph2Code: the answer is the unit's source, dedented (:func:`dedent_unit`): a method reads as it
    would at top level, its body indented under its ``def``. The graph's spans still index ``source``.

    Args:
        rows: graph rows (or :class:`CodeGraph` objects).
        with_question: stage 2 (a Q/A pair): the question is a seeded instruction template; stage 1
            (default): ``""``, the sequence being graph tokens then source.
        seed: template choice.
        skipped: counts skipped units by reason (``"graph2code: empty source"``).
    """
    out = []
    for row in _rows(rows):
        if not row["source"].strip():
            if skipped is not None:
                skipped["graph2code: empty source"] += 1
            continue
        question = ""
        if with_question:
            lang = LANGUAGE_NAMES.get(row["language"], row["language"])
            question = _rng(seed, row["id"], "graph2code").choice(G2C_QUESTIONS).format(lang=lang)
        ids = {"graph_id": row["id"], "language": row["language"]}
        answer = dedent_unit(row["source"], unit_indent(row))
        out.append(task_record("graph2code", graph=row, question=question, answer=answer, **ids))
    return out
