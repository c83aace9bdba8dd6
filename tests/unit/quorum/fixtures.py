"""Deterministic test keys, consortia, receipts and certificates for the quorum tests."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.encoding import canonical
from accord.merkle import MemoryTree, leaf_hash
from accord.quorum import (
    CertificateBuilder,
    Consortium,
    Member,
    Receipt,
    SignedReceipt,
    TrustSet,
    sign_receipts,
    vkey_for,
)
from accord.quorum.vkeys import SIGTYPE_COSIGNATURE, SIGTYPE_ED25519

__all__ = [
    "HOSPITALS",
    "P1",
    "P2",
    "RECORD",
    "builder_for",
    "consortium",
    "header_leaf",
    "log_key",
    "member",
    "origin",
    "receipt",
    "signed",
    "tree_of",
    "witness_key",
]

HOSPITALS = ("cornell", "nyu", "mskcc")
RECORD = hashlib.sha256(b"Mrs. Smith's access record").digest()
P1 = "11" * 16  # principal pseudonyms (32 hex digits)
P2 = "22" * 16


def _key(label: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(label.encode()).digest())


def log_key(org: str) -> Ed25519PrivateKey:
    return _key("log/" + org)


def witness_key(org: str) -> Ed25519PrivateKey:
    return _key("witness/" + org)


def origin(org: str) -> str:
    return f"accord.example/demo/{org}"


def member(org: str, port: int = 8100) -> Member:
    return Member(
        org=org,
        name=f"{org.upper()} Hospital",
        url=f"http://127.0.0.1:{port}",
        origin=origin(org),
        log_key=vkey_for(origin(org), SIGTYPE_ED25519, log_key(org).public_key()),
        witness_key=vkey_for(
            f"witness.example/{org}", SIGTYPE_COSIGNATURE, witness_key(org).public_key()
        ),
    )


def consortium(
    orgs: Sequence[str] = HOSPITALS, k: int = 1, trust: TrustSet | None = None
) -> Consortium:
    members = tuple(member(org, 8101 + i) for i, org in enumerate(orgs))
    return Consortium("demo", members, k, trust or TrustSet(tuple(orgs)))


def receipt(
    org: str,
    record: bytes = RECORD,
    index: int = 7,
    log_ts: int = 1_710_000_000_123,
    principals: tuple[str, ...] = (P1,),
) -> Receipt:
    return Receipt(record, org, origin(org), index, log_ts, principals)


def signed(
    org: str,
    record: bytes = RECORD,
    ts: int = 1_710_000_000_500,
    principals: tuple[str, ...] = (P1,),
) -> SignedReceipt:
    """``org``'s receipt for ``record`` about ``principals``, alone in its batch."""
    r = receipt(org, record, principals=principals)
    return sign_receipts([r], org, origin(org), ts, log_key(org))[0]


def header_leaf(record: bytes = RECORD, log_ts: int = 1_710_000_000_123, **extra: object) -> bytes:
    header: dict[str, object] = {
        "v": 1,
        "type": "ehr.access",
        "org": "cornell",
        "src": "cornell/ehr",
        "log_ts": log_ts,
        "event_ts": 1_710_000_000_000,
        "keys": [],
        "body_hash": record.hex(),
    }
    header.update(extra)
    return canonical(header)


def builder_for(orgs: Sequence[str], c: Consortium | None = None) -> CertificateBuilder:
    c = c or consortium()
    return CertificateBuilder(RECORD, "cornell", {P1: TrustSet(tuple(orgs))}, c)


def tree_of(leaves: Sequence[bytes]) -> MemoryTree:
    return MemoryTree(leaf_hash(x) for x in leaves)
