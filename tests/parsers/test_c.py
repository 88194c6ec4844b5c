"""Golden edges for C: branches, loops, fallthrough switches, goto, the preprocessor, SEH, declarators."""

from __future__ import annotations

from conftest import assert_table_matches_grammar

from parsers import EdgeType, extract_file
from parsers.languages import extension_map

LW, LR, CF, CFG = EdgeType.LAST_WRITE, EdgeType.LAST_READ, EdgeType.COMPUTED_FROM, EdgeType.CFG_NEXT

LOOPS = """
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
    while (n > 0) {
        n--;
    }
    do {
        ++n;
    } while (n < 3);
    return a;
}
"""


def test_control_flow_of_branches_and_loops(edges):
    got = edges(LOOPS, "c", CFG)
    assert got == {
        ("int f(int a, int n) {@0:0", "int x = a + n;@1:4"),
        ("int x = a + n;@1:4", "if (x > 0) {@2:4"),
        ("if (x > 0) {@2:4", "x = x - 1;@3:8"),
        ("if (x > 0) {@2:4", "if (x < 0) {@4:11"),  # else if: the if inside the else clause
        ("if (x < 0) {@4:11", "x = -x;@5:8"),
        ("if (x < 0) {@4:11", "x = 1;@7:8"),
        ("x = x - 1;@3:8", "int i = 0;@9:9"),  # every branch reaches the for initialiser
        ("x = -x;@5:8", "int i = 0;@9:9"),
        ("x = 1;@7:8", "int i = 0;@9:9"),
        ("int i = 0;@9:9", "for (int i = 0; i < x; i++) {@9:4"),
        ("for (int i = 0; i < x; i++) {@9:4", "a += i;@10:8"),
        ("for (int i = 0; i < x; i++) {@9:4", "while (n > 0) {@12:4"),
        ("a += i;@10:8", "i++@9:27"),
        ("i++@9:27", "for (int i = 0; i < x; i++) {@9:4"),  # update, then the condition again
        ("while (n > 0) {@12:4", "n--;@13:8"),
        ("while (n > 0) {@12:4", "++n;@16:8"),  # exit: straight into the do body
        ("n--;@13:8", "while (n > 0) {@12:4"),
        ("++n;@16:8", "do {@15:4"),
        ("do {@15:4", "++n;@16:8"),  # post-tested: back into the body
        ("do {@15:4", "return a;@18:4"),
    }


def test_return_after_loops_reaches_loop_writes_and_parameter(edges):
    got = edges(LOOPS, "c", LW)
    # zero-iteration path: the parameter reaches the return as well as the loop body's write
    assert {d for s, d in got if s == "a@18:11"} == {"a@0:10", "a@10:8"}
    assert {d for s, d in got if s == "x@9:24"} == {"x@3:8", "x@5:8", "x@7:8"}
    assert {d for s, d in got if s == "i@9:20"} == {"i@9:13", "i@9:27"}
    assert {d for s, d in got if s == "n@17:13"} == {"n@16:10"}  # the do condition after its body


def test_compound_assignment_and_increment_read_their_target(edges):
    lw = edges(LOOPS, "c", LW)
    assert {d for s, d in lw if s == "a@10:8"} == {"a@0:10", "a@10:8"}  # `a += i` reads a
    assert {d for s, d in lw if s == "n@13:8"} == {"n@0:17", "n@13:8"}  # `n--` reads n
    assert {d for s, d in lw if s == "n@16:10"} == {"n@0:17", "n@13:8", "n@16:10"}  # `++n`
    lr = edges(LOOPS, "c", LR)
    assert {d for s, d in lr if s == "a@10:8"} == {"a@1:12", "a@10:8"}


def test_computed_from(edges):
    assert edges(LOOPS, "c", CF) == {
        ("x@1:8", "a@1:12"),
        ("x@1:8", "n@1:16"),
        ("x@3:8", "x@3:12"),
        ("x@5:8", "x@5:13"),
        ("a@10:8", "i@10:13"),
    }


SWITCH = """
int s(int x, int n) {
    int y;
    switch (x) {
    case 1:
        y = 1;
    case 2:
    case 3: {
        y = 2;
        break;
    }
    default:
        y = 0;
    }
    switch (y) {
    case 0:
        n++;
        break;
    case 1:
        log_it();
    }
    for (;;) {
        if (n > 10)
            break;
        n += 2;
        if (n % 3)
            continue;
        y--;
    }
    return y + n;
}
"""


