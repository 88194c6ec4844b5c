"""Golden edges for what TypeScript and TSX add to JavaScript: types, typed parameters, abstract
methods, interfaces, enums, namespaces. The shared statements are tested in test_javascript.py."""

from __future__ import annotations

import pytest

from parsers import EdgeType, extract_file

LW, LR, CF, CFG = EdgeType.LAST_WRITE, EdgeType.LAST_READ, EdgeType.COMPUTED_FROM, EdgeType.CFG_NEXT
both = pytest.mark.parametrize("lang", ["typescript", "tsx"])

CODE = """
function f(a: number, b?: string, c: T = d, ...r: number[]): Foo<T> {
  let x: typeof a = a as any;
  let cb: (p: number) => void = (q: number): void => {};
  const { k = c }: Opts = r as unknown as Opts;
  return x! + p + k + b!;
}
abstract class Shape<T> implements HasArea {
  private scale: number = 1;
  [key: string]: unknown;
  constructor(private name: string, public readonly sides = 3) {
    super();
  }
  abstract area(unit: string): number;
  describe(this: Shape<T>, { unit }: Options = {}): string {
    return this.area(unit) + this.name;
  }
}
interface HasArea { area(unit: string): number; }
enum Color { Red = 1, Green }
type Alias = { a: number } | typeof f;
function overload(x: number): number;
function overload(x: any) { return new Shape(Color.Red); }
namespace NS { export const v = overload(1); }
const made: Shape<number> = new Shape(Color.Red, f);
"""


@both
def test_types_are_neither_read_nor_written(edges, lang):
    assert edges(CODE, lang, LW, name="f") == {
        ("a@1:20", "a@0:11"),  # `typeof a` in the annotation is no read
        ("c@3:14", "c@0:34"),
        ("r@3:26", "r@0:47"),  # the rest parameter's pattern is written
        ("x@4:9", "x@1:6"),  # `x!` reads x
        ("k@4:18", "k@3:10"),
        ("b@4:22", "b@0:22"),  # an optional parameter is written
    }
    assert edges(CODE, lang, LR, name="f") == set()  # so `a as any` follows no earlier read of a
    # `p` of the function type `(p: number) => void` is not written: its read at 4:14 sees nothing
    assert not any(s.startswith("p@") or d.startswith("p@") for s, d in edges(CODE, lang, LW, name="f"))


@both
def test_parameter_defaults_and_typed_patterns(edges, lang):
    assert edges(CODE, lang, CF, name="f") == {
        ("c@0:34", "d@0:41"),  # a default value flows into its parameter
        ("x@1:6", "a@1:20"),
        ("k@3:10", "c@3:14"),
        ("k@3:10", "r@3:26"),
    }
    cfg = edges(CODE, lang, CFG, name="f")
    assert (
        "function f(a: number, b?: string, c: T = d, ...r: number[]): Foo<T> {@0:0",
        "let x: typeof a = a as any;@1:2",
    ) in cfg
    assert ("const { k = c }: Opts = r as unknown as Opts;@3:2", "return x! + p + k + b!;@4:2") in cfg


@both
def test_abstract_method_calls_through_this(edges, lang):
    assert edges(CODE, lang, EdgeType.CALLS, unit="class", name="Shape") == {
        ("this.area(unit)@14:11", "abstract area(unit: string): number@12:2")
    }
    # the `this` parameter is no formal: `unit` binds to area's first parameter
    assert edges(CODE, lang, EdgeType.FORMAL_ARG_NAME, unit="class", name="Shape") == {
        ("unit@14:21", "unit@12:16")
    }
    assert edges(CODE, lang, LW, unit="class", name="Shape") == {("unit@14:21", "unit@13:29")}
    cfg = edges(CODE, lang, CFG, unit="class", name="Shape")
    # the class body runs its field initialisers; index signatures and methods are not statements
    assert {d for s, d in cfg if s == "{@6:43"} == {"private scale: number = 1@7:2"}
    assert ("constructor(private name: string, public readonly sides = 3) {@9:2", "super();@10:4") in cfg


@both
def test_class_and_enum_names_are_written_type_positions_are_not_reads(edges, lang):
    lw = edges(CODE, lang, LW, unit="file")
    assert ("Shape@23:32", "Shape@6:15") in lw  # a class name is a type_identifier, still written
    assert ("Color@23:38", "Color@18:5") in lw
    assert ("f@23:49", "f@0:9") in lw
    assert edges(CODE, lang, LR, unit="file") == set()  # `typeof f` in the alias was no read
    cf = edges(CODE, lang, CF, unit="file")
    assert ("v@22:28", "overload@22:32") in cf  # a namespace is a scope of its own
    assert ("namespace NS { export const v = overload(1); }@22:0", "export const v = overload(1);@22:15") in (
        edges(CODE, lang, CFG, unit="file")
    )
    calls = edges(CODE, lang, EdgeType.CALLS, unit="file")
    # the overload signature is no unit and no call target: only the implementation is
    assert ("overload(1)@22:32", "function overload(x: any) { return new Shape(Color.Red); }@21:0") in calls
    assert not any(d.startswith("function overload(x: number)") for _, d in calls)


@both
def test_units_and_names(lang):
    fn = extract_file(CODE, lang).graphs
    assert [g.name for g in fn] == [
        "f",
        "f.<locals>.cb",  # a typed arrow bound to a name: its type annotation names nothing
        "Shape.constructor",
        "Shape.area",
        "Shape.describe",
        "overload",
    ]
    assert [g.name for g in extract_file(CODE, lang, unit="class").graphs] == ["Shape", "HasArea", "Color"]
    area = fn[3]
    assert area.source == "abstract area(unit: string): number" and len(area.edges(CFG)) == 0


def test_tsx_components_generics_and_type_predicates(edges):
    code = """
    const identity = <T,>(value: T): T => value;
    export function List<T extends Item>({ items, render }: Props<T>): JSX.Element {
      const [open, setOpen] = useState<boolean>(false);
      const shown = items.filter((it): it is T => it.visible) as T[];
      return <ul onClick={() => setOpen(!open)}>{shown.map(render)}</ul>;
    }
    """
    assert edges(code, "tsx", LW, name="List") == {
        ("items@3:16", "items@1:39"),
        ("it@3:46", "it@3:30"),  # `it is T` is a type, not a read
        ("shown@4:45", "shown@3:8"),
        ("render@4:55", "render@1:46"),
    }
    assert edges(code, "tsx", CF, name="List") == {
        ("open@2:9", "useState@2:26"),
        ("setOpen@2:15", "useState@2:26"),
        ("shown@3:8", "items@3:16"),
    }
    # a generic arrow bound to a name is a unit; the callbacks passed as arguments are not
    assert [g.name for g in extract_file(code, "tsx").graphs] == ["identity", "List"]
    assert edges(code, "tsx", LW, name="identity") == {("value@0:38", "value@0:22")}


@both
def test_syntax_error_still_yields_graphs(lang):
    result = extract_file("class A {\n  m(x: number {\n    return x;\n  }\n}\n", lang, unit="class")
    assert result.has_error
    (g,) = result.graphs
    assert g.name == "A" and g.has_error
