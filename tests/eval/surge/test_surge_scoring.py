"""Official SURGE scoring rules on hand-built cases (reference surge.md §3)."""

from __future__ import annotations

import json
import math
import random
from difflib import SequenceMatcher
from pathlib import Path

import pytest
from surge_fixtures import TINY, write_tiny_surge

from galla.eval.surge.data import load_surge
from galla.eval.surge.scoring import (
    exact_match,
    fl_score,
    jaccard,
    monte_carlo_score,
    parse_numbers,
    program_score,
    relative_error_score,
    rl_score,
    score_item,
    sequence_ratio,
    spearman_score,
    word_jaccard_score,
)


def fenced(answer: str) -> str:
    return f"Thought: t\nOutput:\n```\n{answer}\n```"


# --- ML, CL: exact match -------------------------------------------------------------------------


def test_exact_match() -> None:
    assert exact_match("42", fenced("42")) == 1.0
    assert exact_match("42", "Output: 42") == 1.0  # unfenced single line still extracts
    assert exact_match("42", "Output: `42`") == 1.0
    assert exact_match("42", "**Output:** 42") == 1.0
    assert exact_match("42", "Output: 43") == 0.0
    assert exact_match("42", "Output: **42**") == 0.0  # the bold answer is stripped away (official)
    assert exact_match("42\n", fenced("42")) == 0.0  # gt is compared unstripped
    assert exact_match("1 2\n3 4", fenced("1 2\n3 4")) == 1.0
    assert exact_match("1\n\n2", "Output:\n1\n\n2") == 0.0  # unfenced: first paragraph only
    assert exact_match("42", None) == 0.0


# --- RL ------------------------------------------------------------------------------------------


def test_rl_exact_tasks() -> None:
    for task in ("car", "cow"):
        assert rl_score(task, "5 3", fenced("5 3")) == 1.0
        assert rl_score(task, "5 3", fenced("5 4")) == 0.0
        assert rl_score(task, " 5 3", fenced("5 3")) == 0.0  # whitespace in gt counts


@pytest.mark.parametrize("task", ["24_game", "plotneuralnet"])
def test_rl_ratio_tasks(task: str) -> None:
    gt = "(1+2)*8 = 24\n(8-2)*4 = 24"
    assert rl_score(task, gt, fenced(gt)) == 1.0
    got = rl_score(task, gt, fenced("(1+2)*8 = 24"))
    assert got == pytest.approx(SequenceMatcher(None, gt, "(1+2)*8 = 24").ratio())
    assert 0 < got < 1
    assert rl_score(task, gt, "") == 0.0
    assert rl_score(task, gt, None) == 0.0


def test_sequence_ratio_order_and_autojunk() -> None:
    # difflib's ratio is order-sensitive with autojunk on long strings; the official order is (gt, output)
    gt, out = "ab" * 150 + "c", "a" * 150 + "b" * 151
    assert sequence_ratio(gt, out) == SequenceMatcher(None, gt, out).ratio()
    assert sequence_ratio(gt, None) == 0.0


def test_rl_sudoku_grid_rule() -> None:
    grid = "\n".join(" ".join("123456789") for _ in range(9))
    gt = grid + "\n------- 0 -------"
    # the final grid sits in a long unfenced reply: extraction alone finds the first paragraph, the
    # grid rule cuts the 164 characters before the last marker
    reply = "Let me solve it.\n\n" + "step " * 40 + "\n" + gt + "\n\nDone."
    plain = SequenceMatcher(None, gt, "Let me solve it.").ratio()
    assert rl_score("sudoku", gt, reply) == pytest.approx(1.0)
    assert plain < 0.2
    assert rl_score("sudoku", gt, fenced(gt)) == 1.0
    assert rl_score("sudoku", gt, "no grid at all") == pytest.approx(
        SequenceMatcher(None, gt, "no grid at all").ratio()
    )
    # a grid cut that extracts to nothing makes the official code raise, so the item scores 0 even
    # though the reply's own answer would have scored
    reply = "Output: " + grid + "\n\n" + "w" * 200 + "\nOutput: **\n\n------- 0 -------"
    assert sequence_ratio(gt, "Output: " + grid) > 0.5
    assert rl_score("sudoku", gt, reply) == 0.0
    assert rl_score("sudoku", gt, None) == 0.0


def test_rl_unknown_task() -> None:
    with pytest.raises(ValueError, match="unknown RL task"):
        rl_score("chess", "x", "x")


# --- SC, TC --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("3.5", [3.5]),
        ("1, 2, 3", [1.0, 2.0, 3.0]),
        ("[1, 2, 3]", [1.0, 2.0, 3.0]),
        ("[1 2 3]", [1.0, 2.0, 3.0]),
        ("[[1. 2.]\n [3. 4.]]", [1.0, 2.0, 3.0, 4.0]),
        ("1.0e-01, 2.5e+00", [0.1, 2.5]),
        ("['1.0e-01' '2.5e+00']", [0.1, 2.5]),
        ("[[1.0e-01 2.0e+00]]", [0.1, 2.0]),
    ],
)
def test_parse_numbers(text: str, numbers: list[float]) -> None:
    assert parse_numbers(text) == pytest.approx(numbers)


