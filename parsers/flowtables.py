"""Control-flow tables: a :class:`~parsers.languages.LanguageSpec`'s statement kinds compiled against
its grammar (kind ids and field ids), for :mod:`parsers.controlflow` and, as :func:`native_flow_tables`,
for the C core's builder (``parsers/_native.c``)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import get_args

import numpy as np

from parsers import tree as _tree
from parsers.languages import Compound, LanguageSpec, Role
from parsers.tree import Tables, kind_bits, tables


@dataclass(frozen=True, slots=True)
class FlowTables:
    """Control-flow tables of one language, keyed by grammar kind id and field id."""

    tab: Tables
    compound: dict[int, Compound]
    blocks: frozenset[int]
    non_statements: frozenset[int]
    functions: frozenset[int]
    scopes: frozenset[int]
    """Function kinds plus scope-only kinds (lambdas)."""
    classes: frozenset[int]
    returns: frozenset[int]
    breaks: frozenset[int]
    continues: frozenset[int]
    raises: frozenset[int]
    loops: frozenset[int]
    switches: frozenset[int]
    labels: frozenset[int]
    """Kinds of a field-less label child (``LanguageSpec.label_kinds``)."""
    fid: dict[str, int]
    """Field name -> grammar field id (-1 if absent)."""
    named: list[bool]
    statement: list[bool]
    """Grammar kind id -> may be a statement of a block (named, not a non-statement kind)."""
    inline: frozenset[int] = frozenset()
    """Field-less children whose fields count as their parent's (``LanguageSpec.inline_kinds``)."""
    self_labelled: frozenset[int] = frozenset()
    fallthroughs: frozenset[int] = frozenset()
    break_targets: frozenset[int] = frozenset()
    """What a plain ``break`` leaves: loops, and switches where ``LanguageSpec.break_leaves_switch``."""
    gotos: frozenset[int] = frozenset()
    """Statements that jump to a labelled statement of their scope (``LanguageSpec.goto_kinds``)."""


@cache
def flow_tables(spec: LanguageSpec) -> FlowTables:
    tab = tables(spec)
    lang = tab.language
    compound = {}
    for i, name in enumerate(tab.names):
        if name in spec.compounds:
            compound[i] = spec.compounds[name]
    field_names = {"alternative", "label", spec.name_field, spec.parameters_field, spec.function_body_field}
    if spec.jump_label_field:
        field_names.add(spec.jump_label_field)
    if spec.parameter_field:
        field_names.add(spec.parameter_field)
    field_names.update(spec.entry_fields)
    for c in spec.compounds.values():
        field_names.update(
            f
            for f in (*c.head, c.body, c.alternative, c.target, c.iterable, c.init, c.update, c.label)
            if f and f != "*"
        )
    fid = {f: tab.field(f) for f in field_names}
    roles = {i: c.role for i, c in compound.items()}
    named = [lang.node_kind_is_named(i) for i in range(len(tab.names) - 1)] + [True]  # + ERROR
    return FlowTables(
        tab=tab,
        compound=compound,
        blocks=tab.kinds(spec.block_kinds),
        non_statements=tab.kinds(spec.non_statement_kinds),
        functions=tab.kinds(spec.function_kinds),
        scopes=tab.kinds(spec.function_kinds | spec.scope_only_kinds),
        classes=tab.kinds(spec.class_kinds),
        returns=tab.kinds(spec.return_kinds),
        breaks=tab.kinds(spec.break_kinds),
        continues=tab.kinds(spec.continue_kinds),
        raises=tab.kinds(spec.raise_kinds),
        loops=frozenset(i for i, r in roles.items() if r in ("while", "for_each", "for", "do")),
        switches=frozenset(i for i, r in roles.items() if r == "switch"),
        labels=tab.kinds(spec.label_kinds),
        fid=fid,
        named=named,
        statement=[nm and i not in tab.kinds(spec.non_statement_kinds) for i, nm in enumerate(named)],
        inline=tab.kinds(spec.inline_kinds),
        self_labelled=tab.kinds(spec.self_labelled_kinds),
        fallthroughs=tab.kinds(spec.fallthrough_kinds),
        gotos=tab.kinds(spec.goto_kinds),
        break_targets=frozenset(
            i
            for i, r in roles.items()
            if r in ("while", "for_each", "for", "do") or (r == "switch" and spec.break_leaves_switch)
        ),
    )


ROLES = get_args(Role)
"""Compound roles in the order the C core numbers them (``parsers/_native.c``: ``R_IF`` ...), which is
the order :data:`~parsers.languages.Role` lists them in."""

_F_NONE, _F_STAR = -2, -3
"""How the C core's tables write a field given as None, and ``"*"`` in a head."""


@cache
def native_flow_tables(spec: LanguageSpec) -> object:
    """The C core's copy of :func:`flow_tables` (a capsule for ``_native.build_cfg`` / ``scope_flows``).

    Kind sets become bits per grammar kind; fields become field ids (-1: absent from the grammar,
    ``_F_NONE``: None in the table, so ``child`` takes the last block child as it does here)."""
    fl = flow_tables(spec)
    names = fl.tab.names
    nk = len(names)

    def fid(name: str | None) -> int:
        return _F_NONE if name is None else fl.fid.get(name, -1)

    statements = [i for i, ok in enumerate(fl.statement) if ok]
    named = [i for i, ok in enumerate(fl.named) if ok]
    groups = (  # _native.c's KB_BLOCK, KB_STATEMENT, ... in bit order
        fl.blocks, statements, fl.functions, fl.scopes, fl.returns, fl.breaks, fl.continues, fl.raises,
        fl.loops, fl.switches, fl.labels, fl.inline, fl.self_labelled, fl.fallthroughs, fl.break_targets,
        fl.gotos, named,
    )  # fmt: skip
    flags = kind_bits(nk, ((1 << bit, kinds) for bit, kinds in enumerate(groups)), np.uint32)
    comp_of = np.full(nk, -1, dtype=np.int32)
    comps = []
    sets = np.zeros((len(fl.compound), nk), dtype=np.uint8)
    for j, (k, c) in enumerate(sorted(fl.compound.items())):
        comp_of[k] = j
        if c.role == "labeled":
            flags[k] |= 1 << 17
        for bit, group in enumerate(
            (c.clauses, c.else_kinds, c.finally_kinds, c.default_kinds, c.empty_kinds, c.head_kinds)
        ):
            sets[j, [i for i, nm in enumerate(names) if nm in group]] |= 1 << bit
        comps.append(
            (
                ROLES.index(c.role),
                tuple(_F_STAR if h == "*" else fid(h) for h in c.head),
                c.head == ("*",),
                *(fid(f) for f in (c.body, c.alternative, c.target, c.iterable, c.init, c.update, c.label)),
                tuple(fid(f) for f in c.tail),
                c.fallthrough,
                bool(c.head_kinds),
                tuple(p.encode() for p in c.default_prefixes),
            )
        )
    return _tree.native.flow_tables(
        flags.tobytes(),
        comp_of.tobytes(),
        sets.tobytes(),
        comps,
        fid(spec.parameters_field),
        fid(spec.parameter_field),
        fid(spec.function_body_field),
        fid(spec.jump_label_field),
        tuple(fid(f) for f in spec.entry_fields),
    )
