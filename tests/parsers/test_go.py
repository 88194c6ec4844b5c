"""Golden edges for Go: the three for forms and range, labelled jumps, switches with explicit
fallthrough, type switches and select, receivers, closures, units."""

from __future__ import annotations

from conftest import assert_table_matches_grammar

from parsers import EdgeType, extract_file

LW, LR, CF, CFG = EdgeType.LAST_WRITE, EdgeType.LAST_READ, EdgeType.COMPUTED_FROM, EdgeType.CFG_NEXT

LOOPS = """
package p

func f(a int, n int) int {
    x := a + n
    if x > 0 {
        x = x - 1
    } else if x < 0 {
        x = -x
    } else {
        x = 1
    }
    for i := 0; i < x; i++ {
        a += i
    }
    for _, s := range names {
        a++
    }
    for n > 0 {
        n--
    }
    for {
        break
    }
    return a
}
"""


def test_control_flow_of_branches_and_all_for_forms(edges):
    got = edges(LOOPS, "go", CFG)
    assert got == {
        ("func f(a int, n int) int {@2:0", "x := a + n@3:4"),
        ("x := a + n@3:4", "if x > 0 {@4:4"),
        ("if x > 0 {@4:4", "x = x - 1@5:8"),
        ("if x > 0 {@4:4", "if x < 0 {@6:11"),  # else if: the nested if statement
        ("if x < 0 {@6:11", "x = -x@7:8"),
        ("if x < 0 {@6:11", "x = 1@9:8"),
        ("x = x - 1@5:8", "i := 0@11:8"),  # every branch reaches the for_clause initializer
        ("x = -x@7:8", "i := 0@11:8"),
        ("x = 1@9:8", "i := 0@11:8"),
        ("i := 0@11:8", "for i := 0; i < x; i++ {@11:4"),
        ("for i := 0; i < x; i++ {@11:4", "a += i@12:8"),
        ("for i := 0; i < x; i++ {@11:4", "names@14:22"),  # exit: the range expression
        ("a += i@12:8", "i++@11:23"),
        ("i++@11:23", "for i := 0; i < x; i++ {@11:4"),
        ("names@14:22", "for _, s := range names {@14:4"),
        ("for _, s := range names {@14:4", "_, s@14:8"),  # range variables bound entering the body
        ("_, s@14:8", "a++@15:8"),
        ("for _, s := range names {@14:4", "for n > 0 {@17:4"),
        ("a++@15:8", "for _, s := range names {@14:4"),
        ("for n > 0 {@17:4", "n--@18:8"),  # condition-only form
        ("for n > 0 {@17:4", "for {@20:4"),
        ("n--@18:8", "for n > 0 {@17:4"),
        ("for {@20:4", "break@21:8"),  # `for {}`: no exit edge, only the break leaves
        ("break@21:8", "return a@23:4"),
    }


def test_return_after_loops_reaches_loop_writes_and_parameter(edges):
    got = edges(LOOPS, "go", LW)
    # zero-iteration paths: the parameter reaches the return as well as both loop bodies' writes
    assert {d for s, d in got if s == "a@23:11"} == {"a@2:7", "a@12:8", "a@15:8"}
    assert {d for s, d in got if s == "x@11:20"} == {"x@5:8", "x@7:8", "x@9:8"}
    assert {d for s, d in got if s == "i@11:16"} == {"i@11:8", "i@11:23"}
    assert {d for s, d in got if s == "n@17:8"} == {"n@2:14", "n@18:8"}


def test_compound_assignment_and_inc_dec_read_their_target(edges):
    got = edges(LOOPS, "go", LW)
    assert {d for s, d in got if s == "a@12:8"} == {"a@2:7", "a@12:8"}  # `a += i`
    assert {d for s, d in got if s == "a@15:8"} == {"a@2:7", "a@12:8", "a@15:8"}  # `a++`
    assert {d for s, d in got if s == "i@11:23"} == {"i@11:8", "i@11:23"}  # `i++`
    lr = edges(LOOPS, "go", LR)
    assert ("n@18:8", "n@17:8") in lr  # `n--` reads n after the condition did


def test_computed_from(edges):
    got = edges(LOOPS, "go", CF)
    assert got == {
        ("x@3:4", "a@3:9"),
        ("x@3:4", "n@3:13"),
        ("x@5:8", "x@5:12"),
        ("x@7:8", "x@7:13"),
        ("a@12:8", "i@12:13"),
        ("_@14:8", "names@14:22"),
        ("s@14:11", "names@14:22"),
    }


