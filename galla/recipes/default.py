"""The embedded default run (``galla train`` with no config), as a recipe over the public API.

Graphs of a few standard-library modules (present on every machine), a docstring-summarisation text
stream made from the same functions, then GALLa stage 1 (encoder + adapter learn Graph2Code, the LLM
frozen) and stage 2 (everything trains on GraphQA + Graph2Code mixed with the text stream), each stage
read from its YAML preset beside this module through ``load_config``. ``OUT/stage2/export`` is a plain
Hugging Face model.
"""

from __future__ import annotations

import json
import sysconfig
from collections.abc import Callable
from pathlib import Path

from galla.run_layout import RunDir
from galla.train.config import TrainConfig

__all__ = ["DEFAULT_MODULES", "PRESETS", "default_data", "run_default", "stage_configs"]

DEFAULT_MODULES: tuple[str, ...] = (
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

PRESETS: dict[str, Path] = {
    "stage1": Path(__file__).with_name("default_stage1.yaml"),
    "stage2": Path(__file__).with_name("default_stage2.yaml"),
}
"""The two stages' presets. They ship inside the package (so an installed wheel has them); copy one to
run it with other settings: ``galla train my_stage1.yaml``."""

Log = Callable[[str], None]


def default_data(out: Path, log: Log = lambda _: None) -> tuple[Path, Path]:
    """Build (once) the default run's graphs and docstring text stream under ``out``."""
    from data_builders.build import BuildOptions, build_graphs
    from data_builders.downstream import docstring_records, write_jsonl
    from galla.train.streams import graph_rows

    graphs, text = out / "graphs", out / "docstrings.jsonl"
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    paths = [str(stdlib / m) for m in DEFAULT_MODULES if (stdlib / m).exists()]
    if not (graphs / "manifest.json").exists():
        log(f"galla train: building graphs of {len(paths)} standard-library modules -> {graphs}")
        build_graphs(BuildOptions(paths=paths, out=graphs, exclude=["test/", "tests/"]))
    if not text.exists():
        n = write_jsonl(docstring_records(graph_rows([str(graphs)])), text)
        log(f"galla train: {n} docstring-summarisation records -> {text}")
    return graphs, text


def stage_configs(
    out: Path, graphs: Path, text: Path, overrides: list[str] | None = None
) -> list[TrainConfig]:
    """The two stages' configs: the presets with the run's paths filled in, then the user's overrides
    (applied to both stages, validated again)."""
    from galla.train.config import load_config

    def path(key: str, value: object) -> str:  # JSON is YAML, so any path survives the override parser
        return f"{key}={json.dumps(value)}"

    first, second = RunDir(out).stage(1), RunDir(out).stage(2)
    stage1 = [path("data.graphs", [str(graphs)]), path("run.out_dir", str(first.path))]
    stage2 = [
        path("data.graphs", [str(graphs)]),
        path("data.text", [str(text)]),
        path("init_from", str(first.final)),
        path("run.out_dir", str(second.path)),
    ]
    user = list(overrides or [])
    return [load_config(PRESETS["stage1"], stage1 + user), load_config(PRESETS["stage2"], stage2 + user)]


def run_default(
    out: Path,
    overrides: list[str] | None = None,
    *,
    resume: bool = False,
    log: Log = lambda _: None,
    on_summary: Callable[[dict], None] = lambda _: None,
) -> Path:
    """Run both stages into ``out`` (a finished stage is skipped, a killed one resumes); returns the
    folder of the exported model. Raises ``ConfigError`` for an unusable ``out`` or override."""
    from data_builders.outputs import output_problem
    from galla.config import ConfigError
    from galla.train.checkpoint import latest_checkpoint
    from galla.train.trainer import train

    problem = output_problem(out, "--out")
    if problem:
        raise ConfigError(problem)
    graphs, text = default_data(out, log)
    for cfg in stage_configs(out, graphs, text, overrides):
        run_dir = Path(cfg.run.out_dir)
        if RunDir(run_dir).summary.exists():
            log(f"galla train: {run_dir} is complete; skipping (delete it to train again)")
            continue
        result = train(cfg, resume=resume or latest_checkpoint(run_dir) is not None)
        on_summary(result.summary)
    return RunDir(out).stage(2).export
