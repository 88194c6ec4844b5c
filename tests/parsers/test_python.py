"""Golden edges for Python, including the cases GraphCodeBERT's DFG gets wrong."""

from __future__ import annotations

import textwrap

from parsers import EdgeType, extract_file

LW, LR, CF, CFG = EdgeType.LAST_WRITE, EdgeType.LAST_READ, EdgeType.COMPUTED_FROM, EdgeType.CFG_NEXT

SNIPPET = """
def f(a, b=1):
    x = a + b
    if x > 0:
        x = x - 1
    for i in range(x):
        a += i
    return a
"""


def test_return_after_loop_reaches_loop_write_and_parameter(edges):
    # GraphCodeBERT loses the zero-iteration path back to the parameter
    got = edges(SNIPPET, "python", LW)
    assert ("a@6:11", "a@0:6") in got
    assert ("a@6:11", "a@5:8") in got


def test_augmented_assignment_reads_its_target(edges):
    got = edges(SNIPPET, "python", LW)
    assert ("a@5:8", "a@0:6") in got  # first iteration: the parameter
    assert ("a@5:8", "a@5:8") in got  # later iterations: itself, around the back edge
    assert ("i@5:13", "i@4:8") in got


def test_branch_merge_reaches_both_writes(edges):
    got = edges(SNIPPET, "python", LW)
    assert {d for s, d in got if s == "x@4:19"} == {"x@1:4", "x@3:8"}


def test_computed_from(edges):
    got = edges(SNIPPET, "python", CF)
    assert got == {
        ("x@1:4", "a@1:8"),
        ("x@1:4", "b@1:12"),
        ("x@3:8", "x@3:12"),
        ("i@4:8", "range@4:13"),
        ("i@4:8", "x@4:19"),
        ("a@5:8", "i@5:13"),
    }


def test_control_flow_of_if_and_for(edges):
    got = edges(SNIPPET, "python", CFG)
    assert got == {
        ("def f(a, b=1):@0:0", "x = a + b@1:4"),
        ("x = a + b@1:4", "if x > 0:@2:4"),
        ("if x > 0:@2:4", "x = x - 1@3:8"),
        ("if x > 0:@2:4", "range(x)@4:13"),  # no else: straight to the loop's iterable
        ("x = x - 1@3:8", "range(x)@4:13"),
        ("range(x)@4:13", "for i in range(x):@4:4"),
        ("for i in range(x):@4:4", "i@4:8"),  # the target is bound on the way into the body
        ("i@4:8", "a += i@5:8"),
        ("for i in range(x):@4:4", "return a@6:4"),
        ("a += i@5:8", "for i in range(x):@4:4"),  # back edge
    }


def test_string_literal_assignment_keeps_its_edges(edges):
    # GraphCodeBERT's DFG silently becomes empty on `self.x = "abc"` with current grammars
    code = """
    def g(self, y):
        self.x = "abc"
        z = y + len(self.x)
        return z
    """
    got = edges(code, "python", LW)
    assert ("self@1:4", "self@0:6") in got
    assert ("self@2:16", "self@0:6") in got
    assert ("z@3:11", "z@2:4") in got


def test_last_read(edges):
    code = """
    def h(a):
        b = a
        c = a
        a = 1
        return a + b
    """
    got = edges(code, "python", LR)
    assert ("a@2:8", "a@1:8") in got
    assert all(s != "a@4:11" or d == "a@2:8" for s, d in got)


def test_while_break_continue_else(edges):
    code = """
    def w(n):
        while n:
            if n > 5:
                break
            n -= 1
            continue
        else:
            n = 0
        return n
    """
    cfg = edges(code, "python", CFG)
    assert ("break@3:12", "return n@8:4") in cfg  # break skips the else clause
    assert ("continue@5:8", "while n:@1:4") in cfg
    assert ("while n:@1:4", "else:@6:4") in cfg
    lw = edges(code, "python", LW)
    assert {d for s, d in lw if s == "n@8:11"} == {"n@0:6", "n@4:8", "n@7:8"}


