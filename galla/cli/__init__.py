"""The ``galla`` command: flags only. Each subcommand module (``graphs``, ``train``, ``eval``) adds its
parser and a ``cmd_*`` function that turns parsed arguments into one call of the library
(``data_builders``, ``parsers``, ``galla.train``, ``galla.recipes``, ``galla.eval``) and prints what
came back; tests and notebooks call the same library code.
"""

from __future__ import annotations

import argparse
import gc
import os
from collections.abc import Callable, Sequence

# numpy's OpenBLAS would start a thread per core in the CLI and in every build-graphs worker; galla does
# no BLAS work through numpy (torch has its own), so one thread saves their start-up and spinning.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from galla.cli.eval import add_eval
from galla.cli.graphs import SHOW_GRAPH_BIG, SHOW_GRAPH_BIG_EDGES, add_build_graphs, add_show_graph
from galla.cli.train import add_build_tasks, add_train

__all__ = ["COMMANDS", "SHOW_GRAPH_BIG", "SHOW_GRAPH_BIG_EDGES", "main", "make_parser", "program"]

COMMANDS: dict[str, Callable[[argparse._SubParsersAction], None]] = {
    "build-graphs": add_build_graphs,
    "show-graph": add_show_graph,
    "build-tasks": add_build_tasks,
    "train": add_train,
    "eval": add_eval,
}


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="galla", description="Graph-augmented fine-tuning of code LLMs (GALLa)."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for add in COMMANDS.values():
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return _dispatch(argv)[1]


def _dispatch(argv: Sequence[str] | None) -> tuple[str, int]:
    """Run the command ``argv`` names: (its name, its exit code)."""
    args = make_parser().parse_args(argv)
    return args.command, int(args.func(args) or 0)


FREEZE_AT_EXIT = frozenset({"build-graphs", "show-graph"})
"""Commands after which the ``galla`` executable freezes the heap (see :func:`program`)."""


def program() -> int:
    """The ``galla`` executable: :func:`main`; after the short commands of :data:`FREEZE_AT_EXIT`
    (whose files are all closed by then) everything left goes to the collector's permanent generation,
    so the interpreter's shutdown does not walk the whole heap only for it to be freed. Long commands
    keep the ordinary shutdown."""
    command, rc = _dispatch(None)
    if command in FREEZE_AT_EXIT:
        gc.freeze()
    return rc
