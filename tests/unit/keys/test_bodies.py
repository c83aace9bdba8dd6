"""Encrypted record bodies: layout, round trip, and every tampering refused."""

from __future__ import annotations

import hashlib
import os
import struct

import pytest

from accord.errors import AccordError, MalformedError, UsageError, VerificationError
from accord.keys.bodies import (
    HEADER_SIZE,
    EncryptedBody,
    body_key_version,
    decrypt_body,
    encrypt_body,
)

KEY = os.urandom(32)
BODY = b'{"sig":"...","statement":{"v":1}}' * 15
HASH = hashlib.sha256(BODY).digest()
BLOB = encrypt_body(KEY, 7, HASH, BODY)


def test_round_trip() -> None:
    assert decrypt_body(KEY, 7, HASH, BLOB) == BODY
    empty = encrypt_body(KEY, 1, hashlib.sha256(b"").digest(), b"")
    assert decrypt_body(KEY, 1, hashlib.sha256(b"").digest(), empty) == b""


def test_layout() -> None:
    blob = encrypt_body(KEY, 0x01020304, HASH, BODY, randbytes=lambda n: b"\xaa" * n)
    assert blob[0] == 1
    assert blob[1:5] == b"\x01\x02\x03\x04"
    assert blob[5:17] == b"\xaa" * 12
    assert len(blob) == HEADER_SIZE + len(BODY) + 16 == 17 + len(BODY) + 16
    assert body_key_version(blob) == 0x01020304
    parts = EncryptedBody.parse(blob)
    assert parts.encode() == blob
    assert (parts.key_version, parts.nonce) == (0x01020304, b"\xaa" * 12)


def test_aes_gcm_with_the_record_hash_as_associated_data() -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = BLOB[5:17]
    assert AESGCM(KEY).decrypt(nonce, BLOB[17:], HASH) == BODY


def test_fresh_nonce_each_time() -> None:
    assert encrypt_body(KEY, 7, HASH, BODY) != encrypt_body(KEY, 7, HASH, BODY)


def test_every_byte_altered_is_refused() -> None:
    for position in range(len(BLOB)):
        for flip in (0x01, 0x80):
            damaged = bytearray(BLOB)
            damaged[position] ^= flip
            with pytest.raises((MalformedError, VerificationError)):
                decrypt_body(KEY, 7, HASH, bytes(damaged))


@pytest.mark.parametrize(
    ("case", "blob", "error"),
    [
        ("format byte 2", b"\x02" + BLOB[1:], MalformedError),
        ("format byte 0", b"\x00" + BLOB[1:], MalformedError),
        ("key version 0", BLOB[:1] + bytes(4) + BLOB[5:], MalformedError),
        ("key version 8", BLOB[:1] + struct.pack(">I", 8) + BLOB[5:], VerificationError),
        ("truncated to the header", BLOB[:HEADER_SIZE], MalformedError),
        ("truncated tag", BLOB[:-1], VerificationError),
        ("tag only", BLOB[:HEADER_SIZE] + BLOB[-16:], VerificationError),
        ("extra byte", BLOB + b"\x00", VerificationError),
        ("empty", b"", MalformedError),
        ("ciphertext bit", BLOB[:20] + bytes([BLOB[20] ^ 4]) + BLOB[21:], VerificationError),
    ],
)
def test_broken_blobs(case: str, blob: bytes, error: type[AccordError]) -> None:
    with pytest.raises(error):
        decrypt_body(KEY, 7, HASH, blob)


def test_wrong_record_hash_is_refused() -> None:
    other = hashlib.sha256(b"another body").digest()
    with pytest.raises(VerificationError):
        decrypt_body(KEY, 7, other, BLOB)


def test_wrong_key_is_refused() -> None:
    with pytest.raises(VerificationError):
        decrypt_body(os.urandom(32), 7, HASH, BLOB)


def test_a_ciphertext_made_with_a_lying_hash_is_refused_after_decryption() -> None:
    # Someone holding the data key encrypts body B under record hash H(A): GCM opens,
    # but the plaintext does not hash to the record hash.
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    forged = b"\x01" + struct.pack(">I", 7) + nonce + AESGCM(KEY).encrypt(nonce, b"B", HASH)
    with pytest.raises(VerificationError, match="does not hash"):
        decrypt_body(KEY, 7, HASH, forged)


@pytest.mark.parametrize(
    ("case", "key", "version", "record_hash", "body"),
    [
        ("hash of another body", KEY, 1, hashlib.sha256(b"x").digest(), BODY),
        ("hash 31 bytes", KEY, 1, HASH[:31], BODY),
        ("key 16 bytes", KEY[:16], 1, HASH, BODY),
        ("version 0", KEY, 0, HASH, BODY),
        ("version 2^32", KEY, 2**32, HASH, BODY),
        ("version true", KEY, True, HASH, BODY),
        ("body text", KEY, 1, HASH, BODY.decode()),
    ],
)
def test_encrypt_preconditions(
    case: str, key: bytes, version: int, record_hash: bytes, body: bytes
) -> None:
    with pytest.raises(UsageError):
        encrypt_body(key, version, record_hash, body)


def test_parse_refuses_non_bytes() -> None:
    with pytest.raises(MalformedError):
        EncryptedBody.parse("text")  # type: ignore[arg-type]
