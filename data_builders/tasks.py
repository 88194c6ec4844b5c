"""Training records for every galla objective: Graph2Code, GraphQA, downstream SFT and DPO pairs.

Graph rows (one code unit each, as written by ``galla build-graphs``) become alignment records; JSONL
files in the official GALLa shapes become downstream records. Every record has the same keys
(:data:`TASK_FEATURES`), so all tasks concatenate into one ``datasets.Dataset``:

- ``task`` (``graph2code`` | ``graph_qa`` | ``sft`` | ``dpo``), ``subtask`` (GraphQA only), ``question``
  (the human turn; ``""`` for stage-1 Graph2Code, whose sequence is graph tokens then source; the prompt
  for DPO), ``answer`` (the bot turn), ``chosen``/``rejected`` (DPO only), ``graph_id``, ``language``;
- the graph, so one record suffices for training: ``node_kind``, ``edge_src``, ``edge_dst``,
  ``edge_type``, plus ``node_start_byte``/``node_end_byte`` (spans in the unit's source, which the
  GraphQA checker needs; empty where unknown); empty lists for text-only records;
- ``meta``: JSON with what a GraphQA question is about (node indices, graph, template indices).

GraphQA questions embed the code like the official sample: the source in a fenced block, an empty line,
then the sentence. Nodes are named by kind (underscores as spaces) and text (whitespace collapsed, cut at
40 characters with an ellipsis), plus the 1-based line (and column) within the shown code where kind and
text alone are ambiguous: ``identifier `a` (line 3)``; operator and keyword tokens read ``token `=```.
Data-flow questions point the way data flows (definition -> use), as the official DFG does; the stored
``LAST_WRITE`` edge is the reverse (use -> definition). Every builder is a pure function of the rows
and a seed, with one RNG per row and subtask, so output does not depend on row order or process count.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import uuid
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from datasets import Dataset, Features, List, Value

from data_builders.formats import (
    DATA_FILE,
    KIND_VOCAB,
    json_records,
    official_language,
    read_official,
    write_dataset_metadata,
)
from parsers.graph import CodeGraph, EdgeType
from parsers.vocab import kind_name, kind_names

TASKS = ("graph2code", "graph_qa", "sft", "dpo")
QA_SUBTASKS = ("edge_exists", "parent", "children", "reaching_defs")
MANIFEST = "tasks_manifest.json"
MAX_TEXT = 40
"""Longest node text quoted in a question or answer (longer ones end in an ellipsis)."""
WRITE_BATCH = 1024
"""Records :func:`build_tasks` holds before writing them as one Arrow record batch."""
ROWS_PER_READ = 256
"""Graph rows :func:`build_tasks` reads from a dataset at a time."""

_TEXT_COLUMNS = (
    "task",
    "subtask",
    "question",
    "answer",
    "chosen",
    "rejected",
    "graph_id",
    "language",
    "meta",
)
_GRAPH_COLUMNS = {
    "node_kind": "int16", "node_start_byte": "int32", "node_end_byte": "int32",
    "edge_src": "int32", "edge_dst": "int32", "edge_type": "int8",
}  # fmt: skip
TASK_FEATURES = Features(
    {**{k: Value("string") for k in _TEXT_COLUMNS}, **{k: List(Value(t)) for k, t in _GRAPH_COLUMNS.items()}}
)
"""The one schema of every task record (see the module docstring)."""
REQUIRED_GRAPH_COLUMNS = ("id", "language", "source", "node_kind", "edge_src", "edge_dst", "edge_type")
"""The graph-row columns every task builder reads."""
_REQUIRED = REQUIRED_GRAPH_COLUMNS

LANGUAGE_NAMES = {
    "python": "Python", "java": "Java", "javascript": "JavaScript", "typescript": "TypeScript",
    "tsx": "TSX", "go": "Go", "rust": "Rust", "c": "C", "cpp": "C++",
}  # fmt: skip
GRAPH_NAMES = {"ast": "syntax tree", "dfg": "data flow graph"}

# fmt: off
G2C_QUESTIONS = (
    "Reconstruct the source code that this {lang} graph represents.",
    "Write the {lang} code whose code graph is given.",
    "Here is the graph of a piece of {lang} code. Write the code.",
    "Generate the {lang} source code that corresponds to this graph.",
    "Translate this code graph back into {lang} source code.",
)
_Q = {  # GraphQA questions; {a}/{b}/{x}: node names, {at}: `text` on line L, {where}: line L
    "edge_exists": (
        "Is there an edge from {a} to {b} in this {lang} {graph}?",
        "In the {graph} of this {lang} code, is there a directed edge from {a} to {b}?",
        "Does this {lang} {graph} contain an edge that goes from {a} to {b}?",
        "Answer yes or no: does an edge lead from {a} to {b} in this {lang} {graph}?",
    ),
    "parent": (
        "What is the parent of {x} in the syntax tree of this {lang} code?",
        "In this {lang} syntax tree, which node is the direct parent of {x}?",
        "Which node of the {lang} syntax tree has {x} as a child?",
    ),
    "children": (
        "List the children of {x} in the syntax tree of this {lang} code, in order.",
        "What are the direct children of {x} in this {lang} syntax tree? Give them in source order.",
        "Name, from left to right, the child nodes of {x} in the syntax tree.",
    ),
    "reaching_defs": (
        "Which definitions reach this use of {at}?",
        "In this {lang} code, which writes of {name} may reach its use on {where}? Give their lines.",
        "List the reaching definitions for the read of {name} on {where}.",
        "Where may the value of {name} read on {where} have been assigned? List every reaching definition.",
    ),
}
_A = {  # answers, three per (subtask, case); {list}: the answer's nodes joined with "and"
    ("edge_exists", True): ("Yes, that is the case. {ta} is directly connected to {tb}.",
                            "Yes. The {graph} has an edge from {a} to {b}.",
                            "Yes, {a} → {b} is an edge of the {graph}."),
    ("edge_exists", False): ("No, that is not the case. {ta} is not directly connected to {tb}.",
                             "No. The {graph} has no edge from {a} to {b}.",
                             "No, there is no edge from {a} to {b}."),
    ("parent", 1): ("The parent of {x} is {list}.", "{list}.", "Its parent is {list}."),
    ("children", 1): ("{x} has {n} children: {list}.", "In order: {list}.",
                      "The children of {x} are {list}."),
    ("reaching_defs", 1): ("One definition reaches it: {list}.", "Only {list} reaches this use.",
                           "The value can only come from {list}."),
    ("reaching_defs", 2): ("{n} definitions reach it: {list}.", "Reaching definitions: {list}.",
                           "The value may come from any of {n} definitions: {list}."),
}
# fmt: on
_SFT_FIELDS = (("human", "bot"), ("prompt", "completion"), ("instruction", "output"))
_DPO_FIELDS = ("prompt", "chosen", "rejected")


# --- records and rows ----------------------------------------------------------------------------


def task_record(task: str, *, graph: Mapping[str, Any] | None = None, **fields: str) -> dict:
    """A record of :data:`TASK_FEATURES`: ``fields`` for the text columns, ``graph`` (a row) for the graph."""
    rec: dict[str, Any] = dict.fromkeys(_TEXT_COLUMNS, "")
    rec.update(task=task, **fields)
    for col in _GRAPH_COLUMNS:
        rec[col] = np.asarray(graph.get(col, ()), dtype=np.int64).tolist() if graph is not None else []
    return rec


def to_dataset(records: Iterable[dict]) -> Dataset:
    """Records (any mix of tasks) as one ``datasets.Dataset`` with :data:`TASK_FEATURES`."""
    cols: dict[str, list] = {k: [] for k in TASK_FEATURES}
    for rec in records:
        for k, values in cols.items():
            values.append(rec[k])
    return Dataset.from_dict(cols, features=TASK_FEATURES)


def row_from_graph(g: CodeGraph) -> dict:
    """A :class:`CodeGraph` as a graph-dataset row (the ``id`` format of ``galla build-graphs``)."""
    row: dict[str, Any] = {
        "id": f"{g.path}::{g.name}@{g.start_line + 1}", "language": g.language, "path": g.path,
        "name": g.name, "unit_kind": g.unit_kind, "start_line": g.start_line, "source": g.source,
        "kind_vocab": KIND_VOCAB, "has_error": g.has_error,
    }  # fmt: skip
    for col in (
        "node_kind",
        "node_named",
        "node_start_byte",
        "node_end_byte",
        "node_start_line",
        "node_start_col",
    ):
        row[col] = getattr(g, col).tolist()
    for col in ("edge_src", "edge_dst", "edge_type"):
        row[col] = getattr(g, col).tolist()
    return row


def _rows(rows: Iterable[Mapping[str, Any] | CodeGraph]) -> Iterator[Mapping[str, Any]]:
    for r in rows:
        r = row_from_graph(r) if isinstance(r, CodeGraph) else r
        missing = [c for c in _REQUIRED if c not in r]
        if missing:
            raise ValueError(f"graph row {r.get('id', '?')!r} lacks columns {missing}; not a graph row")
        yield r


def _rng(seed: int, row_id: str, *parts: str) -> random.Random:
    return random.Random(":".join([str(seed), row_id, *parts]))


# --- Graph2Code ----------------------------------------------------------------------------------


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


# --- GraphQA: naming nodes -----------------------------------------------------------------------


def _q(text: str) -> str:
    """Inline-code quoting that survives backticks in the text."""
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _kind(k: int) -> str:
    return kind_name(k) if 0 <= k < len(kind_names()) else "<unknown>"


def _join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


class _View:
    """A graph with names for its nodes and the edges GraphQA asks about (CHILD, LAST_WRITE).

    ``ref[i]``: ``kind `text``` plus ``(line L)`` / ``(line L, column C)`` where needed to be unique;
    ``at[i]``: ```text` on line L`` (plus the column where kind, text and line repeat); ``ok[i]``: the
    node can be named unambiguously (questions only ask about such nodes).
    """

    def __init__(self, g: Mapping[str, Any], source: str, indent: int = 0) -> None:
        """``source``: the text the spans index; ``indent``: what the shown code (:func:`dedent_unit`)
        lacks at the start of each later line, so columns are those of the shown code."""
        data = source.encode()
        newlines = [m.start() for m in re.finditer(b"\n", data)]
        self.kid = [int(k) for k in g["node_kind"]]
        self.kind = [_kind(k) for k in self.kid]
        self.start = [int(s) for s in g["node_start_byte"]]
        self.n = n = len(self.kid)
        if len(self.start) != n or len(g["node_end_byte"]) != n:
            raise ValueError("node spans and node kinds differ in length")
        self.text, self.line, self.col = [], [], []
        for s, e in zip(self.start, g["node_end_byte"], strict=True):
            t = " ".join(data[s:e].decode("utf-8", errors="replace").split())
            self.text.append(t if len(t) <= MAX_TEXT else t[: MAX_TEXT - 1] + "…")
            li = bisect_left(newlines, s)
            line_start = newlines[li - 1] + 1 if li else 0
            self.line.append(li + 1)
            col = len(data[line_start:s].decode("utf-8", errors="replace")) + 1
            self.col.append(col - indent if li and col > indent else col)
        base = [
            f"token {_q(t)}" if k == t else f"{k.replace('_', ' ')} {_q(t)}"
            for k, t in zip(self.kind, self.text, strict=True)
        ]
        keys = list(zip(base, self.line, self.col, strict=True))
        c1, c2, c3 = Counter(base), Counter(k[:2] for k in keys), Counter(keys)
        self.ref = [
            b if c1[b] == 1 else f"{b} (line {ln})" if c2[(b, ln)] == 1 else f"{b} (line {ln}, column {c})"
            for b, ln, c in keys
        ]
        self.ok = [bool(t) and c3[k] == 1 for t, k in zip(self.text, keys, strict=True)]
        same_line = Counter(zip(self.kid, self.text, self.line, strict=True))
        self.where = [
            f"line {ln}" + (f", column {c}" if same_line[(k, t, ln)] > 1 else "")
            for k, t, ln, c in zip(self.kid, self.text, self.line, self.col, strict=True)
        ]
        self.at = [f"{_q(t)} on {w}" for t, w in zip(self.text, self.where, strict=True)]
        self.children: dict[int, list[int]] = defaultdict(list)
        self.parent: dict[int, int] = {}
        self.lw: dict[int, list[int]] = defaultdict(list)
        assigned = set()
        for s, d, t in zip(g["edge_src"], g["edge_dst"], g["edge_type"], strict=True):
            s, d, t = int(s), int(d), int(t)
            if t == EdgeType.CHILD:
                self.children[s].append(d)
                self.parent.setdefault(d, s)
            elif t == EdgeType.LAST_WRITE and d not in self.lw[s]:
                self.lw[s].append(d)
            elif t == EdgeType.COMPUTED_FROM:
                assigned.add(s)
        self.child_set = {(p, c) for p, cs in self.children.items() for c in cs}
        self.flow_set = {(d, u) for u, ds in self.lw.items() for d in ds}  # definition -> use
        writes = {d for ds in self.lw.values() for d in ds} | assigned
        self.uses = [u for u in sorted(self.lw) if u not in writes and self.lw[u]]


def _fence(language: str, source: str) -> str:
    ticks = "```"
    while ticks in source:
        ticks += "`"
    return f"{ticks}{language}\n{source}\n{ticks}\n\n"


def _unfence(question: str) -> str:
    m = re.match(r"(`{3,})[^\n`]*\n", question)
    end = question.rfind(f"\n{m[1]}\n\n") if m else -1
    if not m or end < m.end() - 1:
        raise ValueError("question holds no fenced code block")
    return question[m.end() : end]


def _sentences(v: _View, lang: str, subtask: str, meta: dict, truth: Any) -> tuple[str, str]:
    """The question sentence and the answer of one GraphQA item; ``truth`` is the derived answer."""
    nodes, qi, ai = meta["nodes"], meta["q"], meta["a"]
    f = {"lang": LANGUAGE_NAMES.get(lang, lang)}
    if subtask == "edge_exists":
        a, b = nodes
        f.update(a=v.ref[a], b=v.ref[b], ta=_q(v.text[a]), tb=_q(v.text[b]), graph=GRAPH_NAMES[meta["graph"]])
        key: tuple = (subtask, bool(truth))
    else:
        x = nodes[0]
        listed = [truth] if subtask == "parent" else list(truth)
        names = [v.at[d] for d in listed] if subtask == "reaching_defs" else [v.ref[d] for d in listed]
        f.update(
            x=v.ref[x], at=v.at[x], name=_q(v.text[x]), where=v.where[x], n=len(listed), list=_join(names)
        )
        key = (subtask, 2 if subtask == "reaching_defs" and len(listed) > 1 else 1)
    answer = _A[key][ai].format(**f)
    return _Q[subtask][qi].format(**f), answer[0].upper() + answer[1:]


# --- GraphQA: choosing what to ask ---------------------------------------------------------------


def _stratified(groups: dict[Any, list], k: int, rng: random.Random) -> list:
    """Up to ``k`` distinct items, drawing a group (a node kind, a variable name) uniformly, then an item
    of that group, so that frequent kinds and names (``identifier``, ``self``) do not crowd the rest."""
    pools = {kind: list(ns) for kind, ns in sorted(groups.items())}
    out = []
    while pools and len(out) < k:
        kind = rng.choice(sorted(pools))
        pool = pools[kind]
        out.append(pool.pop(rng.randrange(len(pool))))
        if not pool:
            del pools[kind]
    return out


def _negative(v: _View, graph: str, pos: tuple[int, int], named: list[bool], used: set, rng) -> tuple | None:
    """A pair of the positive's kinds with no edge either way: a near miss where possible (an ancestor
    two to four levels up in the syntax tree; the same variable name in the data flow graph)."""
    a, b = pos
    edges = v.child_set if graph == "ast" else v.flow_set

    def fits(x: int, y: int) -> bool:
        return (
            x != y and v.kid[x] == v.kid[a] and v.kid[y] == v.kid[b] and v.ok[x] and v.ok[y] and named[x]
            and named[y] and (x, y) not in edges and (y, x) not in edges and (x, y) not in used
        )  # fmt: skip

    xs = [i for i in range(v.n) if v.kid[i] == v.kid[a]]
    ys = [i for i in range(v.n) if v.kid[i] == v.kid[b]]
    near = []
    for y in rng.sample(ys, min(len(ys), 24)):
        if graph == "ast":
            chain, p = [], y
            while p in v.parent and len(chain) < 4:
                p = v.parent[p]
                chain.append(p)
            cands = chain[1:]
        else:
            cands = [x for x in xs if v.text[x] == v.text[y]]
        near += [(x, y) for x in cands if fits(x, y)]
    if near:
        return rng.choice(near)
    for _ in range(64):
        x, y = rng.choice(xs), rng.choice(ys)
        if fits(x, y):
            return (x, y)
    return None


def _pick(v: _View, subtask: str, named: list[bool], k: int, max_answer: int, rng) -> list[tuple]:
    """``(meta, truth)`` items for one graph and subtask (an empty list: the graph cannot support it)."""
    if subtask == "edge_exists":
        pos: dict[str, list] = {}
        for graph, edges in (("ast", v.child_set), ("dfg", v.flow_set)):
            groups = defaultdict(list)  # by parent kind / by variable name
            for e in sorted(edges):
                if e[0] != e[1] and all(v.ok[i] and named[i] for i in e):
                    groups[v.kid[e[0]] if graph == "ast" else v.text[e[0]]].append(e)
            pos[graph] = _stratified(groups, 4 * k + 8, rng)[::-1]  # a few spare in case negatives fail
        items: list[tuple] = []
        used: set[tuple[int, int]] = set()
        while len(items) < k and any(pos.values()):
            graph = rng.choice([g for g in sorted(pos) if pos[g]])
            p = pos[graph].pop()
            neg = _negative(v, graph, p, named, used, rng)
            if neg is not None:
                used.update((p, neg))
                items += [
                    ({"nodes": list(p), "graph": graph}, True),
                    ({"nodes": list(neg), "graph": graph}, False),
                ]
        if len(items) > k:  # odd k: drop the yes or the no of the last pair
            del items[-1 if rng.random() < 0.5 else -2]
        rng.shuffle(items)
        return items
    if subtask == "reaching_defs":
        uses = [u for u in v.uses if v.ok[u] and len(v.lw[u]) <= max_answer]

        def by_name(us: list[int]) -> dict[str, list[int]]:
            groups = defaultdict(list)
            for u in us:
                groups[v.text[u]].append(u)
            return groups

        multi = _stratified(by_name([u for u in uses if len(v.lw[u]) > 1]), k, rng)
        single = _stratified(by_name([u for u in uses if len(v.lw[u]) == 1]), k, rng)
        half = (k + 1) // 2  # at least half with two or more definitions, where there are
        chosen = (multi[:half] + single + multi[half:])[:k]
        return [({"nodes": [u]}, sorted(v.lw[u], key=lambda d: (v.start[d], d))) for u in chosen]
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(v.n):
        if not (v.ok[i] and named[i]):
            continue
        if (subtask == "parent" and i in v.parent) or (
            subtask == "children" and 2 <= len(v.children.get(i, ())) <= max_answer
        ):
            groups[v.kid[i]].append(i)
    truth = v.parent if subtask == "parent" else v.children
    return [({"nodes": [i]}, truth[i]) for i in _stratified(groups, k, rng)]


_NO_ITEMS = {
    "edge_exists": "no edge with a matching non-edge",
    "parent": "no nameable node with a parent",
    "children": "no node with 2..max_nodes_in_answer children",
    "reaching_defs": "no variable use with reaching definitions",
}


def graph_qa_records(
    rows: Iterable[Mapping[str, Any] | CodeGraph],
    *,
    per_graph: int = 4,
    seed: int = 0,
    subtasks: Sequence[str] = QA_SUBTASKS,
    max_nodes_in_answer: int = 16,
    max_source_chars: int = 4000,
    skipped: Counter | None = None,
) -> list[dict]:
    """GraphQA: questions about a unit's syntax tree and data flow, answered from its graph.

    Args:
        rows: graph rows (or :class:`CodeGraph` objects) with node spans and our node-kind vocabulary.
        per_graph: at most this many questions per graph and subtask; ``edge_exists`` has as many yes
            as no answers per graph (exactly, when ``per_graph`` is even).
        seed: every choice (nodes, templates) comes from a per-row, per-subtask RNG seeded with it.
        subtasks: any of :data:`QA_SUBTASKS`.
        max_nodes_in_answer: ``children`` and ``reaching_defs`` answers list at most this many nodes.
        max_source_chars: longer units are skipped (the question embeds the code).
        skipped: counts skipped units (and unsupported subtasks) by reason.

    Every record passes :func:`check_qa`.
    """
    unknown = [s for s in subtasks if s not in QA_SUBTASKS]
    if unknown:
        raise ValueError(f"unknown GraphQA subtasks {unknown}; choose from {', '.join(QA_SUBTASKS)}")
    skip = skipped if skipped is not None else Counter()
    out = []
    for row in _rows(rows):
        source = row["source"].rstrip()
        reason = (
            "foreign node-kind vocabulary" if row.get("kind_vocab", KIND_VOCAB) != KIND_VOCAB
            else "empty source" if not source
            else f"source longer than {max_source_chars} chars" if len(row["source"]) > max_source_chars
            else "no node spans" if any(s < 0 for s in row.get("node_start_byte", [-1])[:1])
            else ""
        )  # fmt: skip
        if reason:
            skip[f"graph_qa: {reason}"] += 1
            continue
        indent = unit_indent(row)
        v = _View(row, source, indent)
        named = [bool(x) for x in row.get("node_named", ())]
        if len(named) != v.n:  # no named flags: operator and keyword tokens are those whose text is the kind
            named = [k != t for k, t in zip(v.kind, v.text, strict=True)]
        ids = {"graph_id": row["id"], "language": row["language"]}
        head = _fence(row["language"], dedent_unit(source, indent))
        for subtask in subtasks:
            rng = _rng(seed, row["id"], "graph_qa", subtask)
            items = _pick(v, subtask, named, per_graph, max_nodes_in_answer, rng)
            if not items:
                skip[f"graph_qa/{subtask}: {_NO_ITEMS[subtask]}"] += 1
            for meta, truth in items:
                meta.update(q=rng.randrange(len(_Q[subtask])), a=rng.randrange(3))
                if indent:
                    meta["indent"] = indent
                q, a = _sentences(v, row["language"], subtask, meta, truth)
                m = json.dumps(meta, sort_keys=True)
                out.append(
                    task_record(
                        "graph_qa", graph=row, subtask=subtask, question=head + q, answer=a, meta=m, **ids
                    )
                )
    return out


def _derive(rec: Mapping[str, Any], subtask: str, meta: dict) -> Any:
    """The answer of a GraphQA item, straight from the record's edge columns."""
    edges = list(zip(rec["edge_src"], rec["edge_dst"], rec["edge_type"], strict=True))
    x = meta["nodes"][0]
    if subtask == "edge_exists":
        a, b = meta["nodes"]
        if meta["graph"] == "ast":
            return any(t == EdgeType.CHILD and s == a and d == b for s, d, t in edges)
        return any(t == EdgeType.LAST_WRITE and s == b and d == a for s, d, t in edges)
    if subtask == "parent":
        return next(s for s, d, t in edges if t == EdgeType.CHILD and d == x)
    if subtask == "children":
        return [d for s, d, t in edges if t == EdgeType.CHILD and s == x]
    defs = {d for s, d, t in edges if t == EdgeType.LAST_WRITE and s == x}
    return sorted(defs, key=lambda d: (rec["node_start_byte"][d], d))


