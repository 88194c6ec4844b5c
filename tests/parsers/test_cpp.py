"""Golden edges for C++: range for, exceptions, lambdas, classes and namespaces, declaring conditions."""

from __future__ import annotations

from conftest import assert_table_matches_grammar

from parsers import EdgeType, extract_file
from parsers.languages import extension_map

LW, LR, CF, CFG = EdgeType.LAST_WRITE, EdgeType.LAST_READ, EdgeType.COMPUTED_FROM, EdgeType.CFG_NEXT

LOOPS = """
int sum(const std::vector<int> &xs, int n) {
    int total = 0;
    for (const auto &x : xs) {
        if (x < 0) {
            continue;
        } else if (x > n) {
            break;
        }
        total += x;
    }
    for (int i = 0, j = n; i < j; ++i, --j) {
        total -= i * j;
    }
    while (total > n) {
        total /= 2;
    }
    do {
        n++;
    } while (n < total);
    return total;
}
"""


def test_control_flow_of_branches_and_loops(edges):
    got = edges(LOOPS, "cpp", CFG)
    assert got == {
        ("int sum(const std::vector<int> &xs, int n) {@0:0", "int total = 0;@1:4"),
        ("int total = 0;@1:4", "xs@2:25"),  # the range, read once before the loop
        ("xs@2:25", "for (const auto &x : xs) {@2:4"),
        ("for (const auto &x : xs) {@2:4", "&x@2:20"),  # the declarator, bound entering the body
        ("&x@2:20", "if (x < 0) {@3:8"),
        ("for (const auto &x : xs) {@2:4", "int i = 0, j = n;@10:9"),
        ("if (x < 0) {@3:8", "continue;@4:12"),
        ("if (x < 0) {@3:8", "if (x > n) {@5:15"),
        ("continue;@4:12", "for (const auto &x : xs) {@2:4"),
        ("if (x > n) {@5:15", "break;@6:12"),
        ("if (x > n) {@5:15", "total += x;@8:8"),
        ("break;@6:12", "int i = 0, j = n;@10:9"),
        ("total += x;@8:8", "for (const auto &x : xs) {@2:4"),
        ("int i = 0, j = n;@10:9", "for (int i = 0, j = n; i < j; ++i, --j) {@10:4"),
        ("for (int i = 0, j = n; i < j; ++i, --j) {@10:4", "total -= i * j;@11:8"),
        ("for (int i = 0, j = n; i < j; ++i, --j) {@10:4", "while (total > n) {@13:4"),
        ("total -= i * j;@11:8", "++i, --j@10:34"),  # both updates, as one comma expression
        ("++i, --j@10:34", "for (int i = 0, j = n; i < j; ++i, --j) {@10:4"),
        ("while (total > n) {@13:4", "total /= 2;@14:8"),
        ("while (total > n) {@13:4", "n++;@17:8"),
        ("total /= 2;@14:8", "while (total > n) {@13:4"),
        ("n++;@17:8", "do {@16:4"),
        ("do {@16:4", "n++;@17:8"),
        ("do {@16:4", "return total;@19:4"),
    }


def test_loops_data_flow(edges):
    lw = edges(LOOPS, "cpp", LW)
    # zero-iteration paths: the initial write reaches the return along with every loop body's write
    assert {d for s, d in lw if s == "total@19:11"} == {
        "total@1:8",
        "total@8:8",
        "total@11:8",
        "total@14:8",
    }
    assert {d for s, d in lw if s == "x@8:17"} == {"x@2:21"}  # the range for writes its declarator
    assert {d for s, d in lw if s == "total@8:8"} == {"total@1:8", "total@8:8"}  # `+=` reads
    assert {d for s, d in lw if s == "j@10:31"} == {"j@10:20", "j@10:41"}  # second init, second update
    assert {d for s, d in lw if s == "n@17:8"} == {"n@0:40", "n@17:8"}  # `n++` reads n
    assert edges(LOOPS, "cpp", CF) == {
        ("x@2:21", "xs@2:25"),
        ("total@8:8", "x@8:17"),
        ("j@10:20", "n@10:24"),
        ("total@11:8", "i@11:17"),
        ("total@11:8", "j@11:21"),
    }


