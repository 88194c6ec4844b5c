"""Def-use agreement with python-graphs: our Python ``LAST_WRITE`` edges, function by function.

Run it in the reference environment (``bash benchmarks/setup_references.sh`` creates it)::

    .venv-ref/bin/python benchmarks/python_graphs_agreement.py --json runs/pg_agreement.json

Corpus: the running interpreter's standard library minus ``site-packages``, ``test``, ``tests`` and
``idle_test`` (see :func:`data_builders.corpora.stdlib_corpus`). Both sides parse whole files; an edge
belongs to the scope of its access, decided the same way for both sides: the innermost ``def`` around
it, except that a def's name, decorators, defaults and annotations belong to the enclosing scope
(lambdas, comprehensions and class bodies are not scopes of their own here, as in python-graphs). Each
function is compared with itself; module levels (with their class bodies) are reported apart.

Edge semantics, on both sides: every access of a variable (a read *or* a write) -> each write of the same
name that may reach it. python-graphs builds these in ``program_graph.get_program_graph`` from
``control_flow.get_control_flow_graph`` + ``data_flow.LastAccessAnalysis``; this script replays exactly
that loop (no unparser, so no patch is needed). Nodes are matched by the position of the identifier
occurrence: gast's ``(lineno, col_offset)`` (1-based line, UTF-8 byte column), ours ``(line + 1, col)``.
python-graphs records a few writes without a position (a ``def``/``class`` name, an ``except ... as``
name, an import); those are located in the source text.

python-graphs 1.2.3 skips some statements entirely (``with``, ``async with``, ``async for``, ``async
def``, annotated assignments, imports) and never writes positional-only parameters. By default the
oracle is extended to cover them in the obvious way (:func:`extend_python_graphs`); ``--stock`` compares
with the unmodified library. Everything python-graphs models *differently* is left as is.

Every differing edge is sorted into one of :data:`CATEGORIES` by where it sits in the syntax tree; a
differing scope is counted under the first category (in table order) among its edges. Categories
starting "ours:" are galla engine bugs, those starting "python-graphs:" are places where python-graphs
departs from Python's semantics. The heuristics were checked by hand on samples of every category.
"""

from __future__ import annotations

import argparse
import bisect
import json
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import gast

from data_builders.corpora import stdlib_corpus

Pos = tuple[int, int]
"""(1-based line, 0-based UTF-8 byte column) of an identifier occurrence."""
Edge = tuple[Pos, Pos]
"""(access, reaching write)."""

COMPREHENSIONS = (gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp)
FUNCTIONS = (gast.FunctionDef, gast.AsyncFunctionDef)


# --- python-graphs, optionally extended ----------------------------------------------------------


def extend_python_graphs() -> None:
    """Teach python-graphs the statements it skips (monkeypatch; this process only).

    - ``with`` / ``async with``: each item is an instruction (context expression read, target written),
      then the body runs; stock python-graphs drops the statement and its whole body.
    - ``async for`` / ``async def``: handled as ``for`` / ``def``; stock drops them.
    - ``x: T = v``: an instruction that reads ``v``, writes ``x`` and, at module and class level, reads
      ``T`` (Python never evaluates a function-local annotation); stock drops it.
    - ``import`` / ``from ... import``: an instruction writing each bound name; stock has no access.
    - positional-only parameters are written at entry like the others; stock forgets them.
    """
    from python_graphs import control_flow
    from python_graphs import instruction as im

    visitor = control_flow.ControlFlowVisitor
    if getattr(visitor, "_galla_extended", False):
        return

    def visit_With(self, node, current_block):
        for item in node.items:
            self.add_new_instruction(current_block, item)
        return self.visit_list(node.body, current_block)

    def visit_AnnAssign(self, node, current_block):
        accesses = []
        if node.value is not None:
            accesses += im.get_accesses_from_ast_node(node.value)
            accesses += [n for n in gast.walk(node.target) if isinstance(n, gast.Name)]
        scopes = self.__dict__.get("_galla_scopes", [])
        if not scopes or scopes[-1] == "class":  # evaluated at module and class level only
            accesses += im.get_accesses_from_ast_node(node.annotation)
        if accesses:
            self.add_new_instruction(current_block, node, accesses=accesses)
        return current_block

    def scoped(kind, method):
        def wrapper(self, *args):
            scopes = self.__dict__.setdefault("_galla_scopes", [])
            scopes.append(kind)
            try:
                return method(self, *args)
            finally:
                scopes.pop()

        return wrapper

    def visit_Import(self, node, current_block):
        accesses = [("write", _ImportName(alias), node) for alias in node.names if alias.name != "*"]
        self.add_new_instruction(current_block, node, accesses=accesses)
        return current_block

    original_args = visitor.handle_argument_writes

    def handle_argument_writes(self, node, current_block):
        if node.posonlyargs:
            accesses = []
            for arg in node.posonlyargs:
                accesses.extend(im.create_writes(arg, node))
            self.add_new_instruction(current_block, node, accesses=accesses, source=im.ARGS)
        return original_args(self, node, current_block)

    visitor.visit_With = visit_With
    visitor.visit_AsyncWith = visit_With
    visitor.visit_AsyncFor = visitor.visit_For
    visitor.visit_AsyncFunctionDef = visitor.visit_FunctionDef
    visitor.visit_AnnAssign = visit_AnnAssign
    visitor.visit_Import = visit_Import
    visitor.visit_ImportFrom = visit_Import
    visitor.handle_argument_writes = handle_argument_writes
    visitor.visit_ClassDef = scoped("class", visitor.visit_ClassDef)
    visitor.handle_function_definition = scoped("function", visitor.handle_function_definition)
    visitor._galla_extended = True