def check_qa(rec: Mapping[str, Any]) -> bool:
    """Whether a generated GraphQA record's question and answer are what its graph columns say.

    Re-derives the answer from ``edge_*`` and re-renders the node names from ``node_*`` and the code in
    the question. Raises ``ValueError`` for records that are not generated GraphQA items (official
    GALLa records carry no spans to check against).
    """
    if rec.get("task") != "graph_qa" or rec.get("subtask") not in QA_SUBTASKS:
        raise ValueError(
            f"check_qa checks generated GraphQA records; got {rec.get('task')}/{rec.get('subtask')}"
        )
    try:
        meta = json.loads(rec["meta"])
        shown = _unfence(rec["question"])
        indent = int(meta.get("indent", 0))
        source = _indent_back(shown, indent)
        v = _View(rec, source, indent)
        if not all(0 <= i < v.n for i in meta["nodes"]):
            return False
        truth = _derive(rec, rec["subtask"], meta)
        question, answer = _sentences(v, rec["language"], rec["subtask"], meta, truth)
    except (KeyError, ValueError, IndexError, TypeError, StopIteration):
        return False
    return rec["question"] == _fence(rec["language"], shown) + question and rec["answer"] == answer


# --- downstream files ----------------------------------------------------------------------------


def _read(path_or_rows: str | Path | Iterable[Mapping[str, Any]]) -> Iterator[tuple[str, int, Mapping]]:
    """``(where, number, record)`` for each record of a .jsonl/.json file (or of given rows)."""
    if not isinstance(path_or_rows, (str, Path)):
        for i, rec in enumerate(path_or_rows, 1):
            yield f"record {i}", i, rec
        return
    p = Path(path_or_rows)
    if not p.is_file():
        raise FileNotFoundError(f"task file '{p}' does not exist; pass a .jsonl or .json file")
    yield from json_records(p)


