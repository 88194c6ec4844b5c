"""The values the C core and the Python engine share, defined here once.

``parsers/_native.c`` mirrors every value below under the C name :func:`c_values` gives it (``KB_BLOCK``,
``R_IF``, ``ET_CFG_NEXT`` ...) and exports them as ``_native.ABI``, with ``_native.ABI_VERSION``. When the
C core is loaded, :func:`check_abi` compares both with this module; a core built from other sources
is not used (``parsers.tree`` warns and runs the pure-Python engine). Changing a value here, or adding
one, means the same edit in ``_native.c`` and a new :data:`ABI_VERSION` in both.

The language tables reach the C core as one :class:`parsers.compiled.CompiledLanguage` whose arrays
hold these values; ``_native.c`` reads that object by attribute name, never by position.
"""

from __future__ import annotations

from types import ModuleType
from typing import get_args

from parsers.graph import EdgeType
from parsers.languages import Role

ABI_VERSION = 1
"""Bumped with every change to what the C core reads: these values, or the CompiledLanguage attributes
and argument lists of its functions (a core without ``ABI_VERSION`` predates the check)."""

ROLES: tuple[str, ...] = get_args(Role)
"""Compound roles; a role's number is its index here (``_native.c``: ``R_IF`` ...)."""


class FlowFlag:
    """Per grammar kind bits of the control-flow tables (``_native.c``: ``KB_*``)."""

    BLOCK = 1 << 0
    STATEMENT = 1 << 1
    FUNCTION = 1 << 2
    SCOPE = 1 << 3
    RETURN = 1 << 4
    BREAK = 1 << 5
    CONTINUE = 1 << 6
    RAISE = 1 << 7
    LOOP = 1 << 8
    SWITCH = 1 << 9
    LABEL = 1 << 10
    INLINE = 1 << 11
    SELF_LABELLED = 1 << 12
    FALLTHROUGH = 1 << 13
    BREAK_TARGET = 1 << 14
    GOTO = 1 << 15
    NAMED = 1 << 16
    LABELED = 1 << 17
    """A compound whose role is ``labeled``."""


class CompoundSet:
    """Per compound, per grammar kind: the compound's kind sets holding it (``_native.c``: ``CS_*``)."""

    CLAUSE = 1 << 0
    ELSE = 1 << 1
    FINALLY = 1 << 2
    DEFAULT = 1 << 3
    EMPTY = 1 << 4
    HEAD = 1 << 5


class Field:
    """Field ids that are no grammar field (``_native.c``: ``F_*``); -1 is a field the grammar lacks."""

    ABSENT = -1
    NONE = -2
    """A compound part given as None: the last block child."""
    STAR = -3
    """``"*"`` in a head: a field-less child."""
    NOT_THIS_KIND = -2
    """Call tables: the kind is no call, member access or keyword argument."""
    EVERY_OTHER = -2
    """Assignment tables: the value is every child outside the target field (``"*"``)."""


class KindFlag:
    """Per grammar kind bits of the data-flow tables (``DataTables.kind_flags``; ``_native.c``: ``DK_*``)."""

    IDENT = 1 << 0
    SKIP = 1 << 1
    """A nested scope, class or opaque kind: its subtree is not scanned from outside."""
    COMPREHENSION = 1 << 2
    PATTERN = 1 << 3
    FIRST_CHILD_ONLY = 1 << 4
    FIRST_CHILD_NOT_VARIABLE = 1 << 5
    VALUE_REQUIRED = 1 << 6
    DEFINITION_NAME = 1 << 7
    """The kind of a name with which a nested function or class writes itself."""
    DEFINITION = 1 << 8
    """A function or class kind."""
    UPDATE_OPERATOR = 1 << 9
    """An assignment kind that updates when its operator is not ``=``."""