EXCEPTIONS = """
int parse(const std::string &text, int base) {
    int value = 0;
    try {
        value = std::stoi(text);
        if (value < 0)
            throw std::range_error("negative");
        value *= base;
    } catch (const std::range_error &e) {
        report(e);
        value = -1;
    } catch (...) {
        throw;
    }
    auto scaled = [base, &value, offset = value + 1](int k) mutable {
        int local = k * base;
        value = local + offset;
        return value;
    };
    int *buf = new int[base];
    int &ref = value;
    ref = scaled(buf[0]);
    delete[] buf;
    return ref;
}
"""


def test_try_catch_may_raise_into_every_handler(edges):
    got = edges(EXCEPTIONS, "cpp", CFG)
    catch_e, catch_all = "catch (const std::range_error &e) {@7:6", "catch (...) {@10:6"
    lam = "auto scaled = [base, &value, offset = value + 1](int k) mutable {@13:4"
    for stmt in ("value = std::stoi(text);@3:8", "if (value < 0)@4:8", "value *= base;@6:8"):
        assert {(stmt, catch_e), (stmt, catch_all)} <= got
    throw = 'throw std::range_error("negative");@5:12'
    assert {d for s, d in got if s == throw} == {catch_e, catch_all}  # a throw goes to handlers only
    assert ("value *= base;@6:8", lam) in got
    assert ("value = -1;@9:8", lam) in got
    assert not any(s == "throw;@11:8" for s, _ in got)  # a rethrow leaves the function
    lw = edges(EXCEPTIONS, "cpp", LW)
    assert ("e@8:15", "e@7:37") in lw  # the catch parameter is written
    assert {d for s, d in lw if s == "value@19:15"} == {"value@6:8", "value@9:8"}


def test_lambda_captures_do_not_leak(edges):
    lw = edges(EXCEPTIONS, "cpp", LW)
    # inside: captures are the lambda's own variables, written at its entry with its parameters
    assert {
        ("k@14:20", "k@13:57"),
        ("base@14:24", "base@13:19"),
        ("value@15:8", "value@13:26"),
        ("offset@15:24", "offset@13:33"),
        ("value@16:15", "value@15:8"),
    } <= lw
    # outside: the lambda's writes and locals are invisible
    assert not any(d in ("value@15:8", "local@14:12") for s, d in lw if s.endswith(("@19:15", "@22:11")))
    cfg = edges(EXCEPTIONS, "cpp", CFG)
    assert ("[base, &value, offset = value + 1](int k) mutable {@13:18", "int local = k * base;@14:8") in cfg
    assert (
        "auto scaled = [base, &value, offset = value + 1](int k) mutable {@13:4",
        "int *buf = new int[base];@18:4",
    ) in cfg
    returns = edges(EXCEPTIONS, "cpp", EdgeType.RETURNS_TO)
    assert ("return value;@16:8", "[base, &value, offset = value + 1](int k) mutable {@13:18") in returns
    assert ("return ref;@22:4", "int parse(const std::string &text, int base) {@0:0") in returns


def test_new_delete_references_and_strings(edges):
    lw = edges(EXCEPTIONS, "cpp", LW)
    assert {
        ("base@18:23", "base@0:39"),  # `new int[base]` reads base
        ("ref@20:4", "ref@19:9"),  # a reference declarator writes its name
        ("scaled@20:10", "scaled@13:9"),
        ("buf@20:17", "buf@18:9"),
        ("buf@21:13", "buf@18:9"),  # `delete[] buf` reads buf
        ("ref@22:11", "ref@20:4"),
    } <= lw
    cf = edges(EXCEPTIONS, "cpp", CF)
    assert {("value@3:8", "text@3:26"), ("buf@18:9", "base@18:23"), ("ref@19:9", "value@19:15")} <= cf
    assert not any(d.startswith("stoi") for _, d in cf)  # a qualified name is no variable


SWITCH = """
int pick(std::map<int, int> &m, int key) {
    int out = 0;
    switch (int k = key % 3; k) {
    case 0:
        out = k;
        [[fallthrough]];
    case 1:
        out += 1;
        break;
    default:
        out = -1;
    }
    if (auto it = m.find(key); it != m.end()) {
        out += it->second;
    }
    while (int left = out - key) {
        out -= left;
    }
    for (auto &[k2, v2] : m) {
        out += k2 * v2;
    }
    ::reset(out);
    return Helper::clamp(out) + std::max(out, 0) + twice<int>(out);
}
int twice(int z) { return 2 * z; }
int reset(int r) { return r; }
struct Helper { static int clamp(int c) { return c; } };
"""


