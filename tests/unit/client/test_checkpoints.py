"""verify_checkpoint: a member's checkpoint against the consortium file; a lying witness's
cosignature does not count, and fewer than k good ones is QuorumNotMetError."""

from __future__ import annotations

import pytest

from accord.client.checkpoints import verify_checkpoint
from accord.errors import (
    BadSignatureError,
    MalformedError,
    QuorumNotMetError,
    UnknownKeyError,
    UsageError,
    VerificationError,
)
from accord.merkle import MemoryTree, leaf_hash
from accord.note import Checkpoint, Cosigner, Note, Signature, Signer, sign_note
from accord.quorum import Consortium
from tests.unit.keyed_consortium import KeyedConsortium, origin, seed

ORGS = ("cornell", "nyu", "mskcc", "nyp")
NOW = 1_760_000_000


KEYED = KeyedConsortium(ORGS)
LOGS = KEYED.logs
WITNESSES = KEYED.witnesses
TREE = MemoryTree(leaf_hash(b"%d" % i) for i in range(20))


def _consortium(k: int = 2) -> Consortium:
    return KEYED.consortium(k)


CONSORTIUM = _consortium()


def _checkpoint(size: int = 13, org: str = "cornell") -> Checkpoint:
    return Checkpoint(origin(org), size, TREE.root(size))


def _note(*witnesses: str, size: int = 13, org: str = "cornell") -> Note:
    cp = _checkpoint(size, org)
    note = sign_note(cp.format(), LOGS[org])
    return note.with_signatures(*(WITNESSES[w].cosign(cp, NOW) for w in witnesses))


def _forged(witness: str, signature: bytes) -> Signature:
    """A line under ``witness``'s name and key ID carrying other signature bytes."""
    key = WITNESSES[witness].verifier()
    return Signature(key.name, key.key_id, signature)


def test_honest_checkpoint() -> None:
    verified = verify_checkpoint(_note("nyu", "mskcc").format(), CONSORTIUM)
    assert verified.org == "cornell"
    assert verified.checkpoint == _checkpoint()
    assert verified.k == 2
    assert verified.witnesses == {
        f"{origin('nyu')}/witness": NOW,
        f"{origin('mskcc')}/witness": NOW,
    }
    assert verified.refused == ()
    assert verified.to_json()["size"] == 13
    assert verify_checkpoint(_note("nyu", "mskcc", "nyp"), CONSORTIUM, k=3).k == 3
    assert verify_checkpoint(_note(), CONSORTIUM, k=0).witnesses == {}


# Each lie names the mutation of mskcc's cosignature; nyu's stays good.
_OTHER_KEY = Cosigner.from_private_bytes(f"{origin('mskcc')}/witness", seed("stolen?"))
LIES = {
    "made with another key": _forged("mskcc", _OTHER_KEY.cosign(_checkpoint(), NOW).signature),
    "for another checkpoint": WITNESSES["mskcc"].cosign(_checkpoint(12), NOW),
    "for another log's checkpoint": WITNESSES["mskcc"].cosign(_checkpoint(13, "nyp"), NOW),
    "timestamp changed": _forged(
        "mskcc",
        (NOW + 1).to_bytes(8, "big") + WITNESSES["mskcc"].cosign(_checkpoint(), NOW).signature[8:],
    ),
    "timestamp 0": WITNESSES["mskcc"].cosign(_checkpoint(), 0),
    "truncated": _forged("mskcc", WITNESSES["mskcc"].cosign(_checkpoint(), NOW).signature[:40]),
}


@pytest.mark.parametrize("lie", LIES, ids=list(LIES))
def test_a_lying_witness_does_not_count(lie: str) -> None:
    note = _note("nyu").with_signatures(LIES[lie])
    with pytest.raises(QuorumNotMetError) as caught:
        verify_checkpoint(note, CONSORTIUM)
    assert caught.value.details["have"] == 1
    assert caught.value.details["refused"] == [WITNESSES["mskcc"].verifier().key_ref]
    verified = verify_checkpoint(note, CONSORTIUM, k=1)
    assert set(verified.witnesses) == {f"{origin('nyu')}/witness"}
    assert verified.refused == (WITNESSES["mskcc"].verifier().key_ref,)
    # With a third, honest witness the checkpoint is accepted despite the lie.
    assert (
        len(
            verify_checkpoint(
                note.with_signatures(*_note("nyp").signatures[1:]), CONSORTIUM
            ).witnesses
        )
        == 2
    )


def test_cosignatures_that_cannot_count() -> None:
    cases = {
        "the log's own key as a witness": _note("nyu").with_signatures(
            Cosigner.from_private_bytes(origin("cornell"), seed("x")).cosign(_checkpoint(), NOW)
        ),
        "the log's own witness key": _note("nyu", "cornell"),
        "a stranger's witness": _note("nyu").with_signatures(
            Cosigner.from_private_bytes("witness.example/stranger", seed("s")).cosign(
                _checkpoint(), NOW
            )
        ),
        "the same witness twice": _note("nyu").with_signatures(
            WITNESSES["nyu"].cosign(_checkpoint(), NOW + 5)
        ),
    }
    for name, note in cases.items():
        with pytest.raises(QuorumNotMetError):
            verify_checkpoint(note, CONSORTIUM)
        assert len(verify_checkpoint(note, CONSORTIUM, k=1).witnesses) == 1, name


def test_the_log_signature_is_required() -> None:
    cp = _checkpoint()
    only_witnesses = Note(cp.format(), tuple(_note("nyu", "mskcc").signatures[1:]))
    with pytest.raises(UnknownKeyError):
        verify_checkpoint(only_witnesses, CONSORTIUM)
    stranger = Signer.from_private_bytes(origin("cornell"), seed("impostor"))
    forged = sign_note(cp.format(), stranger).with_signatures(*only_witnesses.signatures)
    with pytest.raises(UnknownKeyError):
        verify_checkpoint(forged, CONSORTIUM)
    good = _note("nyu", "mskcc")
    broken = Signature(good.signatures[0].name, good.signatures[0].key_id, b"\x00" * 64)
    with pytest.raises(BadSignatureError):
        verify_checkpoint(Note(good.text, (broken, *good.signatures[1:])), CONSORTIUM)
    only_lies = Note(cp.format(), (LIES["made with another key"],))
    with pytest.raises(UnknownKeyError):
        verify_checkpoint(only_lies, CONSORTIUM)


def test_which_member() -> None:
    note = _note("nyu", "mskcc")
    assert verify_checkpoint(note, CONSORTIUM, org="cornell").org == "cornell"
    with pytest.raises(VerificationError):
        verify_checkpoint(note, CONSORTIUM, org="nyu")
    stranger = Signer.from_private_bytes("accord.example/test/acme", seed("acme"))
    foreign = sign_note(Checkpoint("accord.example/test/acme", 1, TREE.root(1)).format(), stranger)
    with pytest.raises(UnknownKeyError):
        verify_checkpoint(foreign, CONSORTIUM)


def test_k_and_inputs() -> None:
    note = _note("nyu", "mskcc")
    for k in (-1, 4, True):
        with pytest.raises(UsageError):
            verify_checkpoint(note, CONSORTIUM, k=k)
    assert verify_checkpoint(note, _consortium(k=1)).k == 1
    with pytest.raises(MalformedError):
        verify_checkpoint("not a note", CONSORTIUM)
    with pytest.raises(MalformedError):
        verify_checkpoint(sign_note("hello\n", LOGS["cornell"]), CONSORTIUM)
    with pytest.raises(UsageError):
        verify_checkpoint(note, "consortium")  # type: ignore[arg-type]
