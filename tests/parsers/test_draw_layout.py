"""Readable pictures of big units (issue 17): Graphviz layout without overlapping boxes, the defaults
for units over ``BIG_UNIT`` nodes, the fallback without ``dot``, and the HTML view in a real browser.

The big unit is ``argparse._ActionsContainer.add_argument`` from the running interpreter's stdlib
(310 nodes on CPython 3.11). Tests that need Graphviz's ``dot`` or Chromium skip, saying so, where
those are not installed."""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import galla.cli
from galla.cli import main as cli_main
from parsers import EdgeType, extract_file
from parsers import draw as draw_mod
from parsers.draw import BIG_UNIT, BIG_UNIT_EDGES, node_label, node_span, rows_layout, run_dot, select, to_dot

BIG_NAME = "_ActionsContainer.add_argument"
BIG_TARGET = f"{argparse.__file__}:{BIG_NAME}"
SVG = "{http://www.w3.org/2000/svg}"
needs_dot = pytest.mark.skipif(draw_mod.dot_executable() is None, reason="Graphviz 'dot' is not installed")
CHROMIUM = next(
    (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None
)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no chromium / google-chrome on PATH")


@pytest.fixture(autouse=True)
def engine() -> str:
    """One engine is enough here (conftest's runs every test on both): these test pictures, not graphs."""
    return "default"


@pytest.fixture(scope="module")
def big():
    graphs = extract_file(Path(argparse.__file__).read_bytes(), "python", path=argparse.__file__).graphs
    (g,) = [g for g in graphs if g.name == BIG_NAME]
    assert g.num_nodes >= 280, f"{BIG_NAME} has only {g.num_nodes} nodes in this Python's argparse"
    return g


def _overlaps(boxes: np.ndarray, tol: float = 0.5) -> list[tuple[int, int]]:
    """Index pairs of (x0, y0, x1, y1) boxes whose interiors intersect by more than ``tol``."""
    x0, y0, x1, y1 = (boxes[:, k] for k in range(4))
    ox = np.minimum(x1[:, None], x1[None, :]) - np.maximum(x0[:, None], x0[None, :])
    oy = np.minimum(y1[:, None], y1[None, :]) - np.maximum(y0[:, None], y0[None, :])
    hit = (ox > tol) & (oy > tol)
    np.fill_diagonal(hit, False)
    return [(int(a), int(b)) for a, b in zip(*np.nonzero(np.triu(hit)), strict=True)]


def _svg_nodes(svg: bytes) -> dict[int, tuple[tuple[float, float, float, float], list[float]]]:
    """Node index -> (box of its outline, x of its label lines) from dot's SVG."""
    out = {}
    for grp in ET.fromstring(svg).iter(f"{SVG}g"):
        if grp.get("class") != "node":
            continue
        (poly,) = grp.iter(f"{SVG}polygon")
        pts = np.array([[float(v) for v in p.split(",")] for p in poly.get("points").split()])
        xs = [float(t.get("x")) for t in grp.iter(f"{SVG}text")]
        out[int(grp.get("id")[1:])] = ((*pts.min(axis=0), *pts.max(axis=0)), xs)
    return out


def test_big_units_hide_tokens_and_draw_fewer_edge_types(big):
    sel = select(big)
    hidden = set(range(big.num_nodes)) - set(sel.nodes)
    assert sel.hidden_tokens == len(hidden) > 0 and 0 not in hidden
    assert all(big.node_named[i] == 0 for i in hidden)
    children = big.edges(EdgeType.CHILD)
    assert all(d in hidden for s, d in children if s in hidden)  # whole token subtrees go
    assert {big.node_types[i] for i in hidden} >= {"=", "not in", "is not"}
    assert {et for *_, et in sel.edges} == BIG_UNIT_EDGES
    assert not {s for s, _, _ in sel.edges} & hidden and not {d for _, d, _ in sel.edges} & hidden
    everything = select(big, frozenset(EdgeType), hide_tokens=False)
    assert len(everything.nodes) == big.num_nodes and len(everything.edges) == big.num_edges
    # The CLI spells the defaults out (so building its parser imports nothing heavy); they must agree.
    assert galla.cli.SHOW_GRAPH_BIG == BIG_UNIT
    assert "+".join(t.name for t in EdgeType if t in BIG_UNIT_EDGES) == galla.cli.SHOW_GRAPH_BIG_EDGES


def test_next_token_chain_is_bridged_over_hidden_tokens(big):
    sel = select(big, frozenset(EdgeType), hide_tokens=True)
    chain = [(s, d) for s, d, et in sel.edges if et == EdgeType.NEXT_TOKEN]
    before = big.edges(EdgeType.NEXT_TOKEN)
    hidden = set(range(big.num_nodes)) - set(sel.nodes)
    in_chain = {i for e in before for i in e} & hidden
    assert in_chain and len(chain) == len(before) - len(in_chain)
    assert not {i for e in chain for i in e} & hidden
    srcs, dsts = [s for s, _ in chain], [d for _, d in chain]
    assert len(set(srcs)) == len(srcs) and len(set(dsts)) == len(dsts)  # still one unbroken chain
    assert len(set(srcs) - set(dsts)) == 1


def test_small_units_draw_everything():
    (g,) = extract_file("def f(a):\n    return -a if a else not a\n", "python").graphs
    sel = select(g)
    assert g.num_nodes <= BIG_UNIT and len(sel.nodes) == g.num_nodes and len(sel.edges) == g.num_edges
    assert "rankdir=TB" in to_dot(g)


def test_the_fallback_row_layout_never_overlaps(big):
    for sel in (select(big), select(big, frozenset(EdgeType), hide_tokens=False)):
        boxes = rows_layout(big, sel)
        assert sorted(boxes) == sorted(sel.nodes)
        arr = np.array([(x, y, x + w, y + h) for x, y, w, h in boxes.values()])
        assert _overlaps(arr, tol=0.0) == []


@needs_dot
@pytest.mark.parametrize("everything", [False, True], ids=["defaults", "all-edges-all-tokens"])
def test_dot_lays_out_a_300_node_method_without_overlaps(big, everything):
    sel = select(big, frozenset(EdgeType), hide_tokens=False) if everything else select(big)
    nodes = _svg_nodes(run_dot(to_dot(big, sel), "svg"))
    assert sorted(nodes) == sorted(sel.nodes)
    boxes = np.array([box for box, _ in nodes.values()])
    assert _overlaps(boxes) == []
    for (x0, _, x1, _), xs in nodes.values():  # every label line sits inside its own box
        assert xs and all(x0 < x < x1 for x in xs)
    for i, ((x0, _, x1, _), _) in nodes.items():  # boxes sized to their labels, not shrunk to dots
        assert x1 - x0 >= 4 * max(len(line) for line in node_label(big, i).split("\n"))


@needs_dot
@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".svg", b"<?xml"), (".pdf", b"%PDF")])
def test_show_graph_renders_through_dot(tmp_path, capsys, suffix, magic):
    out = tmp_path / f"g{suffix}"
    assert cli_main(["show-graph", BIG_TARGET, "--out", str(out)]) == 0
    assert out.read_bytes().startswith(magic)
    err = capsys.readouterr().err
    assert "CHILD+CFG_NEXT+LAST_WRITE edges" in err and "token leaves hidden" in err
    assert "Graphviz" not in err  # no fallback note
    if suffix == ".svg":
        assert b"Generated by graphviz" in out.read_bytes()[:400]


