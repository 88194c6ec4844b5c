"""One training loop for GALLa stage 1 and 2 and the baselines (SFT, DPO; full, LoRA, SVFT).

``train(cfg)`` builds the GraphLLM, parameterises it, encodes the data streams, then runs AdamW with a
cosine schedule (warmup, floor), gradient accumulation and clipping under ``accelerate`` (one process,
or ``accelerate launch``: DDP, or FSDP2 with ``run.strategy: fsdp``, see :mod:`galla.train.sharding`).
Each micro-batch comes from one stream (graph or text) in GALLa's proportional order; graph losses are
scaled by ``min(N_text / N_graph, 1)``. Losses are normalised by the supervised tokens (or DPO pairs) of the
whole global micro-batch, so one process and N processes with the same global batch agree.

Checkpoints every ``run.save_every`` steps hold everything a resumed run needs (weights, optimizer,
scheduler, RNG of every process, the step, which fixes the data position); ``resume=True`` continues
the newest one and ends at the same weights as an uninterrupted run. A non-finite loss or gradient stops
the run before the optimizer step, with a checkpoint of the last good weights.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console

from data_builders.lock import FolderBusy
from data_builders.lock import acquire as acquire_folder
from data_builders.lock import release as release_folder
from data_builders.outputs import output_problem, write_failure
from galla.config import ConfigError
from galla.model import GraphLLM
from galla.model.llm import llm_spec_problem
from galla.train import sharding
from galla.train.checkpoint import (
    checkpoint_dir,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
    set_rng_state,
)
from galla.train.config import TrainConfig
from galla.train.data import (
    Batch,
    Encoder,
    Example,
    collate,
    epoch_batches,
    graph_loss_scale,
    mix_schedule,
)
from galla.train.objective import Objective
from galla.train.params import Parameterisation, apply_params, trainable_summary
from galla.train.streams import check_graph_records, open_streams

console = Console(stderr=True)
RESUME_KEYS = (
    "run.eval_every",
    "optim.max_steps",
    "optim.epochs",
    "run.save_every",
    "run.keep_checkpoints",
    "run.progress",
    "run.log_every",
    "run.export",
    "run.out_dir",
)
"""Config keys a resumed run may change (run length and bookkeeping, not what is computed; ``out_dir``
so that a moved or copied run directory resumes)."""


class TrainingError(RuntimeError):
    """The run cannot go on; the message says why and what was saved."""


@dataclass
class TrainResult:
    out_dir: Path
    steps: int
    losses: list[float] = field(default_factory=list)
    tokens: int = 0
    seconds: float = 0.0
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0


def cosine_lr(step: int, *, lr: float, min_lr: float, warmup: int, total: int) -> float:
    """Linear warmup from 0, then cosine decay from ``lr`` to the floor ``min_lr`` at ``total``."""
    if warmup and step < warmup:
        return lr * (step + 1) / warmup
    progress = min(max(step - warmup, 0) / max(total - warmup, 1), 1.0)
    return min_lr + (lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


def _flat(cfg: TrainConfig) -> dict[str, Any]:
    out = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        else:
            out[prefix] = value

    walk("", cfg.to_dict())
    return out


# --- building the pieces ------------------------------------------------------------------------


def build_model(cfg: TrainConfig, device: torch.device) -> GraphLLM:
    """The GraphLLM of ``cfg``; with ``init_from``, stage 1's encoder and adapter (and optionally LLM)."""
    torch.manual_seed(cfg.run.seed)
    if cfg.init_from is None:
        return GraphLLM.from_config(cfg.model, device=device)
    src = Path(cfg.init_from)
    if not (src / "galla_config.json").exists():
        raise ConfigError(
            f"init_from: '{src}' is not a GraphLLM directory (no galla_config.json); "
            "point it at a previous run's final/ directory"
        )
    # remote code only if this run's own config asks for it, never because the saved directory says so
    saved = GraphLLM.from_pretrained(
        src, device=device, dtype=cfg.model.dtype, trust_remote_code=cfg.model.trust_remote_code
    )
    if cfg.init_llm:
        model = saved
    else:
        model = GraphLLM.from_config(
            dataclasses.replace(cfg.model, encoder=saved.config.encoder, adapter=saved.config.adapter),
            device=device,
        )
        model.encoder.load_state_dict(saved.encoder.state_dict())
        model.adapter.load_state_dict(saved.adapter.state_dict())
    model.set_trainable(
        llm=cfg.model.llm_trainable, encoder=cfg.model.encoder_trainable, adapter=cfg.model.adapter_trainable
    )
    model.config = dataclasses.replace(cfg.model, encoder=saved.config.encoder, adapter=saved.config.adapter)
    return model


