"""Training methods by name (``method:`` in the config): a method is one file saying what differs.

- ``lm`` (:mod:`~galla.train.methods.lm`): next-token cross-entropy (Graph2Code, GraphQA, SFT);
- ``dpo`` (:mod:`~galla.train.methods.dpo`): DPO on ``data.preference``.

>>> get("lm").name
'lm'
"""

from __future__ import annotations

from galla.config import ConfigError
from galla.train.methods.dpo import DPO
from galla.train.methods.lm import LM

METHODS: dict[str, type[LM]] = {"lm": LM, "dpo": DPO}


def get(name: str) -> type[LM]:
    """The method class called ``name``; unknown names raise, listing the known ones."""
    if name not in METHODS:
        raise ConfigError(f"method: unknown method {name!r}; known: {', '.join(METHODS)}")
    return METHODS[name]


__all__ = ["DPO", "LM", "METHODS", "get"]
