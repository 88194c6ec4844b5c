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
(``method:``, :mod:`galla.train.methods`); the trainer never asks which one it is. Which samples a step
trains on is :mod:`galla.train.plan`, the end of a run (``final/``, ``export/``, FSDP gather)
:mod:`galla.train.finish`. :meth:`Trainer.step` runs one optimizer step, for callers that drive the loop
themselves (``benchmarks/train_speed.py``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Callable, Iterable
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
from galla.run_layout import GRAPH_LLM_CONFIG, GraphLLMDir, RunDir
from galla.train import methods, sharding
from galla.train.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint, set_rng_state
from galla.train.config import TrainConfig
from galla.train.data import Encoder, Example, collate
from galla.train.errors import TrainingError
from galla.train.finish import TrainResult, finish
from galla.train.objective import Objective
from galla.train.params import Parameterisation, apply_params
from galla.train.plan import BatchPlan, MicroBatch
from galla.train.sharding import check_strategy
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


INIT_FROM_KEYS = ("encoder", "adapter")
"""The ``model`` sections ``init_from`` always takes from its directory (``init_llm`` adds the LLM)."""


def _init_from_meta(src: Path) -> dict[str, Any]:
    import json

    file = GraphLLMDir(src).config
    if not file.is_file():
        raise ConfigError(
            f"init_from: '{src}' is not a GraphLLM directory (no {GRAPH_LLM_CONFIG}); "
            "point it at a previous run's final/ directory"
        )
    try:
        meta = json.loads(file.read_text())
        saved = meta["config"]
        if not isinstance(saved, dict):
            raise TypeError("'config' is not a mapping")
        return saved
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ConfigError(f"init_from: {file} is unreadable ({err}); point it at a run's final/") from None


def resolve_init_from(cfg: TrainConfig) -> TrainConfig:
    """``cfg`` with the model settings ``init_from`` takes from its directory (``model.encoder`` and
    ``model.adapter``; with ``init_llm`` also ``model.graph_token``) set to the values in that directory's
    ``galla_config.json``, so that the run's ``config.yaml`` says what was trained. A value the config sets
    to something other than the default and the directory's value is refused (ConfigError naming both),
    rather than silently replaced."""
    if cfg.init_from is None:
        return cfg
    from galla.config import ModelConfig

    saved = ModelConfig.from_dict(_init_from_meta(Path(cfg.init_from))).to_dict()
    default, mine = ModelConfig().to_dict(), cfg.model.to_dict()
    keys = [(s, k) for s in INIT_FROM_KEYS for k in default[s]]
    if cfg.init_llm:
        keys.append((None, "graph_token"))

    def get(d: dict[str, Any], section: str | None, key: str) -> Any:
        return d[section][key] if section else d[key]

    conflicts = []
    for section, key in keys:
        value, theirs = get(mine, section, key), get(saved, section, key)
        if value != theirs and value != get(default, section, key):
            name = ".".join(["model", *([section] if section else []), key])
            conflicts.append(f"{name}: {value!r} in the config, {theirs!r} in init_from's {GRAPH_LLM_CONFIG}")
    if conflicts:
        raise ConfigError(
            f"init_from '{cfg.init_from}' was trained with other model settings than this config asks "
            f"for ({'; '.join(conflicts)}); drop those keys from the config (init_from decides them) or "
            "set them to init_from's values"
        )
    for section in INIT_FROM_KEYS:
        mine[section] = saved[section]
    if cfg.init_llm:
        mine["graph_token"] = saved["graph_token"]
    return dataclasses.replace(cfg, model=ModelConfig.from_dict(mine))


def build_model(cfg: TrainConfig, device: torch.device) -> GraphLLM:
    """The GraphLLM of ``cfg``; with ``init_from``, stage 1's encoder and adapter (and optionally LLM)."""
    torch.manual_seed(cfg.run.seed)
    if cfg.init_from is None:
        return GraphLLM.from_config(cfg.model, device=device)
    src = Path(cfg.init_from)
    _init_from_meta(src)
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
        from accelerate import Accelerator
        from accelerate.utils import DistributedDataParallelKwargs

        cfg = resolve_init_from(cfg)  # config.yaml and checkpoints say what init_from sets
        self.cfg, self.out = cfg, Path(cfg.run.out_dir)
        self.method = methods.get(cfg.method)(cfg)
        self._parameterise = parameterise
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
                f"--resume: no checkpoint in {RunDir(self.out).checkpoints}; start without --resume"
            )
        if not resume and latest_checkpoint(self.out) is not None:
            raise TrainingError(
                f"{self.out} already holds a run with checkpoints; pass --resume to continue it or set "
                "run.out_dir to a new directory (nothing was changed)"
            )
        self._resume_state = None  # the checkpoint, read once here and consumed by start()
        if self.checkpoint is not None:
            self._resume_state = load_checkpoint(self.checkpoint, self.rank)
            self._check_resume_config(self._resume_state["state"]["config"])
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
        self.plan = BatchPlan(cfg, self.streams, self.world)

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
        return collate([self.streams[stream][i] for i in mine], self.model.tokenizer.pad_token_id)

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
        if ck is not None:
            if self.fsdp:
                sharding.load_optimizer_state(objective, optimizer, ck["optimizer"])
            else:
                optimizer.load_state_dict(ck["optimizer"])
            scheduler.load_state_dict(ck["scheduler"])
            set_rng_state(ck["rng"])
            self.done, self.history = ck["state"]["step"], ck["state"]["losses"]
            self.tokens_done = ck["state"]["tokens"]
            self.evals = ck["state"].get("evals", [])
            console.print(f"galla train: resuming {self.out} at step {self.done}/{total}")
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
            run.config.write_text(_yaml(cfg))
        progress = _progress(cfg.run.progress and acc.is_main_process)
        bar = progress.add_task("train", total=total, completed=start, loss=float("nan"), lr=0.0, tps=0.0)
        if self.held_out and not self.evals:
            self._evaluate(0, writer)
        tokens_run, step_seconds = 0, 0.0  # tokens/s counts the steps only, not evaluation or checkpoints
        with progress:
            for _ in range(start, total):
                r = self.step()
                done, lr = r.step, self.scheduler.get_last_lr()[0]
                step_seconds += r.seconds
                tokens_run += r.tokens
                tps = tokens_run / step_seconds
                if writer is not None and done % cfg.run.log_every == 0:
                    writer.add_scalar("train/loss", r.loss, done)
                    writer.add_scalar("train/lr", lr, done)
                    writer.add_scalar("train/tokens_per_second", tps, done)
                    for k, v in r.metrics.items():
                        writer.add_scalar(f"train/{k}", v, done)
                progress.update(bar, advance=1, loss=r.loss, lr=lr, tps=tps)
                every = self.eval_every
                if self.held_out and ((every and done % every == 0) or done == total):
                    self._evaluate(done, writer)
                if (cfg.run.save_every and done % cfg.run.save_every == 0) or done == total:
                    self._save(done, self.optimizer, self.scheduler, history, self.tokens_done)
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
            examples = [self.streams[stream][i] for i in rows]
            denom = sum(e.num_targets for e in examples)  # global: every process knows every row
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
            "evals": self.evals,
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
                f"could not write checkpoint {RunDir(self.out).checkpoint(step)}: {reason}; free "
                f"space or change run.out_dir; {kept}"
            ) from None


def train(cfg: TrainConfig, *, resume: bool = False, stop_after: int | None = None) -> TrainResult:
    """Run ``cfg`` (see :class:`Trainer`)."""
    return Trainer(cfg, resume=resume).fit(stop_after=stop_after)


# --- small helpers ------------------------------------------------------------------------------


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


__all__ = ["StepResult", "TrainResult", "Trainer", "TrainingError", "cosine_lr", "train"]
