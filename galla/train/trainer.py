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

What differs between methods (the loss, DPO's reference, what is logged) is the run's method object
(``method:``, :mod:`galla.train.methods`); the trainer never asks which one it is. This module is the loop
and the run's state; the parts it calls own the rest: :mod:`~galla.train.accel` (accelerate, the run
directory's lock), :mod:`~galla.train.init_from` (building the GraphLLM, from a previous run or not),
:mod:`~galla.train.optim` (AdamW, the schedule), :mod:`~galla.train.plan` (which samples a step trains on),
:mod:`~galla.train.resume` (checkpoints: which one to continue, restoring, writing),
:mod:`~galla.train.evaluate` (held-out loss), :mod:`~galla.train.log` (console, progress, tensorboard) and
:mod:`~galla.train.finish` (``final/``, ``export/``, FSDP gather). :meth:`Trainer.step` runs one optimizer
step, for callers that drive the loop themselves (``benchmarks/train_speed.py``).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from data_builders.outputs import output_problem
from galla.config import ConfigError
from galla.model import GraphLLM
from galla.model.llm import llm_spec_problem
from galla.run_layout import RunDir
from galla.train import methods, sharding, store
from galla.train.accel import lock_run_dir, make_accelerator, unlock_run_dir
from galla.train.checkpoint import load_checkpoint
from galla.train.config import TrainConfig
from galla.train.data import Encoder, Example, collate
from galla.train.errors import TrainingError
from galla.train.evaluate import evaluate, split_held_out
from galla.train.finish import TrainResult, finish
from galla.train.init_from import build_model, resolve_init_from
from galla.train.log import config_yaml, console, encode_progress, log_step, train_progress
from galla.train.objective import Objective
from galla.train.optim import cosine_lr, make_optimizer, make_scheduler
from galla.train.params import Parameterisation, apply_params
from galla.train.plan import BatchPlan, MicroBatch
from galla.train.resume import (
    RESUME_KEYS,
    check_resume_config,
    checkpoint_to_resume,
    load_model_state,
    restore,
    save,
)
from galla.train.sharding import check_strategy
from galla.train.streams import check_graph_records, open_streams


@dataclass
class StepResult:
    """One optimizer step, as :meth:`Trainer.step` returns it."""

    step: int
    """The steps done after it (1 for the first)."""
    loss: float
    """Mean loss per supervised token (LM) or pair (DPO) over every process, graph batches unscaled."""
    tokens: int
    """Non-padding tokens of the step's batches, all processes."""
    metrics: dict[str, float] = field(default_factory=dict)
    """Logged besides loss and learning rate: ``grad_norm`` and the method's own."""
    micro: list[MicroBatch] = field(default_factory=list)
    """The step's global micro-batches (stream, sample indices)."""
    seconds: float = 0.0
    """Wall time of the step: batches, forward, backward, clipping, optimizer and schedule."""
    optimizer_seconds: float = 0.0
    """Of which ``optimizer.step()``."""


class Trainer:
    """Holds one run's state; :meth:`fit` runs it (or :meth:`start`, then :meth:`step` per step).
    Most users call :func:`train`."""

    def __init__(
        self,
        cfg: TrainConfig,
        *,
        resume: bool = False,
        parameterise: Callable[..., Parameterisation] = apply_params,
    ) -> None:
        """Set up accelerate, take the run directory, build the model and encode the data.

        ``parameterise``: applies ``params`` to the built model (default :func:`apply_params`; a caller
        may wrap it, e.g. to measure its time and memory)."""
        cfg = resolve_init_from(cfg)  # config.yaml and checkpoints say what init_from sets
        self.cfg, self.out = cfg, Path(cfg.run.out_dir)
        self.method = methods.get(cfg.method)(cfg)
        self._parameterise = parameterise
        self.acc = make_accelerator(cfg)
        self.rank, self.world = self.acc.process_index, self.acc.num_processes
        self.fsdp = cfg.run.strategy.startswith("fsdp") and self.world > 1
        problem = output_problem(self.out, "run.out_dir")
        if problem:  # every process sees the same answer, so they all stop here together
            raise TrainingError(problem)
        if cfg.init_from is None or not cfg.init_llm:  # model.llm is loaded: a bad spec stops here, not
            problem = llm_spec_problem(cfg.model.llm)  # deep in transformers after run.out_dir exists
            if problem:
                raise ConfigError(f"model.llm: {problem}")
        created = not self.out.exists()
        self._locked = lock_run_dir(self.acc, self.out)  # one run per directory
        try:
            self._setup(resume)
        except BaseException:
            self._release()
            if created and self.rank == 0:
                with contextlib.suppress(OSError):
                    self.out.rmdir()  # only if empty: the lock made it, nothing else was written
            raise

    def _release(self) -> None:
        if getattr(self, "encoded_file", None) is not None:  # the samples stay readable while mapped
            store.remove(self.encoded_file)
            self.encoded_file = None
        if self._locked:
            self._locked = False
            unlock_run_dir(self.out)

    def _setup(self, resume: bool) -> None:
        self.checkpoint = checkpoint_to_resume(self.out, resume)
        self._resume_state = None  # the checkpoint, read once here and consumed by start()
        if self.checkpoint is not None:
            self._resume_state = load_checkpoint(self.checkpoint, self.rank)
            check_resume_config(self.cfg, self._resume_state["state"]["config"])
        self.model, self.params = self.build(self.acc.device, init=self.checkpoint is None)
        self.model.to(self.acc.device)
        self.method.check_reference(self.params.kind)
        self._load_data()
        self.objective: Objective | None = None  # start() builds it, and the optimizer and schedule
        self.optimizer = self.scheduler = None
        self.done, self.history, self.tokens_done, self.evals = 0, [], 0, []
        self.fsdp_units = 0

    def build(self, device: torch.device, *, init: bool) -> tuple[GraphLLM, Parameterisation]:
        """The run's GraphLLM and its parameterisation (``init=False``: to be filled from saved tensors)."""
        cfg = self.cfg
        model = build_model(cfg, device)
        if not cfg.data.has_graph_stream:  # text-only baselines: the graph path gets no data
            model.set_trainable(encoder=False, adapter=False)
        self.method.prepare_model(model)
        return model, self._parameterise(model, cfg.params, seed=cfg.run.seed, init=init)

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
        self.streams: dict[str, Sequence[Example]] = {}
        self.encoded_file: Path | None = None
        with encode_progress(cfg.run.progress and self.acc.is_main_process) as progress:
            bar = progress.add_task("graph rows", total=streams.graph_work, visible=streams.graph_work != 0)
            graph = streams.graph(lambda n: progress.advance(bar, n))
            text_bar = progress.add_task("text records", total=len(streams.text), visible=bool(streams.text))

            def text():
                for r in streams.text:
                    yield r
                    progress.advance(text_bar)

            records = {
                "graph": self._encode_stream(
                    "graph", graph, enc, on_disk=store.use_disk(cfg.data.encoded, streams.graph_rows)
                ),
                "text": self._encode_stream("text", text(), enc),
            }
        check_graph_records(cfg, records["graph"])
        self.dropped = dict(enc.dropped)
        self.streams, self.held_out = split_held_out(cfg, self.streams)
        self.stream_sizes = {k: v for k, v in records.items() if v}
        self.plan = BatchPlan(cfg, self.streams, self.world)

    def _encode_stream(self, name: str, records: Iterable[dict], enc: Encoder, on_disk: bool = False) -> int:
        """Encode ``records`` into ``self.streams[name]`` as they come (``on_disk``: into a memory-mapped
        file of the run directory, :mod:`galla.train.store`); returns how many were read."""
        examples: Sequence[Example] | None
        if on_disk:
            self.encoded_file = self.out / "encoded" / f"{name}.rank{self.rank}.arrow"
            examples, n = store.write_examples(enc.encode_stream(records, name), self.encoded_file)
        else:
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

    @property
    def steps_per_epoch(self) -> int:
        return self.plan.steps_per_epoch

    @property
    def total_steps(self) -> int:
        return self.plan.total_steps

    @property
    def eval_every(self) -> int:
        """``run.eval_every``, or by default a tenth of the run (about ten evaluations); 0 = none between."""
        every = self.cfg.run.eval_every
        return max(1, math.ceil(self.total_steps / 10)) if every is None else every

    @property
    def n_batches(self) -> dict[str, int]:
        return self.plan.n_batches

    @property
    def graph_scale(self) -> float:
        return self.plan.graph_scale

    def _local(self, stream: str, rows: list[int]):
        mine = self.plan.local(rows, self.rank)
        return collate(self._examples(stream, mine), self.model.tokenizer.pad_token_id)

    def _examples(self, stream: str, rows: Sequence[int]) -> list[Example]:
        samples = self.streams[stream]
        return samples.take(rows) if isinstance(samples, store.DiskExamples) else [samples[i] for i in rows]

    def _num_targets(self, stream: str, rows: Sequence[int]) -> int:
        samples = self.streams[stream]
        if isinstance(samples, store.DiskExamples):
            return int(samples.num_targets[list(rows)].sum())
        return sum(samples[i].num_targets for i in rows)

    # --- the loop ---------------------------------------------------------------------------------

    def start(self) -> None:
        """``fit``'s set-up, once: the method's reference (from the initial model), the objective, the
        checkpoint's weights and state on resume, FSDP sharding, AdamW and the cosine schedule."""
        if self.objective is not None:
            return
        cfg, acc = self.cfg, self.acc
        text = self.streams.get("text", []) + self.held_out.get("text", [])
        reference = self.method.reference(self.model, self.params, text, self.out, acc)
        objective = self.objective = Objective(self.model, self.method, reference)
        ck, self._resume_state = self._resume_state, None
        if ck is not None:
            load_model_state(self.model, ck["model"], self.checkpoint)
        if self.fsdp:
            self.fsdp_units = sharding.shard(
                objective, self.model.llm, reshard_after_forward=cfg.run.strategy == "fsdp"
            )
        optimizer = make_optimizer(self.model, cfg)
        scheduler = make_scheduler(optimizer, cfg, self.total_steps)
        if ck is not None:
            restore(self, ck, optimizer, scheduler)
            console.print(f"galla train: resuming {self.out} at step {self.done}/{self.total_steps}")
        if not self.fsdp:  # FSDP shards and syncs by itself; accelerate would wrap it in DDP
            self._module, optimizer = acc.prepare(objective, optimizer)
        else:
            self._module = objective
        self.optimizer, self.scheduler = optimizer, scheduler
        self.model.train()

    def fit(self, *, stop_after: int | None = None) -> TrainResult:
        """Run to ``total_steps`` (or stop after step ``stop_after``, as a kill would, for tests)."""
        try:
            return self._fit(stop_after)
        finally:
            self._release()

    def _fit(self, stop_after: int | None) -> TrainResult:
        from torch.utils.tensorboard import SummaryWriter

        cfg, acc = self.cfg, self.acc
        self.start()
        start, total, history = self.done, self.total_steps, self.history
        run = RunDir(self.out)
        writer = SummaryWriter(str(run.tensorboard)) if acc.is_main_process else None
        if acc.is_main_process:
            self.out.mkdir(parents=True, exist_ok=True)
            run.config.write_text(config_yaml(cfg))
        progress = train_progress(cfg.run.progress and acc.is_main_process)
        bar = progress.add_task("train", total=total, completed=start, loss=float("nan"), lr=0.0, tps=0.0)
        if self.held_out and not self.evals:
            evaluate(self, 0, writer)
        tokens_run, step_seconds = 0, 0.0  # tokens/s counts the steps only, not evaluation or checkpoints
        with progress:
            for _ in range(start, total):
                r = self.step()
                done, lr = r.step, self.scheduler.get_last_lr()[0]
                step_seconds += r.seconds
                tokens_run += r.tokens
                tps = tokens_run / step_seconds
                if writer is not None and done % cfg.run.log_every == 0:
                    log_step(writer, r, lr, tps)
                progress.update(bar, advance=1, loss=r.loss, lr=lr, tps=tps)
                every = self.eval_every
                if self.held_out and ((every and done % every == 0) or done == total):
                    evaluate(self, done, writer)
                if (cfg.run.save_every and done % cfg.run.save_every == 0) or done == total:
                    save(self, done, self.optimizer, self.scheduler, history, self.tokens_done)
                if stop_after is not None and done >= stop_after:
                    break
        if writer is not None:
            writer.close()
        result = TrainResult(self.out, len(history), history, tokens_run, step_seconds)
        if history and len(history) == total:
            result.summary = finish(self, result)
        return result

    def step(self) -> StepResult:
        """One optimizer step (the next one: :attr:`done` + 1) and its schedule update; :meth:`start`
        runs first if it has not. Nothing is logged, evaluated or saved (that is :meth:`fit`)."""
        self.start()
        t0 = time.perf_counter()
        step = self.done
        micro, loss, ntok, metrics, opt_s = self._step(step, self._module, self.optimizer)
        self.scheduler.step()
        self.done = step + 1
        self.history.append(loss)
        self.tokens_done += ntok
        return StepResult(self.done, loss, ntok, metrics, micro, time.perf_counter() - t0, opt_s)

    def _step(self, step: int, objective, optimizer):
        acc, cfg = self.acc, self.cfg
        micro = self.plan.step(step)
        total_loss, ntok = 0.0, 0
        sums: dict[str, float] = {}
        for k, (stream, rows) in enumerate(micro):
            batch = self._local(stream, rows).to(acc.device)
            denom = self._num_targets(stream, rows)  # global: every process knows every row
            weight = self.graph_scale if stream == "graph" else 1.0
            scale = weight * self.world / denom / len(micro)
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
            total_loss += float(loss.detach()) / weight
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
        t_opt = time.perf_counter()
        optimizer.step()
        opt_s = time.perf_counter() - t_opt
        optimizer.zero_grad(set_to_none=True)
        loss_t = acc.reduce(torch.tensor(total_loss, device=acc.device), reduction="sum") / self.world

        def reduce(v: float) -> float:
            return float(acc.reduce(torch.tensor(v, device=acc.device), reduction="sum"))

        metrics = {"grad_norm": float(norm)}
        metrics |= self.method.metrics(sums, reduce, self.plan.global_batch * len(micro))
        tokens = int(acc.reduce(torch.tensor(ntok, device=acc.device), reduction="sum"))
        return micro, float(loss_t), tokens, metrics, opt_s

    def _nonfinite(self, step, k, stream, rows, value, optimizer, what="loss") -> None:
        optimizer.zero_grad(set_to_none=True)
        path = save(self, step, optimizer, self.scheduler, self.history[:step], self.tokens_done)
        raise TrainingError(
            f"non-finite {what} ({value}) at step {step + 1}, micro-batch {k} of the {stream} stream "
            f"(samples {rows[:8]}{'...' if len(rows) > 8 else ''}); nothing was applied, the weights before "
            f"this step are saved in {path}. Check those samples, lower optim.lr or raise "
            "optim.warmup_steps and start again, or --resume once the data is fixed."
        )


def train(cfg: TrainConfig, *, resume: bool = False, stop_after: int | None = None) -> TrainResult:
    """Run ``cfg`` (see :class:`Trainer`)."""
    return Trainer(cfg, resume=resume).fit(stop_after=stop_after)


__all__ = [
    "RESUME_KEYS",
    "StepResult",
    "TrainResult",
    "Trainer",
    "TrainingError",
    "build_model",
    "check_strategy",
    "cosine_lr",
    "make_optimizer",
    "resolve_init_from",
    "train",
]
