"""Source file -> code graphs of its units. The one entry point the rest of galla calls.

The file is parsed and flattened once; every edge kind is computed once at file level (control and
data flow per scope, calls per file); each unit (function, class, file) is then a contiguous preorder
range of nodes, and its graph is the edges with both ends inside that range.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Literal

import numpy as np

from parsers import tree as _tree
from parsers.calls import call_edges
from parsers.compiled import compiled, flow_tables
from parsers.dataflow import computed_from, flow_edges, native_edges
from parsers.graph import EDGE_GROUPS, CodeGraph, EdgeType
from parsers.languages import LanguageSpec, get_language, with_postponed_annotations
from parsers.names import binding_name, bound_lambdas, class_units, object_binding, unit_name
from parsers.tree import FlatTree, flatten, tables

Unit = Literal["function", "class", "file"]
UNITS: tuple[Unit, ...] = ("function", "class", "file")
ALL_EDGES = frozenset(t for group in EDGE_GROUPS.values() for t in group)
DEFAULT_MAX_NODES = 50_000
DEFAULT_MAX_EDGES = 500_000


NODE_COLUMNS = (
    "node_kind",
    "node_named",
    "node_start_byte",
    "node_end_byte",
    "node_start_line",
    "node_start_col",
    "node_end_line",
    "node_end_col",
)
EDGE_COLUMNS = ("edge_src", "edge_dst", "edge_type")


@dataclass(slots=True)
class FileGraphs:
    """The units of one file in columnar form, plus what happened on the way.

    Per-unit lists (``names``, ``sources`` ...) have one entry per unit; node and edge columns are the
    units' arrays concatenated, cut by ``node_offsets`` / ``edge_offsets`` (length units + 1). This is
    the form the dataset writer wants; :attr:`graphs` gives :class:`CodeGraph` views of it.
    """

    language: str
    path: str
    unit_kind: str
    num_nodes: int = 0
    """Graph nodes in the whole file."""
    has_error: bool = False
    replaced_invalid_utf8: bool = False
    """The file was not valid UTF-8; invalid bytes were replaced with U+FFFD before parsing."""
    names: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    start_lines: list[int] = field(default_factory=list)
    unit_has_error: list[bool] = field(default_factory=list)
    truncated_nodes: list[int] = field(default_factory=list)
    truncated_edges: list[int] = field(default_factory=list)
    node_offsets: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    edge_offsets: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    columns: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.names)

    @property
    def graphs(self) -> list[CodeGraph]:
        out = []
        no, eo, col = self.node_offsets, self.edge_offsets, self.columns
        for u in range(len(self.names)):
            a, b, c, d = no[u], no[u + 1], eo[u], eo[u + 1]
            g = CodeGraph(
                language=self.language,
                path=self.path,
                unit_kind=self.unit_kind,
                name=self.names[u],
                source=self.sources[u],
                start_line=self.start_lines[u],
                has_error=self.unit_has_error[u],
                truncated_nodes=self.truncated_nodes[u],
                truncated_edges=self.truncated_edges[u],
                **{k: col[k][a:b] for k in NODE_COLUMNS},
                **{k: col[k][c:d] for k in EDGE_COLUMNS},
            )
            out.append(g)
        return out


def decode_source(data: bytes) -> tuple[bytes, bool]:
    """UTF-8 bytes to parse, and whether invalid bytes had to be replaced."""
    try:
        data.decode("utf-8")
        return data, False
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace").encode("utf-8"), True


def extract_file(
    source: bytes | str,
    language: str | LanguageSpec,
    *,
    unit: Unit = "function",
    path: str = "",
    edges: Collection[EdgeType] = ALL_EDGES,
    max_nodes: int = DEFAULT_MAX_NODES,
    max_edges: int = DEFAULT_MAX_EDGES,
) -> FileGraphs:
    """Parse one source file and return the graphs of its units.

    Args:
        source: file contents (bytes are decoded as UTF-8, invalid bytes replaced).
        language: a language name (``"python"``) or spec.
        unit: ``"function"`` (every function and method, nested ones too), ``"class"`` or ``"file"``.
        path: recorded in each graph.
        edges: edge kinds to compute (``CHILD`` is always kept: it defines the tree).
        max_nodes / max_edges: per-unit caps; a larger unit keeps its first ``max_nodes`` nodes in
            preorder and its first ``max_edges`` edges, and records how many were dropped.
    """
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r}; choose one of {', '.join(UNITS)}")
    spec = get_language(language) if isinstance(language, str) else language
    data = source.encode("utf-8") if isinstance(source, str) else source
    data, replaced = decode_source(data)
    ft = flatten(data, spec)
    if spec.postponed_annotations is not None and _annotations_postponed(ft, spec):
        spec = with_postponed_annotations(spec)
    result = FileGraphs(spec.name, path, unit, len(ft), bool(ft.error_bytes), replaced)
    lambdas = bound_lambdas(ft, spec) if unit == "function" and len(ft) else {}
    roots = _unit_roots(ft, spec, unit, lambdas) if len(ft) else []
    if not roots:
        return result
    # function units never include module-level code: its scope, assignments and calls are skipped
    within = _covered(ft, roots) if unit == "function" else None
    src, dst, typ = file_edges(ft, spec, set(edges) | {EdgeType.CHILD}, within)
    lo = np.asarray(roots, dtype=np.int64)
    hi = ft.array("stop")[lo]
    cut = np.minimum(hi, lo + max_nodes)
    base = ft.array("start")[lo]
    if _tree.native is not None:  # the same cut in C
        node_off, edge_off, per_unit, columns = _tree.native.slice_units(
            compiled(spec).native(),
            *(np.ascontiguousarray(x, dtype=np.int64) for x in (src, dst, typ)),
            lo,
            *(ft.array(c) for c in ("stop", "kind", "start", "end")),
            ft.source,
            max_nodes,
            max_edges,
        )
        result.node_offsets = np.frombuffer(node_off, dtype=np.int64)
        result.edge_offsets = np.frombuffer(edge_off, dtype=np.int64)
        per_unit = np.frombuffer(per_unit, dtype=np.int64)
        kept = np.diff(result.edge_offsets)
        result.columns = {
            name: np.frombuffer(buf, dtype=dtype)
            for name, buf, dtype in zip(NODE_COLUMNS + EDGE_COLUMNS, columns, _COLUMN_DTYPES, strict=True)
        }
    else:
        per_unit, kept = _slice_units(ft, spec, result, src, dst, typ, lo, cut, base, max_edges)
    names = _qualified_names(ft, spec, roots, path, lambdas)
    spans = list(zip(base.tolist(), ft.array("end")[lo].tolist(), strict=True))
    result.names = [names[r] for r in roots]
    result.sources = [data[b0:b1].decode("utf-8", errors="replace") for b0, b1 in spans]
    result.start_lines = ft.line_col(base)[0].tolist()
    errors = ft.error_bytes
    result.unit_has_error = [
        bool(errors) and any((s < b1 and e > b0) or (s == e and b0 <= s <= b1) for s, e in errors)
        for b0, b1 in spans
    ]
    result.truncated_nodes = (hi - cut).tolist()
    result.truncated_edges = (np.asarray(per_unit) - np.asarray(kept)).tolist()
    return result


_COLUMN_DTYPES = (np.int16, np.int8) + (np.int32,) * 8 + (np.int8,)
"""dtypes of NODE_COLUMNS + EDGE_COLUMNS."""


def _slice_units(
    ft: FlatTree,
    spec: LanguageSpec,
    result: FileGraphs,
    src: np.ndarray,
    dst: np.ndarray,
    typ: np.ndarray,
    lo: np.ndarray,
    cut: np.ndarray,
    base: np.ndarray,
    max_edges: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Fill ``result``'s columns and offsets with units [lo, cut): each unit's nodes, and its edges with
    both ends inside, in (src, stored) order, the first ``max_edges`` kept. Returns the edges per unit
    before and after the cap."""
    order = np.argsort(src, kind="stable")
    src, dst, typ = src[order], dst[order], typ[order]

    # nodes: each unit is the preorder range [lo, cut) of the file's nodes
    n_nodes = cut - lo
    node_off = np.concatenate(([0], np.cumsum(n_nodes)))
    node_idx = np.repeat(lo - node_off[:-1], n_nodes) + np.arange(node_off[-1])
    unit_of_node = np.repeat(np.arange(len(lo)), n_nodes)

    # edges: those with both ends inside the unit's range, in (src, stored) order, capped per unit
    a, b = np.searchsorted(src, lo), np.searchsorted(src, cut)
    cand = b - a
    cand_off = np.concatenate(([0], np.cumsum(cand)))
    edge_idx = np.repeat(a - cand_off[:-1], cand) + np.arange(cand_off[-1])
    unit_of_edge = np.repeat(np.arange(len(lo)), cand)
    d = dst[edge_idx]
    inside = (d >= lo[unit_of_edge]) & (d < cut[unit_of_edge])
    edge_idx, unit_of_edge = edge_idx[inside], unit_of_edge[inside]
    per_unit = np.bincount(unit_of_edge, minlength=len(lo))
    first = np.concatenate(([0], np.cumsum(per_unit)))[:-1]
    rank = np.arange(len(edge_idx)) - first[unit_of_edge]
    capped = rank < max_edges
    edge_idx, unit_of_edge = edge_idx[capped], unit_of_edge[capped]
    kept = np.bincount(unit_of_edge, minlength=len(lo))
    edge_off = np.concatenate(([0], np.cumsum(kept)))

    start, end = ft.array("start")[node_idx], ft.array("end")[node_idx]
    sline, scol = ft.line_col(start)
    eline, ecol = ft.line_col(end)
    kinds = ft.array("kind")[node_idx]
    ubase = base[unit_of_node]
    result.columns = {
        "node_kind": compiled(spec).global_kind[kinds],
        "node_named": compiled(spec).named[kinds],
        "node_start_byte": (start - ubase).astype(np.int32),
        "node_end_byte": (end - ubase).astype(np.int32),
        "node_start_line": sline,
        "node_start_col": scol,
        "node_end_line": eline,
        "node_end_col": ecol,
        "edge_src": (src[edge_idx] - lo[unit_of_edge]).astype(np.int32),
        "edge_dst": (dst[edge_idx] - lo[unit_of_edge]).astype(np.int32),
        "edge_type": typ[edge_idx].astype(np.int8),
    }
    result.node_offsets = node_off
    result.edge_offsets = edge_off
    return per_unit, kept


