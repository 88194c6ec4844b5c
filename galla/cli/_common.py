"""What every subcommand module shares: the console (stderr) and argparse value types."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from rich.console import Console

console = Console(stderr=True, soft_wrap=True)  # paths and messages stay on one line


def error(message: str) -> None:
    """One red line, printed as it is: a path or an error text with ``[...]`` in it is not markup."""
    console.print(message, style="red", markup=False, highlight=False)


def key_values(items: Sequence[str], flag: str) -> dict[str, str]:
    """``PATTERN=LANGUAGE`` flags as a mapping; a malformed one ends the command with its usage."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise SystemExit(f"galla: {flag} expects PATTERN=LANGUAGE (e.g. '*.h=cpp'), got {item!r}")
        out[key] = value
    return out


def at_least(low: int) -> Callable[[str], int]:
    """An argparse type: an integer >= ``low`` (argparse turns the error into its usage message)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse
