"""Golden edges for JavaScript: loops, labels, switch fallthrough, try/finally, destructuring, calls.

TypeScript and TSX share the JavaScript table, so every JavaScript snippet runs under all three.
"""

from __future__ import annotations

import pytest
from conftest import assert_table_matches_grammar

from parsers import EdgeType, extract_file

LW, LR, CF, CFG = EdgeType.LAST_WRITE, EdgeType.LAST_READ, EdgeType.COMPUTED_FROM, EdgeType.CFG_NEXT
LANGUAGES = ("javascript", "typescript", "tsx")
all_languages = pytest.mark.parametrize("lang", LANGUAGES)

LOOPS = """
function f(a, n) {
  let x = a + n;
  if (x > 0) {
    x = x - 1;
  } else if (x < 0) {
    x = -x;
  } else {
    x = 1;
  }
  for (let i = 0; i < x; i++) {
    a += i;
  }
  for (const s of names) {
    a++;
  }
  for (const k in table) a -= k;
  while (n > 0) {
    n--;
  }
  do {
    n++;
  } while (n < 3);
  return a;
}
"""


@all_languages
def test_control_flow_of_branches_and_loops(edges, lang):
    assert edges(LOOPS, lang, CFG) == {
        ("function f(a, n) {@0:0", "let x = a + n;@1:2"),
        ("let x = a + n;@1:2", "if (x > 0) {@2:2"),
        ("if (x > 0) {@2:2", "x = x - 1;@3:4"),
        ("if (x > 0) {@2:2", "if (x < 0) {@4:9"),  # else if: the if inside the else clause
        ("if (x < 0) {@4:9", "x = -x;@5:4"),
        ("if (x < 0) {@4:9", "x = 1;@7:4"),
        ("x = x - 1;@3:4", "let i = 0;@9:7"),  # every branch reaches the for initialiser
        ("x = -x;@5:4", "let i = 0;@9:7"),
        ("x = 1;@7:4", "let i = 0;@9:7"),
        ("let i = 0;@9:7", "for (let i = 0; i < x; i++) {@9:2"),
        ("for (let i = 0; i < x; i++) {@9:2", "a += i;@10:4"),
        ("for (let i = 0; i < x; i++) {@9:2", "names@12:18"),  # exit: the next loop's iterable
        ("a += i;@10:4", "i++@9:25"),
        ("i++@9:25", "for (let i = 0; i < x; i++) {@9:2"),  # update, then the condition again
        ("names@12:18", "for (const s of names) {@12:2"),
        ("for (const s of names) {@12:2", "s@12:13"),  # the target, bound entering the body
        ("s@12:13", "a++;@13:4"),
        ("for (const s of names) {@12:2", "table@15:18"),
        ("a++;@13:4", "for (const s of names) {@12:2"),
        ("table@15:18", "for (const k in table) a -= k;@15:2"),
        ("for (const k in table) a -= k;@15:2", "k@15:13"),
        ("k@15:13", "a -= k;@15:25"),  # a body without braces
        ("for (const k in table) a -= k;@15:2", "while (n > 0) {@16:2"),
        ("a -= k;@15:25", "for (const k in table) a -= k;@15:2"),
        ("while (n > 0) {@16:2", "n--;@17:4"),
        ("while (n > 0) {@16:2", "n++;@20:4"),  # exit: straight into the do body
        ("n--;@17:4", "while (n > 0) {@16:2"),
        ("n++;@20:4", "do {@19:2"),
        ("do {@19:2", "n++;@20:4"),  # post-tested: back into the body
        ("do {@19:2", "return a;@22:2"),
    }


@all_languages
def test_return_after_loops_reaches_loop_writes_and_parameter(edges, lang):
    got = edges(LOOPS, lang, LW)
    # zero-iteration paths: the parameter reaches the return as well as every loop body's write
    assert {d for s, d in got if s == "a@22:9"} == {"a@0:11", "a@10:4", "a@13:4", "a@15:25"}
    assert {d for s, d in got if s == "x@9:22"} == {"x@3:4", "x@5:4", "x@7:4"}
    assert {d for s, d in got if s == "i@9:18"} == {"i@9:11", "i@9:25"}
    assert {d for s, d in got if s == "n@21:11"} == {"n@20:4"}  # the do condition after its body
    assert {d for s, d in got if s == "k@15:30"} == {"k@15:13"}  # the for-in target is written


