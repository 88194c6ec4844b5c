"""Helpers for golden-edge tests: edges as readable ``text@line:col`` labels."""

from __future__ import annotations

import textwrap

import pytest

from parsers import CodeGraph, EdgeType, extract_file


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
