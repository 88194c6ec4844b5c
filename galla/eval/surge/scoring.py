"""Official SURGE scoring, one function per rule; every score is a float in [0, 1].

Re-implements ``eval/main.py:evall`` and the functions it calls (``rl.py``, ``sc.py``, ``fl.py``) of
github.com/Imbernoulli/SURGE at 3e983a5, as described in reference ``surge.md`` §3. The official code
turns any exception into 0 (or into None, stored as 0); so does this module.

Deliberate deviations, all where the official code yields no usable number:

- NaN (Spearman of a constant vector, relative error of ``nan``/``inf`` values) scores 0; officially
  NaN survives into the column mean and makes it NaN (reference §3, "Edge case").
- A Monte-Carlo item whose reply has no extractable answer scores 0; officially it raises.
"""

from __future__ import annotations

import json
import math
from difflib import SequenceMatcher
from typing import Any

import numpy as np

from galla.eval.surge.data import SurgeItem
from galla.eval.surge.extract import extract_fl_json, extract_output, extract_sudoku

__all__ = [
    "exact_match",
    "fl_score",
    "jaccard",
    "monte_carlo_score",
    "parse_numbers",
    "program_score",
    "relative_error_score",
    "rl_score",
    "score_item",
    "sequence_ratio",
    "spearman_score",
    "word_jaccard_score",
]

# SC/TC program ids scored numerically when they contain one of these (sc.py:evaluate_output)
_NUMERICAL_FIDS = ("gd_", "rk_", "qr_", "lu_", "power_method_", "heat_eq_", "euler_", "fft_")


def score_item(item: SurgeItem, response: str | None) -> float:
    """The official score of ``response`` (the model's full reply) for ``item``; None scores 0."""
    gt = item.gt
    if item.subset in ("ml", "cl"):
        score = exact_match(gt, response)
    elif item.subset == "rl":
        score = rl_score(item.rl_task or "", gt, response)
    elif item.subset in ("sc", "tc"):
        score = program_score(item.fid or "", gt, response)
    elif item.subset in ("bg", "dr"):
        score = word_jaccard_score(gt, response)
    elif item.subset == "fl":
        score = fl_score(gt, response)
    else:
        raise ValueError(f"unknown SURGE subset {item.subset!r}")
    return _unit(score)


# --- ML, CL -----------------------------------------------------------------------------------


def exact_match(gt: str, response: str | None) -> float:
    """ML, CL (reference §3, first row): 1 if the extracted answer equals ``gt`` exactly, else 0.

    The extracted answer is stripped by the extraction; ``gt`` is not.
    """
    return float(gt == extract_output(response))


# --- RL ---------------------------------------------------------------------------------------


def sequence_ratio(gt: str, output: str | None) -> float:
    """``difflib.SequenceMatcher(None, gt, output).ratio()`` (Ratcliff/Obershelp, autojunk on); None -> 0."""
    if not isinstance(output, str):
        return 0.0
    return SequenceMatcher(None, gt, output).ratio()


def rl_score(task: str, gt: str, response: str | None) -> float:
    """RL (reference §3, RL row; ``rl.py:rl_eval``), by task.

    - ``24_game`` and ``plotneuralnet``: ``sequence_ratio(gt, extracted answer)``;
    - ``sudoku``: the larger ratio of (a) the extracted answer and (b) the grid cut out by
      ``extract_sudoku`` and run through ``extract_output`` again; if that grid exists but extracts
      to nothing the official code raises, so the item scores 0;
    - ``car`` and ``cow`` (TUOJ): exact match, 1 or 0.
    """
    if not isinstance(response, str):
        return 0.0
    output = extract_output(response)
    if task in ("24_game", "plotneuralnet"):
        return sequence_ratio(gt, output)
    if task == "sudoku":
        grid = extract_sudoku(response)
        from_grid = extract_output(grid) if grid else ""
        if from_grid is None:
            return 0.0
        return max(sequence_ratio(gt, output or ""), sequence_ratio(gt, from_grid))
    if task in ("car", "cow"):
        return float(gt == output)
    raise ValueError(f"unknown RL task {task!r}")