@all_languages
def test_compound_assignment_and_increment_read_their_target(edges, lang):
    got = edges(LOOPS, lang, LW)
    assert ("a@10:4", "a@0:11") in got  # first iteration: the parameter
    assert ("a@10:4", "a@10:4") in got  # later iterations: itself, around the back edge
    assert ("i@10:9", "i@9:25") in got  # `i++` writes i
    assert {d for s, d in got if s == "n@17:4"} == {"n@0:14", "n@17:4"}  # `n--` reads n


@all_languages
def test_computed_from(edges, lang):
    assert edges(LOOPS, lang, CF) == {
        ("x@1:6", "a@1:10"),
        ("x@1:6", "n@1:14"),
        ("x@3:4", "x@3:8"),
        ("x@5:4", "x@5:9"),
        ("a@10:4", "i@10:9"),
        ("s@12:13", "names@12:18"),
        ("k@15:13", "table@15:18"),
        ("a@15:25", "k@15:30"),
    }


@all_languages
def test_labelled_break_and_continue(edges, lang):
    code = """
    function g(m) {
      let hits = 0;
      outer: for (const row of m) {
        for (let j = 0; j < row.length; j++) {
          if (row[j] < 0) continue outer;
          if (row[j] === 0) break outer;
          if (row[j] > 9) break;
          hits += row[j];
        }
      }
      block: {
        if (hits) break block;
        hits = -1;
      }
      for (;;) {
        if (hits++ > 5) break;
      }
      return hits;
    }
    """
    cfg = edges(code, lang, CFG)
    assert ("continue outer;@4:22", "for (const row of m) {@2:9") in cfg
    assert ("break outer;@5:24", "if (hits) break block;@11:4") in cfg
    assert ("break;@6:22", "for (const row of m) {@2:9") in cfg  # leaves the inner loop only
    assert ("let hits = 0;@1:2", "m@2:27") in cfg  # the labelled loop starts at its iterable
    assert ("break block;@11:14", "for (;;) {@14:2") in cfg  # a labelled block, not a loop
    # `for (;;)` has no condition: its only way out is the break
    assert {d for s, d in cfg if s == "for (;;) {@14:2"} == {"if (hits++ > 5) break;@15:4"}
    assert ("break;@15:20", "return hits;@17:2") in cfg
    lw = edges(code, lang, LW)
    assert {d for s, d in lw if s == "hits@11:8"} == {"hits@1:6", "hits@7:6"}
    assert {d for s, d in lw if s == "hits@17:9"} == {"hits@15:8"}
    assert not any("outer" in s or "block" in s for s, _ in lw)  # labels are not variables


@all_languages
def test_switch_falls_through_until_break(edges, lang):
    code = """
    function sw(k) {
      let r = 0;
      switch (k) {
        case 1:
          r = 1;
        case 2:
        case 3: {
          r += 2;
          break;
        }
        default:
          r = -1;
      }
      switch (k) {
        case 4:
          return r;
      }
      return r;
    }
    """
    cfg = edges(code, lang, CFG)
    assert {d for s, d in cfg if s == "switch (k) {@2:2"} == {
        "case 1:@3:4",
        "case 2:@5:4",
        "case 3: {@6:4",
        "default:@10:4",  # a default: no edge past the switch
    }
    assert ("r = 1;@4:6", "r += 2;@7:6") in cfg  # fallthrough into the next case's body
    assert ("case 2:@5:4", "r += 2;@7:6") in cfg  # an empty case runs into the next one
    assert ("break;@8:6", "switch (k) {@13:2") in cfg
    assert ("r = -1;@11:6", "switch (k) {@13:2") in cfg
    # no default: the switch may match nothing
    assert {d for s, d in cfg if s == "switch (k) {@13:2"} == {"case 4:@14:4", "return r;@17:2"}
    lw = edges(code, lang, LW)
    assert {d for s, d in lw if s == "r@7:6"} == {"r@1:6", "r@4:6"}
    assert {d for s, d in lw if s == "r@17:9"} == {"r@7:6", "r@11:6"}


