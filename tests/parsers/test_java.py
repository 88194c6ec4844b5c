"""Golden edges for Java: loops, labelled jumps, both switch forms, try/finally, scopes, calls."""

from __future__ import annotations

from conftest import assert_table_matches_grammar

from parsers import EdgeType, extract_file

LW, LR, CF, CFG = EdgeType.LAST_WRITE, EdgeType.LAST_READ, EdgeType.COMPUTED_FROM, EdgeType.CFG_NEXT

LOOPS = """
class S {
    int f(int a, int n) {
        int x = a + n;
        if (x > 0) {
            x = x - 1;
        } else if (x < 0) {
            x = -x;
        } else {
            x = 1;
        }
        for (int i = 0; i < x; i++) {
            a += i;
        }
        for (String s : names) {
            a++;
        }
        while (n > 0) {
            n--;
        }
        do {
            n++;
        } while (n < 3);
        return a;
    }
}
"""


def test_control_flow_of_branches_and_loops(edges):
    got = edges(LOOPS, "java", CFG)
    assert got == {
        ("int f(int a, int n) {@1:4", "int x = a + n;@2:8"),
        ("int x = a + n;@2:8", "if (x > 0) {@3:8"),
        ("if (x > 0) {@3:8", "x = x - 1;@4:12"),
        ("if (x > 0) {@3:8", "if (x < 0) {@5:15"),  # else if: the nested if statement
        ("if (x < 0) {@5:15", "x = -x;@6:12"),
        ("if (x < 0) {@5:15", "x = 1;@8:12"),
        ("x = x - 1;@4:12", "int i = 0;@10:13"),  # every branch reaches the for initialiser
        ("x = -x;@6:12", "int i = 0;@10:13"),
        ("x = 1;@8:12", "int i = 0;@10:13"),
        ("int i = 0;@10:13", "for (int i = 0; i < x; i++) {@10:8"),
        ("for (int i = 0; i < x; i++) {@10:8", "a += i;@11:12"),
        ("for (int i = 0; i < x; i++) {@10:8", "names@13:24"),  # exit: the iterable of the next loop
        ("a += i;@11:12", "i++@10:31"),
        ("i++@10:31", "for (int i = 0; i < x; i++) {@10:8"),  # update, then the condition again
        ("names@13:24", "for (String s : names) {@13:8"),
        ("for (String s : names) {@13:8", "s@13:20"),  # the variable, bound entering the body
        ("s@13:20", "a++;@14:12"),
        ("for (String s : names) {@13:8", "while (n > 0) {@16:8"),
        ("a++;@14:12", "for (String s : names) {@13:8"),
        ("while (n > 0) {@16:8", "n--;@17:12"),
        ("while (n > 0) {@16:8", "n++;@20:12"),  # exit: straight into the do body
        ("n--;@17:12", "while (n > 0) {@16:8"),
        ("n++;@20:12", "do {@19:8"),
        ("do {@19:8", "n++;@20:12"),  # post-tested: back into the body
        ("do {@19:8", "return a;@22:8"),
    }


def test_return_after_loops_reaches_loop_writes_and_parameter(edges):
    got = edges(LOOPS, "java", LW)
    # zero-iteration paths: the parameter reaches the return as well as both loop bodies' writes
    assert {d for s, d in got if s == "a@22:15"} == {"a@1:14", "a@11:12", "a@14:12"}
    assert {d for s, d in got if s == "x@10:28"} == {"x@4:12", "x@6:12", "x@8:12"}
    assert {d for s, d in got if s == "i@10:24"} == {"i@10:17", "i@10:31"}
    assert {d for s, d in got if s == "n@21:17"} == {"n@20:12"}  # the do condition after its body


def test_compound_assignment_and_increment_read_their_target(edges):
    got = edges(LOOPS, "java", LW)
    assert ("a@11:12", "a@1:14") in got  # first iteration: the parameter
    assert ("a@11:12", "a@11:12") in got  # later iterations: itself, around the back edge
    assert ("i@11:17", "i@10:17") in got
    assert ("i@11:17", "i@10:31") in got  # `i++` writes i
    assert {d for s, d in got if s == "n@17:12"} == {"n@1:21", "n@17:12"}  # `n--` reads n


