"""Tiny random-init LLMs built from a config, a word-level tokenizer and prompts with graph placeholders."""

from __future__ import annotations

import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen2ForCausalLM,
)

from galla.config import AdapterConfig, EncoderConfig, ModelConfig
from galla.model import GraphLLM
from parsers import CodeGraph

WORDS = ["<unk>", "<pad>", "</s>"] + [f"w{i}" for i in range(61)]
CODE = """\
def add(a, b):
    return a + b

def clamp(x, lo, hi):
    if x < lo:
        x = lo
    elif x > hi:
        x = hi
    return x
"""
D_MODEL = 32


def make_tokenizer() -> PreTrainedTokenizerFast:
    """64 whitespace-separated words; the graph token is added by GraphLLM."""
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    specials = {"unk_token": "<unk>", "pad_token": "<pad>", "eos_token": "</s>"}
    return PreTrainedTokenizerFast(tokenizer_object=backend, **specials)


def make_llm(arch: str = "llama", vocab_size: int = len(WORDS)) -> PreTrainedModel:
    """A 2-layer, 32-wide causal LM of the given family, seeded."""
    torch.manual_seed(0)
    ids = {"pad_token_id": 1, "eos_token_id": 2, "bos_token_id": 2}
    if arch == "gpt2":
        cfg = GPT2Config(vocab_size=vocab_size, n_embd=D_MODEL, n_layer=2, n_head=4, n_positions=128, **ids)
        return GPT2LMHeadModel(cfg).eval()
    kwargs = dict(
        vocab_size=vocab_size,
        hidden_size=D_MODEL,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        **ids,
    )
    if arch == "qwen2":
        return Qwen2ForCausalLM(Qwen2Config(**kwargs)).eval()
    return LlamaForCausalLM(LlamaConfig(**kwargs)).eval()


def tiny_config(**overrides: object) -> ModelConfig:
    """Official shapes scaled down: duplex 8 -> 16 -> 16, 4 graph tokens, learned kind embeddings."""
    encoder = EncoderConfig(name="duplex", hidden_dim=16, out_dim=16, node_features="learned", kind_dim=8)
    adapter = AdapterConfig(name="cross_attention", num_tokens=4, num_heads=4)
    return ModelConfig(**{"llm": "tiny", "encoder": encoder, "adapter": adapter, **overrides})


def prompt_ids(model: GraphLLM, *parts: str | CodeGraph) -> torch.Tensor:
    """``(1, T)`` ids of a prompt whose graph parts become placeholder spans."""
    text = " ".join(p if isinstance(p, str) else model.graph_placeholder(p.num_nodes) for p in parts)
    return model.tokenizer(text, return_tensors="pt").input_ids
