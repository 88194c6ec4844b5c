"""Downstream task data made from code itself, for runs that have no downstream files at hand.

:func:`docstring_records`: code summarisation in the CodeSearchNet style. For each Python function unit
with a docstring, the human turn is the function with its docstring removed and the bot turn is the
docstring's first paragraph. The embedded default run (``galla train`` with no config) uses it on the
standard library, so stage 2 has a real text stream on every machine. :func:`docstring_pairs` turns
the same records into DPO preference pairs.
"""

from __future__ import annotations

import ast
import json
import textwrap
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

PROMPT = "Summarize what this Python function does in one sentence.\n\n```python\n{code}\n```"


def _summary(doc: str, max_chars: int) -> str | None:
    first = doc.strip().split("\n\n")[0]
    text = " ".join(first.split())
    if len(text) < 12 or len(text) > max_chars:
        return None
    return text


def strip_docstring(source: str) -> tuple[str, str] | None:
    """``(code without its docstring, docstring)`` of a function's source, or ``None``."""
    code = textwrap.dedent(source)
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    if not tree.body or not isinstance(tree.body[0], ast.FunctionDef | ast.AsyncFunctionDef):
        return None
    fn = tree.body[0]
    doc = ast.get_docstring(fn, clean=True)
    if not doc or len(fn.body) < 2:  # a function that is only a docstring has nothing to summarise
        return None
    node = fn.body[0]
    lines = code.splitlines()
    kept = lines[: node.lineno - 1] + lines[node.end_lineno :]
    return "\n".join(kept).rstrip(), doc


def docstring_records(rows: Iterable[Mapping[str, Any]], *, max_chars: int = 200) -> list[dict[str, Any]]:
    """SFT records (``task: sft``) summarising Python functions; rows are graph-dataset rows."""
    out = []
    for row in rows:
        if row.get("language") != "python" or row.get("unit_kind") != "function":
            continue
        split = strip_docstring(row["source"])
        if split is None:
            continue
        code, doc = split
        summary = _summary(doc, max_chars)
        if summary is None:
            continue
        out.append({"human": PROMPT.format(code=code), "bot": summary, "id": row.get("id", "")})
    return out


def docstring_pairs(records: list[dict[str, Any]], *, seed: int = 0) -> list[dict[str, Any]]:
    """DPO pairs from :func:`docstring_records`: chosen = the function's own summary, rejected = the
    summary of another function (seeded), a preference any reader of the code can verify."""
    import random

    rng = random.Random(seed)
    out = []
    for i, rec in enumerate(records):
        others = [j for j in rng.sample(range(len(records)), min(len(records), 4)) if j != i]
        wrong = next((records[j]["bot"] for j in others if records[j]["bot"] != rec["bot"]), None)
        if wrong is not None:
            out.append({"prompt": rec["human"], "chosen": rec["bot"], "rejected": wrong, "id": rec["id"]})
    return out


def write_jsonl(records: Iterable[Mapping[str, Any]], path: str | Path) -> int:
    """Write records as JSONL (atomically); returns the count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    n = 0
    with tmp.open("w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            n += 1
    tmp.replace(path)
    return n
