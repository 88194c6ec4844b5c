"""SURGE generation: chat prompts, batched greedy decoding and a resumable responses file.

- ``build_prompts``: system = the item's ``sys_<setting>`` prompt, user = ``question`` (reference
  ``surge.md`` §2), rendered with the tokenizer's chat template (``add_generation_prompt=True``) and
  tokenized without adding special tokens (the template writes them). A tokenizer without a chat template
  is refused with a clear error: SURGE prompts are chats.
- ``generate_batched``: greedy decoding (``do_sample=False``, one beam, no repetition penalty, whatever
  the model's ``generation_config`` says), prompts sorted by length (longest first) and LEFT-padded in
  batches, so every batch holds prompts of similar length. It yields one list per batch.
- ``run_generation``: loads the model (anything ``load_llm`` accepts; a GraphLLM directory — ``final/``
  of ``galla train``, with ``galla_config.json`` and ``llm/`` — loads ``llm/`` and prompts are text only,
  as GALLa evaluates; a run directory loads its ``export/`` or ``final/``), appends one line per item to
  ``OUT/responses.jsonl`` after each batch (flush + fsync), and scores with ``run.score_responses_file``.
  A rerun skips the (subset, index) pairs already there, so a killed run loses at most one batch; a file
  written with another model or setting is refused. Prompts longer than the model's context minus
  ``max_new_tokens`` get a line with ``response: null`` and ``skipped: "prompt_too_long"`` (scored 0).

The paper does not report a generation length; ``MAX_NEW_TOKENS`` is galla's choice: about the 99th
percentile of the subset's answers in tokens, rounded up, plus ``REASONING_TOKENS`` for the CoT settings.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.surge.data import SETTINGS, SurgeItem, load_surge, parse_subsets
from benchmarks.surge.paper import DEFAULT_COMPARE, PAPER_ROWS

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from benchmarks.surge.run import RunResult

__all__ = [
    "MAX_NEW_TOKENS",
    "REASONING_TOKENS",
    "RESPONSES_FILE",
    "Generation",
    "GenerationError",
    "GenerationSummary",
    "Prompt",
    "build_prompts",
    "generate_batched",
    "max_new_tokens_for",
    "read_finished",
    "resolve_model",
    "run_generation",
]

RESPONSES_FILE = "responses.jsonl"
MAX_NEW_TOKENS: dict[str, int] = {
    "ml": 128,  # answers: median 2 tokens, p99 62
    "cl": 128,  # p99 37, max 63
    "rl": 1536,  # p99 1421 (PlotNeuralNet LaTeX files)
    "sc": 1024,  # p99 1625: the longest arrays are cut (numeric scoring pads with zeros)
    "tc": 1024,  # p99 1758
    "bg": 1024,  # p99 1819 (tracebacks and compiler errors)
    "dr": 768,  # p99 601
    "fl": 1024,  # p99 2240 (long Lean error lists)
}
"""Tokens a reply may take in the 0-shot setting, per subset (SmolLM2 tokenizer counts of ``gt``)."""
REASONING_TOKENS = 512
"""Added to ``MAX_NEW_TOKENS`` for ``cot`` and ``3shot``, where the reply starts with a "Thought:"."""
_GRAPH_LLM_CONFIG = "galla_config.json"  # galla.model.graph_llm.CONFIG_FILE (not imported: pulls in PyG)


class GenerationError(ValueError):
    """A model, tokenizer or responses file that generation cannot use; the message says what to fix."""


@dataclass(frozen=True)
class Prompt:
    """One item's rendered chat prompt."""

    subset: str
    index: int
    text: str
    input_ids: list[int] = field(repr=False)


@dataclass(frozen=True)
class Generation:
    """The greedy reply to one prompt."""

    prompt: Prompt
    response: str
    new_tokens: int
    """Tokens generated, the stop token included."""
    finished: bool
    """True if a stop token ended the reply, False if it ran into ``max_new_tokens``."""
    seconds: float
    """This item's share of its batch's wall time."""


def max_new_tokens_for(subset: str, setting: str, cap: int | None = None) -> int:
    """The generation budget of ``subset`` in ``setting``; ``cap`` (if given) replaces it."""
    if cap is not None:
        return cap
    return MAX_NEW_TOKENS[subset] + (0 if setting == "0shot" else REASONING_TOKENS)


def build_prompts(
    items: Iterable[SurgeItem], tokenizer: PreTrainedTokenizerBase, setting: str
) -> list[Prompt]:
    """Render each item's ``messages(setting)`` through the chat template and tokenize it."""
    if setting not in SETTINGS:
        raise ValueError(f"unknown SURGE setting {setting!r}; choose one of {', '.join(SETTINGS)}")
    if not getattr(tokenizer, "chat_template", None):
        raise GenerationError(
            f"the tokenizer ({tokenizer.name_or_path or type(tokenizer).__name__}) has no chat template; "
            "SURGE prompts are chats (system + user message): use an instruct/chat model, or add a "
            "'chat_template' to its tokenizer_config.json"
        )
    prompts = []
    for item in items:
        messages = item.messages(setting)
        try:
            text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        except Exception as err:  # jinja errors, e.g. "System role not supported"
            raise GenerationError(f"the chat template failed on {item.subset}[{item.index}]: {err}") from err
        ids = tokenizer(text, add_special_tokens=False).input_ids
        prompts.append(Prompt(item.subset, item.index, text, list(ids)))
    return prompts


