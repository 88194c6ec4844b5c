"""C (tree-sitter-c): node kinds by role. C++ extends this table.

Decisions worth knowing:

- Units: every ``function_definition`` is a ``function`` unit. A function's name and parameters sit in
  its declarators (``int *f(int a)``: pointer_declarator -> function_declarator -> ``f``), which
  ``declarator_fields`` walks down. ``struct``, ``union`` and ``enum`` specifiers that have a body are
  ``class`` units (``struct S *p`` names a type without defining it and is none); an anonymous one,
  ``typedef struct { ... } T``, is named ``<anonymous:LINE>``.
- Variables: ``identifier`` only. Member names (``s.f``, ``p->f`` are ``field_identifier``), labels
  (``statement_identifier``) and type names (``type_identifier``) are different kinds, so never
  variables. A declarator writes its name, with or without an initialiser (``int x;``, ``int *p = q``,
  ``int a[n]`` writes ``a`` and reads ``n``); the name of a function declarator (a prototype) is no
  variable. ``s.f = v`` and ``a[i] = v`` read ``s`` and ``a`` (an element or member write is not a write
  of the variable), and ``&x`` passed to a function reads ``x`` (out-parameters are not modelled).
  Parameter names inside function-pointer types and prototypes are written where they appear.
- Control flow: ``if``/``else`` (the ``else_clause`` is a one-statement block), ``while``, ``do``,
  ``for`` with a declaration or expression initialiser and comma-separated updates (``for (;;)`` has no
  exit but a jump), ``switch`` whose cases fall through until a ``break``, with or without ``default``.
  ``goto l`` jumps to the statement labelled ``l`` in the same function (computed ``goto *p`` falls
  through). MSVC's ``__try``/``__except``/``__finally`` is a try statement (``__leave`` is a plain
  statement).
- The preprocessor is not run: the contents of ``#if``/``#ifdef``/``#elif``/``#else`` blocks are
  statements in sequence, every branch after the other, so code under either branch is seen and no
  branch breaks the flow around it. Directive conditions and names (``#ifdef DEBUG``) and
  ``#define``/``#include`` lines are no statements and read nothing. Macro uses parse as what they
  look like (``FOO(x)`` is a call).
- Calls resolve by name to the functions of the file; ``p->f(x)`` through a function pointer member
  does not resolve.
- ``.h`` files are C; a C++ project maps them with ``galla build-graphs --language .h=cpp``.
"""

import tree_sitter_c

from parsers.languages import Compound, LanguageSpec

FUNCTIONS = frozenset({"function_definition"})
CLASSES = frozenset({"struct_specifier", "union_specifier", "enum_specifier"})
PREPROC_BLOCKS = frozenset({"preproc_if", "preproc_ifdef", "preproc_elif", "preproc_elifdef", "preproc_else"})
BLOCKS = PREPROC_BLOCKS | {"translation_unit", "compound_statement", "else_clause", "declaration_list"}

# named children of blocks that are no statements: definitions that are scopes or units of their own,
# directives that run nothing, and the kinds a directive's condition or name can take
NON_STATEMENTS = frozenset(
    {
        "function_definition",
        "preproc_def",
        "preproc_function_def",
        "preproc_include",
        "preproc_call",
        "identifier",
        "number_literal",
        "char_literal",
        "preproc_defined",
        "unary_expression",
        "binary_expression",
        "parenthesized_expression",
        "call_expression",
    }
)

COMPOUNDS = {
    "if_statement": Compound("if", head=("condition",), body="consequence", alternative="alternative"),
    "while_statement": Compound("while", head=("condition",)),
    "do_statement": Compound("do", head=("condition",)),
    "for_statement": Compound("for", head=("condition",), init="initializer", update="update"),
    "switch_statement": Compound(
        "switch",
        head=("condition",),
        clauses=frozenset({"case_statement"}),
        default_prefixes=("default",),
        fallthrough=True,
    ),
    "case_statement": Compound("case", head=("value",), body=None),
    "labeled_statement": Compound("labeled", body=None, label="label"),
    # `[[likely]] if (...)`: the attribute wraps its statement as a label does
    "attributed_statement": Compound("labeled", body=None),
    "seh_try_statement": Compound(
        "try", clauses=frozenset({"seh_except_clause"}), finally_kinds=frozenset({"seh_finally_clause"})
    ),
    "seh_except_clause": Compound("sequence", head=("filter",)),
    "seh_finally_clause": Compound("sequence"),
    "linkage_specification": Compound("sequence"),
}

DECLARATORS = {
    "function_definition": "declarator",
    "pointer_declarator": "declarator",
    "function_declarator": "declarator",
    "attributed_declarator": "declarator",
    "parenthesized_declarator": None,
}

WRITE_FIELDS = frozenset(
    {
        ("declaration", "declarator"),
        ("init_declarator", "declarator"),
        ("pointer_declarator", "declarator"),
        ("array_declarator", "declarator"),
        ("attributed_declarator", "declarator"),
        ("parenthesized_declarator", None),
        ("parameter_declaration", "declarator"),
        ("assignment_expression", "left"),
    }
)

NON_VARIABLE_FIELDS = frozenset({("function_declarator", "declarator")})

# attributes (`[[nodiscard]]`, `__attribute__((unused))`, `__declspec(dllexport)`) name no variables
OPAQUE = frozenset({"attribute_declaration", "attribute_specifier", "ms_declspec_modifier"})

DEFERRED_FIELDS = frozenset(
    {
        ("assignment_expression", "left"),
        ("init_declarator", "declarator"),
        ("declaration", "declarator"),
    }
)

ASSIGNMENTS = {
    "assignment_expression": ("left", "right"),
    "init_declarator": ("declarator", "value"),
    "declaration": ("declarator", "value"),
}

SPEC = LanguageSpec(
    name="c",
    extensions=(".c", ".h"),
    grammar=tree_sitter_c.language,
    function_kinds=FUNCTIONS,
    class_kinds=CLASSES,
    declarator_fields=DECLARATORS,
    class_body_field="body",
    block_kinds=BLOCKS,
    non_statement_kinds=NON_STATEMENTS,
    compounds=COMPOUNDS,
    return_kinds=frozenset({"return_statement"}),
    break_kinds=frozenset({"break_statement"}),
    continue_kinds=frozenset({"continue_statement"}),
    goto_kinds=frozenset({"goto_statement"}),
    jump_label_field="label",
    identifier_kinds=frozenset({"identifier"}),
    write_fields=WRITE_FIELDS,
    update_fields=frozenset({("update_expression", "argument")}),
    update_operator_kinds=frozenset({"assignment_expression"}),
    non_variable_fields=NON_VARIABLE_FIELDS,
    pattern_kinds=frozenset({"parenthesized_expression"}),
    opaque_kinds=OPAQUE,
    deferred_fields=DEFERRED_FIELDS,
    assignments=ASSIGNMENTS,
    call_kinds={"call_expression": ("function", "arguments")},
    member_kinds={"field_expression": ("argument", "field")},
    # the newline that ends a directive is a token of its own; it carries nothing
    comment_kinds=frozenset({"comment", "\n"}),
)
