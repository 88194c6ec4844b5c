"""Python (tree-sitter-python): node kinds by role."""

import tree_sitter_python

from parsers.languages import Compound, LanguageSpec

_COMPREHENSIONS = (
    "list_comprehension",
    "set_comprehension",
    "dictionary_comprehension",
    "generator_expression",
)

SPEC = LanguageSpec(
    name="python",
    extensions=(".py", ".pyi", ".pyw"),
    grammar=tree_sitter_python.language,
    function_kinds=frozenset({"function_definition"}),
    class_kinds=frozenset({"class_definition"}),
    scope_only_kinds=frozenset({"lambda"}),
    block_kinds=frozenset({"module", "block"}),
    compounds={
        "if_statement": Compound("if", head=("condition",), body="consequence", alternative="alternative"),
        "elif_clause": Compound("elif", head=("condition",), body="consequence"),
        "else_clause": Compound("else", body="body"),
        "while_statement": Compound("while", head=("condition",), alternative="alternative"),
        "for_statement": Compound("for_each", target="left", iterable="right", alternative="alternative"),
        "try_statement": Compound(
            "try",
            clauses=frozenset({"except_clause", "except_group_clause"}),
            else_kinds=frozenset({"else_clause"}),
            finally_kinds=frozenset({"finally_clause"}),
        ),
        "except_clause": Compound("sequence", head=("*",), body=None),
        "except_group_clause": Compound("sequence", head=("*",), body=None),
        "finally_clause": Compound("sequence", body=None),
        "with_statement": Compound("sequence", head=("*",)),
        "match_statement": Compound(
            "switch", head=("subject",), clauses=frozenset({"case_clause"}), body="body"
        ),
        "case_clause": Compound("case", head=("*",), body="consequence"),
        "class_definition": Compound("sequence", head=("superclasses",), tail=("name",)),
        "decorated_definition": Compound("sequence", head_kinds=frozenset({"decorator"}), body="definition"),
    },
    return_kinds=frozenset({"return_statement"}),
    break_kinds=frozenset({"break_statement"}),
    continue_kinds=frozenset({"continue_statement"}),
    raise_kinds=frozenset({"raise_statement"}),
    jump_label_field=None,
    yield_kinds=frozenset({"yield"}),
    identifier_kinds=frozenset({"identifier"}),
    first_child_only_kinds=frozenset({"dotted_name"}),
    first_child_not_variable_kinds=frozenset({"keyword_pattern"}),
    value_required={"assignment": "right"},
    header_fields=frozenset(
        {
            ("default_parameter", "value"),
            ("typed_default_parameter", "value"),
            ("typed_parameter", "type"),
            ("typed_default_parameter", "type"),
            ("function_definition", "return_type"),
        }
    ),
    annotation_kinds=frozenset({"type"}),
    postponed_annotations=("future_import_statement", "annotations"),
    write_fields=frozenset(
        {
            ("assignment", "left"),
            ("for_statement", "left"),
            ("for_in_clause", "left"),
            ("named_expression", "name"),
            ("as_pattern_target", None),
            ("parameters", None),
            ("lambda_parameters", None),
            ("default_parameter", "name"),
            ("typed_parameter", None),
            ("typed_default_parameter", "name"),
            ("function_definition", "name"),
            ("class_definition", "name"),
            ("import_statement", "name"),
            ("import_from_statement", "name"),
            ("aliased_import", "alias"),
            ("case_pattern", None),
            ("keyword_pattern", None),
            ("delete_statement", None),
        }
    ),
    update_fields=frozenset({("augmented_assignment", "left")}),
    non_variable_fields=frozenset(
        {
            ("attribute", "attribute"),
            ("keyword_argument", "name"),
            ("aliased_import", "name"),
            ("import_from_statement", "module_name"),
            ("global_statement", None),
            ("relative_import", None),
            ("nonlocal_statement", None),
            ("class_pattern", None),
        }
    ),
    pattern_kinds=frozenset(
        {
            "pattern_list",
            "tuple_pattern",
            "list_pattern",
            "tuple",
            "list",
            "parenthesized_expression",
            "list_splat_pattern",
            "dictionary_splat_pattern",
            "list_splat",
            "dotted_name",
            "case_pattern",
            "splat_pattern",
            "expression_list",
        }
    ),
    deferred_fields=frozenset(
        {
            ("assignment", "left"),
            ("augmented_assignment", "left"),
            ("named_expression", "name"),
            ("for_in_clause", "left"),
            *((kind, "body") for kind in _COMPREHENSIONS),
        }
    ),
    assignments={
        "assignment": ("left", "right"),
        "augmented_assignment": ("left", "right"),
        "named_expression": ("name", "value"),
        "for_statement": ("left", "right"),
        "for_in_clause": ("left", "right"),
        "as_pattern": ("alias", "*"),
    },
    comprehension_kinds={kind: ("for_in_clause", "left") for kind in _COMPREHENSIONS},
    call_kinds={"call": ("function", "arguments")},
    keyword_argument_kinds={"keyword_argument": ("name", "value")},
    member_kinds={"attribute": ("object", "attribute")},
    self_names=frozenset({"self", "cls"}),
    keep_tokens=frozenset({"and", "or", "not", "in", "is", "await", "not in", "is not"}),
)
