"""JavaScript (tree-sitter-javascript): node kinds by role. TypeScript extends this table.

Decisions worth knowing:

- Units: function and generator declarations and methods (class and object-literal methods) are
  ``function`` units; class declarations and class expressions are ``class`` units. Function
  expressions and arrow functions are scopes of their own; they are ``function`` units too where they
  are bound to a name, named after it: ``const add = () => {}`` (``add``), ``obj.f = function () {}``
  and ``module.exports.x = ...`` (the target's text), an object-literal member ``{ mul: () => {} }``
  (``mul``, prefixed by the object's own binding: ``obj = {...}`` gives ``obj.mul``, as it does for a
  method ``{ m() {} }``), a class field ``f = () => {}`` (``C.f``) and ``export default () => {}``
  (``default``). A callback passed as an argument (``arr.map(x => x * 2)``) is no unit: it stays part
  of its enclosing unit. A call ``f()`` still resolves only to function declarations and methods named
  ``f``, not to a lambda bound to ``f``.
- Class bodies are scopes whose statements are the field definitions and static blocks, in textual
  order; methods are not statements there. A nested class, function or arrow never leaks its variables.
- Variables are names (one per function scope): ``let``/``const`` block scoping, hoisting of ``var`` and
  function declarations, and closures reading an enclosing scope's variables are not modelled. A
  declaration without initialiser (``let v;``) writes ``v`` (it holds ``undefined``). Destructuring
  binds left to right, each default read just before its name is written. A named class expression
  writes its name in the enclosing scope (a named function expression does not).
- ``for (;;)``: the ``empty_statement`` placeholders count as absent, so the loop has no exit edge.
- Property names (``o.p``, ``{p: 1}``, ``#p``) and labels are not variables; a shorthand property
  ``{x}`` reads ``x``; a shorthand pattern ``{x} = o`` writes it; a computed key ``{[k]: v}`` reads ``k``.
- ``else_clause`` is a block holding one statement, so ``else if`` chains need no extra role.
- ``import {a as b}`` writes both ``a`` and ``b`` (the table cannot tell whether an alias follows).
- JSX: a tag name in an opening tag reads the component variable (``<Foo/>`` reads ``Foo``, and so
  ``<div>`` reads ``div``); a closing tag's name is not a variable.
"""

import tree_sitter_javascript

from parsers.languages import Compound, LanguageSpec

FUNCTIONS = frozenset({"function_declaration", "generator_function_declaration", "method_definition"})
CLASSES = frozenset({"class_declaration", "class"})
LAMBDAS = frozenset({"function_expression", "generator_function", "arrow_function"})

COMPOUNDS = {
    "if_statement": Compound("if", head=("condition",), body="consequence", alternative="alternative"),
    "while_statement": Compound("while", head=("condition",)),
    "do_statement": Compound("do", head=("condition",)),
    "for_statement": Compound(
        "for",
        head=("condition",),
        init="initializer",
        update="increment",
        empty_kinds=frozenset({"empty_statement"}),
    ),
    "for_in_statement": Compound("for_each", target="left", iterable="right"),
    "labeled_statement": Compound("labeled", label="label"),
    "switch_statement": Compound(
        "switch",
        head=("value",),
        clauses=frozenset({"switch_case", "switch_default"}),
        default_kinds=frozenset({"switch_default"}),
        fallthrough=True,
    ),
    "switch_case": Compound("case", head=("value",), body=None),
    "switch_default": Compound("case", body=None),
    "try_statement": Compound(
        "try", clauses=frozenset({"catch_clause"}), finally_kinds=frozenset({"finally_clause"})
    ),
    "catch_clause": Compound("sequence", head=("parameter",)),
    "finally_clause": Compound("sequence"),
    "with_statement": Compound("sequence", head=("object",)),
    "class_static_block": Compound("sequence"),
}

WRITE_FIELDS = frozenset(
    {
        ("assignment_expression", "left"),
        ("variable_declarator", "name"),
        ("formal_parameters", None),
        ("arrow_function", "parameter"),
        ("assignment_pattern", "left"),
        ("object_assignment_pattern", "left"),
        ("for_in_statement", "left"),
        ("catch_clause", "parameter"),
        ("function_declaration", "name"),
        ("generator_function_declaration", "name"),
        ("function_expression", "name"),
        ("generator_function", "name"),
        ("class_declaration", "name"),
        ("class", "name"),
        ("import_clause", None),
        ("import_specifier", "name"),
        ("import_specifier", "alias"),
        ("namespace_import", None),
    }
)

SPEC = LanguageSpec(
    name="javascript",
    extensions=(".js", ".jsx", ".mjs", ".cjs"),
    grammar=tree_sitter_javascript.language,
    function_kinds=FUNCTIONS,
    class_kinds=CLASSES,
    scope_only_kinds=LAMBDAS | {"class_body"},
    parameter_field="parameter",
    block_kinds=frozenset({"program", "statement_block", "else_clause", "class_body"}),
    lambda_binders={
        ("variable_declarator", "value"): "name",
        ("assignment_expression", "right"): "left",
        ("pair", "value"): "key",
        ("field_definition", "value"): "property",
    },
    lambda_literal_names={("export_statement", "value"): "default"},
    object_kinds=frozenset({"object"}),
    non_statement_kinds=frozenset({"method_definition", "hash_bang_line"}),
    compounds=COMPOUNDS,
    return_kinds=frozenset({"return_statement"}),
    break_kinds=frozenset({"break_statement"}),
    continue_kinds=frozenset({"continue_statement"}),
    raise_kinds=frozenset({"throw_statement"}),
    jump_label_field="label",
    yield_kinds=frozenset({"yield_expression"}),
    identifier_kinds=frozenset(
        {"identifier", "shorthand_property_identifier", "shorthand_property_identifier_pattern"}
    ),
    write_fields=WRITE_FIELDS,
    update_fields=frozenset({("augmented_assignment_expression", "left"), ("update_expression", "argument")}),
    non_variable_fields=frozenset({("export_specifier", "alias"), ("jsx_closing_element", "name")}),
    pattern_kinds=frozenset(
        {"object_pattern", "array_pattern", "pair_pattern", "rest_pattern", "parenthesized_expression"}
    ),
    deferred_fields=frozenset(
        {
            ("assignment_expression", "left"),
            ("augmented_assignment_expression", "left"),
            ("variable_declarator", "name"),
            ("assignment_pattern", "left"),
            ("object_assignment_pattern", "left"),
        }
    ),
    assignments={
        "assignment_expression": ("left", "right"),
        "augmented_assignment_expression": ("left", "right"),
        "variable_declarator": ("name", "value"),
        "for_in_statement": ("left", "right"),
        "assignment_pattern": ("left", "right"),
        "object_assignment_pattern": ("left", "right"),
    },
    call_kinds={"call_expression": ("function", "arguments"), "new_expression": ("constructor", "arguments")},
    member_kinds={"member_expression": ("object", "property")},
    self_names=frozenset({"this"}),
    comment_kinds=frozenset({"comment", "html_comment"}),
    keep_tokens=frozenset({"typeof", "instanceof", "in", "of", "delete", "void", "await", "let", "const"}),
)
