"""Fixtures: a tiny local LLM directory, a small graph dataset, SFT and DPO files, a config factory."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from tiny import TINY_ENCODER, save_tiny_llm, write_jsonl

from galla.train.config import TrainConfig

SNIPPETS = {
    "a.py": "def add(a, b):\n    return a + b\n\n\ndef clamp(x, lo, hi):\n    if x < lo:\n        x = lo\n"
    "    return x\n\n\ndef total(xs):\n    t = 0\n    for x in xs:\n        t += x\n    return t\n",
    "b.py": "def first(xs):\n    for x in xs:\n        return x\n    return None\n\n\ndef swap(p):\n"
    "    a, b = p\n    return b, a\n\n\ndef inc(n):\n    n = n + 1\n    return n\n",
}


@pytest.fixture(scope="session")
def tiny_llm(tmp_path_factory) -> Path:
    return save_tiny_llm(tmp_path_factory.mktemp("tiny") / "llm")


@pytest.fixture(scope="session")
def graph_dir(tmp_path_factory) -> Path:
    from data_builders.build import BuildOptions, build_graphs

    src = tmp_path_factory.mktemp("repo")
    for name, code in SNIPPETS.items():
        (src / name).write_text(code)
    out = tmp_path_factory.mktemp("graphs") / "g"
    build_graphs(BuildOptions(paths=[str(src)], out=out, workers=1, cache=False))
    return out


@pytest.fixture(scope="session")
def sft_file(tmp_path_factory) -> Path:
    rows = [{"human": f"add {i} and {i + 1}", "bot": f"return {i} + {i + 1}"} for i in range(16)]
    return write_jsonl(tmp_path_factory.mktemp("sft") / "sft.jsonl", rows)


@pytest.fixture(scope="session")
def dpo_file(tmp_path_factory) -> Path:
    rows = [
        {"prompt": f"clamp x {i}", "chosen": f"return min(max(x, {i}), hi)", "rejected": "return x"}
        for i in range(8)
    ]
    return write_jsonl(tmp_path_factory.mktemp("dpo") / "dpo.jsonl", rows)


@pytest.fixture
def make_cfg(tiny_llm, tmp_path):
    """``make_cfg(data={...}, **sections)``: a TrainConfig on the tiny LLM writing under tmp_path."""

    def _make(**sections) -> TrainConfig:
        base = {
            "model": {
                "llm": str(tiny_llm),
                "encoder": TINY_ENCODER,
                "adapter": {"num_tokens": 4, "num_heads": 4},
            },
            "optim": {"lr": 1e-3, "min_lr": 1e-4, "batch_size": 2, "max_steps": 2, "weight_decay": 0.0},
            "run": {"out_dir": str(tmp_path / "run"), "progress": False, "export": False},
        }
        for key, value in sections.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                base[key] = {**base[key], **value}
            else:
                base[key] = value
        return TrainConfig.from_dict(base)

    return _make
