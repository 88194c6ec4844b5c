"""Training speed and memory of ``galla train`` against references measured in the same run.

Run from the repository root (``pip install trl`` once for the TRL reference)::

    python benchmarks/train_speed.py --json runs/train_speed.json        # all three, ~15 min on 2 cores
    python benchmarks/train_speed.py --only svft_vs_lora --steps 20      # one measurement, more steps

Model: SmolLM2-135M-Instruct (``smollm2-135m``, offline), fp32, CPU, sdpa attention, full batch of
``--batch-size`` samples per optimizer step (no gradient accumulation), no gradient checkpointing, no
packing. Data: real code. Graphs of the standard-library modules of ``galla train``'s embedded default
(``galla.recipes.default.default_data``), and from them docstring-summarisation SFT records
(``data_builders.downstream.docstring_records``: human = "summarise this function" + its code without the
docstring, bot = the docstring's first sentence). Records longer than ``--max-length`` tokens in either
prompt layout are left out beforehand, so no side drops or truncates anything. Everything is written
under ``--out`` (default ``runs/train_speed``).

What is timed, identically on every side: optimizer steps, from the start of a step to the end of its
optimizer and scheduler update: collation of the batch, forward, backward, gradient clipping, AdamW, the
learning-rate update. Model loading, data tokenisation, logging, checkpointing and the first (warm-up)
step are excluded; ``--steps`` steps are measured after the warm-up. Tokens are non-padding tokens
(``attention_mask`` sums) of the batches of the measured steps; graph placeholders count as tokens (the
LLM processes them).

- galla: the trainer's own step. ``Trainer(cfg)`` builds the model and data; ``Trainer.start()`` is the
  set-up of ``Trainer.fit`` (objective, AdamW, cosine schedule, ``accelerate.prepare``) and, per step,
  ``Trainer.step()`` (batches, forward, backward, clipping, AdamW, ``scheduler.step()``), which is the body
  of ``fit``'s loop minus tensorboard and the progress bar. ``fit`` itself is not used because its
  ``TrainResult.seconds`` includes the warm-up step and the final checkpoint write.
- TRL: ``SFTTrainer.train()``; a ``TrainerCallback`` records the time from ``on_step_begin`` to
  ``on_step_end`` (the batch is already collated when ``on_step_begin`` runs; collation costs
  microseconds on both sides), and a wrapper of ``training_step`` counts the batch's tokens.
- The optimizer's own time (``optimizer.step()``) is recorded on both sides as well (TRL: between
  ``on_pre_optimizer_step`` and ``on_optimizer_step``) to show where the step goes.

Measurements:

1. ``sft_vs_trl``: tokens/s of galla SFT (full fine-tuning) and TRL 1.16 ``SFTTrainer`` on the same
   model, the *same batches in the same order* (galla's step plan, fed to TRL with
   ``train_sampling_strategy="sequential"``), prompt-completion data in the chat template on both sides
   (``data.template: chat``; TRL: conversational prompt/completion, ``completion_only_loss``), the same
   AdamW settings (lr, betas, eps, weight decay, clipping, cosine schedule to the same floor). TRL keeps its
   default optimizer implementation (``adamw_torch_fused``); galla's is ``torch.optim.AdamW`` with its
   defaults. The two trainers step alternately in one process (galla's step runs inside TRL's step
   callbacks, before or after each TRL step in alternating order), so drift of this shared CPU hits both
   alike. Also printed: mean tokens per sample and the first step's loss on each side (same batch, same
   weights: they agree up to TRL's extra newline after ``<|im_end|>``, one more nearly free target per
   sample). Target: galla / TRL tokens/s >= 1.0. On a device without Triton (this CPU) TRL's fused LM head
   projects *every* position through the vocabulary (prompt and padding included; ``compact =
   _use_triton(...)`` in ``trl/trainer/utils.py``), galla's only the supervised ones; on CUDA both project
   only supervised positions, so the CPU ratio overstates what galla gains there.
2. ``stage2_vs_sft``: a GALLa stage-2 run (graph stream: Graph2Code as a question + GraphQA from the
   standard-library graphs, ``--graph-tokens`` placeholders per graph, DUPLEX encoder and cross-attention
   adapter; text stream: the SFT data; everything trainable; fresh encoder and adapter instead of a stage-1
   output, which costs the same) against the SFT run, stepping alternately. Seconds per 1k tokens of each,
   stage 2 split into its graph and text steps. Target: stage 2 / SFT seconds per 1k tokens <= 1.15.
3. ``svft_vs_lora``: ``params.kind: svft`` (banded, ``off_diag`` 16) against ``params.kind: lora``
   (r 16, alpha 32), both on the 7 Llama linear types, SFT on the same data; each in a fresh subprocess
   (``--child``). Trainable parameters, RSS after the model is loaded (before LoRA / SVFT is applied), the
   time to apply the parameterisation (SVFT: one fp32 SVD per layer), the peak RSS of the set-up and of the
   training steps (``VmHWM``, reset through ``/proc/self/clear_refs`` between the two), their maximum (the
   headline), ``ru_maxrss`` for reference (in a child it starts at the parent's peak, which Linux carries
   across ``exec``), step time and tokens/s. Target: SVFT peak memory <= 1.2 x LoRA's (the paper's GPU
   figure, §5.3). SVFT drops W0 but keeps U (d_out x n) and Vᵀ (n x d_in) as frozen buffers: n (d_in +
   d_out) values against d_in d_out, more than W0 whenever the weight is not very rectangular, which is
   the case for every SmolLM2-135M projection.

The text-only runs use ``node_features: learned`` (their encoder is frozen and unused; it only avoids
loading MiniLM); stage 2 uses ``--node-features`` (default ``kind_text``, the official setting).
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

MEASUREMENTS = ("sft_vs_trl", "stage2_vs_sft", "svft_vs_lora")
TARGETS: dict[str, tuple[str, float]] = {
    "sft_vs_trl": (">=", 1.0),
    "stage2_vs_sft": ("<=", 1.15),
    "svft_vs_lora": ("<=", 1.2),
}
"""Per measurement: (comparison, target) of its headline ratio."""
RATIO_LABELS = {
    "sft_vs_trl": "galla SFT / TRL SFTTrainer, tokens/s",
    "stage2_vs_sft": "GALLa stage 2 / SFT, s per 1k tokens",
    "svft_vs_lora": "SVFT / LoRA, peak RSS",
}
LR, MIN_LR, BETAS, EPS, WEIGHT_DECAY, GRAD_CLIP = 2e-5, 2e-6, (0.9, 0.95), 1e-8, 0.1, 1.0
"""One optimizer setting for every side (the stage-2 preset's lr and floor)."""
LLAMA_LINEARS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
FIT_MARGIN = 4
"""Tokens kept free below ``max_length`` when selecting records (TRL's chat layout adds a newline)."""
CPU_SHARE_OK = 0.85
"""Below this share of its threads' CPU time, a run was slowed by other processes (a warning is printed)."""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --- step records and summaries -----------------------------------------------------------------


@dataclass
class StepTime:
    """One timed optimizer step."""

    seconds: float
    tokens: int
    """Non-padding tokens of the step's batch."""
    samples: int
    stream: str = "text"
    """``text`` or ``graph`` (which stream the batch came from)."""
    optimizer_s: float = 0.0
    """Of ``seconds``, the time in ``optimizer.step()``."""
    loss: float = float("nan")
    cpu_s: float = 0.0
    """CPU seconds this process used during the step (all threads)."""


def summarise(steps: Sequence[StepTime], skip: int = 1, stream: str | None = None) -> dict[str, float]:
    """Totals and rates of ``steps`` without the first ``skip`` (warm-up), optionally of one stream only."""
    kept = [s for s in steps[skip:] if stream is None or s.stream == stream]
    if not kept:
        return {"steps": 0}
    seconds = sum(s.seconds for s in kept)
    tokens = sum(s.tokens for s in kept)
    samples = sum(s.samples for s in kept)
    return {
        "steps": len(kept),
        "seconds": round(seconds, 3),
        "tokens": tokens,
        "samples": samples,
        "tokens_per_s": round(tokens / seconds, 2),
        "s_per_step": round(seconds / len(kept), 4),
        "median_step_s": round(statistics.median(s.seconds for s in kept), 4),
        "s_per_1k_tokens": round(1000 * seconds / tokens, 4),
        "tokens_per_sample": round(tokens / samples, 2),
        "optimizer_s_per_step": round(sum(s.optimizer_s for s in kept) / len(kept), 4),
        "cpu_share": round(sum(s.cpu_s for s in kept) / (seconds * torch.get_num_threads()), 3),
        "step_s": [round(s.seconds, 3) for s in kept],
        "step_tokens": [s.tokens for s in kept],
    }


def verdict(name: str, value: float) -> str:
    """``met`` or ``NOT met`` for the headline ratio of measurement ``name``."""
    op, target = TARGETS[name]
    ok = value >= target if op == ">=" else value <= target
    return "met" if ok else "NOT met"


def frozen_storage(shapes: Sequence[tuple[int, int]]) -> dict[str, int]:
    """Values stored for ``(d_out, d_in)`` weights: dense W0 against SVFT's U and Vᵀ, ``n (d_in + d_out)``."""
    dense = sum(o * i for o, i in shapes)
    svft = sum(min(o, i) * (o + i) for o, i in shapes)
    return {"dense": dense, "svft": svft}


def trl_record(record: dict[str, Any]) -> dict[str, Any]:
    """A galla SFT task record (``question``/``answer``) as a TRL conversational prompt-completion row."""
    return {
        "prompt": [{"role": "user", "content": record["question"]}],
        "completion": [{"role": "assistant", "content": record["answer"]}],
    }


def _status_bytes(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024  # kB
    raise KeyError(field)


def rss_bytes() -> int:
    """The current resident set size of this process (``VmRSS``)."""
    return _status_bytes("VmRSS")


def hwm_bytes() -> int:
    """Peak RSS of this process image (``VmHWM``): since ``exec`` or the last :func:`reset_hwm`."""
    return _status_bytes("VmHWM")


def reset_hwm() -> bool:
    """Reset ``VmHWM`` to the current RSS (``/proc/self/clear_refs``, Linux >= 4.0); False if refused."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def ru_maxrss_bytes() -> int:
    """``ru_maxrss`` (KiB on Linux) in bytes. In a child it starts at the parent's peak at ``fork``: Linux
    carries the maximum across ``exec``, so it only measures the child when the child outgrows its parent."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def load_average() -> float:
    """The 1-minute load average (other processes compete for the cores when it exceeds them)."""
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


# --- data ---------------------------------------------------------------------------------------


def prepare_data(out: Path, llm: str, max_length: int) -> tuple[Path, Path]:
    """Graphs of the default stdlib modules and the SFT records that fit ``max_length`` in both layouts."""
    from data_builders.downstream import write_jsonl
    from data_builders.tasks import sft_records
    from galla.recipes.default import default_data
    from galla.train.data import Encoder

    graphs, text = default_data(out / "data")
    fitted = out / "data" / f"docstrings-fit{max_length}.jsonl"
    if not fitted.exists():
        from transformers import AutoTokenizer

        from galla.model import resolve_llm

        tok = AutoTokenizer.from_pretrained(resolve_llm(llm))
        encoders = [Encoder(tok, 0, lambda n: 0, 1 << 30, t) for t in ("galla", "chat")]
        raw = [json.loads(line) for line in text.read_text().splitlines() if line.strip()]
        keep = [
            r
            for r, rec in zip(raw, sft_records(text), strict=True)
            if all(e.encode(rec, "x").length <= max_length - FIT_MARGIN for e in encoders)
        ]
        write_jsonl(keep, fitted)
        log(f"train_speed: {len(keep)} of {len(raw)} docstring records fit {max_length} tokens -> {fitted}")
    return graphs, fitted


# --- galla --------------------------------------------------------------------------------------


def galla_config(args: argparse.Namespace, out_dir: Path, **sections: dict) -> Any:
    """A :class:`TrainConfig` for ``args`` (SFT on the fitted records unless ``sections`` say otherwise)."""
    from galla.train.config import TrainConfig

    data = {"text": [str(args.text)], "max_length": args.max_length, "template": args.template}
    model = {
        "llm": args.llm,
        "dtype": "float32",
        "encoder": {"node_features": "learned"},
        "adapter": {"num_tokens": args.graph_tokens},
    }
    cfg = {
        "name": out_dir.name,
        "model": model | sections.pop("model", {}),
        "params": sections.pop("params", {"kind": "full"}),
        "data": data | sections.pop("data", {}),
        "optim": {
            "lr": LR,
            "min_lr": MIN_LR,
            "warmup_steps": 0,
            "weight_decay": WEIGHT_DECAY,
            "betas": list(BETAS),
            "eps": EPS,
            "grad_clip": GRAD_CLIP,
            "batch_size": args.batch_size,
            "grad_accum": 1,
            "max_steps": args.steps + 1,
        },
        "run": {"out_dir": str(out_dir), "precision": "fp32", "progress": False, "export": False},
    }
    assert not sections, f"unknown sections {sorted(sections)}"
    if out_dir.exists():
        shutil.rmtree(out_dir)
    return TrainConfig.from_dict(cfg)


class GallaStepper:
    """One timed optimizer step of the trainer per :meth:`step` call (``Trainer.step``: the body of
    ``fit``'s loop without tensorboard, evaluation, checkpoints and the progress bar)."""

    def __init__(self, trainer: Any) -> None:
        trainer.start()  # ``fit``'s set-up: objective, AdamW, cosine schedule, ``accelerate.prepare``
        self.trainer, self.steps = trainer, []

    def step(self, i: int) -> StepTime:
        tr = self.trainer
        assert tr.done == i, f"step {i} asked of a trainer at step {tr.done}"
        c0, t0 = time.process_time(), time.perf_counter()
        r = tr.step()
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        streams = {s for s, _ in r.micro}
        rec = StepTime(
            seconds,
            r.tokens,
            sum(len(rows) for _, rows in r.micro),
            streams.pop() if len(streams) == 1 else "mixed",
            r.optimizer_seconds,
            r.loss,
            cpu,
        )
        self.steps.append(rec)
        return rec


def build_trainer(cfg: Any, **kw: Any) -> tuple[Any, float]:
    from galla.train.trainer import Trainer

    t0 = time.perf_counter()
    trainer = Trainer(cfg, **kw)
    return trainer, time.perf_counter() - t0


def trainable(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# --- TRL ----------------------------------------------------------------------------------------


def trl_available() -> bool:
    try:
        import trl  # noqa: F401
    except ImportError:
        return False
    return True


def run_trl(
    args: argparse.Namespace,
    records: list[dict[str, Any]],
    out_dir: Path,
    between: Callable[[int], object] | None = None,
) -> tuple[list[StepTime], dict[str, Any]]:
    """TRL ``SFTTrainer`` over ``records`` in order, one step per ``batch_size`` records, each step timed.

    ``between(i)`` (the other side's step ``i``) runs right before TRL's step ``i`` when ``i`` is odd and
    right after it when ``i`` is even, outside TRL's timing.
    """
    import trl
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from galla.model import load_llm

    steps: list[StepTime] = []
    batches: list[tuple[int, int, float]] = []

    class Clock(TrainerCallback):
        def __init__(self) -> None:
            self.i, self.t0, self.c0, self.o0, self.opt = 0, 0.0, 0.0, 0.0, 0.0

        def on_step_begin(self, a, state, control, **kw):
            if between is not None and self.i % 2 == 1:
                between(self.i)
            self.opt = 0.0
            self.c0, self.t0 = time.process_time(), time.perf_counter()

        def on_pre_optimizer_step(self, a, state, control, **kw):
            self.o0 = time.perf_counter()

        def on_optimizer_step(self, a, state, control, **kw):
            self.opt += time.perf_counter() - self.o0

        def on_step_end(self, a, state, control, **kw):
            seconds, cpu = time.perf_counter() - self.t0, time.process_time() - self.c0
            tokens, samples, loss = batches.pop(0)
            steps.append(StepTime(seconds, tokens, samples, "text", self.opt, loss, cpu))
            if between is not None and self.i % 2 == 0:
                between(self.i)
            self.i += 1

    t0 = time.perf_counter()
    llm, tok = load_llm(args.llm, dtype="float32", attn_implementation="sdpa")
    n_steps = len(records) // args.batch_size
    config = SFTConfig(
        output_dir=str(out_dir),
        max_steps=n_steps,
        per_device_train_batch_size=args.batch_size,
        gradient_accumulation_steps=1,
        learning_rate=LR,
        lr_scheduler_type="cosine_with_min_lr",
        lr_scheduler_kwargs={"min_lr": MIN_LR},
        warmup_steps=0,
        weight_decay=WEIGHT_DECAY,
        adam_beta1=BETAS[0],
        adam_beta2=BETAS[1],
        adam_epsilon=EPS,
        max_grad_norm=GRAD_CLIP,
        bf16=False,
        use_cpu=True,
        gradient_checkpointing=False,
        report_to="none",
        max_length=args.max_length,
        packing=False,
        padding_free=False,
        completion_only_loss=True,
        logging_steps=n_steps,
        save_strategy="no",
        dataloader_num_workers=0,
        train_sampling_strategy="sequential",
        seed=0,
        disable_tqdm=True,
    )
    dataset = Dataset.from_list([trl_record(r) for r in records])
    trainer = SFTTrainer(
        model=llm, args=config, train_dataset=dataset, processing_class=tok, callbacks=[Clock()]
    )
    inner = trainer.training_step

    def counted(model, inputs, num_items_in_batch=None):
        loss = inner(model, inputs, num_items_in_batch)
        mask = inputs["attention_mask"]
        batches.append((int(mask.sum()), int(mask.shape[0]), float(loss)))
        return loss

    trainer.training_step = counted
    setup_s = time.perf_counter() - t0
    trainer.train()
    info = {
        "trl": trl.__version__,
        "optim": str(config.optim),
        "setup_s": round(setup_s, 2),
        "trainable": trainable(trainer.model),
    }
    del trainer, llm
    return steps, info


# --- the measurements ---------------------------------------------------------------------------


def sft_vs_trl(args: argparse.Namespace) -> dict[str, Any]:
    from data_builders.tasks import sft_records

    if not trl_available():
        msg = "TRL is not installed: `pip install trl` (1.16), then run again"
        log(f"sft_vs_trl: skipped; {msg}")
        return {"skipped": msg}
    cfg = galla_config(args, args.out / "sft_vs_trl" / "galla", data={"template": "chat"})
    trainer, galla_setup = build_trainer(cfg)
    assert not trainer.dropped, f"galla dropped over-length samples: {trainer.dropped}"
    records = sft_records(args.text)
    plan = [rows for i in range(args.steps + 1) for _, rows in trainer.plan.step(i)]
    ordered = [records[j] for rows in plan for j in rows]  # galla's batches, in galla's order
    stepper = GallaStepper(trainer)
    log(f"sft_vs_trl: {args.steps + 1} steps each, galla and TRL alternating, batch {args.batch_size}")
    trl_steps, info = run_trl(args, ordered, args.out / "sft_vs_trl" / "trl", between=stepper.step)
    g, t = summarise(stepper.steps), summarise(trl_steps)
    pairs = [b.seconds / a.seconds for a, b in zip(trl_steps[1:], stepper.steps[1:], strict=True)]
    ratio = g["tokens_per_s"] / t["tokens_per_s"]
    no_opt = [x["tokens"] / (x["seconds"] - x["optimizer_s_per_step"] * x["steps"]) for x in (g, t)]
    return {
        "galla": g | {"setup_s": round(galla_setup, 2), "trainable": trainable(trainer.model)},
        "trl": t | info,
        "first_loss": {"galla": stepper.steps[0].loss, "trl": trl_steps[0].loss},
        "median_paired_step_ratio_galla_over_trl": round(statistics.median(pairs), 4),
        "tokens_per_s_without_optimizer": {"galla": round(no_opt[0], 2), "trl": round(no_opt[1], 2)},
        "ratio_without_optimizer": round(no_opt[0] / no_opt[1], 4),
        "ratio": round(ratio, 4),
        "verdict": verdict("sft_vs_trl", ratio),
    }


def stage2_vs_sft(args: argparse.Namespace) -> dict[str, Any]:
    root = args.out / "stage2_vs_sft"
    stage2_cfg = galla_config(
        args,
        root / "stage2",
        model={"encoder": {"node_features": args.node_features}},
        data={
            "graphs": [str(args.graphs)],
            "graph_tasks": ["graph2code", "graph_qa"],
            "max_graphs": 256,
            "qa_per_graph": 2,
            "template": "galla",
        },
    )
    sft_cfg = galla_config(args, root / "sft", data={"template": "galla"})
    stage2, s2_setup = build_trainer(stage2_cfg)
    sft, sft_setup = build_trainer(sft_cfg)
    a, b = GallaStepper(stage2), GallaStepper(sft)
    log(f"stage2_vs_sft: {args.steps + 1} steps each, alternating; stage-2 streams {stage2.stream_sizes}")
    for i in range(args.steps + 1):
        for stepper in (a, b) if i % 2 == 0 else (b, a):
            stepper.step(i)
    s2, text = summarise(a.steps), summarise(b.steps)
    ratio = s2["s_per_1k_tokens"] / text["s_per_1k_tokens"]
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    return {
        "stage2": s2
        | {
            "setup_s": round(s2_setup, 2),
            "trainable": trainable(stage2.model),
            "encoder_params": count(stage2.model.encoder),
            "adapter_params": count(stage2.model.adapter),
            "streams": stage2.stream_sizes,
            "dropped_over_max_length": stage2.dropped,
        },
        "stage2_graph_steps": summarise(a.steps, stream="graph"),
        "stage2_text_steps": summarise(a.steps, stream="text"),
        "sft": text | {"setup_s": round(sft_setup, 2), "trainable": trainable(sft.model)},
        "ratio": round(ratio, 4),
        "verdict": verdict("stage2_vs_sft", ratio),
    }


def child(args: argparse.Namespace) -> int:
    """One parameterisation in this fresh process; writes its numbers to ``--child-json``."""
    from galla.train.params import apply_params

    kind = args.child
    params = {"kind": kind}
    if kind == "svft":
        params["svft"] = {"pattern": "banded", "off_diag": 16, "target_modules": list(LLAMA_LINEARS)}
    elif kind == "lora":
        params["lora"] = {"r": 16, "alpha": 32.0, "target_modules": list(LLAMA_LINEARS)}
    cfg = galla_config(args, args.out / "svft_vs_lora" / kind, params=params)
    info: dict[str, Any] = {"kind": kind}

    def apply_and_measure(model, pcfg, **kw):
        from torch import nn

        targets = tuple(f".{t}" for t in LLAMA_LINEARS)
        shapes = [
            tuple(m.weight.shape)
            for n, m in model.llm.named_modules()
            if isinstance(m, nn.Linear) and n.endswith(targets)
        ]
        info["target_layers"] = len(shapes)
        info["frozen_values"] = frozen_storage(shapes)
        info["rss_after_load"] = rss_bytes()
        info["peak_rss_load"] = hwm_bytes()
        t0 = time.perf_counter()
        result = apply_params(model, pcfg, **kw)
        info["apply_s"] = round(time.perf_counter() - t0, 3)
        info["rss_after_apply"] = rss_bytes()
        return result

    trainer, setup_s = build_trainer(cfg, parameterise=apply_and_measure)
    info["setup_s"] = round(setup_s, 2)
    info["trainable"] = trainable(trainer.model)
    info["buffers_bytes"] = sum(b.numel() * b.element_size() for b in trainer.model.llm.buffers())
    info["params_bytes"] = sum(p.numel() * p.element_size() for p in trainer.model.llm.parameters())
    stepper = GallaStepper(trainer)
    info["rss_before_steps"] = rss_bytes()
    info["peak_rss_setup"] = hwm_bytes()  # loading, SVD / LoRA injection, data
    if not reset_hwm():
        log("svft_vs_lora: /proc/self/clear_refs refused; the steps' peak includes the set-up")
    for i in range(args.steps + 1):
        stepper.step(i)
    info["peak_rss_steps"] = hwm_bytes()  # the training steps alone (after the reset)
    info["peak_rss"] = max(info["peak_rss_setup"], info["peak_rss_steps"])
    info["ru_maxrss"] = ru_maxrss_bytes()
    info |= summarise(stepper.steps)
    Path(args.child_json).write_text(json.dumps(info, indent=2) + "\n")
    return 0


def svft_vs_lora(args: argparse.Namespace) -> dict[str, Any]:
    root = args.out / "svft_vs_lora"
    root.mkdir(parents=True, exist_ok=True)
    results = {}
    for kind in ("lora", "svft"):
        path = root / f"{kind}.json"
        path.unlink(missing_ok=True)
        cmd = [sys.executable, __file__, "--child", kind, "--child-json", str(path), *child_argv(args)]
        log(f"svft_vs_lora: {kind} in a fresh process")
        done = subprocess.run(cmd, check=False)
        if done.returncode or not path.exists():
            raise SystemExit(f"svft_vs_lora: {kind} child failed (exit {done.returncode}): {shlex.join(cmd)}")
        results[kind] = json.loads(path.read_text())
    lora, svft = results["lora"], results["svft"]
    ratio = svft["peak_rss"] / lora["peak_rss"]
    overhead = lambda r: r["peak_rss_steps"] - r["rss_after_load"]  # noqa: E731
    return {
        "lora": lora,
        "svft": svft,
        "peak_rss_steps_ratio": round(svft["peak_rss_steps"] / lora["peak_rss_steps"], 4),
        "overhead_ratio": round(overhead(svft) / overhead(lora), 4),
        "step_time_ratio": round(svft["s_per_step"] / lora["s_per_step"], 4),
        "ratio": round(ratio, 4),
        "verdict": verdict("svft_vs_lora", ratio),
    }


def child_argv(args: argparse.Namespace) -> list[str]:
    """The options a child process needs to rebuild the same configuration."""
    return [
        "--out", str(args.out), "--llm", args.llm, "--steps", str(args.steps),
        "--batch-size", str(args.batch_size), "--max-length", str(args.max_length),
        "--graph-tokens", str(args.graph_tokens), "--template", args.template,
    ]  # fmt: skip


# --- report -------------------------------------------------------------------------------------


def _mb(n: float) -> str:
    return f"{n / 2**20:,.0f}"


def report(results: dict[str, dict[str, Any]], console: Any) -> None:
    from rich.table import Table

    if "sft_vs_trl" in results and "skipped" not in results["sft_vs_trl"]:
        r = results["sft_vs_trl"]
        t = Table(title="sft_vs_trl: full fine-tuning, same batches, chat layout")
        for col in ("side", "steps", "tokens", "tok/sample", "s/step", "median s/step", "optim s/step",
                    "tokens/s", "CPU share", "first loss"):  # fmt: skip
            t.add_column(col, justify="right" if col != "side" else "left")
        for side, label in (("galla", "galla train (SFT)"), ("trl", f"TRL {r['trl']['trl']} SFTTrainer")):
            s = r[side]
            t.add_row(
                label, str(s["steps"]), f"{s['tokens']:,}", f"{s['tokens_per_sample']:.1f}",
                f"{s['s_per_step']:.2f}", f"{s['median_step_s']:.2f}", f"{s['optimizer_s_per_step']:.2f}",
                f"{s['tokens_per_s']:,.0f}", f"{s['cpu_share']:.2f}", f"{r['first_loss'][side]:.4f}",
            )  # fmt: skip
        console.print(t)
        console.print(
            f"  TRL optimizer: {r['trl']['optim']}; median of paired step ratios galla/TRL "
            f"{r['median_paired_step_ratio_galla_over_trl']:.3f}; without the optimizer step: galla "
            f"{r['tokens_per_s_without_optimizer']['galla']:,.0f} tok/s, TRL "
            f"{r['tokens_per_s_without_optimizer']['trl']:,.0f} tok/s, "
            f"ratio {r['ratio_without_optimizer']:.3f}"
        )
    elif "sft_vs_trl" in results:
        console.print(f"sft_vs_trl: skipped ({results['sft_vs_trl']['skipped']})")
    if "stage2_vs_sft" in results:
        r = results["stage2_vs_sft"]
        t = Table(title=f"stage2_vs_sft: everything trainable, {r['stage2']['streams']}")
        cols = ("run / steps", "steps", "tokens", "tok/sample", "s/step", "optim s/step", "CPU share",
                "s per 1k tok")  # fmt: skip
        for col in cols:
            t.add_column(col, justify="right" if col != "run / steps" else "left")
        rows = (
            ("GALLa stage 2, all steps", r["stage2"]),
            ("  of which graph batches", r["stage2_graph_steps"]),
            ("  of which text batches", r["stage2_text_steps"]),
            ("SFT (text only)", r["sft"]),
        )
        for label, s in rows:
            if not s.get("steps"):
                t.add_row(label, "0", *[""] * (len(cols) - 2))
                continue
            t.add_row(
                label, str(s["steps"]), f"{s['tokens']:,}", f"{s['tokens_per_sample']:.1f}",
                f"{s['s_per_step']:.2f}", f"{s['optimizer_s_per_step']:.2f}", f"{s['cpu_share']:.2f}",
                f"{s['s_per_1k_tokens']:.3f}",
            )  # fmt: skip
        console.print(t)
        console.print(
            f"  trainable: stage 2 {r['stage2']['trainable']:,} (encoder {r['stage2']['encoder_params']:,}, "
            f"adapter {r['stage2']['adapter_params']:,}), SFT {r['sft']['trainable']:,}"
        )
    if "svft_vs_lora" in results:
        r = results["svft_vs_lora"]
        t = Table(title="svft_vs_lora: SFT, 7 linear types, separate processes (MiB)")
        cols = ("params", "trainable", "apply s", "RSS after load", "after apply", "peak set-up",
                "peak steps", "peak", "ru_maxrss", "steps peak - load", "s/step", "tokens/s",
                "CPU share")  # fmt: skip
        for col in cols:
            t.add_column(col, justify="right" if col != "params" else "left")
        for kind, label in (("lora", "LoRA r=16"), ("svft", "SVFT banded d=16")):
            s = r[kind]
            t.add_row(
                label, f"{s['trainable']:,}", f"{s['apply_s']:.2f}", _mb(s["rss_after_load"]),
                _mb(s["rss_after_apply"]), _mb(s["peak_rss_setup"]), _mb(s["peak_rss_steps"]),
                _mb(s["peak_rss"]), _mb(s["ru_maxrss"]), _mb(s["peak_rss_steps"] - s["rss_after_load"]),
                f"{s['s_per_step']:.2f}",
                f"{s['tokens_per_s']:,.0f}", f"{s['cpu_share']:.2f}",
            )  # fmt: skip
        console.print(t)
        fv = r["svft"]["frozen_values"]
        console.print(
            f"  frozen storage of the {r['svft']['target_layers']} target layers: dense W0 {fv['dense']:,} "
            f"values ({_mb(4 * fv['dense'])} MiB fp32), SVFT U + Vᵀ {fv['svft']:,} "
            f"({_mb(4 * fv['svft'])} MiB, x{fv['svft'] / fv['dense']:.2f}); peak during steps ratio "
            f"{r['peak_rss_steps_ratio']:.3f}, training overhead (peak - RSS after load) ratio "
            f"{r['overhead_ratio']:.3f}, step time ratio {r['step_time_ratio']:.3f}"
        )
    for name, r in results.items():
        shares = [v["cpu_share"] for v in r.values() if isinstance(v, dict) and "cpu_share" in v]
        if shares and min(shares) < CPU_SHARE_OK:
            load = r.get("load_average", ["?", "?"])
            console.print(
                f"[yellow]{name}: a side got {min(shares):.0%} of {torch.get_num_threads()} threads' CPU "
                f"time (load average {load[0]} -> {load[1]}): other processes shared the CPU, so its timings "
                "are noisy; run it again on a quiet machine[/yellow]"
            )
    t = Table(title="ratios")
    for col in ("measurement", "ratio", "target", "measured", "verdict"):
        t.add_column(col)
    for name in MEASUREMENTS:
        if name in results and "ratio" in results[name]:
            op, target = TARGETS[name]
            r = results[name]
            t.add_row(name, RATIO_LABELS[name], f"{op} {target}", f"{r['ratio']:.3f}", r["verdict"])
    console.print(t)


# --- CLI ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", choices=MEASUREMENTS, action="append", help="run only this (repeatable)")
    p.add_argument("--steps", type=int, default=10, help="measured optimizer steps per side (+1 warm-up)")
    p.add_argument("--batch-size", type=int, default=4, help="samples per optimizer step")
    p.add_argument("--max-length", type=int, default=512, help="longest sample in tokens")
    p.add_argument("--graph-tokens", type=int, default=32, help="stage 2: graph tokens per graph")
    p.add_argument("--node-features", default="kind_text", choices=["kind_text", "learned"], help="stage 2")
    p.add_argument("--template", default="chat", choices=["chat", "galla"], help="SFT layout (svft_vs_lora)")
    p.add_argument("--llm", default="smollm2-135m", help="offline name, HF dir or .gguf")
    p.add_argument("--out", type=Path, default=Path("runs/train_speed"), help="work directory")
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--child", choices=["lora", "svft"], help=argparse.SUPPRESS)
    p.add_argument("--child-json", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.steps < 1:
        p.error("--steps must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console

    raw = sys.argv[1:] if argv is None else argv
    args = parse_args(raw)
    args.graphs, args.text = prepare_data(args.out, args.llm, args.max_length)
    if args.child:
        return child(args)
    console = Console()
    if not console.is_terminal:
        console.width = 150
    console.print(f"command: python benchmarks/train_speed.py {shlex.join(raw)}".rstrip())
    console.print(
        f"model {args.llm}, fp32, CPU ({torch.get_num_threads()} torch threads), batch {args.batch_size}, "
        f"max length {args.max_length}, {args.steps} measured steps (+1 warm-up) per side"
    )
    funcs = {"sft_vs_trl": sft_vs_trl, "stage2_vs_sft": stage2_vs_sft, "svft_vs_lora": svft_vs_lora}
    results: dict[str, dict[str, Any]] = {}
    for name in args.only or MEASUREMENTS:
        t0, load0 = time.perf_counter(), load_average()
        results[name] = funcs[name](args)
        results[name]["wall_s"] = round(time.perf_counter() - t0, 1)
        results[name]["load_average"] = [load0, load_average()]
        gc.collect()  # the trainers of one measurement are gone before the next starts
        log(f"{name}: done in {results[name]['wall_s']:.0f} s")
        if args.json:  # after each measurement, so a later failure keeps what was measured
            args.json.parent.mkdir(parents=True, exist_ok=True)
            meta = {"command": shlex.join(["python", "benchmarks/train_speed.py", *raw]),
                    "threads": torch.get_num_threads(), "torch": torch.__version__}  # fmt: skip
            args.json.write_text(json.dumps(meta | {"results": results}, indent=2, default=str) + "\n")
    report(results, console)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
