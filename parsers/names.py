"""Names and parameter lists of definitions, from the language tables alone.

Most grammars give a definition a ``name`` and a ``parameters`` field of its own. C and C++ nest both in
declarators: ``int *A::f(int a) {}`` is a ``function_definition`` whose ``declarator`` is a
``pointer_declarator`` holding a ``function_declarator`` that holds the parameters and the qualified name
``A::f``. :attr:`LanguageSpec.declarator_fields` says which field leads down that chain, and
:attr:`LanguageSpec.qualified_name_fields` how a qualified name splits into parts (``["A", "f"]``).
Everything here walks with loops, never recursion on depth.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from parsers.languages import LanguageSpec
from parsers.tree import FlatTree, tables


@dataclass(frozen=True, slots=True)
class NameTables:
    name_field: int
    parameters_field: int
    descend: dict[int, int]
    """Grammar kind id -> field id leading towards the name (0: the one field-less named child)."""
    parts: dict[int, tuple[int, ...]]
    """Qualified name kind id -> field ids of its parts, in order (0: the field-less named children)."""
    cut: frozenset[int]
    """Field ids of ``descend``: a name part is cut before a child with one (``operator int() const``)."""
    named: list[bool]


@cache
def name_tables(spec: LanguageSpec) -> NameTables:
    tab = tables(spec)
    lang = tab.language

    def fid(name: str | None) -> int:
        return 0 if name is None else tab.field(name)

    descend = {k: fid(f) for kn, f in spec.declarator_fields.items() for k in tab.kinds({kn})}
    parts = {
        k: tuple(fid(f) for f in fs) for kn, fs in spec.qualified_name_fields.items() for k in tab.kinds({kn})
    }
    named = [lang.node_kind_is_named(i) for i in range(len(tab.names) - 1)] + [True]
    cut = frozenset(f for f in descend.values() if f > 0)
    name, params = tab.field(spec.name_field), tab.field(spec.parameters_field)
    return NameTables(name, params, descend, parts, cut, named)


def _child(ft: FlatTree, n: int, fid: int, named: list[bool]) -> int:
    """First child of ``n`` with field ``fid`` (0: the first named child without a field), or -1."""
    if fid < 0:
        return -1
    for c in ft.children(n):
        if ft.field[c] == fid and (fid or named[ft.kind[c]]):
            return c
    return -1


def declarator_path(ft: FlatTree, spec: LanguageSpec, n: int) -> list[int]:
    """``n`` and the declarators below it down to the name (just ``[n]`` for most grammars)."""
    nt = name_tables(spec)
    path = [n]
    while True:
        fid = nt.descend.get(ft.kind[n])
        if fid is None:
            return path
        n = _child(ft, n, fid, nt.named)
        if n < 0:
            return path
        path.append(n)


def unit_parameters(ft: FlatTree, spec: LanguageSpec, n: int) -> int:
    """The parameter list of scope ``n``: its ``parameters_field`` child, or that of the innermost
    declarator on its declarator path (``int (*f(int a))(char)`` takes ``a``); -1 if none."""
    nt = name_tables(spec)
    found = _child(ft, n, nt.parameters_field, nt.named)
    if found >= 0 or not nt.descend:
        return found
    for d in declarator_path(ft, spec, n)[1:]:
        p = _child(ft, d, nt.parameters_field, nt.named)
        if p >= 0:
            found = p
    return found


def name_node(ft: FlatTree, spec: LanguageSpec, n: int) -> int:
    """The node naming definition ``n``: its ``name_field`` child, or the end of its declarator path."""
    nt = name_tables(spec)
    c = _child(ft, n, nt.name_field, nt.named)
    if c >= 0 or ft.kind[n] not in nt.descend:
        return c
    end = declarator_path(ft, spec, n)[-1]
    return -1 if ft.kind[end] in nt.descend else end  # a path ending in a declarator names nothing


def name_parts(ft: FlatTree, spec: LanguageSpec, n: int) -> list[str]:
    """The parts of name node ``n``: ``A::B<T>::f`` -> ``["A", "B", "f"]``; one part for a plain name.

    A part that holds a declarator (C++'s ``operator int() const``) is its text before it
    (``operator int``)."""
    nt = name_tables(spec)
    named, src, start, end = nt.named, ft.source, ft.start, ft.end
    out: list[str] = []
    stack = [n]
    while stack:
        c = stack.pop()
        fids = nt.parts.get(ft.kind[c])
        if fids is not None:
            kids = [d for f in fids for d in ft.children(c) if ft.field[d] == f and (f or named[ft.kind[d]])]
            stack.extend(reversed(kids))
            continue
        stop = end[c]
        if nt.cut:
            inner = next((d for d in ft.children(c) if ft.field[d] in nt.cut), -1)
            if inner >= 0:
                stop = start[inner]
        out.append(src[start[c] : stop].decode("utf-8", errors="replace").strip())
    return out


def unit_name(ft: FlatTree, spec: LanguageSpec, n: int) -> list[str] | None:
    """The name parts of definition ``n`` (``None`` for an anonymous one)."""
    c = name_node(ft, spec, n)
    return name_parts(ft, spec, c) if c >= 0 else None


def qualified_path(ft: FlatTree, spec: LanguageSpec, n: int) -> list[str]:
    """The name parts of definition ``n`` prefixed by those of its enclosing classes and namespaces:
    ``namespace ns { struct A { void f(); }; }`` -> ``["ns", "A", "f"]`` for ``f``."""
    containers = _container_kinds(spec)
    out = [unit_name(ft, spec, n) or []]
    p = ft.parent[n]
    while p > 0:
        if ft.kind[p] in containers:
            out.append(unit_name(ft, spec, p) or [])
        p = ft.parent[p]
    return [part for parts in reversed(out) for part in parts]


@cache
def _container_kinds(spec: LanguageSpec) -> frozenset[int]:
    return tables(spec).kinds(spec.class_kinds | spec.namespace_kinds)


def class_units(ft: FlatTree, spec: LanguageSpec) -> list[int]:
    """Nodes of class kinds that form ``class`` units, in preorder (with a body where the spec asks)."""
    kinds, fid = _class_tables(spec)
    found = ft.nodes_of(kinds)
    if fid is None:
        return found
    return [n for n in found if any(ft.field[c] == fid for c in ft.children(n))]


@cache
def _class_tables(spec: LanguageSpec) -> tuple[frozenset[int], int | None]:
    tab = tables(spec)
    fid = tab.field(spec.class_body_field) if spec.class_body_field else None
    return tab.kinds(spec.class_kinds), fid


@dataclass(frozen=True, slots=True)
class BindingTables:
    lambdas: frozenset[int]
    """Kinds of the lambdas that may be bound (``scope_only_kinds``)."""
    binders: dict[tuple[int, int], tuple[int, str | None]]
    """(binder kind, value field) -> (name field, -1 for a literal name; the literal name or None)."""
    lists: frozenset[int]
    objects: frozenset[int]


@cache
def binding_tables(spec: LanguageSpec) -> BindingTables:
    tab = tables(spec)
    binders: dict[tuple[int, int], tuple[int, str | None]] = {}
    for (kind, value), name in spec.lambda_binders.items():
        for k in tab.kinds({kind}):
            binders[(k, tab.field(value))] = (tab.field(name), None)
    for (kind, value), literal in spec.lambda_literal_names.items():
        for k in tab.kinds({kind}):
            binders[(k, tab.field(value))] = (-1, literal)
    return BindingTables(
        tab.kinds(spec.scope_only_kinds),
        binders,
        tab.kinds(spec.binding_list_kinds),
        tab.kinds(spec.object_kinds),
    )


def _clean(text: bytes) -> str:
    return " ".join(text.decode("utf-8", errors="replace").split())


def binding_name(ft: FlatTree, spec: LanguageSpec, n: int) -> str | None:
    """The name node ``n`` (a lambda, or an object literal) is bound to, or None where it is not bound:
    ``x`` for the value of ``x = ...``, ``obj.mul`` for the ``mul`` member of an object bound to ``obj``
    (an object that is not bound adds nothing: ``f({ m: () => {} })`` binds ``m``). A lambda or object
    in a list (Go's ``a, f := 1, func() {}``) takes the name at its position."""
    parts: list[str] = []
    while True:
        found = _bound_at(ft, spec, n)
        if found is None:
            break
        name, binder = found
        parts.append(name)
        obj = ft.parent[binder]
        if obj < 0 or ft.kind[obj] not in binding_tables(spec).objects:
            break
        n = obj
    return ".".join(reversed(parts)) if parts else None


def _bound_at(ft: FlatTree, spec: LanguageSpec, n: int) -> tuple[str, int] | None:
    """The name ``n`` is bound to by its binder, and the binder; None where ``n`` is in no binder."""
    bt = binding_tables(spec)
    named = name_tables(spec).named
    p = ft.parent[n]
    if p < 0:
        return None
    position = -1
    holder = n  # the binder's child in its value field
    if ft.kind[p] in bt.lists:
        kids = [c for c in ft.children(p) if named[ft.kind[c]]]
        position = kids.index(n)
        holder, p = p, ft.parent[p]
        if p < 0:
            return None
    entry = bt.binders.get((ft.kind[p], ft.field[holder]))
    if entry is None:
        return None
    fid, literal = entry
    if literal is not None:
        return literal, p
    names = [c for c in ft.children(p) if ft.field[c] == fid]
    if len(names) == 1 and ft.kind[names[0]] in bt.lists:
        names = [c for c in ft.children(names[0]) if named[ft.kind[c]]]
    if position < 0:
        if len(names) != 1:
            return None
        position = 0
    if position >= len(names):
        return None
    return _clean(ft.text(names[position])), p


def object_binding(ft: FlatTree, spec: LanguageSpec, member: int) -> str | None:
    """The name of the object literal whose member ``member`` is (a method), where it is bound."""
    obj = ft.parent[member]
    if obj < 0 or ft.kind[obj] not in binding_tables(spec).objects:
        return None
    return binding_name(ft, spec, obj)


def bound_lambdas(ft: FlatTree, spec: LanguageSpec) -> dict[int, str]:
    """Lambdas bound to a name (``spec.lambda_binders``), in preorder: node -> the name bound."""
    bt = binding_tables(spec)
    if not bt.binders:
        return {}
    out = {}
    for n in ft.nodes_of(bt.lambdas):
        name = binding_name(ft, spec, n)
        if name is not None:
            out[n] = name
    return out
