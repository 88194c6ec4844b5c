"""Greedy generation for evaluation, shared by SURGE and the downstream tasks.

- ``render_chat``: messages rendered with the tokenizer's chat template (``add_generation_prompt=True``)
  and tokenized without adding special tokens (the template writes them). A tokenizer without a chat
  template is refused with a clear error: evaluation prompts are chats.
- ``generate_batched``: greedy decoding (``do_sample=False``, one beam, no repetition penalty, whatever
  the model's ``generation_config`` says), prompts sorted by length (longest first) and LEFT-padded in
  batches, so every batch holds prompts of similar length. It yields one list per batch.
- ``generate_missing``: appends one line per prompt to a responses JSONL file after each batch (flush +
  fsync), so a killed run loses at most one batch; ``read_finished`` tells a rerun which (group, index)
  pairs are done and refuses a file written for another model or setting. Prompts longer than the
  model's context minus their token budget get a line with ``response: null`` and
  ``skipped: "prompt_too_long"``.
- ``resolve_model``: what to load for a ``--model`` spec (a GraphLLM directory's ``llm/``, a run
  directory's ``export/`` or ``final/``, a multi-stage run's last stage).

A prompt is identified by ``(group, index)``: a SURGE subset and item index, or a task name and example
index.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from galla.run_layout import GRAPH_LLM_CONFIG, GraphLLMDir, RunDir

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

__all__ = [
    "RESPONSES_FILE",
    "Generation",
    "GenerationError",
    "GenerationStats",
    "Prompt",
    "context_length",
    "generate_batched",
    "generate_missing",
    "load_for_generation",
    "model_label",
    "read_finished",
    "render_chat",
    "resolve_model",
]

RESPONSES_FILE = "responses.jsonl"


class GenerationError(ValueError):
    """A model, tokenizer or responses file that generation cannot use; the message says what to fix."""


@dataclass(frozen=True)
class Prompt:
    """One rendered chat prompt, identified by ``(subset, index)`` (a SURGE subset or a task name)."""

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


def check_chat_template(tokenizer: PreTrainedTokenizerBase, what: str) -> None:
    if not getattr(tokenizer, "chat_template", None):
        raise GenerationError(
            f"the tokenizer ({tokenizer.name_or_path or type(tokenizer).__name__}) has no chat template; "
            f"{what} prompts are chats: use an instruct/chat model, or add a 'chat_template' to its "
            "tokenizer_config.json"
        )


def render_chat(
    tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, str]], subset: str, index: int
) -> Prompt:
    """``messages`` through the chat template with the generation prompt, tokenized."""
    try:
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    except Exception as err:  # jinja errors, e.g. "System role not supported"
        raise GenerationError(f"the chat template failed on {subset}[{index}]: {err}") from err
    ids = tokenizer(text, add_special_tokens=False).input_ids
    return Prompt(subset, index, text, list(ids))


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


# --- models -----------------------------------------------------------------------------------------


def resolve_model(spec: str) -> str:
    """What to load for ``spec``: a GraphLLM directory -> its ``llm/``; a ``galla train`` run directory ->
    its ``export/`` (else ``final/``); a multi-stage run (``stage1/``, ``stage2/``, ...) -> its last stage;
    any other local directory or file -> its absolute path; model names and hub ids unchanged. The result
    is also the ``model`` field of every responses line."""
    from galla.model.llm import OFFLINE_MODELS, llm_spec_problem

    path = Path(spec).expanduser()
    if spec in OFFLINE_MODELS:  # as load_llm: a name wins over a folder of that name
        return spec
    if path.is_file():
        return str(path.resolve())
    if not path.is_dir():
        problem = llm_spec_problem(spec)  # a missing path or an unknown name: before any output exists
        if problem:
            raise GenerationError(f"--model: {problem}")
        return spec
    saved = GraphLLMDir(path)
    if saved.exists():
        if not (saved.llm / "config.json").is_file():
            raise GenerationError(f"{path} has {GRAPH_LLM_CONFIG} but no llm/config.json (incomplete save?)")
        return str(saved.llm.resolve())
    if (path / "config.json").is_file():
        return str(path.resolve())
    run = RunDir(path)
    for sub in (run.export, run.final):
        if sub.is_dir():
            return resolve_model(str(sub))
    last = run.last_stage()
    if last is not None:
        return resolve_model(str(last.path))
    raise GenerationError(
        f"--model: {path} is not a model directory (no config.json, no {GRAPH_LLM_CONFIG}, no export/, "
        "final/ or stageN/); point it at a Hugging Face model folder, a galla train run or its final/ or "
        "export/"
    )


def model_label(resolved: str) -> str:
    """A short row name: the offline name or hub id, or the directory name (``run/final`` for a run)."""
    path = Path(resolved)
    if not path.is_absolute():
        return resolved
    if path.suffix == ".gguf":
        return path.stem
    if path == GraphLLMDir(path.parent).llm:
        path = path.parent
    run = RunDir(path.parent)
    return f"{run.path.name}/{path.name}" if path in (run.final, run.export) else path.name


def load_for_generation(
    model_id: str, device: str | None = None, dtype: str = "auto"
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The model (in eval mode) and tokenizer of a resolved spec; ``device`` defaults to CUDA if any."""
    import torch

    from galla.model.llm import load_llm

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model, tokenizer = load_llm(model_id, dtype=dtype, device=device)
    model.eval()
    return model, tokenizer


