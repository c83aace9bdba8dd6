"""Deterministic test keys, consortia, receipts and certificates for the quorum tests."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.quorum import Consortium, Member, TrustSet, vkey_for
from accord.quorum.vkeys import SIGTYPE_COSIGNATURE, SIGTYPE_ED25519

__all__ = [
    "HOSPITALS",
    "consortium",
    "log_key",
    "member",
    "origin",
    "witness_key",
]

HOSPITALS = ("cornell", "nyu", "mskcc")


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