def test_switch_falls_through_until_break(edges):
    got = edges(SWITCH, "c", CFG)
    assert {
        ("switch (x) {@2:4", "case 1:@3:4"),
        ("switch (x) {@2:4", "case 2:@5:4"),
        ("switch (x) {@2:4", "case 3: {@6:4"),
        ("switch (x) {@2:4", "default:@10:4"),
        ("case 1:@3:4", "y = 1;@4:8"),
        ("y = 1;@4:8", "y = 2;@7:8"),  # no break: into the next case with statements
        ("case 2:@5:4", "y = 2;@7:8"),  # an empty case falls into the next
        ("case 3: {@6:4", "y = 2;@7:8"),
        ("break;@8:8", "switch (y) {@13:4"),  # break inside a braced case leaves the switch
        ("default:@10:4", "y = 0;@11:8"),
        ("y = 0;@11:8", "switch (y) {@13:4"),
    } <= got
    # with a default, control never passes the first switch by
    assert not any(s == "switch (x) {@2:4" and d == "switch (y) {@13:4" for s, d in got)
    # without one, it does; the last case runs off the end
    assert ("switch (y) {@13:4", "for (;;) {@20:4") in got
    assert ("log_it();@18:8", "for (;;) {@20:4") in got
    assert ("break;@16:8", "for (;;) {@20:4") in got
    lw = edges(SWITCH, "c", LW)
    assert {d for s, d in lw if s == "y@13:12"} == {"y@7:8", "y@11:8"}
    assert ("y@4:8", "y@1:8") in lw  # `int y;` writes y


def test_endless_for_break_and_continue(edges):
    got = edges(SWITCH, "c", CFG)
    assert {
        ("for (;;) {@20:4", "if (n > 10)@21:8"),
        ("if (n > 10)@21:8", "break;@22:12"),
        ("break;@22:12", "return y + n;@28:4"),
        ("continue;@25:12", "for (;;) {@20:4"),
        ("y--;@26:8", "for (;;) {@20:4"),
    } <= got
    assert not any(s == "for (;;) {@20:4" and d.startswith("return") for s, d in got)  # no condition
    lw = edges(SWITCH, "c", LW)
    assert {d for s, d in lw if s == "n@28:15"} == {"n@0:17", "n@15:8", "n@23:8"}
    assert {d for s, d in lw if s == "y@28:11"} == {"y@7:8", "y@11:8", "y@26:8"}


def test_goto_jumps_to_its_label(edges):
    code = """
    int g(char *buf, int n) {
        int err = 0;
        char *p = buf;
        if (n < 0)
            goto fail;
        while (*p) {
            if (*p == 'x')
                goto done;
            p++;
        }
        err = 1;
    done:
        return err;
    fail:
        err = -1;
        goto done;
    }
    """
    got = edges(code, "c", CFG)
    assert ("goto fail;@4:8", "err = -1;@14:4") in got
    assert ("goto done;@7:12", "return err;@12:4") in got  # out of the loop
    assert ("goto done;@15:4", "return err;@12:4") in got  # backwards
    assert ("err = 1;@10:4", "return err;@12:4") in got  # a label is also reached in sequence
    assert not any(s == "return err;@12:4" for s, _ in got)
    lw = edges(code, "c", LW)
    assert {d for s, d in lw if s == "err@12:11"} == {"err@1:8", "err@10:4", "err@14:4"}
    assert {d for s, d in lw if s == "p@8:8"} == {"p@2:10", "p@8:8"}  # `p++`; `*p` reads p


def test_seh_finally_and_except(edges):
    code = """
    int t(int a) {
        int r = 0;
        __try {
            r = risky(a);
            if (r)
                return r;
        } __finally {
            cleanup(a);
        }
        __try {
            r = risky(r);
        } __except (filter(r)) {
            r = -1;
        }
        return r;
    }
    """
    got = edges(code, "c", CFG)
    assert ("return r;@5:12", "__finally {@6:6") in got  # the return runs the finally block first
    assert ("if (r)@4:8", "__finally {@6:6") in got
    assert ("cleanup(a);@7:8", "__try {@9:4") in got
    assert ("r = risky(r);@10:8", "__except (filter(r)) {@11:6") in got  # may raise
    assert ("r = risky(r);@10:8", "return r;@14:4") in got
    assert ("r = -1;@12:8", "return r;@14:4") in got
    lw = edges(code, "c", LW)
    assert {d for s, d in lw if s == "r@14:11"} == {"r@10:8", "r@12:8"}
    assert ("r@11:23", "r@10:8") in lw


FILE = """
#include <stdio.h>
#define LIMIT 10
struct point { int x, y; };
static int scale(int v, int *factor) { return v * *factor; }
int h(struct point *pt, int n) {
    const char *msg = "abc";
    int k, arr[LIMIT], m = n * 2;
#ifdef DEBUG
    k = 1;
#else
    k = 2;
#endif
    pt->x = k;
    arr[k] = scale(pt->y, &m);
    return printf(msg);
}
"""


