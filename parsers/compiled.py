"""One language's tables, compiled once, in every form the two engines read.

:func:`compiled` builds one :class:`CompiledLanguage` per :class:`~parsers.languages.LanguageSpec`: the
Python engine's tables keyed by grammar kind id and field id (:class:`~parsers.tree.Tables`,
:class:`~parsers.flowtables.FlowTables`, :class:`~parsers.datatables.DataTables`) and, made from those, the
flat arrays the C core reads. ``parsers/_native.c`` copies the arrays once per language
(:meth:`CompiledLanguage.native`), reading each by its attribute name here; every flag, role and
sentinel value in them is :mod:`parsers.abi`'s, which the C core is checked against when it loads.
A table change is therefore an edit of the language module (or of the builder that reads it) alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import numpy as np

from parsers import tree as _tree
from parsers.abi import ROLES, CallFlag, CompoundSet, Field, FlowFlag
from parsers.datatables import DataTables, build_data_tables
from parsers.flowtables import FlowTables, build_flow_tables
from parsers.languages import LanguageSpec
from parsers.tree import Tables, kind_bits, tables


@dataclass(frozen=True, slots=True)
class NativeCompound:
    """One compound statement kind (:class:`~parsers.languages.Compound`) with field ids for names:
    -1 a field the grammar lacks, ``Field.NONE`` a part given as None, ``Field.STAR`` a ``"*"`` head."""

    role: int
    """Index in :data:`~parsers.abi.ROLES`."""
    head: tuple[int, ...]
    star_only: bool
    """The head is ``("*",)``: every child that is no body or alternative part."""
    body: int
    alternative: int
    target: int
    iterable: int
    init: int
    update: int
    label: int
    tail: tuple[int, ...]
    fallthrough: bool
    has_head_kinds: bool
    default_prefixes: tuple[bytes, ...]


@dataclass(frozen=True, slots=True, eq=False)
class CompiledLanguage:
    """A language's tables for both engines. Per-kind arrays have one entry per grammar kind id plus one
    for ``ERROR`` (:attr:`n_kinds` in all); ``kind_flags``, ``pair_class`` and ``value_field`` one more,
    for "no parent"."""

    spec: LanguageSpec
    tab: Tables
    flow: FlowTables
    data: DataTables

    # --- what the C core reads (parsers/_native.c: language()), by these names
    grammar: object
    """The grammar capsule (``spec.grammar()``)."""
    n_kinds: int
    n_fields: int
    """Columns of ``pair_class``: the grammar's field ids, 0 (no field) included."""
    keep: bytes
    """Per kind: 1 if its nodes become graph nodes (:attr:`Tables.keep`)."""
    comments: bytes
    """Per kind: 1 for comment kinds, dropped with their whole subtree."""
    kind_flags: np.ndarray
    """int64 :class:`~parsers.abi.KindFlag` bits (``DataTables.kind_flags``)."""
    pair_class: np.ndarray
    """int64 (kinds + 1, fields): ``DataTables.pair_class``."""
    value_field: np.ndarray
    """int64: ``DataTables.value_field``."""
    comprehension: np.ndarray
    """int64 (2, kinds): per comprehension kind its clause kind and target field, else -1."""
    assignment: np.ndarray
    """int64 (2, kinds): per assignment kind its target and value field (``DataTables.assignments``)."""
    operator_field: int
    name_field: int
    """Field id of a definition's name (``spec.name_field``)."""
    definition_body_field: int
    """``DataTables.body_field``: where a definition's header parts end."""
    flow_flags: np.ndarray
    """uint32 :class:`~parsers.abi.FlowFlag` bits."""
    compound_of: np.ndarray
    """int32: the kind's index in :attr:`compounds`, else -1."""
    compound_sets: np.ndarray
    """uint8 (compounds, kinds): :class:`~parsers.abi.CompoundSet` bits."""
    compounds: tuple[NativeCompound, ...]
    parameters_field: int
    parameter_field: int
    function_body_field: int
    jump_label_field: int
    """The control-flow field ids of the spec fields of these names (``Field.NONE`` where None)."""
    entry_fields: tuple[int, ...]
    call_flags: np.ndarray
    """uint8 :class:`~parsers.abi.CallFlag` bits."""
    call_fields: np.ndarray
    """int64 (5, kinds): a call's callee and arguments fields, a member access's object and member
    fields, a keyword argument's name field; ``Field.NOT_THIS_KIND`` for other kinds."""
    self_names: tuple[bytes, ...]
    call_parameters_field: int
    """Field id of a function's parameter list, for the formals of called functions."""
    global_kind: np.ndarray
    """int16: the kind's id in the cross-language vocabulary (:attr:`Tables.global_kind`)."""
    named: np.ndarray
    """int8: 1 for named kinds (``FlowTables.named``)."""

    _native: dict = field(default_factory=dict, init=False, repr=False)

    def native(self) -> object:
        """The C core's copy of these tables (a capsule its functions take), made on first use."""
        cap = self._native.get("lang")
        if cap is None:
            cap = self._native["lang"] = _tree.native.language(self)
        return cap


