"""Per-language tables: which tree-sitter node kinds branch, loop, assign, call, open a scope.

A language is a :class:`LanguageSpec`: plain data, no code. The engines in :mod:`parsers.controlflow`
and :mod:`parsers.dataflow` read these tables and are the same for every language. Adding a language
means writing one module here and registering it in ``_MODULES``.

Field names below are tree-sitter field names (``node.child_by_field_name``). Where a part has no field
in a grammar, ``None`` means "the last child whose kind is one of the language's ``block_kinds``".
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Literal

import tree_sitter

Role = Literal[
    "if",  # condition, then branch, optional alternatives (elif clauses, else clause, or a statement)
    "elif",  # an alternative with its own condition (Python elif_clause)
    "else",  # an alternative wrapper whose body runs unconditionally (else_clause)
    "while",  # pre-tested loop; optional else clause (Python)
    "for_each",  # iterate a target over an iterable
    "for",  # C-style for (init; condition; update)
    "do",  # post-tested loop
    "try",  # body, handler clauses, else clause, finally clause
    "switch",  # value, case clauses (fallthrough or not)
    "sequence",  # head evaluated, then a body block runs (with, synchronized, Python class bodies)
    "labeled",  # label: statement
    "case",  # one case of a switch: head patterns, then its body (a field, or its own statement children)
]


@dataclass(frozen=True, slots=True)
class Compound:
    """How one compound statement kind is laid out.

    Args:
        role: what the statement does to control flow (see :data:`Role`).
        head: fields evaluated at the statement's own CFG point (conditions, switch values, with items).
            ``("*",)`` means every child that is not a body/alternative part.
        head_kinds: kinds of children evaluated at the head too, for heads without a field (Java's
            ``switch_label``).
        body: field of the statement or block that runs next (``None``: last block-kind child).
        alternative: ``if``/loops: field(s) of the else branch; may occur several times (elif chains).
        target: ``for_each``: the loop variable pattern (written at the loop head on every iteration).
        iterable: ``for_each``: the iterated expression (read once, before the loop).
        init / update: ``for``: the initialiser and update parts. A ``for`` whose ``iterable`` is present
            runs as a ``for_each`` (Go's one ``for_statement`` for both); its condition is the first of
            its ``head`` fields present, ``"*"`` standing for a field-less child that is no block,
            compound or inline kind (Go's ``for x < 3``); without one it loops until a jump.
        clauses: ``try``: handler kinds; ``switch``: case kinds (searched among children and the
            children of the body).
        else_kinds / finally_kinds: ``try``: kinds of the else and finally clauses.
        default_kinds: ``switch``: case kinds that match anything (no fall out of the switch).
        default_prefixes: ``switch``: a case clause whose source starts with one of these matches
            anything, for grammars with one clause kind for ``case`` and ``default`` (Java, C).
        fallthrough: ``switch``: a case body that ends normally runs into the next one (C, Java, JS);
            ``case``: the same, for this case kind only (Java's ``case 1:`` groups, but not its
            ``case 1 ->`` rules).
        empty_kinds: ``for``: kinds that fill an omitted initialiser or condition (JavaScript's
            ``for (;;)`` holds ``empty_statement`` nodes there); such a part counts as absent.
        label: ``labeled``: field of the label identifier. ``labeled`` with ``body`` None: the body
            is the last statement child (grammars whose labelled statement has no body field).
    """

    role: Role
    head: tuple[str, ...] = ()
    body: str | None = "body"
    alternative: str | None = None
    target: str | None = None
    iterable: str | None = None
    init: str | None = None
    update: str | None = None
    clauses: frozenset[str] = frozenset()
    else_kinds: frozenset[str] = frozenset()
    finally_kinds: frozenset[str] = frozenset()
    default_kinds: frozenset[str] = frozenset()
    fallthrough: bool = False
    label: str | None = None
    head_kinds: frozenset[str] = frozenset()
    default_prefixes: tuple[str, ...] = ()
    empty_kinds: frozenset[str] = frozenset()
    tail: tuple[str, ...] = ()
    """``sequence``: fields evaluated after the body (a Python class's name is bound after its body)."""


@dataclass(frozen=True, slots=True, eq=False)
class LanguageSpec:
    """Everything language-specific the graph engines need. Kinds are tree-sitter node type names."""

    name: str
    extensions: tuple[str, ...]
    grammar: Callable[[], object]
    """Returns the grammar capsule, e.g. ``tree_sitter_python.language``."""

    # --- units and scopes
    function_kinds: frozenset[str]
    """Definitions that open a variable scope and form ``function`` units (lambdas go in scope_only_kinds)."""
    class_kinds: frozenset[str]
    """Definitions that form ``class`` units."""
    scope_only_kinds: frozenset[str] = frozenset()
    """Nested scopes that are not units of their own (lambdas, arrow functions)."""
    name_field: str = "name"
    parameters_field: str = "parameters"
    parameter_field: str | None = None
    """Field of a lone parameter without a parameter list (JavaScript's ``x => x``), read at scope entry
    when the scope has no ``parameters_field`` child."""
    function_body_field: str = "body"
    entry_fields: tuple[str, ...] = ()
    """Further fields of a scope whose names it writes on entry, with its parameters (Go's method
    receiver and named results)."""
    qualifier_fields: Mapping[str, str] = field(default_factory=dict)
    """Unit kind -> field naming the type the unit belongs to: its first ``qualifier_kinds`` node prefixes
    the unit's name (Go's ``func (t *T) M()`` is ``T.M``), or is the name of a unit without a name field
    (Rust's ``impl T``)."""
    qualifier_kinds: frozenset[str] = frozenset()
    """Kinds of the type name found under a ``qualifier_fields`` field (``type_identifier``)."""
    declarator_fields: Mapping[str, str | None] = field(default_factory=dict)
    """Kind -> field leading down to the name of a definition without a ``name_field`` child (None: its
    one named child without a field). C nests a function's name and parameters in declarators:
    ``int *f(int a)`` is function_definition -> pointer_declarator -> function_declarator -> ``f``. The
    name is where this path ends (unless it ends in one of these kinds); the parameters are the
    innermost ``parameters_field`` child on the way."""
    qualified_name_fields: Mapping[str, tuple[str | None, ...]] = field(default_factory=dict)
    """Name kind -> fields holding its parts, in order (None: the named children without a field): C++'s
    ``A::f`` (scope, name) is the unit name ``A.f``, ``A<T>`` (name) is ``A``. A function named
    ``A.f`` outside the body of class ``A`` is still its method (for ``this->f()`` calls)."""
    namespace_kinds: frozenset[str] = frozenset()
    """Definitions whose name prefixes the qualified names of the units inside them without being
    units themselves (C++ namespaces)."""
    class_body_field: str | None = None
    """When set, a class kind node forms a ``class`` unit only if it has a child with this field (C's
    ``struct S *p`` names a struct that only ``struct S { ... }`` defines)."""
    lambda_binders: Mapping[tuple[str, str], str] = field(default_factory=dict)
    """(binder kind, value field) -> the binder's field holding the name a lambda (a ``scope_only_kinds``
    node) in that value field is bound to. Such a bound lambda is a ``function`` unit named after the
    binding (``const add = () => {}`` is ``add``; ``module.exports.x = function () {}`` is
    ``module.exports.x``, the target's text); a lambda anywhere else (a callback argument) stays part of
    its enclosing unit. Data and control flow are unchanged: the lambda was a scope of its own already."""
    lambda_literal_names: Mapping[tuple[str, str], str] = field(default_factory=dict)
    """(binder kind, value field) -> a fixed name for a lambda bound there (``export default () => {}``
    is ``default``)."""
    binding_list_kinds: frozenset[str] = frozenset()
    """Lists in a binder's value and name fields that pair values with names by position (Go's
    ``a, f := 1, func() {}`` binds the func literal to ``f``)."""
    object_kinds: frozenset[str] = frozenset()
    """Object literals: a unit bound in one (a lambda in a ``lambda_binders`` entry of its member, or a
    function unit that is its member) is prefixed by the name the object itself is bound to
    (``obj = { mul: function () {} }`` is ``obj.mul``)."""

    # --- statements and control flow
    block_kinds: frozenset[str] = frozenset()
    """Statement containers; every named child (not a comment) is a statement."""
    non_statement_kinds: frozenset[str] = frozenset()
    """Named children of blocks and case clauses that are not statements (``switch_label``)."""
    compounds: Mapping[str, Compound] = field(default_factory=dict)
    return_kinds: frozenset[str] = frozenset()
    break_kinds: frozenset[str] = frozenset()
    continue_kinds: frozenset[str] = frozenset()
    raise_kinds: frozenset[str] = frozenset()
    jump_label_field: str | None = "label"
    """Field of a labelled break/continue's target label (JS, Go, Rust)."""
    label_kinds: frozenset[str] = frozenset()
    """Kinds of the field-less child that holds the label of a labelled statement or break/continue,
    for grammars that give labels no field (Java's ``identifier``)."""
    yield_kinds: frozenset[str] = frozenset()
    """Expressions that hand a value back to the caller (RETURNS_TO edges)."""
    self_labelled_kinds: frozenset[str] = frozenset()
    """Loops and blocks that carry their own label child of a ``label_kinds`` kind (Rust's ``'a: loop``)
    instead of sitting in a labelled statement."""
    break_leaves_switch: bool = True
    """A plain ``break`` leaves the innermost switch as well as loops (C, Java, Go); False: loops only
    (a ``break`` in Rust's ``match`` leaves the enclosing loop)."""
    fallthrough_kinds: frozenset[str] = frozenset()
    """Statements that jump into the body of the next case of their switch (Go's ``fallthrough``)."""
    inline_kinds: frozenset[str] = frozenset()
    """Field-less children whose fields count as their parent's own (Go's ``for_clause`` and
    ``range_clause`` hold the ``for_statement``'s initializer, condition, update, or range parts)."""
    goto_kinds: frozenset[str] = frozenset()
    """Statements that jump to the labelled statement of their scope named by their
    ``jump_label_field`` (C's ``goto out;``); an unknown label falls through to the next statement."""

    # --- variables and data flow
    identifier_kinds: frozenset[str] = frozenset({"identifier"})
    """Leaf kinds that name a variable (where context does not say otherwise)."""
    write_fields: frozenset[tuple[str, str | None]] = frozenset()
    """(parent kind, field) whose identifiers are written; field None = any child without a field."""
    update_fields: frozenset[tuple[str, str | None]] = frozenset()
    """(parent kind, field) whose identifiers are read then written (``a += 1``, ``i++``)."""
    first_child_only_kinds: frozenset[str] = frozenset()
    """Kinds whose first child alone takes the context (``import a.b`` binds ``a``, not ``b``);
    identifiers after it are not variables."""
    first_child_not_variable_kinds: frozenset[str] = frozenset()
    """Kinds whose first child is a keyword, not a variable (Python's ``case P(x=px)``)."""
    value_required: Mapping[str, str] = field(default_factory=dict)
    """Assignment kind -> value field: without that field the target is not written (``x: int``)."""
    header_fields: frozenset[tuple[str, str]] = frozenset()
    """(kind, field) inside a definition's parameters read by the enclosing scope when the definition
    runs (default values, annotations), not at the function's entry."""
    annotation_kinds: frozenset[str] = frozenset()
    """Kinds that hold a type annotation (of a parameter, a return type, an annotated assignment)."""
    postponed_annotations: tuple[str, str] | None = None
    """(statement kind, feature name) with which a file postpones the evaluation of its annotations
    (Python's ``from __future__ import annotations``, PEP 563); such a file is analysed with
    :func:`with_postponed_annotations`."""
    update_operator_kinds: frozenset[str] = frozenset()
    """Assignment kinds that become read-write when their ``operator`` token is not plain ``=``."""
    non_variable_fields: frozenset[tuple[str, str | None]] = frozenset()
    """(parent kind, field) whose identifiers are not variables (attribute names, keyword names...)."""
    pattern_kinds: frozenset[str] = frozenset()
    """Kinds that pass a write context down to their children (tuples, lists, splats, parentheses)."""
    deferred_fields: frozenset[tuple[str, str]] = frozenset()
    """(kind, field) evaluated after the rest of the node (assignment targets, comprehension bodies)."""
    assignments: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """kind -> (target field, value field) for COMPUTED_FROM edges."""
    comprehension_kinds: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """Comprehension kind -> (clause kind, target field): names bound there are local to it."""
    opaque_kinds: frozenset[str] = frozenset()
    """Subtrees that hold no variable accesses and are not scanned (TypeScript types: the ``y`` of
    ``x: typeof y`` is not read, the ``a`` of ``f: (a: number) => void`` is not written)."""
    definition_name_kinds: frozenset[str] = frozenset()
    """Name kinds, besides ``identifier_kinds``, with which a nested function or class writes its name
    in the enclosing scope (TypeScript class names are ``type_identifier``)."""

    # --- calls
    call_kinds: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """Call kind -> (callee field, arguments field)."""
    keyword_argument_kinds: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """Keyword argument kind -> (name field, value field)."""
    member_kinds: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """Member access kind -> (object field, member field), to resolve ``self.method()`` calls."""
    self_names: frozenset[str] = frozenset()
    """Receiver names that denote the enclosing class (``self``, ``this``)."""

    # --- syntax tree shape
    comment_kinds: frozenset[str] = frozenset({"comment"})
    keep_tokens: frozenset[str] = frozenset()
    """Anonymous word tokens that carry meaning and are kept as nodes (``and``, ``not``, ``in``)."""

    @cache  # noqa: B019 - specs are module-level singletons
    def ts_language(self) -> tree_sitter.Language:
        return tree_sitter.Language(self.grammar())


_MODULES = {
    "python": "parsers.languages.python",
    "java": "parsers.languages.java",
    "go": "parsers.languages.go",
    "rust": "parsers.languages.rust",
    "javascript": "parsers.languages.javascript",
    "typescript": "parsers.languages.typescript",
    "tsx": "parsers.languages.tsx",
    "c": "parsers.languages.c",
    "cpp": "parsers.languages.cpp",
}


@cache
def _load(name: str) -> LanguageSpec:
    return importlib.import_module(_MODULES[name]).SPEC


class _Registry(Mapping[str, LanguageSpec]):
    """Lazy name -> spec mapping, so importing :mod:`parsers` loads no grammar."""

    def __getitem__(self, name: str) -> LanguageSpec:
        if name not in _MODULES:
            raise KeyError(name)
        return _load(name)

    def __iter__(self):
        return iter(_MODULES)

    def __len__(self) -> int:
        return len(_MODULES)


LANGUAGES: Mapping[str, LanguageSpec] = _Registry()


def get_language(name: str) -> LanguageSpec:
    """The spec for a language name; raises ``ValueError`` naming the choices for an unknown one."""
    key = name.lower()
    if key not in _MODULES:
        raise ValueError(f"unknown language {name!r}; supported: {', '.join(sorted(_MODULES))}")
    return _load(key)


@cache
def with_postponed_annotations(spec: LanguageSpec) -> LanguageSpec:
    """``spec`` for a file whose annotations are never evaluated: names in its annotations are not
    variable accesses (not read where a definition runs, nor anywhere else)."""
    return dataclasses.replace(
        spec, opaque_kinds=spec.opaque_kinds | spec.annotation_kinds, postponed_annotations=None
    )


def extension_map() -> dict[str, str]:
    """File extension (``".py"``) -> language name, for every supported language."""
    return {ext: name for name in _MODULES for ext in _load(name).extensions}
