"""Does graph alignment make a code model better? GALLa vs SFT at equal downstream compute.

    python benchmarks/galla_effect.py configs/experiments/galla_vs_sft_smollm2.yaml
    python benchmarks/galla_effect.py configs/experiments/galla_vs_sft_smollm2.yaml --report-only

Arms (every one starts from the same base LLM and sees the same downstream train splits, written by
``galla.eval.tasks.write_task_data``, in the same order for a given seed, at the same batch size):

- **A, SFT**: the downstream data alone (``data.text``), one pass.
- **B, GALLa**: stage 1 (encoder + adapter learn Graph2Code on graphs of a corpus unrelated to the test
  sets, LLM frozen), then stage 2 (everything trains on GraphQA + Graph2Code mixed with the same
  downstream data, GALLa's proportional schedule). The downstream batches, and so the downstream tokens
  and the optimizer steps taken on them, are those of A; graph batches are the only difference. B's extra
  compute (stage 1 and the graph batches) is reported.
- **C, no graph**: B's stage 2 with every graph record's programs and questions but no graph tokens
  (``data.graph_ablation: no_graph``; no stage 1, which would train nothing): is it the graph, or the
  extra text?
- **D, shuffled graph**: B with each unit's graph replaced by another unit's (``graph_ablation:
  shuffled``, both stages): does the structure matter?

Each arm's exported model is scored with ``galla eval tasks`` (the preset's tasks and limits) and, if the
preset names the SURGE data, ``galla eval surge`` on its subsets. The report (``OUT/report.{json,md}``,
``OUT/report.png``): per task and metric, each arm's mean ± std over seeds, and the paired difference of
B, C and D against A (items paired across arms, seeds averaged) with a bootstrap 95% interval over items;
plus each run's held-out downstream loss curve and its graph-loss curve.

The script resumes arm by arm and seed by seed: a finished run (``done.json``) is skipped, a killed
training run continues from its last checkpoint, a killed evaluation from its responses file. ``--jobs N``
runs N arm-seed runs at a time, each in its own process with ``cores / N`` threads (on a 2-core CPU two
one-thread processes finish sooner than one two-thread process); a run another process holds is left to it,
so the same command started twice shares the work too.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from galla.run_layout import RunDir

ARMS = ("A", "B", "C", "D")
ARM_NAMES = {"A": "SFT", "B": "GALLa", "C": "GALLa, no graph tokens", "D": "GALLa, shuffled graphs"}


def load_preset(path: Path) -> dict[str, Any]:
    cfg = yaml.safe_load(path.read_text())
    for key in (
        "name",
        "out_dir",
        "arms",
        "model",
        "graph_modules",
        "downstream",
        "stage1",
        "stage2",
        "eval",
    ):
        if key not in cfg:
            raise SystemExit(
                f"{path}: missing key '{key}' (see configs/experiments/galla_vs_sft_smollm2.yaml)"
            )
    unknown = sorted(set(cfg["arms"]) - set(ARMS))
    if unknown:
        raise SystemExit(f"{path}: arms {unknown} unknown; choose from {', '.join(ARMS)}")
    return cfg


# --- data ---------------------------------------------------------------------------------------------


def prepare_data(cfg: dict[str, Any], out: Path) -> dict[str, Any]:
    """The downstream train file (the tasks' train splits, capped per task) and the alignment graphs."""
    import sysconfig

    from data_builders.build import BuildOptions, build_graphs
    from data_builders.downstream import write_jsonl
    from galla.eval.tasks import get_task, task_data, write_task_data
    from galla.eval.tasks.base import read_jsonl, seeded_order
    from galla.eval.tasks.run import default_data_dir

    data_dir = Path(cfg.get("task_data") or default_data_dir())
    down = cfg["downstream"]
    text = out / "data" / "downstream.jsonl"
    if not text.is_file():
        write_task_data(data_dir, down["tasks"])
        records = []
        for name in down["tasks"]:
            train = read_jsonl(data_dir / name / "train.jsonl")
            records += seeded_order(train, seed=1)[: down.get("per_task") or None]
        write_jsonl(seeded_order(records, seed=2), text)
    graphs = out / "data" / "graphs"
    if not (graphs / "manifest.json").is_file():
        stdlib = Path(sysconfig.get_paths()["stdlib"])
        paths = [str(stdlib / m) for m in cfg["graph_modules"] if (stdlib / m).exists()]
        build_graphs(BuildOptions(paths=paths, out=graphs, exclude=["test/", "tests/"]))
    for name in cfg["eval"]["tasks"]:
        task_data(get_task(name), data_dir)
    return {"text": str(text), "graphs": str(graphs), "task_data": str(data_dir)}


# --- training -------------------------------------------------------------------------------------------


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in extra.items():
        out[k] = (
            _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
        )
    return out


def stage_configs(cfg: dict[str, Any], arm: str, seed: int, run: Path, data: dict[str, Any]) -> list[dict]:
    """The ``galla train`` configs of one arm and seed, in order."""
    model = cfg["model"]
    common = {"run": {"seed": seed, "progress": cfg.get("progress", True)}}
    text = {"text": [data["text"]], "template": "chat"}
    graphs = {"graphs": [data["graphs"]]}
    stage2 = _merge(cfg["stage2"], common)
    stage2 = _merge(stage2, {"model": {**model, "llm_trainable": True}, "data": {**text, **graphs}})
    if arm == "A":
        sft = copy.deepcopy(stage2)
        graph_keys = ("graphs", "graph_tasks", "qa_per_graph", "max_graphs", "graph_ablation")
        sft["data"] = {k: v for k, v in sft["data"].items() if k not in graph_keys}
        return [_merge(sft, {"name": f"{cfg['name']}-A-s{seed}", "run": {"out_dir": str(run / "train")}})]
    ablation = {"B": "none", "C": "no_graph", "D": "shuffled"}[arm]
    s2 = _merge(stage2, {"data": {"graph_ablation": ablation}, "name": f"{cfg['name']}-{arm}-s{seed}"})
    s2["run"]["out_dir"] = str(RunDir(run).stage(2).path)
    if arm == "C":
        return [s2]
    s1 = _merge(cfg["stage1"], common)
    s1 = _merge(
        s1, {"model": {**model, "llm_trainable": False}, "data": {**graphs, "graph_ablation": ablation}}
    )
    stage1 = RunDir(run).stage(1)
    s1 = _merge(s1, {"name": f"{cfg['name']}-{arm}-s{seed}-stage1", "run": {"out_dir": str(stage1.path)}})
    s2["init_from"] = str(stage1.final)
    return [s1, s2]


def train_arm(cfg: dict[str, Any], arm: str, seed: int, run: Path, data: dict[str, Any]) -> list[dict]:
    from galla.train.checkpoint import latest_checkpoint
    from galla.train.config import TrainConfig
    from galla.train.trainer import train

    summaries = []
    for stage in stage_configs(cfg, arm, seed, run, data):
        tc = TrainConfig.from_dict(stage)
        out = Path(tc.run.out_dir)
        done = RunDir(out).summary
        if not done.is_file():
            train(tc, resume=latest_checkpoint(out) is not None)
        summaries.append(json.loads(done.read_text()))
    return summaries


def final_model(run: Path, arm: str) -> RunDir:
    """The run directory of the arm's last (or only) stage."""
    return RunDir(run / "train") if arm == "A" else RunDir(run).stage(2)


# --- evaluation -----------------------------------------------------------------------------------------


def evaluate(cfg: dict[str, Any], arm: str, run: Path, data: dict[str, Any]) -> dict[str, Any]:
    from galla.eval.tasks import run_tasks
    from galla.eval.tasks.base import mean_and_interval, read_jsonl

    ev = cfg["eval"]
    # B and D are evaluated through their run dir (generation from export/, the probe also with the trained
    # encoder); A and C trained no encoder, so they are evaluated as the plain LLMs they export
    last = final_model(run, arm)
    model = last.path if arm in ("B", "D") else last.export
    limits = ev.get("limit", {})
    results: dict[str, Any] = {"tasks": {}, "items": {}}
    for name in ev["tasks"]:
        res = run_tasks(
            str(model),
            [name],
            run / "eval" / name,
            data_dir=data["task_data"],
            limit=limits.get(name),
            batch_size=ev.get("batch_size", 8),
            max_new_tokens=ev.get("max_new_tokens", {}).get(name),
            chart=False,
            progress=cfg.get("progress", True),
        )
        results["tasks"].update(res.table)
        results["items"][name] = read_jsonl(res.files["scores"])
    surge = ev.get("surge")
    if surge and not Path(surge["data"]).is_dir():
        print(
            f"galla_effect: SURGE left out: {surge['data']} is not a folder (eval.surge.data)",
            file=sys.stderr,
        )
    elif surge:
        from galla.eval.surge.generate import run_generation

        s = run_generation(
            str(final_model(run, arm).export),
            surge["data"],
            run / "eval" / "surge",
            "0shot",
            surge.get("subsets", "ml,cl"),
            surge.get("limit"),
            ev.get("batch_size", 8),
            max_new_tokens=surge.get("max_new_tokens"),
            compare=None,
            chart=False,
            progress=cfg.get("progress", True),
        )
        assert s.score is not None
        scores = read_jsonl(run / "eval" / "surge" / "scores.jsonl")
        results["items"]["surge"] = [
            {"index": i, "id": f"{r['subset']}:{r['index']}", "score": r["score"]}
            for i, r in enumerate(scores)
        ]
        # the mean item score (the paper's Avg leaves out columns at 0, which hides a regression to 0)
        results["tasks"]["surge"] = {
            "score": mean_and_interval([r["score"] for r in results["items"]["surge"]])
        }
    return results


# --- the report -----------------------------------------------------------------------------------------


def _paired(
    a: dict[str, float], b: dict[str, float], resamples: int = 2000, seed: int = 0
) -> dict[str, float]:
    """Mean of b - a over the items both have, with a percentile-bootstrap 95% interval."""
    from galla.eval.tasks.base import mean_and_interval

    keys = sorted(set(a) & set(b))
    ci = mean_and_interval([b[k] - a[k] for k in keys], resamples=resamples, seed=seed)
    return {"diff": ci["mean"], "lo": ci["lo"], "hi": ci["hi"], "n": ci["n"]}


def _item_means(runs: list[dict[str, Any]], task: str, metric: str) -> dict[str, float]:
    """Per test item (its index in the task's test split, the same for every arm): the metric averaged
    over the arm's seeds. (Ids are not keys: the probe asks two questions per unit.)"""
    acc: dict[str, list[float]] = {}
    for r in runs:
        for item in r["eval"]["items"].get(task, []):
            if metric in item:
                acc.setdefault(str(item["index"]), []).append(float(item[metric]))
    return {k: sum(v) / len(v) for k, v in acc.items()}


def report(cfg: dict[str, Any], out: Path, finished: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    import numpy as np

    metrics: list[tuple[str, str]] = []
    for runs in finished.values():
        for r in runs:
            for task, ms in r["eval"]["tasks"].items():
                metrics += [(task, m) for m in ms if (task, m) not in metrics]
    table: list[dict[str, Any]] = []
    for task, metric in metrics:
        row: dict[str, Any] = {"task": task, "metric": metric, "arms": {}, "vs_A": {}}
        for arm, runs in finished.items():
            have = [r for r in runs if metric in r["eval"]["tasks"].get(task, {})]
            vals = [r["eval"]["tasks"][task][metric]["mean"] for r in have]
            if vals:
                row["arms"][arm] = {
                    "mean": float(np.mean(vals)),
                    "std": float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0,
                    "seeds": [r["seed"] for r in have],
                    "n_items": have[0]["eval"]["tasks"][task][metric].get("n"),
                }
        if "A" in finished:
            base = _item_means(finished["A"], task, metric)
            for arm in ("B", "C", "D"):
                if arm in finished:
                    row["vs_A"][arm] = _paired(base, _item_means(finished[arm], task, metric))
        # is it the graph (B - C: the same records without graph tokens) or its structure (B - D)?
        row["B_vs"] = {
            ctl: _paired(_item_means(finished[ctl], task, metric), _item_means(finished["B"], task, metric))
            for ctl in ("C", "D")
            if "B" in finished and ctl in finished
        }
        row["B_minus_A_by_seed"] = _by_seed(finished, task, metric)
        table.append(row)
    compute = {
        arm: {
            "train_steps": float(np.mean([sum(s["steps"] for s in r["train"]) for r in runs])),
            "train_seconds": float(np.mean([sum(s["seconds"] for s in r["train"]) for r in runs])),
        }
        for arm, runs in finished.items()
    }
    payload = {
        "held_out": _held_out(finished),
        "experiment": cfg["name"],
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, {_cores()} cores, Python "
        f"{platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
        "arms": {a: {"name": ARM_NAMES[a], "seeds": [r["seed"] for r in finished[a]]} for a in finished},
        "table": table,
        "compute": compute,
        "curves": {f"{a}-s{r['seed']}": _curves(r) for a, runs in finished.items() for r in runs},
    }
    (out / "report.json").write_text(json.dumps(payload, indent=2) + "\n")
    (out / "report.md").write_text(_markdown(payload))
    _figure(payload, out / "report.png")
    return payload


def _cores() -> int:
    import os

    return os.cpu_count() or 1


def _curves(run: dict[str, Any]) -> dict[str, Any]:
    """Held-out loss per stream at each evaluation step, per stage."""
    return {f"stage{i + 1}": s.get("eval") or [] for i, s in enumerate(run["train"])}


def _held_out(finished: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, dict[str, float]]]:
    """Per arm, stage and stream: the held-out loss at the first and the last evaluation, mean over seeds.

    The last stage of every arm is the downstream one; an earlier stage is graph alignment (Graph2Code)."""
    import numpy as np

    acc: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for arm, runs in finished.items():
        for r in runs:
            for i, s in enumerate(r["train"]):
                stage = "downstream" if i == len(r["train"]) - 1 else "alignment"
                evals = s.get("eval") or []
                for key in sorted({k for e in evals for k in e if k != "step"}):
                    pts = [e[key] for e in evals if key in e]
                    acc.setdefault(arm, {}).setdefault(f"{stage}/{key}", []).append((pts[0], pts[-1]))
    return {
        arm: {
            k: {"first": float(np.mean([a for a, _ in v])), "last": float(np.mean([b for _, b in v]))}
            for k, v in streams.items()
        }
        for arm, streams in acc.items()
    }


def _fmt(metric: str, x: float) -> str:
    return f"{100 * x:.1f}" if metric.startswith(("pass", "acc", "score")) else f"{x:.2f}"


def _by_seed(finished: dict[str, list[dict[str, Any]]], task: str, metric: str) -> dict[str, float]:
    """B's score minus A's, seed by seed (the seeds both arms finished): how much the difference itself
    moves with the seed, which the bootstrap over items does not show."""

    def means(arm: str) -> dict[int, float]:
        return {
            r["seed"]: r["eval"]["tasks"][task][metric]["mean"]
            for r in finished.get(arm, [])
            if metric in r["eval"]["tasks"].get(task, {})
        }

    a, b = means("A"), means("B")
    return {str(seed): b[seed] - a[seed] for seed in sorted(set(a) & set(b))}


def _controls(arms: list[str]) -> list[str]:
    """The arms B is compared with directly (C: no graph tokens, D: shuffled graphs)."""
    return [c for c in ("C", "D") if "B" in arms and c in arms]


def _markdown(p: dict[str, Any]) -> str:
    arms = list(p["arms"])
    lines = [
        f"# {p['experiment']} ({p['date']}, {p['machine']})",
        "",
        "Mean ± std over seeds; Δ vs A: paired difference over items (seeds averaged), bootstrap 95% CI. "
        "pass@1, accuracies and SURGE in points (0-100); BLEU-4 and ROUGE-L 0-100.",
        "",
        "| task | metric | "
        + " | ".join(f"{a}: {p['arms'][a]['name']} (seeds {len(p['arms'][a]['seeds'])})" for a in arms)
        + " | "
        + " | ".join(
            [f"Δ {a} − A [95% CI]" for a in arms if a != "A"]
            + [f"Δ B − {c} [95% CI]" for c in ("C", "D") if "B" in arms and c in arms]
        )
        + " |",
        "|---|---|" + "---|" * (len(arms) + len([a for a in arms if a != "A"]) + len(_controls(arms))),
    ]
    for row in p["table"]:
        m = row["metric"]
        cells = [
            f"{_fmt(m, row['arms'][a]['mean'])} ± {_fmt(m, row['arms'][a]['std'])}"
            if a in row["arms"]
            else "–"
            for a in arms
        ]
        diffs = []
        pairs = [row["vs_A"].get(a) for a in arms if a != "A"]
        pairs += [row.get("B_vs", {}).get(c) for c in _controls(arms)]
        for d in pairs:
            diffs.append(
                "–"
                if not d or not d["n"]
                else f"{_fmt(m, d['diff'])} [{_fmt(m, d['lo'])}, {_fmt(m, d['hi'])}] (n={d['n']})"
            )
        lines.append(
            f"| {row['task']} | {m} | "
            + " | ".join(cells)
            + (" | " + " | ".join(diffs) if diffs else "")
            + " |"
        )
    seeded = [row for row in p["table"] if len(row.get("B_minus_A_by_seed", {})) > 1]
    if seeded:
        lines += [
            "",
            "Δ B − A seed by seed (each seed's B minus the same seed's A; mean ± std over seeds):",
            "",
        ]
        for row in seeded:
            d = row["B_minus_A_by_seed"]
            m, vals = row["metric"], list(d.values())
            std = float(statistics.stdev(vals))
            lines.append(
                f"- {row['task']} {m}: "
                + ", ".join(f"seed {k} {_fmt(m, v)}" for k, v in d.items())
                + f"; {_fmt(m, statistics.fmean(vals))} ± {_fmt(m, std)}"
            )
    lines += [
        "",
        "Compute (mean over seeds): "
        + "; ".join(
            f"{a}: {c['train_steps']:.0f} optimizer steps, {c['train_seconds'] / 60:.1f} min"
            for a, c in p["compute"].items()
        ),
        "",
        "Held-out loss, first → last evaluation of each stage (mean over seeds; `text`: the downstream "
        "records, `graph`: the graph-alignment records): "
        + "; ".join(
            f"{a}: "
            + ", ".join(f"{k} {v['first']:.3f} → {v['last']:.3f}" for k, v in sorted(streams.items()))
            for a, streams in p.get("held_out", {}).items()
        ),
        "",
    ]
    return "\n".join(lines)


def _figure(p: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in p["table"] if r["arms"]]
    arms = list(p["arms"])
    fig, axes = plt.subplots(1, 3, figsize=(19, 4.5), gridspec_kw={"width_ratios": [2, 1, 1]})
    ax = axes[0]
    width = 0.8 / max(len(arms), 1)
    for j, a in enumerate(arms):
        xs = [i + j * width for i in range(len(rows))]
        scale = [100 if r["metric"].startswith(("pass", "acc", "score")) else 1 for r in rows]
        ys = [r["arms"].get(a, {}).get("mean", float("nan")) * s for r, s in zip(rows, scale, strict=True)]
        es = [r["arms"].get(a, {}).get("std", 0.0) * s for r, s in zip(rows, scale, strict=True)]
        ax.bar(xs, ys, width, yerr=es, capsize=3, label=f"{a}: {p['arms'][a]['name']}")
    ax.set_xticks(
        [i + 0.4 - width / 2 for i in range(len(rows))],
        [f"{r['task']}\n{r['metric']}" for r in rows],
        fontsize=8,
    )
    ax.set_ylabel("score (0-100)")
    ax.legend(fontsize=8)
    ax.set_title("downstream scores, mean ± std over seeds")
    ax = axes[1]
    for name, curves in p["curves"].items():
        last = curves.get(f"stage{len(curves)}") or []
        pts = [(e["step"], e["text"]) for e in last if "text" in e]
        if pts:
            ax.plot(*zip(*pts, strict=True), marker="o", label=name)
    ax.set_xlabel("step of the downstream stage")
    ax.set_ylabel("held-out downstream loss")
    ax.legend(fontsize=7)
    ax.set_title("learning curves")
    ax = axes[2]
    for name, curves in p["curves"].items():
        offset = 0
        for i in range(1, len(curves) + 1):
            stage = curves.get(f"stage{i}") or []
            pts = [(offset + e["step"], e["graph"]) for e in stage if "graph" in e]
            if pts:
                ax.plot(*zip(*pts, strict=True), marker="o", label=f"{name} stage {i}")
            offset += max((e["step"] for e in stage), default=0)
    ax.set_xlabel("optimizer step (stage 1, then stage 2)")
    ax.set_ylabel("held-out graph-stream loss")
    ax.legend(fontsize=7)
    ax.set_title("graph alignment (Graph2Code / GraphQA)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --- main -----------------------------------------------------------------------------------------------


def run_plan(cfg: dict[str, Any]) -> list[tuple[str, int]]:
    """Every (arm, seed) of the preset, seed-major (A0, B0, C0, D0, A1, B1, ...), so an interrupted
    experiment still has every arm paired with A."""
    return sorted(
        ((arm, seed) for arm in ARMS for seed in cfg["arms"].get(arm, [])),
        key=lambda p: (cfg["arms"][p[0]].index(p[1]), ARMS.index(p[0])),
    )


def run_one(cfg: dict[str, Any], arm: str, seed: int, run: Path, data: dict[str, Any]) -> bool:
    """Train and evaluate one arm and seed unless another process holds it; whether it ran here."""
    from data_builders.lock import FolderBusy, acquire, release

    try:
        acquire(run, "galla_effect arm")
    except FolderBusy:
        print(f"galla_effect: arm {arm}, seed {seed} runs in another process; left to it", file=sys.stderr)
        return False
    try:
        done = run / "done.json"
        if done.is_file():  # finished by another process since we looked
            return False
        began = time.time()
        print(f"galla_effect: arm {arm} ({ARM_NAMES[arm]}), seed {seed} -> {run}", file=sys.stderr)
        summaries = train_arm(cfg, arm, seed, run, data)
        result = {"arm": arm, "seed": seed, "train": summaries, "eval": evaluate(cfg, arm, run, data)}
        result["wall_seconds"] = time.time() - began
        tmp = done.with_suffix(".tmp")
        tmp.write_text(json.dumps(result, indent=2) + "\n")
        tmp.replace(done)
        return True
    finally:
        release(run)


def spawn_workers(preset: Path, jobs: int, arms: str | None) -> int:
    """``jobs`` copies of this script, each running the runs no other process holds, with
    ``cores // jobs`` threads each; the first non-zero exit status, or 0."""
    threads = str(max(1, _cores() // jobs))
    env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    cmd = [sys.executable, str(Path(__file__).resolve()), str(preset), "--no-report"]
    cmd += ["--arms", arms] if arms else []
    procs = []
    for i in range(jobs):
        print(f"galla_effect: worker {i + 1} of {jobs} ({threads} thread(s))", file=sys.stderr)
        procs.append(subprocess.Popen(cmd, env=env))
        time.sleep(2)  # the first takes the first run before the second looks
    codes = [p.wait() for p in procs]
    return next((c for c in codes if c), 0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("preset", type=Path, help="configs/experiments/*.yaml")
    ap.add_argument("--report-only", action="store_true", help="tabulate the finished runs, train nothing")
    ap.add_argument("--arms", help="comma list: only these arms this time (default: all in the preset)")
    ap.add_argument(
        "--jobs", type=int, default=1, help="runs at a time, one process each (default 1); 2 on a 2-core CPU"
    )
    ap.add_argument("--no-report", action="store_true", help=argparse.SUPPRESS)  # a --jobs worker
    args = ap.parse_args(argv)
    if args.jobs < 1:
        ap.error(f"--jobs must be >= 1, got {args.jobs}")
    cfg = load_preset(args.preset)
    out = Path(cfg["out_dir"])
    out.mkdir(parents=True, exist_ok=True)
    only = set(args.arms.split(",")) if args.arms else set(ARMS)
    data = None if args.report_only else prepare_data(cfg, out)
    if args.jobs > 1 and not args.report_only:
        code = spawn_workers(args.preset, args.jobs, args.arms)
        if code:
            print(f"galla_effect: a worker failed (exit status {code}); see its messages", file=sys.stderr)
    finished: dict[str, list[dict[str, Any]]] = {}
    for arm, seed in run_plan(cfg):
        run = out / f"{arm}-s{seed}"
        done = run / "done.json"
        if not done.is_file() and not args.report_only and args.jobs == 1 and arm in only:
            assert data is not None
            run_one(cfg, arm, seed, run, data)
        if done.is_file():
            finished.setdefault(arm, []).append(json.loads(done.read_text()))
    if args.no_report:
        return 0
    if not finished:
        print("galla_effect: no finished run to report", file=sys.stderr)
        return 1
    payload = report(cfg, out, finished)
    print(_markdown(payload))
    print(f"wrote {out / 'report.json'}, {out / 'report.md'}, {out / 'report.png'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