def test_multiple_assignment_and_if_initializer(edges):
    code = """
    package p

    func m(a, b int, m map[string]int, k string) int {
        a, b = b, a
        if v, ok := m[k]; ok {
            return v + a
        }
        return b
    }
    """
    cf = edges(code, "go", CF)
    assert {(s, d) for s, d in cf if s.startswith(("a@3", "b@3"))} == {
        ("a@3:4", "b@3:11"),
        ("a@3:4", "a@3:14"),
        ("b@3:7", "b@3:11"),
        ("b@3:7", "a@3:14"),
    }
    lw = edges(code, "go", LW)
    assert ("b@3:11", "b@2:10") in lw  # the values are read before the targets are written
    assert ("a@3:14", "a@2:7") in lw
    assert ("ok@4:22", "ok@4:10") in lw  # the condition reads the initializer's write
    assert ("v@5:15", "v@4:7") in lw
    assert ("a@5:19", "a@3:4") in lw
    cfg = edges(code, "go", CFG)
    assert ("if v, ok := m[k]; ok {@4:4", "return v + a@5:8") in cfg
    assert ("if v, ok := m[k]; ok {@4:4", "return b@7:4") in cfg


LABELS = """
package p

func g(m [][]int) int {
    total := 0
outer:
    for i := range m {
        for j := 0; j < len(m[i]); j++ {
            if m[i][j] < 0 {
                continue outer
            }
            if m[i][j] > 100 {
                break outer
            }
            total += m[i][j]
        }
    }
    return total
}
"""


def test_labelled_break_and_continue(edges):
    got = edges(LABELS, "go", CFG)
    assert got == {
        ("func g(m [][]int) int {@2:0", "total := 0@3:4"),
        ("total := 0@3:4", "m@5:19"),
        ("m@5:19", "for i := range m {@5:4"),
        ("for i := range m {@5:4", "i@5:8"),
        ("i@5:8", "j := 0@6:12"),
        ("for i := range m {@5:4", "return total@16:4"),
        ("j := 0@6:12", "for j := 0; j < len(m[i]); j++ {@6:8"),
        ("for j := 0; j < len(m[i]); j++ {@6:8", "if m[i][j] < 0 {@7:12"),
        ("for j := 0; j < len(m[i]); j++ {@6:8", "for i := range m {@5:4"),  # inner exit: next i
        ("if m[i][j] < 0 {@7:12", "continue outer@8:16"),
        ("if m[i][j] < 0 {@7:12", "if m[i][j] > 100 {@10:12"),
        ("continue outer@8:16", "for i := range m {@5:4"),
        ("if m[i][j] > 100 {@10:12", "break outer@11:16"),
        ("if m[i][j] > 100 {@10:12", "total += m[i][j]@13:12"),
        ("break outer@11:16", "return total@16:4"),
        ("total += m[i][j]@13:12", "j++@6:35"),
        ("j++@6:35", "for j := 0; j < len(m[i]); j++ {@6:8"),
    }
    lw = edges(LABELS, "go", LW)
    assert {d for s, d in lw if s == "total@16:11"} == {"total@3:4", "total@13:12"}


SWITCH = """
package p

func s(x int, v any, ch chan int) int {
    y := 0
    switch z := x * 2; z {
    case 1, 2:
        y = 1
        fallthrough
    case 3:
        y = 2
    case 4:
    default:
        y = 3
    }
    switch {
    case x > 0:
        y++
    }
    switch v := v.(type) {
    case int:
        y = v
    case string, bool:
        y = len(v)
    }
    select {
    case w := <-ch:
        y = w
    case ch <- y:
    }
    return y
}
"""


def test_switches_fall_through_only_explicitly(edges):
    got = edges(SWITCH, "go", CFG)
    assert {
        ("switch z := x * 2; z {@4:4", "case 1, 2:@5:4"),
        ("switch z := x * 2; z {@4:4", "case 3:@8:4"),
        ("switch z := x * 2; z {@4:4", "case 4:@10:4"),
        ("switch z := x * 2; z {@4:4", "default:@11:4"),
        ("case 1, 2:@5:4", "y = 1@6:8"),
        ("y = 1@6:8", "fallthrough@7:8"),
        ("fallthrough@7:8", "y = 2@9:8"),  # into the next case's body, not its head
        ("case 3:@8:4", "y = 2@9:8"),
        ("y = 2@9:8", "switch {@14:4"),  # no implicit fallthrough
        ("case 4:@10:4", "switch {@14:4"),  # an empty case leaves the switch
        ("default:@11:4", "y = 3@12:8"),
        ("y = 3@12:8", "switch {@14:4"),
        ("switch {@14:4", "case x > 0:@15:4"),
        ("switch {@14:4", "switch v := v.(type) {@18:4"),  # no default: may match nothing
        ("case x > 0:@15:4", "y++@16:8"),
        ("y++@16:8", "switch v := v.(type) {@18:4"),
    } <= got
    # the default case: no edge from the first switch to after it
    assert not any(s.startswith("switch z") and d.startswith("switch {") for s, d in got)


