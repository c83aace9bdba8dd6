"""`accord keys init|shred|rotate`: a node's master key shares and its patients' data keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from accord.cli.node_cmds import UrlOpt, node_url
from accord.cli.output import handle_errors, out, print_json
from accord.client import NodeClient
from accord.errors import UsageError

__all__ = ["keys_app"]

keys_app = typer.Typer(
    help="Key shares of a node's master key; shredding and rotating patients' data keys.",
    no_args_is_help=True,
)

DirArg = Annotated[Path, typer.Argument(help="The node directory.", show_default=False)]
PrincipalOpt = Annotated[
    str, typer.Option("--principal", help="The patient identifier, as in statements.")
]
ConsortiumOpt = Annotated[
    Path | None,
    typer.Option(
        "--consortium", help="Act at every member of this consortium file (needs --token ORG=T)."
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the answers as JSON.")]


@keys_app.command("init")
def init(
    directory: DirArg,
    shares: Annotated[int, typer.Option("--shares", help="New key shares to make (N).")],
    threshold: Annotated[int, typer.Option("--threshold", help="Shares needed to unseal (k).")],
    out_dir: Annotated[
        Path, typer.Option("--out", help="Where to write the new share files (one per custodian).")
    ],
    share: Annotated[
        list[Path] | None,
        typer.Option("--share", help="A current share file (k of them; repeat the option)."),
    ] = None,
    new_master_key: Annotated[
        bool,
        typer.Option(
            "--new-master-key",
            help="Also replace the master key (re-wrap every secret and data key under a new one).",
        ),
    ] = False,
) -> None:
    """Re-split a stopped node's master key into N new shares (k needed); old ones stop working.

    With --new-master-key the master key itself is replaced and every key it wrapped is
    re-wrapped, so that old shares and old keystore copies open nothing.
    """
    from accord.node.keyshares import rekey_node, resplit_node

    make = rekey_node if new_master_key else resplit_node
    result = handle_errors(make)(
        directory, share or [], threshold=threshold, shares=shares, out=out_dir
    )
    what = "replaced" if new_master_key else "re-split"
    out.print(
        f"master key of {directory} {what}: {result.shares} shares, {result.threshold} "
        f"needed (keyset {result.keyset}; shares of keyset {result.old_keyset} no longer work)"
    )
    for path in result.files:
        out.print(f"  {path}")
    out.print("give each share to a different custodian and delete it here")


def _targets(
    directory: Path | None, url: str | None, consortium: Path | None, pairs: list[str]
) -> list[tuple[str, str, str | None]]:
    """(label, url, token) of each node to act at."""
    if consortium is None:
        if len(pairs) > 1:
            raise UsageError("one --token for one node; ORG=TOKEN pairs go with --consortium")
        return [("node", node_url(directory, url), pairs[0] if pairs else None)]
    from accord.node.membership import read_consortium

    found = read_consortium(consortium)
    tokens: dict[str, str] = {}
    for pair in pairs:
        org, sep, value = pair.partition("=")
        if not sep or not value:
            raise UsageError(f"--token with --consortium takes ORG=TOKEN, not {pair!r}")
        if org not in found.orgs:
            raise UsageError(f"{org!r} is not a member of the consortium", org=org)
        tokens[org] = value
    missing = [org for org in found.orgs if org not in tokens]
    if missing:
        raise UsageError(
            "the patient's records may be replicated at every member: give an admin token "
            f"for each (--token ORG=T); missing {', '.join(missing)}"
        )
    return [(org, found.member(org).url, tokens[org]) for org in found.orgs]


def _act(
    action: str,
    patient: str,
    directory: Path | None,
    url: str | None,
    consortium: Path | None,
    pairs: list[str],
) -> list[dict[str, Any]]:
    results = []
    for label, target, bearer in _targets(directory, url, consortium, pairs):
        with NodeClient(target, bearer) as client:
            answer = client.shred(patient) if action == "shred" else client.rotate(patient)
        results.append({"node": label, "url": target, **answer})
    return results


AdminTokensOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--token",
        envvar="ACCORD_TOKEN",
        help="Admin token (or $ACCORD_TOKEN); with --consortium, ORG=TOKEN per member.",
    ),
]


@keys_app.command("shred")
def shred(
    principal: PrincipalOpt,
    directory: Annotated[Path | None, typer.Argument(help="The node directory.")] = None,
    url: UrlOpt = None,
    token: AdminTokensOpt = None,
    consortium: ConsortiumOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Destroy a patient's data keys (irreversible): bodies gone, proofs still verify."""
    results = handle_errors(_act)("shred", principal, directory, url, consortium, list(token or []))
    if as_json:
        print_json(results)
        return
    for r in results:
        out.print(
            f"{r['node']}: shredded {r['versions']} data key version(s) of principal "
            f"{r['principal'][:16]}... ({r['records']} records' bodies now unreadable)"
        )


@keys_app.command("rotate")
def rotate(
    principal: PrincipalOpt,
    directory: Annotated[Path | None, typer.Argument(help="The node directory.")] = None,
    url: UrlOpt = None,
    token: AdminTokensOpt = None,
    consortium: ConsortiumOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A new data key version for a patient's new records (old bodies keep theirs)."""
    results = handle_errors(_act)(
        "rotate", principal, directory, url, consortium, list(token or [])
    )
    if as_json:
        print_json(results)
        return
    for r in results:
        version = r["versions"]
        out.print(f"{r['node']}: principal {r['principal'][:16]}... now uses key version {version}")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
