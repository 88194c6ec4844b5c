"""Exports of one :class:`CodeGraph`: networkx, GraphViz DOT, pictures and an interactive HTML view.

Layout: where Graphviz's ``dot`` executable is on ``PATH``, galla writes the DOT text itself and lets
``dot`` lay it out and render png/svg/pdf (boxes sized to their labels, no overlaps); CHILD edges rank
the nodes as a tree and every other edge type is drawn over it without moving nodes
(``constraint=false``). Without ``dot`` the picture falls back to matplotlib and :func:`tree_layout`
(depth = row, leaves spread left to right in source order), which crowds past ~100 nodes.

Big units (over :data:`BIG_UNIT` nodes) are drawn left to right, with unnamed token leaves (operators,
keywords like ``not``) hidden and only :data:`BIG_UNIT_EDGES` drawn; ``--edges``, ``--show-tokens`` and
``--hide-tokens`` override that.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
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

BIG_UNIT = 150
"""Units with more nodes than this hide token leaves and draw only :data:`BIG_UNIT_EDGES` by default."""

BIG_UNIT_EDGES = frozenset({EdgeType.CHILD, EdgeType.CFG_NEXT, EdgeType.LAST_WRITE})
"""The tree, control flow and reaching definitions. Left out by default on big units: NEXT_TOKEN (the
leaf order the tree already shows), LAST_READ and LAST_LEXICAL_USE (they mostly run parallel to
LAST_WRITE between the same occurrences), COMPUTED_FROM (short hops inside one statement) and the call
edges (rare inside one unit)."""

FORMATS = (".png", ".svg", ".pdf", ".dot", ".html")


class ShowGraphError(ValueError):
    """Bad input to ``galla show-graph``; the message names it and says what to do."""


def node_label(g: CodeGraph, i: int, width: int = 18) -> str:
    text = g.node_text(i).split("\n")[0]
    if len(text) > width:
        text = text[: width - 1] + "…"
    kind = g.node_types[i]
    return kind if not g.node_named[i] or text == kind else f"{kind}\n{text}"


def node_span(g: CodeGraph, i: int) -> str:
    """``line:col–line:col``, 1-based as editors show them (columns in bytes)."""
    return (
        f"{int(g.node_start_line[i]) + 1}:{int(g.node_start_col[i]) + 1}"
        f"–{int(g.node_end_line[i]) + 1}:{int(g.node_end_col[i]) + 1}"
    )


@dataclass
class Selection:
    """What a picture of ``g`` shows: node ids (in preorder), ``(src, dst, type)`` edges."""

    nodes: list[int]
    edges: list[tuple[int, int, EdgeType]]
    hidden_tokens: int = 0
    types: list[EdgeType] = field(default_factory=list)
    """Edge types drawn, in :class:`EdgeType` order."""


def select(
    g: CodeGraph, edges: frozenset[EdgeType] | None = None, hide_tokens: bool | None = None
) -> Selection:
    """The nodes and edges to draw. ``edges=None``: every type, or :data:`BIG_UNIT_EDGES` on a unit over
    :data:`BIG_UNIT` nodes; CHILD is always drawn. ``hide_tokens=None``: hide unnamed token leaves (and
    unnamed nodes made only of them) on big units only. NEXT_TOKEN edges are bridged over hidden tokens
    so the chain stays unbroken."""
    big = g.num_nodes > BIG_UNIT
    if edges is None:
        edges = BIG_UNIT_EDGES if big else frozenset(EdgeType)
    edges = edges | {EdgeType.CHILD}
    hide = big if hide_tokens is None else hide_tokens
    src, dst, typ = g.edge_src.tolist(), g.edge_dst.tolist(), g.edge_type.tolist()
    hidden = np.zeros(g.num_nodes, dtype=bool)
    if hide:
        # Unnamed nodes whose children are all hidden: token leaves, and operators made of tokens
        # (Python's `not in` is an unnamed node over `not` and `in`). Children follow parents in preorder.
        hidden = np.asarray(g.node_named) == 0
        for s, d, t in sorted(zip(src, dst, typ, strict=True), key=lambda e: -e[1]):
            if t == EdgeType.CHILD and not hidden[d]:
                hidden[s] = False
        hidden[0] = False
    nxt = {s: d for s, d, t in zip(src, dst, typ, strict=True) if t == EdgeType.NEXT_TOKEN}
    out: list[tuple[int, int, EdgeType]] = []
    for s, d, t in zip(src, dst, typ, strict=True):
        et = EdgeType(t)
        if et not in edges or hidden[s]:
            continue
        if hidden[d]:
            if et != EdgeType.NEXT_TOKEN:
                continue
            seen = 0
            while d in nxt and hidden[d] and seen < g.num_nodes:
                d, seen = nxt[d], seen + 1
            if hidden[d]:
                continue
        out.append((s, d, et))
    present = {et for _, _, et in out}
    return Selection(
        nodes=[i for i in range(g.num_nodes) if not hidden[i]],
        edges=out,
        hidden_tokens=int(hidden.sum()),
        types=[et for et in EdgeType if et in present],
    )


def dot_executable() -> str | None:
    """Path of Graphviz's ``dot``, or ``None`` where it is not installed."""
    return shutil.which("dot")


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


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def title(g: CodeGraph, sel: Selection) -> str:
    head = f"{g.language} {g.unit_kind} {g.name} — {g.num_nodes} nodes, {g.num_edges} edges"
    if len(sel.nodes) == g.num_nodes and len(sel.edges) == g.num_edges:
        return head
    hidden = f", {sel.hidden_tokens} token leaves hidden" if sel.hidden_tokens else ""
    return f"{head} (drawn: {len(sel.nodes)} nodes, {len(sel.edges)} edges{hidden})"


