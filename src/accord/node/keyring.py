"""The node's secrets as they live in its keystore, and what they become once unsealed.

Keystore secret names (all wrapped by the master key, never stored in the clear):

- ``log_key``: Ed25519 seed of the log key (signs checkpoints, receipts, node requests
  and source registrations); its C2SP key name is the log's origin.
- ``witness_key``: Ed25519 seed of the witness key (cosignatures, type 0x04); key name
  ``<origin>/witness``.
- ``index_key``: the consortium's 32-byte index key (MapFn key ids).
- ``pseudonym_key``: the consortium's 32-byte pseudonym key (SQL projection).
- ``token_key``: 32 random bytes reserved for token derivation (tokens are stored as
  SHA-256 hashes, which needs no secret, so that an admin can unseal a sealed node).
- ``gateway_key``: Ed25519 seed of the node's FHIR gateway source.
- ``privacy_office_key``: Ed25519 seed of the node's ``privacy-office`` source (review
  decisions); not required at unseal, created on first use in older keystores.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.errors import StoreError
from accord.note import Cosigner, Signer
from accord.records import pseudonym

__all__ = ["NODE_SECRETS", "NodeKeys", "new_node_secrets", "witness_name"]

NODE_SECRETS: Final = (
    "log_key",
    "witness_key",
    "index_key",
    "pseudonym_key",
    "token_key",
    "gateway_key",
)


def witness_name(origin: str) -> str:
    """The witness key's name: distinct from the log key's, never reused under two names."""
    return f"{origin}/witness"


def new_node_secrets(
    *, index_key: bytes | None = None, pseudonym_key: bytes | None = None
) -> dict[str, bytes]:
    """Fresh secrets for a new node; the consortium keys are shared when given."""
    return {
        "log_key": secrets.token_bytes(32),
        "witness_key": secrets.token_bytes(32),
        "index_key": index_key if index_key is not None else secrets.token_bytes(32),
        "pseudonym_key": pseudonym_key if pseudonym_key is not None else secrets.token_bytes(32),
        "token_key": secrets.token_bytes(32),
        "gateway_key": secrets.token_bytes(32),
        # The privacy office's source key (signs accord.decision records; see
        # accord.node.compliance, which also adds it to older keystores on first use).
        "privacy_office_key": secrets.token_bytes(32),
    }


@dataclass(frozen=True, slots=True)
class NodeKeys:
    """Unsealed key material. Dropped (and the vault wiped) when the node seals."""

    log: Signer
    witness: Cosigner
    index_key: bytes
    pseudonym_key: bytes
    gateway: Ed25519PrivateKey

    @classmethod
    def from_secrets(cls, origin: str, values: Mapping[str, bytes]) -> NodeKeys:
        missing = [name for name in NODE_SECRETS if name not in values]
        if missing:
            raise StoreError(f"the keystore lacks the secrets {', '.join(missing)}")
        return cls(
            log=Signer.from_private_bytes(origin, values["log_key"]),
            witness=Cosigner.from_private_bytes(witness_name(origin), values["witness_key"]),
            index_key=bytes(values["index_key"]),
            pseudonym_key=bytes(values["pseudonym_key"]),
            gateway=Ed25519PrivateKey.from_private_bytes(bytes(values["gateway_key"])),
        )

    def pseudonym(self, kind: str, value: str) -> str:
        return pseudonym(self.pseudonym_key, kind, value)