def test_try_except_finally(edges):
    code = """
    def t(p):
        try:
            v = load(p)
        except OSError as e:
            v = str(e)
        finally:
            close(p)
        return v
    """
    cfg = edges(code, "python", CFG)
    assert ("v = load(p)@2:8", "except OSError as e:@3:4") in cfg  # may raise
    assert ("v = str(e)@4:8", "finally:@5:4") in cfg
    assert ("close(p)@6:8", "return v@7:4") in cfg
    lw = edges(code, "python", LW)
    assert {d for s, d in lw if s == "v@7:11"} == {"v@2:8", "v@4:8"}
    assert ("e@4:16", "e@3:22") in lw


def test_return_inside_try_goes_through_finally(edges):
    code = """
    def r():
        try:
            return 1
        finally:
            done()
    """
    cfg = edges(code, "python", CFG)
    assert ("return 1@2:8", "finally:@3:4") in cfg


def test_with_and_comprehension_targets(edges):
    code = """
    def c(paths):
        with open(paths[0]) as fh:
            data = fh.read()
        squares = [x * x for x in data if x]
        return squares, x
    """
    cf = edges(code, "python", CF)
    assert ("fh@1:27", "open@1:9") in cf
    assert ("fh@1:27", "paths@1:14") in cf
    assert ("x@3:25", "data@3:30") in cf
    lw = edges(code, "python", LW)
    assert ("x@3:15", "x@3:25") in lw  # element reads the comprehension target
    assert ("x@3:38", "x@3:25") in lw
    assert not any(s == "x@4:20" for s, _ in lw)  # the comprehension variable does not leak


def test_nested_function_is_its_own_scope(edges):
    code = """
    def outer(a):
        def inner(b):
            return b
        return inner(a)
    """
    lw = edges(code, "python", LW, name="outer")
    assert ("inner@3:11", "inner@1:8") in lw
    assert ("b@2:15", "b@1:14") in lw
    calls = edges(code, "python", EdgeType.CALLS, name="outer")
    assert calls == {("inner(a)@3:11", "def inner(b):@1:4")}
    formal = edges(code, "python", EdgeType.FORMAL_ARG_NAME, name="outer")
    assert formal == {("a@3:17", "b@1:14")}


def test_self_method_calls_and_keyword_arguments(edges):
    code = """
    class K:
        def m(self, a, b=0):
            return a
        def n(self):
            return self.m(1, b=2)
    """
    formal = edges(code, "python", EdgeType.FORMAL_ARG_NAME, unit="class")
    assert formal == {("1@4:22", "a@1:16"), ("b=2@4:25", "b@1:19")}
    returns = edges(code, "python", EdgeType.RETURNS_TO, unit="class")
    assert ("return a@2:8", "def m(self, a, b=0):@1:4") in returns


def test_units_and_names():
    code = b"class A:\n    def f(self):\n        def g():\n            pass\n"
    fn = extract_file(code, "python").graphs
    assert [g.name for g in fn] == ["A.f", "A.f.<locals>.g"]
    assert [g.name for g in extract_file(code, "python", unit="class").graphs] == ["A"]
    (file_graph,) = extract_file(code, "python", unit="file", path="pkg/mod.py").graphs
    assert file_graph.name == "mod.py" and file_graph.source == code.decode()


def test_node_spans_and_kinds():
    (g,) = extract_file("def f(x):\n    return x\n", "python").graphs
    assert g.node_types[0] == "function_definition"
    assert g.node_text(0) == g.source
    ids = [i for i, t in enumerate(g.node_types) if t == "identifier"]
    assert [g.node_text(i) for i in ids] == ["f", "x", "x"]
    assert (g.node_start_line[ids[2]], g.node_start_col[ids[2]]) == (1, 11)
    # CHILD edges form a tree rooted at node 0
    parents = {}
    for s, d in g.edges(EdgeType.CHILD):
        assert d not in parents
        parents[d] = s
    assert set(parents) == set(range(1, g.num_nodes))


