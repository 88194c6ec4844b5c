"""Typed training configuration: one YAML file, ``key.sub=value`` overrides, validation naming the key.

A run is ``model`` (the :class:`~galla.config.ModelConfig` of the GraphLLM), ``params`` (how the LLM's
weights are parameterised: full, LoRA, SVFT), ``method`` (the loss: ``lm`` or ``dpo``, by default from
the data), ``data`` (which streams feed it), ``dpo`` (only read by ``method: dpo``), ``optim`` and ``run``.
GALLa's stage 1 and stage 2 and every baseline are configs of the same loop (``configs/*.yaml``):

- stage 1: ``model.llm_trainable: false``, ``data.graphs`` with ``data.graph_tasks: [graph2code]``;
- stage 2: ``init_from`` a stage-1 output, ``data.graph_tasks: [graph2code, graph_qa]`` plus
  ``data.text`` downstream files;
- SFT: ``data.text`` only; DPO: ``data.preference`` (``method: dpo``); LoRA / SVFT: ``params.kind``.

>>> cfg = TrainConfig.from_dict({"data": {"text": ["d.jsonl"]}, "optim": {"lr": 1e-4}})
>>> apply_overrides(cfg, ["optim.batch_size=8", "params.kind=lora"]).optim.batch_size
8
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml

from galla.config import ConfigError, ModelConfig, _Checked

PARAM_KINDS = ("full", "lora", "svft")
GRAPH_TASKS = ("graph2code", "graph_qa")
GRAPH_ABLATIONS = ("none", "no_graph", "shuffled")
TEMPLATES = ("galla", "chat")
ENCODED_PLACES = ("auto", "memory", "disk")
DPO_REFERENCES = ("auto", "disable_adapter", "copy", "precompute")
STRATEGIES = ("ddp", "fsdp", "fsdp_grad_op")
PRECISIONS = ("auto", "fp32", "bf16")
LLAMA_LINEARS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def _list_of_str(cfg: _Checked, key: str) -> None:
    value = getattr(cfg, key)
    cfg._check(key, isinstance(value, list) and all(isinstance(v, str) for v in value), "expected a list")


@dataclass
class LoraConfig(_Checked):
    """LoRA through peft (Hu et al. 2021)."""

    r: int = 16
    """Rank of the update."""
    alpha: float = 32.0
    """Scaling numerator: the update is ``alpha / r * B A``."""
    dropout: float = 0.0
    """Dropout on the LoRA branch input."""
    target_modules: list[str] = field(default_factory=lambda: list(LLAMA_LINEARS))
    """Linear layers to adapt, by leaf name (peft matching)."""

    def __post_init__(self) -> None:
        self._check_types()
        _list_of_str(self, "target_modules")
        self._check("r", self.r >= 1, "must be >= 1")
        self._check("dropout", 0.0 <= self.dropout < 1.0, "must be in [0, 1)")


@dataclass
class SVFTConfig(_Checked):
    """SVFT (Lingam et al. 2024): W = U (Σ + M) Vᵀ with frozen singular vectors and a sparse trainable M."""

    pattern: str = "banded"
    """Sparsity of M: ``plain`` (diagonal), ``banded``, ``random``, ``topk``."""
    off_diag: int = 16
    """Off-diagonals d on each side (banded) or the matching budget n(2d+1) - d(d+1) (random, topk)."""
    target_modules: list[str] = field(default_factory=lambda: list(LLAMA_LINEARS))
    """Linear layers to replace, by leaf name."""

    def __post_init__(self) -> None:
        from galla.train.svft import SVFT_PATTERNS

        self._check_types()
        _list_of_str(self, "target_modules")
        self._check("pattern", self.pattern in SVFT_PATTERNS, f"choose one of {', '.join(SVFT_PATTERNS)}")
        self._check("off_diag", self.off_diag >= 0, "must be >= 0")


@dataclass
class ParamsConfig(_Checked):
    """How the LLM's weights train; orthogonal to the method (the loss)."""

    _nested: ClassVar[dict[str, type]] = {"lora": LoraConfig, "svft": SVFTConfig}

    kind: str = "full"
    """``full`` (every weight), ``lora`` (peft) or ``svft`` (galla's own module)."""
    lora: LoraConfig = field(default_factory=LoraConfig)
    """Settings for ``kind: lora``."""
    svft: SVFTConfig = field(default_factory=SVFTConfig)
    """Settings for ``kind: svft``."""

    def __post_init__(self) -> None:
        self._check_types()
        self._check("kind", self.kind in PARAM_KINDS, f"choose one of {', '.join(PARAM_KINDS)}")


