"""SURGE items read from the official subset files, with what scoring and the tables need.

The data is *not* part of galla: the user points at a folder holding the eight files
``ml.json cl.json rl.json sc.json tc.json bg.json dr.json fl.json`` (``dataset/`` of
github.com/Imbernoulli/SURGE, commit 3e983a5). Each file is a JSON array of records with ``question``,
``gt``, the three system prompts ``sys_0shot`` / ``sys_cot`` / ``sys_3shot``, a category id and
``custom_features`` (reference ``surge.md`` §1). Loading checks exactly the fields scoring needs and
names the file, record and field when one is missing.

Per-item metadata computed here:

- ``column``: the table column (ML split into six language columns, BG into three; ``eval/tab.py``);
- ``rl_task``: the RL scorer, as the official ``re_errors`` assigns it (reference §1 RL);
- ``fid``: the SC/TC program id that selects the scorer (reference §3).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "SETTINGS",
    "SUBSETS",
    "SUBSET_NAMES",
    "SurgeDataError",
    "SurgeItem",
    "load_subset",
    "load_surge",
    "parse_subsets",
]

SUBSETS: tuple[str, ...] = ("ml", "cl", "rl", "sc", "tc", "bg", "dr", "fl")
SUBSET_NAMES: dict[str, str] = {
    "ml": "multi-lingual",
    "cl": "competition-level",
    "rl": "repository-level",
    "sc": "scientific computing",
    "tc": "time-consuming algorithms",
    "bg": "buggy code",
    "dr": "differential results (compiler, standard, optimisation)",
    "fl": "formal language (Lean 4)",
}
# Category id stored in each record (CL carries 1 like ML; the official code remaps it to 2).
_CATEGORY_IDS: dict[str, int] = {"ml": 1, "cl": 1, "rl": 3, "sc": 4, "tc": 5, "bg": 6, "dr": 7, "fl": 8}
# Prompt setting -> record field holding that setting's system prompt (reference §2).
SETTINGS: dict[str, str] = {"0shot": "sys_0shot", "cot": "sys_cot", "3shot": "sys_3shot"}

_SOURCE_HINT = (
    "--data must be a folder holding the SURGE subset files (dataset/*.json of "
    "https://github.com/Imbernoulli/SURGE, unmodified)"
)
_ML_COLUMNS = {
    "cpp": "ML-CPP",
    "rust": "ML-Rust",
    "java": "ML-Java",
    "python": "ML-Python",
    "julia": "ML-Julia",
}
_BG_COLUMNS = {"cpp": "BG-CPP", "java": "BG-Java", "python3": "BG-Python"}
_PLOTNEURALNET_REPO = "PlotNeuralNet"
_SUDOKU_REPO = "https://github.com/psychopurp/sudoku-player"


class SurgeDataError(ValueError):
    """A SURGE data folder or file that cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class SurgeItem:
    """One SURGE item: the prompt parts, the expected answer and the metadata scoring needs."""

    subset: str
    """One of ``SUBSETS``."""
    index: int
    """0-based position in the subset's file (what a responses line's ``index`` refers to)."""
    question: str
    """The user message: the code plus any input or command."""
    gt: str
    """The expected answer, compared unstripped as the official scorer does."""
    column: str | None
    """Table column (``ML-CPP`` … ``FL``); None for a BG language outside cpp/java/python3."""
    rl_task: str | None = None
    """RL only: ``car``, ``cow``, ``24_game``, ``plotneuralnet`` or ``sudoku``."""
    fid: str | None = None
    """SC/TC only: the program id that picks the scorer."""
    system_prompts: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Setting (``0shot``, ``cot``, ``3shot``) -> system prompt, for the settings present."""
    features: Mapping[str, Any] = field(default_factory=dict, repr=False)
    """The record's ``custom_features`` as stored."""

    def messages(self, setting: str = "0shot") -> list[dict[str, str]]:
        """Chat messages for generation: the setting's system prompt, then ``question`` (reference §2)."""
        if setting not in SETTINGS:
            raise ValueError(f"unknown SURGE setting {setting!r}; choose one of {', '.join(SETTINGS)}")
        if setting not in self.system_prompts:
            raise SurgeDataError(f"{self.subset}[{self.index}] has no {SETTINGS[setting]!r} field")
        return [
            {"role": "system", "content": self.system_prompts[setting]},
            {"role": "user", "content": self.question},
        ]

    def perfect_response(self, fenced: bool = True) -> str:
        """A reply giving exactly ``gt``, shaped as in the reference's ceiling check (§3)."""
        body = f"```\n{self.gt}\n```" if fenced else self.gt
        return f"Thought: perfect answer.\nOutput:\n{body}"


