"""Data-flow tables: a :class:`~parsers.languages.LanguageSpec`'s access rules (write, update and
non-variable fields, patterns, deferred parts, comprehensions, assignments) compiled against its grammar,
for :mod:`parsers.accesses` and :mod:`parsers.dataflow`. Built once per language, into
:class:`parsers.compiled.CompiledLanguage` (``compiled(spec).data``); the flag values are
:mod:`parsers.abi`'s."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from parsers.abi import Field, KindFlag, PairClass
from parsers.flowtables import FlowTables
from parsers.languages import LanguageSpec
from parsers.tree import Tables


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
    """Grammar kind id (and one more: "no parent") -> :class:`~parsers.abi.KindFlag` bits."""
    value_field: np.ndarray
    """Grammar kind id -> field id of the value its target needs (``value_required``), else -1."""
    pair_class: np.ndarray
    """(parent kind, field) -> a :class:`~parsers.abi.PairClass`: undecided, non-variable, write or update,
    plus the deferred and definition-header bits."""
    assignments: dict[int, tuple[int, int]]
    """Assignment kind -> (target field, value field; ``Field.EVERY_OTHER``: every other child)."""


def _pairs(tab, pairs) -> frozenset[tuple[int, int]]:
    out = set()
    for kind, fname in pairs:
        fid = 0 if fname is None else tab.field(fname)
        if fid < 0:
            continue
        for k in tab.kinds({kind}):
            out.add((k, fid))
    return frozenset(out)


def build_data_tables(spec: LanguageSpec, tab: Tables, flow: FlowTables) -> DataTables:
    """The data-flow tables of ``spec`` (read them as ``parsers.compiled.data_tables(spec)``)."""
    comps = {}
    for kind, (clause, target) in spec.comprehension_kinds.items():
        ck = tab.kinds({clause})
        for k in tab.kinds({kind}):
            comps[k] = (next(iter(ck)) if ck else -1, tab.field(target))
    nk = len(tab.names)
    nf = len(tab.field_names) + 1
    kind_flags = np.zeros(nk + 1, dtype=np.int64)  # index nk: "no parent"
    value_field = np.full(nk + 1, -1, dtype=np.int64)
    for kname, fname in spec.value_required.items():
        for k in tab.kinds({kname}):
            value_field[k] = tab.field(fname)
    for bit, kinds in (
        (KindFlag.IDENT, tab.kinds(spec.identifier_kinds)),
        (KindFlag.SKIP, flow.scopes | flow.classes | tab.kinds(spec.opaque_kinds)),
        (KindFlag.COMPREHENSION, frozenset(comps)),
        (KindFlag.PATTERN, tab.kinds(spec.pattern_kinds)),
        (KindFlag.FIRST_CHILD_ONLY, tab.kinds(spec.first_child_only_kinds)),
        (KindFlag.FIRST_CHILD_NOT_VARIABLE, tab.kinds(spec.first_child_not_variable_kinds)),
        (KindFlag.VALUE_REQUIRED, tab.kinds(set(spec.value_required))),
        (KindFlag.DEFINITION_NAME, tab.kinds(spec.identifier_kinds | spec.definition_name_kinds)),
        (KindFlag.DEFINITION, flow.functions | flow.classes),
        (KindFlag.UPDATE_OPERATOR, tab.kinds(spec.update_operator_kinds)),
    ):
        for k in kinds:
            kind_flags[k] |= bit
    pair_class = np.zeros((nk + 1, nf), dtype=np.int64)
    for code, pairs in (
        (PairClass.UPDATE, spec.update_fields),
        (PairClass.WRITE, spec.write_fields),
        (PairClass.NON_VARIABLE, spec.non_variable_fields),
    ):
        for k, f in _pairs(tab, pairs):
            pair_class[k, f] = code
    for k, f in _pairs(tab, spec.deferred_fields):
        pair_class[k, f] |= PairClass.DEFERRED
    for k, f in _pairs(tab, spec.header_fields):
        pair_class[k, f] |= PairClass.HEADER
    assignments = {}
    for kname, (tfield, vfield) in spec.assignments.items():
        for k in tab.kinds({kname}):
            assignments[k] = (tab.field(tfield), Field.EVERY_OTHER if vfield == "*" else tab.field(vfield))
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
        assignments=assignments,
    )
