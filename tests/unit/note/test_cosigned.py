"""verify_cosigned_checkpoint: the log's signature plus a quorum of witness cosignatures."""

from __future__ import annotations

import pytest

from accord.errors import (
    BadSignatureError,
    MalformedError,
    QuorumNotMetError,
    UnknownKeyError,
    UsageError,
)
from accord.merkle import MemoryTree
from accord.note import (
    Checkpoint,
    Cosigner,
    Note,
    Signature,
    Signer,
    sign_note,
    verify_cosignature,
    verify_cosigned_checkpoint,
)

LOG = Signer.generate("example.com/hospital-a/audit-log")
W = [Cosigner.generate(f"witness.example/w{i}") for i in range(4)]
TREE = MemoryTree.from_data(bytes([i]) for i in range(13))
CP = Checkpoint(LOG.name, 13, TREE.root())
WV = [w.verifier() for w in W]


def _note(*cosigners: Cosigner, cp: Checkpoint = CP, ts: int = 1700000000) -> Note:
    note = sign_note(cp.format(), LOG)
    return note.with_signatures(*(c.cosign(cp, ts + i) for i, c in enumerate(cosigners)))


def test_quorum_met() -> None:
    note = _note(W[0], W[2])
    cp, stamps = verify_cosigned_checkpoint(note.format(), LOG.verifier(), WV, 2)
    assert cp == CP
    assert stamps == {W[0].name: 1700000000, W[2].name: 1700000001}
    assert verify_cosigned_checkpoint(note, LOG.verifier(), WV, 1) == (cp, stamps)
    assert verify_cosigned_checkpoint(note.format().encode(), LOG.verifier(), WV, 0)[0] == CP


def test_quorum_not_met() -> None:
    with pytest.raises(QuorumNotMetError) as info:
        verify_cosigned_checkpoint(_note(W[0], W[2]).format(), LOG.verifier(), WV, 3)
    assert info.value.details["have"] == 2
    assert info.value.details["need"] == 3


def test_log_signature_alone_with_k_zero() -> None:
    cp, stamps = verify_cosigned_checkpoint(_note().format(), LOG.verifier(), [], 0)
    assert (cp, stamps) == (CP, {})


def test_same_witness_twice_counts_once_with_latest_time() -> None:
    note = sign_note(CP.format(), LOG).with_signatures(W[1].cosign(CP, 5))
    note = Note(note.text, (*note.signatures, W[1].cosign(CP, 9), W[1].cosign(CP, 7)))
    _, stamps = verify_cosigned_checkpoint(note, LOG.verifier(), WV, 1)
    assert stamps == {W[1].name: 9}
    with pytest.raises(QuorumNotMetError):
        verify_cosigned_checkpoint(note, LOG.verifier(), WV, 2)


def test_two_keys_of_one_witness_name_count_once() -> None:
    """Distinct witnesses are distinct names, e.g. across a key rotation."""
    rotated = Cosigner.generate(W[0].name)
    note = _note(W[0], rotated)
    _, stamps = verify_cosigned_checkpoint(note, LOG.verifier(), [WV[0], rotated.verifier()], 1)
    assert list(stamps) == [W[0].name]
    with pytest.raises(UsageError):  # only one distinct witness name is configured
        verify_cosigned_checkpoint(note, LOG.verifier(), [WV[0], rotated.verifier()], 2)


def test_other_signatures_are_ignored() -> None:
    stranger, plain = Cosigner.generate("stranger"), Signer.generate(W[3].name)
    note = _note(W[0], stranger).with_signatures(plain.sign(CP.format()))
    _, stamps = verify_cosigned_checkpoint(note, LOG.verifier(), WV, 1)
    assert stamps == {W[0].name: 1700000000}


def test_log_signature_required() -> None:
    note = _note(W[0], W[1])
    without_log = Note(note.text, note.signatures[1:])
    with pytest.raises(UnknownKeyError):
        verify_cosigned_checkpoint(without_log, LOG.verifier(), WV, 1)
    other_log = Signer.generate(LOG.name)
    with pytest.raises(UnknownKeyError):
        verify_cosigned_checkpoint(note, other_log.verifier(), WV, 1)


def test_bad_signature_by_a_known_key_rejects() -> None:
    note = _note(W[0])
    other = Checkpoint(CP.origin, 12, TREE.root(12))
    stale = W[1].cosign(other, 1)  # W1 cosigned a different checkpoint
    with pytest.raises(BadSignatureError):
        verify_cosigned_checkpoint(note.with_signatures(stale), LOG.verifier(), WV, 1)
    forged_log = Signature(LOG.name, LOG.key_id, LOG.sign(other.format()).signature)
    with pytest.raises(BadSignatureError):
        verify_cosigned_checkpoint(note.with_signatures(forged_log), LOG.verifier(), WV, 1)


def test_not_a_checkpoint() -> None:
    note = sign_note("hello\nworld\n", LOG)
    with pytest.raises(MalformedError) as info:
        verify_cosigned_checkpoint(note.format(), LOG.verifier(), WV, 0)
    assert info.value.what == "checkpoint"
    with pytest.raises(MalformedError) as info:
        verify_cosigned_checkpoint("garbage", LOG.verifier(), WV, 0)
    assert info.value.what == "note"


@pytest.mark.parametrize(
    ("mutation", "log", "witnesses", "k"),
    [
        ("log-key-is-a-cosigner-key", W[0].verifier(), WV[1:], 1),
        ("witness-key-is-a-note-key", LOG.verifier(), [Signer.generate("w").verifier()], 1),
        ("witness-not-a-verifier", LOG.verifier(), ["w+00000000+AAAA"], 0),
        ("k-negative", LOG.verifier(), WV, -1),
        ("k-beyond-witnesses", LOG.verifier(), WV, 5),
        ("k-bool", LOG.verifier(), WV, True),
    ],
)
def test_usage_errors(mutation: str, log: object, witnesses: list[object], k: object) -> None:
    with pytest.raises(UsageError):
        verify_cosigned_checkpoint(_note(W[0]), log, witnesses, k)  # type: ignore[arg-type]


def test_verify_one_cosignature() -> None:
    line = W[0].cosign(CP, 1234)
    assert verify_cosignature(CP, line, WV[0]) == 1234
    with pytest.raises(UnknownKeyError):
        verify_cosignature(CP, line, WV[1])
    with pytest.raises(BadSignatureError):
        verify_cosignature(Checkpoint(CP.origin, 12, TREE.root(12)), line, WV[0])
    with pytest.raises(BadSignatureError):
        verify_cosignature(CP, Signature(line.name, line.key_id, line.signature[:-1]), WV[0])
    with pytest.raises(UsageError):
        verify_cosignature(CP, LOG.sign(CP.format()), LOG.verifier())
