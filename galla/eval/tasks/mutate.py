"""Single-bug mutations of a Python function, made with :mod:`ast` and spliced into the original source.

Four operators (:data:`OPERATORS`), each applied at one site inside the target function (never in its
docstring, never inside an f-string):

- ``operator``: ``+``/``-`` (only when an operand is visibly numeric: a number literal or a call to
  ``len``/``int``/``abs``/``ord``/``sum``/``min``/``max``, so strings and sets never meet ``-``),
  ``<``/``<=``, ``>``/``>=``, ``==``/``!=``, ``is``/``is not``, ``in``/``not in``, ``and``/``or``
  (``+=``/``-=`` too);
- ``off_by_one``: an integer literal (not a bool) ``n`` becomes ``n + 1`` or ``n - 1``;
- ``wrong_variable``: a read of a local is replaced by another local that is a parameter or is assigned on
  an earlier line (never a name bound only in a comprehension, a lambda or a nested function);
- ``negate``: an ``if``/``while`` test ``t`` becomes ``not t`` (parenthesised as needed; ``not t``
  becomes ``t``).

These rules make every mutant well-typed by construction: an operator is swapped for one that accepts the
same operand types, an int stays an int, a replaced name is bound where it is read. Only the mutated node's
text changes (the rest of the source keeps its layout and comments), and the spliced source is parsed back
and checked to equal the mutated tree. :func:`mutants` yields the candidates in an order fixed by the
function's id and the seed; whether a mutant changes behaviour is for the caller to check by execution.
"""

from __future__ import annotations

import ast
import copy
import random
from collections.abc import Iterator
from dataclasses import dataclass

OPERATORS = ("operator", "off_by_one", "wrong_variable", "negate")

_SWAP: dict[type, type] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.And: ast.Or,
    ast.Or: ast.And,
}
_NUMERIC_CALLS = frozenset({"len", "int", "abs", "ord", "sum", "min", "max"})
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp)
_SCOPES += (ast.GeneratorExp, ast.ClassDef)


@dataclass(frozen=True)
class Mutation:
    kind: str
    """One of :data:`OPERATORS`."""
    line: int
    """1-based line of the mutated node in ``code``."""
    before: str
    after: str
    code: str
    """The whole mutated source."""


def normalise(code: str) -> str | None:
    """``ast.unparse(ast.parse(code))`` (layout and comments folded away), or None if it does not parse."""
    try:
        return ast.unparse(ast.parse(code))
    except (SyntaxError, ValueError):
        return None


def _numeric(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, int | float) and not isinstance(node.value, bool)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return _numeric(node.operand)
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _NUMERIC_CALLS


def _target(tree: ast.Module, entry: str | None) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and (entry is None or node.name == entry):
            return node
    return None


def _walk_own(fn: ast.AST) -> Iterator[tuple[ast.AST, bool]]:
    """Every node under ``fn`` with whether it lies in a nested scope; f-strings and the docstring skipped."""
    body = list(getattr(fn, "body", []))
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    fields = [getattr(fn, "args", None), *body]
    todo: list[tuple[ast.AST, bool]] = [(n, False) for n in fields if n is not None]
    while todo:
        node, nested = todo.pop(0)
        if isinstance(node, ast.JoinedStr):
            continue
        yield node, nested
        inner = nested or isinstance(node, _SCOPES)
        todo.extend((child, inner) for child in ast.iter_child_nodes(node))


def _locals(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, int]:
    """Local names of ``fn`` and the first line each is bound on (parameters: the ``def`` line)."""
    a = fn.args
    bound = {arg.arg: fn.lineno for arg in (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg) if arg}
    for node, nested in _walk_own(fn):
        if not nested and isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.setdefault(node.id, node.lineno)
    return bound