@all_languages
def test_try_catch_finally(edges, lang):
    code = """
    function t(p) {
      let v;
      try {
        v = load(p);
        if (!v) throw new Error(`no ${p}`);
      } catch (e) {
        v = e.message;
      } finally {
        close(p);
      }
      return v;
    }
    """
    cfg = edges(code, lang, CFG)
    # the try point may raise (the state before the body reaches every handler), and with a
    # finally clause an exception no handler takes goes to the finally
    assert {d for s, d in cfg if s == "try {@2:2"} == {"v = load(p);@3:4", "catch (e) {@5:4", "finally {@7:4"}
    assert {d for s, d in cfg if s == "v = load(p);@3:4"} == {
        "if (!v) throw new Error(`no ${p}`);@4:4",
        "catch (e) {@5:4",  # may raise
        "finally {@7:4",
    }
    assert {d for s, d in cfg if s == "throw new Error(`no ${p}`);@4:12"} == {
        "catch (e) {@5:4",
        "finally {@7:4",
    }
    assert ("catch (e) {@5:4", "finally {@7:4") in cfg  # an exception escaping the handler
    assert ("if (!v) throw new Error(`no ${p}`);@4:4", "finally {@7:4") in cfg
    assert ("v = e.message;@6:4", "finally {@7:4") in cfg
    assert ("close(p);@8:4", "return v;@10:2") in cfg
    lw = edges(code, lang, LW)
    assert ("v@3:4", "v@1:6") in lw  # a declaration without initialiser writes (undefined)
    # the finally's end merges normal and exceptional completion: the declaration (try -> finally)
    # reaches the return too
    assert {d for s, d in lw if s == "v@10:9"} == {"v@1:6", "v@3:4", "v@6:4"}
    assert ("e@6:8", "e@5:11") in lw  # the catch parameter is written
    assert ("p@4:34", "p@0:11") in lw  # template substitutions read


@all_languages
def test_return_and_continue_go_through_finally(edges, lang):
    code = """
    function r(xs) {
      for (const x of xs) {
        try {
          if (x) continue;
          return x;
        } finally {
          done(x);
        }
      }
    }
    """
    cfg = edges(code, lang, CFG)
    assert ("return x;@4:6", "finally {@5:6") in cfg
    assert ("continue;@3:13", "finally {@5:6") in cfg
    assert ("done(x);@6:6", "for (const x of xs) {@1:2") in cfg


@all_languages
def test_destructuring_defaults_and_object_literals(edges, lang):
    code = """
    function d(obj, arr, {p, q: [r] = []} = {}, ...rest) {
      const {a, b: c, [key]: e = a, ...others} = obj;
      let [x, , y = x] = arr;
      [x, y] = [y, x];
      ({a, c} = obj);
      const o = {a, c: x, [y]: obj.a, rest};
      let s = `v${a + c}w`, t = "lit", u;
      u ??= t;
      return o.a + others + p + r;
    }
    """
    lw = edges(code, lang, LW)
    assert ("p@8:24", "p@0:22") in lw  # parameter patterns with defaults write their names
    assert ("r@8:28", "r@0:29") in lw
    assert ("rest@5:34", "rest@0:47") in lw
    assert ("a@1:29", "a@1:9") in lw  # a default reads a name bound earlier in the pattern
    assert ("others@8:15", "others@1:35") in lw
    assert ("y@3:6", "y@2:12") in lw
    assert ("x@5:19", "x@3:3") in lw  # the swap writes x
    assert ("a@5:13", "a@4:4") in lw  # shorthand `{a}` reads a; `({a, c} = obj)` wrote it
    assert ("c@6:18", "c@4:7") in lw
    assert ("t@7:8", "t@6:24") in lw  # a string literal value still writes t
    assert ("u@7:2", "u@6:35") in lw  # `??=` reads its target
    assert not any(s.startswith(("b@", "q@")) for s, _ in lw)  # pattern keys are not variables
    assert not any(s == "a@5:31" or s == "a@8:11" for s, _ in lw)  # property names are not either
    cf = edges(code, lang, CF)
    assert {d for s, d in cf if s == "e@1:25"} == {"a@1:29", "obj@1:45"}
    assert {d for s, d in cf if s == "x@3:3"} == {"y@3:12", "x@3:15"}
    assert {d for s, d in cf if s == "o@5:8"} == {"a@5:13", "x@5:19", "y@5:23", "obj@5:27", "rest@5:34"}
    assert {d for s, d in cf if s == "s@6:6"} == {"a@6:14", "c@6:18"}
    assert ("u@7:2", "t@7:8") in cf
    lr = edges(code, lang, LR)
    assert ("obj@5:27", "obj@4:12") in lr