@pytest.mark.parametrize("text", ["abc", "[1, x]", "", "[[1, 2], [3, 4]]"])
def test_parse_numbers_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_numbers(text)


def test_relative_error_score() -> None:
    assert relative_error_score("[1.0, 2.0, 4.0]", "[1.0, 2.0, 4.0]") == 1.0
    # mean relative error (0 + 0.5 + 0) / 3
    assert relative_error_score("[1.0, 3.0, 4.0]", "[1.0, 2.0, 4.0]") == pytest.approx(1 - 0.5 / 3)
    # a short prediction is padded with zeros (relative error 1 each), a long one truncated
    assert relative_error_score("[1.0]", "[1.0, 2.0]") == pytest.approx(0.5)
    assert relative_error_score("[1.0, 2.0, 99.0]", "[1.0, 2.0]") == 1.0
    assert relative_error_score("100", "1") == 0.0  # clipped at 0
    assert relative_error_score("0", "0") == 1.0
    assert relative_error_score("1e-12", "0") == pytest.approx(0.99)  # |g| + 1e-10 in the denominator
    assert relative_error_score("nan", "1") == 0.0  # NaN officially; 0 here
    assert relative_error_score("oops", "1") == 0.0
    assert relative_error_score(None, "1") == 0.0


def test_spearman_score() -> None:
    assert spearman_score("[1, 2, 3, 4]", "[10, 20, 30, 40]") == pytest.approx(1.0)
    assert spearman_score("[4, 3, 2, 1]", "[1, 2, 3, 4]") == 0.0  # ρ = -1, clipped
    assert spearman_score("[1, 3, 2, 4]", "[1, 2, 3, 4]") == pytest.approx(0.8)
    # constant vector: ρ undefined (NaN officially, which would poison the column mean) -> 0
    assert spearman_score("[5, 5, 5, 5]", "[1, 2, 3, 4]") == 0.0
    assert spearman_score("[1, 2, 3]", "[1, 2, 3, 4]") == 0.0  # lengths differ: scipy raises
    assert spearman_score("[1]", "[1]") == 0.0
    assert spearman_score("x", "[1, 2]") == 0.0


def test_spearman_matches_scipy_with_ties() -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = random.Random(3)
    for _ in range(50):
        n = rng.randint(2, 12)
        a = [float(rng.randint(0, 4)) for _ in range(n)]
        b = [float(rng.randint(0, 4)) for _ in range(n)]
        if len(set(a)) == 1 or len(set(b)) == 1:
            continue
        rho = stats.spearmanr(a, b).correlation
        assert spearman_score(str(a), str(b)) == pytest.approx(min(max(rho, 0.0), 1.0), abs=1e-12)


def test_monte_carlo_score() -> None:
    assert monte_carlo_score("Estimated value: 3.14", "Estimated value: 3.14") == 1.0
    assert monte_carlo_score("pi is about: 3.0", "Estimated value: 3.0") == 1.0  # text before ':' ignored
    assert monte_carlo_score("3.3", "Estimated value: 3.0") == pytest.approx(0.9)
    assert monte_carlo_score(None, "x: 1") == 0.0


def test_program_score_dispatch() -> None:
    # numerical ids
    assert program_score("heat_eq_x", "[1.0, 2.0]", fenced("[1.0, 2.2]")) == pytest.approx(0.95)
    assert program_score("power_method_sigma", "2.0", fenced("1.0")) == pytest.approx(0.5)
    # sorting ids
    assert program_score("merge_sort", "[1, 2, 3]", fenced("[1, 2, 3]")) == pytest.approx(1.0)
    assert program_score("quick_sort", "[1, 2, 3]", fenced("[3, 2, 1]")) == 0.0
    # Monte Carlo ids
    assert program_score("mc_2", "Result: 2.0", fenced("Result: 1.5")) == pytest.approx(0.75)
    assert program_score("mc_2", "Result: 2.0", "") == 0.0  # officially this raises
    # exact match, matrix_inv included
    assert program_score("matrix_inv", "[[1.0, 0.0]]", fenced("[[1.0, 0.0]]")) == 1.0
    assert program_score("matrix_inv", "[[1.0, 0.0]]", fenced("[[1.0, 0.00]]")) == 0.0
    assert program_score("tsp", "0 1 2 0", fenced("0 1 2 0")) == 1.0
    assert program_score("binary_search", "3", fenced("4")) == 0.0
    assert program_score("tsp", "0 1 2 0", None) == 0.0


# --- BG, DR: word-set Jaccard ---------------------------------------------------------------------


def test_jaccard() -> None:
    assert jaccard("a b c", "A B C") == 1.0  # lowercased
    assert jaccard("a b c", "c b a a a") == 1.0  # a set: order and repeats do not matter
    assert jaccard("a b", "b c") == pytest.approx(1 / 3)
    assert jaccard("", "  ") == 1.0  # two empty sets
    assert jaccard("", "x") == 0.0
    assert jaccard("a", None) == 0.0