def context_length(model: PreTrainedModel) -> int | None:
    """The model's context window from its config, or None if the config names none."""
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    for key in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def stop_token_ids(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """EOS ids of the model's generation config and of the tokenizer (chat models end turns with one)."""
    ids = model.generation_config.eos_token_id if model.generation_config is not None else None
    found = [ids] if isinstance(ids, int) else list(ids or [])
    if tokenizer.eos_token_id is not None:
        found.append(tokenizer.eos_token_id)
    return list(dict.fromkeys(found))


def generate_batched(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[Prompt],
    max_new_tokens: int,
    batch_size: int = 8,
) -> Iterator[list[Generation]]:
    """Greedy replies to ``prompts``, longest prompts first, ``batch_size`` left-padded prompts at a time."""
    import torch

    if batch_size < 1 or max_new_tokens < 1:
        raise ValueError(f"batch_size and max_new_tokens must be >= 1, got {batch_size}, {max_new_tokens}")
    stops = stop_token_ids(model, tokenizer)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stops[0]
    order = sorted(prompts, key=lambda p: (-len(p.input_ids), p.subset, p.index))
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        began = time.perf_counter()
        width = max(len(p.input_ids) for p in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)  # (B, T), left-padded
        mask = torch.zeros_like(ids)
        for row, p in enumerate(batch):
            ids[row, width - len(p.input_ids) :] = torch.tensor(p.input_ids)
            mask[row, width - len(p.input_ids) :] = 1
        with torch.inference_mode():
            out = model.generate(
                input_ids=ids.to(model.device),
                attention_mask=mask.to(model.device),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                num_beams=1,
                repetition_penalty=1.0,  # v5 fills unset fields from the model's config (Qwen: 1.05)
                no_repeat_ngram_size=0,
                pad_token_id=pad_id,
                eos_token_id=stops,
            )  # (B, T + new)
        new = out[:, width:].tolist()
        share = (time.perf_counter() - began) / len(batch)
        results = []
        for p, tokens in zip(batch, new, strict=True):
            end = next((i for i, t in enumerate(tokens) if t in stops), None)
            kept = tokens if end is None else tokens[:end]
            text = tokenizer.decode(kept, skip_special_tokens=True)
            results.append(Generation(p, text, len(kept) + (end is not None), end is not None, share))
        yield results


# --- models and the responses file ---------------------------------------------------------------


def resolve_model(spec: str) -> str:
    """What to load for ``spec``: a GraphLLM directory -> its ``llm/``; a ``galla train`` run directory ->
    its ``export/`` (else ``final/``); any other local directory or file -> its absolute path; model names
    and hub ids unchanged. The result is also the ``model`` field of every responses line."""
    from galla.model.llm import OFFLINE_MODELS

    path = Path(spec).expanduser()
    if spec in OFFLINE_MODELS:  # as load_llm: a name wins over a folder of that name
        return spec
    if path.is_file():
        return str(path.resolve())
    if not path.is_dir():
        return spec
    if (path / _GRAPH_LLM_CONFIG).is_file():
        if not (path / "llm" / "config.json").is_file():
            raise GenerationError(f"{path} has {_GRAPH_LLM_CONFIG} but no llm/config.json (incomplete save?)")
        return str((path / "llm").resolve())
    if (path / "config.json").is_file():
        return str(path.resolve())
    for sub in ("export", "final"):
        if (path / sub).is_dir():
            return resolve_model(str(path / sub))
    raise GenerationError(
        f"{path} is not a model directory (no config.json, no {_GRAPH_LLM_CONFIG}, no export/ or final/)"
    )


def model_label(resolved: str) -> str:
    """A short row name: the offline name or hub id, or the directory name (``run/final`` for a run)."""
    path = Path(resolved)
    if not path.is_absolute():
        return resolved
    if path.suffix == ".gguf":
        return path.stem
    parts = list(path.parts[:-1] if path.name == "llm" else path.parts)
    return "/".join(parts[-2:]) if parts[-1] in ("final", "export") else parts[-1]


def paper_name(spec: str) -> str | None:
    """The paper's row for a Qwen2.5(-Coder) instruct model spec (``qwen2.5-coder-0.5b``, hub ids)."""
    m = re.search(r"qwen-?2\.5-(coder-)?(\d+(?:\.\d+)?)b(-instruct)?$", spec.lower())
    if m is None:
        return None
    name = f"Qwen-2.5-{'Coder-' if m.group(1) else ''}{m.group(2)}B-Instruct"
    return name if any(r.model == name for r in PAPER_ROWS) else None


def read_finished(path: Path, model: str, setting: str) -> set[tuple[str, int]]:
    """(subset, index) pairs already in the responses file ``path``, after checking it is this run's.

    A last line cut off by a kill (no trailing newline) is removed from the file. Raises GenerationError
    for a line of another model or setting, or a line that is not a JSON object with subset and index.
    """
    if not path.is_file():
        return set()
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)
        data = data[: data.rfind(b"\n") + 1]
    done = set()
    for line_no, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
            key = (str(rec["subset"]).lower(), int(rec["index"]))
        except (ValueError, KeyError, TypeError) as err:
            raise GenerationError(
                f"{path} line {line_no} is not a responses record ({err}); fix or move it"
            ) from err
        if rec.get("model") != model or rec.get("setting") != setting:
            raise GenerationError(
                f"{path} was written for model {rec.get('model')!r}, setting {rec.get('setting')!r} (line "
                f"{line_no}), not model {model!r}, setting {setting!r}: pass another --out, or move the file"
            )
        done.add(key)
    return done


def _append(f: Any, records: Iterable[Mapping[str, Any]]) -> None:
    f.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    f.flush()
    os.fsync(f.fileno())


@dataclass
class GenerationSummary:
    """What ``run_generation`` did; ``score`` is the scoring of the whole responses file."""

    model: str
    setting: str
    responses: Path
    selected: int
    already_done: int
    generated: int = 0
    too_long: int = 0
    truncated: int = 0
    """Replies cut at ``max_new_tokens`` (no stop token)."""
    new_tokens: int = 0
    seconds: float = 0.0
    """Generation wall time (model loading and scoring excluded)."""
    score: RunResult | None = None

    @property
    def items_per_second(self) -> float:
        return self.generated / self.seconds if self.seconds else 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.new_tokens / self.seconds if self.seconds else 0.0


