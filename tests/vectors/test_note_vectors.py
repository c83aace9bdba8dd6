"""C2SP signed-note, checkpoint and cosignature vectors from ../shared/testdata/tlog.

Every case of signed_notes.json, checkpoints.json and cosignatures.json behaves
as its ``expect`` says; ML-DSA-44 keys are recognised and refused with
UnsupportedAlgorithmError; where the data carries a signer key, signing
reproduces the note byte for byte.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from accord.errors import (
    AccordError,
    BadSignatureError,
    MalformedError,
    TooLargeError,
    UnknownKeyError,
    UnsupportedAlgorithmError,
    VerificationError,
)
from accord.note import (
    Checkpoint,
    Cosigner,
    Note,
    Signature,
    Signer,
    SigType,
    Verifier,
    cosignature_timestamp,
    cosigned_message,
    key_id,
    open_note,
    sign_note,
    verify_cosigned_checkpoint,
)
from tests.conftest import load_vectors

NOTES = load_vectors("tlog/signed_notes.json")["cases"]
CHECKPOINTS = load_vectors("tlog/checkpoints.json")["cases"]
COSIG = load_vectors("tlog/cosignatures.json")
KEYS = COSIG["keys"]
MLDSA_VKEY = KEYS["witness_mldsa44"]["vkey"]


def _message(case: dict[str, Any]) -> str | bytes:
    if case.get("note_hex"):
        return bytes.fromhex(case["note_hex"])
    note: str = case["note"]
    return note


def _error_for(expect: dict[str, Any]) -> type[AccordError]:
    """The Accord error for an x/mod error string (informative wording in the data)."""
    error = expect.get("error", "")
    if expect.get("implementation_limit"):
        return TooLargeError
    if error == "malformed note":
        return MalformedError
    if error == "note has no verifiable signatures":
        return UnknownKeyError
    if error.startswith("invalid signature for key"):
        return BadSignatureError
    return VerificationError


# -- signed_notes.json ---------------------------------------------------------------


@pytest.mark.parametrize("case", NOTES, ids=lambda c: c["id"])
def test_signed_note_vectors(case: dict[str, Any]) -> None:
    verifiers = [Verifier.parse(k) for k in case["verifier_keys"]]
    assert [v.format() for v in verifiers] == case["verifier_keys"]
    message = _message(case)
    expect = case["expect"]
    if expect["valid"]:
        opened = open_note(message, verifiers)
        assert [v.verifier.key_ref for v in opened.verified] == expect["verified"]
        assert [s.key_ref for s in opened.unverified] == expect.get("unverified", [])
        assert all(v.timestamp is None for v in opened.verified)
        assert Note.parse(message).format() == message
        if "note_text" in case:
            assert opened.text == case["note_text"]
    else:
        with pytest.raises(_error_for(expect)):
            open_note(message, verifiers)


@pytest.mark.parametrize("case", [c for c in NOTES if "signer_key" in c], ids=lambda c: c["id"])
def test_signing_reproduces_note(case: dict[str, Any]) -> None:
    signer = Signer.parse(case["signer_key"])
    assert signer.format() == case["signer_key"]
    assert signer.verifier().format() == case["verifier_keys"][0]
    assert sign_note(case["note_text"], signer).format() == case["note"]


def test_sumdb_checkpoint_is_a_checkpoint() -> None:
    case = next(c for c in NOTES if c["id"] == "sumdb-real-checkpoint")
    opened = open_note(case["note"], [Verifier.parse(k) for k in case["verifier_keys"]])
    cp = Checkpoint.parse(opened.text)
    want = case["checkpoint"]
    assert (cp.origin, cp.size) == (want["origin"], want["size"])
    assert cp.root_hash == base64.b64decode(want["root_hash_b64"])
    assert cp.format() == opened.text


def test_hundred_signatures_accepted_hundred_and_one_refused() -> None:
    """x/mod's implementation limit, as the xmod-too-many-signatures case describes."""
    case = next(c for c in NOTES if c["id"] == "xmod-too-many-signatures")
    verifiers = [Verifier.parse(k) for k in case["verifier_keys"]]
    note = case["note"]
    text, sep, block = note.rpartition("\n\n")
    lines = block.splitlines(keepends=True)
    assert len(lines) == 101
    hundred = text + sep + "".join(lines[:100])
    opened = open_note(hundred, verifiers)
    assert [v.verifier.key_ref for v in opened.verified] == ["PeterNeumann+c74f20a3"]
    assert len(Note.parse(hundred).signatures) == 100
    with pytest.raises(TooLargeError):
        Note.parse(note)


