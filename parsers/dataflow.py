"""Variable accesses and def-use edges: LAST_WRITE, LAST_READ, LAST_LEXICAL_USE, COMPUTED_FROM.

Each CFG point performs an ordered list of accesses ``(node, name, mode)``. An identifier's mode comes
from its context, found by walking up through pattern kinds (tuples, lists, parentheses) until a parent
decides: a write field (assignment target, parameter, for target...), an update field (``a += 1``:
read then write), a non-variable field (attribute names, keyword names), or anything else (a read).
Evaluation order is source order, except for deferred parts: an assignment's target runs after its
value, a comprehension's element after its ``for`` clauses.

Reaching accesses are a forward fixpoint over the CFG with Python integers as bitsets (one bit per
write, one per read), so ``return a`` after a loop sees both the loop body's write and the parameter.
Where the C core is built (``parsers/_native.c``), :func:`flow_edges` and :func:`computed_from` run the
same scan and fixpoint there; the functions here stay the reference the tests compare it with.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from functools import cache

import numpy as np

from parsers import tree as _tree
from parsers.controlflow import FlowTables, ScopeCFG, build_cfg, flow_tables, native_flow_tables
from parsers.graph import EdgeType
from parsers.languages import LanguageSpec
from parsers.names import unit_parameters
from parsers.tree import FlatTree, kind_bits, tables

READ, WRITE, UPDATE = 1, 2, 3  # UPDATE = READ | WRITE

Name = bytes | tuple[int, bytes]
"""A variable's key: its text, or (comprehension node, text) for a comprehension-local name."""


@dataclass(frozen=True, slots=True)
class DataTables:
    flow: FlowTables
    identifiers: frozenset[int]
    writes: frozenset[tuple[int, int]]
    updates: frozenset[tuple[int, int]]
    op_updates: frozenset[int]
    non_variables: frozenset[tuple[int, int]]
    patterns: frozenset[int]
    deferred: frozenset[tuple[int, int]]
    comprehensions: dict[int, tuple[int, int]]
    """Comprehension kind -> (clause kind, target field)."""
    skip: frozenset[int]
    """Kinds whose subtree is not scanned from outside: nested scopes, classes and opaque kinds."""
    definition_names: frozenset[int]
    """Kinds of the name with which a nested function or class writes itself in the enclosing scope."""
    operator_field: int
    body_field: int
    kind_flags: np.ndarray
    """Grammar kind id -> bits: 1 identifier, 2 nested scope/class (SKIP), 4 comprehension, 8 pattern,
    16 first child only, 32 first child not a variable, 64 needs a value to write."""
    value_field: np.ndarray
    """Grammar kind id -> field id of the value its target needs (``value_required``), else -1."""
    pair_class: np.ndarray
    """(parent kind, field) -> 0 undecided, 1 non-variable, 2 write, 3 update; bit 8: deferred;
    bit 16: a definition header part (read by the enclosing scope)."""


def _pairs(tab, pairs) -> frozenset[tuple[int, int]]:
    out = set()
    for kind, fname in pairs:
        fid = 0 if fname is None else tab.field(fname)
        if fid < 0:
            continue
        for k in tab.kinds({kind}):
            out.add((k, fid))
    return frozenset(out)