def test_switch_fallthrough_and_declaring_conditions(edges):
    got = edges(SWITCH, "cpp", CFG, name="pick")
    sw = "switch (int k = key % 3; k) {@2:4"
    assert {d for s, d in got if s == sw} == {"case 0:@3:4", "case 1:@6:4", "default:@9:4"}
    assert {
        ("out = k;@4:8", ";@5:23"),  # `[[fallthrough]];` is an (empty) statement
        (";@5:23", "out += 1;@7:8"),  # into the next case
        ("break;@8:8", "if (auto it = m.find(key); it != m.end()) {@12:4"),
        ("out = -1;@10:8", "if (auto it = m.find(key); it != m.end()) {@12:4"),
    } <= got
    lw = edges(SWITCH, "cpp", LW, name="pick")
    assert {("k@2:29", "k@2:16"), ("k@4:14", "k@2:16")} <= lw  # the switch initialiser declares k
    assert {("it@12:31", "it@12:13"), ("it@13:15", "it@12:13")} <= lw
    assert {("left@16:15", "left@15:15"), ("left@15:15", "left@15:15")} <= lw  # rewritten per test
    assert {("k2@19:15", "k2@18:16"), ("v2@19:20", "v2@18:20")} <= lw  # structured binding
    assert {d for s, d in lw if s == "out@7:8"} == {"out@1:8", "out@4:8"}
    cf = edges(SWITCH, "cpp", CF, name="pick")
    assert {("k@2:16", "key@2:20"), ("left@15:15", "out@15:22"), ("k2@18:16", "m@18:26")} <= cf


def test_qualified_and_template_calls_resolve_to_matching_functions(edges):
    calls = edges(SWITCH, "cpp", EdgeType.CALLS, unit="file")
    assert calls == {
        ("::reset(out)@21:4", "int reset(int r) { return r; }@25:0"),
        ("Helper::clamp(out)@22:11", "static int clamp(int c) { return c; }@26:16"),
        ("twice<int>(out)@22:51", "int twice(int z) { return 2 * z; }@24:0"),
    }  # `std::max` names no function of the file
    formal = edges(SWITCH, "cpp", EdgeType.FORMAL_ARG_NAME, unit="file")
    assert formal == {("out@21:12", "r@25:14"), ("out@22:25", "c@26:37"), ("out@22:62", "z@24:14")}


CLASSES = """
namespace geo {
class Shape {
 public:
  explicit Shape(int sides) : sides_(sides) {}
  virtual ~Shape() {}
  int sides() const { return this->sides_; }
  int scaled(int k) const { return this->twice(k) + helper(sides_); }
  int twice(int v) const;
  static int helper(int q) { return q; }
  bool operator==(const Shape &o) const { return sides_ == o.sides_; }
 private:
  int sides_;
};

int Shape::twice(int v) const {
  return this->sides() * v;
}

template <typename T>
T largest(T a, T b) {
  return a > b ? a : b;
}
}  // namespace geo

namespace {
struct Point { int x, y; };
}

int main() {
  geo::Shape s(3);
  return geo::largest(s.sides(), 4);
}
"""


def test_units_and_qualified_names():
    assert extract_file(CLASSES, "cpp").names == [
        "geo.Shape.Shape",
        "geo.Shape.~Shape",
        "geo.Shape.sides",
        "geo.Shape.scaled",
        "geo.Shape.helper",
        "geo.Shape.operator==",
        "geo.Shape.twice",  # defined outside the class as `Shape::twice`
        "geo.largest",  # under `template <...>`
        "main",
    ]
    assert extract_file(CLASSES, "cpp", unit="class").names == ["geo.Shape", "Point"]
    code = """
    namespace a::b { int h() { auto f = [](int x) { return x; }; return f(1); } }
    template <> void Box<int>::put<char>(int x) {}
    Box::operator bool() const { return true; }
    void outer() { struct Local { void deep() {} }; }
    struct Fwd;
    enum class E { X, Y };
    """
    assert extract_file(code, "cpp").names == [
        "a.b.h",
        "a.b.h.<locals>.f",  # a lambda bound by `auto f = [](...) {...};`
        "Box.put",
        "Box.operator bool",
        "outer",
        "outer.<locals>.Local.deep",
    ]
    assert extract_file(code, "cpp", unit="class").names == ["outer.<locals>.Local", "E"]
    exts = extension_map()
    assert all(exts[e] == "cpp" for e in (".cc", ".cpp", ".cxx", ".hpp", ".hh", ".ipp"))
    assert exts[".h"] == "c"


