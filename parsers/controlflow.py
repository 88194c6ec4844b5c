"""Statement-level control flow, one graph per scope, from the language tables alone.

A scope (function, lambda, or the module's top level) becomes a list of *points*: the scope entry
(parameters), every simple statement, the head of every compound statement (its condition, switch value,
with items), plus two extra points per loop kind that evaluates in two places: the iterable of a
``for``-each loop (read once, before the loop) and the update of a C-style ``for`` (run after each body).
Each point has an anchor node (the node CFG_NEXT edges attach to) and the subtrees whose variable
accesses it performs, in order; :mod:`parsers.dataflow` runs its fixpoint over these points.

Successors are found structurally: ``first(n)`` is where statement ``n`` starts and ``after(n)`` where
control goes when it ends normally (the next statement of its block, a loop head, the end of an
enclosing ``if`` ...). Both walk the tree with loops and a memo, never recursion on depth. Jumps
(return, break, continue, raise) walk up to their target and detour through ``finally`` clauses.

Where the C core is built, ``parsers/_native.c`` runs this same builder from :func:`native_flow_tables`
(``parsers.dataflow.flow_edges``); the class here stays the reference the tests compare it with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from itertools import pairwise
from typing import get_args

import numpy as np

from parsers import tree as _tree
from parsers.languages import Compound, LanguageSpec, Role
from parsers.names import unit_parameters
from parsers.tree import FlatTree, Tables, kind_bits, tables

EXIT = ("x", -1)
Key = tuple[str, int]
"""A control-flow target before resolution: ("s", n) the point of statement n, ("i", n) a loop's
iterable/initialiser point, ("u", n) a for loop's update point, ("f", n) the end of finally clause n."""


@dataclass(frozen=True, slots=True)
class FlowTables:
    """Control-flow tables of one language, keyed by grammar kind id and field id."""

    tab: Tables
    compound: dict[int, Compound]
    blocks: frozenset[int]
    non_statements: frozenset[int]
    functions: frozenset[int]
    scopes: frozenset[int]
    """Function kinds plus scope-only kinds (lambdas)."""
    classes: frozenset[int]
    returns: frozenset[int]
    breaks: frozenset[int]
    continues: frozenset[int]
    raises: frozenset[int]
    loops: frozenset[int]
    switches: frozenset[int]
    labels: frozenset[int]
    """Kinds of a field-less label child (``LanguageSpec.label_kinds``)."""
    fid: dict[str, int]
    """Field name -> grammar field id (-1 if absent)."""
    named: list[bool]
    statement: list[bool]
    """Grammar kind id -> may be a statement of a block (named, not a non-statement kind)."""
    inline: frozenset[int] = frozenset()
    """Field-less children whose fields count as their parent's (``LanguageSpec.inline_kinds``)."""
    self_labelled: frozenset[int] = frozenset()
    fallthroughs: frozenset[int] = frozenset()
    break_targets: frozenset[int] = frozenset()
    """What a plain ``break`` leaves: loops, and switches where ``LanguageSpec.break_leaves_switch``."""
    gotos: frozenset[int] = frozenset()
    """Statements that jump to a labelled statement of their scope (``LanguageSpec.goto_kinds``)."""


@cache
def flow_tables(spec: LanguageSpec) -> FlowTables:
    tab = tables(spec)
    lang = tab.language
    compound = {}
    for i, name in enumerate(tab.names):
        if name in spec.compounds:
            compound[i] = spec.compounds[name]
    field_names = {"alternative", "label", spec.name_field, spec.parameters_field, spec.function_body_field}
    if spec.jump_label_field:
        field_names.add(spec.jump_label_field)
    if spec.parameter_field:
        field_names.add(spec.parameter_field)
    field_names.update(spec.entry_fields)
    for c in spec.compounds.values():
        field_names.update(
            f
            for f in (*c.head, c.body, c.alternative, c.target, c.iterable, c.init, c.update, c.label)
            if f and f != "*"
        )
    fid = {f: tab.field(f) for f in field_names}
    roles = {i: c.role for i, c in compound.items()}
    named = [lang.node_kind_is_named(i) for i in range(len(tab.names) - 1)] + [True]  # + ERROR
    return FlowTables(
        tab=tab,
        compound=compound,
        blocks=tab.kinds(spec.block_kinds),
        non_statements=tab.kinds(spec.non_statement_kinds),
        functions=tab.kinds(spec.function_kinds),
        scopes=tab.kinds(spec.function_kinds | spec.scope_only_kinds),
        classes=tab.kinds(spec.class_kinds),
        returns=tab.kinds(spec.return_kinds),
        breaks=tab.kinds(spec.break_kinds),
        continues=tab.kinds(spec.continue_kinds),
        raises=tab.kinds(spec.raise_kinds),
        loops=frozenset(i for i, r in roles.items() if r in ("while", "for_each", "for", "do")),
        switches=frozenset(i for i, r in roles.items() if r == "switch"),
        labels=tab.kinds(spec.label_kinds),
        fid=fid,
        named=named,
        statement=[nm and i not in tab.kinds(spec.non_statement_kinds) for i, nm in enumerate(named)],
        inline=tab.kinds(spec.inline_kinds),
        self_labelled=tab.kinds(spec.self_labelled_kinds),
        fallthroughs=tab.kinds(spec.fallthrough_kinds),
        gotos=tab.kinds(spec.goto_kinds),
        break_targets=frozenset(
            i
            for i, r in roles.items()
            if r in ("while", "for_each", "for", "do") or (r == "switch" and spec.break_leaves_switch)
        ),
    )


