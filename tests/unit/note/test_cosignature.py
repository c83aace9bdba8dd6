"""Ed25519 cosignature/v1 (tlog-cosignature v1.0.1): message, payload, cosigning, timestamps."""

from __future__ import annotations

import base64

import pytest

from accord.errors import BadSignatureError, MalformedError, UnknownKeyError
from accord.merkle import EMPTY_ROOT
from accord.note import (
    COSIGNATURE_SIZE,
    MAX_TIMESTAMP,
    Checkpoint,
    Cosignature,
    Cosigner,
    Signer,
    cosignature_timestamp,
    cosigned_message,
    open_note,
    sign_note,
)

ROOT = base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")


def test_signed_message_matches_the_spec_example() -> None:
    text = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    assert cosigned_message(text, 1679315147) == (
        b"cosignature/v1\ntime 1679315147\n" + text.encode()
    )
    assert cosigned_message(text.encode(), 0).startswith(b"cosignature/v1\ntime 0\n")


@pytest.mark.parametrize("timestamp", [-1, 2**63, True, 1.5, "1"])
def test_timestamps_out_of_range(timestamp: object) -> None:
    cp = Checkpoint("o", 0, EMPTY_ROOT)
    with pytest.raises(MalformedError):
        cosigned_message(cp.format(), timestamp)  # type: ignore[arg-type]
    with pytest.raises(MalformedError):
        Cosigner.generate("w").cosign(cp, timestamp)  # type: ignore[arg-type]


def test_payload_round_trip() -> None:
    cos = Cosignature(b"abcd", 1679315147, bytes(range(64)))
    raw = cos.to_bytes()
    assert len(raw) == COSIGNATURE_SIZE == 76
    assert raw[4:12] == (1679315147).to_bytes(8, "big")
    assert Cosignature.from_bytes(raw) == cos
    assert cosignature_timestamp(raw) == 1679315147
    assert cosignature_timestamp(base64.b64encode(raw).decode()) == 1679315147
    top = Cosignature(b"abcd", MAX_TIMESTAMP, bytes(64))
    assert Cosignature.from_bytes(top.to_bytes()) == top


@pytest.mark.parametrize(
    ("mutation", "payload"),
    [
        ("plain-signature-68-bytes", bytes(68)),
        ("75-bytes", bytes(75)),
        ("77-bytes", bytes(77)),
        ("empty", b""),
        ("timestamp-2**63", b"abcd" + (2**63).to_bytes(8, "big") + bytes(64)),
        ("timestamp-all-ones", b"abcd" + b"\xff" * 8 + bytes(64)),
    ],
)
def test_broken_payloads(mutation: str, payload: bytes) -> None:
    with pytest.raises(MalformedError) as info:
        Cosignature.from_bytes(payload)
    assert info.value.what == "cosignature"
    with pytest.raises(MalformedError):
        cosignature_timestamp(payload)
    with pytest.raises(MalformedError):
        cosignature_timestamp(base64.b64encode(payload).decode())


def test_timestamp_extraction_refuses_bad_base64() -> None:
    for text in ("not base64!", "QUJD", "QUJDRA", ""):
        with pytest.raises(MalformedError):
            cosignature_timestamp(text)


def test_mldsa44_sized_payload_gives_its_timestamp() -> None:
    payload = b"abcd" + (42).to_bytes(8, "big") + bytes(2420)
    assert cosignature_timestamp(payload) == 42


def test_cosign_and_verify() -> None:
    log, witness = Signer.generate("example.com/log"), Cosigner.generate("w.example/1")
    cp = Checkpoint("example.com/log", 3, ROOT, ("ext line",))
    line = witness.cosign(cp, 1700000000)
    assert (line.name, line.key_id) == (witness.name, witness.key_id)
    payload = Cosignature.from_bytes(line.payload)
    assert payload.timestamp == 1700000000
    # The signature covers the whole checkpoint text, extension line included.
    witness.verifier().ed25519().verify(
        payload.signature, cosigned_message(cp.format(), 1700000000)
    )
    note = sign_note(cp.format(), log).with_signatures(line)
    opened = open_note(note.format(), [witness.verifier()])
    assert [v.timestamp for v in opened.verified] == [1700000000]
    # The log's plain verifier does not accept a cosignature and vice versa.
    with pytest.raises(UnknownKeyError):
        open_note(sign_note(cp.format(), log), [witness.verifier()])


def test_cosignature_bound_to_checkpoint_and_time() -> None:
    witness = Cosigner.generate("w")
    cp = Checkpoint("o", 3, ROOT)
    line = witness.cosign(cp, 100)
    other = Checkpoint("o", 4, ROOT)
    with pytest.raises(BadSignatureError):
        open_note(
            sign_note(other.format(), Signer.generate("o")).with_signatures(line),
            [witness.verifier()],
        )
    moved = Cosignature.from_bytes(line.payload)
    shifted = Cosignature(moved.key_id, 101, moved.signature).to_bytes()
    forged = type(line)(line.name, line.key_id, shifted[4:])
    note = sign_note(cp.format(), Signer.generate("o")).with_signatures(forged)
    with pytest.raises(BadSignatureError):
        open_note(note, [witness.verifier()])


def test_cosign_needs_a_checkpoint() -> None:
    with pytest.raises(MalformedError):
        Cosigner.generate("w").cosign("o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n", 1)  # type: ignore[arg-type]
