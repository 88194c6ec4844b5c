"""Parameterisations of the LLM's weights, orthogonal to the method: full, LoRA (peft), SVFT (ours).

:func:`apply_params` changes ``model.llm`` in place and returns a :class:`Parameterisation` that knows
which tensors a checkpoint must hold (trainable weights, plus SVFT's frozen singular vectors, which are
never recomputed at load), how to switch the update off (the DPO reference of LoRA/SVFT) and how to
merge it back into dense weights for export.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from torch import Tensor, nn

from galla.model import GraphLLM
from galla.train.config import ParamsConfig
from galla.train.svft import SVFTLinear, apply_svft, merge_svft


@dataclass
class Parameterisation:
    kind: str
    model: GraphLLM
    peft_model: object | None = None
    replaced: list[str] = field(default_factory=list)

    def checkpoint_state(self) -> dict[str, Tensor]:
        """What a checkpoint stores: trainable parameters (and SVFT buffers), by GraphLLM-qualified name."""
        state = {n: p.detach() for n, p in self.model.named_parameters() if p.requires_grad}
        if self.kind == "svft":
            for name, module in self.model.named_modules():
                if isinstance(module, SVFTLinear):
                    for b, t in module.named_buffers(recurse=False):
                        state[f"{name}.{b}"] = t
        return state

    @contextlib.contextmanager
    def disabled(self) -> Iterator[None]:
        """The base model: LoRA adapters off / SVFT's M ignored (DPO's reference pass)."""
        if self.kind == "lora":
            with self.peft_model.disable_adapter():
                yield
        elif self.kind == "svft":
            modules = [m for m in self.model.modules() if isinstance(m, SVFTLinear)]
            saved = [m.m.data.clone() for m in modules]
            try:
                for m in modules:
                    m.m.data.zero_()
                yield
            finally:
                for m, s in zip(modules, saved, strict=True):
                    m.m.data.copy_(s)
        else:
            raise ValueError("only LoRA and SVFT runs have an adapter to disable (use dpo.reference: copy)")

    def merge(self) -> None:
        """Fold the update into plain ``nn.Linear`` weights (export; the end of training)."""
        if self.kind == "lora":
            self.model.llm = self.peft_model.merge_and_unload()
            self.peft_model = None
        elif self.kind == "svft":
            merge_svft(self.model.llm)
        self.kind = "full"

    def trainable(self) -> int:
        return trainable_summary(self.model)["trainable"]


def apply_params(model: GraphLLM, cfg: ParamsConfig, *, seed: int = 0, init: bool = True) -> Parameterisation:
    """Parameterise ``model.llm`` as ``cfg`` says; trainability of the LLM follows ``model.llm_trainable``.

    ``init=False`` (resuming) builds SVFT's structure without SVDs; the checkpoint then fills it.
    """
    llm_trainable = model.llm_trainable
    if cfg.kind == "full":
        return Parameterisation("full", model)
    if not llm_trainable:
        raise ValueError(
            f"params.kind: {cfg.kind} trains an update of the LLM, but model.llm_trainable is false; "
            "set params.kind: full to freeze the LLM"
        )
    if cfg.kind == "lora":
        from peft import LoraConfig, get_peft_model

        lcfg = LoraConfig(
            r=cfg.lora.r,
            lora_alpha=cfg.lora.alpha,
            lora_dropout=cfg.lora.dropout,
            target_modules=list(cfg.lora.target_modules),
            bias="none",
        )
        try:
            peft_model = get_peft_model(model.llm, lcfg)  # freezes the base, injects LoRA in place
        except ValueError as err:
            raise ValueError(f"params.lora.target_modules: {err}") from None
        return Parameterisation("lora", model, peft_model)
    model.llm.requires_grad_(False)
    replaced = apply_svft(
        model.llm,
        cfg.svft.target_modules,
        pattern=cfg.svft.pattern,
        off_diag=cfg.svft.off_diag,
        seed=seed,
        init=init,
    )
    for module in model.llm.modules():
        if isinstance(module, SVFTLinear):
            module.m.requires_grad_(True)
    return Parameterisation("svft", model, replaced=replaced)


def trainable_summary(model: nn.Module) -> dict[str, int]:
    """Trainable and total parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"trainable": trainable, "total": total}