def test_computed_from(edges):
    assert edges(LOOPS, "java", CF) == {
        ("x@2:12", "a@2:16"),
        ("x@2:12", "n@2:20"),
        ("x@4:12", "x@4:16"),
        ("x@6:12", "x@6:17"),
        ("a@11:12", "i@11:17"),
        ("s@13:20", "names@13:24"),
    }


def test_labelled_break_and_continue(edges):
    code = """
    class L {
        int g(int[][] m) {
            int hits = 0;
            outer:
            for (int[] row : m) {
                for (int v : row) {
                    if (v < 0) continue outer;
                    if (v == 0) break outer;
                    if (v > 9) break;
                    hits += v;
                }
            }
            return hits;
        }
    }
    """
    cfg = edges(code, "java", CFG)
    assert ("continue outer;@6:27", "for (int[] row : m) {@4:8") in cfg
    assert ("break outer;@7:28", "return hits;@12:8") in cfg
    assert ("break;@8:27", "for (int[] row : m) {@4:8") in cfg  # leaves the inner loop only
    assert ("int hits = 0;@2:8", "m@4:25") in cfg  # the labelled loop starts at its iterable
    lw = edges(code, "java", LW)
    assert {d for s, d in lw if s == "hits@12:15"} == {"hits@2:12", "hits@9:16"}
    assert not any("outer" in s or "outer" in d for s, d in lw)  # labels are not variables


SWITCH = """
class W {
    int sw(int k) {
        int r = 0;
        switch (k) {
            case 1:
                r = 1;
            case 2:
            case 3:
                r += 2;
                break;
            default:
                r = -1;
        }
        switch (k) {
            case 4 -> r = 4;
            case 5 -> {
                r = 5;
            }
        }
        return r;
    }
}
"""


def test_switch_groups_fall_through_and_rules_do_not(edges):
    assert edges(SWITCH, "java", CFG) == {
        ("int sw(int k) {@1:4", "int r = 0;@2:8"),
        ("int r = 0;@2:8", "switch (k) {@3:8"),
        # a default label: no edge from the switch past its cases
        ("switch (k) {@3:8", "case 1:@4:12"),
        ("switch (k) {@3:8", "case 2:@6:12"),
        ("switch (k) {@3:8", "case 3:@7:12"),
        ("switch (k) {@3:8", "default:@10:12"),
        ("case 1:@4:12", "r = 1;@5:16"),
        ("r = 1;@5:16", "r += 2;@8:16"),  # falls through into case 3's statements
        ("case 2:@6:12", "r += 2;@8:16"),  # an empty group falls through too
        ("case 3:@7:12", "r += 2;@8:16"),
        ("r += 2;@8:16", "break;@9:16"),
        ("break;@9:16", "switch (k) {@13:8"),
        ("default:@10:12", "r = -1;@11:16"),
        ("r = -1;@11:16", "switch (k) {@13:8"),
        # arrow rules: no fallthrough; no default, so the switch may match nothing
        ("switch (k) {@13:8", "case 4 -> r = 4;@14:12"),
        ("switch (k) {@13:8", "case 5 -> {@15:12"),
        ("switch (k) {@13:8", "return r;@19:8"),
        ("case 4 -> r = 4;@14:12", "r = 4;@14:22"),
        ("r = 4;@14:22", "return r;@19:8"),
        ("case 5 -> {@15:12", "r = 5;@16:16"),
        ("r = 5;@16:16", "return r;@19:8"),
    }
    lw = edges(SWITCH, "java", LW)
    assert {d for s, d in lw if s == "r@8:16"} == {"r@2:12", "r@5:16"}
    assert {d for s, d in lw if s == "r@19:15"} == {"r@8:16", "r@11:16", "r@14:22", "r@16:16"}