# --- SC, TC -----------------------------------------------------------------------------------


def parse_numbers(text: str) -> list[float]:
    """Numbers in a printed value, as ``sc.py:parse_numerical_output`` reads them; raises ValueError.

    Tried in order: comma list with ``e+``/``e-``; whitespace list with ``e+``/``e-`` (quotes and
    brackets dropped); ``[[…]]`` matrix (trailing ``.`` of each number dropped); ``[…]`` list (comma
    or whitespace separated); comma list; a single number.
    """
    try:
        s = text.replace("\n", " ").strip()
        scientific = "e+" in s or "e-" in s
        if "," in s and scientific:
            return [float(x.strip()) for x in s.split(",")]
        if scientific:
            return [float(x) for x in s.replace("'", "").replace("[", "").replace("]", "").split()]
        if "[[" in s and "]]" in s:
            return [float(x.rstrip(".")) for x in s.replace("[", "").replace("]", "").split()]
        if s.startswith("[") and s.endswith("]"):
            inner = s.strip("[]")
            parts = inner.split(",") if "," in inner else inner.split()
            return [float(x.strip()) for x in parts if x.strip()]
        if "," in s:
            return [float(x.strip()) for x in s.split(",")]
        return [float(s)]
    except (AttributeError, TypeError, ValueError) as err:
        raise ValueError(f"cannot parse numbers from {text!r}: {err}") from err


def relative_error_score(output: str | None, gt: str) -> float:
    """Numerical rule (reference §3, SC/TC row; ``sc.py:evaluate_numerical``).

    Both strings are parsed with ``parse_numbers``; the prediction is truncated or zero-padded to the
    length of ``gt``; score = clip(1 − mean_i |o_i − g_i| / (|g_i| + 1e-10), 0, 1). Unparsable -> 0.
    """
    try:
        pred, want = parse_numbers(output), parse_numbers(gt)  # type: ignore[arg-type]
    except ValueError:
        return 0.0
    if not want:
        return 0.0  # the official max() over no errors raises
    pred = (pred + [0.0] * len(want))[: len(want)]
    errors = [abs(o - g) / (abs(g) + 1e-10) for o, g in zip(pred, want, strict=True)]
    return _unit(1 - sum(errors) / len(errors))  # NaN (from nan/inf values) -> 0


def spearman_score(output: str | None, gt: str) -> float:
    """Sorting rule (reference §3; ``sc.py:evaluate_sorting``): Spearman ρ clipped to [0, 1].

    Ranks with ties averaged, then Pearson correlation of the ranks (what ``scipy.stats.spearmanr``
    computes). Different lengths or unparsable text -> 0; a constant vector (ρ undefined, NaN in the
    official code) -> 0.
    """
    try:
        pred, want = parse_numbers(output), parse_numbers(gt)  # type: ignore[arg-type]
    except ValueError:
        return 0.0
    if len(pred) != len(want) or len(pred) < 2:
        return 0.0
    a, b = np.asarray(pred, dtype=float), np.asarray(want, dtype=float)
    if np.isnan(a).any() or np.isnan(b).any():
        return 0.0  # scipy propagates NaN
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.corrcoef(_ranks(a), _ranks(b))[0, 1]
    return _unit(rho)