ROLES = get_args(Role)
"""Compound roles in the order the C core numbers them (``parsers/_native.c``: ``R_IF`` ...), which is
the order :data:`~parsers.languages.Role` lists them in."""

_F_NONE, _F_STAR = -2, -3
"""How the C core's tables write a field given as None, and ``"*"`` in a head."""


@cache
def native_flow_tables(spec: LanguageSpec) -> object:
    """The C core's copy of :func:`flow_tables` (a capsule for ``_native.build_cfg`` / ``scope_flows``).

    Kind sets become bits per grammar kind; fields become field ids (-1: absent from the grammar,
    ``_F_NONE``: None in the table, so ``child`` takes the last block child as it does here)."""
    fl = flow_tables(spec)
    names = fl.tab.names
    nk = len(names)

    def fid(name: str | None) -> int:
        return _F_NONE if name is None else fl.fid.get(name, -1)

    statements = [i for i, ok in enumerate(fl.statement) if ok]
    named = [i for i, ok in enumerate(fl.named) if ok]
    groups = (  # _native.c's KB_BLOCK, KB_STATEMENT, ... in bit order
        fl.blocks, statements, fl.functions, fl.scopes, fl.returns, fl.breaks, fl.continues, fl.raises,
        fl.loops, fl.switches, fl.labels, fl.inline, fl.self_labelled, fl.fallthroughs, fl.break_targets,
        fl.gotos, named,
    )  # fmt: skip
    flags = kind_bits(nk, ((1 << bit, kinds) for bit, kinds in enumerate(groups)), np.uint32)
    comp_of = np.full(nk, -1, dtype=np.int32)
    comps = []
    sets = np.zeros((len(fl.compound), nk), dtype=np.uint8)
    for j, (k, c) in enumerate(sorted(fl.compound.items())):
        comp_of[k] = j
        if c.role == "labeled":
            flags[k] |= 1 << 17
        for bit, group in enumerate(
            (c.clauses, c.else_kinds, c.finally_kinds, c.default_kinds, c.empty_kinds, c.head_kinds)
        ):
            sets[j, [i for i, nm in enumerate(names) if nm in group]] |= 1 << bit
        comps.append(
            (
                ROLES.index(c.role),
                tuple(_F_STAR if h == "*" else fid(h) for h in c.head),
                c.head == ("*",),
                *(fid(f) for f in (c.body, c.alternative, c.target, c.iterable, c.init, c.update, c.label)),
                tuple(fid(f) for f in c.tail),
                c.fallthrough,
                bool(c.head_kinds),
                tuple(p.encode() for p in c.default_prefixes),
            )
        )
    return _tree.native.flow_tables(
        flags.tobytes(),
        comp_of.tobytes(),
        sets.tobytes(),
        comps,
        fid(spec.parameters_field),
        fid(spec.parameter_field),
        fid(spec.function_body_field),
        fid(spec.jump_label_field),
        tuple(fid(f) for f in spec.entry_fields),
    )