@dataclass
class DataConfig(_Checked):
    """The data streams: graph alignment data and text (downstream SFT or DPO preference) data."""

    graphs: list[str] = field(default_factory=list)
    """Graph rows (``galla build-graphs`` outputs or any ``save_to_disk`` folder, parquet files or folders
    of shards, hub dataset ids, streamed); ``graph_tasks`` are built from them as they are read."""
    graph_tasks: list[str] = field(default_factory=lambda: ["graph2code"])
    """Alignment tasks built from ``graphs``: ``graph2code`` and/or ``graph_qa``."""
    task_files: list[str] = field(default_factory=list)
    """Prebuilt task records (``galla build-tasks`` folders, parquet of them, hub ids) or official GALLa
    JSONL files (graph records)."""
    text: list[str] = field(default_factory=list)
    """Downstream data, JSONL with ``human``/``bot`` (or ``prompt``/``completion``): the text stream."""
    preference: list[str] = field(default_factory=list)
    """DPO data, JSONL with ``prompt``/``chosen``/``rejected``: the text stream, trained with DPO."""
    qa_per_graph: int = 4
    """GraphQA questions drawn per graph."""
    graph2code_question: bool | None = None
    """Write Graph2Code as a question/answer pair; default: only when a text stream is present (stage 2)."""
    max_graphs: int = 0
    """Use at most this many graph units (0 = all), taken in a seeded random order."""
    max_text: int = 0
    """Use at most this many text records (0 = all)."""
    max_length: int = 1024
    """Longest sequence in tokens, graph tokens included; longer samples are dropped and counted."""
    template: str = "galla"
    """Prompt layout: ``galla`` (``<s>human\\n … <s>bot\\n``, as the official code) or ``chat``."""
    length_grouping: int = 64
    """Sort lengths within groups of this many batches to cut padding (1 = plain shuffle)."""
    graph_ablation: str = "none"
    """Controls for the GALLa effect: ``no_graph`` trains the graph stream's programs and questions
    without graph tokens (is it the graph or the extra text?), ``shuffled`` gives each record another
    unit's graph, a fixed derangement (does the structure matter?). Applies to ``data.graphs`` records."""

    encoded: str = "auto"
    """Where the encoded graph-stream samples are kept: ``memory``; ``disk``, a memory-mapped file in the
    run directory (a corpus larger than memory trains); ``auto``: disk above 50,000 graph rows or for a
    hub stream. The text stream is always in memory."""

    def __post_init__(self) -> None:
        self._check_types()
        self._check("encoded", self.encoded in ENCODED_PLACES, f"choose one of {', '.join(ENCODED_PLACES)}")
        for key in ("graphs", "graph_tasks", "task_files", "text", "preference"):
            _list_of_str(self, key)
        self._check(
            "graph_ablation",
            self.graph_ablation in GRAPH_ABLATIONS,
            f"choose one of {', '.join(GRAPH_ABLATIONS)}",
        )
        bad = sorted(set(self.graph_tasks) - set(GRAPH_TASKS))
        self._check("graph_tasks", not bad, f"unknown task(s) {bad}; choose from {', '.join(GRAPH_TASKS)}")
        self._check("template", self.template in TEMPLATES, f"choose one of {', '.join(TEMPLATES)}")
        self._check("max_length", self.max_length >= 8, "must be >= 8")
        self._check("length_grouping", self.length_grouping >= 1, "must be >= 1")
        for key in ("qa_per_graph", "max_graphs", "max_text"):
            self._check(key, getattr(self, key) >= 0, "must be >= 0")
        self._check(
            "preference",
            not (self.preference and self.text),
            "give either text (SFT) or preference (DPO) data as the text stream, not both",
        )

    @property
    def has_graph_stream(self) -> bool:
        return bool(self.graphs or self.task_files)

    @property
    def has_text_stream(self) -> bool:
        return bool(self.text or self.preference)


@dataclass
class DPOConfig(_Checked):
    """Direct Preference Optimization (Rafailov et al. 2023), TRL's default sigmoid loss."""

    beta: float = 0.1
    """Inverse temperature of the implicit reward."""
    reference: str = "auto"
    """Reference log-probs: ``disable_adapter`` (LoRA/SVFT base), ``copy`` (frozen copy), ``precompute``
    (once, before training, stored in the run directory); ``auto`` picks the first that applies."""
    disable_dropout: bool = True
    """Zero the LLM's dropout so the policy starts equal to the reference (loss ln 2 at step 0)."""

    def __post_init__(self) -> None:
        self._check_types()
        self._check("beta", self.beta > 0, "must be > 0")
        self._check(
            "reference", self.reference in DPO_REFERENCES, f"choose one of {', '.join(DPO_REFERENCES)}"
        )