def test_attested_verifier_keys_round_trip() -> None:
    """ArmoredWitness identity notes carry a real vkey on their fourth line."""
    vkeys = [c["note"].split("\n")[3] for c in NOTES if c["id"].startswith("armored-witness-")]
    vkeys = [k for k in vkeys if "+" in k]
    assert len(vkeys) >= 10
    for vkey in vkeys:
        verifier = Verifier.parse(vkey)
        assert verifier.format() == vkey
        assert verifier.sig_type is SigType.ED25519


# -- checkpoints.json ----------------------------------------------------------------


@pytest.mark.parametrize("case", CHECKPOINTS, ids=lambda c: c["id"])
def test_checkpoint_vectors(case: dict[str, Any]) -> None:
    if case["valid"]:
        cp = Checkpoint.parse(case["text"])
        assert cp.format() == case["text"]
        lines = case["text"].split("\n")
        assert cp.origin == lines[0]
        assert cp.size == int(lines[1])
        assert list(cp.extensions) == lines[3:-1]
    else:
        with pytest.raises(MalformedError) as info:
            Checkpoint.parse(case["text"])
        assert info.value.what == "checkpoint"


# -- cosignatures.json ---------------------------------------------------------------


def _log_signer() -> Signer:
    log = KEYS["log"]
    return Signer.from_private_bytes(log["name"], bytes.fromhex(log["seed_hex"]))


def _witness() -> Cosigner:
    w = KEYS["witness_ed25519"]
    return Cosigner.from_private_bytes(w["name"], bytes.fromhex(w["seed_hex"]))


def test_cosignature_keys() -> None:
    log, w1, w2 = KEYS["log"], KEYS["witness_ed25519"], KEYS["witness_mldsa44"]
    signer = _log_signer()
    assert signer.format() == log["skey"]
    assert Signer.parse(log["skey"]) == signer
    assert signer.verifier().format() == log["vkey"]
    assert signer.verifier().public_key.hex() == log["public_key_hex"]
    assert signer.key_id.hex() == log["key_id_hex"]
    assert signer.private_bytes().hex() == log["seed_hex"]

    witness = _witness()
    assert witness.verifier() == Verifier.parse(w1["vkey"])
    assert witness.verifier().format() == w1["vkey"]
    assert witness.key_id.hex() == w1["key_id_hex"]
    assert w1["signature_type"] == SigType.COSIGNATURE_V1
    assert Cosigner.parse(witness.format()) == witness

    # ML-DSA-44 is recognised (its key ID is computed by the same rule) and refused.
    assert (
        key_id(w2["name"], w2["signature_type"], bytes.fromhex(w2["public_key_hex"])).hex()
        == (w2["key_id_hex"])
    )
    with pytest.raises(UnsupportedAlgorithmError, match=r"^unsupported algorithm: ML-DSA-44$"):
        Verifier.parse(w2["vkey"])


def _is_mldsa(case: dict[str, Any]) -> bool:
    return MLDSA_VKEY in case["verifier_keys"]


#: The error each negative cosignature case raises.
NEGATIVE = {
    "cp8ext-cosig-first3lines": BadSignatureError,
    "neg-cosig-timestamp-altered": BadSignatureError,
    "neg-cosig-on-other-checkpoint": BadSignatureError,
    "neg-cosig-keyid-type01": UnknownKeyError,
    "neg-log-sig-with-cosig-verifier": UnknownKeyError,
    "neg-mldsa44-wrong-root": UnsupportedAlgorithmError,
    "neg-log-sig-size-changed": BadSignatureError,
}


