"""GraphLLM: the splice, mixed batches, trainability flags, architectures, checkpoints and export."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny_models import prompt_ids
from transformers import AutoModelForCausalLM

from galla.config import AdapterConfig, EncoderConfig
from galla.constants import IGNORE_INDEX
from galla.model import GraphLLM, splice_graph_tokens

G = 99  # graph token id in the pure-function tests


def test_splice_writes_graph_tokens_and_ignores_their_labels():
    ids = torch.tensor(
        [
            [5, G, G, 6, 7, 0],  # graph 0: 2 tokens
            [5, 6, 7, 8, 9, 0],  # text only
            [G, G, G, 6, 7, 8],  # graph 1: 3 tokens
        ]
    )
    embeds = torch.randn(3, 6, 4)
    labels = ids.clone()
    tokens = torch.randn(2, 3, 4)
    valid = torch.tensor([[True, True, False], [True, True, True]])
    out, out_labels = splice_graph_tokens(embeds, ids, G, tokens, valid, labels)
    slots = ids == G
    assert torch.equal(out[0, 1:3], tokens[0, :2]) and torch.equal(out[2, 0:3], tokens[1])
    assert torch.equal(out[~slots], embeds[~slots])  # everything else untouched
    assert torch.equal(out_labels[slots], torch.full((5,), IGNORE_INDEX))
    assert torch.equal(out_labels[~slots], labels[~slots])
    assert torch.equal(labels, ids)  # inputs are not modified in place


def test_splice_rejects_mismatched_graphs():
    ids = torch.tensor([[5, G, G, 6]])
    embeds = torch.randn(1, 4, 4)
    with pytest.raises(ValueError, match="1 samples hold graph placeholders but 0 graphs"):
        splice_graph_tokens(embeds, ids, G, None, None)
    with pytest.raises(ValueError, match=r"placeholders per sample \[2\] != graph tokens per graph \[3\]"):
        splice_graph_tokens(embeds, ids, G, torch.randn(1, 3, 4), torch.ones(1, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="0 samples hold graph placeholders but 1 graphs"):
        splice_graph_tokens(
            embeds, torch.tensor([[5, 6, 7, 8]]), G, torch.randn(1, 2, 4), torch.ones(1, 2).bool()
        )


def test_forward_feeds_the_adapter_output_to_the_llm(build, graphs):
    """Mixed node counts (MLP adapter: one token per node) and a text-only sample in one batch."""
    model = build(adapter=AdapterConfig(name="mlp", num_tokens=64))
    a, b = (prompt_ids(model, g, "w1 w2") for g in graphs)
    text = model.tokenizer("w3 w4 w5", return_tensors="pt").input_ids
    width = max(a.shape[1], b.shape[1])
    pad = lambda x: torch.nn.functional.pad(x, (0, width - x.shape[1]), value=1)  # noqa: E731
    ids = torch.cat([pad(a), pad(text), pad(b)])  # (3, T)
    mask = (ids != 1).long()
    labels = ids.masked_fill(mask == 0, IGNORE_INDEX)

    seen = {}
    model.llm.register_forward_pre_hook(lambda m, args, kw: seen.update(kw), with_kwargs=True)
    out = model(ids, attention_mask=mask, labels=labels, graphs=graphs)
    tokens, valid = model.encode_graphs(graphs)
    assert valid.sum(1).tolist() == [g.num_nodes for g in graphs]
    slots = ids == model.graph_token_id
    assert torch.allclose(seen["inputs_embeds"][slots], tokens[valid])
    text_embeds = model.llm.get_input_embeddings()(ids)
    assert torch.equal(seen["inputs_embeds"][~slots], text_embeds[~slots])
    assert (seen["labels"][slots] == IGNORE_INDEX).all()
    reference = model.llm(inputs_embeds=seen["inputs_embeds"], attention_mask=mask, labels=seen["labels"])
    assert torch.allclose(out.loss, reference.loss)


def test_text_only_batches_skip_the_encoder(build):
    model = build()
    calls = []
    model.encoder.register_forward_hook(lambda *a: calls.append(1))
    ids = model.tokenizer("w3 w4 w5", return_tensors="pt").input_ids
    for graphs in (None, []):
        assert torch.equal(model(ids, graphs=graphs).logits, model.llm(ids).logits)
    assert calls == []
    with pytest.raises(ValueError, match="1 samples hold graph placeholders but 0 graphs"):
        model(torch.tensor([[model.graph_token_id, 4]]))


@pytest.mark.parametrize(
    ("llm", "encoder", "adapter"),
    [(False, True, True), (True, True, True), (True, False, True), (False, False, True)],
)
def test_gradients_reach_exactly_the_trainable_parts(build, graphs, llm, encoder, adapter):
    model = build(llm_trainable=llm, encoder_trainable=encoder, adapter_trainable=adapter).train()
    ids = prompt_ids(model, graphs[0], "w1 w2 w3")
    model(ids, labels=ids, graphs=graphs[:1]).loss.backward()
    for part, flag in (("llm", llm), ("encoder", encoder), ("adapter", adapter)):
        params = list(getattr(model, part).parameters())
        assert all(p.requires_grad is flag for p in params), part
        assert all((p.grad is not None) is flag for p in params), part
        if flag:
            assert any(p.grad.abs().sum() > 0 for p in params), part


@pytest.mark.parametrize("arch", ["llama", "qwen2", "gpt2"])
def test_export_round_trip_across_architectures(build, graphs, arch, tmp_path):
    model = build(
        arch, encoder=EncoderConfig(name="rgcn", hidden_dim=16, out_dim=16, node_features="learned")
    )
    ids = prompt_ids(model, graphs[1], "w7 w8")
    out = model(ids, labels=ids, graphs=graphs[1:])
    assert torch.isfinite(out.loss)
    out.loss.backward()

    text = model.tokenizer("w1 w2 w3 w4", return_tensors="pt").input_ids
    exported = AutoModelForCausalLM.from_pretrained(model.export(tmp_path / "plain")).eval()
    assert type(exported) is type(model.llm)
    assert torch.allclose(exported(text).logits, model(text).logits, atol=1e-6)


def test_save_and_load_restore_the_whole_model(build, graphs, tmp_path):
    """A frozen kind table from a file: the checkpoint carries it, so loading needs neither the file
    nor a text model."""
    table = tmp_path / "kinds.npy"
    np.save(table, np.random.default_rng(0).normal(size=(1100, 8)).astype("float32"))
    encoder = EncoderConfig(
        hidden_dim=16, out_dim=16, kind_dim=8, node_features="table", kind_table=str(table)
    )
    model = build(llm_trainable=False, encoder=encoder)
    ids = prompt_ids(model, graphs[0], "w1")
    model.save_pretrained(tmp_path / "ckpt")
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == [
        "adapter.safetensors",
        "encoder.safetensors",
        "galla_config.json",
        "llm",
    ]
    table.unlink()
    loaded = GraphLLM.from_pretrained(tmp_path / "ckpt").eval()
    assert torch.equal(loaded(ids, graphs=graphs[:1]).logits, model(ids, graphs=graphs[:1]).logits)
    assert (loaded.llm_trainable, loaded.encoder_trainable) == (False, True)
    assert torch.equal(loaded.encoder.features.table, model.encoder.features.table)


def test_generation_is_conditioned_on_the_graph(build, graphs):
    model = build()
    ids = prompt_ids(model, graphs[0], "w1 w2")
    new = model.generate(ids, graphs=graphs[:1], max_new_tokens=4, do_sample=False)
    assert new.shape == (1, 4)
    assert int(new[0, 0]) == int(model(ids, graphs=graphs[:1]).logits[0, -1].argmax())
    other = model.generate(ids, graphs=graphs[1:], max_new_tokens=4, do_sample=False)
    logits = [model(ids, graphs=[g]).logits[0, -1] for g in graphs]
    assert not torch.allclose(*logits) and other.shape == (1, 4)


def test_gradient_checkpointing_and_bf16(build, graphs):
    model = build(llm_trainable=False, gradient_checkpointing=True).train()
    plain = build(llm_trainable=False).train()
    ids = prompt_ids(model, graphs[0], "w1 w2")
    torch.manual_seed(0)
    loss = model(ids, labels=ids, graphs=graphs[:1]).loss
    torch.manual_seed(0)
    assert torch.allclose(loss, plain(ids, labels=ids, graphs=graphs[:1]).loss)
    loss.backward()
    assert all(p.grad is not None for p in model.encoder.parameters())

    model.llm.to(torch.bfloat16)
    out = model(ids, labels=ids, graphs=graphs[:1])
    assert out.logits.dtype == torch.bfloat16 and torch.isfinite(out.loss)
