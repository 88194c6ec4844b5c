"""Official SURGE answer extraction: the model's answer cut out of its full reply.

Re-implements ``extract_output`` and ``extract_sudoku`` of the official evaluation code
(github.com/Imbernoulli/SURGE at 3e983a5, ``eval/sc.py`` / ``eval/rl.py``), and the harness rule for
FL (reference ``surge.md`` §2 "Answer extraction" and §3 "Harness rule for FL extraction").
The regular expressions are the official ones; any change here moves every published number.
"""

from __future__ import annotations

import json
import re

__all__ = ["SUDOKU_MARKER", "extract_fl_json", "extract_output", "extract_sudoku"]

_OUTPUT = re.compile(r"Output:\s*\n*(.*)", re.DOTALL)
_BOLD = re.compile(r"\*\*.*?\*\*\s*")  # no DOTALL: a bold span never crosses a line break
_FENCE = re.compile(r"```(?:\w+)?\n(.*?)\n```", re.DOTALL)
_INLINE = re.compile(r"`([^`]+)`")

SUDOKU_MARKER = "------- 0 -------"
_SUDOKU = re.compile(re.escape(SUDOKU_MARKER))
_SUDOKU_GRID_CHARS = 18 * 9 + 2  # nine rows of "d d d d d d d d d\n" plus slack, before the marker

_FL_FENCE = re.compile(r"```(?:json\n)?(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*([\]}])")


def extract_output(text: str | None) -> str | None:
    """The answer in a reply, as the official ``extract_output`` finds it (reference §2, steps 1–6).

    1. strip the reply; 2. keep what follows the first ``Output:`` (if any); 3. delete every
    ``**…**`` span and the whitespace after it; 4. the stripped body of the first fenced block
    ```` ```[word]\\n…\\n``` ````; 5. else the first inline ```code``` span; 6. else the first
    paragraph (text before the first blank line), with ``**`` removed when it starts with ``**``.

    Returns None for an empty answer or a non-string reply (the official function catches every
    exception and returns None).
    """
    if not isinstance(text, str):
        return None
    text = text.strip()
    match = _OUTPUT.search(text)
    body = match.group(1).strip() if match else text
    body = _BOLD.sub("", body)
    fence = _FENCE.search(body)
    if fence:
        return fence.group(1).strip()
    inline = _INLINE.search(body)
    if inline:
        return inline.group(1).strip()
    first = body.split("\n\n")[0].strip()
    if first.startswith("**"):
        first = first.replace("**", "").strip()
    return first or None


def extract_sudoku(text: str | None) -> str | None:
    """The final sudoku grid in a reply (official ``extract_sudoku``, reference §3 RL row).

    The ``18·9+2`` characters before the *last* ``------- 0 -------`` marker, plus the marker. The
    slice uses Python's semantics exactly as the official code does: when the marker sits fewer than
    164 characters into the reply the start index goes negative, which means "from the start" in a
    short reply and wraps around from the end in a longer one (giving "", treated as "no grid").
    """
    if not isinstance(text, str):
        return None
    text = text.strip()
    # finditer, not rfind: overlapping markers ("------- 0 ------- 0 -------") resolve as officially
    matches = list(_SUDOKU.finditer(text))
    if not matches:
        return None
    last = matches[-1]
    return text[last.start() - _SUDOKU_GRID_CHARS : last.end()]


def extract_fl_json(text: str | None) -> str | None:
    """The JSON compilation result in an FL reply (reference §3, "Harness rule for FL extraction").

    If the whole reply parses as JSON it is used as is. Otherwise: the stripped content of the first
    fenced block (```` ``` ```` or ```` ```json ````, the official ``extract_code`` pattern) with
    trailing commas before ``]`` / ``}`` removed; ``\\"`` and ``\\\\`` are *not* un-escaped.

    Ambiguity resolved here: the rule does not say what to do when there is no fenced block. Like the
    official ``extract_code``, the whole stripped reply (trailing commas removed) is used then; it
    scores 0 unless that makes it valid JSON.
    """
    if not isinstance(text, str):
        return None
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        pass
    else:
        return text
    fence = _FL_FENCE.search(text)
    body = fence.group(1).strip() if fence else text.strip()
    return _TRAILING_COMMA.sub(r"\1", body)