CLASS = """
class Counter extends Base {
  total = start;
  static { register(Counter); }
  constructor(step) {
    super(step);
    this.step = step;
  }
  add(a, b = 1) {
    return this.scale(a + b, this.step);
  }
  scale(v, k) {
    return helper(v) * k;
  }
  *ids(n) {
    yield n;
  }
}
function helper(x, ...more) {
  return new Point(x, more);
}
function Point(px, py) {
  this.px = px;
}
"""


@all_languages
def test_this_method_calls_and_returns(edges, lang):
    assert edges(CLASS, lang, EdgeType.CALLS, unit="class") == {
        ("this.scale(a + b, this.step)@8:11", "scale(v, k) {@10:2")
    }
    assert edges(CLASS, lang, EdgeType.FORMAL_ARG_NAME, unit="class") == {
        ("a + b@8:22", "v@10:8"),
        ("this.step@8:29", "k@10:11"),
    }
    assert edges(CLASS, lang, EdgeType.RETURNS_TO, unit="class") == {
        ("return this.scale(a + b, this.step);@8:4", "add(a, b = 1) {@7:2"),
        ("return helper(v) * k;@11:4", "scale(v, k) {@10:2"),
        ("yield n@14:4", "*ids(n) {@13:2"),
    }


@all_languages
def test_calls_resolved_by_name_in_the_file(edges, lang):
    assert edges(CLASS, lang, EdgeType.CALLS, unit="file") == {
        ("this.scale(a + b, this.step)@8:11", "scale(v, k) {@10:2"),
        ("helper(v)@11:11", "function helper(x, ...more) {@17:0"),
        ("new Point(x, more)@18:9", "function Point(px, py) {@20:0"),
    }
    formal = edges(CLASS, lang, EdgeType.FORMAL_ARG_NAME, unit="file")
    assert ("v@11:18", "x@17:16") in formal
    assert ("x@18:19", "px@20:15") in formal
    assert ("more@18:22", "py@20:19") in formal


@all_languages
def test_class_body_runs_field_initialisers_and_static_blocks(edges, lang):
    cfg = edges(CLASS, lang, CFG, unit="class")
    assert ("{@0:27", "total = start@1:2") in cfg  # the class body is a scope of its own
    assert ("total = start@1:2", "static { register(Counter); }@2:2") in cfg
    assert ("static { register(Counter); }@2:2", "register(Counter);@2:11") in cfg
    assert not any(d.startswith(("add(", "scale(")) for _, d in cfg)  # methods are not statements
    lw = edges(CLASS, lang, LW, unit="class")
    assert ("step@5:16", "step@3:14") in lw
    assert not any(s.startswith("total@") for s, _ in lw)  # field names are property names


