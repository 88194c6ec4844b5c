r"""SVFT: fine-tuning a sparse matrix of singular-vector coefficients (Lingam et al., NeurIPS 2024).

For a frozen linear weight :math:`W_0 = U \Sigma V^\top` (thin SVD, fp32), SVFT trains only the ``k`` entries
of a sparse :math:`M` whose pattern is fixed before training:

.. math::
    y = U (\Sigma + M) V^\top x + b

Paper: arXiv 2405.19597. peft has no SVFT, so it is a module replacement of our own: :func:`apply_svft`
swaps ``nn.Linear`` layers for :class:`SVFTLinear`, :func:`merge_svft` folds them back for export.

Choices that differ from the reference code (``VijayLingam95/SVFT``) or that the paper leaves open:

- **M starts at zero and there is no gate.** The reference draws M with kaiming noise and scales it by a
  trainable ``sigmoid(gate)`` (0.5 at step 0), so its step-0 model already differs from the base; here the
  step-0 model equals the base model up to SVD round-off.
- **W0 is dropped**, as in the reference: the layer holds U, Σ, Vᵀ (buffers) and m (the only parameter).
  U and Vᵀ are stored in the base weight's dtype, Σ and m in fp32. All of them are *persistent* buffers:
  singular vectors are unique only up to sign (and rotation), so they are saved with the checkpoint and
  never recomputed at load time (``apply_svft(init=False)`` builds empty structures to load into).
- **random** draws k entries *without* duplicates (the reference's ``torch.randint`` can repeat), from a
  generator seeded by ``seed`` and the module name, so layers differ and runs are reproducible.
- **topk** keeps the k largest :math:`|u_i^\top v_j|`, scored by :math:`U^\top V` for square weights (the
  reference scores :math:`U V_h^\top` and takes *signed* values). For non-square weights :math:`u_i` and
  :math:`v_j` live in different spaces; like the reference we then score the square factor (U when
  ``d_out == n``, else Vᵀ), with absolute values.
- The bias, like U, Σ and Vᵀ, is a persistent buffer: ``m`` is the layer's only parameter, and a checkpoint
  of "trainable parameters plus buffers" is complete.
- The forward never builds the dense weight: ``x -> x V (n) -> (Σ + M) -> U``, three GEMMs; ``Σ + M`` is
  scattered into a dense ``(n, n)`` matrix each step (no ``torch_sparse``), so the sparse pattern costs
  no per-token gather.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

SVFT_PATTERNS = ("plain", "banded", "random", "topk")
_RANDPERM_MAX = 1 << 22  # random: above this many cells of M, sample in rounds instead of randperm(n*n)
_PROGRESS_MIN = 20  # apply_svft shows a progress bar from this many layers on


def _check(pattern: str, off_diag: int) -> None:
    if pattern not in SVFT_PATTERNS:
        raise ValueError(f"SVFT pattern: unknown {pattern!r}; choose one of {', '.join(SVFT_PATTERNS)}")
    if off_diag < 0:
        raise ValueError(f"SVFT off_diag: must be >= 0, got {off_diag}")


def _band(n: int, pattern: str, off_diag: int) -> int:
    """The effective number of off-diagonals: 0 for plain, at most ``n - 1``."""
    return 0 if pattern == "plain" else min(off_diag, n - 1)


def svft_num_params(d_out: int, d_in: int, pattern: str, off_diag: int) -> int:
    """Trainable entries of M for a ``d_out x d_in`` weight: ``n`` (plain), else ``n(2d+1) - d(d+1)``.

    ``n = min(d_out, d_in)`` and ``d`` is clamped to ``n - 1`` (then M is full, ``k = n²``).
    """
    _check(pattern, off_diag)
    n = min(d_out, d_in)
    d = _band(n, pattern, off_diag)
    return n * (2 * d + 1) - d * (d + 1)


def pattern_indices(
    n: int,
    pattern: str,
    off_diag: int,
    *,
    generator: torch.Generator | None = None,
    scores: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """The fixed sparsity pattern of an ``n x n`` M: unique ``(rows, cols)``, int64, sorted row-major.

    Args:
        n (int): size of M, ``min(d_out, d_in)``.
        pattern (str): one of :data:`SVFT_PATTERNS`.
        off_diag (int): off-diagonals ``d`` on each side (banded) or the same budget (random, topk).
        generator (torch.Generator, optional): CPU generator for ``random`` (default: the global RNG).
        scores (Tensor, optional): ``(n, n)`` alignment scores, required for ``topk``.

    Shapes:
        - **output:** rows :math:`(k)`, cols :math:`(k)` with ``k = svft_num_params(n, n, pattern, off_diag)``
    """
    k = svft_num_params(n, n, pattern, off_diag)
    d = _band(n, pattern, off_diag)
    if pattern in ("plain", "banded"):
        rows = torch.arange(n).repeat_interleave(2 * d + 1)  # (n (2d+1),)
        cols = rows + torch.arange(-d, d + 1).repeat(n)
        keep = (cols >= 0) & (cols < n)
        return rows[keep], cols[keep]
    total = n * n
    if pattern == "random":
        if total <= _RANDPERM_MAX or 2 * k > total:
            flat = torch.randperm(total, generator=generator)[:k]
        else:  # never allocates n*n: draw with replacement until k distinct, then a uniform k-subset
            flat = torch.empty(0, dtype=torch.int64)
            while flat.numel() < k:
                draw = torch.randint(total, (k - flat.numel() + k // 16 + 16,), generator=generator)
                flat = torch.cat([flat, draw]).unique()
            flat = flat[torch.randperm(flat.numel(), generator=generator)[:k]]
    else:  # topk
        if scores is None or tuple(scores.shape) != (n, n):
            got = None if scores is None else tuple(scores.shape)
            raise ValueError(f"SVFT pattern 'topk': needs scores of shape {(n, n)}, got {got}")
        flat = scores.detach().abs().flatten().topk(k).indices.cpu()
    flat = flat.sort().values
    return flat // n, flat % n


def _layer_seed(seed: int, name: str) -> int:
    return (seed * 1_000_003 + zlib.crc32(name.encode())) % (1 << 63)


class SVFTLinear(nn.Module):
    r"""A linear layer re-parameterised as :math:`y = U (\Sigma + M) V_h x + b` with a sparse trainable M.

    Build it with :meth:`from_linear` (does the SVD) or :meth:`empty` (zeros, to load a checkpoint into).

    Args:
        U (Tensor): left singular vectors, ``(d_out, n)``.
        S (Tensor): singular values, ``(n,)``; kept in fp32.
        Vh (Tensor): right singular vectors, transposed, ``(n, d_in)``.
        rows, cols (Tensor): the pattern of M, int64, ``(k,)`` each.
        bias (Tensor, optional): ``(d_out,)``, kept as a (frozen) buffer.
        pattern (str), off_diag (int): how the pattern was chosen (recorded for ``repr``).

    Shapes:
        - **input:** :math:`(*, d_{in})`
        - **output:** :math:`(*, d_{out})`
    """

    def __init__(
        self,
        U: Tensor,
        S: Tensor,
        Vh: Tensor,
        rows: Tensor,
        cols: Tensor,
        bias: Tensor | None = None,
        pattern: str = "banded",
        off_diag: int = 16,
    ) -> None:
        super().__init__()
        self.out_features, self.in_features = U.shape[0], Vh.shape[1]
        self.pattern, self.off_diag = pattern, off_diag
        self.register_buffer("U", U)  # (d_out, n)
        self.register_buffer("S", S.float())  # (n,)
        self.register_buffer("Vh", Vh)  # (n, d_in)
        self.register_buffer("rows", rows.long())  # (k,)
        self.register_buffer("cols", cols.long())  # (k,)
        self.m = nn.Parameter(torch.zeros(rows.numel(), dtype=torch.float32, device=S.device))
        self.register_buffer("bias", bias)  # (d_out,) or None

    @classmethod
    def from_linear(
        cls, linear: nn.Linear, pattern: str = "banded", off_diag: int = 16, seed: int = 0, name: str = ""
    ) -> SVFTLinear:
        """SVD of ``linear.weight`` in fp32 on its device; ``seed`` and ``name`` seed the random pattern."""
        _check(pattern, off_diag)
        weight = linear.weight.detach()
        U, S, Vh = torch.linalg.svd(weight.float(), full_matrices=False)
        n = S.numel()
        generator = torch.Generator().manual_seed(_layer_seed(seed, name)) if pattern == "random" else None
        scores = None
        if pattern == "topk":  # u_i . v_j when square, else the square factor (as the reference)
            scores = U.T @ Vh.T if U.shape == Vh.T.shape else (U if U.shape[0] == n else Vh)
        rows, cols = pattern_indices(n, pattern, off_diag, generator=generator, scores=scores)
        bias = None if linear.bias is None else linear.bias.detach().clone()
        dev = weight.device
        return cls(
            U.to(weight.dtype), S, Vh.to(weight.dtype), rows.to(dev), cols.to(dev), bias, pattern, off_diag
        )

    @classmethod
    def empty(
        cls,
        d_in: int,
        d_out: int,
        k: int,
        bias: bool,
        dtype: torch.dtype,
        device: torch.device | str | None,
        pattern: str,
        off_diag: int,
    ) -> SVFTLinear:
        """Zeros of the right shapes; ``load_state_dict`` then fills U, S, Vh, rows, cols, m (and bias)."""
        _check(pattern, off_diag)
        n = min(d_in, d_out)
        if not 0 < k <= n * n:
            raise ValueError(f"SVFT k: must be in [1, {n * n}] for a {d_out}x{d_in} weight, got {k}")
        zeros = dict(dtype=dtype, device=device)
        idx = torch.zeros(k, dtype=torch.int64, device=device)
        return cls(
            torch.zeros(d_out, n, **zeros),
            torch.zeros(n, dtype=torch.float32, device=device),
            torch.zeros(n, d_in, **zeros),
            idx,
            idx.clone(),
            torch.zeros(d_out, **zeros) if bias else None,
            pattern,
            off_diag,
        )

    def forward(self, x: Tensor) -> Tensor:
        h = F.linear(x, self.Vh.to(x.dtype))  # (*, n); under autocast h.dtype may differ from x.dtype
        z = F.linear(h, self.core().to(h.dtype))  # (*, n): (Σ + M) h
        bias = None if self.bias is None else self.bias.to(x.dtype)
        return F.linear(z, self.U.to(x.dtype), bias)  # (*, d_out)

    def core(self) -> Tensor:
        """The dense ``(n, n)`` matrix ``diag(S) + M`` in fp32, differentiable in ``m``.

        Scattering the k trainable values into an n x n matrix costs n^2 numbers, and the product with it
        is one GEMM; a gather/scatter over the ``(tokens, k)`` products (k ~ 33n at d = 16) is several
        times slower per layer and allocates a ``(tokens, k)`` temporary.
        """
        n = self.S.numel()
        flat = torch.zeros(n * n, dtype=torch.float32, device=self.S.device)
        flat = flat.index_add(0, self.rows * n + self.cols, self.m.float())  # M, duplicates summed
        return flat.view(n, n) + torch.diag(self.S.float())

    @torch.no_grad()
    def merged_weight(self) -> Tensor:
        """``U (diag(S) + M) Vh``, computed in fp32, returned in U's dtype; ``(d_out, d_in)``."""
        return (self.U.float() @ self.core() @ self.Vh.float()).to(self.U.dtype)

    @torch.no_grad()
    def to_linear(self) -> nn.Linear:
        """A plain ``nn.Linear`` holding :meth:`merged_weight` and the bias."""
        linear = nn.Linear(
            self.in_features, self.out_features, self.bias is not None, self.U.device, self.U.dtype
        )
        linear.weight.copy_(self.merged_weight())
        if self.bias is not None:
            linear.bias.copy_(self.bias)
        return linear

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, pattern={self.pattern!r}, "
            f"off_diag={self.off_diag}, k={self.m.numel()}, bias={self.bias is not None}"
        )


