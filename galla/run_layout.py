"""The names of what ``galla train`` writes, in one place (standard library only, so that the evaluation
side can read a run without importing torch or PyG).

A run directory (``run.out_dir``)::

    config.yaml          what was trained
    summary.json         written last: the run is complete
    tb/                  tensorboard logs
    checkpoints/         step-000120/ ..., and ``latest`` naming the newest
    final/               the GraphLLM (a GraphLLM directory, below), updates merged
    export/              the LLM alone, a plain Hugging Face model
    lora_adapter/        peft's adapter, for LoRA runs

A multi-stage run (``galla train`` without a config, ``benchmarks/galla_effect.py``) is a directory of
run directories ``stage1/``, ``stage2/``, ... A GraphLLM directory (``GraphLLM.save_pretrained``) holds
``galla_config.json``, ``llm/`` (a Hugging Face model), ``encoder.safetensors`` and ``adapter.safetensors``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

GRAPH_LLM_CONFIG = "galla_config.json"
"""The file that makes a directory a GraphLLM save."""
STAGE_NAME = re.compile(r"stage([0-9]{1,6})")
LATEST = "latest"
"""The one-line file in ``checkpoints/`` naming the newest checkpoint."""
STEP_NAME = re.compile(r"step-[0-9]{1,12}")
"""The checkpoint directory names (``step-000120``); ``latest`` is followed only to one of these."""


@dataclass(frozen=True)
class GraphLLMDir:
    """A directory written by ``GraphLLM.save_pretrained``."""

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    @property
    def config(self) -> Path:
        return self.path / GRAPH_LLM_CONFIG

    @property
    def llm(self) -> Path:
        return self.path / "llm"

    def weights(self, part: str) -> Path:
        """``encoder.safetensors`` or ``adapter.safetensors``."""
        return self.path / f"{part}.safetensors"

    def exists(self) -> bool:
        return self.config.is_file()


@dataclass(frozen=True)
class RunDir:
    """One ``galla train`` run directory (or a multi-stage run's parent: see :meth:`stages`)."""

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    @property
    def config(self) -> Path:
        return self.path / "config.yaml"

    @property
    def summary(self) -> Path:
        return self.path / "summary.json"

    @property
    def tensorboard(self) -> Path:
        return self.path / "tb"

    @property
    def final(self) -> Path:
        return self.path / "final"

    @property
    def export(self) -> Path:
        return self.path / "export"

    @property
    def lora_adapter(self) -> Path:
        return self.path / "lora_adapter"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def latest(self) -> Path:
        return self.checkpoints / LATEST

    def checkpoint(self, step: int) -> Path:
        return self.checkpoints / f"step-{step:06d}"

    def stage(self, number: int) -> RunDir:
        return RunDir(self.path / f"stage{number}")

    def stages(self) -> list[RunDir]:
        """The ``stageN/`` directories there, in stage order (``stage10`` after ``stage9``)."""
        if not self.path.is_dir():
            return []
        found = [
            (int(m[1]), p) for p in self.path.iterdir() if (m := STAGE_NAME.fullmatch(p.name)) and p.is_dir()
        ]
        return [RunDir(p) for _, p in sorted(found)]

    def last_stage(self) -> RunDir | None:
        stages = self.stages()
        return stages[-1] if stages else None


__all__ = ["GRAPH_LLM_CONFIG", "LATEST", "STAGE_NAME", "STEP_NAME", "GraphLLMDir", "RunDir"]