def test_calls_through_this_reach_methods_defined_inside_or_outside_the_class(edges):
    calls = edges(CLASSES, "cpp", EdgeType.CALLS, unit="file")
    assert calls == {
        ("this->twice(k)@6:35", "int Shape::twice(int v) const {@14:0"),
        ("helper(sides_)@6:52", "static int helper(int q) { return q; }@8:2"),
        ("this->sides()@15:9", "int sides() const { return this->sides_; }@5:2"),  # from outside
        ("geo::largest(s.sides(), 4)@30:9", "T largest(T a, T b) {@19:0"),
    }
    formal = edges(CLASSES, "cpp", EdgeType.FORMAL_ARG_NAME, unit="file")
    assert formal == {
        ("k@6:47", "v@14:21"),
        ("sides_@6:59", "q@8:24"),
        ("s.sides()@30:22", "a@19:12"),
        ("4@30:33", "b@19:17"),
    }
    returns = edges(CLASSES, "cpp", EdgeType.RETURNS_TO, unit="class", name="geo.Shape")
    assert ("return q;@8:29", "static int helper(int q) { return q; }@8:2") in returns
    lw = edges(CLASSES, "cpp", LW, name="geo.Shape.operator==")
    assert lw == {("o@9:59", "o@9:31")}  # `sides_` and `o.sides_`: members are no local variables


def test_return_inside_seh_try_goes_through_finally(edges):
    code = """
    int r(int a) {
        __try {
            if (a)
                return a;
            a = 2;
        } __finally {
            done(a);
        }
        return a;
    }
    """
    cfg = edges(code, "cpp", CFG)
    assert ("return a;@3:12", "__finally {@5:6") in cfg
    assert ("a = 2;@4:8", "__finally {@5:6") in cfg
    assert ("done(a);@6:8", "return a;@8:4") in cfg
    lw = edges(code, "cpp", LW)
    assert {d for s, d in lw if s == "a@6:13"} == {"a@0:10", "a@4:8"}


def test_syntax_error_still_yields_graphs():
    code = "class A {\n  void f() {\n    int x = ;\n    x++;\n  }\n  void g() { return; }\n};\n"
    fg = extract_file(code, "cpp")
    assert fg.has_error
    assert fg.names == ["A.f", "A.g"]
    assert fg.unit_has_error == [True, False]
    assert all(g.num_edges > 0 for g in fg.graphs)


def test_deeply_nested_code_does_not_recurse():
    n = 3000
    blocks = "{ " * n + "a = (" + "(" * n + "a" + ")" * n + ");" + " }" * n
    (g,) = extract_file(f"namespace n {{ int f(int a) {{ {blocks} return a; }} }}", "cpp").graphs
    assert g.num_nodes > 2 * n
    ifs = "if (a > 0) { " * n + "a++;" + " }" * n
    (g,) = extract_file(f"struct D {{ void f(int a) {{ {ifs} }} }};", "cpp").graphs
    assert len(g.edges(CFG)) == n + 1  # entry, each if into the next, the innermost into `a++`
    spaces = "namespace n { " * n + "int f() { return 0; }" + " }" * n
    fg = extract_file(spaces, "cpp")
    assert fg.names == [".".join(["n"] * n + ["f"])]


def test_table_kinds_exist_in_grammar_and_vocabulary():
    assert_table_matches_grammar("cpp")


def test_lambdas_bound_to_a_name_are_units(edges):
    code = "void m() {\n  auto f = [](int a) { int b = a; return b; };\n"
    code += "  std::sort(v.begin(), v.end(), [](int p, int q) { return p < q; });\n}\n"
    code += "auto top = []() { return 1; };\n"
    graphs = extract_file(code, "cpp").graphs
    assert [(g.name, g.source) for g in graphs] == [
        ("m", code.split("\nauto top")[0]),
        ("m.<locals>.f", "[](int a) { int b = a; return b; }"),
        ("top", "[]() { return 1; }"),  # at namespace scope
    ]  # the comparator passed to `std::sort` stays part of `m`
    assert edges(code, "cpp", EdgeType.LAST_WRITE, name="m.<locals>.f") == {
        ("a@1:31", "a@1:18"),
        ("b@1:41", "b@1:27"),
    }