@cache
def data_tables(spec: LanguageSpec) -> DataTables:
    tab = tables(spec)
    comps = {}
    for kind, (clause, target) in spec.comprehension_kinds.items():
        ck = tab.kinds({clause})
        for k in tab.kinds({kind}):
            comps[k] = (next(iter(ck)) if ck else -1, tab.field(target))
    flow = flow_tables(spec)
    nk = len(tab.names)
    nf = len(tab.field_names) + 1
    kind_flags = np.zeros(nk + 1, dtype=np.int64)  # index nk: "no parent"
    value_field = np.full(nk + 1, -1, dtype=np.int64)
    for kname, fname in spec.value_required.items():
        for k in tab.kinds({kname}):
            value_field[k] = tab.field(fname)
    for bit, kinds in (
        (1, tab.kinds(spec.identifier_kinds)),
        (2, flow.scopes | flow.classes | tab.kinds(spec.opaque_kinds)),
        (4, frozenset(comps)),
        (8, tab.kinds(spec.pattern_kinds)),
        (16, tab.kinds(spec.first_child_only_kinds)),
        (32, tab.kinds(spec.first_child_not_variable_kinds)),
        (64, tab.kinds(set(spec.value_required))),
    ):
        for k in kinds:
            kind_flags[k] |= bit
    pair_class = np.zeros((nk + 1, nf), dtype=np.int64)
    for code, pairs in ((3, spec.update_fields), (2, spec.write_fields), (1, spec.non_variable_fields)):
        for k, f in _pairs(tab, pairs):
            pair_class[k, f] = code
    for k, f in _pairs(tab, spec.deferred_fields):
        pair_class[k, f] |= 8
    for k, f in _pairs(tab, spec.header_fields):
        pair_class[k, f] |= 16
    return DataTables(
        flow=flow,
        identifiers=tab.kinds(spec.identifier_kinds),
        writes=_pairs(tab, spec.write_fields),
        updates=_pairs(tab, spec.update_fields),
        op_updates=tab.kinds(spec.update_operator_kinds),
        non_variables=_pairs(tab, spec.non_variable_fields),
        patterns=tab.kinds(spec.pattern_kinds),
        deferred=_pairs(tab, spec.deferred_fields),
        comprehensions=comps,
        skip=flow.scopes | flow.classes | tab.kinds(spec.opaque_kinds),
        definition_names=tab.kinds(spec.identifier_kinds | spec.definition_name_kinds),
        operator_field=tab.field("operator"),
        body_field=tab.field(spec.function_body_field),
        kind_flags=kind_flags,
        pair_class=pair_class,
        value_field=value_field,
    )


SKIP, DEFER, COMP, IDENT, HEADER = 1, 2, 4, 8, 16


class Events:
    """Per-file index of the nodes a scan stops at, in preorder: ``arrays`` (node, flag, mode,
    defer_key, parent as int64, for the C core) and, built on first use by the Python passes, the same
    columns as lists plus ``name``.

    ``flag``: bit set of SKIP (nested scope or class), DEFER (evaluated late), COMP (comprehension),
    IDENT, HEADER; ``mode``: READ, WRITE or UPDATE of IDENT events; ``defer_key``: of DEFER events, the
    order key of the deferred part (its parent's last node); ``parent``: of DEFER events, to order an
    outer deferred part after inner ones with the same key; ``name``: the text of IDENT events.
    """

    __slots__ = ("_ident", "_lists", "_name", "_source", "arrays")

    def __init__(self, arrays: tuple[np.ndarray, ...], source: bytes, ident: tuple[np.ndarray, ...]) -> None:
        self.arrays = arrays
        self._source = source
        self._ident = ident  # positions, starts, ends of the IDENT events
        self._lists: list[list[int] | None] = [None] * len(arrays)
        self._name: list[bytes | None] | None = None

    def _column(self, i: int) -> list[int]:
        col = self._lists[i]
        if col is None:
            col = self._lists[i] = self.arrays[i].tolist()
        return col

    node = property(lambda self: self._column(0))
    flag = property(lambda self: self._column(1))
    mode = property(lambda self: self._column(2))
    defer_key = property(lambda self: self._column(3))
    parent = property(lambda self: self._column(4))

    @property
    def name(self) -> list[bytes | None]:
        if self._name is None:
            src = self._source
            names: list[bytes | None] = [None] * len(self.arrays[0])
            pos, starts, ends = (a.tolist() for a in self._ident)
            for j, a, b in zip(pos, starts, ends, strict=True):
                names[j] = src[a:b]
            self._name = names
        return self._name