def file_edges(
    ft: FlatTree, spec: LanguageSpec, want: set[EdgeType], within: np.ndarray | None = None
) -> tuple[np.ndarray, ...]:
    """All edges of a file as (src, dst, type) arrays over flat-tree indices.

    ``within`` (a node mask) limits the scopes, assignments and calls analysed to those inside it;
    syntax edges are always computed for the whole file.
    """
    n = len(ft)
    parent, stop = ft.array("parent"), ft.array("stop")
    idx = np.arange(n, dtype=np.int64)
    parts_src = [parent[1:]]
    parts_dst = [idx[1:]]
    parts_typ = [np.full(n - 1, EdgeType.CHILD, dtype=np.int64)]
    if EdgeType.NEXT_TOKEN in want:
        leaves = idx[stop == idx + 1]
        parts_src.append(leaves[:-1])
        parts_dst.append(leaves[1:])
        parts_typ.append(np.full(max(len(leaves) - 1, 0), EdgeType.NEXT_TOKEN, dtype=np.int64))
    lists: list[list[int]] = [[], [], []]
    et, es, ed = lists
    flow_wanted = want & {
        EdgeType.CFG_NEXT,
        EdgeType.LAST_WRITE,
        EdgeType.LAST_READ,
        EdgeType.LAST_LEXICAL_USE,
    }
    if flow_wanted:
        fl = flow_tables(spec)
        scopes = [0] + [i for i in ft.nodes_of(fl.scopes) if i]
        if within is not None:
            scopes = [i for i in scopes if within[i]]
        flow_edges(ft, spec, scopes, lists, want)
    if EdgeType.COMPUTED_FROM in want:
        computed_from(ft, spec, lists, within)
    native = native_edges(ft)  # the C core's share, in the order the lists would have had
    if native is not None:
        parts_typ.append(native[0])
        parts_src.append(native[1])
        parts_dst.append(native[2])
    if want & {EdgeType.CALLS, EdgeType.FORMAL_ARG_NAME, EdgeType.RETURNS_TO}:
        call_edges(ft, spec, lists, want, within)
    parts_src.append(np.asarray(es, dtype=np.int64))
    parts_dst.append(np.asarray(ed, dtype=np.int64))
    parts_typ.append(np.asarray(et, dtype=np.int64))
    return np.concatenate(parts_src), np.concatenate(parts_dst), np.concatenate(parts_typ)