@pytest.mark.parametrize("case", COSIG["cases"], ids=lambda c: c["id"])
def test_cosignature_vectors(case: dict[str, Any]) -> None:
    note = Note.parse(case["note"])
    assert note.format() == case["note"]
    assert note.text == case["note_text"]
    cp = Checkpoint.parse(note.text)
    if "tree_size" in case:
        assert cp.size == case["tree_size"]
        assert cp.root_hash == base64.b64decode(case["root_hash_b64"])
    expect = case["expect"]

    if _is_mldsa(case):
        with pytest.raises(UnsupportedAlgorithmError, match="ML-DSA-44"):
            open_note(case["note"], [Verifier.parse(k) for k in case["verifier_keys"]])
        if expect["valid"]:
            # The timestamp is still readable from the (unverified) ML-DSA-44 line.
            w2 = [s for s in note.signatures if s.name == KEYS["witness_mldsa44"]["name"]]
            assert [cosignature_timestamp(s.payload) for s in w2] == expect["timestamps"]
        return

    verifiers = [Verifier.parse(k) for k in case["verifier_keys"]]
    if not expect["valid"]:
        with pytest.raises(NEGATIVE[case["id"]]):
            open_note(case["note"], verifiers)
        if "signed_message_utf8" in case:
            ts = cosignature_timestamp(note.signatures[-1].payload)
            assert cosigned_message(note.text, ts) != case["signed_message_utf8"].encode()
        return

    opened = open_note(case["note"], verifiers)
    if "verified" in expect:
        assert [v.verifier.key_ref for v in opened.verified] == expect["verified"]
    timestamps = [v.timestamp for v in opened.verified if v.timestamp is not None]
    assert timestamps == expect.get("timestamps", [])
    if "signed_message_utf8" in case:
        assert cosigned_message(note.text, timestamps[0]) == case["signed_message_utf8"].encode()


@pytest.mark.parametrize(
    "case",
    [c for c in COSIG["cases"] if c["expect"]["valid"] and not _is_mldsa(c)],
    ids=lambda c: c["id"],
)
def test_cosigned_notes_reproduced_byte_for_byte(case: dict[str, Any]) -> None:
    signer, witness = _log_signer(), _witness()
    note = Note.parse(case["note"])
    cp = Checkpoint.parse(note.text)
    rebuilt: list[Signature] = []
    for sig in note.signatures:
        if sig.name == signer.name:
            rebuilt.append(signer.sign(note.text))
        else:
            assert sig.name == witness.name
            rebuilt.append(witness.cosign(cp, cosignature_timestamp(sig.payload)))
    assert Note(note.text, tuple(rebuilt)).format() == case["note"]


@pytest.mark.parametrize(
    "case",
    [c for c in COSIG["cases"] if c["id"].endswith("-ed25519-cosig")],
    ids=lambda c: c["id"],
)
def test_verify_cosigned_checkpoint_vectors(case: dict[str, Any]) -> None:
    log = Verifier.parse(KEYS["log"]["vkey"])
    w1 = Verifier.parse(KEYS["witness_ed25519"]["vkey"])
    cp, witnesses = verify_cosigned_checkpoint(case["note"], log, [w1], 1)
    assert cp == Checkpoint.parse(case["note_text"])
    assert witnesses == {w1.name: case["expect"]["timestamps"][0]}


@pytest.mark.parametrize(
    "case", COSIG["mldsa44_subtree_cosignatures"]["cases"], ids=lambda c: c["id"]
)
def test_mldsa44_subtree_cosignatures_refused(case: dict[str, Any]) -> None:
    sig = Signature.parse(case["signature_line"] + "\n")
    assert sig.name == case["cosigner"]
    assert sig.key_id.hex() == KEYS["witness_mldsa44"]["key_id_hex"]
    assert sig.signature == base64.b64decode(case["timestamped_signature_b64"])
    assert cosignature_timestamp(sig.payload) == case["timestamp"]
    with pytest.raises(UnsupportedAlgorithmError, match=r"^unsupported algorithm: ML-DSA-44$"):
        Verifier.parse(MLDSA_VKEY)


@pytest.mark.parametrize("case", COSIG["timestamp_extraction"], ids=lambda c: c["id"])
def test_timestamp_extraction(case: dict[str, Any]) -> None:
    if case.get("expected_error"):
        with pytest.raises(MalformedError):
            cosignature_timestamp(case["signature_b64"])
    else:
        assert cosignature_timestamp(case["signature_b64"]) == case["expected_timestamp"]
        raw = base64.b64decode(case["signature_b64"])
        assert cosignature_timestamp(raw) == case["expected_timestamp"]
