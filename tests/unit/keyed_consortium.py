"""A consortium for unit tests: members' log and witness keys derived from their names."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from accord.note import Cosigner, Signer
from accord.quorum import Consortium, Member, TrustSet

__all__ = ["KeyedConsortium", "origin", "seed"]


def seed(label: str) -> bytes:
    """32 key bytes named by ``label`` (the same in every run)."""
    return hashlib.sha256(label.encode()).digest()


def origin(org: str) -> str:
    return f"accord.example/test/{org}"


class KeyedConsortium:
    """``orgs`` with log signers and witness cosigners made from their names."""

    def __init__(self, orgs: Sequence[str]) -> None:
        self.orgs = tuple(orgs)
        self.logs = {o: Signer.from_private_bytes(origin(o), seed("log/" + o)) for o in orgs}
        self.witnesses = {
            o: Cosigner.from_private_bytes(f"{origin(o)}/witness", seed("w/" + o)) for o in orgs
        }

    def consortium(self, k: int) -> Consortium:
        """The consortium file of these members: k cosignatures, every org in the trust set."""
        members = tuple(
            Member(
                org=org,
                name=org.upper(),
                url=f"http://127.0.0.1:{8100 + i}",
                origin=origin(org),
                log_key=self.logs[org].verifier().format(),
                witness_key=self.witnesses[org].verifier().format(),
            )
            for i, org in enumerate(self.orgs)
        )
        return Consortium("test", members, k, TrustSet(self.orgs))
