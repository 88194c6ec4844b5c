"""Where control goes next, found structurally: the successor rules of :mod:`parsers.controlflow`.

``first(n)`` is where statement ``n`` starts and ``after(n)`` where control goes when it ends normally
(the next statement of its block, a loop head, the end of an enclosing ``if`` ...); jumps (return, break,
continue, raise, goto, fallthrough) walk up to their target and detour through ``finally`` clauses. All of
them walk the tree with loops and a memo, never recursion on depth. :class:`Targets` holds these rules
and the tree helpers they use; the point builder (``parsers.controlflow._Builder``) extends it.
"""

from __future__ import annotations

from parsers.flowtables import FlowTables
from parsers.languages import Compound
from parsers.tree import FlatTree

EXIT = ("x", -1)
Key = tuple[str, int]
"""A control-flow target before resolution: ("s", n) the point of statement n, ("i", n) a loop's
iterable/initialiser point, ("u", n) a for loop's update point, ("f", n) the end of finally clause n."""


class Targets:
    """The successor rules over one scope of one file (state: memos, and the ``finally`` detours)."""

    def __init__(self, ft: FlatTree, flow: FlowTables, scope: int) -> None:
        self.ft = ft
        self.fl = flow
        self.scope = scope
        self.kind = ft.kind
        self.memo: dict[int, Key] = {}
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