def _matches(name: str, targets: Sequence[str]) -> bool:
    return any(name == t or name.endswith(f".{t}") for t in targets)


def _replace(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, leaf = name.rpartition(".")
    setattr(model.get_submodule(parent), leaf, module)


def apply_svft(
    model: nn.Module,
    target_modules: Sequence[str],
    *,
    pattern: str = "banded",
    off_diag: int = 16,
    seed: int = 0,
    init: bool = True,
) -> list[str]:
    """Replace matching ``nn.Linear`` layers of ``model`` in place with :class:`SVFTLinear`.

    A layer matches when its qualified name equals a target or ends with ``".<target>"``, so ``"q_proj"``
    and ``"self_attn.q_proj"`` both work. Only modules are replaced; freezing the rest is the caller's job.

    Args:
        model (nn.Module): the model, modified in place.
        target_modules (Sequence[str]): leaf names or name suffixes, e.g. ``["q_proj", "v_proj"]``.
        pattern (str): one of :data:`SVFT_PATTERNS`.
        off_diag (int): off-diagonals ``d`` (or the same budget for random / topk).
        seed (int): seeds the random pattern, combined with each layer's name.
        init (bool): ``True`` does the SVD; ``False`` builds empty structures (bias copied from the base
            layer, everything else zero) to ``load_state_dict`` into.

    Returns:
        The sorted qualified names of the replaced layers.
    """
    _check(pattern, off_diag)
    targets = [target_modules] if isinstance(target_modules, str) else list(target_modules)
    linears = {name: mod for name, mod in model.named_modules() if isinstance(mod, nn.Linear)}
    names = sorted(name for name in linears if _matches(name, targets))
    if not names:
        leaves = sorted({name.rpartition(".")[2] for name in linears})
        raise ValueError(
            f"apply_svft target_modules: {targets} match no nn.Linear; linear-layer leaf names: {leaves}"
        )
    from rich.progress import track

    quiet = len(names) <= _PROGRESS_MIN
    for name in track(names, "SVFT: SVD of linear layers", transient=True, disable=quiet):
        lin = linears[name]
        if init:
            new = SVFTLinear.from_linear(lin, pattern, off_diag, seed, name)
        else:
            d_out, d_in = lin.weight.shape
            k = svft_num_params(d_out, d_in, pattern, off_diag)
            w = lin.weight
            new = SVFTLinear.empty(d_in, d_out, k, lin.bias is not None, w.dtype, w.device, pattern, off_diag)
            if lin.bias is not None:  # the base model's bias; a state_dict holding one overwrites it
                new.bias.copy_(lin.bias.detach())
        _replace(model, name, new)
    return names


def merge_svft(model: nn.Module) -> int:
    """Replace each :class:`SVFTLinear` in place by a merged ``nn.Linear``; returns how many were merged."""
    names = [name for name, mod in model.named_modules() if isinstance(mod, SVFTLinear)]
    for name in names:
        _replace(model, name, model.get_submodule(name).to_linear())
    return len(names)


def trainable_svft_parameters(model: nn.Module) -> int:
    """The number of entries of M (``m``) over every :class:`SVFTLinear` in ``model``."""
    return sum(mod.m.numel() for mod in model.modules() if isinstance(mod, SVFTLinear))
