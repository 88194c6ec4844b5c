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

The language tables are in :mod:`parsers.flowtables`, the successor rules (``first``, ``after``,
jumps) in :mod:`parsers.cfgtargets`; this module builds the points. Where the C core is built,
``parsers/_native.c`` runs this same builder from :func:`native_flow_tables`
(``parsers.dataflow.flow_edges``); the class here stays the reference the tests compare it with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

from parsers.cfgtargets import EXIT, Key, Targets
from parsers.flowtables import ROLES, FlowTables, flow_tables, native_flow_tables
from parsers.languages import Compound, LanguageSpec
from parsers.names import unit_parameters
from parsers.tree import FlatTree

__all__ = [
    "EXIT",
    "ROLES",
    "FlowTables",
    "Key",
    "ScopeCFG",
    "build_cfg",
    "flow_tables",
    "native_flow_tables",
]


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


class _Builder(Targets):
    """The points of one scope and their successors (the successor rules: :class:`Targets`)."""

    def __init__(self, ft: FlatTree, flow: FlowTables, scope: int) -> None:
        super().__init__(ft, flow, scope)
        self.points: dict[Key, int] = {}
        self.cfg = ScopeCFG(scope)
        self.raw_succ: list[list[Key]] = []

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
