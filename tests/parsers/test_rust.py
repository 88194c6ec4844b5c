"""Golden edges for Rust: if/else-if chains, while/while-let/loop/for, labelled jumps, match arms,
``?``, let patterns, macros, impl methods and ``self`` calls, closures, units."""

from __future__ import annotations

from conftest import assert_table_matches_grammar

from parsers import EdgeType, extract_file

LW, LR, CF, CFG = EdgeType.LAST_WRITE, EdgeType.LAST_READ, EdgeType.COMPUTED_FROM, EdgeType.CFG_NEXT
RET = EdgeType.RETURNS_TO

LOOPS = """
fn f(mut a: i32, mut n: i32, names: Vec<i32>) -> i32 {
    let mut x = a + n;
    if x > 0 {
        x = x - 1;
    } else if x < 0 {
        x = -x;
    } else {
        x = 1;
    }
    for i in 0..x {
        a += i;
    }
    while n > 0 {
        n -= 1;
    }
    while let Some(s) = names.pop() {
        a = s;
    }
    loop {
        break;
    }
    return a;
}
"""


def test_control_flow_of_branches_and_loops(edges):
    got = edges(LOOPS, "rust", CFG)
    assert got == {
        ("fn f(mut a: i32, mut n: i32, names: Vec<i32>) -> i32 {@0:0", "let mut x = a + n;@1:4"),
        ("let mut x = a + n;@1:4", "if x > 0 {@2:4"),
        ("if x > 0 {@2:4", "x = x - 1@3:8"),
        ("if x > 0 {@2:4", "if x < 0 {@4:11"),  # else if: the if inside the else clause
        ("if x < 0 {@4:11", "x = -x@5:8"),
        ("if x < 0 {@4:11", "x = 1@7:8"),
        ("x = x - 1@3:8", "0..x@9:13"),  # every branch reaches the for loop's iterator
        ("x = -x@5:8", "0..x@9:13"),
        ("x = 1@7:8", "0..x@9:13"),
        ("0..x@9:13", "for i in 0..x {@9:4"),
        ("for i in 0..x {@9:4", "i@9:8"),  # the pattern is bound on the way into the body
        ("i@9:8", "a += i@10:8"),
        ("for i in 0..x {@9:4", "while n > 0 {@12:4"),
        ("a += i@10:8", "for i in 0..x {@9:4"),
        ("while n > 0 {@12:4", "n -= 1@13:8"),
        ("while n > 0 {@12:4", "while let Some(s) = names.pop() {@15:4"),
        ("n -= 1@13:8", "while n > 0 {@12:4"),
        ("while let Some(s) = names.pop() {@15:4", "a = s@16:8"),
        ("while let Some(s) = names.pop() {@15:4", "loop {@18:4"),
        ("a = s@16:8", "while let Some(s) = names.pop() {@15:4"),
        ("loop {@18:4", "break@19:8"),  # `loop`: no exit edge, only the break leaves
        ("break@19:8", "return a@21:4"),
    }


def test_return_after_loops_reaches_loop_writes_and_parameter(edges):
    got = edges(LOOPS, "rust", LW)
    # zero-iteration paths: the parameter reaches the return as well as both loop bodies' writes
    assert {d for s, d in got if s == "a@21:11"} == {"a@0:9", "a@10:8", "a@16:8"}
    assert {d for s, d in got if s == "x@9:16"} == {"x@3:8", "x@5:8", "x@7:8"}
    assert {d for s, d in got if s == "n@12:10"} == {"n@0:21", "n@13:8"}
    assert ("i@10:13", "i@9:8") in got  # the for pattern is written on the way into the body
    assert ("s@16:12", "s@15:19") in got  # so is the while-let pattern


def test_compound_assignment_reads_its_target(edges):
    got = edges(LOOPS, "rust", LW)
    assert {d for s, d in got if s == "a@10:8"} == {"a@0:9", "a@10:8"}  # `a += i`
    assert {d for s, d in got if s == "n@13:8"} == {"n@0:21", "n@13:8"}  # `n -= 1`
    lr = edges(LOOPS, "rust", LR)
    assert ("n@13:8", "n@12:10") in lr


def test_computed_from(edges):
    got = edges(LOOPS, "rust", CF)
    assert got == {
        ("x@1:12", "a@1:16"),
        ("x@1:12", "n@1:20"),
        ("x@3:8", "x@3:12"),
        ("x@5:8", "x@5:13"),
        ("i@9:8", "x@9:16"),
        ("a@10:8", "i@10:13"),
        ("s@15:19", "names@15:24"),
        ("a@16:8", "s@16:12"),
    }


