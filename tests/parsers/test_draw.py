"""Exports of one graph: networkx, DOT and pictures from `galla show-graph`."""

from __future__ import annotations

import pytest

from galla.cli import main as cli_main
from parsers import EdgeType, extract_file
from parsers.draw import ShowGraphError, show_graph, to_dot, to_networkx, tree_layout

CODE = "def f(a):\n    b = a + 1\n    if b:\n        return b\n    return a\n\ndef g(x):\n    return f(x)\n"


def test_networkx_and_dot_carry_every_edge():
    (g, _) = extract_file(CODE, "python").graphs
    nxg = to_networkx(g)
    assert nxg.number_of_nodes() == g.num_nodes and nxg.number_of_edges() == g.num_edges
    types = {d["type"] for _, _, d in nxg.edges(data=True)}
    assert {"CHILD", "CFG_NEXT", "LAST_WRITE"} <= types
    assert nxg.nodes[0]["kind"] == "function_definition"
    dot = to_dot(g)
    assert dot.startswith('digraph "f" {') and dot.count(" -> ") == g.num_edges


def test_tree_layout_puts_children_below_parents():
    (g, _) = extract_file(CODE, "python").graphs
    pos = tree_layout(g)
    for s, d in g.edges(EdgeType.CHILD):
        assert pos[d][1] < pos[s][1]


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".svg", b"<?xml"), (".dot", b"digraph")])
def test_show_graph_writes_files(tmp_path, suffix, magic):
    src = tmp_path / "m.py"
    src.write_text(CODE)
    out = tmp_path / f"g{suffix}"
    assert cli_main(["show-graph", f"{src}:g", "--out", str(out)]) == 0
    assert out.read_bytes().startswith(magic)


def test_show_graph_errors_name_the_input(tmp_path):
    src = tmp_path / "m.py"
    src.write_text(CODE)
    with pytest.raises(ShowGraphError, match=r"no function named 'nope'.*f, g"):
        show_graph(f"{src}:nope", tmp_path / "x.png")
    with pytest.raises(ShowGraphError, match="is not a file"):
        show_graph(str(tmp_path / "missing.py"), tmp_path / "x.png")
    with pytest.raises(ShowGraphError, match=r"\.png, \.svg"):
        show_graph(str(src), tmp_path / "x.jpg")
    (tmp_path / "notes.xyz").write_text("hi")
    with pytest.raises(ShowGraphError, match="--language"):
        show_graph(str(tmp_path / "notes.xyz"), tmp_path / "x.png")