@cache
def compiled(spec: LanguageSpec) -> CompiledLanguage:
    """The tables of ``spec``, built once per spec."""
    tab = tables(spec)
    flow = build_flow_tables(spec, tab)
    data = build_data_tables(spec, tab, flow)
    nk = len(tab.names)
    return CompiledLanguage(
        spec=spec,
        tab=tab,
        flow=flow,
        data=data,
        grammar=spec.grammar(),
        n_kinds=nk,
        n_fields=data.pair_class.shape[1],
        keep=bytes(tab.keep),
        comments=bytes(k in tab.comments for k in range(nk)),
        kind_flags=data.kind_flags,
        pair_class=data.pair_class,
        value_field=data.value_field,
        comprehension=_rows(nk, data.comprehensions, Field.ABSENT),
        assignment=_rows(nk, data.assignments, Field.ABSENT),
        operator_field=data.operator_field,
        name_field=tab.field(spec.name_field),
        definition_body_field=data.body_field,
        **_flow_arrays(spec, flow),
        **_call_arrays(spec, tab, flow, data),
        global_kind=np.asarray(tab.global_kind, dtype=np.int16),
        named=np.asarray(flow.named, dtype=np.int8),
    )


def flow_tables(spec: LanguageSpec) -> FlowTables:
    """The control-flow tables of ``spec``."""
    return compiled(spec).flow


def data_tables(spec: LanguageSpec) -> DataTables:
    """The data-flow tables of ``spec``."""
    return compiled(spec).data


def _rows(nk: int, per_kind: dict[int, tuple[int, ...]], fill: int) -> np.ndarray:
    """``per_kind`` (kind -> a tuple of values) as one int64 row per tuple position over all kinds."""
    width = len(next(iter(per_kind.values()))) if per_kind else 2
    rows = np.full((width, nk), fill, dtype=np.int64)
    for k, values in per_kind.items():
        rows[:, k] = values
    return rows