@dataclass
class OptimConfig(_Checked):
    """AdamW with a cosine schedule, warmup and a floor (GALLa's settings are the stage presets)."""

    lr: float = 1e-5
    """Peak learning rate."""
    min_lr: float = 1e-6
    """Floor of the cosine schedule."""
    warmup_steps: int = 0
    """Linear warmup from 0 over this many optimizer steps."""
    weight_decay: float = 0.1
    """AdamW weight decay on matrices (biases, norms and 1-D parameters are not decayed)."""
    betas: list[float] = field(default_factory=lambda: [0.9, 0.95])
    """AdamW betas."""
    eps: float = 1e-8
    """AdamW epsilon."""
    grad_clip: float = 1.0
    """Clip the global gradient norm (0 = off)."""
    batch_size: int = 4
    """Samples per process per micro-batch (DPO: pairs)."""
    grad_accum: int = 1
    """Micro-batches per optimizer step."""
    epochs: float = 1.0
    """Passes over the data (fractions allowed); ignored when ``max_steps`` > 0."""
    max_steps: int = 0
    """Stop after this many optimizer steps (0 = run ``epochs``)."""

    def __post_init__(self) -> None:
        self._check_types()
        self._check("lr", self.lr > 0, "must be > 0")
        self._check("min_lr", 0 <= self.min_lr <= self.lr, "must be in [0, lr]")
        self._check(
            "betas",
            isinstance(self.betas, list) and len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas),
            "expected two numbers in [0, 1)",
        )
        for key in ("batch_size", "grad_accum"):
            self._check(key, getattr(self, key) >= 1, "must be >= 1")
        for key in ("warmup_steps", "max_steps"):
            self._check(key, getattr(self, key) >= 0, "must be >= 0")
        self._check("epochs", self.epochs > 0, "must be > 0")
        self._check("grad_clip", self.grad_clip >= 0, "must be >= 0")


@dataclass
class RunConfig(_Checked):
    """Where the run writes, how often, and on what hardware settings."""

    out_dir: str = "runs/train"
    """Run directory: checkpoints/, tb/ (tensorboard), final/ (GraphLLM), export/ (plain HF model)."""
    seed: int = 0
    """Seeds data order, GraphQA sampling, dropout and initialisation."""
    save_every: int = 0
    """Checkpoint every N optimizer steps (0 = only at the end)."""
    keep_checkpoints: int = 2
    """Keep the newest N checkpoints. Each holds the optimizer state (AdamW: twice the trainable weights
    in fp32), the last one too, so a finished run can be resumed with a larger ``optim.max_steps``;
    delete ``checkpoints/`` of a finished run that will not be extended (``final/`` and ``export/`` do not
    need it)."""
    log_every: int = 1
    """Log to tensorboard and the progress bar every N steps."""
    precision: str = "auto"
    """``auto`` (bf16 autocast on CUDA, fp32 on CPU), ``fp32`` or ``bf16``."""
    strategy: str = "ddp"
    """Under ``accelerate launch``: ``ddp`` (every process holds the whole model), ``fsdp`` (PyTorch
    FSDP2: parameters, gradients and optimizer state sharded over the processes, each decoder layer
    gathered only while it runs, as ZeRO-3) or ``fsdp_grad_op`` (FSDP's SHARD_GRAD_OP: each layer's
    parameters stay gathered from its forward to its backward, close to ZeRO-2: less communication,
    more memory).
    One process ignores it."""
    eval_samples: int = 32
    """Hold out this many samples per stream (seeded; at most a fifth of the stream) and report their
    mean loss at the start, every ``eval_every`` steps and at the end (0 = no evaluation)."""
    eval_every: int | None = None
    """Evaluate every N optimizer steps as well (0 = only at the start and the end; default: every
    tenth of the run, about ten points)."""
    export: bool = True
    """Write ``export/``, the LLM alone (LoRA/SVFT merged) as a plain Hugging Face model."""
    progress: bool = True
    """Show a progress bar."""

    def __post_init__(self) -> None:
        self._check_types()
        self._check("precision", self.precision in PRECISIONS, f"choose one of {', '.join(PRECISIONS)}")
        self._check("strategy", self.strategy in STRATEGIES, f"choose one of {', '.join(STRATEGIES)}")
        self._check("eval_samples", self.eval_samples >= 0, "must be >= 0")
        self._check("eval_every", self.eval_every is None or self.eval_every >= 0, "must be >= 0")
        for key in ("save_every", "keep_checkpoints", "log_every"):
            self._check(key, getattr(self, key) >= (1 if key != "save_every" else 0), "out of range")


