"""Go (tree-sitter-go): node kinds by role.

Shapes worth knowing: a ``block`` holds its statements in a ``statement_list`` (both are statement
containers here), and so does a switch case. ``for_statement`` has three forms: a ``for_clause``
(initializer; condition; update), a ``range_clause`` (``k, v := range m``, run as a for-each loop) or a
bare condition without a field, and none of them for ``for {}``, which loops until a jump; the clause
kinds are ``inline_kinds``, so their fields count as the loop's own. Cases never fall through except by
an explicit ``fallthrough`` statement. ``select`` waits until one of its cases runs, so control never
passes it by. Labels are ``label_name`` leaves (the jump's label has no field).

Units: ``function_declaration`` and ``method_declaration`` (named ``T.M`` after the receiver's type, for
``func (t *T) M()`` too); a ``func_literal`` is a scope, and a ``function`` unit where a ``:=`` or
``var`` binds it to a name (``f := func() {}`` is ``f``; in a list, the name at its position).
Every ``type_spec`` (struct, interface or other defined type) is a ``class`` unit; methods live
outside it, as Go declares them.

Approximations: a method receiver is a variable written at the method's entry, as are named results;
calls through a receiver (``t.M()``) are not resolved, since Go has no fixed receiver name. A struct
literal's keys (``T{x: 1}``) are field names, not reads, which also drops the reads of variable keys in
map literals. ``goto`` is a plain statement (no jump), ``defer`` and ``go`` run their call in place, and
package names (``fmt.Println``) read as variables, and the blank identifier ``_`` is a variable like any
other. Variables are keyed by name per function: a loop's ``i`` and a later ``i`` are one variable.
"""

import tree_sitter_go

from parsers.languages import Compound, LanguageSpec

_FUNCTIONS = frozenset({"function_declaration", "method_declaration"})
_CASE = Compound("case", head=("value",), body=None)

SPEC = LanguageSpec(
    name="go",
    extensions=(".go",),
    grammar=tree_sitter_go.language,
    function_kinds=_FUNCTIONS,
    class_kinds=frozenset({"type_spec"}),
    scope_only_kinds=frozenset({"func_literal"}),
    lambda_binders={("short_var_declaration", "right"): "left", ("var_spec", "value"): "name"},
    binding_list_kinds=frozenset({"expression_list"}),
    block_kinds=frozenset({"source_file", "block", "statement_list"}),
    compounds={
        "if_statement": Compound(
            "if", head=("initializer", "condition"), body="consequence", alternative="alternative"
        ),
        # `for i := 0; i < n; i++`, `for k, v := range m`, `for x < 3` and `for {}`
        "for_statement": Compound(
            "for",
            head=("condition", "*"),
            init="initializer",
            update="update",
            target="left",
            iterable="right",
        ),
        "labeled_statement": Compound("labeled", body=None, label="label"),
        "expression_switch_statement": Compound(
            "switch",
            head=("initializer", "value"),
            clauses=frozenset({"expression_case", "default_case"}),
            default_kinds=frozenset({"default_case"}),
        ),
        "type_switch_statement": Compound(
            "switch",
            head=("initializer", "alias", "value"),
            clauses=frozenset({"type_case", "default_case"}),
            default_kinds=frozenset({"default_case"}),
        ),
        # blocks until one case runs: never falls out, as if every case were a default
        "select_statement": Compound(
            "switch",
            clauses=frozenset({"communication_case", "default_case"}),
            default_kinds=frozenset({"communication_case", "default_case"}),
        ),
        "expression_case": _CASE,
        "type_case": Compound("case", head=("type",), body=None),
        "communication_case": Compound("case", head=("communication",), body=None),
        "default_case": Compound("case", body=None),
    },
    return_kinds=frozenset({"return_statement"}),
    break_kinds=frozenset({"break_statement"}),
    continue_kinds=frozenset({"continue_statement"}),
    fallthrough_kinds=frozenset({"fallthrough_statement"}),
    jump_label_field=None,
    label_kinds=frozenset({"label_name"}),
    inline_kinds=frozenset({"for_clause", "range_clause"}),
    entry_fields=("receiver", "result"),
    identifier_kinds=frozenset({"identifier"}),
    write_fields=frozenset(
        {
            ("short_var_declaration", "left"),
            ("assignment_statement", "left"),
            ("var_spec", "name"),
            ("const_spec", "name"),
            ("range_clause", "left"),
            ("receive_statement", "left"),
            ("type_switch_statement", "alias"),
            ("parameter_declaration", "name"),
            ("variadic_parameter_declaration", "name"),
            ("function_declaration", "name"),
        }
    ),
    update_fields=frozenset({("inc_statement", None), ("dec_statement", None)}),
    update_operator_kinds=frozenset({"assignment_statement"}),
    non_variable_fields=frozenset(
        {
            ("keyed_element", "key"),
            ("type_parameter_declaration", "name"),
        }
    ),
    pattern_kinds=frozenset({"expression_list", "parenthesized_expression", "literal_element"}),
    deferred_fields=frozenset(
        {
            ("short_var_declaration", "left"),
            ("assignment_statement", "left"),
            ("var_spec", "name"),
            ("const_spec", "name"),
            ("receive_statement", "left"),
            ("type_switch_statement", "alias"),
        }
    ),
    assignments={
        "short_var_declaration": ("left", "right"),
        "assignment_statement": ("left", "right"),
        "var_spec": ("name", "value"),
        "const_spec": ("name", "value"),
        "range_clause": ("left", "right"),
        "receive_statement": ("left", "right"),
        "type_switch_statement": ("alias", "value"),
    },
    call_kinds={"call_expression": ("function", "arguments")},
    qualifier_fields={"method_declaration": "receiver"},
    qualifier_kinds=frozenset({"type_identifier"}),
)
