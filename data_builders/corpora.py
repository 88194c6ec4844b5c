"""Code corpora every machine has: the interpreter's standard library, as sorted file lists.

Benchmarks, the engine-equality tests and the downstream-task splits read it, so it lives with the
product (``benchmarks/`` and ``tests/`` import it; nothing imports them back).
"""

from __future__ import annotations

import os
import sysconfig
from pathlib import Path

EXCLUDED_DIRS = frozenset({"site-packages", "test", "tests", "idle_test"})
"""Directory names left out of the corpus, at any depth."""


def stdlib_root() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def stdlib_corpus(root: str | Path | None = None) -> list[Path]:
    """Sorted ``.py`` files under ``root`` (default: the interpreter's stdlib) minus :data:`EXCLUDED_DIRS`."""
    top = Path(root) if root is not None else stdlib_root()
    files = []
    stack = [top]
    while stack:
        d = stack.pop()
        with os.scandir(d) as it:
            for e in it:
                if e.is_dir(follow_symlinks=False):
                    if e.name not in EXCLUDED_DIRS and e.name != "__pycache__":
                        stack.append(Path(e.path))
                elif e.name.endswith(".py") and e.is_file(follow_symlinks=False):
                    files.append(Path(e.path))
    return sorted(files)