@dataclass
class TrainConfig(_Checked):
    """One training run: model, parameterisation, data, optimizer and run settings."""

    _nested: ClassVar[dict[str, type]] = {
        "model": ModelConfig,
        "params": ParamsConfig,
        "data": DataConfig,
        "dpo": DPOConfig,
        "optim": OptimConfig,
        "run": RunConfig,
    }

    name: str = "run"
    """A label for logs and the summary."""
    method: str | None = None
    """The training method, by name (:mod:`galla.train.methods`): ``lm`` (next-token cross-entropy:
    Graph2Code, GraphQA, SFT) or ``dpo`` (on ``data.preference``). Default: ``dpo`` when
    ``data.preference`` is given, else ``lm``; a method that does not fit the data is refused."""
    init_from: str | None = None
    """A GraphLLM directory (e.g. stage 1's ``final/``) whose encoder and adapter start this run; its
    ``model.encoder`` and ``model.adapter`` settings (with ``init_llm`` also ``model.graph_token``) replace
    the config's, so ``config.yaml`` records them; a config that sets one of them to another non-default
    value is refused."""
    init_llm: bool = False
    """With ``init_from``: also take the LLM weights from it (default: ``model.llm`` as configured)."""
    model: ModelConfig = field(default_factory=ModelConfig)
    """The GraphLLM (LLM, encoder, adapter, trainable flags)."""
    params: ParamsConfig = field(default_factory=ParamsConfig)
    """Full / LoRA / SVFT."""
    data: DataConfig = field(default_factory=DataConfig)
    """The data streams."""
    dpo: DPOConfig = field(default_factory=DPOConfig)
    """DPO settings (used with ``method: dpo``)."""
    optim: OptimConfig = field(default_factory=OptimConfig)
    """Optimizer and schedule."""
    run: RunConfig = field(default_factory=RunConfig)
    """Output, checkpoints, logging, precision."""

    def __post_init__(self) -> None:
        for key, sub in self._nested.items():
            self._check(key, isinstance(getattr(self, key), sub), f"expected a {sub.__name__} or mapping")
        self._check_types()
        self._check(
            "data",
            self.data.has_graph_stream or self.data.has_text_stream,
            "no data: give data.graphs, data.task_files, data.text or data.preference",
        )
        # node-text embeddings come only from attach_node_text on graphs a caller builds; no training
        # stream computes them (official records carry no spans), so the first graph batch would fail
        if self.model.encoder.node_text and self.data.has_graph_stream:
            source = " (here it comes from init_from's galla_config.json)" if self.init_from else ""
            raise ConfigError(
                f"model.encoder.node_text: true is not supported by galla train{source}: its graph streams "
                "carry node kinds, not the per-node text embeddings (x_text) the encoder would read; set "
                "model.encoder.node_text to false and choose the node vectors with "
                "model.encoder.node_features (kind_text, table or learned)"
            )
        from galla.train.methods import METHODS

        if self.method is None:
            self.method = "dpo" if self.data.preference else "lm"
        self._check("method", self.method in METHODS, f"choose one of {', '.join(METHODS)}")
        why = METHODS[self.method].mismatch(self)
        self._check("method", why is None, str(why))

    @property
    def recipe(self) -> str:
        """A readable name: ``galla-stage1``, ``galla-stage2``, ``sft``, ``dpo``, ``graph-only``."""
        if self.method == "dpo":
            return "dpo"
        if self.data.has_graph_stream:
            if self.data.text:
                return "galla-stage2"
            return "galla-stage1" if not self.model.llm_trainable else "graph-only"
        return "sft"


# --- YAML and overrides -------------------------------------------------------------------------


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> TrainConfig:
    """Read a YAML preset (or the defaults when ``path`` is None) and apply ``key.sub=value`` overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file '{path}' does not exist")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"{path}: not valid YAML: {err}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level")
    return _with_overrides(data, overrides or [])


def apply_overrides(cfg: TrainConfig, overrides: list[str]) -> TrainConfig:
    """A new config: ``cfg`` with ``key.sub=value`` overrides applied (validated again)."""
    return _with_overrides(cfg.to_dict(), overrides)


def _with_overrides(data: dict[str, Any], overrides: list[str]) -> TrainConfig:
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r}: expected key.sub=value")
        _set(data, key.strip().split("."), yaml.safe_load(raw) if raw else "", item)
    try:
        return TrainConfig.from_dict(data)
    except TypeError as err:  # a scalar where a section was expected
        raise ConfigError(f"config: {err}") from None


def _set(data: dict, keys: list[str], value: Any, item: str) -> None:
    cls: type = TrainConfig
    node = data
    for i, key in enumerate(keys):
        names = {f.name: f for f in dataclasses.fields(cls)}
        if key not in names:
            where = ".".join(keys[:i]) or "the top level"
            raise ConfigError(
                f"override {item!r}: no key '{key}' in {where}; known: {', '.join(sorted(names))}"
            )
        if i == len(keys) - 1:
            node[key] = value
            return
        sub = typing.get_type_hints(cls)[key]
        if not (isinstance(sub, type) and dataclasses.is_dataclass(sub)):
            raise ConfigError(f"override {item!r}: '{key}' is not a section")
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {item!r}: '{key}' holds {node!r}, not a section")
        cls = sub
