"""Two CPU processes (DDP over gloo, by ``accelerate launch``) against one process, same global batch."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys

import pytest
import torch
import yaml
from safetensors.torch import load_file
from tiny import TINY_ENCODER

from galla.train.checkpoint import latest_checkpoint


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(config, *overrides: str) -> list[str]:
    """``galla train CONFIG`` on two CPU processes (gloo) through ``accelerate launch``."""
    return [
        *("accelerate", "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1"),
        *("--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(_free_port())),
        *("-m", "galla.cli", "train", str(config), *overrides),
    ]


def _single(config, out_dir) -> list[str]:
    """The same run on one process with the two processes' global batch (2 x 2)."""
    return [
        sys.executable,
        "-m",
        "galla.cli",
        "train",
        str(config),
        "optim.batch_size=4",
        f"run.out_dir={out_dir}",
    ]


def _weight_diffs(w1: dict, w2: dict) -> torch.Tensor:
    assert w1.keys() == w2.keys()
    return torch.cat([(w1[k] - w2[k]).abs().flatten() for k in w1])


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


def _state(run_dir):
    ck = latest_checkpoint(run_dir)
    return json.loads((ck / "trainer_state.json").read_text()), load_file(ck / "model.safetensors")


needs_launcher = pytest.mark.skipif(shutil.which("accelerate") is None, reason="accelerate not on PATH")


@needs_launcher
def test_two_processes_match_one(make_cfg, graph_dir, sft_file, tmp_path):
    cfg = make_cfg(
        data={"graphs": [str(graph_dir)], "graph_tasks": ["graph2code", "graph_qa"], "text": [str(sft_file)]},
        model={"encoder": {**TINY_ENCODER, "dropout": 0.0}},  # dropout masks differ with the process count
        optim={"max_steps": 3, "batch_size": 2, "grad_accum": 2},
        run={"out_dir": str(tmp_path / "two"), "progress": False, "save_every": 3},
    )
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg.to_dict()))
    _run(_launch(path))
    _run(_single(path, tmp_path / "one"))
    (s1, w1), (s2, w2) = _state(tmp_path / "one"), _state(tmp_path / "two")
    assert s1["world_size"] == 1 and s2["world_size"] == 2
    assert s2["losses"] == pytest.approx(s1["losses"], rel=1e-4)
    assert s1["tokens"] == s2["tokens"]
    # Weights agree to float noise. Adam turns the pure-noise gradients of parameters the loss cannot see
    # (an attention key bias) into +-lr steps, so compare in bulk rather than element by element.
    diffs = _weight_diffs(w1, w2)
    assert (diffs < 1e-5).float().mean() > 0.99 and diffs.max() < 3 * cfg.optim.lr * cfg.optim.max_steps


@needs_launcher
def test_fsdp_two_processes_with_resume_match_one_process(make_cfg, graph_dir, sft_file, tmp_path):
    """FSDP2 over two processes, killed after step 2 and resumed to step 3 (so its gathered checkpoint
    is read back into shards), against one uninterrupted process with the same global batch."""
    cfg = make_cfg(
        data={"graphs": [str(graph_dir)], "graph_tasks": ["graph2code", "graph_qa"], "text": [str(sft_file)]},
        model={"encoder": {**TINY_ENCODER, "dropout": 0.0}},
        optim={"max_steps": 3, "batch_size": 2, "grad_accum": 2, "min_lr": 1e-3, "warmup_steps": 0},
        run={"out_dir": str(tmp_path / "fsdp"), "progress": False, "save_every": 1, "strategy": "fsdp"},
    )  # constant lr: the 2-step run and its resumption follow the 3-step run's schedule exactly
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump({**cfg.to_dict(), "run": {**cfg.to_dict()["run"], "export": True}}))
    _run(_launch(path, "optim.max_steps=2"))
    (s_two, _) = _state(tmp_path / "fsdp")
    assert s_two["step"] == 2 and s_two["world_size"] == 2
    _run([*_launch(path), "--resume"])
    _run(_single(path, tmp_path / "one"))
    (s1, w1), (s2, w2) = _state(tmp_path / "one"), _state(tmp_path / "fsdp")
    assert s2["step"] == 3 and s2["losses"] == pytest.approx(s1["losses"], rel=1e-4)
    assert s1["tokens"] == s2["tokens"]
    diffs = _weight_diffs(w1, w2)
    assert (diffs < 1e-5).float().mean() > 0.99 and diffs.max() < 3 * cfg.optim.lr * cfg.optim.max_steps
    # the export was written from the gathered weights: a plain HF model equal to the checkpoint's LLM
    from transformers import AutoModelForCausalLM

    exported = AutoModelForCausalLM.from_pretrained(tmp_path / "fsdp" / "export").state_dict()
    same = [n for n, t in exported.items() if f"llm.{n}" in w2 and torch.equal(t, w2[f"llm.{n}"])]
    assert len(same) == len([n for n in exported if f"llm.{n}" in w2]) > 10
    summary = json.loads((tmp_path / "fsdp" / "summary.json").read_text())
    assert summary["strategy"] == "fsdp (2 decoder layers + root)" and summary["processes"] == 2