def test_labelled_break_and_continue(edges):
    code = """
    fn g(m: &[Vec<i32>]) -> i32 {
        let mut total = 0;
        'outer: for row in m {
            'inner: loop {
                if row[0] < 0 {
                    continue 'outer;
                }
                if row[0] > 100 {
                    break 'outer;
                }
                total += row[0];
                break 'inner;
            }
        }
        'blk: {
            break 'blk;
        }
        total
    }
    """
    got = edges(code, "rust", CFG)
    assert got == {
        ("fn g(m: &[Vec<i32>]) -> i32 {@0:0", "let mut total = 0;@1:4"),
        ("let mut total = 0;@1:4", "m@2:23"),
        ("m@2:23", "'outer: for row in m {@2:4"),
        ("'outer: for row in m {@2:4", "row@2:16"),
        ("row@2:16", "'inner: loop {@3:8"),
        ("'outer: for row in m {@2:4", "break 'blk@15:8"),
        ("'inner: loop {@3:8", "if row[0] < 0 {@4:12"),
        ("if row[0] < 0 {@4:12", "continue 'outer@5:16"),
        ("if row[0] < 0 {@4:12", "if row[0] > 100 {@7:12"),
        ("continue 'outer@5:16", "'outer: for row in m {@2:4"),
        ("if row[0] > 100 {@7:12", "break 'outer@8:16"),
        ("if row[0] > 100 {@7:12", "total += row[0]@10:12"),
        ("break 'outer@8:16", "break 'blk@15:8"),
        ("total += row[0]@10:12", "break 'inner@11:12"),
        ("break 'inner@11:12", "'outer: for row in m {@2:4"),  # leaves the loop: next row
        ("break 'blk@15:8", "total@17:4"),  # a labelled block
    }
    lw = edges(code, "rust", LW)
    assert {d for s, d in lw if s == "total@17:4"} == {"total@1:12", "total@10:12"}
    assert not any(s.startswith(("outer@", "inner@", "blk@")) for s, _ in lw)  # labels: no variables


def test_break_in_a_match_leaves_the_loop(edges):
    code = """
    fn b(xs: Vec<i32>) -> i32 {
        let mut n = 0;
        for x in xs {
            match x {
                0 => break,
                1 => continue,
                _ => n += x,
            }
            n += 1;
        }
        n
    }
    """
    got = edges(code, "rust", CFG)
    assert ("break@4:17", "n@10:4") in got  # a match is no break target, unlike a C switch
    assert ("continue@5:17", "for x in xs {@2:4") in got
    assert ("n += x@6:17", "n += 1@8:8") in got
    assert not any(s == "break@4:17" and d != "n@10:4" for s, d in got)


MATCH = """
fn m(o: Option<i32>, k: i32) -> Result<i32, String> {
    let v = parse(k)?;
    let (p, mut q) = (v, k);
    let Point { x, y: w } = origin();
    let s = "abc";
    let t;
    t = s.len();
    match o {
        Some(n) if n > p => {
            q += n;
        }
        Some(0) => q = w,
        None => return Err(format!("{} {}", x, s)),
        _ => {}
    }
    println!("{}", q);
    let r = if q > 0 { q } else { t };
    Ok(r)
}

fn tail(k: i32) -> i32 {
    if k > 0 { k } else { -k }
}
"""


def test_match_arms_bind_and_never_fall_through(edges):
    got = edges(MATCH, "rust", CFG, name="m")
    assert {
        ("t = s.len()@6:4", "match o {@7:4"),
        ("match o {@7:4", "Some(n) if n > p => {@8:8"),
        ("match o {@7:4", "Some(0) => q = w,@11:8"),
        ("match o {@7:4", 'None => return Err(format!("{} {}", x, s)),@12:8'),
        ("match o {@7:4", "_ => {}@13:8"),
        ("Some(n) if n > p => {@8:8", "q += n@9:12"),
        ("q += n@9:12", 'println!("{}", q)@15:4'),
        ("Some(0) => q = w,@11:8", "q = w@11:19"),
        ("q = w@11:19", 'println!("{}", q)@15:4'),
        ('None => return Err(format!("{} {}", x, s)),@12:8', 'return Err(format!("{} {}", x, s))@12:16'),
        ("_ => {}@13:8", 'println!("{}", q)@15:4'),  # an empty arm leaves the match
        ('println!("{}", q)@15:4', "let r = if q > 0 { q } else { t };@16:4"),
    } <= got
    assert not any(s == "match o {@7:4" and d.startswith("println") for s, d in got)  # exhaustive
    assert not any(s.startswith("return Err") for s, _ in got)  # the return leaves the function
    lw = edges(MATCH, "rust", LW, name="m")
    assert ("n@8:19", "n@8:13") in lw  # the guard reads the arm's binding
    assert ("n@9:17", "n@8:13") in lw
    assert ("p@8:23", "p@2:9") in lw
    assert {d for s, d in lw if s == "q@15:19"} == {"q@2:16", "q@9:12", "q@11:19"}