# --- the responses file -----------------------------------------------------------------------------


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
class GenerationStats:
    """What one ``generate_missing`` call did."""

    generated: int = 0
    too_long: int = 0
    truncated: int = 0
    """Replies cut at their token budget (no stop token)."""
    new_tokens: int = 0
    seconds: float = 0.0
    """Generation wall time (model loading and scoring excluded)."""

    @property
    def items_per_second(self) -> float:
        return self.generated / self.seconds if self.seconds else 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.new_tokens / self.seconds if self.seconds else 0.0


def generate_missing(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    requests: Sequence[tuple[Prompt, int]],
    responses: Path,
    *,
    model_id: str,
    setting: str,
    batch_size: int = 8,
    title: str = "generate",
    show: bool = True,
) -> GenerationStats:
    """Greedy replies to ``(prompt, max_new_tokens)`` requests, appended to ``responses`` batch by batch.

    Prompts with the same budget are batched together; each line records ``subset, index, response,
    model, setting, prompt_tokens, new_tokens, seconds, max_new_tokens, finished``."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    stats = GenerationStats()
    context = context_length(model)
    groups: dict[int, list[Prompt]] = {}  # budget -> prompts that fit
    too_long = []
    for p, budget in requests:
        if context is not None and len(p.input_ids) > context - budget:
            too_long.append(p)
        else:
            groups.setdefault(budget, []).append(p)

    def record(p: Prompt, **fields: Any) -> dict[str, Any]:
        head = {"subset": p.subset, "index": p.index, "response": fields.pop("response", None)}
        return {**head, "model": model_id, "setting": setting, "prompt_tokens": len(p.input_ids), **fields}

    bar = Progress(
        TextColumn(f"[bold]{title}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:.2f} items/s · {task.fields[tokens]:,} new tokens"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not show,
    )
    responses.parent.mkdir(parents=True, exist_ok=True)
    with responses.open("a", encoding="utf-8") as f, bar:
        skipped = {"new_tokens": 0, "seconds": 0.0, "skipped": "prompt_too_long", "context": context}
        _append(f, (record(p, **skipped) for p in too_long))
        stats.too_long = len(too_long)
        task = bar.add_task("generate", total=len(requests) - len(too_long), rate=0.0, tokens=0)
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
                stats.generated += len(batch)
                stats.truncated += sum(not g.finished for g in batch)
                stats.new_tokens += sum(g.new_tokens for g in batch)
                stats.seconds = time.perf_counter() - start
                bar.update(task, advance=len(batch), rate=stats.items_per_second, tokens=stats.new_tokens)
    return stats