FSDP_VARIANTS = {
    "stage1-frozen-llm": {
        "data": {"graph_tasks": ["graph2code"]},
        "model": {"llm_trainable": False},
        "optim": {"grad_accum": 1},  # the snippets make one global batch of Graph2Code
    },
    "lora-stage2": {
        "data": {"graph_tasks": ["graph2code", "graph_qa"], "text": "sft"},
        "params": {"kind": "lora", "lora": {"r": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"]}},
    },
    "svft-sft": {
        "data": {"graphs": [], "text": "sft"},
        "params": {
            "kind": "svft",
            "svft": {"pattern": "banded", "off_diag": 1, "target_modules": ["q_proj", "o_proj"]},
        },
    },
    "full-stage2-zero2": {
        "data": {"graph_tasks": ["graph2code", "graph_qa"], "text": "sft"},
        # 5 held-out graph samples: the two processes' shares of the last eval batch are 1 and 0
        "run": {"strategy": "fsdp_grad_op", "eval_samples": 5},
    },
    "dpo-full-precomputed-reference": {"data": {"graphs": [], "preference": "dpo"}},
    "dpo-svft": {  # the reference pass zeroes SVFT's sharded M and restores it
        "data": {"graphs": [], "preference": "dpo"},
        "params": {"kind": "svft", "svft": {"pattern": "plain", "target_modules": ["q_proj", "v_proj"]}},
    },
    "dpo-lora": {
        "data": {"graphs": [], "preference": "dpo"},
        "params": {"kind": "lora", "lora": {"r": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"]}},
    },
}


@needs_launcher
@pytest.mark.parametrize("variant", sorted(FSDP_VARIANTS))
def test_fsdp_variants_match_one_process(variant, make_cfg, graph_dir, sft_file, dpo_file, tmp_path):
    spec = FSDP_VARIANTS[variant]
    data = {"graphs": [str(graph_dir)], **spec["data"]}
    for key, file in (("text", sft_file), ("preference", dpo_file)):
        if key in data:
            data[key] = [str(file)]
    cfg = make_cfg(
        data=data,
        model={"encoder": {**TINY_ENCODER, "dropout": 0.0}, **spec.get("model", {})},
        params=spec.get("params", {"kind": "full"}),
        optim={"max_steps": 2, "batch_size": 2, "grad_accum": 2, **spec.get("optim", {})},
        run={
            "out_dir": str(tmp_path / "fsdp"),
            "progress": False,
            "strategy": "fsdp",
            "export": True,
            "eval_samples": 0,  # held out only where a variant asks (the defaults hold out a fifth)
            "eval_every": 0,
            **spec.get("run", {}),
        },
    )
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg.to_dict()))
    _run(_launch(path))
    _run(_single(path, tmp_path / "one"))
    (s1, w1), (s2, w2) = _state(tmp_path / "one"), _state(tmp_path / "fsdp")
    assert s2["losses"] == pytest.approx(s1["losses"], rel=1e-4)
    assert len(s2["evals"]) == len(s1["evals"]) == (2 if cfg.run.eval_samples else 0)
    for e1, e2 in zip(s1["evals"], s2["evals"], strict=True):
        assert e1.keys() == e2.keys() and all(e2[k] == pytest.approx(e1[k], rel=1e-4) for k in e1)
    diffs = _weight_diffs(w1, w2)
    assert (diffs < 1e-5).float().mean() > 0.99
    assert (tmp_path / "fsdp" / "export" / "config.json").exists()
    assert json.loads((tmp_path / "fsdp" / "summary.json").read_text())["strategy"].startswith("fsdp")