def test_switch_patterns_bind_variables(edges):
    code = """
    class P {
        void p(Object o) {
            switch (o) {
                case Circle c when c.r > 0 -> use(c);
                default -> {}
            }
            if (o instanceof String s) use(s);
            if (o instanceof Point(int x, var y)) use(x, y);
            int v = o == null ? x : s;
        }
    }
    """
    lw = edges(code, "java", LW)
    assert ("c@3:31", "c@3:24") in lw
    assert ("c@3:46", "c@3:24") in lw
    assert ("s@6:39", "s@6:32") in lw
    assert ("x@7:50", "x@7:35") in lw  # record pattern components bind too
    assert ("y@7:53", "y@7:42") in lw
    assert not any(s.startswith("Point@") for s, _ in lw)  # the record type is not a variable
    cf = edges(code, "java", CF)
    assert ("s@6:32", "o@6:12") in cf
    assert {d for s, d in cf if s == "v@8:12"} == {"o@8:16", "x@8:28", "s@8:32"}  # a ternary reads all


TRY = """
class T {
    String t(String p) {
        String v = "none";
        try (Reader in = open(p)) {
            v = in.read();
            if (v == null) throw new IOException();
        } catch (IOException e) {
            v = e.getMessage();
        } finally {
            close(p);
        }
        return v;
    }

    int r() {
        try {
            return 1;
        } finally {
            done();
        }
    }
}
"""


def test_try_catch_finally_with_resources(edges):
    cfg = edges(TRY, "java", CFG, name="T.t")
    assert cfg == {
        ("String t(String p) {@1:4", 'String v = "none";@2:8'),
        ('String v = "none";@2:8', "try (Reader in = open(p)) {@3:8"),
        ("try (Reader in = open(p)) {@3:8", "v = in.read();@4:12"),
        ("try (Reader in = open(p)) {@3:8", "catch (IOException e) {@6:10"),  # may raise before the body
        ("try (Reader in = open(p)) {@3:8", "finally {@8:10"),  # ... uncaught: into the finally
        ("v = in.read();@4:12", "if (v == null) throw new IOException();@5:12"),
        ("v = in.read();@4:12", "catch (IOException e) {@6:10"),  # may raise
        ("v = in.read();@4:12", "finally {@8:10"),  # an exception no handler takes
        ("if (v == null) throw new IOException();@5:12", "throw new IOException();@5:27"),
        ("if (v == null) throw new IOException();@5:12", "catch (IOException e) {@6:10"),
        ("if (v == null) throw new IOException();@5:12", "finally {@8:10"),
        ("throw new IOException();@5:27", "catch (IOException e) {@6:10"),
        ("throw new IOException();@5:27", "finally {@8:10"),
        ("catch (IOException e) {@6:10", "v = e.getMessage();@7:12"),
        ("catch (IOException e) {@6:10", "finally {@8:10"),  # escaping a handler: the finally
        ("v = e.getMessage();@7:12", "finally {@8:10"),
        ("finally {@8:10", "close(p);@9:12"),
        ("close(p);@9:12", "return v;@11:8"),
    }
    lw = edges(TRY, "java", LW, name="T.t")
    assert ("v@4:12", "v@2:15") in lw  # a string-literal initialiser is an ordinary write
    assert ("in@4:16", "in@3:20") in lw  # resources are written before the body
    assert ("p@3:30", "p@1:20") in lw
    assert ("e@7:16", "e@6:29") in lw
    assert ("v@7:12", "v@2:15") in lw  # the handler may run before the body wrote v
    # the finally's end merges normal and exceptional completion, so the pre-try value (through
    # try -> finally) reaches the return too
    assert {d for s, d in lw if s == "v@11:15"} == {"v@2:15", "v@4:12", "v@7:12"}
    cf = edges(TRY, "java", CF, name="T.t")
    assert cf == {("in@3:20", "p@3:30"), ("v@4:12", "in@4:16"), ("v@7:12", "e@7:16")}