def parse_subsets(text: str | Iterable[str] | None) -> tuple[str, ...]:
    """``"ml,cl"`` (or a list) -> ``("ml", "cl")`` in canonical order; None or ``"all"`` -> all eight."""
    if text is None:
        return SUBSETS
    names = text.split(",") if isinstance(text, str) else list(text)
    wanted = {n.strip().lower() for n in names if n.strip()}
    if wanted in ({"all"}, set()):
        return SUBSETS
    unknown = sorted(wanted - set(SUBSETS))
    if unknown:
        raise SurgeDataError(f"unknown SURGE subset(s) {', '.join(unknown)}; choose from {','.join(SUBSETS)}")
    return tuple(s for s in SUBSETS if s in wanted)


def load_surge(data_dir: str | Path, subsets: Iterable[str] | None = None) -> dict[str, list[SurgeItem]]:
    """Every requested subset of the SURGE folder ``data_dir`` (default: all eight), in file order."""
    root = Path(data_dir)
    if not root.is_dir():
        raise SurgeDataError(f"SURGE data folder {root} does not exist or is not a folder; {_SOURCE_HINT}")
    return {s: load_subset(root, s) for s in parse_subsets(subsets)}


def load_subset(data_dir: str | Path, subset: str) -> list[SurgeItem]:
    """The items of ``data_dir/<subset>.json``; raises SurgeDataError naming the file, record and field."""
    if subset not in SUBSETS:
        raise SurgeDataError(f"unknown SURGE subset {subset!r}; choose from {','.join(SUBSETS)}")
    path = Path(data_dir) / f"{subset}.json"
    if not path.is_file():
        raise SurgeDataError(
            f"missing {path}: {_SOURCE_HINT}; or pass --subsets to score only the subsets you have"
        )
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise SurgeDataError(f"cannot read {path} as JSON ({err}); {_SOURCE_HINT}") from err
    if not isinstance(records, list):
        raise SurgeDataError(f"{path} holds a JSON {type(records).__name__}, expected an array of records")
    return [_item(path, subset, i, rec) for i, rec in enumerate(records)]


def _item(path: Path, subset: str, index: int, rec: Any) -> SurgeItem:
    where = f"{path}: record {index}"
    if not isinstance(rec, dict):
        raise SurgeDataError(f"{where} is a JSON {type(rec).__name__}, expected an object")

    def need(mapping: Mapping[str, Any], key: str, label: str) -> str:
        value = mapping.get(key)
        if not isinstance(value, str):
            problem = "missing" if value is None else f"not a string ({type(value).__name__})"
            raise SurgeDataError(f"{where}: field {label!r} is {problem}; {_SOURCE_HINT}")
        return value

    question, gt = need(rec, "question", "question"), need(rec, "gt", "gt")
    category = rec.get("custom_category", rec.get("custom_categoey"))
    if category is not None and category != _CATEGORY_IDS[subset]:
        raise SurgeDataError(
            f"{where}: category {category!r} belongs to another subset (expected {_CATEGORY_IDS[subset]} "
            f"for {subset}); are the files renamed or swapped?"
        )
    feats = rec.get("custom_features", {})
    if not isinstance(feats, dict):
        raise SurgeDataError(f"{where}: field 'custom_features' is not an object")
    prompts = {s: rec[k] for s, k in SETTINGS.items() if isinstance(rec.get(k), str)}
    rl_task = fid = None
    if subset in ("ml", "cl", "bg"):
        language = need(feats, "language", "custom_features.language").lower()
        if subset == "ml":
            column = _ML_COLUMNS.get(language, "ML-Others")  # C and C# make "Others"
        elif subset == "bg":
            column = _BG_COLUMNS.get(language)  # eval/tab.py drops any other language
        else:
            column = "CL"
    elif subset == "rl":
        column, rl_task = "RL", _rl_task(lambda key: need(feats, key, f"custom_features.{key}"))
    elif subset in ("sc", "tc"):
        column, fid = subset.upper(), need(feats, "fid", "custom_features.fid")
    else:
        column = subset.upper()
    return SurgeItem(subset, index, question, gt, column, rl_task, fid, prompts, feats)


def _rl_task(need: Callable[[str], str]) -> str:
    """The RL scorer, decided in the order of the official ``re_errors`` (``eval/main.py``)."""
    repo = need("repo")
    if repo == _PLOTNEURALNET_REPO:
        return "plotneuralnet"
    instruction = need("run_instruction")
    if instruction == "python 24_game.py":
        return "24_game"
    if repo == _SUDOKU_REPO:
        return "sudoku"
    return "cow" if instruction == "make" else "car"
