"""Which logs a member witnesses, and whose cosignatures count in gossip (docs/consortium.md).

Each member witnesses the logs of the *other* members (``witness.k`` of them
must cosign each checkpoint), and takes gossip only about views cosigned by
the other members' witness keys.
"""

from __future__ import annotations

from accord.note import Verifier
from accord.quorum import Consortium

__all__ = ["gossip_witnesses", "witnessed_logs"]


def witnessed_logs(consortium: Consortium, org: str) -> dict[str, Verifier]:
    """Origin -> log key of every member but ``org``: the ``logs`` of ``org``'s witness.

    NotFoundError if ``org`` is not a member.
    """
    consortium.member(org)
    return {m.origin: Verifier.parse(m.log_key) for m in consortium.members if m.org != org}


def gossip_witnesses(consortium: Consortium, org: str) -> tuple[Verifier, ...]:
    """The witness keys of every member but ``org``: the ``witnesses`` of its gossip.

    NotFoundError if ``org`` is not a member.
    """
    consortium.member(org)
    return tuple(Verifier.parse(m.witness_key) for m in consortium.members if m.org != org)
