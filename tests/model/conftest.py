"""Fixtures: small code graphs and seeded GraphLLMs around tiny random-init LLMs (no network)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from tiny_models import CODE, WORDS, make_llm, make_tokenizer, tiny_config

from galla.model import GraphLLM
from parsers import CodeGraph, extract_file


@pytest.fixture
def graphs() -> list[CodeGraph]:
    """Two functions of different sizes."""
    out = extract_file(CODE, "python").graphs
    assert len(out) == 2 and out[0].num_nodes != out[1].num_nodes
    return out


@pytest.fixture
def build() -> Callable[..., GraphLLM]:
    """``build(arch="llama", **config_overrides)``: a seeded GraphLLM around a tiny LLM, in eval mode."""

    def _build(arch: str = "llama", vocab_size: int = len(WORDS), **overrides: object) -> GraphLLM:
        llm = make_llm(arch, vocab_size)
        torch.manual_seed(1)
        return GraphLLM.from_llm(llm, make_tokenizer(), tiny_config(**overrides)).eval()

    return _build
