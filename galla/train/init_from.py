"""``init_from``: a run that starts from a previous run's GraphLLM (GALLa stage 2 from stage 1's
``final/``), and the building of a run's GraphLLM with or without one."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch

from galla.config import ConfigError
from galla.model import GraphLLM
from galla.run_layout import GRAPH_LLM_CONFIG, GraphLLMDir
from galla.train.config import TrainConfig

INIT_FROM_KEYS = ("encoder", "adapter")
"""The ``model`` sections ``init_from`` always takes from its directory (``init_llm`` adds the LLM)."""


def _init_from_meta(src: Path) -> dict[str, Any]:
    file = GraphLLMDir(src).config
    if not file.is_file():
        raise ConfigError(
            f"init_from: '{src}' is not a GraphLLM directory (no {GRAPH_LLM_CONFIG}); "
            "point it at a previous run's final/ directory"
        )
    try:
        meta = json.loads(file.read_text())
        saved = meta["config"]
        if not isinstance(saved, dict):
            raise TypeError("'config' is not a mapping")
        return saved
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ConfigError(f"init_from: {file} is unreadable ({err}); point it at a run's final/") from None


def resolve_init_from(cfg: TrainConfig) -> TrainConfig:
    """``cfg`` with the model settings ``init_from`` takes from its directory (``model.encoder`` and
    ``model.adapter``; with ``init_llm`` also ``model.graph_token``) set to the values in that directory's
    ``galla_config.json``, so that the run's ``config.yaml`` says what was trained. A value the config sets
    to something other than the default and the directory's value is refused (ConfigError naming both),
    rather than silently replaced."""
    if cfg.init_from is None:
        return cfg
    from galla.config import ModelConfig

    saved = ModelConfig.from_dict(_init_from_meta(Path(cfg.init_from))).to_dict()
    default, mine = ModelConfig().to_dict(), cfg.model.to_dict()
    keys = [(s, k) for s in INIT_FROM_KEYS for k in default[s]]
    if cfg.init_llm:
        keys.append((None, "graph_token"))

    def get(d: dict[str, Any], section: str | None, key: str) -> Any:
        return d[section][key] if section else d[key]

    conflicts = []
    for section, key in keys:
        value, theirs = get(mine, section, key), get(saved, section, key)
        if value != theirs and value != get(default, section, key):
            name = ".".join(["model", *([section] if section else []), key])
            conflicts.append(f"{name}: {value!r} in the config, {theirs!r} in init_from's {GRAPH_LLM_CONFIG}")
    if conflicts:
        raise ConfigError(
            f"init_from '{cfg.init_from}' was trained with other model settings than this config asks "
            f"for ({'; '.join(conflicts)}); drop those keys from the config (init_from decides them) or "
            "set them to init_from's values"
        )
    for section in INIT_FROM_KEYS:
        mine[section] = saved[section]
    if cfg.init_llm:
        mine["graph_token"] = saved["graph_token"]
    return dataclasses.replace(cfg, model=ModelConfig.from_dict(mine))


def build_model(cfg: TrainConfig, device: torch.device) -> GraphLLM:
    """The GraphLLM of ``cfg``; with ``init_from``, stage 1's encoder and adapter (and optionally LLM)."""
    torch.manual_seed(cfg.run.seed)
    if cfg.init_from is None:
        return GraphLLM.from_config(cfg.model, device=device)
    src = Path(cfg.init_from)
    _init_from_meta(src)
    # remote code only if this run's own config asks for it, never because the saved directory says so
    saved = GraphLLM.from_pretrained(
        src, device=device, dtype=cfg.model.dtype, trust_remote_code=cfg.model.trust_remote_code
    )
    if cfg.init_llm:
        model = saved
    else:
        model = GraphLLM.from_config(
            dataclasses.replace(cfg.model, encoder=saved.config.encoder, adapter=saved.config.adapter),
            device=device,
        )
        model.encoder.load_state_dict(saved.encoder.state_dict())
        model.adapter.load_state_dict(saved.adapter.state_dict())
    model.set_trainable(
        llm=cfg.model.llm_trainable, encoder=cfg.model.encoder_trainable, adapter=cfg.model.adapter_trainable
    )
    model.config = dataclasses.replace(cfg.model, encoder=saved.config.encoder, adapter=saved.config.adapter)
    return model
