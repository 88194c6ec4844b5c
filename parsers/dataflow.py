"""Def-use edges: LAST_WRITE, LAST_READ, LAST_LEXICAL_USE, COMPUTED_FROM (and CFG_NEXT).

Each CFG point (:mod:`parsers.controlflow`) performs an ordered list of accesses ``(node, name, mode)``
(:mod:`parsers.accesses`, from the tables of :mod:`parsers.datatables`). Reaching accesses are a forward
fixpoint over the CFG with Python integers as bitsets (one bit per write, one per read), so ``return a``
after a loop sees both the loop body's write and the parameter. Where the C core is built
(``parsers/_native.c``), :func:`flow_edges` and :func:`computed_from` run the same scan and fixpoint
there; the functions here stay the reference the tests compare it with.
"""

from __future__ import annotations

from bisect import bisect_left

import numpy as np

from parsers import tree as _tree
from parsers.accesses import (
    _NATIVE_KEY,
    IDENT,
    READ,
    SKIP,
    UPDATE,
    WRITE,
    Events,
    Name,
    _native_context,
    events,
    scan_points,
    subtree_accesses,
)
from parsers.controlflow import ScopeCFG, build_cfg, flow_tables, native_flow_tables
from parsers.datatables import DataTables, _assignment_tables, data_tables
from parsers.graph import EdgeType
from parsers.languages import LanguageSpec
from parsers.names import unit_parameters
from parsers.tree import FlatTree

__all__ = [
    "READ",
    "UPDATE",
    "WRITE",
    "DataTables",
    "Events",
    "computed_from",
    "data_tables",
    "events",
    "flow_edges",
    "native_cfg",
    "native_edges",
    "scan_points",
    "scope_dataflow",
    "scope_edges",
    "subtree_accesses",
]


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


def native_edges(ft: FlatTree) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(type, src, dst) of the edges the C core has emitted for ``ft`` so far, or None."""
    ctx = ft.memo.get(_NATIVE_KEY)
    if ctx is None:
        return None
    return tuple(np.frombuffer(b, dtype=np.int64) for b in _tree.native.take_edges(ctx))  # type: ignore[return-value]


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


def _first(a: tuple) -> int:
    return a[0]


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