def access_modes(ft: FlatTree, dt: DataTables, ids: np.ndarray) -> np.ndarray:
    """READ, WRITE, UPDATE or 0 (not a variable here) for identifier nodes ``ids``, vectorised.

    An identifier's context is decided by the first ancestor, walking up through pattern kinds, whose
    (kind, field of the child) pair is a write, update or non-variable field; anything else reads.
    """
    kind, parent, field = ft.array("kind"), ft.array("parent"), ft.array("field")
    no_parent = len(dt.kind_flags) - 1
    mode = np.full(len(ids), READ, dtype=np.int64)
    todo = np.arange(len(ids))
    cur = ids.copy()
    to_mode = np.array([READ, 0, WRITE, UPDATE], dtype=np.int64)
    has_value: np.ndarray | None = None
    while len(todo):
        p = parent[cur]
        pk = np.where(p < 0, no_parent, kind[np.maximum(p, 0)])
        kf = dt.kind_flags[pk]
        cls = dt.pair_class[pk, field[cur]] & 7
        first = cur == p + 1
        not_var = ((kf & 16) > 0) & ~first | ((kf & 32) > 0) & first
        cls = np.where(not_var, 1, cls)
        if (kf & 64).any():  # ``x: int``: an annotation without a value writes nothing
            if has_value is None:
                has_value = _has_value(ft, dt)
            cls = np.where(((kf & 64) > 0) & (cls == 2) & ~has_value[np.maximum(p, 0)], 1, cls)
        mode[todo] = to_mode[cls]
        up = (cls == 0) & ((kf & 8) > 0)
        todo, cur = todo[up], p[up]
    if dt.op_updates:  # ``x += 1`` in grammars with one assignment kind and an operator token
        for j in np.flatnonzero(mode == WRITE).tolist():
            p = ft.parent[int(ids[j])]
            while p >= 0 and ft.kind[p] in dt.patterns:
                p = ft.parent[p]
            if p >= 0 and ft.kind[p] in dt.op_updates and _is_compound_operator(ft, dt, p):
                mode[j] = UPDATE
    return mode


def _has_value(ft: FlatTree, dt: DataTables) -> np.ndarray:
    """Node mask: the node has a child in the value field its kind requires (``value_required``)."""
    kind, parent, field = ft.array("kind"), ft.array("parent"), ft.array("field")
    out = np.zeros(len(kind), dtype=bool)
    if len(kind) > 1:
        p = parent[1:]
        hit = (dt.value_field[kind[p]] == field[1:]) & (field[1:] > 0)
        out[p[hit]] = True
    return out


def _is_compound_operator(ft: FlatTree, dt: DataTables, n: int) -> bool:
    for c in ft.children(n):
        if ft.field[c] == dt.operator_field:
            return ft.text(c) != b"="
    return False


def events(ft: FlatTree, dt: DataTables) -> Events:
    """The file's scan events (computed once per file and cached on the tree)."""
    key = "dataflow.events"
    cached = ft.memo.get(key)
    if cached is not None:
        return cached  # type: ignore[return-value]
    if _tree.native is not None:  # the same in C
        cols = [np.frombuffer(b, dtype=np.int64) for b in _native_events(ft, dt)]
        ev = Events(tuple(cols[:5]), ft.source, tuple(cols[5:]))
        ft.memo[key] = ev
        return ev
    kind, parent, field, stop = ft.array("kind"), ft.array("parent"), ft.array("field"), ft.array("stop")
    kf = dt.kind_flags[kind]
    ids = np.flatnonzero(kf & 1)
    modes = access_modes(ft, dt, ids)
    flag = (kf & 2 > 0) * SKIP | (kf & 4 > 0) * COMP
    defer_key = np.zeros(len(kind), dtype=np.int64)
    if len(kind) > 1:
        pk = np.concatenate(([len(dt.kind_flags) - 1], kind[parent[1:]]))
        pc = dt.pair_class[pk, field]
        deferred = (pc & 8) > 0
        flag[deferred] |= DEFER
        defer_key[deferred] = stop[parent[deferred]] - 1  # right after the parent's last node
        flag[(pc & 16) > 0] |= HEADER
    mode = np.zeros(len(kind), dtype=np.int64)
    mode[ids] = modes
    flag[ids[modes > 0]] |= IDENT
    nodes = np.flatnonzero(flag)
    flags = flag[nodes]
    id_pos = np.flatnonzero((flags & IDENT) > 0)
    id_nodes = nodes[id_pos]
    columns = (nodes, flags, mode[nodes], defer_key[nodes], parent[nodes])
    columns = tuple(np.ascontiguousarray(c, dtype=np.int64) for c in columns)
    ident = (id_pos, ft.array("start")[id_nodes], ft.array("end")[id_nodes])
    ev = Events(columns, ft.source, ident)
    ft.memo[key] = ev
    return ev


