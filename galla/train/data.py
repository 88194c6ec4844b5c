"""Task records to token ids, batches and the stage-2 mixing schedule.

- :func:`encode_record`: one task record (``data_builders.tasks`` schema) -> an :class:`Example`: ids,
  how many leading ids are prompt (no loss), and the graph. Layouts, as the official GALLa code writes
  them (``data/preprocess_data.py``), ids concatenated piecewise with ``add_special_tokens=False``:

  - stage-1 Graph2Code: ``[graph]×G`` + source + EOS;
  - graph question (GraphQA, stage-2 Graph2Code): ``<s>human\\n`` + (question + ws + ``[graph]×G`` or
    ``[graph]×G`` + ws + question, each with probability 1/2, ws from {"", " ", "\\n"}) + ``\\n<s>bot\\n``
    + answer + EOS (the draw is seeded per record, so a rerun encodes identically);
  - downstream SFT: ``<s>human\\n`` + human + ``<s>bot\\n`` + bot + EOS;
  - DPO: the SFT prompt, then chosen / rejected + EOS.

  ``template: chat`` writes the human turn through the tokenizer's chat template instead.
  Samples longer than ``max_length`` are dropped (as the official ``filter.py`` does) and counted.
- :func:`epoch_batches`: seeded shuffle, lengths sorted within groups of batches (less padding), batch
  order shuffled again; the last incomplete global batch is dropped so every process gets equal rows.
- :func:`mix_schedule`: GALLa's rule: draw a text batch with probability N_text / (N_graph + N_text)
  until one stream runs dry, then drain the other; graph losses are scaled by
  ``min(N_text / N_graph, 1)`` (:func:`graph_loss_scale`).
- :func:`collate`: right padding, labels ``IGNORE_INDEX`` on prompt and padding.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data

from data_builders.pyg import to_pyg
from galla.constants import IGNORE_INDEX

HUMAN, BOT = "<s>human\n", "<s>bot\n"
"""The official role markers, written as literal text."""
_WS = ("", " ", "\n")


Part = str | list[int]
"""A piece of a sequence: text to tokenize, or literal ids (graph placeholders, EOS)."""
TOKEN_DTYPE = np.int32
"""Token ids are held as int32 (every vocabulary fits) and widened to int64 per batch by :func:`collate`."""


@dataclass
class Example:
    """One encoded sample; a DPO example's ``ids`` are the prompt, its completions ``chosen``/``rejected``."""

    ids: np.ndarray
    """Prompt + answer ids (DPO: the prompt only)."""
    prompt_len: int
    """Leading ids without loss."""
    task: str
    graph: Data | None = None
    chosen: np.ndarray | None = None
    rejected: np.ndarray | None = None
    ref: tuple[float, float] | None = None
    """Precomputed reference log-probs (chosen, rejected) for DPO."""

    @property
    def length(self) -> int:
        if self.chosen is not None and self.rejected is not None:
            return len(self.ids) + max(len(self.chosen), len(self.rejected))
        return len(self.ids)

    @property
    def num_targets(self) -> int:
        """Supervised tokens (LM) or 1 (a DPO pair)."""
        return 1 if self.chosen is not None else len(self.ids) - self.prompt_len


