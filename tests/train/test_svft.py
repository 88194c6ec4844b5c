"""SVFT: pattern counts (paper's Gemma-2B check), exactness at init, gradients, merge, export and reload."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

from galla.train.svft import (
    SVFT_PATTERNS,
    SVFTLinear,
    apply_svft,
    merge_svft,
    pattern_indices,
    svft_num_params,
    trainable_svft_parameters,
)

LLAMA_LINEARS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
# Gemma-2B per layer, (d_out, d_in): q, k, v, o, gate, up, down (hidden 2048, MLP 16384, MQA K/V 256)
GEMMA_2B = [(2048, 2048), (256, 2048), (256, 2048), (2048, 2048), (16384, 2048), (16384, 2048), (2048, 16384)]


def tiny_llama(seed: int = 0, bias: bool = False) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    cfg = LlamaConfig(
        attention_bias=bias,
        mlp_bias=bias,
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    model = LlamaForCausalLM(cfg).eval()
    with torch.no_grad():  # HF zeroes biases at init; make them count
        for mod in model.modules():
            if isinstance(mod, nn.Linear) and mod.bias is not None:
                mod.bias.normal_(std=0.1)
    return model


def logits(model: nn.Module, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=ids).logits


def randomise_m(model: nn.Module, seed: int = 0) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, SVFTLinear):
                mod.m.copy_(0.1 * torch.randn(mod.m.shape, generator=gen))


IDS = torch.tensor([[3, 7, 11, 20, 5, 9, 40, 63]])


# -- counts and patterns ----------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", SVFT_PATTERNS)
@pytest.mark.parametrize(("n", "d"), [(1, 0), (5, 0), (7, 2), (8, 3), (6, 9)])
def test_count_matches_pattern(pattern: str, n: int, d: int) -> None:
    scores = torch.randn(n, n)
    rows, cols = pattern_indices(n, pattern, d, generator=torch.Generator().manual_seed(0), scores=scores)
    k = svft_num_params(n, n, pattern, d)
    flat = rows * n + cols
    assert rows.dtype == cols.dtype == torch.int64
    assert len(rows) == k and flat.unique().numel() == k and torch.equal(flat, flat.sort().values)
    assert int(rows.max()) < n and int(cols.max()) < n
    if pattern == "plain":
        assert k == n
    elif d >= n:  # clamped: M is full
        assert k == n * n


def test_gemma_2b_counts_from_shapes() -> None:
    def total(pattern: str, d: int) -> int:
        return 18 * sum(svft_num_params(o, i, pattern, d) for o, i in GEMMA_2B)

    assert total("plain", 0) == 193_536
    assert total("plain", 16) == 193_536  # d ignored
    assert total("banded", 16) == total("random", 16) == total("topk", 16) == 6_352_416
    assert len(pattern_indices(2048, "banded", 16)[0]) == 67_312
    assert len(pattern_indices(256, "banded", 16)[0]) == 8_176
    rows, cols = pattern_indices(2048, "random", 16, generator=torch.Generator().manual_seed(0))
    assert (rows * 2048 + cols).unique().numel() == 67_312


def test_banded_is_exactly_the_band() -> None:
    n, d = 9, 2
    rows, cols = pattern_indices(n, "banded", d)
    got = torch.zeros(n, n, dtype=torch.bool)
    got[rows, cols] = True
    i, j = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    assert torch.equal(got, (i - j).abs() <= d)


def test_random_is_unique_and_seeded() -> None:
    def draw(n: int, seed: int) -> torch.Tensor:
        rows, cols = pattern_indices(n, "random", 3, generator=torch.Generator().manual_seed(seed))
        return rows * n + cols

    small = draw(64, 0)
    assert torch.equal(small, draw(64, 0)) and not torch.equal(small, draw(64, 1))
    big = draw(16384, 0)  # sampled in rounds, never an n*n tensor
    assert big.numel() == svft_num_params(16384, 16384, "random", 3) == big.unique().numel()
    assert torch.equal(big, draw(16384, 0)) and not torch.equal(big, draw(16384, 1))
    assert int(big.min()) >= 0 and int(big.max()) < 16384**2


def test_random_differs_per_layer_and_seed() -> None:
    lin = nn.Linear(16, 16)
    a = SVFTLinear.from_linear(lin, "random", 2, seed=0, name="a")
    assert torch.equal(a.cols, SVFTLinear.from_linear(lin, "random", 2, seed=0, name="a").cols)
    assert not torch.equal(a.cols, SVFTLinear.from_linear(lin, "random", 2, seed=0, name="b").cols)
    assert not torch.equal(a.cols, SVFTLinear.from_linear(lin, "random", 2, seed=1, name="a").cols)


def test_topk_picks_largest_abs_scores() -> None:
    n, d = 10, 1
    scores = torch.randn(n, n, generator=torch.Generator().manual_seed(0))
    rows, cols = pattern_indices(n, "topk", d, scores=scores)
    picked = torch.zeros(n, n, dtype=torch.bool)
    picked[rows, cols] = True
    assert scores.abs()[picked].min() > scores.abs()[~picked].max()
    # square layer: scored by U^T V, i.e. |u_i . v_j|
    layer = SVFTLinear.from_linear(nn.Linear(12, 12), "topk", 1)
    align = (layer.U.T @ layer.Vh.T).abs()
    chosen = torch.zeros(12, 12, dtype=torch.bool)
    chosen[layer.rows, layer.cols] = True
    assert align[chosen].min() >= align[~chosen].max()


def test_errors() -> None:
    with pytest.raises(ValueError, match="pattern"):
        svft_num_params(8, 8, "diagonal", 0)
    with pytest.raises(ValueError, match="off_diag"):
        pattern_indices(8, "banded", -1)
    with pytest.raises(ValueError, match="topk"):
        pattern_indices(8, "topk", 1)
    with pytest.raises(ValueError, match="pattern"):
        SVFTLinear.from_linear(nn.Linear(4, 4), "band")
    with pytest.raises(ValueError, match="k"):
        SVFTLinear.empty(4, 4, 17, True, torch.float32, "cpu", "random", 1)
    with pytest.raises(ValueError, match=r"gate_proj.*lm_head.*q_proj"):
        apply_svft(tiny_llama(), ["attn.q_proj", "qproj"])
    with pytest.raises(ValueError, match="pattern"):
        apply_svft(tiny_llama(), ["q_proj"], pattern="nope")


# -- one layer --------------------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", SVFT_PATTERNS)
@pytest.mark.parametrize(("d_out", "d_in"), [(8, 8), (6, 10), (10, 6)])
@pytest.mark.parametrize("bias", [True, False])
def test_layer_equals_linear_at_init_and_merges(pattern: str, d_out: int, d_in: int, bias: bool) -> None:
    torch.manual_seed(0)
    lin = nn.Linear(d_in, d_out, bias=bias)
    layer = SVFTLinear.from_linear(lin, pattern, 2, name="x")
    x = torch.randn(3, 5, d_in)
    assert (layer.in_features, layer.out_features) == (d_in, d_out)
    torch.testing.assert_close(layer(x), lin(x), atol=1e-5, rtol=0)
    randomise_m(layer)
    out = layer(x)
    assert (out - lin(x)).abs().max() > 1e-3  # m moved the layer
    torch.testing.assert_close(out, F.linear(x, layer.merged_weight(), layer.bias), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(layer.to_linear()(x), out, atol=1e-5, rtol=1e-5)


def test_gradients_reach_m_only_and_match_dense() -> None:
    torch.manual_seed(0)
    layer = SVFTLinear.from_linear(nn.Linear(10, 6), "random", 2, name="g")
    randomise_m(layer)
    assert [n for n, p in layer.named_parameters() if p.requires_grad] == ["m"]
    assert {n for n, _ in layer.named_buffers()} == {"U", "S", "Vh", "rows", "cols", "bias"}
    x = torch.randn(4, 10, requires_grad=True)
    layer(x).square().sum().backward()
    assert all(b.grad is None for b in layer.buffers())
    # the same loss through a dense, autograd-built weight
    m = layer.m.detach().clone().requires_grad_(True)
    x2 = x.detach().clone().requires_grad_(True)
    core = torch.diag(layer.S).index_put((layer.rows, layer.cols), m, accumulate=True)
    F.linear(x2, layer.U @ core @ layer.Vh, layer.bias).square().sum().backward()
    torch.testing.assert_close(layer.m.grad, m.grad, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(x.grad, x2.grad, atol=1e-4, rtol=1e-4)


def test_dtypes_follow_the_base_weight() -> None:
    lin = nn.Linear(16, 8).to(torch.bfloat16)
    layer = SVFTLinear.from_linear(lin, "banded", 2)
    assert layer.U.dtype == layer.Vh.dtype == torch.bfloat16
    assert layer.S.dtype == layer.m.dtype == torch.float32 and layer.rows.dtype == torch.int64
    x = torch.randn(2, 16, dtype=torch.bfloat16)
    out = layer(x)
    assert out.dtype == torch.bfloat16 and layer.merged_weight().dtype == torch.bfloat16
    torch.testing.assert_close(out, lin(x), atol=0.05, rtol=0.05)
    assert "pattern='banded'" in repr(layer) and "k=" in repr(layer)
    fp32 = SVFTLinear.from_linear(nn.Linear(16, 8), "banded", 2)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # fp32 input, bf16 matmuls
        out = fp32(torch.randn(2, 16))
    out.float().sum().backward()
    assert out.dtype == torch.bfloat16 and fp32.m.grad.dtype == torch.float32


# -- a tiny Llama -----------------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", SVFT_PATTERNS)
@pytest.mark.parametrize("bias", [False, True])
def test_llama_unchanged_at_init_and_counts(pattern: str, bias: bool) -> None:
    model = tiny_llama(bias=bias)
    base = logits(model, IDS)
    model.requires_grad_(False)
    names = apply_svft(model, LLAMA_LINEARS, pattern=pattern, off_diag=2)
    assert len(names) == 14 and names == sorted(names)
    assert not any(isinstance(m, nn.Linear) for n, m in model.named_modules() if n in names)
    torch.testing.assert_close(logits(model, IDS), base, atol=1e-4, rtol=0)
    shapes = [(model.get_submodule(n).out_features, model.get_submodule(n).in_features) for n in names]
    expected = sum(svft_num_params(d_out, d_in, pattern, 2) for d_out, d_in in shapes)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable == trainable_svft_parameters(model) == expected


def test_target_suffix_matching() -> None:
    model = tiny_llama()
    names = apply_svft(model, ["self_attn.q_proj", "down_proj"], pattern="plain", off_diag=0)
    assert names == [
        f"model.layers.{i}.{leaf}" for i in range(2) for leaf in ("mlp.down_proj", "self_attn.q_proj")
    ]


def test_merge_and_export_roundtrip(tmp_path) -> None:
    model = tiny_llama()
    base = logits(model, IDS)
    apply_svft(model, LLAMA_LINEARS, pattern="banded", off_diag=2)
    randomise_m(model)
    tuned = logits(model, IDS)
    assert (tuned - base).abs().max() > 1e-3
    assert merge_svft(model) == 14 and trainable_svft_parameters(model) == 0
    merged = logits(model, IDS)
    torch.testing.assert_close(merged, tuned, atol=1e-4, rtol=1e-4)
    model.save_pretrained(tmp_path)
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    torch.testing.assert_close(logits(reloaded, IDS), merged, atol=1e-5, rtol=0)


def test_state_dict_roundtrip_without_svd(monkeypatch: pytest.MonkeyPatch) -> None:
    model = tiny_llama(seed=0, bias=True)
    apply_svft(model, LLAMA_LINEARS, pattern="random", off_diag=2, seed=3)
    randomise_m(model)
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    want = logits(model, IDS)

    def no_svd(*args: object, **kwargs: object) -> None:
        raise AssertionError("SVD recomputed at load time")

    monkeypatch.setattr(torch.linalg, "svd", no_svd)
    fresh = tiny_llama(seed=1, bias=True)  # different base weights: everything must come from the checkpoint
    apply_svft(fresh, LLAMA_LINEARS, pattern="random", off_diag=2, seed=99, init=False)
    assert torch.equal(
        fresh.model.layers[0].self_attn.q_proj.bias, tiny_llama(1, True).model.layers[0].self_attn.q_proj.bias
    )
    fresh.load_state_dict(saved)
    for name, mod in fresh.named_modules():
        if isinstance(mod, SVFTLinear):
            assert set(mod.state_dict()) == {"m"} | {b for b, _ in mod.named_buffers()}
            for key in ("U", "S", "Vh", "rows", "cols", "m", "bias"):
                assert torch.equal(getattr(mod, key), saved[f"{name}.{key}"])
    assert torch.equal(logits(fresh, IDS), want)