@dataclass(slots=True)
class ScopeCFG:
    """Control flow of one scope. Point 0 is the entry (the scope node, writing its parameters)."""

    scope: int
    anchor: list[int] = field(default_factory=list)
    """Point -> node the point's CFG_NEXT edges attach to."""
    reads: list[list[int]] = field(default_factory=list)
    """Point -> root nodes of the subtrees whose accesses the point performs, in evaluation order."""
    succ: list[list[int]] = field(default_factory=list)
    """Point -> successor points (the scope exit is left out)."""


class _Builder:
    def __init__(self, ft: FlatTree, flow: FlowTables, scope: int) -> None:
        self.ft = ft
        self.fl = flow
        self.scope = scope
        self.kind = ft.kind
        self.memo: dict[int, Key] = {}
        self.points: dict[Key, int] = {}
        self.cfg = ScopeCFG(scope)
        self.raw_succ: list[list[Key]] = []
        self.pending: dict[int, list[Key]] = {}
        self.try_of_finally: dict[int, int] = {}
        self.stmts: dict[int, list[int]] = {}
        self.position: dict[int, int] = {}
        self.goto_labels: dict[bytes, int] | None = None

    # --- tree helpers -------------------------------------------------------------------------
    def child(self, n: int, fname: str | None) -> int:
        """First child of ``n`` with field ``fname`` (None: the last block child); -1 if none."""
        ft = self.ft
        if fname is None:
            found = -1
            for c in ft.children(n):
                if self.kind[c] in self.fl.blocks:
                    found = c
            return found
        fid = self.fl.fid.get(fname, -1)
        if fid < 0:
            return -1
        c = ft.field_child(n, fid)
        if c >= 0:
            return c
        if self.fl.inline:
            found_inline = self._inline_fields(n, fid)
            return found_inline[0] if found_inline else -1
        return -1

    def children_with_field(self, n: int, fname: str | None) -> list[int]:
        fid = self.fl.fid.get(fname, -1) if fname else -1
        if fid < 0:
            return []
        out = [c for c in self.ft.children(n) if self.ft.field[c] == fid]
        if not out and self.fl.inline:
            out = self._inline_fields(n, fid)
        return out

    def _inline_fields(self, n: int, fid: int) -> list[int]:
        """Children with field ``fid`` of ``n``'s field-less inline children (Go's ``for_clause``)."""
        ft, inline = self.ft, self.fl.inline
        return [
            d
            for c in ft.children(n)
            if ft.field[c] == 0 and self.kind[c] in inline
            for d in ft.children(c)
            if ft.field[d] == fid
        ]

    def statements(self, n: int) -> list[int]:
        """Statements directly inside block (or body-less case clause) ``n``."""
        cached = self.stmts.get(n)
        if cached is not None:
            return cached
        fl, kind, ft = self.fl, self.kind, self.ft
        ok, stop, field = fl.statement, ft.stop, ft.field
        comp = fl.compound.get(kind[n])
        skip = {fl.fid.get(h, -1) for h in comp.head} if comp is not None and comp.role == "case" else ()
        out = []
        c, end = n + 1, stop[n]
        while c < end:
            if ok[kind[c]] and field[c] not in skip:
                self.position[c] = len(out)
                out.append(c)
            c = stop[c]
        self.stmts[n] = out
        return out

    def head_nodes(self, n: int, comp: Compound) -> list[int]:
        if comp.head == ("*",):
            parts = {comp.body, comp.alternative}
            excluded = {self.fl.fid.get(p, -2) for p in parts if p}
            body = self.child(n, comp.body) if comp.body is None or comp.body in self.fl.fid else -1
            return [
                c
                for c in self.ft.children(n)
                if self.ft.field[c] not in excluded
                and c != body
                and self.kind[c] not in self.fl.blocks
                and self.kind[c] not in self.fl.compound
            ]
        out = []
        for h in comp.head:
            out.extend(self.children_with_field(n, h))
        if comp.head_kinds:
            names = self.fl.tab.names
            out.extend(c for c in self.ft.children(n) if names[self.kind[c]] in comp.head_kinds)
        out.sort()
        return out

    def case_body(self, n: int, comp: Compound) -> int:
        """The node whose statements form a case's body: its body field, or the case itself."""
        if comp.body is not None:
            b = self.child(n, comp.body)
            if b >= 0:
                return b
        return n

    def labeled_body(self, n: int, comp: Compound) -> int:
        """The statement a label names: its body field, or (body None) the last statement child."""
        if comp.body is not None:
            return self.child(n, comp.body)
        found = -1
        for c in self.ft.children(n):
            if self.fl.statement[self.kind[c]]:
                found = c
        return found

    def clauses(self, n: int, comp: Compound) -> list[int]:
        """Handler / case clauses of a try or switch, among its children and its body's children."""
        names = self.fl.tab.names
        out = [c for c in self.ft.children(n) if names[self.kind[c]] in comp.clauses]
        if not out and comp.body is not None:
            body = self.child(n, comp.body)
            if body >= 0:
                out = [c for c in self.ft.children(body) if names[self.kind[c]] in comp.clauses]
        return out

    def kind_name(self, n: int) -> str:
        return self.fl.tab.names[self.kind[n]]

    def for_inits(self, n: int, comp: Compound) -> list[int]:
        """The initialiser parts of C-style for ``n`` (``i = 0, j = 1``: several), empty ones left out."""
        inits = self.children_with_field(n, comp.init)
        if comp.empty_kinds:
            inits = [c for c in inits if self.kind_name(c) not in comp.empty_kinds]
        return inits

    def for_condition(self, n: int, comp: Compound) -> int:
        """The condition of C-style for ``n``: the first head part present (``"*"``: a field-less child
        that is no block, compound or inline kind, as Go's ``for x < 3``); -1 when it has none."""
        for h in comp.head:
            if h != "*":
                c = self.child(n, h)
            else:
                fl, ft = self.fl, self.ft
                c = next(
                    (
                        c
                        for c in ft.children(n)
                        if ft.field[c] == 0
                        and fl.named[self.kind[c]]
                        and self.kind[c] not in fl.blocks
                        and self.kind[c] not in fl.compound
                        and self.kind[c] not in fl.inline
                    ),
                    -1,
                )
            if c >= 0:
                return c
        return -1

    # --- first / after ------------------------------------------------------------------------
    def first(self, n: int) -> Key:
        fl = self.fl
        while True:
            k = self.kind[n]
            if k in fl.blocks:
                stmts = self.statements(n)
                if not stmts:
                    return self.after(n)
                n = stmts[0]
                continue
            comp = fl.compound.get(k)
            if comp is None:
                return ("s", n)
            if comp.role in ("for_each", "for") and comp.iterable and self.child(n, comp.iterable) >= 0:
                return ("i", n)
            if comp.role == "for" and self.for_inits(n, comp):
                return ("i", n)
            if comp.role in ("do", "labeled"):
                body = self.labeled_body(n, comp) if comp.role == "labeled" else self.child(n, comp.body)
                if body < 0:
                    return self.after(n)
                n = body
                continue
            return ("s", n)

    def after(self, n: int) -> Key:
        chain = []
        while True:
            if n in self.memo:
                res = self.memo[n]
                break
            chain.append(n)
            step = self._after_step(n)
            if isinstance(step, tuple):
                res = step
                break
            n = step
        for c in chain:
            self.memo[c] = res
        return res

    def _after_step(self, n: int) -> Key | int:
        """The target after ``n`` ends normally, or a node whose ``after`` it equals."""
        fl, ft = self.fl, self.ft
        p = ft.parent[n]
        if p < 0 or n == self.scope or (p == self.scope and self.kind[p] not in fl.blocks):
            return EXIT  # (a scope that is a block, like a module, is its own statement list)
        kp = self.kind[p]
        comp = fl.compound.get(kp)
        if kp in fl.blocks or (comp is not None and comp.role == "case" and self.case_body(p, comp) == p):
            stmts = self.statements(p)
            i = self.position.get(n, len(stmts) - 1)
            if i + 1 < len(stmts):
                return self.first(stmts[i + 1])
            if comp is not None:  # end of a body-less case clause
                return self._after_case(p, comp)
            return p
        if comp is None:
            return p
        role = comp.role
        is_alt = ft.field[n] == fl.fid.get(comp.alternative or "", -2)
        if role in ("while", "for_each", "do"):
            return p if is_alt else ("s", p)
        if role == "for":
            if is_alt:
                return p
            return ("u", p) if comp.update and self.child(p, comp.update) >= 0 else ("s", p)
        if role == "try":
            return self._after_try_part(p, comp, n)
        if role == "case":
            return self._after_case(p, comp)
        if role == "sequence" and comp.tail:
            return ("t", p)
        if role in ("elif", "else", "sequence"):
            gp = ft.parent[p]
            gcomp = fl.compound.get(self.kind[gp]) if gp >= 0 else None
            if gcomp is not None and gcomp.role == "try":
                return self._after_try_part(gp, gcomp, p)
            if gcomp is not None and gcomp.role in ("while", "for_each", "for", "do"):
                return gp  # loop else clause: leaves the loop
            return p if gp < 0 or gcomp is None or gcomp.role != "if" else gp
        return p

    def _after_try_part(self, t: int, comp: Compound, part: int) -> Key | int:
        kname = self.kind_name(part)
        fin = [c for c in self.ft.children(t) if self.kind_name(c) in comp.finally_kinds]
        if kname in comp.finally_kinds:
            self.try_of_finally[part] = t
            return ("f", part)
        if kname not in comp.clauses and kname not in comp.else_kinds:  # the try body itself
            els = [c for c in self.ft.children(t) if self.kind_name(c) in comp.else_kinds]
            if els:
                return self.first(els[0])
        if fin:
            return self.first(fin[0])
        return t

    def _after_case(self, c: int, comp: Compound) -> Key | int:
        sw = self.ft.parent[c]
        while sw >= 0 and self.kind[sw] not in self.fl.switches:
            sw = self.ft.parent[sw]
        if sw < 0:
            return self.ft.parent[c]
        scomp = self.fl.compound[self.kind[sw]]
        if scomp.fallthrough or comp.fallthrough:
            cases = self.clauses(sw, scomp)
            i = cases.index(c) if c in cases else -1
            for nxt in cases[i + 1 :] if i >= 0 else ():  # into the next case with statements
                ncomp = self.fl.compound.get(self.kind[nxt])
                body = self.case_body(nxt, ncomp) if ncomp else nxt
                stmts = self.statements(body)
                if stmts:
                    return self.first(stmts[0])
        return sw

    # --- jumps --------------------------------------------------------------------------------
    def label_text(self, n: int, fname: str | None) -> bytes | None:
        c = self.child(n, fname) if fname else -1
        if c < 0 and self.fl.labels:  # a label without a field: the first child of a label kind
            c = next((x for x in self.ft.children(n) if self.kind[x] in self.fl.labels), -1)
        return self.ft.text(c) if c >= 0 else None

    def jump_target(self, j: int, what: str) -> Key:
        """Target of a return/break/continue/raise at node ``j`` (detouring through finally)."""
        fl, ft = self.fl, self.ft
        label = (
            self.label_text(j, self.fl.tab.spec.jump_label_field) if what in ("break", "continue") else None
        )
        cur = j
        while True:
            a = ft.parent[cur]
            if a < 0 or cur == self.scope or a == self.scope:
                return EXIT
            ka = self.kind[a]
            if label is not None and ka in fl.self_labelled and self.label_text(a, None) == label:
                if what == "break":  # Rust's `'a: loop { break 'a; }`
                    return self.after(a)
                if ka in fl.loops:
                    return self._continue_key(a)
            comp = fl.compound.get(ka)
            if comp is not None:
                if label is not None and comp.role == "labeled" and self.label_text(a, comp.label) == label:
                    body = self.labeled_body(a, comp)
                    if what == "break":
                        return self.after(a)
                    if body >= 0 and self.kind[body] in fl.loops:
                        return self._continue_key(body)
                from_else = comp.alternative is not None and ft.field[cur] == fl.fid.get(comp.alternative, -2)
                leaves = ka in fl.break_targets and not (ka in fl.loops and from_else)
                if label is None and what == "break" and leaves:
                    return self.after(a)
                if label is None and what == "continue" and ka in fl.loops and not from_else:
                    return self._continue_key(a)
                if comp.role == "try" and self.kind_name(cur) not in comp.finally_kinds:
                    fin = [c for c in ft.children(a) if self.kind_name(c) in comp.finally_kinds]
                    if fin:
                        real = self.jump_target(a, what) if what != "raise" else EXIT
                        self.pending.setdefault(fin[0], []).append(real)
                        self.try_of_finally[fin[0]] = a
                        return self.first(fin[0])
            cur = a

    def _continue_key(self, loop: int) -> Key:
        comp = self.fl.compound[self.kind[loop]]
        if comp.role == "for" and comp.update and self.child(loop, comp.update) >= 0:
            return ("u", loop)
        return ("s", loop)

    # --- points -------------------------------------------------------------------------------
    def point(self, key: Key, anchor: int, reads: list[int], succ: list[Key]) -> None:
        self.points[key] = len(self.cfg.anchor)
        self.cfg.anchor.append(anchor)
        self.cfg.reads.append(reads)
        self.raw_succ.append(succ)

    def build(self) -> ScopeCFG:
        fl = self.fl
        scope = self.scope
        spec = fl.tab.spec
        params = self.child(scope, spec.parameters_field) if self.kind[scope] in fl.scopes else -1
        if params < 0 and spec.declarator_fields and self.kind[scope] in fl.scopes:
            params = unit_parameters(self.ft, spec, scope)  # C's `int *f(int a)`: in a declarator
        if params < 0 and spec.parameter_field and self.kind[scope] in fl.scopes:
            params = self.child(scope, spec.parameter_field)  # `x => x`: a lone parameter
        entry = [params] if params >= 0 else []
        if spec.entry_fields and self.kind[scope] in fl.scopes:  # Go's receiver and named results
            entry = sorted(entry + [c for f in spec.entry_fields for c in self.children_with_field(scope, f)])
        body = self.child(scope, spec.function_body_field) if self.kind[scope] in fl.scopes else scope
        if body < 0 and self.kind[scope] in fl.blocks:
            body = scope  # a scope that is its own statement list (Java class bodies)
        if self.kind[scope] in fl.scopes and body < 0:  # e.g. an abstract method with no body
            self.point(("s", scope), scope, entry, [])
            return self._finish()
        is_block = self.kind[body] in fl.blocks
        entry_succ = [self.first(body)] if is_block else [("s", body)]
        self.point(("s", scope), scope, entry, entry_succ)
        if not is_block:  # expression body (lambda)
            self.point(("s", body), body, [body], [])
            return self._finish()
        stack: list[tuple[int, tuple[Key, ...]]] = [(body, ())]
        while stack:
            n, handlers = stack.pop()
            k = self.kind[n]
            if k in fl.blocks:
                stmts = self.statements(n)
                memo = self.memo
                for a, b in pairwise(stmts):  # after(a) is where the next statement starts
                    if a not in memo:
                        memo[a] = self.first(b)
                stack.extend((s, handlers) for s in reversed(stmts))
                continue
            comp = fl.compound.get(k)
            if comp is None:
                self._simple(n, handlers)
                continue
            self._compound(n, comp, handlers, stack)
        return self._finish()

    def _simple(self, n: int, handlers: tuple[Key, ...]) -> None:
        fl, k = self.fl, self.kind[n]
        if k in fl.returns:
            succ = [self.jump_target(n, "return")]
        elif k in fl.breaks:
            succ = [self.jump_target(n, "break")]
        elif k in fl.continues:
            succ = [self.jump_target(n, "continue")]
        elif k in fl.raises:
            succ = list(handlers) if handlers else [self.jump_target(n, "raise")]
        elif k in fl.fallthroughs:
            succ = [self._fallthrough_target(n)]
        elif k in fl.gotos:
            succ = [self._goto_target(n)]
        else:
            succ = [self.after(n)]
        self.point(("s", n), n, [n], [*succ, *handlers])

    def _goto_target(self, n: int) -> Key:
        """C's ``goto l``: where the statement labelled ``l`` in this scope starts (else the next one)."""
        if self.goto_labels is None:
            self.goto_labels = {}
            fl, ft, scope = self.fl, self.ft, self.scope
            labelled = frozenset(k for k, c in fl.compound.items() if c.role == "labeled")
            for s in ft.nodes_of(labelled):
                if not scope < s < ft.stop[scope]:
                    continue
                p = ft.parent[s]
                while p > scope and self.kind[p] not in fl.scopes:
                    p = ft.parent[p]
                text = self.label_text(s, fl.compound[self.kind[s]].label)
                if p == scope and text is not None:
                    self.goto_labels.setdefault(text, s)
        label = self.label_text(n, self.fl.tab.spec.jump_label_field)
        target = self.goto_labels.get(label) if label is not None else None
        return self.first(target) if target is not None else self.after(n)

    def _fallthrough_target(self, n: int) -> Key:
        """Go's ``fallthrough``: the first statement of the next case (the switch's end if it is empty)."""
        fl, ft = self.fl, self.ft
        c = ft.parent[n]
        while c >= 0 and c != self.scope:
            comp = fl.compound.get(self.kind[c])
            if comp is not None and comp.role == "case":
                sw = ft.parent[c]
                while sw >= 0 and self.kind[sw] not in fl.switches:
                    sw = ft.parent[sw]
                cases = self.clauses(sw, fl.compound[self.kind[sw]]) if sw >= 0 else []
                i = cases.index(c) if c in cases else len(cases)
                if i + 1 < len(cases):
                    nxt = cases[i + 1]
                    ncomp = fl.compound.get(self.kind[nxt])
                    stmts = self.statements(self.case_body(nxt, ncomp) if ncomp else nxt)
                    if stmts:
                        return self.first(stmts[0])
                return self.after(sw) if sw >= 0 else self.after(c)
            c = ft.parent[c]
        return self.after(n)

    def _compound(self, n: int, comp: Compound, handlers: tuple[Key, ...], stack: list) -> None:
        role = comp.role
        if role == "for" and comp.iterable and self.child(n, comp.iterable) >= 0:
            role = "for_each"  # Go's `for k, v := range m`: one loop kind, two forms
        push = stack.append
        if role == "labeled":
            body = self.labeled_body(n, comp)
            if body >= 0:
                push((body, handlers))
            return
        if role in ("if", "elif"):
            then = self.child(n, comp.body)
            succ = [self.first(then)] if then >= 0 else []
            alts = self.children_with_field(n, comp.alternative) if role == "if" else []
            if role == "elif":  # the next alternative of the enclosing if
                p = self.ft.parent[n]
                pcomp = self.fl.compound.get(self.kind[p])
                sib = self.children_with_field(p, pcomp.alternative) if pcomp else []
                alts = sib[sib.index(n) + 1 :] if n in sib else []
                succ.append(self.first(alts[0]) if alts else self.after(p))
            else:
                succ.append(self.first(alts[0]) if alts else self.after(n))
                for a in reversed(alts):
                    push((a, handlers))
            self.point(("s", n), n, self.head_nodes(n, comp), [*succ, *handlers])
            if then >= 0:
                push((then, handlers))
            return
        if role == "while":
            body = self.child(n, comp.body)
            alt = self.child(n, comp.alternative) if comp.alternative else -1
            exit_key = self.first(alt) if alt >= 0 else self.after(n)
            succ = [self.first(body)] if body >= 0 else [("s", n)]
            self.point(("s", n), n, self.head_nodes(n, comp), [*succ, exit_key, *handlers])
            for part in (alt, body):
                if part >= 0:
                    push((part, handlers))
            return
        if role == "for_each":
            body = self.child(n, comp.body)
            alt = self.child(n, comp.alternative) if comp.alternative else -1
            it = self.child(n, comp.iterable)
            target = self.child(n, comp.target)
            if it >= 0:
                self.point(("i", n), it, [it], [("s", n), *handlers])
            exit_key = self.first(alt) if alt >= 0 else self.after(n)
            into_body = self.first(body) if body >= 0 else ("s", n)
            if target >= 0:  # the target is bound on the way into the body, not on the way out
                self.point(("s", n), n, [], [("b", n), exit_key, *handlers])
                self.point(("b", n), target, [target], [into_body, *handlers])
            else:
                self.point(("s", n), n, [], [into_body, exit_key, *handlers])
            for part in (alt, body):
                if part >= 0:
                    push((part, handlers))
            return
        if role == "for":
            body = self.child(n, comp.body)
            cond = self.for_condition(n, comp)
            if cond >= 0 and self.kind_name(cond) in comp.empty_kinds:
                cond = -1  # `for (;;)`: no condition, no way out but a jump
            inits = self.for_inits(n, comp)
            upds = self.children_with_field(n, comp.update)
            if inits:
                if self.kind[inits[0]] in self.fl.blocks or self.kind[inits[0]] in self.fl.compound:
                    inits = []
                else:
                    self.point(("i", n), inits[0], inits, [("s", n), *handlers])
            succ = [self.first(body)] if body >= 0 else [("s", n)]
            if cond >= 0:
                succ.append(self.after(n))
            self.point(("s", n), n, [cond] if cond >= 0 else [], [*succ, *handlers])
            if upds:
                self.point(("u", n), upds[0], upds, [("s", n), *handlers])
            if body >= 0:
                push((body, handlers))
            return
        if role == "do":
            body = self.child(n, comp.body)
            cond = self.children_with_field(n, comp.head[0]) if comp.head else []
            back = [self.first(body)] if body >= 0 else []
            self.point(("s", n), n, cond, [*back, self.after(n), *handlers])
            if body >= 0:
                push((body, handlers))
            return
        if role == "try":
            body = self.child(n, comp.body)
            names = self.fl.tab.names
            parts = self.ft.children(n)
            hs = [c for c in parts if names[self.kind[c]] in comp.clauses]
            rest = [c for c in parts if names[self.kind[c]] in comp.else_kinds | comp.finally_kinds]
            fin = [c for c in rest if names[self.kind[c]] in comp.finally_kinds]
            # an exception escaping the body goes to a handler, or to the finally clause; one escaping
            # a handler or the else clause goes to the finally clause; the finally clause then
            # re-raises to the enclosing handlers (or leaves the scope)
            escape = (self.first(fin[0]),) if fin else handlers
            inner = tuple(self.first(h) for h in hs) + (escape if fin else ())
            if fin:
                self.pending.setdefault(fin[0], []).extend(handlers or (EXIT,))
                self.try_of_finally[fin[0]] = n
            reads = self.head_nodes(n, comp)  # try-with-resources: the resources, before the body
            start = self.first(body) if body >= 0 else self.after(n)
            self.point(("s", n), n, reads, [start, *(inner or handlers)])  # may raise before the body
            for c in reversed(rest + hs):
                push((c, handlers if c in fin else escape))
            if body >= 0:
                push((body, inner or handlers))
            return
        if role == "switch":
            cases = self.clauses(n, comp)
            names = self.fl.tab.names
            src, start = self.ft.source, self.ft.start
            prefixes = tuple(p.encode() for p in comp.default_prefixes)
            has_default = any(
                names[self.kind[c]] in comp.default_kinds or (prefixes and src.startswith(prefixes, start[c]))
                for c in cases
            )
            succ = [self.first(c) for c in cases]
            if not has_default:
                succ.append(self.after(n))
            self.point(("s", n), n, self.head_nodes(n, comp), [*succ, *handlers])
            for c in reversed(cases):
                push((c, handlers))
            return
        if role == "case":
            body = self.case_body(n, comp)
            if body == n:
                stmts = self.statements(n)
                if stmts:
                    succ = [self.first(stmts[0])]
                else:  # an empty case: falls into the next one, or leaves the switch
                    nxt = self._after_case(n, comp)
                    succ = [nxt if isinstance(nxt, tuple) else self.after(nxt)]
                for s in reversed(stmts):
                    push((s, handlers))
            else:
                succ = [self.first(body)]
                push((body, handlers))
            self.point(("s", n), n, self.head_nodes(n, comp), [*succ, *handlers])
            return
        # sequence / else: a head, then a body
        body = self.child(n, comp.body)
        if self.kind[n] in self.fl.functions:
            body = -1  # a nested definition: its body is a scope of its own
        succ = [self.first(body)] if body >= 0 else [("t", n) if comp.tail else self.after(n)]
        reads = self.head_nodes(n, comp) if comp.head or comp.head_kinds else []
        self.point(("s", n), n, reads, [*succ, *handlers])
        if comp.tail:
            tail = [c for f in comp.tail for c in self.children_with_field(n, f)]
            self.point(("t", n), tail[0] if tail else n, tail, [self.after(n), *handlers])
        if body >= 0:
            push((body, handlers))

    def _finish(self) -> ScopeCFG:
        cfg = self.cfg
        points = self.points
        resolved: dict[Key, list[int]] = {}

        def resolve(key: Key) -> list[int]:
            if key in resolved:
                return resolved[key]
            out: list[int] = []
            todo, seen = [key], set()
            while todo:
                k = todo.pop()
                if k in seen:
                    continue
                seen.add(k)
                if k[0] == "f":
                    todo.append(self.after(self.try_of_finally.get(k[1], k[1])))
                    todo.extend(self.pending.get(k[1], ()))
                elif k in points:
                    out.append(points[k])
            resolved[key] = out
            return out

        for succ in self.raw_succ:
            targets: list[int] = []
            for key in succ:
                t = points.get(key)
                if t is not None:  # the common case: a key that names a point
                    if t not in targets:
                        targets.append(t)
                    continue
                for t in resolve(key):
                    if t not in targets:
                        targets.append(t)
            cfg.succ.append(targets)
        return cfg


def build_cfg(ft: FlatTree, spec: LanguageSpec, scope: int) -> ScopeCFG:
    """Control flow of the scope rooted at node ``scope`` (a function, a lambda or the file root)."""
    return _Builder(ft, flow_tables(spec), scope).build()
