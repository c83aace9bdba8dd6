"""Entry point of the ``accord`` command. Each concept registers its own sub-commands."""

from __future__ import annotations

import typer

from accord import __version__

__all__ = ["app", "main"]

app = typer.Typer(
    name="accord",
    help=(
        "Accord: a ledger for organizations that must share and audit records without "
        "trusting one another. Each organization runs a node with its own append-only "
        "Merkle log; the others witness it."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def root() -> None:
    """Accord: tamper-evident, witnessed audit logs shared by organizations."""


@app.command()
def version() -> None:
    """Print Accord's version."""
    typer.echo(__version__)


def _register() -> None:
    """Attach the sub-command groups (imported here to keep start-up light)."""
    from accord.cli import commands

    commands.register(app)


def main() -> None:
    _register()
    app()
