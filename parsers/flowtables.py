"""Control-flow tables: a :class:`~parsers.languages.LanguageSpec`'s statement kinds compiled against
its grammar (kind ids and field ids), for :mod:`parsers.controlflow`. Built once per language, into
:class:`parsers.compiled.CompiledLanguage` (``compiled(spec).flow``), which also holds the C core's form
of them."""

from __future__ import annotations

from dataclasses import dataclass

from parsers.languages import Compound, LanguageSpec
from parsers.tree import Tables


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


def build_flow_tables(spec: LanguageSpec, tab: Tables) -> FlowTables:
    """The control-flow tables of ``spec`` (read them as ``parsers.compiled.flow_tables(spec)``)."""
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
