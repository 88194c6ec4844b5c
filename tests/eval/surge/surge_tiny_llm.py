"""A tiny random-init Llama with a byte-level BPE tokenizer and a chat template, saved as a local HF dir.

Byte-level BPE encodes any text (SURGE questions included); the Jinja template below renders
``<|role|>\\ncontent</s>\\n`` per message and ``<|assistant|>\\n`` as the generation prompt.
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}</s>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
CORPUS = [
    "Given the following code, what is the execution result? Output: <execution result>",
    "def add(a, b):\n    return a + b\nprint(add(1, 2))\n",
    "#include <iostream>\nint main() { std::cout << 42 << std::endl; return 0; }\n",
    "<|system|>\n<|user|>\n<|assistant|>\nThought: step by step. Output:\n```\n3\n```",
]


def make_tokenizer(chat_template: str | None = CHAT_TEMPLATE) -> PreTrainedTokenizerFast:
    backend = Tokenizer(models.BPE(unk_token=None))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<pad>", "</s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    backend.train_from_iterator(CORPUS * 4, trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", eos_token="</s>")
    tok.chat_template = chat_template
    return tok


def save_tiny_chat_llm(
    path: Path, *, context: int = 2048, seed: int = 0, chat_template: str | None = CHAT_TEMPLATE
) -> Path:
    """Write a seeded 2-layer, 32-wide Llama (context ``context`` tokens) and its tokenizer to ``path``."""
    tok = make_tokenizer(chat_template)
    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=context,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        bos_token_id=tok.eos_token_id,
    )
    LlamaForCausalLM(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return path