def _str(rec: Mapping, key: str, where: str) -> str:
    value = rec[key]
    if not isinstance(value, str):
        raise ValueError(f"{where}: field '{key}' must be a string, got {type(value).__name__}")
    return value


def _sft(rec: Mapping, where: str) -> dict:
    for human, bot in _SFT_FIELDS:
        if human in rec and bot in rec:
            question = _str(rec, human, where)
            if human == "instruction" and rec.get("input"):
                question += "\n\n" + _str(rec, "input", where)
            return task_record("sft", question=question, answer=_str(rec, bot, where))
    raise ValueError(
        f"{where}: expected fields 'human' and 'bot' (or 'prompt'/'completion', 'instruction'/'output'); "
        f"found {sorted(rec)}"
    )


def _dpo(rec: Mapping, where: str) -> dict:
    missing = [k for k in _DPO_FIELDS if k not in rec]
    if missing:
        raise ValueError(f"{where}: expected fields 'prompt', 'chosen', 'rejected'; missing {missing}")
    question, chosen, rejected = (_str(rec, k, where) for k in _DPO_FIELDS)
    return task_record("dpo", question=question, chosen=chosen, rejected=rejected)


def sft_records(path_or_rows: str | Path | Iterable[Mapping[str, Any]]) -> list[dict]:
    """Downstream records from official ``human``/``bot`` JSONL (or ``prompt``/``completion``,
    ``instruction``[/``input``]/``output``); a bad line raises ``ValueError`` naming file and line."""
    return [_sft(rec, where) for where, _, rec in _read(path_or_rows)]