def _hover(g: CodeGraph, i: int, width: int = 80) -> str:
    text = " ".join(g.node_text(i).split())
    if len(text) > width:
        text = text[: width - 1] + "…"
    return f"{g.node_types[i]} {node_span(g, i)}\n{text}"


def to_dot(g: CodeGraph, sel: Selection | None = None, *, legend: bool = True) -> str:
    """GraphViz DOT text of ``sel`` (default: every node and edge). Nodes have ``id="nI"`` (I = node
    index in ``g``) and a tooltip with kind, span and text; edges ``id="eK"``, the edge type as
    ``type`` and tooltip, colours as in :data:`COLORS`. Units over :data:`BIG_UNIT` nodes run left to
    right (one row per leaf, source order top to bottom), smaller ones top-down."""
    sel = sel if sel is not None else select(g, frozenset(EdgeType), hide_tokens=False)
    rankdir = "LR" if g.num_nodes > BIG_UNIT else "TB"
    lines = [
        f"digraph {_q(g.name)} {{",
        f"  graph [rankdir={rankdir}, ordering=out, nodesep=0.06, ranksep=0.35, fontname=Helvetica,"
        " fontsize=12, labelloc=t, labeljust=l];",
        '  node [shape=box, style=filled, fillcolor="#ffffff", color="#555555", fontname=Helvetica,'
        ' fontsize=10, margin="0.06,0.02", width=0.2, height=0.2];',
        "  edge [arrowsize=0.5, penwidth=0.9];",
    ]
    if legend:
        cells = "".join(
            f'<TD BGCOLOR="{COLORS[et]}" FIXEDSIZE="TRUE" WIDTH="18" HEIGHT="5"></TD>'
            f'<TD ALIGN="LEFT">{et.name}  </TD>'
            for et in sel.types
        )
        lines.append(
            f'  label=<<TABLE BORDER="0" CELLSPACING="3"><TR><TD ALIGN="LEFT">{html.escape(title(g, sel))}'
            f'</TD></TR><TR><TD ALIGN="LEFT"><TABLE BORDER="0" CELLSPACING="3"><TR>{cells}</TR></TABLE>'
            "</TD></TR></TABLE>>;"
        )
    for i in sel.nodes:
        lines.append(f"  n{i} [id=n{i}, label={_q(node_label(g, i))}, tooltip={_q(_hover(g, i))}];")
    for k, (s, d, et) in enumerate(sel.edges):
        style = "" if et == EdgeType.CHILD else ", constraint=false"
        lines.append(
            f"  n{s} -> n{d} [id=e{k}, type={et.name}, tooltip={et.name}, color={_q(COLORS[et])}{style}];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


class DotFailed(RuntimeError):
    """``dot`` exited with an error or ran too long."""


def run_dot(text: str, fmt: str, exe: str | None = None, timeout: float = 300) -> bytes:
    """Lay out and render DOT ``text`` with Graphviz (``fmt``: png, svg, pdf, ...)."""
    exe = exe or dot_executable()
    if exe is None:
        raise DotFailed("Graphviz 'dot' is not installed")
    try:
        done = subprocess.run([exe, f"-T{fmt}"], input=text.encode(), capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise DotFailed(f"dot ran past {timeout:.0f}s") from None
    except OSError as err:
        raise DotFailed(f"could not run {exe}: {err.strerror or err}") from None
    if done.returncode != 0 or not done.stdout:
        why = done.stderr.decode(errors="replace").strip().splitlines()
        raise DotFailed(f"dot exited with {done.returncode}: {why[-1] if why else 'no output'}")
    return done.stdout


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


def draw(
    g: CodeGraph,
    out: str | Path,
    edges: frozenset[EdgeType] | None = None,
    *,
    sel: Selection | None = None,
) -> None:
    """Save a matplotlib picture of ``g`` laid out by :func:`tree_layout` (format from the suffix: png,
    svg, pdf): the fallback where Graphviz is absent. ``sel`` (or ``edges``) picks what is drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch

    sel = sel if sel is not None else select(g, edges, hide_tokens=False)
    pos = tree_layout(g)
    shown_pos = pos[sel.nodes]
    width = max(8.0, min(60.0, (np.ptp(shown_pos[:, 0]) + 1) * 0.9))
    height = max(5.0, min(40.0, -pos[:, 1].min() * 0.9 + 2))
    fig, ax = plt.subplots(figsize=(width, height))
    for s, d, et in sel.edges:
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
    for i in sel.nodes:
        ax.text(
            *pos[i],
            node_label(g, i),
            ha="center",
            va="center",
            fontsize=6,
            zorder=3,
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "#555555", "lw": 0.5},
        )
    handles = [Line2D([0], [0], color=COLORS[et], lw=2, label=et.name) for et in sel.types]
    ax.legend(handles=handles, loc="upper right", fontsize=8, frameon=True)
    ax.set_title(title(g, sel), fontsize=10)
    ax.autoscale()
    ax.margins(0.03)
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


# --- the interactive HTML view ------------------------------------------------------------------

_CHAR_W, _LINE_H, _GAP = 6.0, 12.0, 36.0


def rows_layout(g: CodeGraph, sel: Selection) -> dict[int, tuple[float, float, float, float]]:
    """``(x, y, w, h)`` boxes (pixels) for the HTML view without Graphviz: left to right by depth, one
    row per leaf in source order, an inner node centred on its leaves. Boxes never overlap: a column is
    as wide as its widest label, and two nodes of one depth cover disjoint leaf rows, so their centres
    are at least a row apart."""
    parent = {d: s for s, d, et in sel.edges if et == EdgeType.CHILD}
    shown = sorted(sel.nodes)  # preorder: parents before children
    depth: dict[int, int] = {}
    for i in shown:
        depth[i] = depth[parent[i]] + 1 if i in parent and parent[i] in depth else 0
    size = {}
    for i in shown:
        lines = node_label(g, i).split("\n")
        size[i] = (max(len(s) for s in lines) * _CHAR_W + 12, len(lines) * _LINE_H + 6)
    row_h = max(h for _, h in size.values()) + 6
    inner = set(parent.values())
    lo: dict[int, float] = {}
    hi: dict[int, float] = {}
    row = 0
    for i in shown:
        if i not in inner:
            lo[i] = hi[i] = row
            row += 1
    for i in reversed(shown):
        p = parent.get(i)
        if p is not None and i in lo:
            lo[p] = min(lo.get(p, lo[i]), lo[i])
            hi[p] = max(hi.get(p, hi[i]), hi[i])
    cols: dict[int, float] = {}
    for i in shown:
        cols[depth[i]] = max(cols.get(depth[i], 0.0), size[i][0])
    left, x = {}, 10.0
    for d in sorted(cols):
        left[d], x = x, x + cols[d] + _GAP
    boxes = {}
    for i in shown:
        w, h = size[i]
        cy = 10 + row_h / 2 + (lo.get(i, 0) + hi.get(i, 0)) / 2 * row_h
        boxes[i] = (left[depth[i]], cy - h / 2, w, h)
    return boxes


def layout_svg(g: CodeGraph, sel: Selection) -> str:
    """An SVG of ``sel`` laid out by :func:`rows_layout`, with the same ids and classes as dot's SVG."""
    boxes = rows_layout(g, sel)
    width = max(x + w for x, _, w, _ in boxes.values()) + 80
    height = max(y + h for _, y, _, h in boxes.values()) + 10
    e = html.escape
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}pt" height="{height:.0f}pt"'
        f' viewBox="0 0 {width:.0f} {height:.0f}"><g id="graph0" class="graph">'
    ]
    for k, (s, d, et) in enumerate(sel.edges):
        xs, ys, ws, hs = boxes[s]
        xd, yd, wd, hd = boxes[d]
        if et == EdgeType.CHILD:
            x1, y1, x2, y2 = xs + ws, ys + hs / 2, xd, yd + hd / 2
            path = f"M{x1:.1f},{y1:.1f} C{x1 + 18:.1f},{y1:.1f} {x2 - 18:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
        else:
            x1, y1, x2, y2 = xs + ws, ys + hs / 2, xd + wd, yd + hd / 2
            bulge = 20 + 0.25 * abs(y2 - y1)
            b1, b2 = x1 + bulge, x2 + bulge
            path = f"M{x1:.1f},{y1:.1f} C{b1:.1f},{y1:.1f} {b2:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
        parts.append(
            f'<g id="e{k}" class="edge"><title>{et.name}</title><path fill="none" stroke="{COLORS[et]}"'
            f' stroke-width="{0.8 if et == EdgeType.CHILD else 1.1}" d="{path}"/></g>'
        )
    for i in sel.nodes:
        x, y, w, h = boxes[i]
        lines = node_label(g, i).split("\n")
        spans = "".join(
            f'<tspan x="{x + w / 2:.1f}" y="{y + 3 + (j + 0.8) * _LINE_H:.1f}">{e(s)}</tspan>'
            for j, s in enumerate(lines)
        )
        parts.append(
            f'<g id="n{i}" class="node"><title>{e(_hover(g, i))}</title><rect x="{x:.1f}" y="{y:.1f}"'
            f' width="{w:.1f}" height="{h:.1f}" fill="#ffffff" stroke="#555555"/><text text-anchor="middle"'
            f' font-family="Helvetica,Arial,sans-serif" font-size="10">{spans}</text></g>'
        )
    parts.append("</g></svg>")
    return "".join(parts)


