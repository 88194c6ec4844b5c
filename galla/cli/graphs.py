"""``galla build-graphs`` and ``galla show-graph``: flags in, a call into ``data_builders`` / ``parsers``
out, and the summary printed."""

from __future__ import annotations

import argparse
from pathlib import Path

from galla.cli._common import at_least as _at_least
from galla.cli._common import console
from galla.cli._common import error as _error
from galla.cli._common import key_values as _key_values

# --- build-graphs -----------------------------------------------------------------------------


def add_build_graphs(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "build-graphs",
        help="parse repositories into code graphs (AST, control flow, data flow) and write a dataset",
        description="Walk repositories (honouring .gitignore), or read a dataset's rows (--from-dataset), "
        "parse every supported source file with tree-sitter and write one graph per unit as a Hugging Face "
        "`datasets` dataset plus manifest.json.",
    )
    p.add_argument("paths", nargs="*", help="repository directories and/or source files")
    p.add_argument(
        "--from-dataset",
        default="",
        metavar="SOURCE",
        help="read files from a dataset's rows instead: a parquet or JSONL file or folder, a save_to_disk "
        "folder, or a hub dataset id (streamed)",
    )
    p.add_argument(
        "--content-column", default="content", help="--from-dataset: column holding each file's text"
    )
    p.add_argument(
        "--path-column",
        default="",
        help="--from-dataset: column(s) giving each file's path, comma-separated and joined with '/' "
        "(default: 'path' if present, else rows are named row-N)",
    )
    p.add_argument(
        "--language-column",
        default="",
        help="--from-dataset: column naming each row's language (Python, C++, js, ...; else by extension)",
    )
    p.add_argument(
        "--split", default="", help="--from-dataset: split of a hub dataset (train) or saved DatasetDict"
    )
    p.add_argument("--out", required=True, type=Path, help="output directory")
    p.add_argument(
        "--unit", default="function", choices=["function", "class", "file"], help="what one graph covers"
    )
    p.add_argument(
        "--edges", default="all", help="edge kinds: all, or groups/names like ast,cfg,dfg,calls,LAST_WRITE"
    )
    p.add_argument("--workers", type=int, default=0, help="processes (default: all cores)")
    p.add_argument(
        "--num-shards", type=_at_least(1), default=1, help="split the corpus into N deterministic shards"
    )
    p.add_argument(
        "--shard-index", type=_at_least(0), default=0, help="which shard this run builds (0-based)"
    )
    p.add_argument(
        "--format",
        default="arrow",
        choices=["arrow", "galla-jsonl"],
        help="galla-jsonl also writes graphs.jsonl in the official GALLa record format",
    )
    p.add_argument("--node-text", action="store_true", help="galla-jsonl: add each node's source text")
    p.add_argument(
        "--language",
        action="append",
        default=[],
        metavar="PATTERN=LANG",
        help="map a glob or extension to a language, e.g. '*.h=cpp' (repeatable)",
    )
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="PATTERN",
        help="gitignore-style pattern to leave out, e.g. 'test/' (repeatable)",
    )
    p.add_argument("--max-file-bytes", type=int, default=1_000_000, help="skip larger files (default 1 MB)")
    p.add_argument("--max-nodes", type=int, default=50_000, help="per-unit node cap (counted truncation)")
    p.add_argument("--max-edges", type=int, default=500_000, help="per-unit edge cap (counted truncation)")
    p.add_argument(
        "--skip-errors", action="store_true", help="drop units with syntax errors (default: keep, flagged)"
    )
    p.add_argument("--no-gitignore", action="store_true", help="do not apply .gitignore rules")
    p.add_argument(
        "--include-vendored", action="store_true", help="walk node_modules, vendor, build, ... too"
    )
    p.add_argument(
        "--include-generated",
        action="store_true",
        help="keep files marked as generated (*_pb2.py, DO NOT EDIT / @generated headers)",
    )
    p.add_argument(
        "--no-cache", action="store_true", help="do not read or write the per-file cache in OUT/.cache"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=cmd_build_graphs)