@dataclass
class Encoder:
    """Encodes task records for one tokenizer and GraphLLM placeholder layout."""

    tokenizer: object
    graph_token_id: int
    num_graph_tokens: object
    """``num_nodes -> placeholders`` (``GraphLLM.num_graph_tokens``)."""
    max_length: int = 1024
    template: str = "galla"
    seed: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    _last: tuple[dict, Data] | None = field(default=None, repr=False)
    """The previous record's graph columns and tensors: consecutive records of one unit (its GraphQA
    questions) share one :class:`Data` instead of a copy each."""

    def _prompt(self, question: str, graph_slots: int, key: str) -> list[Part]:
        """The human turn as parts, with ``graph_slots`` placeholders placed as the official code does."""
        pads = [self.graph_token_id] * graph_slots
        if graph_slots:
            rng = random.Random(f"{self.seed}:{key}")
            ws = rng.choice(_WS)
            before = rng.random() < 0.5
        if self.template == "chat":
            marker = "\x00GRAPH\x00"
            content = (
                question
                if not graph_slots
                else (f"{question}{ws}{marker}" if before else f"{marker}{ws}{question}")
            )
            text = self.tokenizer.apply_chat_template(
                [{"role": "user", "content": content}], tokenize=False, add_generation_prompt=True
            )
            head, _, tail = text.partition(marker)
            return [head, pads, tail] if graph_slots else [head]
        if not graph_slots:
            return [HUMAN + question, BOT]
        if before:
            return [HUMAN + question + ws, pads, "\n", BOT]
        return [HUMAN, pads, ws + question + "\n", BOT]

    def _graph(self, record: dict) -> Data:
        last = self._last
        if last is not None and all(_same(record[c], last[0][c]) for c in _GRAPH_KEYS):
            return last[1]
        graph = to_pyg(record)
        self._last = ({c: record[c] for c in _GRAPH_KEYS}, graph)
        return graph

    def encode(self, record: dict, key: str) -> Example | None:
        """Encode one record; ``None`` (and a count in :attr:`dropped`) when it exceeds ``max_length``."""
        return self.encode_many([record], [key])[0]

    def encode_stream(self, records: Iterable[dict], name: str, chunk: int = 512) -> Iterator[Example | None]:
        """One result per record of ``records`` (keys ``name:0``, ``name:1`` ...), encoded ``chunk`` at a
        time with :meth:`encode_many` as they arrive."""
        n = 0
        for part in batched(records, chunk):
            yield from self.encode_many(part, [f"{name}:{i}" for i in range(n, n + len(part))])
            n += len(part)

    def encode_many(self, records: Sequence[dict], keys: Sequence[str]) -> list[Example | None]:
        """:meth:`encode` for a list of records, with one tokenizer call for all their text pieces (the
        same ids as piece-by-piece calls; a fast tokenizer spreads the batch over threads)."""
        eos = [self.tokenizer.eos_token_id]
        plans = []
        texts: dict[str, None] = {}
        for record, key in zip(records, keys, strict=True):
            task = record["task"]
            graph = self._graph(record) if record.get("node_kind") else None
            slots = self.num_graph_tokens(graph.num_nodes) if graph is not None else 0
            if task == "graph2code" and not record.get("question"):
                prompt: list[Part] = [[self.graph_token_id] * slots]  # stage 1: graph tokens, then code
            else:
                prompt = self._prompt(record["question"], slots, key)
            if task == "dpo":
                seqs = [prompt, [record["chosen"], eos], [record["rejected"], eos]]
            else:
                seqs = [prompt, [record["answer"], eos]]
            texts.update((p, None) for seq in seqs for p in seq if isinstance(p, str) and p)
            plans.append((task, graph, seqs, record.get("ref")))
        pieces = list(texts)
        encoded = self.tokenizer(pieces, add_special_tokens=False)["input_ids"] if pieces else []
        ids = dict(zip(pieces, encoded, strict=True))

        def join(seq: list[Part]) -> list[int]:
            out: list[int] = []
            for p in seq:
                out += ids.get(p, []) if isinstance(p, str) else p
            return out

        out: list[Example | None] = []
        for task, graph, seqs, ref in plans:
            prompt_ids = join(seqs[0])
            if task == "dpo":
                ex = Example(
                    np.asarray(prompt_ids, TOKEN_DTYPE),
                    len(prompt_ids),
                    task,
                    graph,
                    np.asarray(join(seqs[1]), TOKEN_DTYPE),
                    np.asarray(join(seqs[2]), TOKEN_DTYPE),
                    ref,
                )
            else:
                ex = Example(
                    np.asarray(prompt_ids + join(seqs[1]), TOKEN_DTYPE), len(prompt_ids), task, graph
                )
            if ex.length > self.max_length or ex.num_targets < 1:
                self.dropped[task] = self.dropped.get(task, 0) + 1
                ex = None
            out.append(ex)
        return out


_GRAPH_KEYS = ("node_kind", "edge_src", "edge_dst", "edge_type")
"""The record columns :func:`_graph` reads."""


def _same(a, b) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return a == b
    return bool(np.array_equal(a, b))


# --- batching -----------------------------------------------------------------------------------