def _ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks with ties given their average rank (``scipy.stats.rankdata(method='average')``)."""
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
    ends = np.r_[starts[1:], len(x)]
    avg = (starts + ends + 1) / 2.0  # mean of ranks start+1 .. end
    ranks = np.empty(len(x))
    ranks[order] = np.repeat(avg, ends - starts)
    return ranks


def monte_carlo_score(output: str | None, gt: str) -> float:
    """Monte-Carlo rule (reference §3; ``sc.py``): the text after the last ``:`` of both, then numerical."""
    if not isinstance(output, str):
        return 0.0
    return relative_error_score(output.split(":")[-1].strip(), gt.split(":")[-1].strip())


def program_score(fid: str, gt: str, response: str | None) -> float:
    """SC, TC (reference §3, SC/TC row; ``sc.py:evaluate_output``): the rule picked by program id.

    After extraction: ids containing ``gd_ rk_ qr_ lu_ power_method_ heat_eq_ euler_ fft_`` ->
    ``relative_error_score``; ids containing ``sort`` -> ``spearman_score``; ids starting ``mc_`` ->
    ``monte_carlo_score``; anything else (tsp, sm_*, hamiltonian_cycle, binary_search, matrix_inv) ->
    exact string equality with the unstripped ``gt``.
    """
    if not isinstance(response, str):
        return 0.0
    output = extract_output(response)
    if any(key in fid for key in _NUMERICAL_FIDS):
        return relative_error_score(output, gt)
    if "sort" in fid:
        return spearman_score(output, gt)
    if fid.startswith("mc_"):
        return monte_carlo_score(output, gt)
    return float(output == gt)


# --- BG, DR -----------------------------------------------------------------------------------


def jaccard(a: Any, b: Any) -> float:
    """Word-set Jaccard (``fl.py:jaccard_similarity``): lowercased, split on whitespace, |∩|/|∪|.

    Two empty sets give 1; a non-string gives 0.
    """
    if not isinstance(a, str) or not isinstance(b, str):
        return 0.0
    set_a, set_b = set(a.lower().split()), set(b.lower().split())
    if not set_a and not set_b:
        return 1.0
    return len(set_a & set_b) / len(set_a | set_b)


def word_jaccard_score(gt: str, response: str | None) -> float:
    """BG, DR (reference §3, BG/DR row): ``jaccard(gt, extracted answer)``; no answer -> 0."""
    return jaccard(gt, extract_output(response))


# --- FL ---------------------------------------------------------------------------------------


def fl_score(gt: str, response: str | None) -> float:
    """FL (reference §3, FL row; ``fl.py:fl_eval``) on the JSON that ``extract_fl_json`` finds.

    Both pass -> 1; pass flags differ -> 0; both fail and ``gt`` lists no errors -> 1 only if the
    prediction lists none. Otherwise each of the N ``gt`` errors adds the Jaccard similarity of its
    message to the message of the *first* predicted error on the same ``pos.line`` (column ignored),
    and the score is sum / N. So two ``gt`` errors on one line are both compared with the first
    predicted error there, which is why a perfect answer cannot reach 100 (reference §3, ceilings).
    Invalid or oddly shaped JSON -> 0.
    """
    pred_json = extract_fl_json(response)
    if pred_json is None:
        return 0.0
    try:
        pred_pass, pred_errors = _fl_result(pred_json)
        gt_pass, gt_errors = _fl_result(gt)
        if pred_pass and gt_pass:
            return 1.0
        if pred_pass != gt_pass:
            return 0.0
        if not gt_errors:
            return 0.0 if pred_errors else 1.0
        first_message: dict[Any, Any] = {}
        for line, message in pred_errors:
            first_message.setdefault(line, message)
        total = sum(jaccard(msg, first_message[line]) for line, msg in gt_errors if line in first_message)
        return total / len(gt_errors)
    except (AttributeError, KeyError, TypeError, ValueError, RecursionError):
        return 0.0


def _fl_result(text: str) -> tuple[Any, list[tuple[Any, Any]]]:
    """``(pass, [(pos.line, data), ...])`` of a Lean result JSON (``fl.py:parse_json_result``)."""
    result = json.loads(text)
    errors = [(error["pos"]["line"], error["data"]) for error in result.get("errors", [])]
    return result.get("pass", False), errors


def _unit(score: float) -> float:
    """A finite float in [0, 1]; anything else (NaN, ±inf) is 0."""
    score = float(score)
    return min(max(score, 0.0), 1.0) if math.isfinite(score) else 0.0
