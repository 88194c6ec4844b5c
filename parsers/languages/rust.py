"""Rust (tree-sitter-rust): node kinds by role.

Rust is expression-oriented; the tables follow the statement view. A block's statements are its
``let_declaration`` s, items, ``expression_statement`` s (containers of one expression, so that the
``if``, ``match`` or loop inside one is a compound statement) and a tail expression. Control flow is
built for an ``if``/``match``/loop that is a statement, a block's tail or a ``match`` arm's value; one
nested inside another expression (``let x = if c { a } else { b };``) runs as straight-line code
within its enclosing statement. An ``else_clause`` is a container of its block or ``else if``. A
``match`` is exhaustive, so control never passes it by (every arm counts as a default). ``loop`` runs
until a jump. Loops and blocks carry their own ``'a`` label (``self_labelled_kinds``).

Units: ``function_item`` (and bodiless ``function_signature_item``) are ``function`` units; methods
are named after their ``impl`` type or trait (``P.new``). ``struct_item``, ``enum_item``,
``union_item``, ``trait_item`` and ``impl_item`` are ``class`` units, an ``impl`` named after its type;
a ``closure_expression`` is a scope, and a ``function`` unit where ``let f = |x| ...`` binds it (named
``f``, the pattern's text). ``self.m()`` and ``Self::m()`` resolve to methods of the
enclosing ``impl``/trait.

Approximations: ``?`` may return, so it is a RETURNS_TO source (the scope exit has no CFG point, so it
adds no CFG_NEXT edge). A ``let ... else`` block and a ``return`` nested in an expression are part of
their statement. Macro arguments are token trees that tree-sitter does not parse: identifiers in them
count as reads (``println!("{}", x)`` reads ``x``), format-string captures (``"{x}"``) are not seen, and
identifiers in attributes and ``macro_rules!`` bodies are not variables. A pattern's bare identifier is
a binding, even where it names a unit variant or a constant (``None``), as syntax cannot tell them
apart. ``use`` declarations name no variables.
"""

import tree_sitter_rust

from parsers.languages import Compound, LanguageSpec

_TYPES = frozenset({"struct_item", "enum_item", "union_item", "trait_item", "impl_item"})

SPEC = LanguageSpec(
    name="rust",
    extensions=(".rs",),
    grammar=tree_sitter_rust.language,
    function_kinds=frozenset({"function_item", "function_signature_item"}),
    class_kinds=_TYPES,
    scope_only_kinds=frozenset({"closure_expression"}),
    lambda_binders={("let_declaration", "value"): "pattern"},
    block_kinds=frozenset({"source_file", "block", "expression_statement", "else_clause", "unsafe_block"}),
    non_statement_kinds=frozenset({"label", "attribute_item", "inner_attribute_item"}),
    compounds={
        "if_expression": Compound("if", head=("condition",), body="consequence", alternative="alternative"),
        "while_expression": Compound("while", head=("condition",)),
        "loop_expression": Compound("for"),  # no condition: left only by a jump
        "for_expression": Compound("for_each", target="pattern", iterable="value"),
        "match_expression": Compound(
            "switch",
            head=("value",),
            clauses=frozenset({"match_arm"}),
            default_kinds=frozenset({"match_arm"}),  # exhaustive
        ),
        "match_arm": Compound("case", head=("pattern",), body="value"),
    },
    return_kinds=frozenset({"return_expression"}),
    break_kinds=frozenset({"break_expression"}),
    continue_kinds=frozenset({"continue_expression"}),
    break_leaves_switch=False,
    jump_label_field=None,
    label_kinds=frozenset({"label"}),
    self_labelled_kinds=frozenset({"loop_expression", "while_expression", "for_expression", "block"}),
    yield_kinds=frozenset({"try_expression", "yield_expression"}),
    identifier_kinds=frozenset({"identifier", "self", "shorthand_field_identifier"}),
    write_fields=frozenset(
        {
            ("let_declaration", "pattern"),
            ("let_condition", "pattern"),
            ("for_expression", "pattern"),
            ("match_pattern", None),
            ("parameter", "pattern"),
            ("self_parameter", None),
            ("closure_parameters", None),
            ("field_pattern", "name"),
            ("assignment_expression", "left"),
            ("const_item", "name"),
            ("static_item", "name"),
            ("function_item", "name"),
        }
    ),
    update_fields=frozenset({("compound_assignment_expr", "left")}),
    non_variable_fields=frozenset(
        {
            ("tuple_struct_pattern", "type"),
            ("struct_pattern", "type"),
            ("scoped_identifier", "path"),
            ("scoped_identifier", "name"),
            ("macro_invocation", "macro"),
            ("macro_definition", "name"),
            ("macro_rule", "left"),
            ("macro_rule", "right"),
            ("attribute", None),
            ("attribute", "arguments"),
            ("attribute", "value"),
            ("label", None),
            ("lifetime", None),
            ("use_declaration", "argument"),
            ("use_list", None),
            ("scoped_use_list", "path"),
            ("use_as_clause", "path"),
            ("use_as_clause", "alias"),
        }
    ),
    pattern_kinds=frozenset(
        {
            "tuple_pattern",
            "tuple_struct_pattern",
            "struct_pattern",
            "field_pattern",
            "slice_pattern",
            "or_pattern",
            "ref_pattern",
            "mut_pattern",
            "reference_pattern",
            "captured_pattern",
            "tuple_expression",
            "token_tree",
        }
    ),
    deferred_fields=frozenset(
        {
            ("let_declaration", "pattern"),
            ("let_condition", "pattern"),
            ("assignment_expression", "left"),
            ("compound_assignment_expr", "left"),
        }
    ),
    assignments={
        "let_declaration": ("pattern", "value"),
        "let_condition": ("pattern", "value"),
        "for_expression": ("pattern", "value"),
        "assignment_expression": ("left", "right"),
        "compound_assignment_expr": ("left", "right"),
        "const_item": ("name", "value"),
        "static_item": ("name", "value"),
    },
    call_kinds={"call_expression": ("function", "arguments")},
    member_kinds={"field_expression": ("value", "field"), "scoped_identifier": ("path", "name")},
    self_names=frozenset({"self", "Self"}),
    qualifier_fields={"impl_item": "type"},
    qualifier_kinds=frozenset({"type_identifier", "primitive_type"}),
    comment_kinds=frozenset(
        {
            "line_comment",
            "block_comment",
            "doc_comment",
            "outer_doc_comment_marker",
            "inner_doc_comment_marker",
        }
    ),
)