def test_without_dot_the_picture_falls_back_with_one_note(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(draw_mod, "dot_executable", lambda: None)
    src = tmp_path / "m.py"
    src.write_text("def f(a):\n    return a + 1\n")
    out = tmp_path / "g.png"
    assert cli_main(["show-graph", str(src), "--out", str(out)]) == 0
    assert out.read_bytes().startswith(b"\x89PNG")
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert notes == [
        "note: Graphviz 'dot' is not installed; drawing with matplotlib's tree layout, which "
        "crowds past ~100 nodes"
    ]


def test_a_failing_dot_falls_back_and_says_why(tmp_path, capsys, monkeypatch):
    false = shutil.which("false")
    if false is None:
        pytest.skip("no 'false' executable to stand in for a broken dot")
    monkeypatch.setattr(draw_mod, "dot_executable", lambda: false)
    src = tmp_path / "m.py"
    src.write_text("def f(a):\n    return a + 1\n")
    assert cli_main(["show-graph", str(src), "--out", str(tmp_path / "g.svg")]) == 0
    assert "note: dot exited with 1" in capsys.readouterr().err
    assert (tmp_path / "g.svg").read_bytes().startswith(b"<?xml")  # matplotlib's


def _check_html(page: str, big, sel) -> None:
    assert not re.search(r"<script[^>]+src=|<link|@import|url\(|fetch\(", page)  # self-contained
    assert not re.search(r"(?:src|href)=\"https?:", page)
    nodes = re.findall(
        r'<g id="n(\d+)" class="node" data-kind="([^"]*)" data-span="([^"]*)" data-text="', page
    )
    assert sorted(int(i) for i, _, _ in nodes) == sorted(sel.nodes)
    for i, kind, span in nodes:
        i = int(i)
        assert kind == big.node_types[i]
        assert span == (
            f"{big.node_start_line[i] + 1}:{big.node_start_col[i] + 1}–"
            f"{big.node_end_line[i] + 1}:{big.node_end_col[i] + 1}"
        )
    assert len(re.findall(r'class="edge" data-type="', page)) == len(sel.edges)
    for et in sel.types:
        assert f'<input type="checkbox" value="{et.name}" checked>' in page


@pytest.mark.parametrize("with_dot", [False, pytest.param(True, marks=needs_dot)], ids=["own-layout", "dot"])
def test_html_view_is_self_contained_with_hover_data(tmp_path, big, with_dot, monkeypatch):
    if not with_dot:
        monkeypatch.setattr(draw_mod, "dot_executable", lambda: None)
    out = tmp_path / "view.html"
    notes: list[str] = []
    draw_mod.show_graph(BIG_TARGET, out, note=notes.append)
    _check_html(out.read_text(encoding="utf-8"), big, select(big))
    assert any("own row layout" in n for n in notes) != with_dot


def _chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--enable-logging=stderr",
            "--v=0",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=3000",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


@needs_chromium
@pytest.mark.parametrize("with_dot", [False, pytest.param(True, marks=needs_dot)], ids=["own-layout", "dot"])
def test_html_view_runs_in_chromium(tmp_path, big, with_dot, monkeypatch):
    if not with_dot:
        monkeypatch.setattr(draw_mod, "dot_executable", lambda: None)
    out = tmp_path / "view.html"
    draw_mod.show_graph(BIG_TARGET, out)
    # A copy that hovers the root node and zooms with the wheel once the page's own script has run.
    probe = tmp_path / "probe.html"
    probe.write_text(
        out.read_text(encoding="utf-8").replace(
            "</body>",
            '<script>var n=document.getElementById("n0");'
            'n.dispatchEvent(new MouseEvent("mouseover",{bubbles:true}));'
            'document.getElementById("view").dispatchEvent(new WheelEvent("wheel",'
            "{bubbles:true,cancelable:true,deltaY:-300,clientX:300,clientY:300}));</script></body>",
        ),
        encoding="utf-8",
    )
    done = _chromium("--dump-dom", probe.as_uri(), profile=tmp_path / "profile")
    dom = done.stdout
    assert 'data-galla="ready"' in dom, done.stderr[-2000:]
    assert "data-galla-error" not in dom
    assert not re.search(r"Uncaught|CONSOLE.*(?:Error|error)", done.stderr), done.stderr[-2000:]
    assert len(re.findall(r'class="node[^"]*" data-kind=', dom)) == len(select(big).nodes)
    info = re.search(r'<div id="info" style="display: block;">([^<]*)</div>', dom)
    assert info and info.group(1).startswith(f"function_definition  {node_span(big, 0)}\ndef add_argument(")
    assert re.search(r'<svg[^>]+style="transform: translate\([^)]*\) scale\(([0-9.]+)\)', dom)

    shot = tmp_path / "shot.png"
    done = _chromium("--window-size=1400,900", f"--screenshot={shot}", out.as_uri(), profile=tmp_path / "p2")
    assert shot.is_file(), done.stderr[-2000:]
    import matplotlib.image

    img = matplotlib.image.imread(str(shot))[..., :3]
    assert img.shape[:2] == (900, 1400)
    dark = (img < 0.6).any(axis=2)
    assert dark[80:].mean() > 0.01  # lines and labels below the toolbar, not a blank page
    assert (np.abs(img[80:] - img[80:].mean(axis=(0, 1))).max(axis=2) > 0.2).mean() > 0.01


@pytest.mark.parametrize(
    "flags, all_nodes, all_edges",
    [
        ([], False, False),
        (["--show-tokens"], True, False),
        (["--edges", "all"], False, True),
        (["--show-tokens", "--edges", "all"], True, True),
    ],
)
def test_cli_flags_override_the_big_unit_defaults(tmp_path, capsys, big, flags, all_nodes, all_edges):
    out = tmp_path / "g.dot"
    assert cli_main(["show-graph", BIG_TARGET, "--out", str(out), *flags]) == 0
    dot = out.read_text()
    n_nodes = len(re.findall(r"^  n\d+ \[id=n", dot, re.M))
    types = set(re.findall(r" type=(\w+),", dot))
    assert (n_nodes == big.num_nodes) == all_nodes
    assert (types == set(big.edge_counts())) == all_edges
    assert (dot.count(" -> ") == big.num_edges) == (all_nodes and all_edges)
    assert "rankdir=LR" in dot
    err = capsys.readouterr().err
    assert ("note:" in err) == (not (all_nodes and all_edges))


def test_hide_tokens_applies_to_small_units_too(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("def f(a):\n    return a + 1\n")
    out = tmp_path / "g.dot"
    assert cli_main(["show-graph", str(src), "--out", str(out)]) == 0
    assert 'label="+"' in out.read_text()
    assert cli_main(["show-graph", str(src), "--out", str(out), "--hide-tokens"]) == 0
    assert 'label="+"' not in out.read_text()
    with pytest.raises(SystemExit, match="2"):
        cli_main(["show-graph", str(src), "--out", str(out), "--hide-tokens", "--show-tokens"])
