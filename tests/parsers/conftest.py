"""Helpers for golden-edge tests: edges as readable ``text@line:col`` labels.

Every test here runs once per engine: the C core (``parsers._native``, where it is built) and the
pure-Python one, so each golden edge holds for both.
"""

from __future__ import annotations

import dataclasses
import textwrap

import pytest

from parsers import CodeGraph, EdgeType, LanguageSpec, extract_file, get_language, tree
from parsers.vocab import kind_ids

ENGINES = ["native", "python"] if tree.native is not None else ["python"]


@pytest.fixture(autouse=True, params=ENGINES)
def engine(request, monkeypatch) -> str:
    """Which engine the test runs on (``python``: the C core switched off)."""
    if request.param == "python":
        monkeypatch.setattr(tree, "native", None)
    return request.param


def label(g: CodeGraph, i: int) -> str:
    """``text@line:col`` of node ``i`` (0-based line and byte column in the snippet)."""
    text = g.node_text(i).split("\n")[0]
    return f"{text}@{g.node_start_line[i]}:{g.node_start_col[i]}"


def edge_set(g: CodeGraph, kind: EdgeType) -> set[tuple[str, str]]:
    return {(label(g, s), label(g, d)) for s, d in g.edges(kind)}


def graph_of(code: str, language: str, unit: str = "function", name: str | None = None) -> CodeGraph:
    """The graph of the unit called ``name`` (the first unit when None) in a dedented snippet."""
    graphs = extract_file(textwrap.dedent(code).lstrip("\n"), language, unit=unit).graphs  # type: ignore[arg-type]
    for g in graphs:
        if name is None or g.name == name:
            return g
    raise AssertionError(f"no unit {name!r} in {[g.name for g in graphs]}")


@pytest.fixture
def edges():
    """``edges(code, language, kind, unit=..., name=...)`` -> set of (src label, dst label)."""

    def get(code: str, language: str, kind: EdgeType, unit: str = "function", name: str | None = None):
        return edge_set(graph_of(code, language, unit, name), kind)

    return get


_KIND_KEYED = (
    "compounds",
    "assignments",
    "call_kinds",
    "keyword_argument_kinds",
    "member_kinds",
    "value_required",
    "declarator_fields",
    "qualifier_fields",
    "qualified_name_fields",
)
_KIND_FIELD_PAIRS = (
    "write_fields",
    "update_fields",
    "non_variable_fields",
    "header_fields",
    "deferred_fields",
    "lambda_binders",
    "lambda_literal_names",
)


def table_kinds(spec: LanguageSpec) -> set[str]:
    """Every node kind a language table names (comment kinds aside: they never become nodes)."""
    kinds: set[str] = set()
    for f in dataclasses.fields(spec):
        value = getattr(spec, f.name)
        if f.name in _KIND_KEYED or (f.name.endswith("_kinds") and f.name != "comment_kinds"):
            kinds |= set(value)
            kinds |= set(value)
        elif f.name in _KIND_FIELD_PAIRS:
            kinds |= {k for k, _ in value}
    for c in spec.compounds.values():
        kinds |= c.clauses | c.else_kinds | c.finally_kinds | c.default_kinds | c.head_kinds | c.empty_kinds
    return kinds


def table_fields(spec: LanguageSpec) -> set[str]:
    """Every grammar field name a language table names outside its compounds."""
    fields = {f for name in _KIND_FIELD_PAIRS for _, f in getattr(spec, name) if f}
    fields |= set(spec.entry_fields) | set(spec.qualifier_fields.values()) | set(spec.value_required.values())
    fields |= {f for f in spec.declarator_fields.values() if f}
    fields |= set(spec.lambda_binders.values())
    fields |= {f for fs in spec.qualified_name_fields.values() for f in fs if f}
    return fields


def assert_table_matches_grammar(language: str) -> None:
    """The table names only kinds and fields its grammar has, and kinds the frozen vocabulary has."""
    spec = get_language(language)
    lang = spec.ts_language()
    grammar = {lang.node_kind_for_id(i) for i in range(lang.node_kind_count)}
    kinds = table_kinds(spec)
    assert kinds <= grammar, sorted(kinds - grammar)
    assert kinds <= set(kind_ids()), sorted(kinds - set(kind_ids()))
    assert spec.comment_kinds <= grammar
    assert all(lang.field_id_for_name(f) is not None for f in table_fields(spec)), table_fields(spec)