def test_match_statement_captures(edges):
    code = """
    def m(cmd):
        match cmd:
            case [x, y]:
                return x + y
            case _:
                return 0
    """
    lw = edges(code, "python", LW)
    assert ("x@3:19", "x@2:14") in lw
    cfg = edges(code, "python", CFG)
    assert ("match cmd:@1:4", "case [x, y]:@2:8") in cfg
    assert ("match cmd:@1:4", "case _:@4:8") in cfg


def test_zero_iteration_loop_keeps_the_target_s_previous_value(edges):
    code = """
    def z(xs):
        x = None
        for x in xs:
            pass
        return x
    """
    lw = edges(code, "python", LW)
    assert {d for s, d in lw if s == "x@4:11"} == {"x@1:4", "x@2:8"}


def test_comprehension_element_reads_its_target_and_first_iterable_is_outside(edges):
    lw = edges("def f(xs):\n    return [v for v in xs]\n", "python", LW)
    assert ("v@1:12", "v@1:18") in lw
    lw = edges("def f(y):\n    return [y for y in y]\n", "python", LW)
    assert ("y@1:23", "y@0:6") in lw  # the first iterable is evaluated in the function
    assert ("y@1:12", "y@1:18") in lw


def test_definition_headers_are_read_by_the_enclosing_scope(edges):
    code = """
    def f(func, y):
        @wraps(func)
        def inner(d=y, *, k: y = y) -> y:
            return d
        return inner
    """
    lw = edges(code, "python", LW, name="f")
    assert ("func@1:11", "func@0:6") in lw  # decorators are read
    for col in (16, 25, 29, 35):  # default, annotation, default, return annotation
        assert (f"y@2:{col}", "y@0:12") in lw
    inner = edges(code, "python", LW, name="f.<locals>.inner")
    assert ("d@3:15", "d@2:14") in inner
    assert not any(s.startswith("y@") for s, _ in inner)


def test_postponed_annotations_are_not_read(edges):
    # PEP 563: under ``from __future__ import annotations`` no annotation is evaluated; defaults still are
    body = """
    T = int
    x: T = 1
    def f(a: T, b: T = T) -> T:
        return a
    class C:
        z: list[T] = []
    """
    plain = edges(body, "python", LW, unit="file")
    assert {s for s, d in plain if d == "T@0:0"} == {"T@1:3", "T@2:9", "T@2:15", "T@2:19", "T@2:25", "T@5:12"}
    body = textwrap.dedent(body).lstrip("\n")
    postponed = edges("from __future__ import division, annotations\n" + body, "python", LW, unit="file")
    assert {s for s, d in postponed if d == "T@1:0"} == {"T@3:19"}
    # the feature must be the one imported: another future import changes nothing
    other = edges("from __future__ import division\n" + body, "python", LW, unit="file")
    assert {s for s, d in other if d == "T@1:0"} == {"T@2:3", "T@3:9", "T@3:15", "T@3:19", "T@3:25", "T@6:12"}


def test_import_binds_the_first_name_and_relative_imports_read_nothing(edges):
    code = """
    def f(path, mod):
        import os.path
        from .mod import x
        return path, mod, x
    """
    lw = edges(code, "python", LW)
    assert ("path@3:11", "path@0:6") in lw
    assert ("mod@3:17", "mod@0:12") in lw
    assert ("x@3:22", "x@2:21") in lw


def test_bare_annotation_and_keyword_patterns_write_nothing(edges):
    code = """
    def f(p):
        x = 1
        x: int
        match p:
            case Point(x=px):
                return x, px
    """
    lw = edges(code, "python", LW)
    assert {d for s, d in lw if s == "x@5:19"} == {"x@1:4"}
    assert ("px@5:22", "px@4:21") in lw


def test_class_name_is_bound_after_its_body(edges):
    code = """
    class C:
        def C(self):
            pass
        y = C
    z = C
    """
    lw = edges(code, "python", LW, unit="file")
    assert ("C@3:8", "C@1:8") in lw  # inside the body, C is still the method
    assert ("C@4:4", "C@0:6") in lw  # after it, the class