def _covered(ft: FlatTree, roots: list[int]) -> np.ndarray:
    """Mask of the nodes inside at least one unit's preorder range."""
    depth = np.zeros(len(ft) + 1, dtype=np.int64)
    np.add.at(depth, np.asarray(roots, dtype=np.int64), 1)
    np.add.at(depth, ft.array("stop")[roots], -1)
    return np.cumsum(depth[:-1]) > 0


def _annotations_postponed(ft: FlatTree, spec: LanguageSpec) -> bool:
    """Whether a top-level statement of ``spec.postponed_annotations``'s kind names its feature
    (``from __future__ import annotations``)."""
    kind_name, feature = spec.postponed_annotations or ("", "")
    name = feature.encode()
    if not len(ft) or name not in ft.source:
        return False
    kinds = tables(spec).kinds({kind_name})
    return any(ft.kind[c] in kinds and name in ft.text(c).split(b"import", 1)[-1] for c in ft.children(0))


def _unit_roots(
    ft: FlatTree, spec: LanguageSpec, unit: Unit, lambdas: Mapping[int, str] | None = None
) -> list[int]:
    """The root nodes of a file's units, in preorder (``lambdas``: the bound lambdas, found if None)."""
    if unit == "file":
        return [0]
    if unit == "class":
        return class_units(ft, spec)
    if lambdas is None:
        lambdas = bound_lambdas(ft, spec)
    functions = ft.nodes_of(flow_tables(spec).functions)
    return sorted([*functions, *lambdas]) if lambdas else functions


