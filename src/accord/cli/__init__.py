"""The ``accord`` command (typer + rich)."""