def _native_events(ft: FlatTree, dt: DataTables) -> tuple[bytes, ...]:
    patterns, op_updates = _kind_masks(dt.flow.tab.spec)
    return _tree.native.events(
        *(ft.array(c) for c in ("kind", "parent", "field", "stop", "start", "end")),
        ft.source,
        dt.kind_flags,
        dt.pair_class,
        dt.pair_class.shape[1],
        dt.value_field,
        op_updates,
        patterns,
        dt.operator_field,
        SKIP,
        DEFER,
        COMP,
        IDENT,
        HEADER,
    )


@cache
def _kind_masks(spec: LanguageSpec) -> tuple[bytes, bytes]:
    """Per grammar kind: pattern, and update-operator assignment, flags (for the C core's events)."""
    dt = data_tables(spec)
    nk = len(dt.flow.tab.names)
    patterns, op_updates = (kind_bits(nk, [(1, kinds)]).tobytes() for kinds in (dt.patterns, dt.op_updates))
    return patterns, op_updates


def subtree_accesses(ft: FlatTree, dt: DataTables, root: int) -> list[tuple[int, Name, int]]:
    """The accesses in the subtree of ``root`` in evaluation order, as ``(node, name, mode)``."""
    if _tree.native is not None:
        return _tree.native.scan_accesses(_native_context(ft, dt.flow.tab.spec), [root])
    return [(node, name, mode) for _, node, name, mode in scan_points(ft, dt, [[root]])[0]]


Access = tuple[tuple, int, Name, int]
"""(order key, node, name, mode)."""


def scan_points(ft: FlatTree, dt: DataTables, reads: list[list[int]]) -> list[list[Access]]:
    """For each point (a list of subtree roots), its accesses ``(order, node, name, mode)`` in order.

    A nested scope or class met on the way is skipped, except for its name, which it writes. Order keys
    are ``(i,)`` for node ``i``, prefixed by the keys of the deferred regions (assignment targets,
    comprehension elements) around it, so sorting puts deferred parts after the rest of their parent.
    """
    kind, stop = ft.kind, ft.stop
    skip = dt.skip
    ev = events(ft, dt)
    ev_node, ev_flag, ev_mode, ev_name = ev.node, ev.flag, ev.mode, ev.name
    ev_key, ev_parent = ev.defer_key, ev.parent
    result: list[list[tuple[tuple, int, Name, int]]] = []
    for roots in reads:
        out: list[tuple[tuple, int, Name, int]] = []
        sort = len(roots) > 1
        for root in roots:
            if root < 0:
                continue
            if kind[root] in skip:
                out.extend(_definition_accesses(ft, dt, root, ()))
                sort = True
                continue
            regions: list[tuple[int, int, int]] = []  # (stop of deferred subtree, key, -parent)
            scopes: list[tuple[int, int, set[bytes], int, int]] = []  # comprehensions: see _bound_names
            skip_until = -1
            for j in range(bisect_left(ev_node, root), bisect_left(ev_node, stop[root])):
                i = ev_node[j]
                if i < skip_until:
                    continue
                f = ev_flag[j]
                if regions:
                    while regions and regions[-1][0] <= i:
                        regions.pop()
                if f & SKIP:
                    prefix = tuple(x for r in regions for x in r[1:])
                    out.extend(_definition_accesses(ft, dt, i, prefix))
                    sort = True
                    skip_until = stop[i]
                    continue
                if f & HEADER and i != root:  # a default or annotation: the enclosing scope reads it
                    skip_until = stop[i]
                    continue
                if f & DEFER:  # a deferred root too (a type switch's alias, after its value)
                    regions.append((stop[i], ev_key[j], -ev_parent[j]))
                    sort = True
                if f & COMP:
                    while scopes and scopes[-1][0] <= i:
                        scopes.pop()
                    scopes.append((stop[i], i, *_bound_names(ft, dt, i)))
                if f & IDENT:
                    name_: Name = ev_name[j]  # type: ignore[assignment]
                    if scopes:
                        while scopes and scopes[-1][0] <= i:
                            scopes.pop()
                        for sc in reversed(scopes):
                            if name_ in sc[2] and not sc[3] <= i < sc[4]:
                                name_ = (sc[1], name_)  # type: ignore[assignment]
                                break
                    order = (*(x for r in regions for x in r[1:]), i) if regions else (i,)
                    out.append((order, i, name_, ev_mode[j]))
        if sort and len(out) > 1:
            out.sort(key=_order)
        result.append(out)
    return result