def _disable_dropout(model: torch.nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    for key in ("attention_dropout", "hidden_dropout", "resid_pdrop", "attn_pdrop", "embd_pdrop"):
        if hasattr(model.config, key):
            setattr(model.config, key, 0.0)


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    if not decay and not no_decay:
        raise ConfigError("model: nothing is trainable; check the *_trainable flags and params.kind")
    groups = [
        {"params": decay, "weight_decay": cfg.optim.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    params = decay + no_decay
    # the fused kernel: one pass per tensor instead of a chain of foreach ops (~20x faster on CPU here)
    fused = all(p.device.type in ("cpu", "cuda") and p.dtype.is_floating_point for p in params)
    return torch.optim.AdamW(
        [g for g in groups if g["params"]],
        lr=cfg.optim.lr,
        betas=tuple(cfg.optim.betas),
        eps=cfg.optim.eps,
        fused=fused,
    )


# --- the run ------------------------------------------------------------------------------------


class Trainer:
    """Holds one run's state; :meth:`fit` runs it. Most users call :func:`train`."""

    def __init__(self, cfg: TrainConfig, *, resume: bool = False) -> None:
        from accelerate import Accelerator
        from accelerate.utils import DistributedDataParallelKwargs

        self.cfg, self.out = cfg, Path(cfg.run.out_dir)
        cpu = not torch.cuda.is_available()
        precision = cfg.run.precision
        if precision == "auto":
            precision = "fp32" if cpu else "bf16"
        self.acc = Accelerator(
            cpu=cpu,  # without it accelerate ignores a torchrun/accelerate launch on CPU (gloo)
            mixed_precision="bf16" if precision == "bf16" else "no",
            # stage 2: text batches leave the encoder and adapter without gradients
            kwargs_handlers=[
                DistributedDataParallelKwargs(
                    find_unused_parameters=cfg.data.has_graph_stream and cfg.data.has_text_stream
                )
            ],
        )
        check_strategy(self.acc.distributed_type)
        self.rank, self.world = self.acc.process_index, self.acc.num_processes
        self.fsdp = cfg.run.strategy.startswith("fsdp") and self.world > 1
        if cfg.run.strategy != "ddp" and self.world == 1:
            console.print(
                f"galla train: one process, so run.strategy={cfg.run.strategy} has nothing to shard"
            )
        problem = output_problem(self.out, "run.out_dir")
        if problem:  # every process sees the same answer, so they all stop here together
            raise TrainingError(problem)
        if cfg.init_from is None or not cfg.init_llm:  # model.llm is loaded: a bad spec stops here, not
            problem = llm_spec_problem(cfg.model.llm)  # deep in transformers after run.out_dir exists
            if problem:
                raise ConfigError(f"model.llm: {problem}")
        # one run per directory: a second `galla train` into it stops here (the main process holds it)
        self._locked, created, busy = False, not self.out.exists(), None
        if self.rank == 0:
            try:
                acquire_folder(self.out, "galla train run.out_dir")
                self._locked = True
            except FolderBusy as err:
                busy = TrainingError(str(err))
            except OSError as err:  # a folder that cannot be created (read-only mount, no room)
                busy = TrainingError(write_failure(err, "run.out_dir", self.out))
        if self.world > 1:  # every process stops together, or the others would wait in a collective
            flag = torch.tensor(0.0 if busy is None else 1.0, device=self.acc.device)
            if self.acc.reduce(flag, reduction="sum").item() and busy is None:
                busy = TrainingError(f"{self.out}: in use by another run (see the main process's message)")
        if busy is not None:
            self._release()
            raise busy
        try:
            self._setup(resume)
        except BaseException:
            self._release()
            if created and self.rank == 0:
                with contextlib.suppress(OSError):
                    self.out.rmdir()  # only if empty: the lock made it, nothing else was written
            raise

    def _release(self) -> None:
        if self._locked:
            self._locked = False
            release_folder(self.out)

    def _setup(self, resume: bool) -> None:
        self.checkpoint = latest_checkpoint(self.out) if resume else None
        if resume and self.checkpoint is None:
            raise TrainingError(
                f"--resume: no checkpoint in {self.out / 'checkpoints'}; start without --resume"
            )
        if not resume and latest_checkpoint(self.out) is not None:
            raise TrainingError(
                f"{self.out} already holds a run with checkpoints; pass --resume to continue it or set "
                "run.out_dir to a new directory (nothing was changed)"
            )
        self._resume_state = None  # the checkpoint, read once here and consumed by fit()
        if self.checkpoint is not None:
            self._resume_state = load_checkpoint(self.checkpoint, self.rank)
            self._check_resume_config(self._resume_state["state"]["config"])
        self.model, self.params = self._build(self.acc.device, init=self.checkpoint is None)
        self.model.to(self.acc.device)
        self.reference = self._dpo_reference()
        self._load_data()

    def _build(self, device: torch.device, *, init: bool) -> tuple[GraphLLM, Parameterisation]:
        """The run's GraphLLM and its parameterisation (``init=False``: to be filled from saved tensors)."""
        cfg = self.cfg
        model = build_model(cfg, device)
        if not cfg.data.has_graph_stream:  # text-only baselines: the graph path gets no data
            model.set_trainable(encoder=False, adapter=False)
        if cfg.data.preference and cfg.dpo.disable_dropout:
            _disable_dropout(model.llm)
        return model, apply_params(model, cfg.params, seed=cfg.run.seed, init=init)

    def _check_resume_config(self, saved: dict) -> None:
        now = _flat(self.cfg)
        then = _flat(TrainConfig.from_dict(saved))
        diff = [k for k in sorted(now) if now[k] != then.get(k) and k not in RESUME_KEYS]
        if diff:
            changes = ", ".join(f"{k}: {then.get(k)!r} -> {now[k]!r}" for k in diff[:6])
            raise TrainingError(
                f"--resume with a different config ({changes}); only {', '.join(RESUME_KEYS)} "
                "may change between a run and its resumption"
            )

    def _dpo_reference(self) -> str:
        ref = self.cfg.dpo.reference
        if not self.cfg.data.preference:
            return "precompute"
        if ref == "auto":
            ref = "disable_adapter" if self.params.kind in ("lora", "svft") else "precompute"
        if ref == "disable_adapter" and self.params.kind == "full":
            raise ConfigError(
                "dpo.reference: disable_adapter needs params.kind lora or svft; use copy or precompute"
            )
        return ref

    # --- data -------------------------------------------------------------------------------------

    def _load_data(self) -> None:
        cfg = self.cfg
        streams = open_streams(cfg)
        enc = Encoder(
            self.model.tokenizer,
            self.model.graph_token_id,
            self.model.num_graph_tokens,
            cfg.data.max_length,
            cfg.data.template,
            cfg.run.seed,
        )
        self.streams: dict[str, list[Example]] = {}
        with _encode_progress(cfg.run.progress and self.acc.is_main_process) as progress:
            bar = progress.add_task("graph rows", total=streams.graph_work, visible=streams.graph_work > 0)
            graph = streams.graph(lambda n: progress.advance(bar, n))
            text_bar = progress.add_task("text records", total=len(streams.text), visible=bool(streams.text))

            def text():
                for r in streams.text:
                    yield r
                    progress.advance(text_bar)

            records = {
                "graph": self._encode_stream("graph", graph, enc),
                "text": self._encode_stream("text", text(), enc),
            }
        check_graph_records(cfg, records["graph"])
        self.dropped = dict(enc.dropped)
        self.held_out: dict[str, list[Example]] = {}
        if cfg.run.eval_samples:
            for name, examples in self.streams.items():
                order = np.random.default_rng([cfg.run.seed, 7]).permutation(len(examples))
                k = min(cfg.run.eval_samples, len(examples) // 5)
                self.held_out[name] = [examples[i] for i in order[:k]]
                self.streams[name] = [examples[i] for i in np.sort(order[k:])]
        self.stream_sizes = {k: v for k, v in records.items() if v}
        gb = cfg.optim.batch_size * self.world
        self.global_batch = gb
        counts = {k: len(v) // gb for k, v in self.streams.items()}
        short = [k for k, c in counts.items() if c == 0]
        if short:
            raise TrainingError(
                f"data: the {short[0]} stream has {len(self.streams[short[0]])} usable samples, fewer "
                f"than one global batch ({cfg.optim.batch_size} x {self.world} processes); "
                "lower optim.batch_size"
            )
        self.n_batches = counts
        self.graph_scale = graph_loss_scale(counts.get("graph", 0), counts.get("text", 0))
        per_epoch = sum(counts.values()) // cfg.optim.grad_accum
        if per_epoch == 0:
            raise TrainingError(
                f"data: {sum(counts.values())} micro-batches per epoch, fewer than "
                f"optim.grad_accum={cfg.optim.grad_accum}"
            )
        self.steps_per_epoch = per_epoch
        self.total_steps = cfg.optim.max_steps or max(1, int(cfg.optim.epochs * per_epoch))
        if cfg.data.preference and self.reference == "precompute":
            self._precompute_reference()

    def _encode_stream(self, name: str, records: Iterable[dict], enc: Encoder) -> int:
        """Encode ``records`` into ``self.streams[name]`` as they come; returns how many were read."""
        encoded = list(enc.encode_stream(records, name))
        n, examples = len(encoded), [ex for ex in encoded if ex is not None]
        if n and not examples:
            raise TrainingError(
                f"data: every {name} sample is longer than data.max_length "
                f"({self.cfg.data.max_length} tokens); raise it or use smaller units"
            )
        if examples:
            self.streams[name] = examples
        return n

    def _epoch_plan(self, epoch: int) -> list[tuple[str, list[int]]]:
        seed, grouping = self.cfg.run.seed, self.cfg.data.length_grouping
        batches = {
            k: epoch_batches([e.length for e in v], self.global_batch, seed + hash_name(k), epoch, grouping)
            for k, v in self.streams.items()
        }
        order = mix_schedule(len(batches.get("graph", [])), len(batches.get("text", [])), seed, epoch)
        return [(k, batches[k][i]) for k, i in order]

    def _micro_batches(self, step: int) -> list[tuple[str, list[int]]]:
        """The global micro-batches of optimizer step ``step`` (a pure function of the step)."""
        epoch, within = divmod(step, self.steps_per_epoch)
        if getattr(self, "_plan_epoch", None) != epoch:
            self._plan, self._plan_epoch = self._epoch_plan(epoch), epoch
        ga = self.cfg.optim.grad_accum
        return self._plan[within * ga : (within + 1) * ga]

    def _local(self, stream: str, rows: list[int]) -> Batch:
        bs = self.cfg.optim.batch_size
        mine = rows[self.rank * bs : (self.rank + 1) * bs]
        return collate([self.streams[stream][i] for i in mine], self.model.tokenizer.pad_token_id)

    @torch.no_grad()
    def _precompute_reference(self) -> None:
        """Reference log-probs of every pair with the initial policy, stored in the run directory."""
        from safetensors.torch import load_file, save_file

        path = self.out / "ref_logps.safetensors"
        examples = self.streams["text"] + self.held_out.get("text", [])
        if path.exists():
            ref = load_file(path)["ref"]
        else:
            from galla.train.objective import supervised_logps

            self.model.eval()
            ref = torch.empty(len(examples), 2)
            for i in range(self.rank, len(examples), self.world):  # each process its share, then gathered
                b = collate([examples[i]], self.model.tokenizer.pad_token_id).to(self.acc.device)
                logps, rows = supervised_logps(self.model, b.input_ids, b.attention_mask, b.labels, b.graphs)
                seq = torch.zeros(2, device=logps.device).index_add_(0, rows, logps)
                ref[i] = seq.cpu()
            if self.world > 1:
                ref = self._gather_rows(ref)
            if self.rank == 0:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(".ref_logps.tmp")
                save_file({"ref": ref}, tmp)
                tmp.replace(path)
            self.acc.wait_for_everyone()
            self.model.train()
        for e, r in zip(examples, ref.tolist(), strict=True):
            e.ref = (r[0], r[1])

    def _gather_rows(self, ref: torch.Tensor) -> torch.Tensor:
        owned = torch.zeros(len(ref), 1)
        owned[self.rank :: self.world] = 1
        both = self.acc.reduce((ref * owned).to(self.acc.device), reduction="sum")
        return both.cpu()

    # --- the loop ---------------------------------------------------------------------------------

    def fit(self, *, stop_after: int | None = None) -> TrainResult:
        """Run to ``total_steps`` (or stop after step ``stop_after``, as a kill would, for tests)."""
        try:
            return self._fit(stop_after)
        finally:
            self._release()

    def _fit(self, stop_after: int | None) -> TrainResult:
        from torch.utils.tensorboard import SummaryWriter

        cfg, acc = self.cfg, self.acc
        objective = self.objective = Objective(self.model, self.params, cfg.dpo.beta, self.reference)
        ck, self._resume_state = self._resume_state, None
        if ck is not None:
            self._load_model_state(ck["model"])  # before sharding: plain tensors take the saved values
        if self.fsdp:
            self.fsdp_units = sharding.shard(
                objective, self.model.llm, reshard_after_forward=cfg.run.strategy == "fsdp"
            )
        optimizer = make_optimizer(self.model, cfg)
        total, o = self.total_steps, cfg.optim
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer,
            lambda s: cosine_lr(s, lr=o.lr, min_lr=o.min_lr, warmup=o.warmup_steps, total=total) / o.lr,
        )
        start, self.history, self.tokens_done = 0, [], 0
        if ck is not None:
            if self.fsdp:
                sharding.load_optimizer_state(objective, optimizer, ck["optimizer"])
            else:
                optimizer.load_state_dict(ck["optimizer"])
            scheduler.load_state_dict(ck["scheduler"])
            set_rng_state(ck["rng"])
            start, self.history = ck["state"]["step"], ck["state"]["losses"]
            self.tokens_done = ck["state"]["tokens"]
            self.checkpoint_evals = ck["state"].get("evals", [])
            console.print(f"galla train: resuming {self.out} at step {start}/{total}")
        history = self.history
        self.evals = self.checkpoint_evals if self.checkpoint is not None else []
        if not self.fsdp:  # FSDP shards and syncs by itself; accelerate would wrap it in DDP
            objective, optimizer = acc.prepare(objective, optimizer)
        self.optimizer, self.scheduler = optimizer, scheduler
        self.model.train()
        writer = SummaryWriter(str(self.out / "tb")) if acc.is_main_process else None
        if acc.is_main_process:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "config.yaml").write_text(_yaml(cfg))
        progress = _progress(cfg.run.progress and acc.is_main_process)
        bar = progress.add_task("train", total=total, completed=start, loss=float("nan"), lr=0.0, tps=0.0)
        if self.held_out and not self.evals:
            self._evaluate(0, writer)
        tokens_run, step_seconds = 0, 0.0  # tokens/s counts the steps only, not evaluation or checkpoints
        with progress:
            for step in range(start, total):
                t0 = time.perf_counter()
                loss, ntok, metrics = self._step(step, objective, optimizer)
                scheduler.step()
                step_seconds += time.perf_counter() - t0
                tokens_run += ntok
                history.append(loss)
                self.tokens_done += ntok
                tps = tokens_run / step_seconds
                if writer is not None and (step + 1) % cfg.run.log_every == 0:
                    writer.add_scalar("train/loss", loss, step + 1)
                    writer.add_scalar("train/lr", scheduler.get_last_lr()[0], step + 1)
                    writer.add_scalar("train/tokens_per_second", tps, step + 1)
                    for k, v in metrics.items():
                        writer.add_scalar(f"train/{k}", v, step + 1)
                progress.update(bar, advance=1, loss=loss, lr=scheduler.get_last_lr()[0], tps=tps)
                done = step + 1
                every = cfg.run.eval_every
                if self.held_out and ((every and done % every == 0) or done == total):
                    self._evaluate(done, writer)
                if (cfg.run.save_every and done % cfg.run.save_every == 0) or done == total:
                    self._save(done, optimizer, scheduler, history, self.tokens_done)
                if stop_after is not None and done >= stop_after:
                    break
        seconds = step_seconds
        if writer is not None:
            writer.close()
        result = TrainResult(self.out, len(history), history, tokens_run, seconds)
        if history and len(history) == total:
            result.summary = self._finish(result)
        return result

    def _step(self, step: int, objective, optimizer) -> tuple[float, int, dict[str, float]]:
        acc, cfg = self.acc, self.cfg
        micro = self._micro_batches(step)
        total_loss, ntok = 0.0, 0
        sums: dict[str, float] = {}
        for k, (stream, rows) in enumerate(micro):
            batch = self._local(stream, rows).to(acc.device)
            examples = [self.streams[stream][i] for i in rows]
            denom = sum(e.num_targets for e in examples)  # global: every process knows every row
            scale = (self.graph_scale if stream == "graph" else 1.0) * self.world / denom / len(micro)
            sync = k == len(micro) - 1
            ctx = contextlib.nullcontext()
            if self.fsdp:
                objective.set_requires_gradient_sync(sync)  # accumulate locally, reduce-scatter once
            elif not sync and self.world > 1:
                ctx = acc.no_sync(objective)
            with ctx, acc.autocast():
                loss_sum, stats = objective(
                    batch.input_ids,
                    batch.attention_mask,
                    batch.labels,
                    batch.graphs,
                    batch.num_pairs,
                    batch.ref,
                )
                loss = loss_sum * scale
            bad = torch.tensor(0.0 if torch.isfinite(loss.detach()).item() else 1.0, device=acc.device)
            if self.world > 1:  # every process must stop together, or the others hang in backward
                bad = acc.reduce(bad, reduction="sum")
            if bad.item():
                self._nonfinite(step, k, stream, rows, float(loss.detach()), optimizer)
            acc.backward(loss)
            total_loss += float(loss.detach()) / (self.graph_scale if stream == "graph" else 1.0)
            ntok += batch.tokens
            for name, v in stats.items():
                sums[name] = sums.get(name, 0.0) + float(v)
        if cfg.optim.grad_clip:
            norm = acc.clip_grad_norm_(
                [p for p in self.model.parameters() if p.requires_grad], cfg.optim.grad_clip
            )
            norm = sharding.full_tensor(norm)
        else:
            norm = torch.tensor(0.0)
        if not torch.isfinite(torch.as_tensor(norm)).item():
            self._nonfinite(
                step, len(micro) - 1, micro[-1][0], micro[-1][1], float(norm), optimizer, what="gradient norm"
            )
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        loss_t = acc.reduce(torch.tensor(total_loss, device=acc.device), reduction="sum") / self.world
        metrics = {"grad_norm": float(norm)}
        if self.cfg.data.preference:
            pairs = self.global_batch * len(micro)
            for name, v in sums.items():
                metrics[name] = float(acc.reduce(torch.tensor(v, device=acc.device), reduction="sum")) / pairs
        return float(loss_t), int(acc.reduce(torch.tensor(ntok, device=acc.device), reduction="sum")), metrics

    @torch.no_grad()
    def _evaluate(self, step: int, writer) -> dict[str, float]:
        """Mean loss per supervised token (LM) or per pair (DPO) of each stream's held-out samples."""
        obj = self.objective  # the training one: its DPO reference (a frozen copy) is the initial model
        self.model.eval()
        out: dict[str, float] = {"step": step}
        bs = self.cfg.optim.batch_size
        for name, examples in self.held_out.items():
            total = torch.zeros(2, device=self.acc.device)
            # every process runs the same number of forwards (under FSDP each one is a collective); a
            # process whose share of the last global batch is empty runs one sample with weight 0
            for g in range(0, len(examples), bs * self.world):
                mine = examples[g + self.rank * bs : g + (self.rank + 1) * bs]
                weight = 1.0 if mine else 0.0
                b = collate(mine or examples[:1], self.model.tokenizer.pad_token_id).to(self.acc.device)
                with self.acc.autocast():
                    loss_sum, _ = obj(b.input_ids, b.attention_mask, b.labels, b.graphs, b.num_pairs, b.ref)
                targets = float(sum(e.num_targets for e in mine))
                total += torch.stack([loss_sum.float() * weight, torch.tensor(targets, device=total.device)])
            total = self.acc.reduce(total, reduction="sum")
            out[name] = float(total[0] / total[1])
            if writer is not None:
                writer.add_scalar(f"eval/{name}_loss", out[name], step)
        self.model.train()
        self.evals.append(out)
        return out

    def _nonfinite(self, step, k, stream, rows, value, optimizer, what="loss") -> None:
        optimizer.zero_grad(set_to_none=True)
        path = self._save(step, optimizer, self.scheduler, self.history[:step], self.tokens_done)
        raise TrainingError(
            f"non-finite {what} ({value}) at step {step + 1}, micro-batch {k} of the {stream} stream "
            f"(samples {rows[:8]}{'...' if len(rows) > 8 else ''}); nothing was applied, the weights before "
            f"this step are saved in {path}. Check those samples, lower optim.lr or raise "
            "optim.warmup_steps and start again, or --resume once the data is fixed."
        )

    def _load_model_state(self, state: dict[str, torch.Tensor]) -> None:
        own = dict(self.model.named_parameters()) | dict(self.model.named_buffers())
        missing = sorted(set(state) - set(own))
        if missing:
            raise TrainingError(f"checkpoint {self.checkpoint} holds tensors this model lacks: {missing[:5]}")
        with torch.no_grad():
            for k, v in state.items():
                own[k].copy_(v)

    def _save(self, step, optimizer, scheduler, history, tokens) -> Path:
        state = {
            "evals": getattr(self, "evals", []),
            "losses": history,
            "tokens": tokens,
            "config": self.cfg.to_dict(),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        model_state = self.params.checkpoint_state()
        if self.fsdp:  # gather whole tensors (a collective) so the files match a DDP checkpoint
            full = sharding.full_model_state(self.objective)
            model_state = {k: full[f"model.{k}"] for k in model_state} if self.rank == 0 else {}
            optimizer = sharding.full_optimizer_state(self.objective, optimizer)
        previous = latest_checkpoint(self.out)
        try:
            return save_checkpoint(
                self.out,
                step,
                model_state=model_state,
                optimizer=optimizer,
                scheduler=scheduler,
                trainer_state=state,
                rank=self.rank,
                world_size=self.world,
                barrier=self.acc.wait_for_everyone,
                keep=self.cfg.run.keep_checkpoints,
            )
        except (OSError, RuntimeError) as err:  # a full disk: OSError (safetensors, json), RuntimeError
            # ("[enforce fail at inline_container.cc] ... file write failed", torch.save)
            reason = " ".join(str(err).split()) or type(err).__name__
            kept = (
                f"the previous checkpoint {previous.name} is intact (--resume continues from it)"
                if previous is not None
                else "no earlier checkpoint was written"
            )
            raise TrainingError(
                f"could not write checkpoint {checkpoint_dir(self.out) / f'step-{step:06d}'}: {reason}; free "
                f"space or change run.out_dir; {kept}"
            ) from None

    def _finish(self, result: TrainResult) -> dict[str, Any]:
        """Write ``final/`` (GraphLLM, updates merged), ``export/`` (plain HF LLM) and ``summary.json``."""
        counts = trainable_summary(self.model)
        self.acc.wait_for_everyone()
        summary = {
            "name": self.cfg.name,
            "method": self.cfg.method,
            "params": self.params.kind if self.model.llm_trainable else "llm frozen",
            "steps": result.steps,
            "seconds": round(result.seconds, 2),
            "tokens_per_second": round(result.tokens_per_second, 1),
            "first_loss": result.losses[0],
            "last_loss": result.losses[-1],
            # the means of the first and last tenth of the steps (single batches are noisy)
            "loss_start": float(np.mean(result.losses[: max(1, len(result.losses) // 10)])),
            "loss_end": float(np.mean(result.losses[-max(1, len(result.losses) // 10) :])),
            "eval": self.evals,
            "trainable_parameters": counts["trainable"],
            "total_parameters": counts["total"],
            "samples": {k: len(v) for k, v in self.streams.items()},
            "dropped_over_max_length": self.dropped,
            "graph_loss_scale": self.graph_scale,
            "processes": self.world,
            "strategy": f"{self.cfg.run.strategy} ({self.fsdp_units} decoder layers + root)"
            if self.fsdp
            else "ddp",
        }
        model, params = self._unsharded() if self.fsdp else (self.model, self.params)
        if self.acc.is_main_process:
            if params.kind == "lora":
                params.peft_model.save_pretrained(self.out / "lora_adapter")
            params.merge()
            model.save_pretrained(self.out / "final")
            if self.cfg.run.export:
                model.export(self.out / "export")
            (self.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        self.acc.wait_for_everyone()
        return summary

    def _unsharded(self):
        """FSDP: the trained model as a plain module on the main process's CPU, built afresh and filled
        with the gathered tensors (``(None, None)`` on the other processes, which only help gather)."""
        full = sharding.full_model_state(self.objective)
        if self.rank != 0:
            return None, None
        model, params = self._build(torch.device("cpu"), init=False)
        model.load_state_dict({k.removeprefix("model."): v for k, v in full.items()}, strict=True)
        return model, params


SUPPORTED_STRATEGIES = frozenset({"NO", "MULTI_CPU", "MULTI_GPU"})
"""accelerate distributed types the trainer runs under: one process, or plain multi-process (CPU gloo /
CUDA nccl), where ``run.strategy`` picks DDP or galla's own FSDP2 sharding."""


def check_strategy(distributed_type) -> None:
    """Refuse, before any work, accelerate's own FSDP and DeepSpeed plugins.

    galla shards with FSDP2 itself (``run.strategy: fsdp``) so that checkpoints and exports are
    gathered correctly; accelerate's plugins would wrap the model without that."""
    name = getattr(distributed_type, "value", str(distributed_type))
    if name not in SUPPORTED_STRATEGIES:
        raise TrainingError(
            f"accelerate distributed_type {name}: launch galla train with a plain multi-process config "
            "(accelerate launch --multi_gpu, or configs/accelerate/ddp.yaml) and set run.strategy=fsdp "
            "to shard; accelerate's FSDP and DeepSpeed plugins are not supported"
        )


def train(cfg: TrainConfig, *, resume: bool = False, stop_after: int | None = None) -> TrainResult:
    """Run ``cfg`` (see :class:`Trainer`)."""
    return Trainer(cfg, resume=resume).fit(stop_after=stop_after)


# --- small helpers ------------------------------------------------------------------------------


def hash_name(name: str) -> int:
    return sum(ord(c) * 31**i for i, c in enumerate(name)) % 10_007


def _yaml(cfg: TrainConfig) -> str:
    import yaml

    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)


def _encode_progress(enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[bold]encode[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled,
        transient=True,
    )


def _progress(enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[bold]train"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f} · lr {task.fields[lr]:.2e} · {task.fields[tps]:,.0f} tok/s"),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled,
    )


__all__ = ["TrainResult", "Trainer", "TrainingError", "cosine_lr", "train"]
