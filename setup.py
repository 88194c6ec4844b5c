"""Builds the optional C core ``parsers._native`` (everything else is in pyproject.toml).

It needs the tree-sitter C runtime of the installed ``tree-sitter`` release: ``setup.sh`` runs
``parsers/fetch_runtime.py``, which unpacks it under ``build/tree-sitter-runtime``;
``GALLA_TREE_SITTER_SRC`` can point elsewhere. Without the sources, or without a C compiler, the
install goes on without the extension and ``parsers`` runs its pure-Python engine (same output).
"""

import os
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
RUNTIME = Path(os.environ.get("GALLA_TREE_SITTER_SRC", HERE / "build" / "tree-sitter-runtime"))


class OptionalBuildExt(build_ext):
    """A failed compile leaves the pure-Python engine in place instead of failing the install."""

    def run(self):
        try:
            super().run()
        except Exception as err:
            print(f"galla: not building parsers._native ({err}); the pure-Python engine is used")

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as err:
            print(f"galla: not building {ext.name} ({err}); the pure-Python engine is used")


def _runtime_version() -> str:
    """The release the runtime sources come from; the built core is used only with that tree-sitter."""
    stamp = RUNTIME / "VERSION"
    if stamp.exists():
        return stamp.read_text().strip()
    print(f"galla: {stamp} is missing; write the tree-sitter release of these sources into it (0.26.1),")
    print("       else the built C core is never used (it must match the installed tree-sitter)")
    return "unknown"


ext_modules = []
if (RUNTIME / "lib" / "src" / "lib.c").exists() and os.environ.get("GALLA_NATIVE", "1") != "0":
    ext_modules.append(
        Extension(
            "parsers._native",
            sources=["parsers/_native.c", str(RUNTIME / "lib" / "src" / "lib.c")],
            include_dirs=[str(RUNTIME / "lib" / "include"), str(RUNTIME / "lib" / "src")],
            define_macros=[
                ("_POSIX_C_SOURCE", "200112L"),
                ("_DEFAULT_SOURCE", None),
                ("GALLA_TREE_SITTER_VERSION", f'"{_runtime_version()}"'),
            ],
            extra_compile_args=["-O3", "-std=c11", "-fvisibility=hidden"],
        )
    )
else:
    print(f"galla: no tree-sitter runtime sources under {RUNTIME}; parsers._native is not built")

setup(ext_modules=ext_modules, cmdclass={"build_ext": OptionalBuildExt})