class _ImportName(str):
    """The name an import alias binds, remembering the alias (for its position)."""

    alias: gast.alias

    def __new__(cls, alias: gast.alias) -> _ImportName:
        self = super().__new__(cls, alias.asname or alias.name.split(".")[0])
        self.alias = alias
        return self


class SourceText:
    """Byte offsets <-> (1-based line, byte column) for one file."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.starts = [0] + [m.end() for m in re.finditer(rb"\n", data)]

    def offset(self, line: int, col: int) -> int:
        return self.starts[line - 1] + col

    def pos(self, offset: int) -> Pos:
        line = bisect.bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1]

    def find(self, pattern: bytes, start: Pos) -> Pos | None:
        """Position of group 1 of ``pattern`` searched from ``start``."""
        m = re.compile(pattern).search(self.data, self.offset(*start))
        return self.pos(m.start(1)) if m else None


def access_position(access, text: SourceText) -> Pos | None:
    """Where the identifier of a python-graphs access occurs in the source."""
    node = access if isinstance(access, gast.AST) else access[1]
    if isinstance(node, gast.Name):
        if getattr(node, "lineno", None) is not None:
            return node.lineno, node.col_offset
        parent = access[2]  # an ``except ... as name`` (gast gives the Name no position)
        if isinstance(parent, gast.ExceptHandler):
            start = parent.type or parent
            end = (
                (start.end_lineno, start.end_col_offset) if parent.type else (start.lineno, start.col_offset)
            )
            return text.find(rb"\bas\s+(" + re.escape(node.id.encode()) + rb")\b", end)
        return None
    if isinstance(node, _ImportName):
        alias = node.alias
        if alias.asname:
            return text.find(
                rb"\bas\s+(" + re.escape(alias.asname.encode()) + rb")\b", (alias.lineno, alias.col_offset)
            )
        return alias.lineno, alias.col_offset
    parent = access[2]  # a def or class name
    if isinstance(parent, FUNCTIONS):
        return text.find(rb"(?:async\s+)?def\s+(\w+)", (parent.lineno, parent.col_offset))
    if isinstance(parent, gast.ClassDef):
        return text.find(rb"class\s+(\w+)", (parent.lineno, parent.col_offset))
    return None


def python_graphs_edges(tree: gast.Module, text: SourceText) -> tuple[set[Edge], int]:
    """LAST_WRITE edges exactly as ``get_program_graph`` builds them, and the unplaced accesses."""
    from python_graphs import control_flow, data_flow
    from python_graphs import instruction as im

    graph = control_flow.get_control_flow_graph(tree)
    analysis = data_flow.LastAccessAnalysis()
    for node in graph.get_enter_control_flow_nodes():
        analysis.visit(node)
    edges: set[Edge] = set()
    positions: dict[int, Pos | None] = {}

    def where(access) -> Pos | None:
        key = id(access[1]) if isinstance(access, tuple) and not isinstance(access[1], str) else id(access)
        if key not in positions:
            positions[key] = access_position(access, text)
        return positions[key]

    unplaced = 0
    for cfn in graph.get_control_flow_nodes():
        last = cfn.get_label("last_access_in").copy() if cfn.has_label("last_access_in") else {}
        for access in cfn.instruction.accesses:
            name = im.access_name(access)
            here = where(access)
            for write in last.get(im.access_identifier(name, "write"), ()):
                there = where(write)
                if here is None or there is None:
                    unplaced += 1
                else:
                    edges.add((here, there))
            if im.access_is_read(access):
                last[im.access_identifier(name, "read")] = [access]
            elif im.access_is_write(access):
                last[im.access_identifier(name, "write")] = [access]
    return edges, unplaced


def galla_edges(data: bytes) -> set[Edge]:
    from parsers import EdgeType, extract_file

    fg = extract_file(
        data, "python", unit="file", edges={EdgeType.LAST_WRITE}, max_nodes=1 << 30, max_edges=1 << 30
    )
    if not len(fg):
        return set()
    g = fg.graphs[0]
    line, col = (g.node_start_line + 1).tolist(), g.node_start_col.tolist()
    return {((line[s], col[s]), (line[d], col[d])) for s, d in g.edges(EdgeType.LAST_WRITE)}


# --- where an edge sits in the syntax tree -----------------------------------------------------


@dataclass
class Occurrence:
    """An identifier occurrence found in the gast tree, and what encloses it."""

    name: str
    role: str
    """How it occurs: "name" (a Name), "param", "def", "class", "import", "handler"."""
    chain: list[tuple[gast.AST, str]] = field(default_factory=list)
    """Ancestors, innermost first, each with the field of the child on the path."""


HEADER_FIELDS = frozenset({"defaults", "kw_defaults", "annotation", "returns", "decorator_list"})
"""Fields of a def (or its ``arguments``/parameters) evaluated in the enclosing scope."""


class FileIndex:
    """Functions and identifier occurrences of one file, by position."""

    def __init__(self, tree: gast.Module, text: SourceText) -> None:
        self.functions: list[gast.AST] = []
        self.occ: dict[Pos, Occurrence] = {}
        self.dotted_imports: list[tuple[Pos, Pos]] = []
        """Spans of ``import a.b`` aliases (only ``a`` is bound)."""
        self.dotted_names: set[str] = set()
        self.matches: list[tuple[Pos, Pos]] = []
        self.tries: list[tuple[gast.Try, list]] = []
        self.relative_imports: list[tuple[Pos, Pos]] = []
        self.uses: set[Pos] = set()
        """Positions of reads: a Name loaded, or the target of an augmented assignment."""
        self.future_annotations = False
        """``from __future__ import annotations``: annotations are never evaluated (PEP 563)."""
        self.else_jump_loops: list[tuple[Pos, Pos]] = []
        """Spans of loops whose body holds a loop with a break/continue in its ``else`` clause."""
        self.for_loops: list[tuple[gast.AST, list]] = []
        stack: list[tuple[gast.AST, list[tuple[gast.AST, str]]]] = [(tree, [])]
        while stack:
            node, chain = stack.pop()
            if isinstance(node, FUNCTIONS):
                self.functions.append(node)
                p = text.find(rb"(?:async\s+)?def\s+(\w+)", (node.lineno, node.col_offset))
                if p:
                    self.occ[p] = Occurrence(node.name, "def", chain)
            elif isinstance(node, gast.ClassDef):
                p = text.find(rb"class\s+(\w+)", (node.lineno, node.col_offset))
                if p:
                    self.occ[p] = Occurrence(node.name, "class", chain)
            elif isinstance(node, gast.Name) and getattr(node, "lineno", None) is not None:
                role = "param" if isinstance(node.ctx, gast.Param) else "name"
                self.occ[(node.lineno, node.col_offset)] = Occurrence(node.id, role, chain)
                if isinstance(node.ctx, gast.Load) or (chain and isinstance(chain[0][0], gast.AugAssign)):
                    self.uses.add((node.lineno, node.col_offset))
            elif isinstance(node, gast.ExceptHandler) and node.name is not None:
                p = access_position(("write", node.name, node), text)
                if p:
                    self.occ[p] = Occurrence(node.name.id, "handler", chain)
            elif isinstance(node, gast.Match):
                self.matches.append(((node.lineno, node.col_offset), (node.end_lineno, node.end_col_offset)))
            elif isinstance(node, gast.Try):
                self.tries.append((node, chain))
            elif isinstance(node, (gast.For, gast.AsyncFor, gast.While)) and _jumps(node.orelse):
                outer = next(
                    (n for n, _ in chain if isinstance(n, (gast.For, gast.AsyncFor, gast.While))), None
                )
                if outer is not None:
                    self.else_jump_loops.append((_start(outer), _end(outer)))
            elif isinstance(node, gast.ImportFrom):
                if node.level:
                    self.relative_imports.append((_start(node), _end(node)))
                if node.module == "__future__" and any(a.name == "annotations" for a in node.names):
                    self.future_annotations = True
            elif isinstance(node, gast.alias) and node.name != "*":
                p = access_position(("write", _ImportName(node), None), text)
                if p:
                    self.occ[p] = Occurrence(node.asname or node.name.split(".")[0], "import", chain)
                if "." in node.name and not node.asname and isinstance(chain[0][0], gast.Import):
                    span = ((node.lineno, node.col_offset), (node.end_lineno, node.end_col_offset))
                    self.dotted_imports.append(span)
                    self.dotted_names.update(node.name.split(".")[1:])
            if isinstance(node, (gast.For, gast.AsyncFor)):
                self.for_loops.append((node, chain))
            for fname, value in gast.iter_fields(node):
                items = value if isinstance(value, list) else [value]
                for item in items:
                    if isinstance(item, gast.AST):
                        stack.append((item, [(node, fname), *chain]))
        self.functions.sort(key=lambda f: (f.lineno, f.col_offset))
        self.number = {id(f): i for i, f in enumerate(self.functions)}
        self.spans = [((f.lineno, f.col_offset), (f.end_lineno, f.end_col_offset)) for f in self.functions]
        # names python-graphs binds in the wrong scope, per scope: comprehension targets, lambda parameters
        self.leaky: dict[tuple[int, str], set[str]] = defaultdict(set)
        for occ in self.occ.values():
            for i, (node, fname) in enumerate(occ.chain):
                if isinstance(node, gast.comprehension) and fname == "target":
                    self.leaky[(self.scope_of_chain(occ.chain), "comprehension")].add(occ.name)
                elif isinstance(node, gast.arguments) and isinstance(occ.chain[i + 1][0], gast.Lambda):
                    if fname not in ("defaults", "kw_defaults"):
                        self.leaky[(self.scope_of_chain(occ.chain), "lambda")].add(occ.name)
                else:
                    continue
                break
        self.class_names = {o.name for o in self.occ.values() if o.role == "class"}
        self.bare_annotations = {
            o.name
            for o in self.occ.values()
            if o.chain and isinstance(o.chain[0][0], gast.AnnAssign) and o.chain[0][0].value is None
        }

    def scope_of(self, pos: Pos) -> int:
        """Index of the ``def`` whose variables the occurrence at ``pos`` belongs to; -1: module level.

        A def's name, decorators, defaults and annotations belong to the enclosing scope; lambdas and
        comprehensions are not scopes here (python-graphs has none), class bodies are transparent.
        """
        occ = self.occ.get(pos)
        return self.function_of(pos) if occ is None else self.scope_of_chain(occ.chain)

    def scope_of_chain(self, chain: list[tuple[gast.AST, str]]) -> int:
        header = False
        for node, fname in chain:
            if fname in HEADER_FIELDS:
                header = True
            if isinstance(node, gast.Lambda):
                header = False  # a lambda's defaults run where the lambda is, in the same scope
            if isinstance(node, FUNCTIONS):
                if not header:
                    return self.number[id(node)]
                header = False
        return -1

    def function_of(self, pos: Pos) -> int:
        """Index of the innermost def whose span holds ``pos``; -1 at module level."""
        best = -1
        for i, (a, b) in enumerate(self.spans):  # sorted by start; nested ones come later
            if a > pos:
                break
            if pos < b:
                best = i
        return best

    def in_dotted_import(self, pos: Pos) -> bool:
        """Whether ``pos`` is past the bound first name of an ``import a.b`` (at ``b``)."""
        return any(a < pos < b for a, b in self.dotted_imports)

    def in_match(self, pos: Pos) -> bool:
        return any(a <= pos < b for a, b in self.matches)


def _jumps(stmts: list[gast.AST]) -> bool:
    """A break or continue among ``stmts`` that belongs to the loop around them."""
    stack = list(stmts)
    while stack:
        n = stack.pop()
        if isinstance(n, (gast.Break, gast.Continue)):
            return True
        if isinstance(n, (gast.For, gast.AsyncFor, gast.While, *FUNCTIONS, gast.ClassDef, gast.Lambda)):
            continue
        stack.extend(c for c in gast.iter_child_nodes(n) if isinstance(c, gast.stmt))
    return False


def _start(node: gast.AST) -> Pos:
    return node.lineno, node.col_offset


def _end(node: gast.AST) -> Pos:
    return node.end_lineno, node.end_col_offset


def _writes(nodes: list[gast.AST], name: str) -> bool:
    """Whether ``nodes`` bind ``name``: an assignment target, an import, a def or class name."""
    for stmt in nodes:
        for n in gast.walk(stmt):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                bound = n.id
            elif isinstance(n, gast.alias):
                bound = n.asname or n.name.split(".")[0]
            elif isinstance(n, (*FUNCTIONS, gast.ClassDef)):
                bound = n.name
            else:
                continue
            if bound == name:
                return True
    return False


def _inside(pos: Pos, nodes: list[gast.AST]) -> bool:
    return any(_start(n) <= pos < _end(n) for n in nodes)


def _finally_continue(t: gast.Try, pa: Pos, pw: Pos, name: str) -> bool:
    """Whether our imprecise exit from a finally clause explains that the write at ``pw`` reaches ``pa``.

    The try (body, handlers or else clause) writes the name; the write lies before the finally clause and
    the access after the whole statement: only an exception that skips the try's write, goes through the
    finally clause and then (on our side only) continues after the try carries the older state there.
    """
    return (
        bool(t.finalbody)
        and pa >= _end(t)
        and pw < _start(t.finalbody[0])
        and _writes(t.body + t.handlers + t.orelse, name)
    )


def _for_target_exit(edge: Edge, only_ours: bool, idx: FileIndex, name: str, scope: int) -> bool:
    """Whether a for loop's target, written on loop exit by python-graphs only, explains the edge.

    python-graphs writes the target in the loop head, so also on the path that leaves the loop; we write
    it on the way into the body. After a loop (or around an enclosing loop) python-graphs therefore sees
    the target where we see what reached the loop head: a write from before the loop (no iteration) or
    from the body (an inner loop's target, an assignment). The access must lie outside the loop's body.
    """
    pa, pw = edge
    for loop, chain in idx.for_loops:
        if _inside(pa, loop.body) or idx.scope_of_chain(chain) != scope or not _writes([loop.target], name):
            continue
        if _inside(pw, [loop.target]):
            if not only_ours:
                return True  # python-graphs: the target reaches past the loop's exit
            continue
        if only_ours:
            after = pa >= _end(loop) or _inside(pa, loop.orelse)
            if _inside(pw, loop.body) or (pw < _start(loop) and after):
                return True  # ours: the state at the loop head reaches past the loop's exit
            outer = []
            for node, _ in chain:
                if isinstance(node, FUNCTIONS):
                    break
                if isinstance(node, (gast.For, gast.AsyncFor, gast.While)):
                    outer.append(node)
            if any(_inside(pa, [o]) and _inside(pw, [o]) for o in outer):
                return True  # the same, around an enclosing loop
    return False


CATEGORIES: dict[str, str] = {
    # ours wrong (engine bugs)
    "dotted-import": "ours: `import a.b` also writes `b` (Python binds only `a`)",
    "decorator": "ours: decorators are never read",
    "def-header": "ours: defaults and annotations of a def are not read in the enclosing scope",
    "future-annotation": "ours: a def's annotations are read under `from __future__ import annotations` "
    "(which leaves them unevaluated)",
    "finally-exception": "ours: an exception inside a try body does not flow into its finally clause",
    "finally-continue": "ours: a finally clause reached by an exception continues after the try too "
    "(imprecise)",
    "loop-else-jump": "ours: break/continue in a loop's else clause act on that loop, not the enclosing one",
    "relative-import": "ours: `from .mod import x` reads a variable `mod`",
    "bare-annotation": "ours: `x: T` without a value counts as a write of x",
    "local-annotation": "ours: the annotation of a function-local `x: T = v` is read (Python never "
    "evaluates it)",
    "class-name-order": "ours: a class's name is written before its body runs, not after",
    # python-graphs models it differently
    "comprehension": "python-graphs: comprehension variables leak into the function (Python 2) and the "
    "element is read before the for clauses",
    "lambda": "python-graphs: a lambda's parameters and body are accesses of the enclosing function",
    "param-annotation": "python-graphs: names in a parameter annotation count as writes",
    "postponed-annotation": "python-graphs: reads annotations that `from __future__ import annotations` "
    "leaves unevaluated",
    "annotation": "python-graphs: a def's annotations are never read (Python evaluates them when the def "
    "runs)",
    "class-base": "python-graphs: a class's bases are never read",
    "except-handler": "python-graphs: a handler sees only the state at the end of each try-body block",
    "finally-entry": "python-graphs: a finally clause sees only the state at the end of each try-body block",
    "finally-merge": "python-graphs: the state of an exception path continues after its finally clause",
    "for-target": "python-graphs: writes a for loop's target on loop exit too",
    "match": "python-graphs: match statements are not modelled",
    "walrus": "python-graphs: a := target is written before its value is read",
    # left over (zero on CPython 3.11's stdlib with the extended oracle)
    "unmatched-position": "an end has no identifier at that position on the other side",
    "import": "other differences at import bindings",
    "del": "other differences at del statements",
    "other": "not classified",
}


PYTHON_GRAPHS_SIDE = frozenset(c for c, text in CATEGORIES.items() if text.startswith("python-graphs:"))


def classify(edge: Edge, only_ours: bool, idx: FileIndex) -> str:
    """The category of a disagreeing edge (see :data:`CATEGORIES`)."""
    if any(idx.in_dotted_import(p) for p in edge):
        return "dotted-import"
    if any(idx.in_match(p) for p in edge):
        return "match"
    a, w = idx.occ.get(edge[0]), idx.occ.get(edge[1])
    in_relative_import = any(lo <= edge[0] < hi for lo, hi in idx.relative_imports)
    if only_ours and in_relative_import and (a is None or a.role != "import"):  # in the module part
        return "relative-import"
    if a is None or w is None:
        return "unmatched-position"
    chains = (a.chain, w.chain)
    a_fields = {(type(n).__name__, f) for n, f in a.chain}
    w_fields = {(type(n).__name__, f) for n, f in w.chain}

    def inside(types, which=chains) -> bool:
        return any(isinstance(n, types) for ch in which for n, _ in ch)

    if not only_ours and any(f == "decorator_list" for _, f in a.chain):
        return "decorator"
    in_annotation = any(f in ("annotation", "returns") for _, f in a.chain)
    if not only_ours and idx.future_annotations and in_annotation:
        return "postponed-annotation"
    if any(f in ("defaults", "kw_defaults") for _, f in a.chain) and not inside(gast.Lambda):
        return "def-header"
    if any(f == "returns" for _, f in a.chain) or (("Name", "annotation") in a_fields and a.role == "name"):
        if only_ours:
            return "future-annotation" if idx.future_annotations else "annotation"
        return "param-annotation" if ("Name", "annotation") in w_fields else "def-header"
    if inside(COMPREHENSIONS):  # before loop-else-jump: python-graphs' leaked comprehension variables
        return "comprehension"  # also travel around a loop whose else clause jumps (rich's _ratio.py)
    if not only_ours and any(lo <= p < hi for p in edge for lo, hi in idx.else_jump_loops):
        return "loop-else-jump"
    if inside(gast.Lambda):
        return "lambda"
    if not only_ours and ("Name", "annotation") in w_fields:
        return "param-annotation"
    if ("ClassDef", "bases") in a_fields | w_fields or ("ClassDef", "keywords") in a_fields | w_fields:
        return "class-base"
    if "class" in (a.role, w.role):
        return "class-name-order"
    for occ in (a, w):
        if occ.chain and isinstance(occ.chain[0][0], gast.AnnAssign) and occ.chain[0][0].value is None:
            return "bare-annotation"
    if inside((gast.Match, gast.match_case)):
        return "match"
    if ("NamedExpr", "target") in w_fields or inside(gast.NamedExpr, (a.chain,)):
        return "walrus"
    if not only_ours and ("Try", "finalbody") in a_fields:
        return "finally-exception"
    pa, pw = edge
    scope = idx.scope_of(pa)
    if _for_target_exit(edge, only_ours, idx, a.name, scope):
        return "for-target"
    tries = sorted(
        (t for t, t_chain in idx.tries if idx.scope_of_chain(t_chain) == scope), key=_start, reverse=True
    )
    for t in tries:  # a try/finally without handlers that writes the name, between write and access
        if only_ours and not t.handlers and _finally_continue(t, pa, pw, a.name):
            return "finally-continue"
    for t in tries:
        body_end = _end(t.body[-1])
        if only_ours and t.handlers and (pa >= body_end or pw >= pa) and _writes(t.body, a.name):
            return "except-handler"  # a handler (or what follows) can see states python-graphs skips
        if not only_ours and t.finalbody and pa >= _end(t) and pw < body_end:
            return "finally-merge"
    for t in tries:
        if (
            only_ours
            and t.finalbody
            and _inside(pa, t.finalbody)
            and pw < _start(t.finalbody[0])
            and _writes(t.body + t.handlers + t.orelse, a.name)
        ):
            return "finally-entry"  # as except-handler, for the finally clause
        if only_ours and _finally_continue(t, pa, pw, a.name):
            return "finally-continue"
    if a.name in idx.dotted_names:
        return "dotted-import"
    for kind in ("comprehension", "lambda"):
        if a.name in idx.leaky.get((scope, kind), ()):
            return kind  # python-graphs' leaked binding changes what reaches this access
    if a.name in idx.class_names:
        return "class-name-order"
    if a.name in idx.bare_annotations:
        return "bare-annotation"
    if only_ours and ("AnnAssign", "annotation") in a_fields:
        return "local-annotation"
    if "import" in (a.role, w.role):
        return "import"
    if inside(gast.Delete):
        return "del"
    return "other"


# --- the comparison ---------------------------------------------------------------------------


@dataclass
class Totals:
    """Agreement over one kind of scope (functions, or module top levels with their class bodies)."""

    scopes: int = 0
    identical: int = 0
    theirs_to_blame: int = 0
    """Differing scopes whose every difference falls in a python-graphs category."""
    with_edges: int = 0
    ours: int = 0
    theirs: int = 0
    common: int = 0
    edge_cats: Counter = field(default_factory=Counter)
    scope_cats: Counter = field(default_factory=Counter)
    examples: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))

    def add(self, o: set[Edge], t: set[Edge], idx: FileIndex, example: Callable[[], dict], keep: int) -> None:
        self.scopes += 1
        self.ours += len(o)
        self.theirs += len(t)
        self.common += len(o & t)
        self.with_edges += bool(o or t)
        if o == t:
            self.identical += 1
            return
        labelled = [(classify(e, True, idx), e, True) for e in sorted(o - t)]
        labelled += [(classify(e, False, idx), e, False) for e in sorted(t - o)]
        cats = Counter(c for c, _, _ in labelled)
        self.edge_cats.update(cats)
        primary = next(c for c in CATEGORIES if c in cats)
        self.scope_cats[primary] += 1
        self.theirs_to_blame += cats.keys() <= PYTHON_GRAPHS_SIDE
        ex = self.examples[primary]
        if keep:
            info = example()
            if len(ex) < keep or info["lines"] < ex[-1]["lines"]:
                info["diff"] = [
                    f"{'ours only' if ours_only else 'python-graphs only'} [{c}]: "
                    f"{_show(e[0], idx)} -> {_show(e[1], idx)}"
                    for c, e, ours_only in labelled
                ]
                ex.append(info)
                ex.sort(key=lambda x: x["lines"])
                del ex[keep:]

    def summary(self) -> dict:
        return {
            "scopes": self.scopes,
            "with_edges": self.with_edges,
            "identical": self.identical,
            "identical_pct": round(100 * self.identical / max(self.scopes, 1), 2),
            "identical_or_python_graphs_side": self.identical + self.theirs_to_blame,
            "identical_or_python_graphs_side_pct": round(
                100 * (self.identical + self.theirs_to_blame) / max(self.scopes, 1), 2
            ),
            "edges_ours": self.ours,
            "edges_python_graphs": self.theirs,
            "edges_common": self.common,
            "precision": round(self.common / max(self.ours, 1), 4),
            "recall": round(self.common / max(self.theirs, 1), 4),
            "differing_scopes_by_category": dict(self.scope_cats.most_common()),
            "differing_edges_by_category": dict(self.edge_cats.most_common()),
            "examples": dict(self.examples),
        }


@dataclass
class Run:
    functions: Totals = field(default_factory=Totals)
    functions_def_use: Totals = field(default_factory=Totals)
    """The same functions, on def-use edges only: a use (a read) -> each definition reaching it (the
    write -> earlier write edges of LAST_WRITE left out)."""
    modules: Totals = field(default_factory=Totals)
    failed_files: list[str] = field(default_factory=list)
    failed_functions: int = 0
    unplaced: int = 0


def compare_file(path: Path, run: Run, keep_examples: int) -> None:
    """Compare the LAST_WRITE edges of every function of one file, and of its module level."""
    data = path.read_bytes()
    text = SourceText(data)
    tree = gast.parse(data)
    idx = FileIndex(tree, text)
    try:
        theirs, unplaced = python_graphs_edges(tree, text)
    except Exception as exc:  # python-graphs gives up on the whole file
        run.failed_files.append(f"{path}: {type(exc).__name__}: {exc}")
        run.failed_functions += len(idx.functions)
        return
    run.unplaced += unplaced
    ours = galla_edges(data)
    per_ours: dict[int, set[Edge]] = defaultdict(set)
    per_theirs: dict[int, set[Edge]] = defaultdict(set)
    for e in ours:
        per_ours[idx.scope_of(e[0])].add(e)
    for e in theirs:
        per_theirs[idx.scope_of(e[0])].add(e)
    lines = data.decode("utf-8", errors="replace").splitlines()

    def example(first: int, last: int, name: str) -> Callable[[], dict]:
        def make() -> dict:
            size = last - first + 1
            src = "\n".join(lines[first - 1 : last]) if size <= 40 else None
            return {"file": str(path), "scope": name, "line": first, "lines": size, "source": src}

        return make

    for f, fn in enumerate(idx.functions):
        ex = example(fn.lineno, fn.end_lineno, fn.name)
        o, t = per_ours.get(f, set()), per_theirs.get(f, set())
        run.functions.add(o, t, idx, ex, keep_examples)
        uses = idx.uses
        run.functions_def_use.add({e for e in o if e[0] in uses}, {e for e in t if e[0] in uses}, idx, ex, 0)
    ex = example(1, len(lines), "<module>")
    run.modules.add(per_ours.get(-1, set()), per_theirs.get(-1, set()), idx, ex, keep_examples)


def _show(p: Pos, idx: FileIndex) -> str:
    occ = idx.occ.get(p)
    return f"{occ.name if occ else '?'}@{p[0]}:{p[1]}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stock", action="store_true", help="compare with unmodified python-graphs")
    ap.add_argument("--limit", type=int, default=0, help="only the first N files (smoke test)")
    ap.add_argument("--examples", type=int, default=2, help="smallest examples kept per category")
    ap.add_argument("--json", type=Path, help="write the numbers and examples here")
    ap.add_argument("--root", type=Path, help="corpus root (default: the interpreter's stdlib)")
    args = ap.parse_args(argv)
    try:
        import python_graphs  # noqa: F401
    except ImportError:
        print(
            "python-graphs is missing: run `bash benchmarks/setup_references.sh` and use .venv-ref/bin/python"
        )
        return 2
    if not args.stock:
        extend_python_graphs()
    files = stdlib_corpus(args.root)
    if args.limit:
        files = files[: args.limit]
    run = Run()
    t0 = time.perf_counter()
    sys.setrecursionlimit(100_000)
    for i, path in enumerate(files):
        compare_file(path, run, args.examples)
        if (i + 1) % 100 == 0:
            print(f"  {i + 1}/{len(files)} files, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    report = {
        "oracle": "python-graphs 1.2.3" + ("" if args.stock else " + extend_python_graphs()"),
        "files": len(files),
        "seconds": round(time.perf_counter() - t0, 1),
        "python_graphs_failed_files": run.failed_files,
        "python_graphs_failed_functions": run.failed_functions,
        "python_graphs_unplaced_edges": run.unplaced,
        "functions": run.functions.summary(),
        "functions_def_use": run.functions_def_use.summary(),
        "module_levels": run.modules.summary(),
        "categories": CATEGORIES,
    }
    print_report(report)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
    return 0


def print_report(r: dict) -> None:
    print(f"oracle: {r['oracle']}; {r['files']} files in {r['seconds']} s")
    print(
        f"python-graphs failed on {len(r['python_graphs_failed_files'])} files "
        f"({r['python_graphs_failed_functions']} functions); "
        f"unplaced edges: {r['python_graphs_unplaced_edges']}"
    )
    views = (
        ("functions: LAST_WRITE (every access -> reaching writes)", "functions", "LAST_WRITE"),
        ("functions: def-use (every read -> reaching writes)", "functions_def_use", "def-use"),
        ("module levels (incl. class bodies): LAST_WRITE", "module_levels", "LAST_WRITE"),
    )
    for label, key, what in views:
        s = r[key]
        print(f"\n== {label}")
        print(
            f"identical {what} sets: {s['identical']} / {s['scopes']} = {s['identical_pct']}% "
            f"({s['with_edges']} have edges on either side)"
        )
        print(
            f"identical, or differing only where python-graphs departs from Python: "
            f"{s['identical_or_python_graphs_side']} / {s['scopes']} = "
            f"{s['identical_or_python_graphs_side_pct']}%"
        )
        print(
            f"edges: ours {s['edges_ours']}, python-graphs {s['edges_python_graphs']}, common "
            f"{s['edges_common']}; precision {s['precision']:.4f}, recall {s['recall']:.4f}"
        )
        print(f"{'category':20s} {'scopes':>7s} {'edges':>7s}  meaning")
        for c, meaning in CATEGORIES.items():
            ns, ne = s["differing_scopes_by_category"].get(c, 0), s["differing_edges_by_category"].get(c, 0)
            if ns or ne:
                print(f"{c:20s} {ns:7d} {ne:7d}  {meaning}")
    for key in ("functions", "module_levels"):
        for c, exs in r[key]["examples"].items():
            for ex in exs:
                print(f"\n--- {key} / {c}: {ex['file']}:{ex['line']} {ex['scope']} ({ex['lines']} lines)")
                if ex["source"]:
                    print(ex["source"])
                for d in ex["diff"][:12]:
                    print("   ", d)
                if len(ex["diff"]) > 12:
                    print(f"    ... {len(ex['diff']) - 12} more")


if __name__ == "__main__":
    sys.exit(main())