@all_languages
def test_nested_functions_and_arrows_do_not_leak(edges, lang):
    code = """
    function outer(a) {
      const add = (x, y) => x + y;
      const inc = z => { let t = z + 1; return t; };
      const named = function fn(w) { return w; };
      function inner(b) {
        let t = b;
        return t;
      }
      return inner(add(a, t));
    }
    """
    lw = edges(code, lang, LW, name="outer")
    assert ("inner@8:9", "inner@4:11") in lw  # a nested declaration writes its name
    assert ("add@8:15", "add@1:8") in lw
    assert ("z@2:29", "z@2:14") in lw  # a lone arrow parameter is written at the arrow's entry
    assert ("x@1:24", "x@1:15") in lw
    assert ("w@3:40", "w@3:28") in lw
    assert not any(s == "t@8:22" for s, _ in lw)  # neither inner `t` reaches the outer read
    assert not any(s.startswith(("x@", "y@", "z@", "w@")) and d.startswith("a@") for s, d in lw)
    cfg = edges(code, lang, CFG, name="outer")
    assert ("(x, y) => x + y@1:14", "x + y@1:24") in cfg  # an expression body is one point
    assert ("function inner(b) {@4:2", "return inner(add(a, t));@8:2") in cfg
    returns = edges(code, lang, EdgeType.RETURNS_TO, name="outer")
    assert ("return t;@2:36", "z => { let t = z + 1; return t; }@2:14") in returns
    assert ("return inner(add(a, t));@8:2", "function outer(a) {@0:0") in returns
    assert edges(code, lang, EdgeType.CALLS, name="outer") == {
        ("inner(add(a, t))@8:9", "function inner(b) {@4:2")
    }
    assert edges(code, lang, EdgeType.FORMAL_ARG_NAME, name="outer") == {("add(a, t)@8:15", "b@4:17")}


@pytest.mark.parametrize("lang", ["javascript", "tsx"])
def test_jsx_tags_and_attributes(edges, lang):
    code = """
    function App({ items }) {
      const [open, setOpen] = useState(false);
      return <List open={open}>{items.map(i => <Item key={i.id} {...i} />)}</List>;
    }
    """
    lw = edges(code, lang, LW)
    assert ("open@2:21", "open@1:9") in lw
    assert ("items@2:28", "items@0:15") in lw
    assert {d for s, d in lw if s in ("i@2:54", "i@2:64")} == {"i@2:38"}
    lr = edges(code, lang, LR)
    assert not any(s.startswith("List@") for s, _ in lr)  # the closing tag is not a second read


@all_languages
def test_units_and_names(lang):
    code = b"""class A {
  m() {
    function g() {}
    const h = () => { function k() {} };
  }
  static *gen() {}
  get v() { return 1; }
}
const B = class {
  n() {}
};
function* outer() {
  class C { p() {} }
}
const o = { q() {} };
export default function () {}
"""
    assert [g.name for g in extract_file(code, lang).graphs] == [
        "A.m",
        "A.m.<locals>.g",
        "A.m.<locals>.h",  # an arrow bound to a name is a unit, named after it
        "A.m.<locals>.h.<locals>.k",
        "A.gen",
        "A.v",
        "B.n",  # a class expression is named after its binding too
        "outer",
        "outer.<locals>.C.p",
        "o.q",  # an object-literal method: prefixed by the object's binding
        "default",
    ]
    assert [g.name for g in extract_file(code, lang, unit="class").graphs] == [
        "A",
        "B",
        "outer.<locals>.C",
    ]
    (file_graph,) = extract_file(code, lang, unit="file", path="src/a.js").graphs
    assert file_graph.name == "a.js" and file_graph.source == code.decode()


BOUND = """const add = (a, b) => { let s = a + b; return s; };
function sub(a, b) { return a - b; }
obj = { mul: function (a, b) { return a * b; }, m() { return 1; }, n: () => 2, inner: { deep: x => x } };
class C { f = () => { return this.g; }; #h = async () => 3; }
module.exports.x = function () { return 4; };
exports.y = x => x;
export default () => {};
var v = function named(w) { return w; }, u = 1;
arr.map(x => x * 2);
register({ hook: () => 5 }, function () {});
"""


