"""Call edges within a file: CALLS, FORMAL_ARG_NAME, RETURNS_TO.

Calls are resolved by name, as python-graphs does: a call whose callee is a plain identifier goes to
every function of that name defined in the file; ``self.m()`` / ``this.m()`` goes to method ``m`` of
the enclosing class. A call kind that is also a member kind (Java's ``method_invocation``, which holds
both ``object`` and ``name``) resolves by name without a receiver and as a member access with one.
Positional arguments bind to formal parameters by position (skipping the receiver parameter of a
method called through ``self``), keyword arguments by name. Where names can be qualified
(``LanguageSpec.qualified_name_fields``), a qualified callee (C++'s ``ns::f()``, ``A::g()``) goes to the
functions whose qualified name ends with the written one, and a method defined outside its class
(``void A::m() {}``) counts as a method of the class of the file named ``A``.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from parsers import tree as _tree
from parsers.accesses import WRITE, _native_context, subtree_accesses
from parsers.datatables import DataTables, data_tables
from parsers.graph import EdgeType
from parsers.languages import LanguageSpec
from parsers.names import class_units, name_parts, name_tables, qualified_path, unit_name, unit_parameters
from parsers.tree import FlatTree, kind_bits


def _child(ft: FlatTree, n: int, fid: int) -> int:
    return ft.field_child(n, fid)


def _formals(ft: FlatTree, dt: DataTables, fn: int, params_fid: int) -> list[tuple[bytes, int]]:
    params = _child(ft, fn, params_fid)
    if params < 0 and dt.flow.tab.spec.declarator_fields:  # C's `int *f(int a)`: in a declarator
        params = unit_parameters(ft, dt.flow.tab.spec, fn)
    if params < 0:
        return []
    acc = sorted(subtree_accesses(ft, dt, params), key=lambda a: a[0])
    return [(name, node) for node, name, mode in acc if mode & WRITE]


def call_edges(
    ft: FlatTree, spec: LanguageSpec, edges: list[list[int]], want: set[int], within: np.ndarray | None = None
) -> None:
    """CALLS, FORMAL_ARG_NAME and RETURNS_TO edges of a file (``within``: only calls and returns
    inside this node mask). With the C core, and names that are never qualified, the same in C."""
    qualified = bool(spec.declarator_fields or spec.qualified_name_fields)
    if _tree.native is not None and not qualified:
        found = _tree.native.call_edges(
            _native_context(ft, spec),
            ft.array("parent"),
            b"" if within is None else np.ascontiguousarray(within).view(np.uint8),
            *_native_call_tables(spec),
            EdgeType.RETURNS_TO in want,
            EdgeType.CALLS in want,
            EdgeType.FORMAL_ARG_NAME in want,
            EdgeType.RETURNS_TO,
            EdgeType.CALLS,
            EdgeType.FORMAL_ARG_NAME,
        )
        for column, buf in zip(edges, found, strict=True):
            column.extend(np.frombuffer(buf, dtype=np.int64).tolist())
        return
    dt = data_tables(spec)
    fl = dt.flow
    tab = fl.tab
    kind = ft.kind
    et, es, ed = edges
    name_fid = tab.field(spec.name_field)
    params_fid = tab.field(spec.parameters_field)

    if EdgeType.RETURNS_TO in want:
        returns = ft.nodes_of(tab.kinds(spec.return_kinds | spec.yield_kinds), within)
        if returns:
            # the innermost scope around each node: scopes in preorder, inner ones overwrite outer ones
            stop = ft.array("stop")
            owner = np.full(len(ft), -1, dtype=np.int64)
            for sc in ft.nodes_of(fl.scopes):
                owner[sc + 1 : stop[sc]] = sc
            targets = owner[returns]
            found = targets >= 0
            et.extend([EdgeType.RETURNS_TO] * int(found.sum()))
            es.extend(np.asarray(returns)[found].tolist())
            ed.extend(targets[found].tolist())

    if (EdgeType.CALLS not in want and EdgeType.FORMAL_ARG_NAME not in want) or not spec.call_kinds:
        return
    by_name: dict[bytes, list[int]] = {}
    methods: dict[tuple[int, bytes], int] = {}
    name_kinds = name_tables(spec).parts
    paths: dict[int, list[str]] = {}  # function -> its qualified name parts, for qualified calls
    owner_of: dict[int, int] = {}  # method -> its class, for methods defined outside the class body
    outside: list[tuple[int, str, bytes]] = []
    for n in ft.nodes_of(fl.functions):
        if qualified:  # C++'s `void A::f() {}`: the simple name is the last part
            parts = unit_name(ft, spec, n)
            if not parts:
                continue
            text = parts[-1].encode()
            if len(parts) > 1:
                outside.append((n, parts[-2], text))
        else:
            name = _child(ft, n, name_fid)
            if name < 0:
                continue
            text = ft.text(name)
        by_name.setdefault(text, []).append(n)
        owner = _enclosing(ft, n, fl.classes, fl.functions)
        if owner >= 0 and kind[owner] in fl.classes:
            methods[(owner, text)] = n
    if outside:  # each goes to the classes of the file named by its qualifier
        classes: dict[str, list[int]] = {}
        for c in class_units(ft, spec):
            cparts = unit_name(ft, spec, c)
            if cparts:
                classes.setdefault(cparts[-1], []).append(c)
        for n, owner_name, text in outside:
            for c in classes.get(owner_name, ()):
                methods.setdefault((c, text), n)
                owner_of[n] = c
    calls = {
        k: (tab.field(f), tab.field(a)) for kn, (f, a) in spec.call_kinds.items() for k in tab.kinds({kn})
    }
    members = {
        k: (tab.field(o), tab.field(m)) for kn, (o, m) in spec.member_kinds.items() for k in tab.kinds({kn})
    }
    keywords = {
        k: (tab.field(nf), tab.field(vf))
        for kn, (nf, vf) in spec.keyword_argument_kinds.items()
        for k in tab.kinds({kn})
    }
    formals_cache: dict[int, list[tuple[bytes, int]]] = {}
    for n in ft.nodes_of(frozenset(calls), within):
        fields = calls[kind[n]]
        callee = _child(ft, n, fields[0])
        if callee < 0:
            continue
        receiver = members.get(kind[n])
        if receiver is not None and _child(ft, n, receiver[0]) >= 0:
            callee = n  # the call holds its receiver itself (Java's `obj.m()`): a member access
        targets: list[int] = []
        via_self = False
        if kind[callee] in dt.identifiers:
            targets = by_name.get(ft.text(callee), [])
        elif qualified and kind[callee] in name_kinds:  # `ns::f(x)`, `A::g(x)`, `f<int>(x)`
            written = name_parts(ft, spec, callee)
            targets = by_name.get(written[-1].encode(), []) if written else []
            if len(written) > 1:  # functions whose qualified name ends with the written one
                for t in targets:
                    if t not in paths:
                        paths[t] = qualified_path(ft, spec, t)
                targets = [t for t in targets if paths[t][-len(written) :] == written]
        elif kind[callee] in members:
            ofid, mfid = members[kind[callee]]
            obj, member = _child(ft, callee, ofid), _child(ft, callee, mfid)
            if obj >= 0 and member >= 0 and ft.text(obj).decode(errors="replace") in spec.self_names:
                cls = _enclosing(ft, n, fl.classes, frozenset())
                if cls < 0 and owner_of:  # inside `void A::f() {}`
                    cls = owner_of.get(_enclosing(ft, n, fl.functions, frozenset()), -1)
                m = methods.get((cls, ft.text(member)))
                if m is not None:
                    targets, via_self = [m], True
        if not targets:
            continue
        args = _child(ft, n, fields[1])
        for target in targets:
            if EdgeType.CALLS in want:
                et.append(EdgeType.CALLS)
                es.append(n)
                ed.append(target)
            if EdgeType.FORMAL_ARG_NAME not in want or args < 0:
                continue
            if target not in formals_cache:
                formals_cache[target] = _formals(ft, dt, target, params_fid)
            formals = formals_cache[target]
            if via_self and formals and formals[0][0].decode(errors="replace") in spec.self_names:
                formals = formals[1:]
            by_formal = dict(formals)
            pos = 0
            for a in ft.children(args):
                if not fl.named[kind[a]]:
                    continue
                kw = keywords.get(kind[a])
                if kw is not None:
                    name = _child(ft, a, kw[0])
                    if name >= 0 and ft.text(name) in by_formal:
                        et.append(EdgeType.FORMAL_ARG_NAME)
                        es.append(a)
                        ed.append(by_formal[ft.text(name)])
                    continue
                if pos < len(formals):
                    et.append(EdgeType.FORMAL_ARG_NAME)
                    es.append(a)
                    ed.append(formals[pos][1])
                pos += 1


@cache
def _native_call_tables(spec: LanguageSpec) -> tuple[bytes, np.ndarray, tuple[bytes, ...], int, int]:
    """The C core's form of the tables above: per kind CM_* bits (function, class, scope, identifier,
    named, return or yield), per kind the call / member / keyword fields (-2: not such a kind), the
    self names, and the name and parameters field ids."""
    dt = data_tables(spec)
    fl, tab = dt.flow, dt.flow.tab
    returns = tab.kinds(spec.return_kinds | spec.yield_kinds)
    named = [k for k, ok in enumerate(fl.named) if ok]
    groups = (
        (1, fl.functions),
        (2, fl.classes),
        (4, fl.scopes),
        (8, dt.identifiers),
        (16, named),
        (32, returns),
    )
    mask = kind_bits(len(tab.names), groups)
    fids = np.full((5, len(tab.names)), -2, dtype=np.int64)
    for table, rows in ((spec.call_kinds, (0, 1)), (spec.member_kinds, (2, 3))):
        for kname, fields in table.items():
            for k in tab.kinds({kname}):
                for row, f in zip(rows, fields, strict=True):
                    fids[row, k] = tab.field(f)
    for kname, (name_field, _) in spec.keyword_argument_kinds.items():
        for k in tab.kinds({kname}):
            fids[4, k] = tab.field(name_field)
    selves = tuple(s.encode() for s in spec.self_names)
    return mask.tobytes(), fids, selves, tab.field(spec.name_field), tab.field(spec.parameters_field)


def _enclosing(ft: FlatTree, n: int, kinds: frozenset[int], stop_kinds: frozenset[int]) -> int:
    """Nearest ancestor of ``n`` whose kind is in ``kinds`` (-1 if a ``stop_kinds`` node comes first)."""
    p = ft.parent[n]
    while p >= 0:
        if ft.kind[p] in kinds:
            return p
        if ft.kind[p] in stop_kinds:
            return -1
        p = ft.parent[p]
    return -1
