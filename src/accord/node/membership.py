"""A node's place in its consortium: reading the file and checking that it names this node."""

from __future__ import annotations

from pathlib import Path

from accord.errors import NotFoundError, StoreError, UsageError
from accord.node.config import NodeSettings
from accord.quorum import Consortium, Member

__all__ = ["check_membership", "read_consortium"]


def read_consortium(path: Path) -> Consortium:
    """Parse a consortium file (MalformedError("consortium file", ...) if it does not parse)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(f"no consortium file at {path}") from None
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror}") from None
    return Consortium.parse(text)


def check_membership(
    consortium: Consortium, node: NodeSettings, *, keys_known: bool = True
) -> Member:
    """The member entry for this node; UsageError unless the file names it exactly.

    The entry must have this node's org and origin and, when ``keys_known``, this node's
    log and witness keys (a node refuses a file that does not name it).
    """
    try:
        member = consortium.member(node.org)
    except NotFoundError:
        raise UsageError(
            f"the consortium file {consortium.id!r} does not name this node's org {node.org!r}; "
            f"its members are {', '.join(consortium.orgs)}"
        ) from None
    if member.origin != node.origin:
        raise UsageError(
            f"the consortium file gives {node.org} the origin {member.origin!r}, but this "
            f"node's log is {node.origin!r}"
        )
    if keys_known:
        for field, mine in (("log_key", node.log_key), ("witness_key", node.witness_key)):
            theirs = getattr(member, field)
            if mine and theirs != mine:
                raise UsageError(
                    f"the consortium file's {field} for {node.org} is {theirs}, but this node's "
                    f"is {mine}: add this node's keys to the file (`accord consortium member`)"
                )
    return member
