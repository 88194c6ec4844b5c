"""The code-graph record every builder emits, and the frozen edge vocabulary.

A :class:`CodeGraph` is one unit of code (a function, a class or a file) as a directed multigraph:
nodes are tree-sitter syntax nodes (named nodes plus operator tokens), edges are typed. Node and edge
arrays are numpy ``int32`` so a graph costs a few bytes per node, converts to PyG/Arrow without copies,
and pickles fast across worker processes.

Edge directions follow the program-graph literature (Allamanis et al. 2018, "Learning to Represent
Programs with Graphs"; Bieber et al. 2022, python-graphs): data-flow edges point from the later access
back to the earlier one. Reverse edges are not stored; the GNN encoder adds them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from parsers.vocab import kind_name


class EdgeType(IntEnum):
    """Edge kinds with frozen integer ids. Append new kinds at the end; never renumber."""

    CHILD = 0
    """AST parent -> child."""
    NEXT_TOKEN = 1
    """Leaf -> the next leaf in source order."""
    CFG_NEXT = 2
    """Statement (or loop header / iterable / condition) -> a statement that may run next."""
    LAST_WRITE = 3
    """Variable access -> each write of the same variable that may reach it (fixpoint over the CFG)."""
    LAST_READ = 4
    """Variable access -> each read of the same variable that may have been the last one before it."""
    COMPUTED_FROM = 5
    """Assigned variable -> each variable read by the value it is assigned from."""
    RETURNS_TO = 6
    """return / yield statement -> the function it returns from."""
    CALLS = 7
    """Call -> the definition of the called function, resolved by name within the file."""
    FORMAL_ARG_NAME = 8
    """Actual argument of a resolved call -> the formal parameter it binds to."""
    LAST_LEXICAL_USE = 9
    """Variable occurrence -> the previous occurrence of the same name in its scope, in text order."""
    DATA_FLOW = 10
    """Untyped def -> use edge read from an external extractor (the official GALLa DFG files)."""


#: Edge kinds grouped as researchers usually ablate them.
EDGE_GROUPS: dict[str, tuple[EdgeType, ...]] = {
    "ast": (EdgeType.CHILD, EdgeType.NEXT_TOKEN),
    "cfg": (EdgeType.CFG_NEXT,),
    "dfg": (EdgeType.LAST_WRITE, EdgeType.LAST_READ, EdgeType.COMPUTED_FROM, EdgeType.LAST_LEXICAL_USE),
    "calls": (EdgeType.RETURNS_TO, EdgeType.CALLS, EdgeType.FORMAL_ARG_NAME),
}


def parse_edge_types(spec: str | None) -> frozenset[EdgeType]:
    """Parse ``"ast,dfg"`` or ``"CHILD,LAST_WRITE"`` (groups or edge names, any case) into edge kinds.

    ``None``, ``""`` and ``"all"`` select every kind the extractor emits.
    """
    if not spec or spec.strip().lower() == "all":
        return frozenset(t for group in EDGE_GROUPS.values() for t in group)
    chosen: set[EdgeType] = set()
    for item in (s.strip() for s in spec.split(",")):
        if not item:
            continue
        if item.lower() in EDGE_GROUPS:
            chosen.update(EDGE_GROUPS[item.lower()])
        elif item.upper() in EdgeType.__members__:
            chosen.add(EdgeType[item.upper()])
        else:
            names = ", ".join([*EDGE_GROUPS, *EdgeType.__members__])
            raise ValueError(f"unknown edge type {item!r} in --edges {spec!r}; choose from: {names}")
    return frozenset(chosen)


def _empty() -> np.ndarray:
    return np.zeros(0, dtype=np.int32)


@dataclass(slots=True)
class CodeGraph:
    """One unit of code as a typed directed graph.

    Node arrays all have length ``num_nodes``; node 0 is the unit's root (the function, class or
    module node). Byte spans are relative to ``source`` encoded as UTF-8 (``source_bytes[start:end]``
    is the node's text); line/column spans are 0-based and absolute in the file, columns in bytes, as
    tree-sitter reports them.
    """

    language: str
    path: str
    unit_kind: str
    """``"function"``, ``"class"`` or ``"file"``."""
    name: str
    """Qualified name inside the file (``Outer.method``, ``f.<locals>.g``); the file name for file units."""
    source: str
    start_line: int
    """0-based line of the unit's first byte in the file."""
    node_kind: np.ndarray = field(default_factory=_empty)
    """Kind ids in the cross-language vocabulary (:mod:`parsers.vocab`)."""
    node_named: np.ndarray = field(default_factory=_empty)
    """1 for named tree-sitter nodes, 0 for anonymous tokens (operators)."""
    node_start_byte: np.ndarray = field(default_factory=_empty)
    node_end_byte: np.ndarray = field(default_factory=_empty)
    node_start_line: np.ndarray = field(default_factory=_empty)
    node_start_col: np.ndarray = field(default_factory=_empty)
    node_end_line: np.ndarray = field(default_factory=_empty)
    node_end_col: np.ndarray = field(default_factory=_empty)
    edge_src: np.ndarray = field(default_factory=_empty)
    edge_dst: np.ndarray = field(default_factory=_empty)
    edge_type: np.ndarray = field(default_factory=_empty)
    has_error: bool = False
    """tree-sitter had to recover from a syntax error inside the unit."""
    truncated_nodes: int = 0
    """Nodes dropped by the per-unit node cap (edges touching them are dropped too)."""
    truncated_edges: int = 0
    """Edges dropped by the per-unit edge cap, beyond those lost with dropped nodes."""

    @property
    def num_nodes(self) -> int:
        return len(self.node_kind)

    @property
    def num_edges(self) -> int:
        return len(self.edge_src)

    @property
    def node_types(self) -> list[str]:
        """Kind names of the nodes, e.g. ``["function_definition", "identifier", ...]``."""
        return [kind_name(int(k)) for k in self.node_kind]

    def node_text(self, i: int) -> str:
        """Source text covered by node ``i``."""
        data = self.source.encode()
        return data[self.node_start_byte[i] : self.node_end_byte[i]].decode(errors="replace")

    def edges(self, *types: EdgeType) -> list[tuple[int, int]]:
        """``(src, dst)`` pairs of the given kinds (all kinds when none are given), in stored order."""
        if types:
            mask = np.isin(self.edge_type, np.asarray([int(t) for t in types], dtype=np.int32))
        else:
            mask = np.ones(len(self.edge_type), dtype=bool)
        return list(zip(self.edge_src[mask].tolist(), self.edge_dst[mask].tolist(), strict=True))

    def edge_counts(self) -> dict[str, int]:
        """Number of edges per kind name (kinds with no edges are left out)."""
        ids, counts = np.unique(self.edge_type, return_counts=True)
        return {EdgeType(int(i)).name: int(c) for i, c in zip(ids, counts, strict=True)}
