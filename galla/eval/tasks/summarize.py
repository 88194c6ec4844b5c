"""Code summarisation: write a function's docstring summary from its code (CodeSearchNet style).

Train: standard-library functions; test: functions of the pinned third-party packages in
``corpus.TEST_PACKAGES`` (no function in both, see :mod:`galla.eval.tasks.corpus`). The prompt is the
function with its docstring removed; the reference is the docstring's first paragraph (12-200 characters,
whitespace folded), the same records as ``data_builders.downstream.docstring_records``.

Metrics: smoothed sentence BLEU-4 as CodeXGLUE's code-to-text evaluator computes it (Lin & Och 2004:
add one to the matches and counts of 2- to 4-grams; lowercased), through ``sacrebleu`` with
``smooth_method="add-k", smooth_value=1``, averaged over items; and ROUGE-L F1 (``rouge-score``, stemmed).
Both 0-100.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from data_builders.downstream import PROMPT, _summary
from galla.eval.tasks import corpus
from galla.eval.tasks.base import Task, TaskExample, seeded_order


def clean_reply(reply: str) -> str:
    """The summary in a chat reply: the first non-empty paragraph, quotes and fences stripped."""
    text = reply.strip().strip("`").strip()
    for para in text.split("\n\n"):
        if para.strip():
            return " ".join(para.split()).strip("\"'")
    return ""


@functools.cache
def _bleu() -> Any:
    import logging

    from sacrebleu.metrics import BLEU

    # sacrebleu advises effective_order for sentence BLEU; CodeXGLUE's smoothing keeps every order instead
    logging.getLogger("sacrebleu").setLevel(logging.ERROR)
    return BLEU(smooth_method="add-k", smooth_value=1, lowercase=True, effective_order=False)


@functools.cache
def _rouge() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def smoothed_bleu(hypothesis: str, reference: str) -> float:
    """Sentence BLEU-4, add-one smoothing of the 2- to 4-gram precisions (0-100)."""
    return float(_bleu().sentence_score(hypothesis, [reference]).score)


def rouge_l(hypothesis: str, reference: str) -> float:
    """ROUGE-L F1 with stemming (0-100)."""
    return 100.0 * _rouge().score(reference, hypothesis)["rougeL"].fmeasure


class Summarize(Task):
    name = "summarize"
    metrics = ("bleu4", "rougeL")
    max_new_tokens = 64

    def _records(self, fns: Sequence[corpus.Function]) -> list[dict[str, Any]]:
        out = []
        for fn in fns:
            summary = _summary(fn.docstring, 200) if fn.docstring else None
            if summary is not None:
                out.append({"human": PROMPT.format(code=fn.body_without_doc), "bot": summary, "id": fn.id})
        return out

    def build(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
        train_fns = corpus.train_functions()
        test_fns = corpus.test_functions(train_keys={f.key for f in train_fns})
        train = self._records(train_fns)
        test = seeded_order(self._records(test_fns))
        return (
            train,
            test,
            {"splits": corpus.split_report(), "metric": "smoothed BLEU-4 (CodeXGLUE), ROUGE-L"},
        )

    def score(
        self, examples: Sequence[TaskExample], responses: Mapping[int, str | None]
    ) -> list[dict[str, Any]]:
        out = []
        for ex in examples:
            if ex.index not in responses:
                continue
            hyp = clean_reply(responses[ex.index] or "")
            out.append(
                {
                    "index": ex.index,
                    "id": ex.meta.get("id"),
                    "bleu4": smoothed_bleu(hyp, ex.reference),
                    "rougeL": rouge_l(hyp, ex.reference),
                    "hypothesis": hyp,
                }
            )
        return out