def cmd_build_graphs(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from data_builders.build import BuildError, BuildOptions, build_graphs
    from data_builders.outputs import write_failure

    opts = BuildOptions(
        paths=[str(p) for p in args.paths],
        out=args.out,
        unit=args.unit,
        edges=args.edges,
        workers=args.workers,
        num_shards=args.num_shards,
        shard_index=args.shard_index,
        format=args.format,
        node_text=args.node_text,
        languages=_key_values(args.language, "--language"),
        exclude=list(args.exclude),
        max_file_bytes=args.max_file_bytes,
        max_nodes=args.max_nodes,
        max_edges=args.max_edges,
        skip_errors=args.skip_errors,
        respect_gitignore=not args.no_gitignore,
        include_vendored=args.include_vendored,
        include_generated=args.include_generated,
        cache=not args.no_cache,
        from_dataset=args.from_dataset,
        content_column=args.content_column,
        path_column=args.path_column,
        language_column=args.language_column,
        split=args.split,
    )
    try:
        opts.validate()  # before the progress bar, so that a bad option is the only line
    except BuildError as err:
        _error(f"galla build-graphs: {err}")
        return 2
    progress = Progress(
        TextColumn("[bold]build-graphs"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files · {task.fields[units]:,} units"),
        TimeRemainingColumn(),
        console=console,
        disable=args.quiet,
        transient=False,
    )
    task = progress.add_task("files", total=None, units=0)
    units = 0

    def on_file(done: int, total: int | None, outcome) -> None:
        nonlocal units
        units += outcome.units
        progress.update(task, completed=done, units=units)
        if total is not None:
            progress.update(task, total=total)

    try:
        with progress:
            report = build_graphs(opts, progress=on_file, on_files=lambda n: progress.update(task, total=n))
    except BuildError as err:
        _error(f"galla build-graphs: {err}")
        return 2
    except OSError as err:  # a full disk or a read-only mount met while writing
        _error(f"galla build-graphs: {write_failure(err, '--out', args.out)}")
        return 2
    if not args.quiet:
        print_build_summary(report)
    return 0


def print_build_summary(report) -> None:
    from rich.table import Table

    m = report.manifest
    t = m["totals"]
    table = Table(title=f"galla build-graphs → {report.out}", show_edge=False)
    for col in ("language", "files", "MB", "units", "nodes", "edges", "syntax errors"):
        table.add_column(col, justify="right" if col != "language" else "left")
    for lang, c in m["languages"].items():
        table.add_row(
            lang,
            f"{c['files']:,}",
            f"{c['bytes'] / 1e6:.1f}",
            f"{c['units']:,}",
            f"{c['nodes']:,}",
            f"{c['edges']:,}",
            f"{c['files_with_syntax_errors']:,}",
        )
    console.print(table)
    edges = ", ".join(f"{k} {v:,}" for k, v in sorted(m["edge_counts"].items(), key=lambda kv: -kv[1]))
    console.print(f"edges: {edges or 'none'}")
    rate = t["bytes"] / 1e6 / report.seconds if report.seconds else 0.0
    from parsers import tree

    engine = "C core" if tree.native is not None else "pure-Python engine (run setup.sh to build the C core)"
    console.print(
        f"{t['units']:,} units from {t['files_parsed']:,} files in {report.seconds:.1f} s ({rate:.1f} MB/s); "
        f"{report.cached_files:,} files from cache; {engine}"
    )
    if t["files_skipped"]:
        reasons = ", ".join(f"{k} {v}" for k, v in m["skipped_by_reason"].items())
        console.print(f"skipped {t['files_skipped']:,} files/dirs ({reasons}); details in manifest.json")
    if t["files_failed"]:
        console.print(
            f"[yellow]{t['files_failed']} files failed to extract; see 'failed' in manifest.json[/yellow]"
        )
    if t["units_with_syntax_errors"]:
        action = "dropped" if m["options"]["skip_errors"] else "kept with has_error=True"
        console.print(f"{t['units_with_syntax_errors']:,} units had syntax errors ({action})")
    if t["units_truncated"]:
        console.print(f"{t['units_truncated']:,} units hit --max-nodes/--max-edges and were truncated")
    if t["files_found"] == 0:
        console.print("[yellow]no source files found; check the paths and --language overrides[/yellow]")


# --- show-graph -------------------------------------------------------------------------------


# parsers.draw.BIG_UNIT and BIG_UNIT_EDGES, written out so that building the parser imports nothing heavy
# (test_draw checks they agree).
SHOW_GRAPH_BIG = 150
SHOW_GRAPH_BIG_EDGES = "CHILD+CFG_NEXT+LAST_WRITE"


def add_show_graph(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "show-graph",
        help="draw one unit's graph (PNG/SVG/PDF, an interactive HTML view) or write it as GraphViz DOT",
        description="Draw the graph of one function (FILE:NAME) or of the first unit in FILE, with each "
        "edge type in its own colour. Laid out by Graphviz 'dot' where it is installed, else by a built-in "
        f"tree layout. Units over {SHOW_GRAPH_BIG} nodes hide token leaves and draw only "
        f"{SHOW_GRAPH_BIG_EDGES} edges unless told otherwise.",
    )
    p.add_argument("target", help="FILE or FILE:FUNCTION (qualified names like Class.method work)")
    p.add_argument(
        "--out",
        required=True,
        type=Path,
        help="output file: .png, .svg, .pdf, .dot or .html (self-contained page with pan/zoom and hover)",
    )
    p.add_argument("--language", help="language name (default: from the file extension)")
    p.add_argument("--unit", default="function", choices=["function", "class", "file"])
    p.add_argument(
        "--edges",
        default=None,
        help="edge kinds to draw, e.g. 'all' or 'cfg,LAST_WRITE' (CHILD is always drawn; default: all, or "
        f"{SHOW_GRAPH_BIG_EDGES} on units over {SHOW_GRAPH_BIG} nodes)",
    )
    tokens = p.add_mutually_exclusive_group()
    tokens.add_argument(
        "--hide-tokens",
        dest="hide_tokens",
        action="store_const",
        const=True,
        default=None,
        help=f"hide unnamed token leaves (operators); the default on units over {SHOW_GRAPH_BIG} nodes",
    )
    tokens.add_argument(
        "--show-tokens", dest="hide_tokens", action="store_const", const=False, help="draw every token leaf"
    )
    p.set_defaults(func=cmd_show_graph)


def cmd_show_graph(args: argparse.Namespace) -> int:
    from data_builders.outputs import output_problem, write_failure
    from parsers.draw import ShowGraphError, show_graph

    problem = output_problem(args.out, "--out", folder=False)
    if problem:
        _error(f"galla show-graph: {problem}")
        return 2
    try:
        g = show_graph(
            args.target,
            args.out,
            language=args.language,
            unit=args.unit,
            edges=args.edges,
            hide_tokens=args.hide_tokens,
            note=lambda line: console.print(line, style="yellow", markup=False, highlight=False),
        )
    except ShowGraphError as err:
        _error(f"galla show-graph: {err}")
        return 2
    except OSError as err:
        _error(f"galla show-graph: {write_failure(err, '--out', args.out)}")
        return 2
    console.print(f"wrote {args.out} ({g.name}: {g.num_nodes} nodes, {g.num_edges} edges)", markup=False)
    return 0