def _definition_accesses(ft: FlatTree, dt: DataTables, n: int, prefix: tuple) -> list[Access]:
    """What running definition ``n`` does in the enclosing scope: read its header parts (default
    values, annotations), then write its name."""
    out: list[Access] = []
    ev = events(ft, dt)
    stop = ft.stop
    body = -1
    if dt.body_field >= 0:
        for c in ft.children(n):
            if ft.field[c] == dt.body_field:
                body = c
                break
    end = body if body >= 0 else stop[n]
    headers = []
    skip_until = -1
    for j in range(bisect_left(ev.node, n + 1), bisect_left(ev.node, end)):
        i = ev.node[j]
        if i < skip_until:
            continue
        if ev.flag[j] & HEADER:
            headers.append(i)
            skip_until = stop[i]
        elif ev.flag[j] & SKIP:
            skip_until = stop[i]
    if headers:
        for acc in scan_points(ft, dt, [headers])[0]:
            out.append(((*prefix, *acc[0]), *acc[1:]))
    name = _definition_name(ft, dt, n)
    if name >= 0:
        out.append(((*prefix, stop[n]), name, ft.text(name), WRITE))
    return out


def _definition_name(ft: FlatTree, dt: DataTables, n: int) -> int:
    """The name identifier of a nested definition (written in the enclosing scope), or -1."""
    if ft.kind[n] not in dt.flow.functions and ft.kind[n] not in dt.flow.classes:
        return -1
    fid = dt.flow.fid.get(dt.flow.tab.spec.name_field, -1)
    for c in ft.children(n):
        if ft.field[c] == fid and ft.kind[c] in dt.definition_names:
            return c
    return -1


def _bound_names(ft: FlatTree, dt: DataTables, comp: int) -> tuple[set[bytes], int, int]:
    """Names a comprehension binds, and the node range of its first iterable (which the enclosing
    scope evaluates, so its names are not the comprehension's)."""
    clause, target = dt.comprehensions[ft.kind[comp]]
    names = set()
    lo = hi = -1
    for c in ft.children(comp):
        if ft.kind[c] != clause:
            continue
        for t in ft.children(c):
            if ft.field[t] != target:
                if lo < 0 and ft.field[t] and t > c + 1:  # the first clause's iterable
                    lo, hi = t, ft.stop[t]
                continue
            for j in range(t, ft.stop[t]):
                if ft.kind[j] in dt.identifiers:
                    names.add(ft.text(j))
    return names, lo, hi


