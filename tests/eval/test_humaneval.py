"""``galla.eval.humaneval`` (Python): the installed data, the reply rule, and scoring through the sandbox."""

from __future__ import annotations

import time

import pytest

from galla.eval.humaneval import (
    Problem,
    build_program,
    extract_code,
    humaneval_prompt,
    load_humaneval,
    pass_at_1,
    score,
)


@pytest.fixture(scope="module")
def problems() -> list[Problem]:
    return load_humaneval()


@pytest.fixture(scope="module")
def by_id(problems) -> dict[str, Problem]:
    return {p.task_id: p for p in problems}


def test_load_humaneval(problems):
    assert len(problems) == 164
    assert [p.number for p in problems] == list(range(164))
    first = problems[0]
    assert first.task_id == "HumanEval/0" and first.entry_point == "has_close_elements"
    assert "def check(candidate)" in first.test and first.prompt.startswith("from typing import List")


def test_all_canonical_solutions_pass(problems):
    start = time.monotonic()
    rows = score(problems, [p.canonical_solution for p in problems], extract=False, workers=2)
    failing = [(r["task_id"], r["status"], r["stderr"][-300:]) for r in rows if not r["passed"]]
    assert failing == []
    assert pass_at_1(rows) == 1.0
    assert time.monotonic() - start < 120


def test_wrong_hanging_and_greedy_samples_score_zero_without_harming_the_run(by_id):
    chosen = [by_id[f"HumanEval/{n}"] for n in (0, 2, 4, 7, 13)]
    completions = [
        chosen[0].canonical_solution,
        "    return number\n",  # wrong: truncate_number must return the fractional part
        "    while True:\n        pass\n",
        "    x = []\n    while True:\n        x.append(' ' * 10**7)\n",
        chosen[4].canonical_solution,
    ]
    rows = score(chosen, completions, extract=False, timeout_s=6, memory_mb=300)  # slack for a loaded machine
    assert [r["passed"] for r in rows] == [True, False, False, False, True]
    assert [r["status"] for r in rows][:3] == ["passed", "failed", "timeout"]
    assert rows[3]["status"] in ("memory", "failed")
    assert pass_at_1(rows) == pytest.approx(0.4)


def test_humaneval_prompt_fences_the_prompt(by_id):
    msg = humaneval_prompt(by_id["HumanEval/0"])
    assert msg.startswith("Complete the following Python function")
    assert "```python\nfrom typing import List" in msg and msg.rstrip().endswith("```")


def test_extract_full_function_from_fenced_reply(by_id):
    p = by_id["HumanEval/2"]
    reply = (
        "Here you go:\n\n```python\nimport math\n\n\ndef _frac(x):\n    return x - math.floor(x)\n\n\n"
        "def truncate_number(number: float) -> float:\n    return _frac(number)\n\n\n"
        "if __name__ == '__main__':\n    print(truncate_number(float(input())))\n```\n"
        "It uses math.floor.\n```\nprint('other block')\n```\n"
    )
    code = extract_code(reply, p)
    assert "def _frac" in code and "import math" in code and "__main__" not in code and "other" not in code
    program = build_program(p, code)
    assert program.startswith(p.prompt) and program.rstrip().endswith("check(truncate_number)")
    assert score([p], [reply])[0]["status"] == "passed"


def test_extract_keeps_prompt_helpers_available(by_id):
    # HumanEval/38: decode_cyclic's tests call encode_cyclic, defined only in the prompt
    p = by_id["HumanEval/38"]
    reply = "```python\ndef decode_cyclic(s: str):\n    return encode_cyclic(encode_cyclic(s))\n```"
    assert score([p], [reply])[0]["passed"]


def test_extract_body_only_replies(by_id):
    p = by_id["HumanEval/2"]
    indented = extract_code("```python\n    return number % 1.0\n```", p)
    assert indented == "    return number % 1.0\n"
    flush_left = extract_code("return number % 1.0", p)
    assert flush_left == "    return number % 1.0\n"
    truncated = extract_code("Sure:\n```python\n    return number % 1.0\n", p)
    assert truncated == "    return number % 1.0\n"
    rows = score([p, p, p], [indented, flush_left, "    return number\n"], extract=False)
    assert [r["passed"] for r in rows] == [True, True, False]


def test_extract_prefers_the_block_that_defines_the_entry_point(by_id):
    p = by_id["HumanEval/2"]
    reply = (
        "```python\nprint(truncate_number(3.5))\n```\n"
        "```python\ndef truncate_number(number):\n    return number % 1.0\n```"
    )
    assert "def truncate_number" in extract_code(reply, p)
    assert score([p], [reply])[0]["passed"]


def test_score_mapping_and_missing_replies(by_id):
    chosen = [by_id["HumanEval/2"], by_id["HumanEval/3"]]
    rows = score(chosen, {"HumanEval/2": "    return number % 1.0\n"}, extract=False)
    assert rows[0]["passed"] and not rows[1]["passed"] and rows[1]["status"] == "error"
    with pytest.raises(ValueError):
        score(chosen, ["x"])
