"""The C core (``parsers._native``) gives the same graphs as the pure-Python engine, on real files."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from data_builders.corpora import stdlib_corpus
from parsers import extract_file, get_language, tree
from parsers.calls import call_edges
from parsers.compiled import compiled
from parsers.controlflow import build_cfg, flow_tables
from parsers.dataflow import _native_context, data_tables, events, native_cfg
from parsers.extract import ALL_EDGES, _covered, _unit_roots
from parsers.tree import flatten

pytestmark = pytest.mark.skipif(tree.native is None, reason="parsers._native is not built")


@pytest.fixture(autouse=True)
def engine() -> str:
    """Not run per engine (as the other tests here are): each test compares the two itself."""
    return "native"


RUNTIME = Path(__file__).resolve().parents[2] / "build" / "tree-sitter-runtime" / "lib"


def both(source: bytes, language: str, monkeypatch, **kw):
    native = extract_file(source, language, **kw)
    with monkeypatch.context() as m:
        m.setattr(tree, "native", None)
        python = extract_file(source, language, **kw)
    return native, python


def assert_same(a, b, what: str) -> None:
    assert a.names == b.names, what
    assert a.unit_has_error == b.unit_has_error, what
    assert a.sources == b.sources, what
    assert a.truncated_nodes == b.truncated_nodes and a.truncated_edges == b.truncated_edges, what
    np.testing.assert_array_equal(a.node_offsets, b.node_offsets, err_msg=what)
    np.testing.assert_array_equal(a.edge_offsets, b.edge_offsets, err_msg=what)
    assert a.columns.keys() == b.columns.keys(), what
    for k in a.columns:
        np.testing.assert_array_equal(a.columns[k], b.columns[k], err_msg=f"{what}: {k}")


def test_flat_tree_matches_the_python_walk_on_the_stdlib():
    spec = get_language("python")
    for path in stdlib_corpus()[::4]:
        src = path.read_bytes()
        a, b = flatten(src, spec, use_native=True), flatten(src, spec, use_native=False)
        for col in ("kind", "field", "start", "end", "parent", "stop"):
            assert list(getattr(a, col)) == getattr(b, col), (path, col)
            np.testing.assert_array_equal(a.array(col), b.array(col))
        assert a.error_bytes == b.error_bytes, path


def test_flat_tree_matches_on_both_sides_of_the_arena_limit():
    # files up to 1 MB are parsed with the C core's arena allocator, larger ones with malloc; taking
    # turns checks that switching the runtime's allocator back and forth leaves every tree intact
    spec = get_language("python")
    unit = b"def f(a, b):\n    x = [a + b * i for i in range(3)]  # \xc3\xa9\n    return x\n"
    small = unit * 40
    big = unit * ((1 << 20) // len(unit) + 1)
    assert len(big) > 1 << 20
    expected = {len(s): flatten(s, spec, use_native=False) for s in (small, big)}
    for src in (small, big, small, big, small):
        got, want = flatten(src, spec, use_native=True), expected[len(src)]
        for col in ("kind", "field", "start", "end", "parent", "stop"):
            assert list(getattr(got, col)) == getattr(want, col), (len(src), col)


def test_graphs_match_on_stdlib_files(monkeypatch):
    for path in stdlib_corpus()[1::6]:
        for unit in ("function", "file"):
            assert_same(*both(path.read_bytes(), "python", monkeypatch, unit=unit), f"{path} {unit}")


def test_graphs_match_under_node_and_edge_caps(monkeypatch):
    cut_nodes = cut_edges = 0
    for path in stdlib_corpus()[2::40]:
        for unit in ("function", "class", "file"):
            for caps in ({"max_nodes": 40}, {"max_edges": 90}):
                got = both(path.read_bytes(), "python", monkeypatch, unit=unit, **caps)
                assert_same(*got, f"{path} {unit} {caps}")
                cut_nodes += sum(got[0].truncated_nodes)
                cut_edges += sum(got[0].truncated_edges)
    assert cut_nodes and cut_edges


@pytest.mark.skipif(not RUNTIME.exists(), reason="no tree-sitter runtime sources under build/")
@pytest.mark.parametrize("language", ["c", "cpp"])
def test_graphs_match_on_the_tree_sitter_runtime_sources(language, monkeypatch):
    files = sorted(RUNTIME.rglob("*.[ch]"))
    assert files
    for path in files:
        assert_same(*both(path.read_bytes(), language, monkeypatch), f"{path} as {language}")


BAD = {
    "python": [
        b"def f(:\n  return (",
        b"",
        b"\xff\xfe def f(a): return a\n",
        b"def f():\n" + b"(" * 5000,
        b"def f(a=" + b"lambda b=" * 60 + b"0" + b": 0" * 60 + b"):\n    return a\n",
        b"def g(x):\n    return " + b"[" * 300 + b"y for y in x" + b"]" * 300 + b"\n",
        b"def h(x):\n    return [[z for z in y if z] for y in x if (w := y)]\n",
    ],
    "java": [b"class A { void f( { int x = ; } }", b"class A { int f() { return g(" + b"(" * 3000 + b"; } }"],
    "javascript": [b"function f(a) { return a + ; }", b"f(" * 2000],
    "typescript": [b"function f(a: number { return a }"],
    "go": [b"package m\nfunc f(a int) int { for { if a { break } }"],
    "rust": [b"fn f(a: i32) -> i32 { loop { a += 1 }"],
    "c": [b"int f(int a) { while (a) { a--; }"],
    "cpp": [b"namespace n { int A::f(int a) { return a; }"],
}


@pytest.mark.parametrize("language", sorted(BAD))
def test_graphs_match_on_broken_and_deep_input(language, monkeypatch):
    for src in BAD[language]:
        for unit in ("function", "file"):
            assert_same(*both(src, language, monkeypatch, unit=unit), f"{src[:40]!r} {unit}")


def assert_same_cfgs(src: bytes, language: str) -> int:
    """Every scope of ``src`` gets the same points, reads and successors from both CFG builders."""
    spec = get_language(language)
    ft = flatten(src, spec)
    scopes = [0] + [i for i in ft.nodes_of(flow_tables(spec).scopes) if i]
    for s in scopes:
        a, b = build_cfg(ft, spec, s), native_cfg(ft, spec, s)
        assert (a.anchor, a.reads, a.succ) == (b.anchor, b.reads, b.succ), f"{language} scope {s}"
    return len(scopes)


def test_control_flow_matches_scope_by_scope():
    scopes = sum(assert_same_cfgs(p.read_bytes(), "python") for p in stdlib_corpus()[3::5])
    for language, sources in BAD.items():
        scopes += sum(assert_same_cfgs(src, language) for src in sources)
    if RUNTIME.exists():
        for path in sorted(RUNTIME.rglob("*.c"))[:12]:
            scopes += assert_same_cfgs(path.read_bytes(), "c") + assert_same_cfgs(path.read_bytes(), "cpp")
    assert scopes > 3000


def assert_same_events(src: bytes, language: str, monkeypatch) -> None:
    """The C core's scan events (access modes included) equal the numpy ones."""
    spec = get_language(language)
    dt = data_tables(spec)
    native = events(flatten(src, spec), dt)
    with monkeypatch.context() as m:
        m.setattr(tree, "native", None)
        python = events(flatten(src, spec), dt)
    for a, b in zip(native.arrays + native._ident, python.arrays + python._ident, strict=True):
        np.testing.assert_array_equal(a, b, err_msg=language)