def _sites(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[tuple[str, ast.AST, object]]:
    """``(kind, node, choice)`` for every place an operator applies (choice: the replacement detail)."""
    names = _locals(fn)
    out: list[tuple[str, ast.AST, object]] = []
    for node, nested in _walk_own(fn):
        if isinstance(node, ast.BinOp | ast.AugAssign) and type(node.op) in _SWAP:
            left, right = (
                (node.left, node.right) if isinstance(node, ast.BinOp) else (node.target, node.value)
            )
            if _numeric(left) or _numeric(right):
                out.append(("operator", node, None))
        elif isinstance(node, ast.Compare):
            out += [("operator", node, i) for i, op in enumerate(node.ops) if type(op) in _SWAP]
        elif isinstance(node, ast.BoolOp):
            out.append(("operator", node, None))
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, int)
            and not isinstance(node.value, bool)
        ):
            out += [("off_by_one", node, 1), ("off_by_one", node, -1)]
        elif isinstance(node, ast.If | ast.While):
            out.append(("negate", node.test, None))
        elif (
            not nested
            and isinstance(node, ast.Name)
            and isinstance(node.ctx, ast.Load)
            and node.id in names
            and names[node.id] < node.lineno
        ):
            others = sorted(n for n, line in names.items() if n != node.id and line < node.lineno)
            out += [("wrong_variable", node, other) for other in others]
    return out


def _apply(node: ast.AST, kind: str, choice: object) -> ast.AST:
    """A mutated copy of ``node``."""
    new = copy.deepcopy(node)
    if kind == "operator":
        if isinstance(new, ast.Compare):
            assert isinstance(choice, int)
            new.ops[choice] = _SWAP[type(new.ops[choice])]()
        else:
            new.op = _SWAP[type(new.op)]()
    elif kind == "off_by_one":
        assert isinstance(choice, int)
        new.value = new.value + choice
    elif kind == "wrong_variable":
        new.id = choice
    elif kind == "negate":
        new = (
            new.operand
            if isinstance(new, ast.UnaryOp) and isinstance(new.op, ast.Not)
            else ast.UnaryOp(ast.Not(), new)
        )
    return new


def _splice(code: str, node: ast.AST, text: str) -> str:
    lines = code.encode("utf-8").splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    raw = code.encode("utf-8")
    a = starts[node.lineno - 1] + node.col_offset
    b = starts[node.end_lineno - 1] + node.end_col_offset
    return (raw[:a] + text.encode("utf-8") + raw[b:]).decode("utf-8")


def mutants(code: str, fid: str, seed: int = 0, entry: str | None = None) -> Iterator[Mutation]:
    """The mutants of ``code``'s function ``entry`` (default: the first top-level function), in the order
    fixed by ``fid`` and ``seed``: operators in a shuffled round robin, sites shuffled within each."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return
    fn = _target(tree, entry)
    if fn is None:
        return
    rng = random.Random(f"{seed}:{fid}")
    by_kind: dict[str, list[tuple[str, ast.AST, object]]] = {k: [] for k in OPERATORS}
    for site in _sites(fn):
        by_kind[site[0]].append(site)
    kinds = [k for k in OPERATORS if by_kind[k]]
    rng.shuffle(kinds)
    for k in kinds:
        rng.shuffle(by_kind[k])
    order = []
    while any(by_kind[k] for k in kinds):
        order += [by_kind[k].pop() for k in kinds if by_kind[k]]
    nodes = list(ast.walk(tree))
    for kind, node, choice in order:
        new = _apply(node, kind, choice)
        mutated_tree = copy.deepcopy(tree)
        idx = nodes.index(node)
        old_copy = list(ast.walk(mutated_tree))[idx]
        _replace(mutated_tree, old_copy, new)
        expected = ast.dump(mutated_tree)
        text = ast.unparse(new)
        for candidate in (text, f"({text})"):
            mutated = _splice(code, node, candidate)
            try:
                if ast.dump(ast.parse(mutated)) == expected:
                    before = ast.get_source_segment(code, node) or ast.unparse(node)
                    yield Mutation(kind, node.lineno, before, candidate, mutated)
                    break
            except SyntaxError:
                continue


def _replace(tree: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for parent in ast.walk(tree):
        for name, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, name, new)
                return
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if item is old:
                        value[i] = new
                        return
    raise ValueError("node not in tree")
