"""``galla train [CONFIG.yaml] [key.sub=value ...] [--resume]`` and ``galla build-tasks``.

With no config, ``galla train`` runs the embedded default, the recipe ``galla.recipes.default`` (graphs of
a few standard-library modules, GALLa stage 1 then stage 2; ``runs/default/stage2/export`` is a plain
Hugging Face model); this module only parses flags and prints summaries.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from galla.cli._common import console
from galla.cli._common import error as _error


def add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a GraphLLM or a baseline (GALLa stage 1/2, SFT, DPO; full, LoRA, SVFT)",
        description="Run one training config (YAML) with key.sub=value overrides; with no config, the "
        "embedded default GALLa stage 1 + stage 2 on SmolLM2-135M and standard-library graphs.",
    )
    p.add_argument("args", nargs="*", metavar="CONFIG|KEY=VALUE", help="a YAML config, then overrides")
    p.add_argument("--resume", action="store_true", help="continue the newest checkpoint in run.out_dir")
    p.add_argument("--out", type=Path, default=Path("runs/default"), help="embedded default: run directory")
    p.set_defaults(func=cmd_train)


def add_build_tasks(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "build-tasks",
        help="turn graph datasets into training tasks (Graph2Code, GraphQA; docstring SFT/DPO files)",
        description="Build GALLa alignment records from a `galla build-graphs` output or its rows as "
        "parquet: Graph2Code and GraphQA (edge existence, parent, children, reaching definitions; every "
        "answer checked against the graph). --docstrings also writes docstring-summarisation SFT and DPO "
        "files from Python functions.",
    )
    p.add_argument(
        "graphs",
        type=Path,
        help="a galla build-graphs output directory, or graph rows as a .parquet file or a folder of "
        ".parquet shards (e.g. the datatrove graph_pipeline's output)",
    )
    p.add_argument("--out", required=True, type=Path, help="output directory (a datasets dataset)")
    p.add_argument("--tasks", default="graph2code,graph_qa", help="comma-separated: graph2code, graph_qa")
    p.add_argument("--per-graph", type=int, default=4, help="GraphQA questions per graph and subtask")
    p.add_argument("--stage2", action="store_true", help="write Graph2Code as a question/answer pair")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--docstrings",
        action="store_true",
        help="also write OUT/docstrings.jsonl (SFT) and OUT/docstring_pairs.jsonl (DPO)",
    )
    p.set_defaults(func=cmd_build_tasks)


def cmd_build_tasks(args: argparse.Namespace) -> int:
    from data_builders.downstream import docstring_pairs, docstring_records, write_jsonl
    from data_builders.outputs import output_problem, write_failure
    from data_builders.tasks import build_tasks, graph_input_rows
    from galla.config import ConfigError

    problem = output_problem(args.out, "--out")
    if problem:
        _error(f"galla build-tasks: {problem}")
        return 2
    try:
        m = build_tasks(
            args.graphs,
            args.out,
            tasks=[t for t in args.tasks.split(",") if t],
            seed=args.seed,
            per_graph=args.per_graph,
            with_question=args.stage2,
        )
        console.print(
            f"galla build-tasks: {m['records']:,} records -> {args.out} "
            f"({', '.join(f'{k} {v:,}' for k, v in m['counts'].items())})"
        )
        if args.docstrings:
            recs = docstring_records(graph_input_rows(args.graphs))
            n = write_jsonl(recs, args.out / "docstrings.jsonl")
            k = write_jsonl(docstring_pairs(recs, seed=args.seed), args.out / "docstring_pairs.jsonl")
            console.print(f"galla build-tasks: {n:,} SFT and {k:,} DPO docstring records -> {args.out}")
    except (ValueError, ConfigError) as err:
        _error(f"galla build-tasks: {err}")
        return 2
    except OSError as err:  # a full disk or a read-only mount met while writing
        if err.errno is None:  # galla's own message (a missing input)
            _error(f"galla build-tasks: {err}")
            return 2
        _error(f"galla build-tasks: {write_failure(err, '--out', args.out)}")
        return 2
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from galla.config import ConfigError
    from galla.train.config import load_config
    from galla.train.trainer import TrainingError, train

    configs = [a for a in args.args if "=" not in a]
    overrides = [a for a in args.args if "=" in a]
    if len(configs) > 1:
        _error(f"galla train: one config file at a time, got {configs}")
        return 2
    try:
        if not configs:
            return run_default(args.out, overrides, resume=args.resume)
        cfg = load_config(configs[0], overrides)
        result = train(cfg, resume=args.resume)
    except (ConfigError, TrainingError, FileNotFoundError, ValueError) as err:
        _error(f"galla train: {err}")
        return 2
    print_summary(result.summary)
    return 0


def print_summary(summary: dict) -> None:
    from rich.table import Table

    if not summary:
        return
    table = Table(
        title=f"galla train · {summary['name']} ({summary['recipe']}, {summary['params']})",
        show_header=False,
        show_edge=False,
    )
    rows = [
        (
            "steps",
            f"{summary['steps']:,} in {summary['seconds']:.0f} s on {summary['processes']} process(es)",
        ),
        (
            "train loss",
            f"{summary['loss_start']:.4f} → {summary['loss_end']:.4f} (first / last tenth of the steps)",
        ),
        ("tokens/s", f"{summary['tokens_per_second']:,.0f}"),
        ("trainable", f"{summary['trainable_parameters']:,} of {summary['total_parameters']:,} parameters"),
        ("samples", ", ".join(f"{k} {v:,}" for k, v in summary["samples"].items())),
    ]
    evals = summary.get("eval") or []
    if len(evals) >= 2:
        for stream in (k for k in evals[0] if k != "step"):
            rows.append(
                (
                    f"held-out {stream}",
                    f"{evals[0][stream]:.4f} → {evals[-1][stream]:.4f} "
                    f"(step {evals[0]['step']} → {evals[-1]['step']})",
                )
            )
    if summary["dropped_over_max_length"]:
        rows.append(
            (
                "dropped",
                ", ".join(f"{k} {v}" for k, v in summary["dropped_over_max_length"].items())
                + " over data.max_length",
            )
        )
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)


def run_default(out: Path, overrides: list[str], *, resume: bool = False) -> int:
    """The embedded default (``galla.recipes.default``) with its progress on the console."""
    from galla.recipes.default import run_default as recipe

    export = recipe(out, overrides, resume=resume, log=console.print, on_summary=print_summary)
    console.print(f"galla train: the trained LLM is in {export} (plain Hugging Face model)")
    return 0
