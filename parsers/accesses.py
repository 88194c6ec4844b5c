"""Variable accesses: the scan events of a file and the ordered accesses ``(node, name, mode)`` of each
CFG point (the input of :mod:`parsers.dataflow`'s fixpoint).

An identifier's mode comes from its context, found by walking up through pattern kinds (tuples, lists,
parentheses) until a parent decides: a write field (assignment target, parameter, for target...), an
update field (``a += 1``: read then write), a non-variable field (attribute names, keyword names), or
anything else (a read). Evaluation order is source order, except for deferred parts: an assignment's
target runs after its value, a comprehension's element after its ``for`` clauses. Where the C core is
built, the events and the scans run there (:func:`_native_context` hands it a file once).
"""

from __future__ import annotations

from bisect import bisect_left

import numpy as np

from parsers import tree as _tree
from parsers.datatables import DataTables, _kind_masks, _native_tables, data_tables
from parsers.languages import LanguageSpec
from parsers.tree import FlatTree

READ, WRITE, UPDATE = 1, 2, 3  # UPDATE = READ | WRITE


Name = bytes | tuple[int, bytes]
"""A variable's key: its text, or (comprehension node, text) for a comprehension-local name."""


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


_NATIVE_KEY = "dataflow.native"
"""Where a file's C-core context lives in ``FlatTree.memo``."""


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


def _order(a: tuple) -> tuple:
    return a[0]
