"""Consortium wiring: a member witnesses the other members' logs and hears their witnesses."""

from __future__ import annotations

import pytest

from accord.errors import NotFoundError
from accord.note import Cosigner, Signer, SigType
from accord.quorum import Consortium, Member, TrustSet
from accord.witness import gossip_witnesses, witnessed_logs

ORGS = ("cornell", "nyu", "mskcc")
LOGS = {
    o: Signer.from_private_bytes(f"accord.example/c/{o}", bytes([i + 1]) * 32)
    for i, o in enumerate(ORGS)
}
WITNESSES = {
    o: Cosigner.from_private_bytes(f"accord.example/c/{o}/witness", bytes([i + 11]) * 32)
    for i, o in enumerate(ORGS)
}
CONSORTIUM = Consortium(
    id="c",
    members=tuple(
        Member(
            org=o,
            name=o.upper(),
            url=f"https://{o}.example",
            origin=f"accord.example/c/{o}",
            log_key=LOGS[o].verifier().format(),
            witness_key=WITNESSES[o].verifier().format(),
        )
        for o in ORGS
    ),
    witness_k=1,
    trust=TrustSet(ORGS, "majority", 0),
)


def test_witnessed_logs_are_the_other_members() -> None:
    logs = witnessed_logs(CONSORTIUM, "nyu")
    assert logs == {
        "accord.example/c/cornell": LOGS["cornell"].verifier(),
        "accord.example/c/mskcc": LOGS["mskcc"].verifier(),
    }
    assert all(v.sig_type == SigType.ED25519 for v in logs.values())


def test_gossip_witnesses_are_the_other_members() -> None:
    assert gossip_witnesses(CONSORTIUM, "nyu") == (
        WITNESSES["cornell"].verifier(),
        WITNESSES["mskcc"].verifier(),
    )


def test_unknown_org() -> None:
    with pytest.raises(NotFoundError):
        witnessed_logs(CONSORTIUM, "acme")
    with pytest.raises(NotFoundError):
        gossip_witnesses(CONSORTIUM, "acme")