def test_return_inside_try_goes_through_finally(edges):
    cfg = edges(TRY, "java", CFG, name="T.r")
    assert cfg == {
        ("int r() {@14:4", "try {@15:8"),
        ("try {@15:8", "return 1;@16:12"),
        ("try {@15:8", "finally {@17:10"),  # may raise before the body: into the finally
        ("return 1;@16:12", "finally {@17:10"),
        ("finally {@17:10", "done();@18:12"),
    }
    returns = edges(TRY, "java", EdgeType.RETURNS_TO, name="T.r")
    assert returns == {("return 1;@16:12", "int r() {@14:4")}


def test_declarations_fields_and_string_literals(edges):
    code = """
    class G {
        void g(int y) {
            this.name = "abc";
            String s = "x" + y;
            int z;
            z = y + this.name.length();
            use(s, z);
        }
    }
    """
    lw = edges(code, "java", LW)
    assert lw == {
        ("y@3:25", "y@1:15"),
        ("y@5:12", "y@1:15"),
        ("z@5:8", "z@4:12"),  # a declaration without initialiser declares z
        ("s@6:12", "s@3:15"),
        ("z@6:15", "z@5:8"),
    }  # field and method names (name, length, use) are not variables
    assert edges(code, "java", LR) == {("y@5:12", "y@3:25")}
    assert edges(code, "java", CF) == {("s@3:15", "y@3:25"), ("z@5:8", "y@5:12")}


CALLS = """
class K {
    int m(int a, int b) {
        return a + b;
    }

    int n(List<Integer> xs) {
        int total = m(1, 2) + this.m(3, 4) + other.m(5, 6);
        int k = 7;
        xs.forEach(x -> { int k2 = x + k; });
        Runnable r = new Runnable() {
            int hidden = 1;
            public void run() { hidden = total; }
        };
        return total + k;
    }
}
"""


def test_calls_resolve_by_name_and_through_this(edges):
    calls = edges(CALLS, "java", EdgeType.CALLS, unit="class")
    # `other.m(5, 6)` has another receiver: not resolved
    assert calls == {
        ("m(1, 2)@6:20", "int m(int a, int b) {@1:4"),
        ("this.m(3, 4)@6:30", "int m(int a, int b) {@1:4"),
    }
    formal = edges(CALLS, "java", EdgeType.FORMAL_ARG_NAME, unit="class")
    assert formal == {("1@6:22", "a@1:14"), ("2@6:25", "b@1:21"), ("3@6:37", "a@1:14"), ("4@6:40", "b@1:21")}
    returns = edges(CALLS, "java", EdgeType.RETURNS_TO, unit="class")
    assert returns == {
        ("return a + b;@2:8", "int m(int a, int b) {@1:4"),
        ("return total + k;@13:8", "int n(List<Integer> xs) {@5:4"),
    }


def test_lambdas_and_anonymous_classes_do_not_leak(edges):
    lw = edges(CALLS, "java", LW, name="K.n")
    assert lw == {
        ("xs@8:8", "xs@5:24"),
        ("x@8:35", "x@8:19"),  # inside the lambda: its own parameter
        ("total@13:15", "total@6:12"),
        ("k@13:23", "k@7:12"),
    }  # nothing reaches `k2` or `hidden` from outside their scopes
    cfg = edges(CALLS, "java", CFG, name="K.n")
    assert ("xs.forEach(x -> { int k2 = x + k; });@8:8", "Runnable r = new Runnable() {@9:8") in cfg
    assert ("x -> { int k2 = x + k; }@8:19", "int k2 = x + k;@8:26") in cfg  # the lambda's own flow
    assert ("{@9:36", "int hidden = 1;@10:12") in cfg  # the anonymous class body's own flow
    assert ("Runnable r = new Runnable() {@9:8", "return total + k;@13:8") in cfg
    cf = edges(CALLS, "java", CF, name="K.n")
    assert ("k2@8:30", "x@8:35") in cf