def test_let_patterns_declarations_and_string_literals(edges):
    lw = edges(MATCH, "rust", LW, name="m")
    assert ("v@2:22", "v@1:8") in lw
    assert ("w@11:23", "w@3:22") in lw  # `y: w` binds w, not y
    assert ("x@12:44", "x@3:16") in lw  # shorthand `{ x, .. }` binds x; a macro argument reads it
    assert ("s@12:47", "s@4:8") in lw  # `let s = "abc"` keeps its write
    assert ("t@6:4", "t@5:8") in lw  # `let t;` declares without a value
    assert ("t@16:34", "t@6:4") in lw
    assert not any(s.startswith(("y@", "len@", "format@", "println@")) for s, _ in lw)
    cf = edges(MATCH, "rust", CF, name="m")
    assert {(s, d) for s, d in cf if s.startswith(("p@", "q@2"))} == {
        ("p@2:9", "v@2:22"),
        ("p@2:9", "k@2:25"),
        ("q@2:16", "v@2:22"),
        ("q@2:16", "k@2:25"),
    }
    assert ("t@6:4", "s@6:8") in cf
    assert ("q@9:12", "n@9:17") in cf
    # an if nested in an expression is straight-line code: the let reads both branches
    assert {d for s, d in cf if s == "r@16:8"} == {"q@16:15", "q@16:23", "t@16:34"}


def test_question_mark_return_and_tail_if(edges):
    returns = edges(MATCH, "rust", RET, name="m")
    head = "fn m(o: Option<i32>, k: i32) -> Result<i32, String> {@0:0"
    assert returns == {("parse(k)?@1:12", head), ('return Err(format!("{} {}", x, s))@12:16', head)}
    tail = edges(MATCH, "rust", CFG, name="tail")
    assert tail == {
        ("fn tail(k: i32) -> i32 {@20:0", "if k > 0 { k } else { -k }@21:4"),
        ("if k > 0 { k } else { -k }@21:4", "k@21:15"),  # the tail if is a compound statement
        ("if k > 0 { k } else { -k }@21:4", "-k@21:26"),
    }


IMPL = """
#[derive(Debug)]
struct Counter {
    count: i32,
}

enum Op {
    Add(i32),
}

trait Bump {
    fn bump(&mut self, by: i32);
    fn twice(&mut self) {
        self.bump(2);
    }
}

impl Counter {
    fn new(count: i32) -> Self {
        Self { count }
    }

    fn add(&mut self, by: i32) -> i32 {
        self.count += by;
        let c = Self::new(by);
        let f = |z: i32| z + self.count;
        fn helper(w: i32) -> i32 {
            w * 2
        }
        helper(f(c.count))
    }
}

impl Bump for Counter {
    fn bump(&mut self, by: i32) {
        self.add(by);
    }
}
"""


def test_self_calls_resolve_within_the_impl(edges):
    calls = edges(IMPL, "rust", EdgeType.CALLS, unit="class", name="Bump")
    assert calls == {("self.bump(2)@12:8", "fn bump(&mut self, by: i32);@10:4")}
    formal = edges(IMPL, "rust", EdgeType.FORMAL_ARG_NAME, unit="class", name="Bump")
    assert formal == {("2@12:18", "by@10:23")}  # the self parameter is skipped
    # the file unit holds every impl: `Self::new` and the nested fn resolve, while `self.add` in
    # `impl Bump for Counter` does not reach the other impl block
    calls = edges(IMPL, "rust", EdgeType.CALLS, unit="file")
    assert calls == {
        ("self.bump(2)@12:8", "fn bump(&mut self, by: i32);@10:4"),
        ("Self::new(by)@23:16", "fn new(count: i32) -> Self {@17:4"),
        ("helper(f(c.count))@28:8", "fn helper(w: i32) -> i32 {@25:8"),
    }
    formal = edges(IMPL, "rust", EdgeType.FORMAL_ARG_NAME, unit="file")
    assert ("by@23:26", "count@17:11") in formal and ("f(c.count)@28:15", "w@25:18") in formal


