"""`accord checkpoint`: fetch a member's checkpoint and verify it against the consortium file
(the log's signature and k cosignatures by the other members' witnesses)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from accord.cli.output import handle_errors, out, print_json
from accord.client.checkpoints import VerifiedCheckpoint, fetch_checkpoint
from accord.node.membership import read_consortium

__all__ = ["checkpoint", "register"]


def checkpoint(
    url: Annotated[str, typer.Option("--url", help="The member node's URL.")],
    consortium_file: Annotated[
        Path, typer.Option("--consortium", help="The consortium file (whose keys to trust).")
    ],
    k: Annotated[
        int | None,
        typer.Option("--k", help="Cosignatures required (default: the file's witness.k)."),
    ] = None,
    org: Annotated[
        str | None,
        typer.Option("--org", help="The member whose log it must be (default: by its origin)."),
    ] = None,
    latest: Annotated[
        bool,
        typer.Option("--latest", help="Check the latest signed checkpoint, not the served one."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Fetch a node's checkpoint and verify it before trusting it.

    Exits non-zero unless the log's key signed it and at least k other members'
    witnesses cosigned it. A cosignature that does not verify is not counted.
    """

    @handle_errors
    def run() -> VerifiedCheckpoint:
        consortium = read_consortium(consortium_file)
        return fetch_checkpoint(url, consortium, org=org, k=k, latest=latest)

    verified = run()
    if as_json:
        print_json(verified.to_json())
        return
    cp = verified.checkpoint
    out.print(f"{verified.org}: {cp.origin} size {cp.size} root {cp.root_hash.hex()}")
    out.print(f"verified: the log's signature and {len(verified.witnesses)} of k={verified.k}")
    for name, ts in sorted(verified.witnesses.items()):
        when = datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")
        out.print(f"  cosigned by {name} at {when}")
    for ref in verified.refused:
        out.print(f"  [yellow]not counted[/yellow]: a cosignature by {ref} that does not verify")


def register(app: typer.Typer) -> None:
    app.command()(checkpoint)