def epoch_batches(
    lengths: Sequence[int], global_batch: int, seed: int, epoch: int, grouping: int = 64
) -> list[list[int]]:
    """Global batches (lists of sample indices) for one epoch; deterministic in (seed, epoch)."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths))
    if grouping > 1:
        lens = np.asarray(lengths)
        group = grouping * global_batch
        order = (
            np.concatenate(
                [
                    g[np.argsort(-lens[g], kind="stable")]
                    for g in np.split(order, range(group, len(order), group))
                ]
            )
            if len(order)
            else order
        )
    n = len(order) // global_batch
    batches = [order[i * global_batch : (i + 1) * global_batch].tolist() for i in range(n)]
    return [batches[i] for i in rng.permutation(n)] if grouping > 1 else batches


def mix_schedule(n_graph: int, n_text: int, seed: int, epoch: int) -> list[tuple[str, int]]:
    """The stream of each micro-batch in one epoch: ``("graph", i)`` / ``("text", j)`` in GALLa's order."""
    rng = random.Random(f"mix:{seed}:{epoch}")
    p_text = n_text / (n_graph + n_text) if n_graph + n_text else 0.0
    out: list[tuple[str, int]] = []
    g = t = 0
    while g < n_graph and t < n_text:
        if rng.random() < p_text:
            out.append(("text", t))
            t += 1
        else:
            out.append(("graph", g))
            g += 1
    out += [("graph", i) for i in range(g, n_graph)] + [("text", j) for j in range(t, n_text)]
    return out


def graph_loss_scale(n_graph: int, n_text: int) -> float:
    """``min(N_text / N_graph, 1)`` when both streams train, else 1 (official ``accelerate_train``)."""
    return min(n_text / n_graph, 1.0) if n_graph and n_text else 1.0


# --- collation ----------------------------------------------------------------------------------


@dataclass
class Batch:
    """A padded micro-batch for one process."""

    input_ids: Tensor
    """(B, T)"""
    attention_mask: Tensor
    """(B, T)"""
    labels: Tensor
    """(B, T), ``IGNORE_INDEX`` on prompt and padding"""
    graphs: list[Data]
    task: str
    ref: Tensor | None = None
    """(P, 2) precomputed reference log-probs (DPO)."""
    num_pairs: int = 0
    """DPO: the first ``num_pairs`` rows are chosen, the next ``num_pairs`` rejected."""

    @property
    def tokens(self) -> int:
        return int(self.attention_mask.sum())

    def to(self, device: torch.device) -> Batch:
        return Batch(
            self.input_ids.to(device),
            self.attention_mask.to(device),
            self.labels.to(device),
            self.graphs,
            self.task,
            None if self.ref is None else self.ref.to(device),
            self.num_pairs,
        )


def batched(items: Iterable, size: int) -> Iterator[list]:
    """Lists of ``size`` consecutive items (the last one shorter)."""
    chunk: list = []
    for x in items:
        chunk.append(x)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def collate(examples: Sequence[Example], pad_id: int) -> Batch:
    """Right-pad a list of examples (DPO: rows ``[chosen...; rejected...]``)."""
    rows: list[tuple[np.ndarray, int]] = []
    if examples[0].chosen is not None:
        for part in ("chosen", "rejected"):
            rows += [(np.concatenate([e.ids, getattr(e, part)]), e.prompt_len) for e in examples]
        graphs = [e.graph for e in examples if e.graph is not None] * 2
    else:
        rows = [(e.ids, e.prompt_len) for e in examples]
        graphs = [e.graph for e in examples if e.graph is not None]
    width = max(len(ids) for ids, _ in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (ids, prompt_len) in enumerate(rows):
        t = torch.as_tensor(ids)
        input_ids[i, : len(t)] = t
        labels[i, prompt_len : len(t)] = t[prompt_len:]
        mask[i, : len(t)] = 1
    ref = None
    if examples[0].chosen is not None and all(e.ref is not None for e in examples):
        ref = torch.tensor([e.ref for e in examples], dtype=torch.float32)
    pairs = len(examples) if examples[0].chosen is not None else 0
    return Batch(input_ids, mask, labels, graphs, examples[0].task, ref, pairs)