def test_fields_closures_and_nested_functions_do_not_leak(edges):
    lw = edges(IMPL, "rust", LW, name="Counter.add")
    assert ("self@22:8", "self@21:16") in lw
    assert ("by@22:22", "by@21:22") in lw
    assert ("z@24:25", "z@24:17") in lw  # the closure's own scope
    assert ("w@26:12", "w@25:18") in lw  # the nested function's own scope
    assert ("helper@28:8", "helper@25:11") in lw  # a nested fn writes its name
    assert ("f@28:15", "f@24:12") in lw
    assert ("c@28:17", "c@23:12") in lw
    assert not any(s.startswith(("count@", "z@", "w@")) for s, _ in lw if not s.startswith(("z@24", "w@26")))
    assert ("count@18:15", "count@17:11") in edges(IMPL, "rust", LW, name="Counter.new")  # `Self { count }`
    cfg = edges(IMPL, "rust", CFG, name="Counter.add")
    assert ("let f = |z: i32| z + self.count;@24:8", "fn helper(w: i32) -> i32 {@25:8") in cfg
    assert ("fn helper(w: i32) -> i32 {@25:8", "helper(f(c.count))@28:8") in cfg


def test_units_and_qualified_names():
    fn = extract_file(IMPL, "rust").graphs
    assert [g.name for g in fn] == [
        "Bump.bump",
        "Bump.twice",
        "Counter.new",
        "Counter.add",
        "Counter.add.<locals>.f",  # a closure bound by `let f = |..| ...`
        "Counter.add.<locals>.helper",
        "Counter.bump",
    ]
    cls = extract_file(IMPL, "rust", unit="class").graphs
    assert [g.name for g in cls] == ["Counter", "Op", "Bump", "Counter", "Counter"]
    assert [g.node_types[0] for g in cls] == [
        "struct_item",
        "enum_item",
        "trait_item",
        "impl_item",
        "impl_item",
    ]
    code = IMPL.lstrip("\n")
    (file_graph,) = extract_file(code, "rust", unit="file", path="src/counter.rs").graphs
    assert file_graph.name == "counter.rs" and file_graph.source == code
    (g,) = extract_file("impl<T> Wrap<T> { fn get(&self) -> &T { &self.0 } }", "rust").graphs
    assert g.name == "Wrap.get"


def test_comments_and_attributes_add_no_nodes_or_variables():
    code = (
        "/// doc\n#[inline]\nfn f(x: i32) -> i32 {\n    // note\n    x /* c */ + 1\n}\n#[inline]\nfn g() {}\n"
    )
    (g, _) = extract_file(code, "rust").graphs
    assert "line_comment" not in g.node_types and "block_comment" not in g.node_types
    assert not any(g.node_text(i) in ("//", "/*", "*/") for i in range(g.num_nodes))
    (f,) = extract_file(code, "rust", unit="file").graphs
    uses = f.edges(LR, EdgeType.LAST_LEXICAL_USE)
    assert ("x", "x") in {(f.node_text(s), f.node_text(d)) for s, d in uses}
    assert not any(f.node_text(s) == "inline" for s, _ in uses)  # attribute items are no statements
    (g,) = extract_file("fn g(#[allow(unused)] a: i32, #[allow(unused)] b: i32) {}", "rust").graphs
    assert not g.edges(LR, EdgeType.LAST_LEXICAL_USE)  # and attribute words are no variables


def test_syntax_error_still_yields_graphs():
    code = "fn f() {\n    let x = ;\n    x += 1;\n}\n\nfn g() { return; }\n"
    fg = extract_file(code, "rust")
    assert fg.has_error
    assert fg.names == ["f", "g"]
    assert fg.unit_has_error == [True, False]
    assert all(g.num_edges > 0 for g in fg.graphs)


def test_deeply_nested_code_does_not_recurse():
    n = 3000
    blocks = "{ " * n + "a = (" + "(" * n + "a" + ")" * n + ");" + " }" * n
    (g,) = extract_file(f"fn f(mut a: i32) -> i32 {{ {blocks} return a; }}", "rust").graphs
    assert g.num_nodes > 2 * n
    ifs = "if a > 0 { " * n + "a += 1;" + " }" * n
    (g,) = extract_file(f"fn f(mut a: i32) {{ {ifs} }}", "rust").graphs
    assert len(g.edges(CFG)) == n + 1  # entry, each if into the next, the innermost into `a += 1`


def test_table_kinds_exist_in_grammar_and_vocabulary():
    assert_table_matches_grammar("rust")


def test_closures_bound_by_let_are_units(edges):
    code = "fn main() {\n    let f = |x| { let y = x; y };\n    let mut g: fn(i32) -> i32 = |z| z;\n"
    code += "    v.iter().map(|w| w + 1);\n}\n"
    graphs = extract_file(code, "rust").graphs
    assert [(g.name, g.source) for g in graphs][1:] == [
        ("main.<locals>.f", "|x| { let y = x; y }"),
        ("main.<locals>.g", "|z| z"),  # `let mut`, typed: the pattern's name
    ]  # the closure passed to `map` stays part of `main`
    assert edges(code, "rust", EdgeType.LAST_WRITE, name="main.<locals>.f") == {
        ("x@1:26", "x@1:13"),
        ("y@1:29", "y@1:22"),
    }