NAMES = """
package p;

import java.util.List;

public class Outer {
    static int count;
    int id = count + 1;

    static {
        count = 10;
    }

    {
        id = id * 2;
    }

    Outer(int id) {
        this.id = id;
    }

    static class Inner {
        void method() {
            class Local {
                void deep() {}
            }
        }
    }

    interface Shape { double area(); }

    enum Color { RED, GREEN; Color next() { return RED; } }

    record Point(int x, int y) {
        Point {
            assert x >= 0;
        }
    }
}
"""


def test_units_and_qualified_names():
    fn = extract_file(NAMES, "java").graphs
    assert [g.name for g in fn] == [
        "Outer.Outer",
        "Outer.Inner.method",
        "Outer.Inner.method.<locals>.Local.deep",
        "Outer.Shape.area",
        "Outer.Color.next",
        "Outer.Point.Point",
    ]
    cls = extract_file(NAMES, "java", unit="class").graphs
    assert [g.name for g in cls] == [
        "Outer",
        "Outer.Inner",
        "Outer.Inner.method.<locals>.Local",
        "Outer.Shape",
        "Outer.Color",
        "Outer.Point",
    ]
    code = NAMES.lstrip("\n")
    (file_graph,) = extract_file(code, "java", unit="file", path="src/p/Outer.java").graphs
    assert file_graph.name == "Outer.java" and file_graph.source == code


def test_initializer_blocks_run_in_the_class_body(edges):
    cfg = edges(NAMES, "java", CFG, unit="class", name="Outer")
    assert {
        ("{@4:19", "static int count;@5:4"),
        ("static int count;@5:4", "int id = count + 1;@6:4"),
        ("int id = count + 1;@6:4", "static {@8:4"),
        ("static {@8:4", "count = 10;@9:8"),
        ("count = 10;@9:8", "id = id * 2;@13:8"),
        ("Outer(int id) {@16:4", "this.id = id;@17:8"),
    } <= cfg
    lw = edges(NAMES, "java", LW, unit="class", name="Outer")
    assert ("id@13:13", "id@6:8") in lw
    assert ("count@9:8", "count@5:15") in lw
    assert ("id@17:18", "id@16:14") in lw  # the constructor parameter, not the field
    assert not any(d == "id@6:8" and s.endswith("@17:18") for s, d in lw)


def test_multiple_init_and_update_expressions(edges):
    code = """
    class M {
        void m(int n) {
            int i, j;
            for (i = 0, j = n; i < j; i++, j--) {
                swap(i, j);
            }
        }
    }
    """
    cfg = edges(code, "java", CFG)
    assert ("int i, j;@2:8", "i = 0@3:13") in cfg  # the init point, anchored at its first part
    assert ("swap(i, j);@4:12", "i++@3:34") in cfg
    lw = edges(code, "java", LW)
    assert ("j@3:31", "j@3:20") in lw  # second init part
    assert ("j@3:31", "j@3:39") in lw  # second update part
    assert ("j@4:20", "j@3:39") in lw


def test_syntax_error_still_yields_graphs():
    code = "class A {\n  void f() {\n    int x = ;\n    x++;\n  }\n  void g() { return; }\n}\n"
    fg = extract_file(code, "java")
    assert fg.has_error
    assert fg.names == ["A.f", "A.g"]
    assert fg.unit_has_error == [True, False]
    assert all(g.num_edges > 0 for g in fg.graphs)


def test_deeply_nested_code_does_not_recurse():
    n = 3000
    blocks = "{ " * n + "a = (" + "(" * n + "a" + ")" * n + ");" + " }" * n
    code = f"class D {{ int f(int a) {{ {blocks} return a; }} }}"
    (g,) = extract_file(code, "java").graphs
    assert g.num_nodes > 2 * n
    ifs = "if (a > 0) { " * n + "a++;" + " }" * n
    (g,) = extract_file(f"class D {{ void f(int a) {{ {ifs} }} }}", "java").graphs
    assert len(g.edges(CFG)) == n + 1  # entry, each if into the next, the innermost into `a++`


def test_table_kinds_exist_in_grammar_and_vocabulary():
    assert_table_matches_grammar("java")
