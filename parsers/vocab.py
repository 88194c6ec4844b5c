"""One node-kind vocabulary shared by every language, with frozen integer ids.

The vocabulary is the union of the visible node kinds of all bundled tree-sitter grammars, stored one
name per line in ``node_kinds.txt`` (line number = id). Kinds that mean the same in several grammars
(``identifier``, ``if_statement``, ``+``) share one id, so a GNN trained on one language starts from
aligned node embeddings in another. Id 0 is ``<unknown>``: a kind introduced by a newer grammar than the
one the vocabulary was frozen with. ``python -m parsers.vocab`` appends such kinds (never renumbers).
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

VOCAB_FILE = Path(__file__).with_name("node_kinds.txt")
UNKNOWN = "<unknown>"


@cache
def kind_names() -> tuple[str, ...]:
    """All kind names, indexed by id."""
    names = VOCAB_FILE.read_text(encoding="utf-8").split("\n")
    return tuple(n for n in names if n)


@cache
def kind_ids() -> dict[str, int]:
    return {name: i for i, name in enumerate(kind_names())}


def kind_id(name: str) -> int:
    """Stable id of a node kind name; 0 (``<unknown>``) for names not in the vocabulary."""
    return kind_ids().get(name, 0)


def kind_name(i: int) -> str:
    return kind_names()[i]


def missing_kinds() -> list[str]:
    """Visible node kinds of the installed grammars that the frozen vocabulary lacks."""
    from parsers.languages import LANGUAGES

    known = kind_ids()
    seen: dict[str, None] = {}
    for spec in LANGUAGES.values():
        lang = spec.ts_language()
        for i in range(lang.node_kind_count):
            name = lang.node_kind_for_id(i)
            if name and lang.node_kind_is_visible(i) and name not in known:
                seen[name] = None
    return sorted(seen)


def main() -> None:
    """Append the kinds of newly installed grammars to ``node_kinds.txt``."""
    new = missing_kinds()
    if not VOCAB_FILE.exists():
        VOCAB_FILE.write_text(UNKNOWN + "\n", encoding="utf-8")
        kind_names.cache_clear()
        kind_ids.cache_clear()
        new = missing_kinds()
    with VOCAB_FILE.open("a", encoding="utf-8") as f:
        for name in new:
            if "\n" in name:
                continue
            f.write(name + "\n")
    print(f"appended {len(new)} kinds to {VOCAB_FILE}", file=sys.stderr)


if __name__ == "__main__":
    main()