def scope_edges(
    ft: FlatTree, spec: LanguageSpec, cfg: ScopeCFG, edges: list[list[int]], want: set[int]
) -> None:
    """Append the CFG_NEXT and def-use edges of one scope to ``edges`` (parallel lists: type, src, dst);
    pure Python (with the C core, :func:`flow_edges` runs the same passes in C)."""
    if EdgeType.CFG_NEXT in want:
        et, es, ed = edges
        anchor = cfg.anchor
        for p, succ in enumerate(cfg.succ):
            for q in succ:
                et.append(EdgeType.CFG_NEXT)
                es.append(anchor[p])
                ed.append(anchor[q])
    if want & {EdgeType.LAST_WRITE, EdgeType.LAST_READ, EdgeType.LAST_LEXICAL_USE}:
        scope_dataflow(ft, spec, cfg, edges, want)


def flow_edges(
    ft: FlatTree, spec: LanguageSpec, scopes: list[int], edges: list[list[int]], want: set[int]
) -> None:
    """The CFG_NEXT and def-use edges of ``scopes``: :func:`scope_edges` of each scope's
    :func:`~parsers.controlflow.build_cfg`, or with the C core both in C for all scopes at once."""
    native = _tree.native
    if native is None:
        for s in scopes:
            scope_edges(ft, spec, build_cfg(ft, spec, s), edges, want)
        return
    native.scope_flows(
        _native_context(ft, spec),
        native_flow_tables(spec),
        ft.array("parent"),
        np.asarray(scopes, dtype=np.int64),
        _parameter_hints(ft, spec, scopes),
        EdgeType.CFG_NEXT in want,
        EdgeType.LAST_LEXICAL_USE in want,
        EdgeType.LAST_WRITE in want,
        EdgeType.LAST_READ in want,
        EdgeType.CFG_NEXT,
        EdgeType.LAST_WRITE,
        EdgeType.LAST_READ,
        EdgeType.LAST_LEXICAL_USE,
    )


def native_cfg(ft: FlatTree, spec: LanguageSpec, scope: int) -> ScopeCFG:
    """:func:`~parsers.controlflow.build_cfg` as the C core computes it (which it must equal)."""
    hint = _parameter_hints(ft, spec, [scope])
    anchor, reads, succ = _tree.native.build_cfg(
        _native_context(ft, spec),
        native_flow_tables(spec),
        ft.array("parent"),
        scope,
        int(hint[0]) if len(hint) else -1,
    )
    return ScopeCFG(scope, anchor, reads, succ)


def _parameter_hints(ft: FlatTree, spec: LanguageSpec, scopes: list[int]) -> np.ndarray:
    """Per scope, its parameter list as :func:`~parsers.names.unit_parameters` finds it inside
    declarators (C's ``int *f(int a)``), for the C core; empty for languages without declarators."""
    if not spec.declarator_fields:
        return np.zeros(0, dtype=np.int64)
    kinds = flow_tables(spec).scopes
    return np.asarray(
        [unit_parameters(ft, spec, s) if ft.kind[s] in kinds else -1 for s in scopes], dtype=np.int64
    )


_NATIVE_KEY = "dataflow.native"
"""Where a file's C-core context lives in ``FlatTree.memo``."""


