"""How the CLI talks to people and scripts: rich tables, JSON, readable errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from accord.errors import AccordError, NotFoundError, StoreError

__all__ = ["err_console", "fail", "handle_errors", "out", "print_json", "read_input"]

out = Console()
err_console = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")

#: Exit statuses: 1 = refused or failed (verification, conflict, not found, ...),
#: 2 = usage or malformed input, 3 = store or network trouble (may help to retry).
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_RETRY = 3


def read_input(path: Path) -> str:
    """The text of a file named on the command line (``-``: standard input)."""
    if str(path) == "-":
        return sys.stdin.read()
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(f"no file {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StoreError(f"cannot read {path}: {exc}") from None


def print_json(value: Any) -> None:
    """Machine-readable output for ``--json``: one JSON document on stdout."""
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True) + "\n")


def fail(error: AccordError) -> typer.Exit:
    """Print a readable diagnosis of ``error`` and return the Exit to raise."""
    line = Text("error", style="bold red")
    line.append(f" ({error.code}): {error.message}")
    err_console.print(line, highlight=False)
    for key, value in sorted(error.details.items()):
        err_console.print(Text(f"  {key}: {value}"), highlight=False)
    if error.status in (400, 413):
        return typer.Exit(EXIT_USAGE)
    if error.retryable:
        return typer.Exit(EXIT_RETRY)
    return typer.Exit(EXIT_FAILED)


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorator for commands: an AccordError becomes a diagnosis and a non-zero exit."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except AccordError as exc:
            raise fail(exc) from None

    return wrapper