@all_languages
def test_bound_lambdas_are_units_named_after_their_binding(lang):
    graphs = extract_file(BOUND, lang).graphs
    assert [(g.name, g.source) for g in graphs] == [
        ("add", "(a, b) => { let s = a + b; return s; }"),  # an arrow bound by a declaration
        ("sub", "function sub(a, b) { return a - b; }"),
        ("obj.mul", "function (a, b) { return a * b; }"),  # a function expression as an object member
        ("obj.m", "m() { return 1; }"),  # an object-literal method
        ("obj.n", "() => 2"),  # an arrow as an object member
        ("obj.inner.deep", "x => x"),  # nested objects: each binding a part
        ("C.f", "() => { return this.g; }"),  # a class-field arrow
        ("C.#h", "async () => 3"),
        ("module.exports.x", "function () { return 4; }"),  # an assignment to a member: its text
        ("exports.y", "x => x"),
        ("default", "() => {}"),  # export default
        ("v", "function named(w) { return w; }"),  # the binding, not the expression's own name
        ("hook", "() => 5"),  # an object passed as an argument is not bound: its member is
    ]
    # `arr.map(x => x * 2)` and the function passed to `register` are callbacks: no units
    (file_graph,) = extract_file(BOUND, lang, unit="file").graphs
    assert file_graph.source.count("=>") == 9


@all_languages
def test_a_bound_lambda_unit_is_its_own_scope(edges, lang):
    # at module level: its scope is analysed now that it is a unit, and nothing outside it is in it
    assert edges(BOUND, lang, LW, name="add") == {
        ("a@0:32", "a@0:13"),
        ("b@0:36", "b@0:16"),
        ("s@0:46", "s@0:28"),
    }
    assert edges(BOUND, lang, CFG, name="add") == {
        ("(a, b) => { let s = a + b; return s; }@0:12", "let s = a + b;@0:24"),
        ("let s = a + b;@0:24", "return s;@0:39"),
    }
    assert edges(BOUND, lang, EdgeType.RETURNS_TO, name="add") == {
        ("return s;@0:39", "(a, b) => { let s = a + b; return s; }@0:12")
    }
    assert edges(BOUND, lang, LW, name="obj.inner.deep") == {("x@2:99", "x@2:94")}
    assert edges(BOUND, lang, LW, name="v") == {("w@7:35", "w@7:23")}
    # nested: as for a nested function declaration, the enclosing unit holds the lambda's nodes and
    # its edges, and the lambda's own unit has exactly the edges inside it
    code = """
    function outer(a) {
      const inc = z => { let t = z + a; return t; };
      function inner(b) { let t = b; return t; }
      return inner(inc(a));
    }
    """
    for kind in (LW, CFG, EdgeType.RETURNS_TO, CF):
        whole = edges(code, lang, kind, name="outer")
        for name, line in (("outer.<locals>.inc", 1), ("outer.<locals>.inner", 2)):
            own = edges(code, lang, kind, name=name)
            assert own == {(s, d) for s, d in whole if f"@{line}:" in s and f"@{line}:" in d}, (kind, name)
    assert edges(code, lang, LW, name="outer.<locals>.inc") == {("t@1:43", "t@1:25"), ("z@1:29", "z@1:14")}


@all_languages
def test_syntax_error_still_yields_graphs(lang):
    result = extract_file("function f(a) {\n  let x = a +;\n  return x;\n}\n", lang)
    assert result.has_error
    (g,) = result.graphs
    assert g.name == "f" and g.has_error and g.num_nodes > 5


@all_languages
def test_deeply_nested_code_does_not_recurse(edges, lang):
    depth = 3000
    blocks = "function f(x) {\n" + "{" * depth + "x = x + 1;" + "}" * depth + "\nreturn x;\n}\n"
    parens = "function g(x) { return " + "(" * depth + "x" + ")" * depth + "; }\n"
    ifs = "function h(x) {\n" + "if (x) {\n" * 1000 + "x++;\n" + "}\n" * 1000 + "}\n"
    arrows = "const k = " + "() => " * 1000 + "1;\n"
    for code in (blocks, parens, ifs, arrows):
        result = extract_file(code, lang, unit="file")
        assert len(result) == 1 and result.num_nodes > 1000
    assert ("x@2:7", f"x@1:{depth}") in edges(blocks, lang, LW)


@pytest.mark.parametrize("lang", ["javascript", "tsx"])  # typescript inherits JSX kinds it lacks
def test_table_kinds_exist_in_grammar_and_vocabulary(lang):
    assert_table_matches_grammar(lang)
