"""Encoding layouts, batching and GALLa's stream mixing."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from tiny import make_tokenizer

from galla.constants import IGNORE_INDEX
from galla.train.data import BOT, HUMAN, Encoder, collate, epoch_batches, graph_loss_scale, mix_schedule

GRAPH_ID = 400
GRAPH = {"node_kind": [1, 2, 3], "edge_src": [0, 0], "edge_dst": [1, 2], "edge_type": [0, 0]}


@pytest.fixture
def enc() -> Encoder:
    return Encoder(make_tokenizer(), GRAPH_ID, lambda n: 4, max_length=128, template="galla", seed=0)


def _text(enc, ids):
    return enc.tokenizer.decode([i for i in ids if i != GRAPH_ID])


def test_stage1_graph2code_is_graph_tokens_then_code(enc):
    ex = enc.encode({"task": "graph2code", "question": "", "answer": "def f(): pass", **GRAPH}, "g:0")
    assert ex.ids[:4].tolist() == [GRAPH_ID] * 4 and ex.prompt_len == 4
    assert ex.ids[-1] == enc.tokenizer.eos_token_id
    assert _text(enc, ex.ids[4:-1]) == "def f(): pass"
    assert ex.graph.num_nodes == 3


def test_graph_question_layout_and_seeded_placement(enc):
    rec = {"task": "graph_qa", "question": "Is there an edge?", "answer": "Yes.", **GRAPH}
    placements = Counter()
    human = len(enc.tokenizer(HUMAN, add_special_tokens=False)["input_ids"])
    for i in range(40):
        ex = enc.encode(rec, f"g:{i}")
        ids = ex.ids.tolist()
        assert ids.count(GRAPH_ID) == 4
        prompt = enc.tokenizer.decode(ids[: ex.prompt_len])
        assert prompt.startswith(HUMAN) and prompt.endswith(BOT)
        assert _text(enc, ids[ex.prompt_len :]) == "Yes." + enc.tokenizer.eos_token
        placements[ids.index(GRAPH_ID) < human + 1] += 1
        assert enc.encode(rec, f"g:{i}").ids.tolist() == ids  # same key, same draw
    assert placements[True] > 5 and placements[False] > 5  # both orders occur (p = 1/2 each)


def test_too_long_is_dropped_and_counted(enc):
    assert enc.encode({"task": "sft", "question": "x " * 200, "answer": "y", "node_kind": []}, "t:0") is None
    assert enc.dropped == {"sft": 1}


def test_collate_masks_prompt_and_padding(enc):
    a = enc.encode({"task": "sft", "question": "add", "answer": "a + b", "node_kind": []}, "t:0")
    b = enc.encode(
        {"task": "sft", "question": "add two numbers please", "answer": "x", "node_kind": []}, "t:1"
    )
    batch = collate([a, b], pad_id=0)
    assert a.ids.dtype == np.int32 and batch.input_ids.dtype == batch.labels.dtype == torch.long
    assert batch.input_ids.shape[1] == max(len(a.ids), len(b.ids))
    for row, ex in enumerate((a, b)):
        labels = batch.labels[row]
        assert (labels[: ex.prompt_len] == IGNORE_INDEX).all()
        assert labels[ex.prompt_len : len(ex.ids)].tolist() == ex.ids[ex.prompt_len :].tolist()
        assert (labels[len(ex.ids) :] == IGNORE_INDEX).all()
    assert batch.tokens == len(a.ids) + len(b.ids)


def test_dpo_rows_are_chosen_then_rejected(enc):
    rec = {"task": "dpo", "question": "q", "chosen": "good", "rejected": "bad answer", "node_kind": []}
    ex = [enc.encode(rec, "p:0"), enc.encode(rec, "p:1")]
    batch = collate(ex, pad_id=0)
    assert batch.num_pairs == 2 and batch.input_ids.shape[0] == 4
    assert _text(enc, batch.input_ids[0][batch.labels[0] != IGNORE_INDEX].tolist()).startswith("good")
    assert _text(enc, batch.input_ids[2][batch.labels[2] != IGNORE_INDEX].tolist()).startswith("bad answer")


def test_epoch_batches_deterministic_grouped_and_drop_last():
    lengths = list(np.random.default_rng(0).integers(5, 500, 103))
    a = epoch_batches(lengths, 4, seed=1, epoch=0, grouping=8)
    assert a == epoch_batches(lengths, 4, seed=1, epoch=0, grouping=8)
    assert a != epoch_batches(lengths, 4, seed=1, epoch=1, grouping=8)
    assert len(a) == 103 // 4 and all(len(b) == 4 for b in a)
    flat = [i for b in a for i in b]
    assert len(set(flat)) == len(flat)
    waste = sum(max(lengths[i] for i in b) * 4 - sum(lengths[i] for i in b) for b in a)
    plain = epoch_batches(lengths, 4, seed=1, epoch=0, grouping=1)
    waste_plain = sum(max(lengths[i] for i in b) * 4 - sum(lengths[i] for i in b) for b in plain)
    assert waste < waste_plain / 2  # grouping by length cuts padding


def test_mix_schedule_is_galla_rule():
    order = mix_schedule(30, 10, seed=0, epoch=0)
    assert Counter(k for k, _ in order) == {"graph": 30, "text": 10}
    assert [i for k, i in order if k == "graph"] == list(range(30))  # each stream keeps its order
    first_half = Counter(k for k, _ in order[:20])
    assert 1 <= first_half["text"] <= 9  # interleaved in proportion, not one stream after the other
    assert graph_loss_scale(30, 10) == pytest.approx(1 / 3)
    assert graph_loss_scale(10, 30) == 1.0 and graph_loss_scale(10, 0) == 1.0


def test_consecutive_records_of_one_graph_share_its_tensors(enc):
    rec = {"task": "graph_qa", "question": "Q?", "answer": "yes", **GRAPH}
    a, b = enc.encode(rec, "g:0"), enc.encode({**rec, "answer": "no"}, "g:1")
    assert a.graph is b.graph
    other = {**rec, "edge_dst": [2, 1]}  # same shape, different edges: a graph of its own
    c = enc.encode(other, "g:2")
    assert c.graph is not b.graph and c.graph.edge_index.tolist() == [[0, 0], [2, 1]]
    assert b.graph.edge_index.tolist() == [[0, 0], [1, 2]]


@pytest.mark.parametrize("template", ["galla", "chat"])
def test_encode_many_equals_one_at_a_time(template):
    records = [
        {"task": "graph2code", "question": "", "answer": "def f(): pass", **GRAPH},
        {"task": "graph_qa", "question": "Is there an edge?", "answer": "Yes.", **GRAPH},
        {"task": "sft", "question": "add", "answer": "a + b", "node_kind": []},
        {"task": "sft", "question": "long " * 100, "answer": "dropped", "node_kind": []},
        {"task": "dpo", "question": "clamp", "chosen": "min(max(x, a), b)", "rejected": "x", "node_kind": []},
    ]
    keys = [f"k:{i}" for i in range(len(records))]

    def make():
        tok = make_tokenizer()
        tok.chat_template = (
            "{% for m in messages %}user: {{ m['content'] }}\n{% endfor %}"
            "{% if add_generation_prompt %}assistant: {% endif %}"
        )
        return Encoder(tok, GRAPH_ID, lambda n: 4, max_length=64, template=template, seed=3)

    one, many = make(), make()
    singles = [one.encode(r, k) for r, k in zip(records, keys, strict=True)]
    batch = many.encode_many(records, keys)
    assert [e is None for e in batch] == [e is None for e in singles] == [False, False, False, True, False]
    for a, b in zip(singles, batch, strict=True):
        if a is not None:
            assert a.ids.tolist() == b.ids.tolist() and a.prompt_len == b.prompt_len and a.task == b.task
            for part in ("chosen", "rejected"):
                pa, pb = getattr(a, part), getattr(b, part)
                assert (pa is None and pb is None) or pa.tolist() == pb.tolist()
    assert one.dropped == many.dropped == {"sft": 1}
