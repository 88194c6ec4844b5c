"""A tiny random-init Llama with a byte-level BPE tokenizer, saved as a local HF directory (no network).

The trainer loads it through ``load_llm`` like any local model, so tests run the real loading path.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

CORPUS = [
    "def add(a, b):\n    return a + b\n",
    "def clamp(x, lo, hi):\n    if x < lo:\n        x = lo\n    elif x > hi:\n        x = hi\n    return x\n",
    "for i in range(10):\n    total += i\nprint(total)\n",
    "<s>human\nSummarize what this Python function does.<s>bot\nReturns the sum of the values.",
    "Is there an edge from identifier `x` to identifier `y` in this syntax tree? Yes, No. parent children",
]


TINY_ENCODER = {"name": "duplex", "hidden_dim": 16, "out_dim": 16, "node_features": "learned", "kind_dim": 8}
"""The official DUPLEX shape scaled down, with learned kind embeddings (no MiniLM)."""


def make_tokenizer() -> PreTrainedTokenizerFast:
    backend = Tokenizer(models.BPE(unk_token=None))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320, special_tokens=["<pad>", "</s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    backend.train_from_iterator(CORPUS * 4, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", eos_token="</s>")


def save_tiny_llm(path: Path, *, hidden: int = 32, layers: int = 2, seed: int = 0) -> Path:
    """Write a seeded 2-layer Llama and its tokenizer to ``path`` (one spare embedding row)."""
    tok = make_tokenizer()
    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=len(tok) + 1,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        bos_token_id=tok.eos_token_id,
        tie_word_embeddings=False,
    )
    LlamaForCausalLM(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path
