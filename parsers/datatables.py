"""Data-flow tables: a :class:`~parsers.languages.LanguageSpec`'s access rules (write, update and
non-variable fields, patterns, deferred parts, comprehensions, assignments) compiled against its grammar,
for :mod:`parsers.accesses` and :mod:`parsers.dataflow`, and the forms of them the C core reads."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from parsers.controlflow import FlowTables, flow_tables
from parsers.languages import LanguageSpec
from parsers.tree import kind_bits, tables


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


@cache
def _kind_masks(spec: LanguageSpec) -> tuple[bytes, bytes]:
    """Per grammar kind: pattern, and update-operator assignment, flags (for the C core's events)."""
    dt = data_tables(spec)
    nk = len(dt.flow.tab.names)
    patterns, op_updates = (kind_bits(nk, [(1, kinds)]).tobytes() for kinds in (dt.patterns, dt.op_updates))
    return patterns, op_updates


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
