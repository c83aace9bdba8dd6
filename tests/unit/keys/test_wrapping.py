"""accord.keys.wrapping: HKDF labels and AES-256-GCM wrapping."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from accord.errors import MalformedError, UsageError, VerificationError
from accord.keys.wrapping import KEK_LABELS, derive_kek, unwrap, wrap

MASTER = bytes(range(32))


def test_derive_kek_is_hkdf_sha256_with_the_label_as_info() -> None:
    expected = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"accord/keys/v1/datakeys"
    ).derive(MASTER)
    assert derive_kek(MASTER, "accord/keys/v1/datakeys") == expected
    assert derive_kek(bytearray(MASTER), "accord/keys/v1/datakeys") == expected


def test_each_label_gives_a_different_key() -> None:
    keys = {derive_kek(MASTER, label) for label in KEK_LABELS}
    assert len(keys) == len(KEK_LABELS) == 3
    assert MASTER not in keys


def test_unregistered_label_and_bad_master_are_refused() -> None:
    with pytest.raises(UsageError):
        derive_kek(MASTER, "accord/keys/v1/other")
    with pytest.raises(UsageError):
        derive_kek(MASTER[:31], "accord/keys/v1/datakeys")


def test_wrap_round_trip_and_layout() -> None:
    kek = os.urandom(32)
    wrapped = wrap(kek, b"secret", b"aad", randbytes=lambda n: b"\x07" * n)
    assert wrapped[:12] == b"\x07" * 12
    assert len(wrapped) == 12 + 6 + 16
    assert unwrap(kek, wrapped, b"aad", "thing") == b"secret"


def test_fresh_nonce_each_time() -> None:
    kek = os.urandom(32)
    assert wrap(kek, b"secret", b"") != wrap(kek, b"secret", b"")


@pytest.mark.parametrize(
    ("case", "kek_delta", "aad", "flip"),
    [
        ("wrong key", 1, b"aad", None),
        ("wrong associated data", 0, b"aaD", None),
        ("nonce altered", 0, b"aad", 0),
        ("ciphertext altered", 0, b"aad", 13),
        ("tag altered", 0, b"aad", -1),
    ],
)
def test_unwrap_refuses(case: str, kek_delta: int, aad: bytes, flip: int | None) -> None:
    kek = bytes(32)
    wrapped = bytearray(wrap(kek, b"secret", b"aad"))
    if flip is not None:
        wrapped[flip] ^= 0x80
    other = bytes([kek_delta]) + kek[1:]
    with pytest.raises(VerificationError):
        unwrap(other, bytes(wrapped), aad, "thing")


def test_unwrap_too_short_is_malformed() -> None:
    with pytest.raises(MalformedError):
        unwrap(bytes(32), bytes(27), b"", "thing")
    with pytest.raises(UsageError):
        wrap(bytes(16), b"x", b"")