def run_generation(
    model_spec: str,
    data_dir: str | Path,
    out_dir: str | Path,
    setting: str = "0shot",
    subsets: str | Iterable[str] | None = None,
    limit: int | None = None,
    batch_size: int = 8,
    *,
    max_new_tokens: int | None = None,
    device: str | None = None,
    dtype: str = "auto",
    name: str | None = None,
    compare: Sequence[str] | None = DEFAULT_COMPARE,
    chart: bool = True,
    progress: bool = True,
) -> GenerationSummary:
    """Generate the missing replies of ``model_spec`` into ``OUT/responses.jsonl``, then score the file.

    ``limit`` keeps the first N items of each subset; ``max_new_tokens`` replaces the per-subset budgets;
    ``device`` defaults to CUDA when available; ``name`` labels the table row. Scoring writes
    ``scores.jsonl``, ``problems.jsonl``, ``table.{md,csv,json}`` and ``chart.png`` into ``out_dir``.
    """
    from benchmarks.surge.run import score_responses_file

    if setting not in SETTINGS:
        raise ValueError(f"unknown SURGE setting {setting!r}; choose one of {', '.join(SETTINGS)}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    items = load_surge(data_dir, parse_subsets(subsets))
    selected = [it for group in items.values() for it in group[:limit]]
    model_id = resolve_model(model_spec)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    responses = out / RESPONSES_FILE
    done = read_finished(responses, model_id, setting)
    todo = [it for it in selected if (it.subset, it.index) not in done]
    summary = GenerationSummary(model_id, setting, responses, len(selected), len(selected) - len(todo))
    if todo:
        _generate_into(summary, todo, batch_size, max_new_tokens, device, dtype, progress)
    label = name or model_label(model_id)
    summary.score = score_responses_file(
        items, responses, out, name=label, setting=setting, compare=compare, chart=chart
    )
    return summary


def _generate_into(
    run: GenerationSummary,
    todo: list[SurgeItem],
    batch_size: int,
    cap: int | None,
    device: str | None,
    dtype: str,
    show: bool,
) -> None:
    import torch
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from galla.model.llm import load_llm

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model, tokenizer = load_llm(run.model, dtype=dtype, device=device)
    model.eval()
    prompts = build_prompts(todo, tokenizer, run.setting)
    context = context_length(model)
    groups: dict[int, list[Prompt]] = {}  # budget -> prompts that fit
    too_long = []
    for p in prompts:
        budget = max_new_tokens_for(p.subset, run.setting, cap)
        if context is not None and len(p.input_ids) > context - budget:
            too_long.append(p)
        else:
            groups.setdefault(budget, []).append(p)

    def record(p: Prompt, **fields: Any) -> dict[str, Any]:
        head = {"subset": p.subset, "index": p.index, "response": fields.pop("response", None)}
        return {
            **head,
            "model": run.model,
            "setting": run.setting,
            "prompt_tokens": len(p.input_ids),
            **fields,
        }

    bar = Progress(
        TextColumn("[bold]SURGE generate"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:.2f} items/s · {task.fields[tokens]:,} new tokens"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not show,
    )
    with run.responses.open("a", encoding="utf-8") as f, bar:
        skipped = {"new_tokens": 0, "seconds": 0.0, "skipped": "prompt_too_long", "context": context}
        _append(f, (record(p, **skipped) for p in too_long))
        run.too_long = len(too_long)
        task = bar.add_task("generate", total=len(prompts) - len(too_long), rate=0.0, tokens=0)
        start = time.perf_counter()
        for budget in sorted(groups):
            for batch in generate_batched(model, tokenizer, groups[budget], budget, batch_size):
                _append(
                    f,
                    (
                        record(
                            g.prompt,
                            response=g.response,
                            new_tokens=g.new_tokens,
                            seconds=round(g.seconds, 4),
                            max_new_tokens=budget,
                            finished=g.finished,
                        )
                        for g in batch
                    ),
                )
                run.generated += len(batch)
                run.truncated += sum(not g.finished for g in batch)
                run.new_tokens += sum(g.new_tokens for g in batch)
                run.seconds = time.perf_counter() - start
                bar.update(task, advance=len(batch), rate=run.items_per_second, tokens=run.new_tokens)
