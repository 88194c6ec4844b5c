"""TypeScript (tree-sitter-typescript): the JavaScript table plus the kinds TypeScript adds.

Decisions worth knowing (beyond those of :mod:`parsers.languages.javascript`):

- Types are not code: type annotations, type arguments and parameters, type aliases, function types,
  object types and member signatures are opaque to data flow, so ``x: typeof y`` does not read ``y`` and
  the ``a`` of ``f: (a: number) => void`` is not written. Type names are ``type_identifier`` leaves and
  never variables; a class's ``type_identifier`` name is still written in the enclosing scope.
- Parameters are ``required_parameter`` / ``optional_parameter``: the ``pattern`` is written (after the
  default ``value`` is read, and computed from it); ``this`` parameters write nothing.
- Units: abstract methods (``abstract m(): void;``, no body) are ``function`` units like methods; class,
  abstract class, interface and enum declarations are ``class`` units. Overload and ambient signatures
  (``function f(x: number): void;``) are not units; signatures in a class body are not statements.
- Namespaces and ambient modules are scopes of their own, not units.
"""

from dataclasses import replace

import tree_sitter_typescript

from parsers.languages import LanguageSpec
from parsers.languages.javascript import SPEC as JAVASCRIPT

_SIGNATURES = frozenset({"abstract_method_signature", "method_signature", "index_signature"})
_TYPES = frozenset(
    {
        "type_annotation",
        "type_arguments",
        "type_parameters",
        "type_alias_declaration",
        "type_query",
        "function_type",
        "constructor_type",
        "object_type",
        "function_signature",
        "method_signature",
        "index_signature",
        "call_signature",
        "construct_signature",
        "asserts_annotation",
        "type_predicate_annotation",
        "opting_type_annotation",
        "omitting_type_annotation",
        "adding_type_annotation",
        "implements_clause",
        "nested_type_identifier",
    }
)
_PARAMETERS = ("required_parameter", "optional_parameter")

SPEC: LanguageSpec = replace(
    JAVASCRIPT,
    name="typescript",
    extensions=(".ts", ".mts", ".cts"),
    grammar=tree_sitter_typescript.language_typescript,
    function_kinds=JAVASCRIPT.function_kinds | {"abstract_method_signature"},
    class_kinds=JAVASCRIPT.class_kinds
    | {"abstract_class_declaration", "interface_declaration", "enum_declaration"},
    scope_only_kinds=JAVASCRIPT.scope_only_kinds | {"internal_module", "module"},
    lambda_binders={
        **{k: v for k, v in JAVASCRIPT.lambda_binders.items() if k[0] != "field_definition"},
        ("public_field_definition", "value"): "name",
    },
    non_statement_kinds=JAVASCRIPT.non_statement_kinds | _SIGNATURES,
    write_fields=JAVASCRIPT.write_fields
    | {(kind, "pattern") for kind in _PARAMETERS}
    | {("abstract_class_declaration", "name"), ("enum_declaration", "name"), ("import_require_clause", None)},
    pattern_kinds=JAVASCRIPT.pattern_kinds | {"non_null_expression"},
    deferred_fields=JAVASCRIPT.deferred_fields | {(kind, "pattern") for kind in _PARAMETERS},
    assignments={**JAVASCRIPT.assignments, **{kind: ("pattern", "value") for kind in _PARAMETERS}},
    opaque_kinds=_TYPES,
    definition_name_kinds=frozenset({"type_identifier"}),
    keep_tokens=JAVASCRIPT.keep_tokens | {"as", "satisfies", "keyof"},
)