def _flow_arrays(spec: LanguageSpec, fl: FlowTables) -> dict:
    """The C core's form of the control-flow tables: kind sets as bits per kind, compounds with field ids
    (so its ``child`` takes the last block child where a part is None, as the Python builder does)."""
    names = fl.tab.names
    nk = len(names)

    def fid(name: str | None) -> int:
        return Field.NONE if name is None else fl.fid.get(name, Field.ABSENT)

    groups = (
        (FlowFlag.BLOCK, fl.blocks),
        (FlowFlag.STATEMENT, [i for i, ok in enumerate(fl.statement) if ok]),
        (FlowFlag.FUNCTION, fl.functions),
        (FlowFlag.SCOPE, fl.scopes),
        (FlowFlag.RETURN, fl.returns),
        (FlowFlag.BREAK, fl.breaks),
        (FlowFlag.CONTINUE, fl.continues),
        (FlowFlag.RAISE, fl.raises),
        (FlowFlag.LOOP, fl.loops),
        (FlowFlag.SWITCH, fl.switches),
        (FlowFlag.LABEL, fl.labels),
        (FlowFlag.INLINE, fl.inline),
        (FlowFlag.SELF_LABELLED, fl.self_labelled),
        (FlowFlag.FALLTHROUGH, fl.fallthroughs),
        (FlowFlag.BREAK_TARGET, fl.break_targets),
        (FlowFlag.GOTO, fl.gotos),
        (FlowFlag.NAMED, [i for i, ok in enumerate(fl.named) if ok]),
        (FlowFlag.LABELED, [k for k, c in fl.compound.items() if c.role == "labeled"]),
    )
    compound_of = np.full(nk, -1, dtype=np.int32)
    sets = np.zeros((len(fl.compound), nk), dtype=np.uint8)
    compounds = []
    for j, (k, c) in enumerate(sorted(fl.compound.items())):
        compound_of[k] = j
        for bit, group in (
            (CompoundSet.CLAUSE, c.clauses),
            (CompoundSet.ELSE, c.else_kinds),
            (CompoundSet.FINALLY, c.finally_kinds),
            (CompoundSet.DEFAULT, c.default_kinds),
            (CompoundSet.EMPTY, c.empty_kinds),
            (CompoundSet.HEAD, c.head_kinds),
        ):
            sets[j, [i for i, nm in enumerate(names) if nm in group]] |= bit
        compounds.append(
            NativeCompound(
                role=ROLES.index(c.role),
                head=tuple(Field.STAR if h == "*" else fid(h) for h in c.head),
                star_only=c.head == ("*",),
                body=fid(c.body),
                alternative=fid(c.alternative),
                target=fid(c.target),
                iterable=fid(c.iterable),
                init=fid(c.init),
                update=fid(c.update),
                label=fid(c.label),
                tail=tuple(fid(f) for f in c.tail),
                fallthrough=c.fallthrough,
                has_head_kinds=bool(c.head_kinds),
                default_prefixes=tuple(p.encode() for p in c.default_prefixes),
            )
        )
    return {
        "flow_flags": kind_bits(nk, groups, np.uint32),
        "compound_of": compound_of,
        "compound_sets": sets,
        "compounds": tuple(compounds),
        "parameters_field": fid(spec.parameters_field),
        "parameter_field": fid(spec.parameter_field),
        "function_body_field": fid(spec.function_body_field),
        "jump_label_field": fid(spec.jump_label_field),
        "entry_fields": tuple(fid(f) for f in spec.entry_fields),
    }


def _call_arrays(spec: LanguageSpec, tab: Tables, fl: FlowTables, dt: DataTables) -> dict:
    """The C core's form of the call tables of :mod:`parsers.calls`."""
    nk = len(tab.names)
    groups = (
        (CallFlag.FUNCTION, fl.functions),
        (CallFlag.CLASS, fl.classes),
        (CallFlag.SCOPE, fl.scopes),
        (CallFlag.IDENT, dt.identifiers),
        (CallFlag.NAMED, [k for k, ok in enumerate(fl.named) if ok]),
        (CallFlag.RETURN, tab.kinds(spec.return_kinds | spec.yield_kinds)),
    )
    fids = np.full((5, nk), Field.NOT_THIS_KIND, dtype=np.int64)
    for table, rows in ((spec.call_kinds, (0, 1)), (spec.member_kinds, (2, 3))):
        for kname, fields in table.items():
            for k in tab.kinds({kname}):
                for row, f in zip(rows, fields, strict=True):
                    fids[row, k] = tab.field(f)
    for kname, (name_field, _) in spec.keyword_argument_kinds.items():
        for k in tab.kinds({kname}):
            fids[4, k] = tab.field(name_field)
    return {
        "call_flags": kind_bits(nk, groups),
        "call_fields": fids,
        "self_names": tuple(s.encode() for s in spec.self_names),
        "call_parameters_field": tab.field(spec.parameters_field),
    }
