"""The list of sub-command groups; each lives in its own module."""

from __future__ import annotations

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add every command group to ``app``."""
    from accord.cli import node_cmds

    node_cmds.register(app)
    from accord.cli import demo_cmds

    demo_cmds.register(app)
    from accord.cli.consortium_cmds import consortium_app

    app.add_typer(consortium_app, name="consortium")
    from accord.cli import compliance_cmds

    compliance_cmds.register(app)
    from accord.cli import witness_cmds

    witness_cmds.register(app)
    from accord.cli import certificate_cmds

    certificate_cmds.register(app)
    from accord.cli import log_cmds

    log_cmds.register(app)
    from accord.cli import keys_cmds

    keys_cmds.register(app)
    from accord.cli import query_cmds

    query_cmds.register(app)
    from accord.cli import audit_cmds

    audit_cmds.register(app)