class PairClass:
    """(parent kind, field) -> how a child there is accessed (``DataTables.pair_class``; ``_native.c``:
    ``PC_*``): the low bits one of the first four, plus the flag bits."""

    UNDECIDED = 0
    NON_VARIABLE = 1
    WRITE = 2
    UPDATE = 3
    ACCESS_MASK = 7
    DEFERRED = 1 << 3
    HEADER = 1 << 4
    """A definition header part (read by the enclosing scope)."""


class Event:
    """Flags of a file's scan events (``parsers.accesses.Events``; ``_native.c``: ``EV_*``)."""

    SKIP = 1 << 0
    DEFER = 1 << 1
    COMP = 1 << 2
    IDENT = 1 << 3
    HEADER = 1 << 4


class Mode:
    """How an access uses its variable (``_native.c``: ``M_*``)."""

    READ = 1
    WRITE = 2
    UPDATE = 3
    """READ | WRITE."""


class CallFlag:
    """Per grammar kind bits of the call tables (``_native.c``: ``CM_*``)."""

    FUNCTION = 1 << 0
    CLASS = 1 << 1
    SCOPE = 1 << 2
    IDENT = 1 << 3
    NAMED = 1 << 4
    RETURN = 1 << 5
    """A return or yield kind."""


NATIVE_EDGES = (
    EdgeType.CFG_NEXT,
    EdgeType.LAST_WRITE,
    EdgeType.LAST_READ,
    EdgeType.LAST_LEXICAL_USE,
    EdgeType.COMPUTED_FROM,
    EdgeType.RETURNS_TO,
    EdgeType.CALLS,
    EdgeType.FORMAL_ARG_NAME,
)
"""The edge types the C core emits (``_native.c``: ``ET_*``); its ``want`` arguments are bit masks of them."""

_NAMESPACES = (
    (FlowFlag, "KB_"),
    (CompoundSet, "CS_"),
    (Field, "F_"),
    (KindFlag, "DK_"),
    (PairClass, "PC_"),
    (Event, "EV_"),
    (Mode, "M_"),
    (CallFlag, "CM_"),
)


def c_values() -> dict[str, int]:
    """Every shared value under its C name, as ``_native.ABI`` holds them."""
    out = {f"R_{role.upper()}": i for i, role in enumerate(ROLES)}
    for namespace, prefix in _NAMESPACES:
        out.update({prefix + k: v for k, v in vars(namespace).items() if k.isupper()})
    out.update({f"ET_{t.name}": int(t) for t in NATIVE_EDGES})
    return out


def edge_mask(want) -> int:
    """The C core's form of a set of wanted edge types: bit ``t`` for edge type ``t``."""
    mask = 0
    for t in want:
        mask |= 1 << t
    return mask


class NativeABIError(ImportError):
    """The C core was built from sources that disagree with this module."""


_REBUILD = "rebuild it from this checkout (python setup.py build_ext --inplace, or bash setup.sh)"


def check_abi(module: ModuleType) -> None:
    """Raise :class:`NativeABIError` unless ``module`` (``parsers._native``) was built with this
    :data:`ABI_VERSION` and every value of :func:`c_values`."""
    version = getattr(module, "ABI_VERSION", None)
    if version is None:
        raise NativeABIError(f"{module.__name__} predates the ABI check (no ABI_VERSION); {_REBUILD}")
    if version != ABI_VERSION:
        raise NativeABIError(
            f"{module.__name__} was built for ABI version {version}, parsers/ needs version {ABI_VERSION}; "
            + _REBUILD
        )
    theirs = dict(getattr(module, "ABI", {}))
    ours = c_values()
    wrong = [
        f"{name} (C {theirs.get(name, 'missing')}, Python {ours.get(name, 'missing')})"
        for name in sorted(ours.keys() | theirs.keys())
        if theirs.get(name) != ours.get(name)
    ]
    if wrong:
        raise NativeABIError(
            f"{module.__name__} and parsers/abi.py disagree on {len(wrong)} value(s): {', '.join(wrong)}; "
            + _REBUILD
        )