def test_word_jaccard_score() -> None:
    gt = "Compilation Error: /app/test.cpp:3: error: expected ';'"
    assert word_jaccard_score(gt, fenced(gt)) == 1.0
    assert word_jaccard_score("255\n", fenced("255")) == 1.0  # whitespace does not matter
    assert word_jaccard_score("", fenced("")) == 1.0  # empty gt and empty answer
    assert word_jaccard_score("", "Output:") == 0.0  # no answer extracted at all
    # unfenced: only the first paragraph is compared
    assert word_jaccard_score("a\n\nb", "Output:\na\n\nb") == pytest.approx(0.5)


# --- FL ------------------------------------------------------------------------------------------


def _fl(passed: bool, errors: list[tuple[int, str]], column: int = 0) -> str:
    errs = [
        {"severity": "error", "pos": {"line": ln, "column": column}, "endPos": None, "data": msg}
        for ln, msg in errors
    ]
    return json.dumps({"errors": errs, "pass": passed, "complete": passed})


def test_fl_pass_gate() -> None:
    ok = _fl(True, [])
    assert fl_score(ok, ok) == 1.0  # bare JSON reply
    assert fl_score(ok, fenced(ok)) == 1.0
    assert fl_score(ok, f"Output:\n```json\n{ok}\n```") == 1.0
    assert fl_score(ok, _fl(True, [(3, "whatever")])) == 1.0  # both pass: errors not looked at
    assert fl_score(ok, _fl(False, [])) == 0.0  # pass flags differ
    assert fl_score(_fl(False, [(3, "x")]), ok) == 0.0
    # both fail and gt lists no errors: 1 only without predicted errors
    assert fl_score(_fl(False, []), _fl(False, [])) == 1.0
    assert fl_score(_fl(False, []), _fl(False, [(1, "x")])) == 0.0


def test_fl_error_lines() -> None:
    gt = _fl(False, [(7, "unsolved goals x y"), (9, "type mismatch")])
    assert fl_score(gt, fenced(gt)) == 1.0
    # the column is ignored; a missing line contributes 0
    assert fl_score(gt, _fl(False, [(7, "unsolved goals x y")], column=99)) == pytest.approx(0.5)
    # message Jaccard: {unsolved, goals, x} vs {unsolved, goals, x, y} = 3/4
    assert fl_score(gt, _fl(False, [(7, "unsolved goals x"), (9, "type mismatch")])) == pytest.approx(
        (0.75 + 1) / 2
    )
    assert fl_score(gt, _fl(False, [(8, "unsolved goals x y")])) == 0.0


def test_fl_repeated_error_lines() -> None:
    # two gt errors on one line are both compared with the *first* predicted error on that line, so even
    # a perfect reply scores below 1 (why the FL ceiling is 98.79)
    gt = _fl(False, [(5, "alpha beta"), (5, "gamma delta")])
    assert fl_score(gt, gt) == pytest.approx(0.5)
    assert fl_score(gt, _fl(False, [(5, "gamma delta"), (5, "alpha beta")])) == pytest.approx(0.5)
    # repeated predicted lines: later ones are ignored
    gt1 = _fl(False, [(5, "alpha beta")])
    assert fl_score(gt1, _fl(False, [(5, "zeta"), (5, "alpha beta")])) == 0.0


def test_fl_extraction_and_bad_json() -> None:
    gt = _fl(False, [(2, "boom")])
    trailing = '{"errors": [{"pos": {"line": 2, "column": 0}, "data": "boom",},], "pass": false,}'
    assert fl_score(gt, f"Output:\n```json\n{trailing}\n```") == 1.0
    assert fl_score(gt, "Output: it fails on line 2") == 0.0
    assert fl_score(gt, fenced('{"pass": false, "errors": [{"line": 2}]}')) == 0.0  # no pos: 0
    assert fl_score(gt, fenced("[1, 2]")) == 0.0  # not an object
    assert fl_score(gt, None) == 0.0


# --- dispatch -------------------------------------------------------------------------------------


def test_score_item_on_fixture(tmp_path: Path) -> None:
    items = load_surge(write_tiny_surge(tmp_path))
    for subset, records in TINY.items():
        for item, rec in zip(items[subset], records, strict=True):
            assert score_item(item, fenced(rec["gt"])) == pytest.approx(1.0), (subset, item.index)
            assert score_item(item, None) == 0.0


def test_scores_always_in_unit_interval(tmp_path: Path) -> None:
    items = [it for group in load_surge(write_tiny_surge(tmp_path)).values() for it in group]
    rng = random.Random(0)
    pieces = ["Output:", "```", "\n", "**", "`", "nan", "inf", "-1e308", "[", "]", ",", ":", "0", "{", "}"]
    pieces += ['"pass": true', '"errors": []', "------- 0 -------", "1.5", " "]
    for _ in range(400):
        reply = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        for item in items:
            score = score_item(item, reply)
            assert isinstance(score, float) and math.isfinite(score) and 0.0 <= score <= 1.0
