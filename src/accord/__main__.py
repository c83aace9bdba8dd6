"""``python -m accord``: the same as the ``accord`` command."""

from accord.cli.main import main

__all__: list[str] = []

main()