def test_type_switch_and_select(edges):
    got = edges(SWITCH, "go", CFG)
    assert {
        ("switch v := v.(type) {@18:4", "case int:@19:4"),
        ("switch v := v.(type) {@18:4", "case string, bool:@21:4"),
        ("switch v := v.(type) {@18:4", "select {@24:4"),
        ("case int:@19:4", "y = v@20:8"),
        ("y = v@20:8", "select {@24:4"),
        ("case string, bool:@21:4", "y = len(v)@22:8"),
        ("y = len(v)@22:8", "select {@24:4"),
        ("select {@24:4", "case w := <-ch:@25:4"),
        ("select {@24:4", "case ch <- y:@27:4"),
        ("case w := <-ch:@25:4", "y = w@26:8"),
        ("y = w@26:8", "return y@29:4"),
        ("case ch <- y:@27:4", "return y@29:4"),
    } <= got
    assert not any(s == "select {@24:4" and d == "return y@29:4" for s, d in got)  # select blocks
    lw = edges(SWITCH, "go", LW)
    assert ("z@4:23", "z@4:11") in lw  # the switch initializer
    assert ("v@18:16", "v@2:14") in lw  # `v := v.(type)`: the value reads the parameter first
    assert ("v@20:12", "v@18:11") in lw  # every case sees the alias
    assert ("v@22:16", "v@18:11") in lw
    assert ("w@26:12", "w@25:9") in lw  # the received value
    assert {d for s, d in lw if s == "y@29:11"} == {
        "y@3:4",
        "y@9:8",
        "y@12:8",
        "y@16:8",
        "y@20:8",
        "y@22:8",
        "y@26:8",
    }
    cf = edges(SWITCH, "go", CF)
    assert ("v@18:11", "v@18:16") in cf
    assert ("w@25:9", "ch@25:16") in cf


def test_break_in_a_switch_leaves_the_switch(edges):
    code = """
    package p

    func b(xs []int) int {
        n := 0
        for _, x := range xs {
            switch x {
            case 0:
                break
            case 1:
                continue
            }
            n += x
        }
        return n
    }
    """
    got = edges(code, "go", CFG)
    assert ("break@7:12", "n += x@11:8") in got  # Go's break leaves the innermost switch
    assert ("continue@9:12", "for _, x := range xs {@4:4") in got
    assert ("switch x {@5:8", "n += x@11:8") in got  # no default


CALLS = """
package p

type Point struct {
    X, Y int
}

type Shape interface {
    Area() float64
}

type ID int

func add(a, b int) (int, error) {
    return a + b, nil
}

func (p *Point) Move(dx int) (err error) {
    p.X += dx
    s := "abc"
    var t string
    var u = s + t
    defer add(p.X, dx)
    go func(k int) {
        inner := k + dx
        p.Y = inner
    }(dx)
    fn := func() int { return 1 }
    q := Point{X: dx, Y: fn()}
    _ = q
    return err
}

func (l List[T]) Len() int { return len(l) }
"""


def test_declarations_string_literals_and_struct_literal_keys(edges):
    lw = edges(CALLS, "go", LW, name="Point.Move")
    assert ("s@20:12", "s@18:4") in lw  # `s := "abc"` keeps its write
    assert ("t@20:16", "t@19:8") in lw  # `var t string`: a declaration without value writes too
    assert not any(s.startswith(("X@", "Y@")) for s, _ in lw)  # struct literal keys are field names
    assert not any(s.startswith("X@") for s, _ in edges(CALLS, "go", CF, name="Point.Move"))
    cf = edges(CALLS, "go", CF, name="Point.Move")
    assert ("u@20:8", "s@20:12") in cf and ("u@20:8", "t@20:16") in cf
    assert ("q@27:4", "dx@27:18") in cf and ("q@27:4", "fn@27:25") in cf


def test_receiver_and_named_results_are_written_at_entry(edges):
    lw = edges(CALLS, "go", LW, name="Point.Move")
    assert ("p@17:4", "p@16:6") in lw  # `p.X += dx` reads the receiver
    assert ("err@29:11", "err@16:30") in lw  # the named result
    assert ("l@32:40", "l@32:6") in edges(CALLS, "go", LW, name="List.Len")


