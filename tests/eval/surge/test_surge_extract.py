"""Official answer extraction (reference surge.md §2) and the FL harness rule (§3)."""

from __future__ import annotations

import pytest

from galla.eval.surge.extract import SUDOKU_MARKER, extract_fl_json, extract_output, extract_sudoku


@pytest.mark.parametrize(
    ("reply", "answer"),
    [
        # fenced block after Output:, with or without a language word
        ("Thought: x\nOutput:\n```\n42\n```", "42"),
        ("Output:\n```python\n[1, 2]\n```\nmore", "[1, 2]"),
        ("Output:\n```\nfirst\n```\n```\nsecond\n```", "first"),
        # unfenced: the first paragraph only
        ("Output: 42", "42"),
        ("Output:\n\n  42\nline 2\n\nnext paragraph", "42\nline 2"),
        ("no marker here\n\nsecond paragraph", "no marker here"),
        # the first "Output:" wins
        ("Output: a\nOutput: b", "a\nOutput: b"),
        # inline code
        ("Output: the answer is `7` I think", "7"),
        # **bold** spans are deleted with the whitespace after them ...
        ("**Answer:** 42", "42"),
        ("Output: **note** 5", "5"),
        ("Output:\n**Result**\n```\n9\n```", "9"),
        # ... which also deletes a bold answer (official quirk) ...
        ("Output: **42** is it", "is it"),
        # ... while an unpaired ** at the start of the paragraph is just removed
        ("**Output:** 42", "42"),
        ("Output: **42", "42"),
    ],
)
def test_extract_output(reply: str, answer: str) -> None:
    assert extract_output(reply) == answer


@pytest.mark.parametrize("reply", ["", "   \n ", "Output:", "Output:  \n\n", "**only bold**", None, 42])
def test_extract_output_nothing(reply: object) -> None:
    assert extract_output(reply) is None  # type: ignore[arg-type]


def test_fence_needs_newlines() -> None:
    # "```x```" is no fenced block for the official regex; the inline rule finds the span instead
    assert extract_output("Output: ```\n5```") == "5"
    assert extract_output("Output: ```5```") == "5"


def test_extract_sudoku() -> None:
    grid = "\n".join(" ".join("123456789") for _ in range(9)) + "\n"  # 9 rows of 18 characters
    reply = "x" * 300 + "\n" + grid + SUDOKU_MARKER + "\n" + grid + SUDOKU_MARKER + "\ntrailer"
    cut = extract_sudoku(reply)
    assert cut is not None and cut.endswith(SUDOKU_MARKER)
    assert len(cut) == 18 * 9 + 2 + len(SUDOKU_MARKER)
    assert cut[: -len(SUDOKU_MARKER)].endswith(grid)  # the *last* marker and the grid before it
    assert extract_sudoku("no grid") is None
    # marker fewer than 164 characters in: a negative slice start, with Python's meaning (as officially):
    # clamped to 0 in a short reply, wrapped around from the end in a longer one
    assert extract_sudoku("ab " + SUDOKU_MARKER) == "ab " + SUDOKU_MARKER
    assert extract_sudoku("z" * 100 + SUDOKU_MARKER + "z" * 100) == ""
    # overlapping markers resolve like re.finditer (non-overlapping, left to right)
    overlapping = "y" * 200 + "------- 0 ------- 0 -------"
    assert extract_sudoku(overlapping) == overlapping[200 - 164 : 200 + len(SUDOKU_MARKER)]


def test_extract_fl_json() -> None:
    raw = '{"errors": [], "pass": true, "complete": true}'
    assert extract_fl_json(raw) == raw  # the whole reply is JSON: used as is
    assert extract_fl_json(f"Output:\n```json\n{raw}\n```") == raw
    assert extract_fl_json(f"Output:\n```\n{raw}\n```\n```\nlater\n```") == raw
    # trailing commas before ] or } go; escapes are kept (unlike the official extract_code)
    fenced = 'Output:\n```json\n{"errors": [{"data": "a \\"b\\"",},], "pass": false,}\n```'
    assert extract_fl_json(fenced) == '{"errors": [{"data": "a \\"b\\""}], "pass": false}'
    # no fence: the stripped reply (documented choice), which is no JSON here
    assert extract_fl_json("  Output: pass  ") == "Output: pass"
    assert extract_fl_json(None) is None
