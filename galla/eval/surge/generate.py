"""SURGE generation: the items' chat prompts and budgets over the shared machinery of ``galla.eval.generate``.

- ``build_prompts``: system = the item's ``sys_<setting>`` prompt, user = ``question`` (reference
  ``surge.md`` §2), rendered with the tokenizer's chat template. A tokenizer without a chat template is
  refused with a clear error: SURGE prompts are chats.
- ``run_generation``: loads the model (anything ``load_llm`` accepts, and ``galla train`` outputs, see
  ``galla.eval.generate.resolve_model``: prompts are text only, as GALLa evaluates), appends one line per
  item to ``OUT/responses.jsonl`` after each batch, and scores with ``run.score_responses_file``. A rerun
  skips the (subset, index) pairs already there, so a killed run loses at most one batch; a file written
  with another model or setting is refused. Prompts longer than the model's context minus
  ``max_new_tokens`` get a line with ``response: null`` and ``skipped: "prompt_too_long"`` (scored 0).

The paper does not report a generation length; ``MAX_NEW_TOKENS`` is galla's choice: about the 99th
percentile of the subset's answers in tokens, rounded up, plus ``REASONING_TOKENS`` for the CoT settings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from galla.eval.generate import (
    RESPONSES_FILE,
    Generation,
    GenerationError,
    GenerationStats,
    Prompt,
    check_chat_template,
    generate_batched,
    generate_missing,
    load_for_generation,
    model_label,
    read_finished,
    render_chat,
    resolve_model,
)
from galla.eval.surge.data import SETTINGS, SurgeItem, load_surge, parse_subsets
from galla.eval.surge.paper import DEFAULT_COMPARE, PAPER_ROWS

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from galla.eval.surge.run import RunResult

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
    check_chat_template(tokenizer, "SURGE")
    return [render_chat(tokenizer, item.messages(setting), item.subset, item.index) for item in items]


def paper_name(spec: str) -> str | None:
    """The paper's row for a Qwen2.5(-Coder) instruct model spec (``qwen2.5-coder-0.5b``, hub ids)."""
    m = re.search(r"qwen-?2\.5-(coder-)?(\d+(?:\.\d+)?)b(-instruct)?$", spec.lower())
    if m is None:
        return None
    name = f"Qwen-2.5-{'Coder-' if m.group(1) else ''}{m.group(2)}B-Instruct"
    return name if any(r.model == name for r in PAPER_ROWS) else None


@dataclass(kw_only=True)
class GenerationSummary(GenerationStats):
    """What ``run_generation`` did (the counts of :class:`GenerationStats`); ``score`` is the scoring of
    the whole responses file."""

    model: str
    setting: str
    responses: Path
    selected: int
    already_done: int
    score: RunResult | None = None


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
    from galla.eval.surge.run import score_responses_file

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
    summary = GenerationSummary(
        model=model_id,
        setting=setting,
        responses=responses,
        selected=len(selected),
        already_done=len(selected) - len(todo),
    )
    if todo:
        model, tokenizer = load_for_generation(model_id, device, dtype)
        requests = [
            (p, max_new_tokens_for(p.subset, setting, max_new_tokens))
            for p in build_prompts(todo, tokenizer, setting)
        ]
        stats = generate_missing(
            model,
            tokenizer,
            requests,
            responses,
            model_id=model_id,
            setting=setting,
            batch_size=batch_size,
            title="SURGE generate",
            show=progress,
        )
        for key in ("generated", "too_long", "truncated", "new_tokens", "seconds"):
            setattr(summary, key, getattr(stats, key))
    label = name or model_label(model_id)
    summary.score = score_responses_file(
        items, responses, out, name=label, setting=setting, compare=compare, chart=chart
    )
    return summary