def _qualified_names(
    ft: FlatTree, spec: LanguageSpec, roots: list[int], path: str, lambdas: Mapping[int, str]
) -> dict[int, str]:
    """Unit -> its name, the names of the function and class units around it as prefixes
    (``A.m.<locals>.g``); a bound lambda is named by its binding (``lambdas``)."""
    fl = flow_tables(spec)
    objects = bool(spec.object_kinds)
    name_fid = fl.fid.get(spec.name_field, -1)
    qualified = bool(spec.declarator_fields or spec.qualified_name_fields)
    namespaces = _namespace_kinds(spec)
    names: dict[int, str] = {}
    for r in roots:
        if r == 0:
            names[r] = path.rsplit("/", 1)[-1] or "<file>"
            continue
        parts = []
        n = r
        while n > 0:
            k = ft.kind[n]
            is_lambda = n in lambdas
            if k in fl.functions or k in fl.classes or n == r or k in namespaces or is_lambda:
                label = None
                if is_lambda:
                    label = lambdas[n]
                elif qualified:  # C++'s `void ns::A::f()`: `ns.A.f`
                    name_parts = unit_name(ft, spec, n)
                    label = ".".join(name_parts) if name_parts else None
                else:
                    for c in ft.children(n):
                        if ft.field[c] == name_fid:
                            label = ft.text(c).decode("utf-8", errors="replace")
                            break
                if k in namespaces and n != r:
                    if label is not None:  # an anonymous namespace adds nothing
                        parts.append(label)
                    n = ft.parent[n]
                    continue
                qualifier = _qualifier(ft, spec, n) if spec.qualifier_fields else None
                if qualifier is not None:  # Go's `func (t *T) M()`: `T.M`; Rust's `impl T`: `T`
                    label = qualifier if label is None else f"{qualifier}.{label}"
                if label is None and objects and k in fl.classes:  # `const B = class {}`: `B`
                    label = binding_name(ft, spec, n)
                if label is None:
                    line = ft.source.count(b"\n", 0, ft.start[n]) + 1
                    label = f"<anonymous:{line}>"
                elif objects and not is_lambda and k in fl.functions:  # `obj = { m() {} }`: `obj.m`
                    owner = object_binding(ft, spec, n)
                    if owner is not None:
                        label = f"{owner}.{label}"
                if n != r and (k in fl.functions or is_lambda):
                    label += ".<locals>"
                parts.append(label)
            n = ft.parent[n]
        names[r] = ".".join(reversed(parts))
    return names


@cache
def _namespace_kinds(spec: LanguageSpec) -> frozenset[int]:
    return tables(spec).kinds(spec.namespace_kinds)


@cache
def _qualifier_tables(spec: LanguageSpec) -> tuple[dict[int, int], frozenset[int]]:
    tab = tables(spec)
    fields = {k: tab.field(f) for kn, f in spec.qualifier_fields.items() for k in tab.kinds({kn})}
    return fields, tab.kinds(spec.qualifier_kinds)


def _qualifier(ft: FlatTree, spec: LanguageSpec, n: int) -> str | None:
    """The type name under unit ``n``'s ``qualifier_fields`` field, or None."""
    fields, kinds = _qualifier_tables(spec)
    fid = fields.get(ft.kind[n], -1)
    if fid < 0:
        return None
    for c in ft.children(n):
        if ft.field[c] == fid:
            for j in range(c, ft.stop[c]):
                if ft.kind[j] in kinds:
                    return ft.text(j).decode("utf-8", errors="replace")
    return None
