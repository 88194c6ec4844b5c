"""Perfect answers over the real SURGE data reproduce the reference's ceilings (surge.md §3).

Skipped when the data folder is absent (set GALLA_SURGE_DATA or place it at ../shared/data/surge).
"""

from __future__ import annotations

import pytest
from surge_fixtures import REAL_DATA, needs_real_data

from galla.eval.surge.data import SurgeItem, load_surge
from galla.eval.surge.scoring import score_item

pytestmark = needs_real_data


@pytest.fixture(scope="module")
def surge() -> dict[str, list[SurgeItem]]:
    return load_surge(REAL_DATA)


def _percent(items: list[SurgeItem], reply: str | None = None, fenced: bool = True) -> float:
    scores = [score_item(it, reply if reply is not None else it.perfect_response(fenced)) for it in items]
    return round(100 * sum(scores) / len(scores), 2)


@pytest.mark.parametrize(
    ("subset", "ceiling"),
    [
        ("ml", 100.0),
        ("cl", 100.0),
        ("rl", 99.95),
        ("sc", 100.0),
        ("tc", 100.0),
        ("bg", 100.0),
        ("dr", 99.91),
        ("fl", 98.79),
    ],
)
def test_fenced_ceiling(surge: dict[str, list[SurgeItem]], subset: str, ceiling: float) -> None:
    assert _percent(surge[subset]) == ceiling


@pytest.mark.parametrize(("subset", "ceiling"), [("rl", 80.87), ("dr", 90.40)])
def test_unfenced_ceiling(surge: dict[str, list[SurgeItem]], subset: str, ceiling: float) -> None:
    # without a fence extraction keeps only the first paragraph
    assert _percent(surge[subset], fenced=False) == ceiling


def test_fl_always_pass_baseline(surge: dict[str, list[SurgeItem]]) -> None:
    always_pass = 'Output:\n```json\n{"errors": [], "pass": true, "complete": true}\n```'
    assert _percent(surge["fl"], always_pass) == 42.67  # 64 of 150 items pass
