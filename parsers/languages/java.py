"""Java (tree-sitter-java): node kinds by role.

Shapes worth knowing: a statement-level ``switch`` is a ``switch_expression`` whose ``switch_block``
holds either ``switch_block_statement_group`` clauses (``case 1:``, falling through) or ``switch_rule``
clauses (``case 1 ->``, no fallthrough); the ``default`` label has no kind of its own. Labels of
``labeled_statement`` and ``break``/``continue`` are field-less identifiers. Class, enum and interface
bodies are scopes of their own whose statements are the field declarations and initializer blocks (in
textual order, as the JVM runs them); member methods, constructors and nested types are not statements
there, so an anonymous class body never leaks its fields into the enclosing method.
"""

import tree_sitter_java

from parsers.languages import Compound, LanguageSpec

_TYPES = frozenset(
    {
        "class_declaration",
        "interface_declaration",
        "enum_declaration",
        "record_declaration",
        "annotation_type_declaration",
    }
)
_FUNCTIONS = frozenset({"method_declaration", "constructor_declaration", "compact_constructor_declaration"})
_TYPE_BODIES = frozenset({"class_body", "enum_body", "interface_body"})
_TRY = {
    "clauses": frozenset({"catch_clause"}),
    "finally_kinds": frozenset({"finally_clause"}),
}

SPEC = LanguageSpec(
    name="java",
    extensions=(".java",),
    grammar=tree_sitter_java.language,
    function_kinds=_FUNCTIONS,
    class_kinds=_TYPES,
    scope_only_kinds=frozenset({"lambda_expression"}) | _TYPE_BODIES,
    block_kinds=frozenset({"program", "block", "constructor_body", "enum_body_declarations"}) | _TYPE_BODIES,
    non_statement_kinds=frozenset(
        {"switch_label", "package_declaration", "import_declaration", "module_declaration"}
    )
    | _FUNCTIONS
    | _TYPES,
    compounds={
        "if_statement": Compound("if", head=("condition",), body="consequence", alternative="alternative"),
        "while_statement": Compound("while", head=("condition",)),
        "do_statement": Compound("do", head=("condition",)),
        "for_statement": Compound("for", head=("condition",), init="init", update="update"),
        "enhanced_for_statement": Compound("for_each", target="name", iterable="value"),
        "labeled_statement": Compound("labeled", body=None),
        "switch_expression": Compound(
            "switch",
            head=("condition",),
            clauses=frozenset({"switch_block_statement_group", "switch_rule"}),
            default_prefixes=("default",),
        ),
        "switch_block_statement_group": Compound(
            "case", body=None, head_kinds=frozenset({"switch_label"}), fallthrough=True
        ),
        "switch_rule": Compound("case", body=None, head_kinds=frozenset({"switch_label"})),
        "try_statement": Compound("try", **_TRY),
        "try_with_resources_statement": Compound("try", head=("resources",), **_TRY),
        "catch_clause": Compound("sequence", head=("*",)),
        "finally_clause": Compound("sequence", body=None),
        "synchronized_statement": Compound("sequence", head=("*",)),
        "static_initializer": Compound("sequence", body=None),
    },
    return_kinds=frozenset({"return_statement"}),
    break_kinds=frozenset({"break_statement"}),
    continue_kinds=frozenset({"continue_statement"}),
    raise_kinds=frozenset({"throw_statement"}),
    jump_label_field=None,
    label_kinds=frozenset({"identifier"}),
    identifier_kinds=frozenset({"identifier"}),
    write_fields=frozenset(
        {
            ("assignment_expression", "left"),
            ("variable_declarator", "name"),
            ("formal_parameter", "name"),
            ("catch_formal_parameter", "name"),
            ("resource", "name"),
            ("enhanced_for_statement", "name"),
            ("lambda_expression", "parameters"),
            ("inferred_parameters", None),
            ("instanceof_expression", "name"),
            ("type_pattern", None),
            ("record_pattern_component", None),
            ("enum_constant", "name"),
        }
    ),
    update_fields=frozenset({("update_expression", None)}),
    update_operator_kinds=frozenset({"assignment_expression"}),
    non_variable_fields=frozenset(
        {
            ("field_access", "field"),
            ("method_invocation", "name"),
            ("method_reference", None),
            ("record_pattern", None),
            ("break_statement", None),
            ("continue_statement", None),
            ("labeled_statement", None),
            ("marker_annotation", "name"),
            ("annotation", "name"),
            ("element_value_pair", "key"),
            ("scoped_identifier", "scope"),
            ("scoped_identifier", "name"),
        }
    ),
    pattern_kinds=frozenset({"parenthesized_expression"}),
    deferred_fields=frozenset(
        {
            ("assignment_expression", "left"),
            ("variable_declarator", "name"),
            ("resource", "name"),
        }
    ),
    assignments={
        "assignment_expression": ("left", "right"),
        "variable_declarator": ("name", "value"),
        "resource": ("name", "value"),
        "enhanced_for_statement": ("name", "value"),
        "instanceof_expression": ("name", "left"),
    },
    call_kinds={"method_invocation": ("name", "arguments")},
    member_kinds={"method_invocation": ("object", "name")},
    self_names=frozenset({"this"}),
    comment_kinds=frozenset({"line_comment", "block_comment"}),
    keep_tokens=frozenset({"instanceof"}),
)
