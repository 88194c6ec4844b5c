"""GraphQA records: questions about a unit's syntax tree and data flow, answered from its graph, and
:func:`check_qa`, which re-derives a record's answer from its graph columns.

GraphQA questions embed the code like the official sample: the source in a fenced block, an empty line,
then the sentence. Nodes are named by kind (underscores as spaces) and text (whitespace collapsed, cut at
40 characters with an ellipsis), plus the 1-based line (and column) within the shown code where kind and
text alone are ambiguous: ``identifier `a` (line 3)``; operator and keyword tokens read ``token `=```.
Data-flow questions point the way data flows (definition -> use), as the official DFG does; the stored
``LAST_WRITE`` edge is the reverse (use -> definition).
"""

from __future__ import annotations

import json
import random
import re
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from data_builders.formats import KIND_VOCAB
from data_builders.graph2code import _indent_back, dedent_unit, unit_indent
from data_builders.records import LANGUAGE_NAMES, _rng, _rows, task_record
from parsers.graph import CodeGraph, EdgeType
from parsers.vocab import kind_name, kind_names

QA_SUBTASKS = ("edge_exists", "parent", "children", "reaching_defs")
MAX_TEXT = 40
"""Longest node text quoted in a question or answer (longer ones end in an ellipsis)."""
GRAPH_NAMES = {"ast": "syntax tree", "dfg": "data flow graph"}

# fmt: off
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