def _annotate(g: CodeGraph, sel: Selection, svg: str) -> str:
    """Add ``data-kind``, ``data-text``, ``data-span`` to node groups and ``data-type`` to edge groups."""
    e = html.escape

    def node(m: re.Match) -> str:
        i = int(m.group(1))
        text = g.node_text(i)
        text = text if len(text) <= 400 else text[:399] + "…"
        return (
            f'<g id="n{i}" class="node" data-kind="{e(g.node_types[i])}" data-span="{node_span(g, i)}"'
            f' data-text="{e(text)}">'
        )

    def edge(m: re.Match) -> str:
        k = int(m.group(1))
        return f'<g id="e{k}" class="edge" data-type="{sel.edges[k][2].name}">'

    svg = re.sub(r'<g id="n(\d+)" class="node">', node, svg)
    return re.sub(r'<g id="e(\d+)" class="edge">', edge, svg)


_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
<style>
html,body{margin:0;height:100%;font:13px Helvetica,Arial,sans-serif;color:#222}
#bar{position:fixed;top:0;left:0;right:0;height:58px;padding:4px 10px;background:#f4f4f4;
 border-bottom:1px solid #ccc;box-sizing:border-box;overflow:hidden}
#bar .t{font-weight:bold;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
#legend label{margin-right:12px;white-space:nowrap;cursor:pointer}
#legend i{display:inline-block;width:18px;height:5px;vertical-align:middle;margin-right:3px}
#bar button{font-size:11px;margin-left:4px}
#view{position:fixed;top:58px;left:0;right:0;bottom:0;overflow:hidden;cursor:grab;background:#fff}
#view.drag{cursor:grabbing}
#view svg{transform-origin:0 0;position:absolute;left:0;top:0}
#info{position:fixed;right:10px;bottom:10px;max-width:45%;max-height:40%;overflow:auto;padding:6px 8px;
 background:rgba(255,255,230,.96);border:1px solid #bbb;white-space:pre-wrap;font:12px monospace;display:none}
g.node.hot polygon,g.node.hot rect,g.node.hot path{stroke:#000;stroke-width:2}
</style>
<script>window.addEventListener("error",function(e){document.documentElement.dataset.gallaError=String(e.message)});
</script></head><body>
<div id="bar"><div class="t">__TITLE__</div><div id="legend">__LEGEND__
<button id="fitw" type="button">fit width</button><button id="fit" type="button">fit all</button>
<button id="one" type="button">100%</button>
<span style="color:#777">wheel: zoom, drag: pan, hover: node</span>
</div></div>
<div id="view">__SVG__</div>
<div id="info"></div>
<script>
(function(){
var view=document.getElementById("view"),svg=view.querySelector("svg"),info=document.getElementById("info");
var s=1,x=0,y=0,drag=null;
function size(){var b=svg.getBoundingClientRect();return [b.width/s,b.height/s];}
function apply(){svg.style.transform="translate("+x+"px,"+y+"px) scale("+s+")";}
function fit(all){var r=view.getBoundingClientRect(),wh=size();
 s=Math.min(1,(r.width-20)/wh[0]);if(all)s=Math.min(s,(r.height-20)/wh[1]);
 x=Math.max(10,(r.width-wh[0]*s)/2);y=all?Math.max(10,(r.height-wh[1]*s)/2):10;apply();}
view.addEventListener("wheel",function(e){e.preventDefault();var r=view.getBoundingClientRect();
 var mx=e.clientX-r.left,my=e.clientY-r.top,n=Math.min(8,Math.max(0.02,s*Math.exp(-e.deltaY*0.0015)));
 x=mx-(mx-x)*n/s;y=my-(my-y)*n/s;s=n;apply();},{passive:false});
view.addEventListener("mousedown",function(e){drag=[e.clientX-x,e.clientY-y];view.classList.add("drag");e.preventDefault();});
window.addEventListener("mousemove",function(e){if(drag){x=e.clientX-drag[0];y=e.clientY-drag[1];apply();}});
window.addEventListener("mouseup",function(){drag=null;view.classList.remove("drag");});
var hot=null;
view.addEventListener("mouseover",function(e){var n=e.target.closest&&e.target.closest("g.node");
 if(!n||n===hot)return;if(hot)hot.classList.remove("hot");hot=n;n.classList.add("hot");
 info.textContent=n.dataset.kind+"  "+n.dataset.span+"\\n"+n.dataset.text;info.style.display="block";});
view.addEventListener("mouseleave",function(){if(hot)hot.classList.remove("hot");hot=null;info.style.display="none";});
document.querySelectorAll("#legend input").forEach(function(c){c.addEventListener("change",function(){
 document.querySelectorAll('g.edge[data-type="'+c.value+'"]').forEach(function(g){g.style.display=c.checked?"":"none";});});});
document.getElementById("fit").onclick=function(){fit(true);};
document.getElementById("fitw").onclick=function(){fit(false);};
document.getElementById("one").onclick=function(){s=1;x=10;y=10;apply();};
fit(false);
document.documentElement.dataset.galla="ready";
})();
</script></body></html>
"""


def to_html(g: CodeGraph, sel: Selection, svg: str | None = None) -> str:
    """A self-contained HTML page (no network) showing ``svg`` (dot's, or :func:`layout_svg` when
    ``None``) with pan/zoom, hover details (kind, span, text) and a legend that toggles edge types."""
    svg = svg if svg is not None else layout_svg(g, sel)
    svg = svg[svg.index("<svg") :]
    legend = "".join(
        f'<label><input type="checkbox" value="{et.name}" checked><i style="background:{COLORS[et]}"></i>'
        f"{et.name}</label>"
        for et in sel.types
    )
    page = _HTML.replace("__TITLE__", html.escape(title(g, sel))).replace("__LEGEND__", legend)
    return page.replace("__SVG__", _annotate(g, sel, svg))


# --- galla show-graph -------------------------------------------------------------------------------


def show_graph(
    target: str,
    out: str | Path,
    *,
    language: str | None = None,
    unit: str = "function",
    edges: str | None = None,
    hide_tokens: bool | None = None,
    note: Callable[[str], None] | None = None,
) -> CodeGraph:
    """Extract the unit named in ``target`` (``FILE`` or ``FILE:NAME``) and write ``out`` (.png, .svg,
    .pdf, .dot or .html). ``edges=None`` and ``hide_tokens=None`` choose by unit size (:func:`select`);
    ``note`` receives one line on how the picture was laid out when Graphviz is absent or fails."""
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
    if suffix not in FORMATS:
        raise ShowGraphError(f"--out '{out}' must end in .png, .svg, .pdf, .dot or .html")
    try:
        wanted = parse_edge_types(edges) if edges is not None else None
    except ValueError as err:
        raise ShowGraphError(str(err)) from None
    every = parse_edge_types("all")
    graphs = extract_file(p.read_bytes(), lang, unit=unit, path=str(p), edges=wanted or every).graphs  # type: ignore[arg-type]
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
    sel = select(g, wanted, hide_tokens)
    say = note or (lambda _line: None)
    if g.num_nodes > BIG_UNIT and (wanted is None or hide_tokens is None):
        chose = [f"{'+'.join(t.name for t in sel.types)} edges" if wanted is None else ""]
        chose.append(f"{sel.hidden_tokens} token leaves hidden" if hide_tokens is None else "")
        undo = [
            flag
            for flag, auto in (("--edges all", wanted is None), ("--show-tokens", hide_tokens is None))
            if auto
        ]
        say(
            f"note: {g.num_nodes} nodes (over {BIG_UNIT}): {', '.join(c for c in chose if c)};"
            f" {' / '.join(undo)} to draw everything"
        )
    if suffix == ".dot":
        Path(out).write_text(to_dot(g, sel))
        return g
    rendered: bytes | None = None
    if dot_executable() is None:
        why = "Graphviz 'dot' is not installed"
    else:
        try:
            fmt = "svg" if suffix == ".html" else suffix[1:]
            rendered = run_dot(to_dot(g, sel, legend=suffix != ".html"), fmt)
            why = ""
        except DotFailed as err:
            why = str(err)
    if suffix == ".html":
        svg = rendered.decode() if rendered is not None else None
        if svg is None:
            say(f"note: {why}; the HTML view uses galla's own row layout (install graphviz for dot's)")
        Path(out).write_text(to_html(g, sel, svg), encoding="utf-8")
    elif rendered is not None:
        Path(out).write_bytes(rendered)
    else:
        say(f"note: {why}; drawing with matplotlib's tree layout, which crowds past ~100 nodes")
        draw(g, out, sel=sel)
    return g
