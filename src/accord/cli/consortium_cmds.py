"""``accord consortium``: found a consortium, print a node's member entry, join a node to one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from accord.cli.output import handle_errors, out
from accord.errors import UsageError

__all__ = ["consortium_app"]

consortium_app = typer.Typer(
    help="Consortia: the member orgs, their keys and URLs, witness policy and trust sets.",
    no_args_is_help=True,
)


def _parse_orgs(orgs: list[str]) -> list[tuple[str, str]]:
    out_orgs = []
    for item in orgs:
        org, _, name = item.partition("=")
        out_orgs.append((org.strip(), (name or org).strip()))
    return out_orgs


@consortium_app.command("new")
@handle_errors
def new(
    directory: Annotated[Path, typer.Argument(help="Folder for the file and the node dirs.")],
    org: Annotated[
        list[str],
        typer.Option("--org", help='A member: "id" or "id=Display Name" (repeat per org).'),
    ],
    consortium_id: Annotated[str, typer.Option("--id", help="The consortium's id.")] = "demo",
    base_port: Annotated[int, typer.Option(help="First node's port; the others follow.")] = 8401,
    model: Annotated[str, typer.Option(help="Default trust set: majority | byzantine.")] = (
        "majority"
    ),
    f: Annotated[int, typer.Option(help="Byzantine faults tolerated (byzantine model).")] = 0,
    witness_k: Annotated[int, typer.Option(help="Cosignatures each checkpoint needs.")] = 1,
    shares: Annotated[int, typer.Option(help="Key shares per node (N).")] = 3,
    threshold: Annotated[int, typer.Option(help="Shares needed to unseal (k).")] = 2,
) -> None:
    """Found a consortium on this machine: the consortium file and one node directory per org."""
    from accord.node.founding import new_consortium

    if len(org) < 1:
        raise UsageError("give at least one --org")
    founded = new_consortium(
        directory,
        _parse_orgs(org),
        consortium_id=consortium_id,
        base_port=base_port,
        model=model,
        f=f,
        witness_k=witness_k,
        shares=shares,
        threshold=threshold,
    )
    out.print(f"consortium [bold]{consortium_id}[/bold]: {founded.consortium_file}")
    for name, result in founded.nodes.items():
        out.print(f"  {name}: {result.directory} ({result.config.node.public_url})")
    out.print(f"shared consortium keys (secret): {founded.keys_file}")


@consortium_app.command("member")
@handle_errors
def member(
    directory: Annotated[Path, typer.Argument(help="The node directory.")],
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    url: Annotated[str, typer.Option(help="The URL other members reach it at.")] = "",
) -> None:
    """Print this node's [[members]] entry, to send to whoever keeps the consortium file."""
    from accord.node.config import load_config
    from accord.quorum import Member

    config = load_config(directory)
    node = config.node
    entry = Member(
        org=node.org,
        name=name or node.org,
        url=url or node.public_url,
        origin=node.origin,
        log_key=node.log_key,
        witness_key=node.witness_key,
    )
    print("[[members]]")
    for key, value in entry.to_json().items():
        if value is not None:
            print(f"{key} = {json.dumps(value)}")


@consortium_app.command("join")
@handle_errors
def join(
    directory: Annotated[Path, typer.Argument(help="The node directory.")],
    file: Annotated[Path, typer.Argument(help="The consortium file naming this node.")],
) -> None:
    """Make FILE this node's consortium file (it must name the node with its keys)."""
    from accord.node.founding import join_consortium

    consortium = join_consortium(directory, file)
    out.print(f"joined consortium {consortium.id} ({len(consortium.members)} members)")
