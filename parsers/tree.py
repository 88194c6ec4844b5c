"""Parse source bytes and flatten the syntax tree into preorder arrays.

Every later pass (AST edges, control flow, data flow, unit slicing) works on these arrays instead of
tree-sitter ``Node`` objects: one cursor walk touches each node once, and a unit is simply a contiguous
preorder range ``[i, stop[i])``. Nothing here recurses on tree depth.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from functools import cache
from importlib import metadata

import numpy as np
import tree_sitter

from parsers.abi import NativeABIError, check_abi
from parsers.languages import LanguageSpec
from parsers.vocab import kind_id

_PUNCTUATION = set("()[]{},;:.`'\"\\")


def _load_native():
    """The C core (``parsers/_native.c``) when it is built against the installed tree-sitter release
    from these sources (:func:`parsers.abi.check_abi`; a warning says when not) and not switched off with
    ``GALLA_NATIVE=0``; else None (the pure-Python engine, same output)."""
    if os.environ.get("GALLA_NATIVE", "1") == "0":
        return None
    try:
        from parsers import _native
    except ImportError:
        return None
    try:
        installed = metadata.version("tree-sitter")
    except metadata.PackageNotFoundError:
        return None
    if installed != _native.TREE_SITTER_VERSION:
        return None
    try:
        check_abi(_native)
    except NativeABIError as err:  # a core built from other sources: its tables would be misread
        warnings.warn(f"{err}. Using the pure-Python engine meanwhile.", RuntimeWarning, stacklevel=2)
        return None
    return _native


native = _load_native()
"""The loaded C core, or None; :func:`flatten` and :mod:`parsers.dataflow` use it when present."""


@dataclass(frozen=True, slots=True)
class Tables:
    """A :class:`LanguageSpec` compiled against its grammar: lookups by grammar kind id and field id."""

    spec: LanguageSpec
    language: tree_sitter.Language
    keep: list[bool]
    """Grammar kind id -> the node becomes a graph node."""
    global_kind: list[int]
    """Grammar kind id -> id in the cross-language vocabulary."""
    names: list[str]
    """Grammar kind id -> kind name."""
    field_names: list[str | None]
    """Grammar field id -> field name (0 -> None)."""
    comments: frozenset[int] = frozenset()
    """Comment kind ids: dropped with their whole subtree (Rust's comments hold ``//`` tokens)."""

    def kinds(self, names: frozenset[str] | set[str]) -> frozenset[int]:
        """Grammar kind ids whose name is in ``names``."""
        return _kinds(tuple(self.names), frozenset(names))

    def field(self, name: str | None) -> int:
        """Grammar field id of a field name; -1 when the grammar has no such field."""
        if name is None:
            return -1
        fid = self.language.field_id_for_name(name)
        return -1 if fid is None else fid


@cache
def tables(spec: LanguageSpec) -> Tables:
    lang = spec.ts_language()
    n = lang.node_kind_count
    names = [lang.node_kind_for_id(i) or "" for i in range(n)]
    keep = []
    for i, name in enumerate(names):
        if name in spec.comment_kinds:
            keep.append(False)
        elif lang.node_kind_is_named(i) or name in spec.keep_tokens:
            keep.append(True)
        else:
            # anonymous tokens: keep operators, drop punctuation and keywords
            keep.append(bool(name) and not all(c in _PUNCTUATION for c in name) and not name.isidentifier())
    # error nodes (kind id 65535 in tree-sitter) get the extra id len(names)
    names.append("ERROR")
    keep.append(True)
    fields = [None] + [lang.field_name_for_id(i) for i in range(1, lang.field_count + 1)]
    comments = frozenset(i for i, nm in enumerate(names) if nm in spec.comment_kinds)
    return Tables(
        spec,
        lang,
        keep,
        [kind_id(nm) for nm in names],
        names,
        fields,
        comments,
    )


@cache
def _kinds(all_names: tuple[str, ...], names: frozenset[str]) -> frozenset[int]:
    return frozenset(i for i, n in enumerate(all_names) if n in names)


@cache
def _kind_mask(kinds: frozenset[int]) -> np.ndarray:
    mask = np.zeros(max(kinds) + 1 if kinds else 1, dtype=bool)
    mask[list(kinds)] = True
    return np.concatenate((mask, np.zeros(1 << 16, dtype=bool)))[: 1 << 16]


def kind_bits(n_kinds: int, groups: Iterable[tuple[int, Collection[int]]], dtype=np.uint8) -> np.ndarray:
    """Per grammar kind id, the OR of ``bit`` over the ``(bit, kinds)`` groups holding it: the per-kind
    flag tables the C core reads."""
    out = np.zeros(n_kinds, dtype=dtype)
    for bit, kinds in groups:
        out[sorted(kinds)] |= bit
    return out


@cache
def parser(spec: LanguageSpec) -> tree_sitter.Parser:
    return tree_sitter.Parser(spec.ts_language())


@dataclass(slots=True)
class FlatTree:
    """Kept nodes of one file in preorder. ``stop[i]`` is one past the last node of ``i``'s subtree.

    The node columns are sequences of ints for scalar lookups: lists from the pure-Python walk,
    int64 memoryviews over the C core's buffers (:meth:`array` gives numpy views of either)."""

    source: bytes
    kind: Sequence[int]
    """Grammar kind ids; error nodes get one past the grammar's last kind (named ``ERROR``)."""
    field: Sequence[int]
    """Field id of the node within its parent, 0 when it has none."""
    start: Sequence[int]
    end: Sequence[int]
    parent: Sequence[int]
    stop: Sequence[int]
    error_bytes: list[tuple[int, int]]
    """Byte ranges of ERROR and MISSING nodes (empty when the file parsed cleanly)."""
    _arrays: dict[str, np.ndarray] = dc_field(default_factory=dict)
    memo: dict[str, object] = dc_field(default_factory=dict)
    """Per-file caches of the engines (keyed by engine and language)."""

    def array(self, name: str) -> np.ndarray:
        """``kind``, ``field``, ``parent``, ``stop``, ``start`` or ``end`` as a cached int64 array."""
        a = self._arrays.get(name)
        if a is None:
            a = self._arrays[name] = np.asarray(getattr(self, name), dtype=np.int64)
        return a

    def nodes_of(self, kinds: frozenset[int], within: np.ndarray | None = None) -> list[int]:
        """Indices of the nodes whose kind is in ``kinds``, in preorder (``within``: a node mask)."""
        if not kinds:
            return []
        mask = _kind_mask(kinds)[self.array("kind")]
        if within is not None:
            mask &= within
        return np.flatnonzero(mask).tolist()

    def __len__(self) -> int:
        return len(self.kind)

    def field_child(self, n: int, fid: int) -> int:
        """First child of ``n`` in grammar field ``fid``, or -1."""
        if fid < 0:
            return -1
        field, stop = self.field, self.stop
        c, end = n + 1, stop[n]
        while c < end:
            if field[c] == fid:
                return c
            c = stop[c]
        return -1

    def children(self, i: int) -> list[int]:
        out = []
        c, stop = i + 1, self.stop[i]
        while c < stop:
            out.append(c)
            c = self.stop[c]
        return out

    def text(self, i: int) -> bytes:
        return self.source[self.start[i] : self.end[i]]

    def line_col(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """0-based (line, byte column) of byte offsets, as tree-sitter's points."""
        starts = self._line_starts()
        line = np.searchsorted(starts, positions, side="right") - 1
        return line.astype(np.int32), (positions - starts[line]).astype(np.int32)

    def _line_starts(self) -> np.ndarray:
        starts = self._arrays.get("line_starts")
        if starts is None:
            buf = np.frombuffer(self.source, dtype=np.uint8)
            starts = np.concatenate(([0], np.flatnonzero(buf == 10) + 1)).astype(np.int64)
            self._arrays["line_starts"] = starts
        return starts


COLUMNS = ("kind", "field", "start", "end", "parent", "stop")
"""The node columns, in the order the C core's ``flatten`` returns and its ``file_context`` takes them."""


def flatten(source: bytes, spec: LanguageSpec, use_native: bool | None = None) -> FlatTree:
    """Parse ``source`` and return its kept nodes in preorder (``use_native``: None = the C core
    where it is built; False = the pure-Python walk; both give the same tree)."""
    if native is not None and use_native is not False:
        from parsers.compiled import compiled  # (it builds on this module)

        bufs, errors = native.flatten(compiled(spec).native(), source)
        # memoryviews, not lists: the passes left in Python look up few nodes, and 11 M ints a corpus
        # cost more to make and free than those lookups save
        ft = FlatTree(source, *(memoryview(b).cast("q") for b in bufs), errors)
        for name, buf in zip(COLUMNS, bufs, strict=True):
            ft._arrays[name] = np.frombuffer(buf, dtype=np.int64)
        return ft
    tree = parser(spec).parse(source)
    tab = tables(spec)
    keep, error_kind, comments = tab.keep, len(tab.keep) - 1, tab.comments
    kind: list[int] = []
    field: list[int] = []
    start: list[int] = []
    end: list[int] = []
    parent: list[int] = []
    stop: list[int] = []
    add_kind, add_field, add_start, add_end, add_parent, add_stop = (
        kind.append,
        field.append,
        start.append,
        end.append,
        parent.append,
        stop.append,
    )
    cursor = tree.walk()
    first_child, next_sibling, go_up = cursor.goto_first_child, cursor.goto_next_sibling, cursor.goto_parent
    own: list[int] = []  # per depth: index of the kept node there, or -1
    owners: list[int] = []
    push_own, pop_own, push_owner, pop_owner = own.append, own.pop, owners.append, owners.pop
    owner = -1  # nearest kept ancestor of the current node
    n = 0
    while True:
        node = cursor.node
        k = node.kind_id
        if k >= error_kind or keep[k]:
            i = n
            n += 1
            add_kind(k if k < error_kind else error_kind)
            add_field(cursor.field_id or 0)
            add_start(node.start_byte)
            add_end(node.end_byte)
            add_parent(owner)
            add_stop(n)
        else:
            i = -2 if k in comments else -1  # -2: a comment, whose tokens are dropped too
        if i != -2 and first_child():
            push_own(i)
            push_owner(owner)
            if i >= 0:
                owner = i
            continue
        while not next_sibling():
            if not go_up():
                break
            j = pop_own()
            owner = pop_owner()
            if j >= 0:
                stop[j] = n
        else:
            continue
        break
    errors: list[tuple[int, int]] = []
    if tree.root_node.has_error:
        errors = _error_ranges(tree.root_node)
    return FlatTree(source, kind, field, start, end, parent, stop, errors)


def _error_ranges(root: tree_sitter.Node) -> list[tuple[int, int]]:
    out = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            out.append((node.start_byte, node.end_byte))
        elif node.has_error:
            stack.extend(node.children)
    return out