def native_edges(ft: FlatTree) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(type, src, dst) of the edges the C core has emitted for ``ft`` so far, or None."""
    ctx = ft.memo.get(_NATIVE_KEY)
    if ctx is None:
        return None
    return tuple(np.frombuffer(b, dtype=np.int64) for b in _tree.native.take_edges(ctx))  # type: ignore[return-value]


def _native_context(ft: FlatTree, spec: LanguageSpec):
    """The file's arrays and the language's tables, handed to the C core once per file."""
    ctx = ft.memo.get(_NATIVE_KEY)
    if ctx is None:
        dt = data_tables(spec)
        ev = events(ft, dt)
        masks, pairs = _native_tables(spec)
        arrays = [ft.array(c) for c in ("kind", "stop", "field", "start", "end")]
        ctx = _tree.native.file_context(
            ft.source,
            *arrays,
            *ev.arrays,
            *masks,
            pairs,
            dt.flow.fid.get(dt.flow.tab.spec.name_field, -1),
            dt.body_field,
        )
        ft.memo[_NATIVE_KEY] = ctx
    return ctx


@cache
def _native_tables(spec: LanguageSpec) -> tuple[tuple[bytes, ...], np.ndarray]:
    """Per grammar kind: skip, definition-name, definition (function or class) and identifier flags as
    bytes, and (comprehension clause kind, target field) as an int64 array (-1 where none)."""
    dt = data_tables(spec)
    nk = len(dt.flow.tab.names)
    masks = tuple(
        bytes(k in kinds for k in range(nk))
        for kinds in (dt.skip, dt.definition_names, dt.flow.functions | dt.flow.classes, dt.identifiers)
    )
    pairs = np.full((2, nk), -1, dtype=np.int64)
    for k, (clause, target) in dt.comprehensions.items():
        pairs[0, k], pairs[1, k] = clause, target
    return masks, pairs


def scope_dataflow(
    ft: FlatTree, spec: LanguageSpec, cfg: ScopeCFG, edges: list[list[int]], want: set[int]
) -> None:
    """Append def-use edges of one scope to ``edges`` (parallel lists: type, src, dst); pure Python."""
    dt = data_tables(spec)
    per_point = scan_points(ft, dt, cfg.reads)
    et, es, ed = edges
    want_w = EdgeType.LAST_WRITE in want
    want_r = EdgeType.LAST_READ in want
    if EdgeType.LAST_LEXICAL_USE in want:
        flat = [(a[1], a[2]) for acc in per_point for a in acc]
        flat.sort(key=_first)
        prev: dict[Name, int] = {}
        for n, name in flat:
            q = prev.get(name)
            if q is not None:
                et.append(EdgeType.LAST_LEXICAL_USE)
                es.append(n)
                ed.append(q)
            prev[name] = n

    if not (want_w or want_r):
        return
    # One bit per write role and per read role of an access, in one bit space (an update ``a += 1``
    # has both). ``w_mask[name]`` / ``r_mask[name]``: the write / read bits of a name. A point kills
    # the other writes of the names it writes and the other reads of the names it reads.
    bit_node: list[int] = []
    w_mask: dict[Name, int] = {}
    r_mask: dict[Name, int] = {}
    npts = len(per_point)
    gen = [0] * npts
    touched: list[list[tuple[dict, Name]]] = [[] for _ in range(npts)]
    numbered: list[list[tuple[int, Name, int, int]]] = []
    for p, acc in enumerate(per_point):
        row = []
        g = 0
        tp = touched[p]
        for _, n, name, mode in acc:
            wb = rb = 0
            if mode & WRITE:
                wb = 1 << len(bit_node)
                bit_node.append(n)
                old = w_mask.get(name, 0)
                w_mask[name] = old | wb
                g = (g & ~old) | wb
                tp.append((w_mask, name))
            if mode & READ:
                rb = 1 << len(bit_node)
                bit_node.append(n)
                old = r_mask.get(name, 0)
                r_mask[name] = old | rb
                g = (g & ~old) | rb
                tp.append((r_mask, name))
            row.append((n, name, wb, rb))
        gen[p] = g
        numbered.append(row)
    keep = [~0] * npts
    for p in range(npts):
        if touched[p]:
            k = 0
            for masks, name in touched[p]:
                k |= masks[name]
            keep[p] = ~k
    # forward fixpoint: IN[p] = OR of OUT[preds]; OUT[p] = (IN[p] & keep[p]) | gen[p]
    preds: list[list[int]] = [[] for _ in range(npts)]
    for p, succ in enumerate(cfg.succ):
        for q in succ:
            preds[q].append(p)
    state_in = [0] * npts
    state_out = gen[:]
    succ_of = cfg.succ
    work = list(range(npts - 1, -1, -1))
    queued = [True] * npts
    while work:
        p = work.pop()
        queued[p] = False
        s_in = 0
        for q in preds[p]:
            s_in |= state_out[q]
        state_in[p] = s_in
        s_out = (s_in & keep[p]) | gen[p]
        if s_out != state_out[p]:
            state_out[p] = s_out
            for q in succ_of[p]:
                if not queued[q]:
                    queued[q] = True
                    work.append(q)
    LW, LR = EdgeType.LAST_WRITE, EdgeType.LAST_READ
    no_masks: dict[Name, int] = {}
    wm = w_mask if want_w else no_masks
    rm = r_mask if want_r else no_masks
    for p, row in enumerate(numbered):
        st = state_in[p]
        for n, name, wb, rb in row:
            if st:
                m = st & wm.get(name, 0)
                while m:
                    low = m & -m
                    et.append(LW)
                    es.append(n)
                    ed.append(bit_node[low.bit_length() - 1])
                    m ^= low
                m = st & rm.get(name, 0)
                while m:
                    low = m & -m
                    et.append(LR)
                    es.append(n)
                    ed.append(bit_node[low.bit_length() - 1])
                    m ^= low
            if wb:
                st = (st & ~w_mask[name]) | wb
            if rb:
                st = (st & ~r_mask[name]) | rb


def _order(a: tuple) -> tuple:
    return a[0]


def _first(a: tuple) -> int:
    return a[0]


@cache
def _assignment_tables(spec: LanguageSpec) -> tuple[dict[int, tuple[int, int]], np.ndarray]:
    """Assignment kind -> (target field, value field; -2: every other child), also as two int64 rows
    over all kinds for the C core."""
    tab = tables(spec)
    assign = {}
    for kname, (tfield, vfield) in spec.assignments.items():
        for k in tab.kinds({kname}):
            assign[k] = (tab.field(tfield), -2 if vfield == "*" else tab.field(vfield))
    rows = np.full((2, len(tab.names)), -3, dtype=np.int64)
    for k, (t, v) in assign.items():
        rows[0, k], rows[1, k] = t, v
    return assign, rows


def computed_from(
    ft: FlatTree, spec: LanguageSpec, edges: list[list[int]], within: np.ndarray | None = None
) -> None:
    """COMPUTED_FROM: each variable written by an assignment -> each variable its value reads.

    ``within``: a node mask; only assignments inside it are looked at.
    """
    dt = data_tables(spec)
    assign, fields = _assignment_tables(spec)
    if not assign:
        return
    if _tree.native is not None:  # the same pass in C; its edges follow the scopes' (native_edges)
        nodes = np.asarray(ft.nodes_of(frozenset(assign), within), dtype=np.int64)
        _tree.native.computed_from(_native_context(ft, spec), nodes, fields, EdgeType.COMPUTED_FROM)
        return
    et, es, ed = edges
    kind, field, stop = ft.kind, ft.field, ft.stop
    ev = events(ft, dt)
    ev_node, ev_flag, ev_mode = ev.node, ev.flag, ev.mode

    def accesses(root: int, want: int) -> list[int]:
        """Identifiers under ``root`` (not inside nested scopes) whose mode includes ``want``."""
        out: list[int] = []
        if kind[root] in dt.skip:  # a nested function or class as the value: its reads are its own
            return out
        skip_until = -1
        for j in range(bisect_left(ev_node, root), bisect_left(ev_node, stop[root])):
            i = ev_node[j]
            if i < skip_until:
                continue
            f = ev_flag[j]
            if f & SKIP:
                skip_until = stop[i]
            elif f & IDENT and ev_mode[j] & want:
                out.append(i)
        return out

    for a in ft.nodes_of(frozenset(assign), within):
        tfid, vfid = assign[kind[a]]
        targets: list[int] = []
        reads: list[int] = []
        c, end = a + 1, stop[a]
        while c < end:
            f = field[c]
            if f == tfid:
                targets += accesses(c, WRITE)
            elif f == vfid or (vfid == -2 and f != tfid):
                reads += accesses(c, READ)
            c = stop[c]
        for t in targets:
            for r in reads:
                if r != t:
                    et.append(EdgeType.COMPUTED_FROM)
                    es.append(t)
                    ed.append(r)