def test_calls_defer_go_and_closures(edges):
    calls = edges(CALLS, "go", EdgeType.CALLS, unit="file")
    assert calls == {("add(p.X, dx)@21:10", "func add(a, b int) (int, error) {@12:0")}
    formal = edges(CALLS, "go", EdgeType.FORMAL_ARG_NAME, unit="file")
    assert formal == {("p.X@21:14", "a@12:9"), ("dx@21:19", "b@12:12")}
    returns = edges(CALLS, "go", EdgeType.RETURNS_TO, name="Point.Move")
    assert returns == {
        ("return 1@26:23", "func() int { return 1 }@26:10"),  # to the literal, not the method
        ("return err@29:4", "func (p *Point) Move(dx int) (err error) {@16:0"),
    }
    assert ("return a + b, nil@13:4", "func add(a, b int) (int, error) {@12:0") in edges(
        CALLS, "go", EdgeType.RETURNS_TO, name="add"
    )
    cfg = edges(CALLS, "go", CFG, name="Point.Move")
    assert ("defer add(p.X, dx)@21:4", "go func(k int) {@22:4") in cfg
    assert ("go func(k int) {@22:4", "fn := func() int { return 1 }@26:4") in cfg
    assert ("func(k int) {@22:7", "inner := k + dx@23:8") in cfg  # the literal's own scope
    lw = edges(CALLS, "go", LW, name="Point.Move")
    assert ("k@23:17", "k@22:12") in lw
    assert ("inner@24:14", "inner@23:8") in lw
    assert not any(d.startswith(("inner@", "k@")) for s, d in lw if not s.startswith(("inner@", "k@")))
    assert ("dx@25:6", "dx@16:21") in lw  # the literal's argument is read in the method


def test_units_and_qualified_names():
    fn = extract_file(CALLS, "go").graphs
    assert [g.name for g in fn] == ["add", "Point.Move", "Point.Move.<locals>.fn", "List.Len"]  # fn := func
    cls = extract_file(CALLS, "go", unit="class").graphs
    assert [g.name for g in cls] == ["Point", "Shape", "ID"]
    code = CALLS.lstrip("\n")
    (file_graph,) = extract_file(code, "go", unit="file", path="pkg/point.go").graphs
    assert file_graph.name == "point.go" and file_graph.source == code
    (g,) = extract_file("package p\nfunc (T) M() {}\n", "go").graphs
    assert g.name == "T.M"


def test_syntax_error_still_yields_graphs():
    code = "package p\n\nfunc f() {\n    x := \n    x++\n}\n\nfunc g() { return }\n"
    fg = extract_file(code, "go")
    assert fg.has_error
    assert fg.names == ["f", "g"]
    assert fg.unit_has_error == [True, False]
    assert all(g.num_edges > 0 for g in fg.graphs)


def test_deeply_nested_code_does_not_recurse():
    n = 3000
    blocks = "{ " * n + "a = (" + "(" * n + "a" + ")" * n + ")" + " }" * n
    code = f"package p\nfunc f(a int) int {{ {blocks}\nreturn a }}\n"
    (g,) = extract_file(code, "go").graphs
    assert g.num_nodes > 2 * n
    ifs = "if a > 0 { " * n + "a++" + " }" * n
    (g,) = extract_file(f"package p\nfunc f(a int) {{ {ifs} }}\n", "go").graphs
    assert len(g.edges(CFG)) == n + 1  # entry, each if into the next, the innermost into `a++`


def test_table_kinds_exist_in_grammar_and_vocabulary():
    assert_table_matches_grammar("go")


def test_func_literals_bound_to_a_name_are_units(edges):
    code = "package p\nfunc m() {\n\tf := func(a int) int { b := a; return b }\n\tvar g = func() {}\n"
    code += "\tx, h := 1, func() {}\n\tgo func() {}()\n\t_ = x\n}\n"
    graphs = extract_file(code, "go").graphs
    assert [(g.name, g.source) for g in graphs][1:] == [
        ("m.<locals>.f", "func(a int) int { b := a; return b }"),  # :=
        ("m.<locals>.g", "func() {}"),  # var
        ("m.<locals>.h", "func() {}"),  # the name at its position in the list
    ]  # the literal run by `go` is bound to nothing: part of `m` only
    assert edges(code, "go", EdgeType.LAST_WRITE, name="m.<locals>.f") == {
        ("a@2:29", "a@2:11"),
        ("b@2:39", "b@2:24"),
    }