def test_preprocessor_blocks_run_in_sequence(edges):
    got = edges(FILE, "c", CFG, name="h")
    assert {
        ("int k, arr[LIMIT], m = n * 2;@6:4", "k = 1;@8:4"),
        ("k = 1;@8:4", "k = 2;@10:4"),  # both branches, one after the other
        ("k = 2;@10:4", "pt->x = k;@12:4"),
    } <= got
    lw = edges(FILE, "c", LW, name="h")
    assert ("k@12:12", "k@10:4") in lw
    assert not any("DEBUG" in s or "LIMIT" in d for s, d in lw)  # directive names are no variables


def test_declarators_fields_and_string_literals(edges):
    lw = edges(FILE, "c", LW, name="h")
    assert lw == {
        ("n@6:27", "n@4:28"),
        ("k@8:4", "k@6:8"),  # `int k` writes k without an initialiser
        ("k@10:4", "k@8:4"),
        ("pt@12:4", "pt@4:20"),  # a member write reads the pointer; `x` is no variable
        ("k@12:12", "k@10:4"),
        ("arr@13:4", "arr@6:11"),  # `arr[LIMIT]` writes arr; an element write reads it
        ("k@13:8", "k@10:4"),
        ("pt@13:19", "pt@4:20"),
        ("m@13:27", "m@6:23"),
        ("msg@14:18", "msg@5:16"),  # a string literal initialiser keeps its edges
    }
    assert edges(FILE, "c", CF, name="h") == {("m@6:23", "n@6:27")}


def test_calls_resolve_by_name_with_formal_arguments(edges):
    calls = edges(FILE, "c", EdgeType.CALLS, unit="file")
    assert calls == {
        ("scale(pt->y, &m)@13:13", "static int scale(int v, int *factor) { return v * *factor; }@3:0")
    }
    formal = edges(FILE, "c", EdgeType.FORMAL_ARG_NAME, unit="file")
    assert formal == {("pt->y@13:19", "v@3:21"), ("&m@13:26", "factor@3:29")}  # `int *factor` too
    returns = edges(FILE, "c", EdgeType.RETURNS_TO, unit="file")
    assert returns == {
        ("return v * *factor;@3:39", "static int scale(int v, int *factor) { return v * *factor; }@3:0"),
        ("return printf(msg);@14:4", "int h(struct point *pt, int n) {@4:0"),
    }


def test_file_scope_skips_functions_and_directives(edges):
    got = edges(FILE, "c", CFG, unit="file")
    assert ("#include <stdio.h>@0:0", "struct point { int x, y; }@2:0") in got  # entry, then the struct
    assert not any(s == "struct point { int x, y; }@2:0" for s, _ in got)


NAMES = """
int *make(int n) { return 0; }
int (*signal(int sig, void (*func)(int)))(int dummy) { return func(sig), dummy; }
struct node { struct node *next; };
typedef struct { int q; } pair_t;
union u { int i; float f; };
enum color { RED, GREEN };
struct node *head(struct node *list);
"""


def test_units_and_names():
    assert extract_file(NAMES, "c").names == ["make", "signal"]
    # bodies define; `struct node *next` and `struct node *head(...)` only name the type
    assert extract_file(NAMES, "c", unit="class").names == ["node", "<anonymous:5>", "u", "color"]
    assert extension_map()[".h"] == "c" and extension_map()[".c"] == "c"


def test_parameters_are_found_inside_declarators(edges):
    lw = edges(NAMES, "c", LW, name="signal")
    # the parameters of `signal`, not those of the function type it returns
    assert lw == {("func@1:62", "func@1:29"), ("sig@1:67", "sig@1:17")}


def test_syntax_error_still_yields_graphs():
    code = "int f(int x) {\n  int y = ;\n  return y;\n}\nint g(void) { return 1; }\n"
    fg = extract_file(code, "c")
    assert fg.has_error
    assert fg.names == ["f", "g"]
    assert fg.unit_has_error == [True, False]
    assert all(g.num_edges > 0 for g in fg.graphs)


def test_deeply_nested_code_does_not_recurse():
    n = 3000
    blocks = "{ " * n + "a = (" + "(" * n + "a" + ")" * n + ");" + " }" * n
    (g,) = extract_file(f"int f(int a) {{ {blocks} return a; }}", "c").graphs
    assert g.num_nodes > 2 * n
    ifs = "if (a > 0) { " * n + "a++;" + " }" * n
    (g,) = extract_file(f"void f(int a) {{ {ifs} }}", "c").graphs
    assert len(g.edges(CFG)) == n + 1  # entry, each if into the next, the innermost into `a++`
    nested = "#ifdef X\n" * n + "a++;\n" + "#endif\n" * n
    (g,) = extract_file(f"void f(int a) {{\n{nested}}}", "c").graphs
    assert len(g.edges(CFG)) == 1 and len(g.edges(LW)) == 1


def test_table_kinds_exist_in_grammar_and_vocabulary():
    assert_table_matches_grammar("c")
