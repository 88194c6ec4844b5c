"""Exports of one :class:`CodeGraph`: networkx, GraphViz DOT, and a picture (matplotlib).

The picture lays the syntax tree out top-down (depth = row, leaves spread left to right in source
order) and draws CHILD edges as thin grey lines and every other edge type as coloured arcs, so control
and data flow stand out over the tree.
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np

from parsers.extract import extract_file
from parsers.graph import CodeGraph, EdgeType, parse_edge_types
from parsers.languages import LANGUAGES, extension_map

COLORS: dict[EdgeType, str] = {
    EdgeType.CHILD: "#b0b0b0",
    EdgeType.NEXT_TOKEN: "#8c564b",
    EdgeType.CFG_NEXT: "#1f77b4",
    EdgeType.LAST_WRITE: "#d62728",
    EdgeType.LAST_READ: "#ff7f0e",
    EdgeType.COMPUTED_FROM: "#2ca02c",
    EdgeType.RETURNS_TO: "#9467bd",
    EdgeType.CALLS: "#e377c2",
    EdgeType.FORMAL_ARG_NAME: "#17becf",
    EdgeType.LAST_LEXICAL_USE: "#bcbd22",
    EdgeType.DATA_FLOW: "#7f7f7f",
}


class ShowGraphError(ValueError):
    """Bad input to ``galla show-graph``; the message names it and says what to do."""


def node_label(g: CodeGraph, i: int, width: int = 18) -> str:
    text = g.node_text(i).split("\n")[0]
    if len(text) > width:
        text = text[: width - 1] + "…"
    kind = g.node_types[i]
    return kind if not g.node_named[i] or text == kind else f"{kind}\n{text}"


def to_networkx(g: CodeGraph) -> nx.MultiDiGraph:
    """A ``MultiDiGraph`` with node attributes ``kind``, ``kind_id``, ``text``, ``span`` and edge
    attribute ``type`` (the edge type name)."""
    out = nx.MultiDiGraph(name=g.name, language=g.language, path=g.path)
    types = g.node_types
    for i in range(g.num_nodes):
        out.add_node(
            i,
            kind=types[i],
            kind_id=int(g.node_kind[i]),
            text=g.node_text(i),
            span=(
                int(g.node_start_line[i]),
                int(g.node_start_col[i]),
                int(g.node_end_line[i]),
                int(g.node_end_col[i]),
            ),
        )
    for s, d, t in zip(g.edge_src.tolist(), g.edge_dst.tolist(), g.edge_type.tolist(), strict=True):
        out.add_edge(s, d, type=EdgeType(t).name)
    return out


def to_dot(g: CodeGraph) -> str:
    """GraphViz DOT text; edge colours as in the picture."""

    def q(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    lines = [f"digraph {q(g.name)} {{", "  node [shape=box, fontsize=10];"]
    for i in range(g.num_nodes):
        lines.append(f"  n{i} [label={q(node_label(g, i))}];")
    for s, d, t in zip(g.edge_src.tolist(), g.edge_dst.tolist(), g.edge_type.tolist(), strict=True):
        et = EdgeType(t)
        style = "" if et == EdgeType.CHILD else ", constraint=false"
        lines.append(f"  n{s} -> n{d} [color={q(COLORS[et])}, label={q(et.name)}, fontsize=7{style}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def tree_layout(g: CodeGraph) -> np.ndarray:
    """(x, y) per node: y = -depth, x = mean of the leaf columns below (leaves in preorder)."""
    n = g.num_nodes
    parent = np.full(n, -1)
    child = np.asarray(g.edge_type) == EdgeType.CHILD
    parent[g.edge_dst[child]] = g.edge_src[child]
    depth = np.zeros(n)
    for i in range(1, n):  # preorder: parents come first
        depth[i] = depth[parent[i]] + 1 if parent[i] >= 0 else 0
    has_child = np.zeros(n, dtype=bool)
    has_child[parent[parent >= 0]] = True
    x = np.zeros(n)
    leaves = np.flatnonzero(~has_child)
    x[leaves] = np.arange(len(leaves))
    lo = np.full(n, np.inf)
    hi = np.full(n, -np.inf)
    lo[leaves] = hi[leaves] = x[leaves]
    for i in range(n - 1, 0, -1):  # children after parents in preorder: fold upwards
        p = parent[i]
        if p >= 0:
            lo[p] = min(lo[p], lo[i])
            hi[p] = max(hi[p], hi[i])
    inner = has_child
    x[inner] = (lo[inner] + hi[inner]) / 2
    return np.stack([x, -depth * 1.6], axis=1)


def draw(g: CodeGraph, out: str | Path, edges: frozenset[EdgeType] | None = None) -> None:
    """Save a picture of ``g`` (format from the suffix: png, svg, pdf)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch

    pos = tree_layout(g)
    width = max(8.0, min(60.0, (pos[:, 0].max() + 1) * 0.9))
    height = max(5.0, min(40.0, -pos[:, 1].min() * 0.9 + 2))
    fig, ax = plt.subplots(figsize=(width, height))
    shown = set()
    for s, d, t in zip(g.edge_src.tolist(), g.edge_dst.tolist(), g.edge_type.tolist(), strict=True):
        et = EdgeType(t)
        if edges is not None and et not in edges and et != EdgeType.CHILD:
            continue
        shown.add(et)
        if et == EdgeType.CHILD:
            ax.plot(*zip(pos[s], pos[d], strict=True), color=COLORS[et], lw=0.8, zorder=1)
            continue
        ax.add_patch(
            FancyArrowPatch(
                pos[s],
                pos[d],
                connectionstyle="arc3,rad=0.3",
                arrowstyle="-|>",
                mutation_scale=9,
                color=COLORS[et],
                lw=1.0,
                alpha=0.85,
                zorder=2,
            )
        )
    for i in range(g.num_nodes):
        ax.text(
            *pos[i],
            node_label(g, i),
            ha="center",
            va="center",
            fontsize=6,
            zorder=3,
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "#555555", "lw": 0.5},
        )
    handles = [Line2D([0], [0], color=COLORS[et], lw=2, label=et.name) for et in EdgeType if et in shown]
    ax.legend(handles=handles, loc="upper right", fontsize=8, frameon=True)
    ax.set_title(
        f"{g.language} {g.unit_kind} {g.name} — {g.num_nodes} nodes, {g.num_edges} edges", fontsize=10
    )
    ax.autoscale()
    ax.margins(0.03)
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def show_graph(
    target: str, out: str | Path, *, language: str | None = None, unit: str = "function", edges: str = "all"
) -> CodeGraph:
    """Extract the unit named in ``target`` (``FILE`` or ``FILE:NAME``) and write ``out``."""
    path, _, name = target.partition(":")
    if len(path) == 1 and name and name[:1] in "\\/":  # a Windows drive letter, not a separator
        path, _, name = target[2:].partition(":")
        path = target[:2] + path
    p = Path(path)
    if not p.is_file():
        raise ShowGraphError(f"'{path}' is not a file; pass FILE or FILE:FUNCTION")
    if language is not None and language not in LANGUAGES:
        raise ShowGraphError(
            f"--language '{language}' is not a supported language; choose from {', '.join(sorted(LANGUAGES))}"
        )
    lang = language or extension_map().get(p.suffix.lower())
    if lang is None:
        raise ShowGraphError(f"cannot tell the language of '{path}' from its extension; pass --language")
    suffix = Path(out).suffix.lower()
    if suffix not in (".png", ".svg", ".pdf", ".dot"):
        raise ShowGraphError(f"--out '{out}' must end in .png, .svg, .pdf or .dot")
    try:
        wanted = parse_edge_types(edges)
    except ValueError as err:
        raise ShowGraphError(str(err)) from None
    graphs = extract_file(p.read_bytes(), lang, unit=unit, path=str(p), edges=wanted).graphs  # type: ignore[arg-type]
    if not graphs:
        raise ShowGraphError(f"'{path}' has no {unit} units; try --unit file")
    if name:
        matches = [g for g in graphs if g.name == name] or [
            g for g in graphs if g.name.split(".")[-1] == name
        ]
        if not matches:
            names = ", ".join(g.name for g in graphs[:20])
            raise ShowGraphError(f"no {unit} named '{name}' in '{path}'; it has: {names}")
        g = matches[0]
    else:
        g = graphs[0]
    if suffix == ".dot":
        Path(out).write_text(to_dot(g))
    else:
        draw(g, out, wanted)
    return g
