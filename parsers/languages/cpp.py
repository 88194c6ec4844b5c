"""C++ (tree-sitter-cpp): the C table plus classes, namespaces, lambdas, exceptions and range for.

Decisions worth knowing (see :mod:`parsers.languages.c` for what C++ shares with C):

- Units: every ``function_definition`` (in a class body, at namespace level, under a ``template``) is
  a ``function`` unit; ``class``, ``struct``, ``union`` and ``enum`` specifiers with a body are ``class``
  units. Names are dotted, as in every other language: namespaces prefix the names of what they
  contain, and a qualified declarator is split at ``::`` with template arguments dropped, so
  ``namespace ns { void A<T>::set() {} }`` and ``set`` defined in ``class A`` of ``namespace ns`` are
  both ``ns.A.set``; destructors are ``A.~A``, operators ``A.operator==``. An anonymous namespace adds
  nothing.
- Calls: ``f(x)`` and ``f<int>(x)`` resolve by name to the file's functions; a qualified call to the
  functions whose qualified name ends the same (``geo::f()`` reaches ``f`` in ``namespace geo``,
  ``A::g()`` the static method ``g`` of ``A``; ``std::max()`` reaches nothing); ``this->m(x)`` reaches
  method ``m`` of the enclosing class, whether defined in the class body or outside it as ``A::m``
  (matched by the class name). Calls through objects (``obj.m()``, ``p->m()``) do not resolve.
- Lambdas are scopes, and ``function`` units where a declaration binds them (``auto f = [](...) {};``
  is ``f``); a lambda passed as an argument is part of its enclosing unit.
  Their captures are written at the lambda's entry (``[x]`` makes the
  lambda's own ``x``; ``[y = e]`` reads ``e`` there), so nothing inside leaks out and the enclosing
  scope does not see the reads a capture makes.
- Range ``for`` writes its declarator on every iteration (``for (auto &[k, v] : m)`` writes ``k`` and
  ``v``) and reads its range once before the loop; ``if``/``switch``/``while`` conditions may declare
  (``if (int k = f(); k > 0)``). ``try`` bodies may throw to each ``catch``, whose parameter is
  written; C++ has no ``finally`` (MSVC's ``__try``/``__finally`` works as in C). References
  (``int &r = x``) write ``r`` and are variables of their own (aliasing is not modelled);
  ``new``/``delete`` read their operands. A qualified name (``std::cout``, ``ns::x``) is no variable.
- Class bodies are not scopes: member initialisers (``int m = 3;``) and a constructor's initialiser
  list (``: m(v)``) are not scanned; members used inside methods are plain names read there.
"""

import tree_sitter_cpp

from parsers.languages import Compound, LanguageSpec
from parsers.languages import c as _c

_TRY = Compound("try", clauses=frozenset({"catch_clause"}))

SPEC = LanguageSpec(
    name="cpp",
    extensions=(".cc", ".cpp", ".cxx", ".c++", ".hh", ".hpp", ".hxx", ".h++", ".ipp"),
    grammar=tree_sitter_cpp.language,
    function_kinds=_c.FUNCTIONS,
    class_kinds=_c.CLASSES | {"class_specifier"},
    scope_only_kinds=frozenset({"lambda_expression"}),
    lambda_binders={("init_declarator", "value"): "declarator"},
    entry_fields=("captures",),
    declarator_fields={
        **_c.DECLARATORS,
        "reference_declarator": None,
        "lambda_expression": "declarator",
        "abstract_function_declarator": "declarator",
    },
    qualified_name_fields={
        "qualified_identifier": ("scope", "name"),
        "template_type": ("name",),
        "template_function": ("name",),
        "template_method": ("name",),
        "nested_namespace_specifier": (None,),
    },
    namespace_kinds=frozenset({"namespace_definition"}),
    class_body_field="body",
    block_kinds=_c.BLOCKS,
    non_statement_kinds=_c.NON_STATEMENTS | {"template_declaration"},
    compounds={
        **_c.COMPOUNDS,
        "for_range_loop": Compound("for_each", target="declarator", iterable="right"),
        "try_statement": _TRY,
        "catch_clause": Compound("sequence", head=("parameters",)),
        "namespace_definition": Compound("sequence"),
    },
    return_kinds=frozenset({"return_statement", "co_return_statement"}),
    break_kinds=frozenset({"break_statement"}),
    continue_kinds=frozenset({"continue_statement"}),
    raise_kinds=frozenset({"throw_statement"}),
    goto_kinds=frozenset({"goto_statement"}),
    jump_label_field="label",
    yield_kinds=frozenset({"co_yield_statement"}),
    identifier_kinds=frozenset({"identifier"}),
    write_fields=_c.WRITE_FIELDS
    | {
        ("reference_declarator", None),
        ("structured_binding_declarator", None),
        ("variadic_declarator", None),
        ("optional_parameter_declaration", "declarator"),
        ("variadic_parameter_declaration", "declarator"),
        ("for_range_loop", "declarator"),
        ("lambda_capture_specifier", None),
        ("lambda_capture_initializer", "left"),
    },
    update_fields=frozenset({("update_expression", "argument")}),
    update_operator_kinds=frozenset({"assignment_expression"}),
    non_variable_fields=_c.NON_VARIABLE_FIELDS
    | {
        ("qualified_identifier", "name"),
        ("template_function", "name"),
        ("destructor_name", None),
        ("using_declaration", None),
    },
    pattern_kinds=frozenset({"parenthesized_expression"}),
    opaque_kinds=_c.OPAQUE,
    deferred_fields=_c.DEFERRED_FIELDS | {("lambda_capture_initializer", "left")},
    assignments={
        **_c.ASSIGNMENTS,
        "for_range_loop": ("declarator", "right"),
        "lambda_capture_initializer": ("left", "right"),
    },
    call_kinds={"call_expression": ("function", "arguments")},
    member_kinds={"field_expression": ("argument", "field")},
    self_names=frozenset({"this"}),
    comment_kinds=frozenset({"comment", "\n"}),
)
