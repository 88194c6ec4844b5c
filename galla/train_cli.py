"""``galla train [CONFIG.yaml] [key.sub=value ...] [--resume]`` and the embedded default run.

With no config, ``galla train`` runs the embedded default: graphs of a few standard-library modules,
a docstring-summarisation text stream made from the same functions, GALLa stage 1 (encoder + adapter
learn Graph2Code, SmolLM2-135M frozen) and stage 2 (everything trains on GraphQA + Graph2Code mixed with
the text stream), then a summary; ``runs/default/stage2/export`` is a plain Hugging Face model.
"""

from __future__ import annotations

import argparse
import sys
import sysconfig
from pathlib import Path

from rich.console import Console

console = Console(stderr=True, soft_wrap=True)  # paths and messages stay on one line


def _error(message: str) -> None:
    """One red line, printed as it is: a path or an error text with ``[...]`` in it is not markup."""
    console.print(message, style="red", markup=False, highlight=False)


DEFAULT_MODULES = (
    "json",
    "textwrap",
    "string",
    "shlex",
    "fnmatch",
    "glob",
    "calendar",
    "colorsys",
    "csv.py",
    "difflib.py",
    "heapq.py",
    "bisect.py",
    "statistics.py",
    "fractions.py",
    "tomllib",
    "graphlib.py",
    "html",
    "ipaddress.py",
    "pprint.py",
    "queue.py",
)
"""Standard-library modules the embedded default reads (small, stable, plain Python)."""

STAGE1 = {
    "name": "default-stage1",
    "model": {"llm": "smollm2-135m", "llm_trainable": False, "adapter": {"num_tokens": 32}},
    "data": {"graph_tasks": ["graph2code"], "max_graphs": 512, "max_length": 256},
    "optim": {"lr": 1e-3, "min_lr": 1e-4, "warmup_steps": 3, "batch_size": 4, "max_steps": 30},
    "run": {"eval_samples": 16},
}  # fmt: skip
STAGE2 = {
    "name": "default-stage2",
    "model": {"llm": "smollm2-135m", "llm_trainable": True},
    "data": {"graph_tasks": ["graph2code", "graph_qa"], "max_graphs": 256, "qa_per_graph": 1,
             "max_length": 384, "max_text": 256},
    "optim": {"lr": 2e-5, "min_lr": 2e-6, "warmup_steps": 3, "batch_size": 2, "max_steps": 20},
    "run": {"eval_samples": 16},
}  # fmt: skip
"""The embedded default's two stages (sized for minutes on a 2-core CPU; the presets in configs/ are the
full-size versions)."""


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
        description="Build GALLa alignment records from a `galla build-graphs` output: Graph2Code and "
        "GraphQA (edge existence, parent, children, reaching definitions; every answer checked against the "
        "graph). --docstrings also writes docstring-summarisation SFT and DPO files from Python functions.",
    )
    p.add_argument("graphs", type=Path, help="a galla build-graphs output directory")
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
    from data_builders.tasks import build_tasks
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
            from galla.train.streams import iter_graph_rows  # imports torch: only where it is needed

            recs = docstring_records(row for rows in iter_graph_rows([str(args.graphs)]) for row in rows)
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


def default_data(out: Path) -> tuple[Path, Path]:
    """Build (once) the default run's graphs and docstring text stream under ``out``."""
    from data_builders.build import BuildOptions, build_graphs
    from data_builders.downstream import docstring_records, write_jsonl
    from galla.train.streams import graph_rows

    graphs, text = out / "graphs", out / "docstrings.jsonl"
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    paths = [str(stdlib / m) for m in DEFAULT_MODULES if (stdlib / m).exists()]
    if not (graphs / "manifest.json").exists():
        console.print(f"galla train: building graphs of {len(paths)} standard-library modules -> {graphs}")
        build_graphs(BuildOptions(paths=paths, out=graphs, exclude=["test/", "tests/"]))
    if not text.exists():
        n = write_jsonl(docstring_records(graph_rows([str(graphs)])), text)
        console.print(f"galla train: {n} docstring-summarisation records -> {text}")
    return graphs, text


def run_default(out: Path, overrides: list[str], *, resume: bool = False) -> int:
    """The embedded default: stage 1, then stage 2 from stage 1's encoder and adapter."""
    import copy

    from data_builders.outputs import output_problem
    from galla.config import ConfigError
    from galla.run_layout import RunDir
    from galla.train.checkpoint import latest_checkpoint
    from galla.train.config import TrainConfig, apply_overrides
    from galla.train.trainer import train

    problem = output_problem(out, "--out")
    if problem:
        raise ConfigError(problem)
    graphs, text = default_data(out)
    s1 = copy.deepcopy(STAGE1)
    s1["data"]["graphs"] = [str(graphs)]
    stage1, stage2 = RunDir(out).stage(1), RunDir(out).stage(2)
    s1["run"].update(out_dir=str(stage1.path), save_every=10)
    s2 = copy.deepcopy(STAGE2)
    s2["data"].update(graphs=[str(graphs)], text=[str(text)])
    s2["init_from"] = str(stage1.final)
    s2["run"].update(out_dir=str(stage2.path), save_every=10)
    for stage in (s1, s2):
        cfg = apply_overrides(TrainConfig.from_dict(stage), overrides)
        run_dir = Path(cfg.run.out_dir)
        if RunDir(run_dir).summary.exists():
            console.print(f"galla train: {run_dir} is complete; skipping (delete it to train again)")
            continue
        result = train(cfg, resume=resume or latest_checkpoint(run_dir) is not None)
        print_summary(result.summary)
    console.print(f"galla train: the trained LLM is in {stage2.export} (plain Hugging Face model)")
    return 0


if __name__ == "__main__":
    from galla.cli import main

    sys.exit(main(["train", *sys.argv[1:]]))