def test_exceptions_reach_finally_and_handlers_see_the_state_before_the_body(edges):
    code = """
    def f(t):
        g = False
        try:
            g = wait(t)
            return g
        finally:
            release(g)
    """
    lw = edges(code, "python", LW)
    assert {d for s, d in lw if s == "g@6:16"} == {"g@1:4", "g@3:8"}
    code = """
    def h():
        x = None
        try:
            x = compute()
        except ValueError:
            return x
    """
    lw = edges(code, "python", LW)
    assert {d for s, d in lw if s == "x@5:15"} == {"x@1:4", "x@3:8"}


def succ(cfg: set[tuple[str, str]], src: str) -> set[str]:
    return {d for s, d in cfg if s == src}


def test_break_in_a_loop_else_leaves_the_enclosing_loop(edges):
    code = """
    def f(xs):
        y = 0
        while cond():
            for x in xs:
                if p(x):
                    break
            else:
                y = done()
                break
            y = 1
        return y
    """
    cfg = edges(code, "python", CFG)
    assert succ(cfg, "break@8:12") == {"return y@10:4"}  # leaves the while: y = 1 is skipped
    assert succ(cfg, "break@5:16") == {"y = 1@9:8"}  # the for's own break skips its else
    lw = edges(code, "python", LW)
    assert {d for s, d in lw if s == "y@10:11"} == {"y@1:4", "y@7:12", "y@9:8"}
    code = """
    def k(xs):
        for x in xs:
            while x:
                x = step(x)
            else:
                break
        return x
    """
    assert succ(edges(code, "python", CFG), "break@5:12") == {"return x@6:4"}  # a while's else too


def test_continue_in_a_loop_else_goes_to_the_enclosing_loop_s_head(edges):
    code = """
    def f(xs, ys, n):
        for x in xs:
            for y in ys:
                pass
            else:
                continue
            break
        while n:
            while n > 1:
                n -= 2
            else:
                continue
        return x
    """
    cfg = edges(code, "python", CFG)
    assert succ(cfg, "continue@5:12") == {"for x in xs:@1:4"}  # for-else in a for
    assert succ(cfg, "break@6:8") == {"while n:@7:4"}
    assert succ(cfg, "continue@11:12") == {"while n:@7:4"}  # while-else in a while


def test_loop_else_keeps_returns_raises_and_the_jumps_of_loops_inside_it(edges):
    code = """
    def h(xs, ys):
        for x in xs:
            for y in ys:
                pass
            else:
                for z in ys:
                    if z:
                        break
                    continue
                else:
                    raise ValueError(x)
                return z
        return None
    """
    cfg = edges(code, "python", CFG)
    assert succ(cfg, "break@7:20") == {"return z@11:12"}  # a loop inside the else: its own break
    assert succ(cfg, "continue@8:16") == {"for z in ys:@5:12"}
    assert succ(cfg, "else:@9:12") == {"raise ValueError(x)@10:16"}
    assert succ(cfg, "raise ValueError(x)@10:16") == set()  # leaves the function, no loop head
    assert succ(cfg, "return z@11:12") == set()
    assert succ(cfg, "for x in xs:@1:4") == {"x@1:8", "return None@12:4"}


def test_break_in_a_loop_else_detours_through_the_enclosing_finally(edges):
    code = """
    def g(xs, n):
        while n:
            try:
                for x in xs:
                    pass
                else:
                    break
            finally:
                n = n - 1
            n = x
        return n
    """
    cfg = edges(code, "python", CFG)
    assert succ(cfg, "break@6:16") == {"finally:@7:8"}
    assert succ(cfg, "n = n - 1@8:12") == {"n = x@9:8", "return n@10:4"}  # the break leaves the while
    lw = edges(code, "python", LW)
    assert {d for s, d in lw if s == "n@10:11"} == {"n@0:10", "n@8:12", "n@9:8"}
