"""``galla eval``: benchmark evaluation subcommands (today: ``galla eval surge``).

``galla eval surge --data DIR --responses FILE.jsonl --out DIR`` scores model replies produced anywhere
with the official SURGE rules and writes per-item scores, a problems report, the 15-column table
(Markdown/CSV/JSON) and a bar chart beside the paper's rows. The work lives in ``benchmarks.surge``;
this module only parses flags and prints. Heavy imports happen inside ``cmd_eval_surge``.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    from benchmarks.surge.run import RunResult

console = Console(stderr=True, soft_wrap=True)  # paths and messages stay on one line

# Mirrors benchmarks.surge.data.SETTINGS / paper.DEFAULT_COMPARE (kept literal so building the parser
# imports nothing heavy; a test checks they agree).
_SETTINGS = ("0shot", "cot", "3shot")
_DEFAULT_COMPARE = ",".join(
    (
        "Qwen-2.5-Coder-1.5B-Instruct",
        "Qwen-2.5-Coder-7B-Instruct",
        "Qwen-2.5-7B-Instruct",
        "LLaMA-3.1-8B-Instruct",
        "GPT-4o",
    )
)

RESPONSES_FORMAT = """\
responses file: JSON Lines, one object per model reply, e.g.
  {"subset": "ml", "index": 0, "response": "Thought: ...\\nOutput:\\n```\\n42\\n```", "model": "mine"}
  subset    ml, cl, rl, sc, tc, bg, dr or fl
  index     0-based position of the item in DATA/<subset>.json
  response  the model's full reply (string; null scores 0)
  other fields are copied unchanged into OUT/scores.jsonl, which adds "score" (0..1).
To produce replies, send each item's sys_0shot / sys_cot / sys_3shot field as the system message and
its question field as the user message (greedy decoding, as in the paper), e.g. with
benchmarks.surge.data.load_surge(DIR)[subset][index].messages("cot")."""

NO_GENERATION = (
    "galla eval surge: model generation is not available yet (it needs galla's model loader, a later "
    "milestone). Generate the replies with any tool and score them with --responses.\n\n"
    + RESPONSES_FORMAT
    + "\n\nthen run: galla eval surge --data DIR --responses FILE.jsonl --out DIR"
)


def add_eval(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="evaluate models on benchmarks (SURGE)",
        description="Evaluate models on benchmarks. Today: SURGE scoring of replies produced anywhere.",
    )
    benchmarks = p.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    s = benchmarks.add_parser(
        "surge",
        help="score SURGE replies with the official rules and write tables and a chart",
        description="Score SURGE replies (Lyu et al., EMNLP 2025) with the official per-subset rules\n"
        "and write OUT/scores.jsonl, OUT/problems.jsonl, OUT/table.{md,csv,json} and OUT/chart.png.",
        epilog=RESPONSES_FORMAT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument(
        "--data",
        required=True,
        type=Path,
        metavar="DIR",
        help="folder with the SURGE files ml.json ... fl.json",
    )
    s.add_argument(
        "--responses", type=Path, metavar="FILE", help="JSONL file of replies to score (format below)"
    )
    s.add_argument("--out", type=Path, metavar="DIR", help="output folder (created if needed)")
    s.add_argument(
        "--subsets", default="all", help="comma list of subsets to score, e.g. ml,cl (default: all)"
    )
    s.add_argument(
        "--setting",
        default="0shot",
        choices=_SETTINGS,
        help="prompt setting the replies used; picks the paper rows to compare with (default: 0shot)",
    )
    s.add_argument(
        "--compare",
        default=_DEFAULT_COMPARE,
        help="paper models shown beside the result, comma list, or 'none' / 'all' "
        "(default: Qwen-2.5-Coder 1.5B/7B, Qwen-2.5-7B, LLaMA-3.1-8B, GPT-4o)",
    )
    s.add_argument("--name", help="label of the scored row (default: the responses file name)")
    s.add_argument("--no-chart", action="store_true", help="do not draw chart.png")
    s.set_defaults(func=cmd_eval_surge)


def _error(message: str) -> None:
    console.print(message, style="red", markup=False, highlight=False)


def cmd_eval_surge(args: argparse.Namespace) -> int:
    if args.responses is None:
        console.print(NO_GENERATION, markup=False, highlight=False)
        return 2
    if args.out is None:
        _error("galla eval surge: --out DIR is required with --responses")
        return 2
    if not args.responses.is_file():
        _error(f"galla eval surge: responses file {args.responses} does not exist")
        return 2
    if args.out.exists() and not args.out.is_dir():
        _error(f"galla eval surge: --out {args.out} exists and is not a folder")
        return 2

    from benchmarks.surge.data import SurgeDataError, load_surge, parse_subsets
    from benchmarks.surge.paper import PAPER_ROWS, paper_rows
    from benchmarks.surge.run import score_responses_file

    compare = [m.strip() for m in args.compare.split(",") if m.strip()]
    if [m.lower() for m in compare] == ["none"]:
        compare = []
    elif [m.lower() for m in compare] == ["all"]:
        compare = list(dict.fromkeys(r.model for r in PAPER_ROWS))
    try:
        paper_rows(args.setting, compare)
        items = load_surge(args.data, parse_subsets(args.subsets))
    except (SurgeDataError, ValueError) as err:
        _error(f"galla eval surge: {err}")
        return 2
    try:
        result = score_responses_file(
            items,
            args.responses,
            args.out,
            name=args.name,
            setting=args.setting,
            compare=compare,
            chart=not args.no_chart,
        )
    except OSError as err:
        _error(f"galla eval surge: {err}")
        return 2
    _print_summary(result)
    return 0 if result.scored else 1


def _print_summary(result: RunResult) -> None:
    from rich.table import Table

    from benchmarks.surge.table import COLUMNS

    table = Table(title=f"SURGE · {result.row.name}", show_edge=False)
    for col in ("column", "score", "items"):
        table.add_column(col, justify="left" if col == "column" else "right")
    for col in COLUMNS:
        value = result.row.scores[col]
        table.add_row(col, "n/a" if value is None else f"{value:.2f}", str(result.row.counts.get(col, 0)))
    table.add_row("Avg", f"{result.row.avg:.2f}", str(result.scored), style="bold")
    console.print(table)
    partial = [
        f"{s} {c['scored']}/{c['total']}" for s, c in result.coverage.items() if c["scored"] != c["total"]
    ]
    if partial:
        console.print(f"[yellow]incomplete subsets (means over scored items): {', '.join(partial)}[/yellow]")
    if result.skipped:
        skipped = ", ".join(f"{k} {v}" for k, v in sorted(result.skipped.items()))
        console.print(f"skipped lines of subsets not selected by --subsets: {skipped}")
    if result.problems:
        kinds = ", ".join(f"{k} {n}" for k, n in Counter(p.kind for p in result.problems).most_common())
        console.print(f"[yellow]{len(result.problems)} lines not scored ({kinds}):[/yellow]")
        for p in result.problems[:10]:
            console.print(f"  line {p.line}: {p.kind}: {p.message}", markup=False, highlight=False)
        if len(result.problems) > 10:
            console.print(f"  … {len(result.problems) - 10} more in {result.files['problems']}")
    if not result.scored:
        console.print("[red]no line of the responses file could be scored[/red]")
    console.print(f"wrote {', '.join(str(p) for p in result.files.values())}")
