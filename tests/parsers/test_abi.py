"""The C core is used only when it was built with the values parsers/abi.py defines."""

from __future__ import annotations

import types

import pytest

from parsers import abi, tree
from parsers.graph import EdgeType

pytestmark = pytest.mark.skipif(tree.native is None, reason="parsers._native is not built")


@pytest.fixture(autouse=True)
def engine() -> str:
    """Not run per engine (as the other tests here are): these look at the C module itself."""
    return "native"


@pytest.fixture
def core() -> types.ModuleType:
    from parsers import _native

    return _native


def test_the_built_core_agrees_with_parsers_abi(core):
    abi.check_abi(core)
    assert core.ABI_VERSION == abi.ABI_VERSION
    assert abi.c_values() == core.ABI


def test_another_abi_version_is_refused(core, monkeypatch):
    monkeypatch.setattr(abi, "ABI_VERSION", abi.ABI_VERSION + 1)
    want = f"built for ABI version {core.ABI_VERSION}, parsers/ needs version {abi.ABI_VERSION}; rebuild it"
    with pytest.raises(abi.NativeABIError, match=want):
        abi.check_abi(core)


@pytest.mark.parametrize(
    ("namespace", "name", "c_name"),
    [
        (abi.FlowFlag, "LOOP", "KB_LOOP"),
        (abi.CompoundSet, "FINALLY", "CS_FINALLY"),
        (abi.Field, "STAR", "F_STAR"),
        (abi.KindFlag, "PATTERN", "DK_PATTERN"),
        (abi.PairClass, "DEFERRED", "PC_DEFERRED"),
        (abi.Event, "DEFER", "EV_DEFER"),
        (abi.Mode, "UPDATE", "M_UPDATE"),
        (abi.CallFlag, "RETURN", "CM_RETURN"),
    ],
)
def test_a_changed_value_is_refused_by_name(core, monkeypatch, namespace, name, c_name):
    old = getattr(namespace, name)
    monkeypatch.setattr(namespace, name, old + 1024)
    with pytest.raises(
        abi.NativeABIError, match=rf"disagree on 1 value\(s\): {c_name} \(C {old}, Python {old + 1024}\)"
    ):
        abi.check_abi(core)


def test_reordered_roles_are_refused(core, monkeypatch):
    roles = list(abi.ROLES)
    roles[0], roles[1] = roles[1], roles[0]
    monkeypatch.setattr(abi, "ROLES", tuple(roles))
    with pytest.raises(abi.NativeABIError, match=r"R_ELIF \(C 1, Python 0\), R_IF \(C 0, Python 1\)"):
        abi.check_abi(core)


def test_a_value_only_one_side_has_is_refused(core, monkeypatch):
    monkeypatch.setattr(abi, "NATIVE_EDGES", (*abi.NATIVE_EDGES, EdgeType.NEXT_TOKEN))
    with pytest.raises(abi.NativeABIError, match=r"ET_NEXT_TOKEN \(C missing, Python 1\)"):
        abi.check_abi(core)
    monkeypatch.setattr(core, "ABI", {**core.ABI, "KB_NEW": 1 << 20})
    with pytest.raises(abi.NativeABIError, match=r"KB_NEW \(C 1048576, Python missing\)"):
        abi.check_abi(core)


def test_a_core_from_before_the_check_is_refused():
    old = types.ModuleType("parsers._native")
    old.TREE_SITTER_VERSION = tree.native.TREE_SITTER_VERSION
    with pytest.raises(abi.NativeABIError, match="predates the ABI check"):
        abi.check_abi(old)


def test_a_refused_core_leaves_the_python_engine_with_a_warning(monkeypatch):
    monkeypatch.setattr(abi, "ABI_VERSION", abi.ABI_VERSION + 1)
    with pytest.warns(RuntimeWarning, match="needs version .*Using the pure-Python engine"):
        assert tree._load_native() is None
    monkeypatch.undo()
    assert tree._load_native() is tree.native