def dpo_records(path_or_rows: str | Path | Iterable[Mapping[str, Any]]) -> list[dict]:
    """Preference pairs from ``prompt``/``chosen``/``rejected`` records (the prompt goes in ``question``;
    reference log-probabilities, if present, are ignored); errors as in :func:`sft_records`."""
    return [_dpo(rec, where) for where, _, rec in _read(path_or_rows)]


def _official(rec: Mapping, graph: dict, where: str, gid: str, language: str) -> dict:
    """An official GALLa graph record (``node_ids``, ``edge_index``) as graph2code or graph_qa."""
    common = {"graph_id": str(rec.get("id", gid)), "language": str(rec.get("language", language))}
    if "question" in rec and "bot" in rec:
        return task_record("graph_qa", graph=graph, subtask="official", question=_str(rec, "question", where),
                      answer=_str(rec, "bot", where), **common)  # fmt: skip
    if "source" in rec:
        return task_record("graph2code", graph=graph, answer=_str(rec, "source", where), **common)
    raise ValueError(f"{where}: graph record needs 'source' (stage 1) or 'question' and 'bot' (stage 2)")


def read_task_file(path: str | Path, *, edge_type: EdgeType | None = None) -> list[dict]:
    """Records from a .jsonl/.json file, each line's task told by its fields.

    ``node_ids`` + ``edge_index`` + ``question`` + ``bot`` (official stage-2 graph record) -> graph_qa
    (subtask ``official``); ``node_ids`` + ``edge_index`` + ``source`` (stage 1) -> graph2code;
    ``prompt`` + ``chosen`` + ``rejected`` -> dpo; ``human`` + ``bot`` (and the other SFT pairs) -> sft.
    Official records are read by :func:`data_builders.formats.read_official`, as for a graph dataset:
    galla's own export's ``typed_edges`` are taken where a record has them; untyped edges get the
    record's own ``edge_type`` list if it has one, else ``edge_type``, else the
    file name's type (:func:`~data_builders.formats.official_edge_type`: ``CHILD`` for a name containing
    ``AST``, ``DATA_FLOW`` otherwise).
    Official node ids are the official 43-type vocabulary; spans are unknown (empty lists).
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"task file '{p}' does not exist; pass a .jsonl or .json file")
    language = official_language(p)
    out = []
    for where, i, rec, graph in read_official(p, edge_type):
        if graph is not None:
            out.append(_official(rec, graph, where, f"{p.name}:{i}", language))
        elif all(k in rec for k in _DPO_FIELDS):
            out.append(_dpo(rec, where))
        elif any(h in rec and b in rec for h, b in _SFT_FIELDS):
            out.append(_sft(rec, where))
        else:
            raise ValueError(
                f"{where}: unknown record; expected node_ids+edge_index+source|question+bot (GALLa graph), "
                f"human+bot (SFT) or prompt+chosen+rejected (DPO); found {sorted(rec)}"
            )
    return out


# --- building a task dataset ---------------------------------------------------------------------


def _open_graphs(graphs: str | Path | Iterable) -> tuple[Iterable, str]:
    if not isinstance(graphs, (str, Path)):
        return graphs, f"<{type(graphs).__name__}>"
    from datasets import load_from_disk

    p = Path(graphs)
    if not p.exists():
        raise FileNotFoundError(
            f"graph directory '{p}' does not exist; build it: galla build-graphs ... --out {p}"
        )
    try:
        ds = load_from_disk(str(p))
    except (FileNotFoundError, ValueError) as err:
        raise ValueError(f"'{p}' is not a graph dataset (`galla build-graphs` output): {err}") from err
    missing = [c for c in _REQUIRED if c not in getattr(ds, "column_names", ())]
    if missing:
        raise ValueError(f"'{p}' is not a graph dataset: it lacks columns {missing}")
    return ds, str(p)


def _each_row(rows: Iterable) -> Iterator[Mapping[str, Any]]:
    """The rows of a ``Dataset`` read ``ROWS_PER_READ`` at a time (the rest stays in the Arrow file), or
    of any other iterable as they are."""
    if not isinstance(rows, Dataset):
        yield from rows
        return
    for batch in rows.iter(batch_size=ROWS_PER_READ):
        cols = list(batch)
        yield from (dict(zip(cols, values, strict=True)) for values in zip(*batch.values(), strict=True))


class _Tally:
    """What the manifest says about the records, counted as they stream past."""

    def __init__(self) -> None:
        self.records = 0
        self.counts: Counter = Counter()
        self.by_subtask: dict[str, Counter] = defaultdict(Counter)
        self.edge: Counter = Counter()

    def __call__(self, records: Iterable[dict]) -> Iterator[dict]:
        for r in records:
            self.records += 1
            self.counts[r["task"]] += 1
            if r["subtask"]:
                self.by_subtask[r["task"]][r["subtask"]] += 1
            if r["subtask"] == "edge_exists":
                self.edge["yes" if r["answer"].startswith("Yes") else "no"] += 1
            yield r


def write_task_dataset(records: Iterable[dict], directory: Path, batch_size: int = WRITE_BATCH) -> int:
    """Write records of :data:`TASK_FEATURES` to ``directory`` as a ``datasets.load_from_disk`` folder,
    ``batch_size`` records at a time, so memory stays flat however many there are; returns the count.

    The folder is what ``to_dataset(records).save_to_disk(directory)`` writes (one Arrow stream file and
    the ``datasets`` metadata), without ever holding the records or their table whole."""
    directory.mkdir(parents=True, exist_ok=True)
    schema = TASK_FEATURES.arrow_schema
    digest = hashlib.blake2b(digest_size=8)
    n = 0
    with pa.OSFile(str(directory / DATA_FILE), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
        chunk: list[dict] = []
        for rec in records:
            chunk.append(rec)
            if len(chunk) == batch_size:
                n += _write_batch(writer, chunk, schema, digest)
                chunk = []
        if chunk or not n:
            n += _write_batch(writer, chunk, schema, digest)
    write_dataset_metadata(directory, digest.hexdigest(), TASK_FEATURES.to_dict(), "galla task records")
    return n


def _write_batch(writer: pa.ipc.RecordBatchStreamWriter, chunk: list[dict], schema: pa.Schema, digest) -> int:
    batch = pa.RecordBatch.from_pylist(chunk, schema=schema)
    for column in batch.columns:  # the fingerprint: a hash of every buffer written
        for buf in column.buffers():
            if buf is not None:
                digest.update(buf)
    writer.write_batch(batch)
    return len(chunk)


def build_tasks(
    graph_dir_or_dataset: str | Path | Iterable[Mapping[str, Any]],
    out_dir: str | Path,
    *,
    tasks: Sequence[str] = ("graph2code", "graph_qa"),
    seed: int = 0,
    per_graph: int = 4,
    with_question: bool = False,
    subtasks: Sequence[str] = QA_SUBTASKS,
    max_nodes_in_answer: int = 16,
    max_source_chars: int = 4000,
    downstream: Sequence[str | Path] = (),
    batch_size: int = WRITE_BATCH,
) -> dict:
    """Build task records from a graph dataset and write them to ``out_dir`` atomically, streamed.

    Records are made row by row and written ``batch_size`` at a time (:func:`write_task_dataset`), so
    memory does not grow with the corpus; the output is the same records in the same order as
    ``to_dataset(graph2code_records(rows) + graph_qa_records(rows) + downstream)``.

    Args:
        graph_dir_or_dataset: a ``galla build-graphs`` output directory, or rows (a ``datasets.Dataset``,
            a list of rows or :class:`CodeGraph` objects).
        out_dir: a ``datasets.load_from_disk`` folder plus ``tasks_manifest.json``; an existing task
            directory is replaced, anything else there is refused.
        tasks: graph tasks to build, of ``graph2code`` and ``graph_qa``.
        downstream: .jsonl/.json files read with :func:`read_task_file` and appended.
        batch_size: records per written Arrow batch.
        Other arguments: see :func:`graph2code_records` and :func:`graph_qa_records`.

    Returns:
        The manifest: counts per task and subtask, skipped units by reason, seed and sources.
    """
    bad = [t for t in tasks if t not in ("graph2code", "graph_qa")]
    if bad:
        raise ValueError(
            f"unknown graph tasks {bad}; choose from graph2code, graph_qa (downstream files: downstream=)"
        )
    if per_graph < 1:
        raise ValueError(f"per_graph must be at least 1, got {per_graph}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"'{out}' is a file, not a folder; choose a folder for the task dataset")
    if out.exists() and any(out.iterdir()) and not (out / MANIFEST).exists():
        raise ValueError(
            f"'{out}' exists and is not a task dataset (no {MANIFEST}); refusing to overwrite it"
        )
    rows, source = _open_graphs(graph_dir_or_dataset)
    if not isinstance(rows, (Dataset, Sequence)):
        rows = list(rows)  # read twice (graph2code, graph_qa)
    skipped: Counter = Counter()
    files: list[dict] = []

    def records() -> Iterator[dict]:
        # one row at a time: a unit's records are written before the next unit's are made
        for row in _each_row(rows) if "graph2code" in tasks else ():
            yield from graph2code_records([row], with_question=with_question, seed=seed, skipped=skipped)
        for row in _each_row(rows) if "graph_qa" in tasks else ():
            yield from graph_qa_records(
                [row], per_graph=per_graph, seed=seed, subtasks=subtasks,
                max_nodes_in_answer=max_nodes_in_answer, max_source_chars=max_source_chars, skipped=skipped,
            )  # fmt: skip
        for f in downstream:
            recs = read_task_file(f)
            files.append({"path": str(f), "records": len(recs)})
            yield from recs

    tally = _Tally()
    tmp = out.with_name(f".{out.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        write_task_dataset(tally(records()), tmp, batch_size)
        manifest = {
            "format": "galla-tasks-v1", "graphs": source, "graph_units": len(rows), "records": tally.records,
            "counts": dict(sorted(tally.counts.items())),
            "subtask_counts": {t: dict(c) for t, c in tally.by_subtask.items()},
            "edge_exists_answers": dict(sorted(tally.edge.items())), "skipped": dict(sorted(skipped.items())),
            "downstream": files, "seed": seed, "tasks": list(tasks), "subtasks": list(subtasks),
            "per_graph": per_graph, "with_question": with_question,
            "max_nodes_in_answer": max_nodes_in_answer, "max_source_chars": max_source_chars,
        }  # fmt: skip
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        old = out.with_name(f".{out.name}.old-{uuid.uuid4().hex[:8]}")
        if out.exists():
            os.replace(out, old)
        try:
            os.replace(tmp, out)
        except OSError:
            if old.exists():
                os.replace(old, out)
            raise
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest
