"""Real functions for the downstream tasks, with splits that no function crosses.

Train splits come from the Python standard library (the corpus the embedded default and the
``configs/*smollm2*`` presets read); test splits from pinned third-party packages installed with galla
(``TEST_PACKAGES``), so a test function is in no training data galla writes. Functions are deduplicated
by normalised source (docstring removed, ``ast.unparse``): a test function whose normalised source is also
in the train corpus is dropped, and each split keeps one copy of each. :func:`split_report` says what
was kept and dropped.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.metadata
import importlib.util
import textwrap
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from data_builders.corpora import stdlib_root

TEST_PACKAGES = ("requests", "rich", "networkx")
"""Distributions whose source is the test corpus (installed with galla; versions go in the manifest)."""
TRAIN_EXCLUDE = ("test", "tests", "idle_test", "site-packages", "lib2to3", "turtledemo", "__pycache__")


@dataclass(frozen=True)
class Function:
    """One top-level or method function of a real file."""

    id: str
    """``source:relative/path.py::Qualified.name@line`` (a property and its setter share a name)."""
    source_name: str
    """``stdlib`` or the distribution name."""
    path: str
    name: str
    code: str
    """The function's source, dedented (decorators excluded)."""
    docstring: str | None
    body_without_doc: str
    """The source with its docstring removed (what a summariser sees)."""
    key: str
    """sha1 of the normalised source: the deduplication key."""


def package_root(dist: str) -> Path:
    spec = importlib.util.find_spec(dist)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"package {dist!r} is not installed; `pip install {dist}` (galla's evaluation reads its source)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def package_version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _files(root: Path, exclude: Iterable[str]) -> list[Path]:
    skip = set(exclude)
    return sorted(p for p in root.rglob("*.py") if not skip.intersection(p.relative_to(root).parts[:-1]))


def _without_docstring(fn: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[str]) -> str:
    doc = fn.body[0]
    start = fn.lineno - 1
    kept = lines[start : doc.lineno - 1] + lines[doc.end_lineno : fn.end_lineno]
    return textwrap.dedent("\n".join(kept)).rstrip()


def normalised_key(code: str) -> str:
    """Same for two functions that differ only in layout, comments and docstring."""
    try:
        tree = ast.parse(textwrap.dedent(code))
    except SyntaxError:
        return hashlib.sha1(code.encode()).hexdigest()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return hashlib.sha1(ast.unparse(tree).encode()).hexdigest()


def functions_in(
    root: Path, source_name: str, exclude: Iterable[str] = ("tests", "test")
) -> Iterator[Function]:
    """Every function and method (nested ones skipped) of the ``.py`` files under ``root``, in path order."""
    for path in _files(root, exclude):
        try:
            text = path.read_text(encoding="utf-8")
            tree = ast.parse(text)
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        lines = text.splitlines()
        rel = path.relative_to(root).as_posix()
        todo: list[tuple[ast.AST, str]] = [(tree, "")]
        while todo:
            node, prefix = todo.pop(0)
            for child in getattr(node, "body", []):
                if isinstance(child, ast.ClassDef):
                    todo.append((child, f"{prefix}{child.name}."))
                elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                    code = textwrap.dedent("\n".join(lines[child.lineno - 1 : child.end_lineno]))
                    doc = ast.get_docstring(child, clean=True)
                    has_doc = doc is not None and len(child.body) > 1
                    stripped = _without_docstring(child, lines) if has_doc else code
                    yield Function(
                        id=f"{source_name}:{rel}::{prefix}{child.name}@{child.lineno}",
                        source_name=source_name,
                        path=rel,
                        name=prefix + child.name,
                        code=code,
                        docstring=doc if has_doc else None,
                        body_without_doc=stripped,
                        key=normalised_key(code),
                    )


@functools.cache
def _train_functions() -> tuple[Function, ...]:
    return tuple(_unique(functions_in(stdlib_root(), "stdlib", TRAIN_EXCLUDE)))


def train_functions() -> list[Function]:
    """Functions of the standard library (tests and site-packages excluded), one per normalised source."""
    return list(_train_functions())


def test_functions(
    packages: Iterable[str] = TEST_PACKAGES, train_keys: set[str] | None = None
) -> list[Function]:
    """Functions of the test packages, one per normalised source, none whose source is in ``train_keys``."""
    seen = set(train_keys or ())
    out = []
    for dist in packages:
        for fn in functions_in(package_root(dist), dist):
            if fn.key not in seen:
                seen.add(fn.key)
                out.append(fn)
    return out


def _unique(fns: Iterable[Function]) -> list[Function]:
    seen: set[str] = set()
    out = []
    for fn in fns:
        if fn.key not in seen:
            seen.add(fn.key)
            out.append(fn)
    return out


def split_report(packages: Iterable[str] = TEST_PACKAGES) -> dict[str, object]:
    """Provenance of the splits: sources, versions, counts."""
    return {
        "train": {"source": "stdlib", "root": str(stdlib_root()), "exclude": list(TRAIN_EXCLUDE)},
        "test": {dist: package_version(dist) for dist in packages},
    }