def test_scan_events_match(monkeypatch):
    for path in stdlib_corpus()[4::7]:
        assert_same_events(path.read_bytes(), "python", monkeypatch)
    for language, sources in BAD.items():
        for src in sources:
            assert_same_events(src, language, monkeypatch)
    for path in sorted(RUNTIME.rglob("*.c"))[:12] if RUNTIME.exists() else ():
        assert_same_events(path.read_bytes(), "c", monkeypatch)
        assert_same_events(path.read_bytes(), "cpp", monkeypatch)


def test_call_edges_match(monkeypatch):
    """All of a file's call edges (most of which no function unit keeps), with and without a mask."""
    sources = [(p.read_bytes(), "python") for p in stdlib_corpus()[5::4]]
    sources += [(src, language) for language, srcs in BAD.items() for src in srcs]
    edges = 0
    for src, language in sources:
        spec = get_language(language)
        got = []
        for native in (True, False):
            ft = flatten(src, spec)
            roots = _unit_roots(ft, spec, "function") if len(ft) else []
            with monkeypatch.context() as m:
                if not native:
                    m.setattr(tree, "native", None)
                for within in (None, _covered(ft, roots) if roots else None):
                    lists: list[list[int]] = [[], [], []]
                    call_edges(ft, spec, lists, set(ALL_EDGES), within)
                    got.append(lists)
        assert got[:2] == got[2:], language
        edges += len(got[0][0])
    assert edges > 5_000


def test_threads_share_the_core_safely():
    from concurrent.futures import ThreadPoolExecutor

    sources = [p.read_bytes() for p in stdlib_corpus()[:40]]
    alone = [extract_file(src, "python") for src in sources]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda src: extract_file(src, "python"), sources))
    for a, b in zip(alone, together, strict=True):
        assert_same(a, b, "threads")


def test_bad_tables_raise_a_clear_error():
    spec = get_language("python")
    lang = compiled(spec)
    with pytest.raises(ValueError, match="shorter than the grammar"):
        tree.native.language(dataclasses.replace(lang, keep=b"\x01"))
    ft = flatten(b"def f(a):\n    return a\n", spec)
    ctx = _native_context(ft, spec)
    with pytest.raises(ValueError, match="node out of range"):
        tree.native.scan_accesses(ctx, [10**6])
    with pytest.raises(ValueError, match="scope out of range"):
        tree.native.build_cfg(ctx, len(ft), -1)
    columns = {c: ft.array(c) for c in tree.COLUMNS}
    short_parent = {**columns, "parent": columns["parent"][:-1]}
    with pytest.raises(ValueError, match="parent array of the wrong length"):
        tree.native.file_context(lang.native(), ft.source, *short_parent.values())
    scopes = np.array([0, 10**6], dtype=np.int64)
    with pytest.raises(ValueError, match="scope out of range"):
        tree.native.scope_flows(ctx, scopes, b"", -1)
    parents_last = {**columns, "parent": columns["parent"][::-1].copy()}  # parents after their children
    with pytest.raises(ValueError, match="events: tree arrays or tables"):
        tree.native.file_context(lang.native(), ft.source, *parents_last.values())
    with pytest.raises(ValueError, match="tables of inconsistent lengths"):
        tree.native.language(dataclasses.replace(lang, flow_flags=lang.flow_flags[:2]))
    with pytest.raises(ValueError, match="inconsistent lengths"):
        tree.native.file_context(lang.native(), b"", b"\0" * 8, b"\0" * 8, b"", b"", b"", b"")


def test_galla_native_0_switches_the_core_off():
    env = {**os.environ, "GALLA_NATIVE": "0"}
    code = "from parsers import tree; print(tree.native is None)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
