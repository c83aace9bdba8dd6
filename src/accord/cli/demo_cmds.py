"""``accord demo``: the three-hospital consortium and Mrs. Smith's story."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from accord.cli.output import handle_errors

__all__ = ["register"]


@handle_errors
def demo(
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Where to put the consortium (default: a temporary folder)."),
    ] = None,
    keep: Annotated[
        bool, typer.Option("--keep", help="Leave the nodes running; write DIR/demo.json.")
    ] = False,
) -> None:
    """Found a consortium of Weill Cornell, NYU and Sloan Kettering on this machine, play
    Mrs. Smith's story through three real node processes, and check every answer: certificates,
    cosigned checkpoints, reports, alerts, verified query bundles, and a tampered database and a
    forked log caught by the skeptic's audit. Exits 0 only if every check passed."""
    from accord.demo.run import run_demo

    if not run_demo(directory, keep):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(demo)
