"""Record bodies encrypted at rest: AES-256-GCM under a data key (DESIGN.md section 6).

An encrypted body is::

    format (1 byte, = 1) || key version (u32, big-endian) || nonce (12) || ciphertext || tag (16)

The associated data is the 32-byte record hash (formats.md section 1: SHA-256 of the
body), so a ciphertext cannot be moved to another record. Decryption also checks that
the plaintext hashes to the record hash. The key version says which of the principal's
data keys to use (:mod:`accord.keys.datakeys`); it is not in the associated data, but
decryption insists it names the version of the key used, and each version is a different
random key, so altering it is refused like any other byte.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import struct
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from accord.errors import MalformedError, UsageError, VerificationError
from accord.keys.shamir import RandBytes
from accord.keys.wrapping import KEY_SIZE, NONCE_SIZE, TAG_SIZE

__all__ = [
    "BODY_FORMAT",
    "HEADER_SIZE",
    "MAX_KEY_VERSION",
    "EncryptedBody",
    "body_key_version",
    "decrypt_body",
    "encrypt_body",
]

BODY_FORMAT: Final = 1
MAX_KEY_VERSION: Final = 0xFFFFFFFF
HEADER_SIZE: Final = 1 + 4 + NONCE_SIZE
_WHAT: Final = "encrypted body"
_HEADER: Final = struct.Struct(">BI")


def _valid_version(version: object) -> bool:
    return (
        isinstance(version, int)
        and not isinstance(version, bool)
        and 1 <= version <= MAX_KEY_VERSION
    )


@dataclass(frozen=True, slots=True)
class EncryptedBody:
    """The parts of an encrypted body. ``parse``/``encode`` are exact inverses."""

    key_version: int
    nonce: bytes
    sealed: bytes  # ciphertext || tag

    def __post_init__(self) -> None:
        if not _valid_version(self.key_version):
            raise MalformedError(_WHAT, "key version must be 1..2^32-1")
        if not isinstance(self.nonce, bytes) or len(self.nonce) != NONCE_SIZE:
            raise MalformedError(_WHAT, f"nonce must be {NONCE_SIZE} bytes")
        if not isinstance(self.sealed, bytes) or len(self.sealed) < TAG_SIZE:
            raise MalformedError(_WHAT, "too short to hold an AES-GCM tag")

    def encode(self) -> bytes:
        return _HEADER.pack(BODY_FORMAT, self.key_version) + self.nonce + self.sealed

    @classmethod
    def parse(cls, blob: bytes) -> EncryptedBody:
        """Split a stored blob into its parts: MalformedError("encrypted body") if it is
        too short, of another format, or names key version 0."""
        if not isinstance(blob, bytes | bytearray | memoryview):
            raise MalformedError(_WHAT, "expected bytes")
        blob = bytes(blob)
        if len(blob) < HEADER_SIZE + TAG_SIZE:
            raise MalformedError(_WHAT, "too short")
        fmt, version = _HEADER.unpack_from(blob)
        if fmt != BODY_FORMAT:
            raise MalformedError(_WHAT, f"unsupported format {fmt} (expected {BODY_FORMAT})")
        return cls(version, blob[5:HEADER_SIZE], blob[HEADER_SIZE:])


def _check_hash(record_hash: bytes) -> bytes:
    if not isinstance(record_hash, bytes) or len(record_hash) != 32:
        raise UsageError("the record hash must be 32 bytes")
    return record_hash


def _check_key(key: bytes | bytearray) -> bytes:
    if not isinstance(key, bytes | bytearray) or len(key) != KEY_SIZE:
        raise UsageError(f"a data key must be {KEY_SIZE} bytes")
    return bytes(key)


def encrypt_body(
    key: bytes | bytearray,
    key_version: int,
    record_hash: bytes,
    body: bytes,
    *,
    randbytes: RandBytes = secrets.token_bytes,
) -> bytes:
    """Encrypt ``body`` under data key ``key`` (version ``key_version``).

    Precondition (UsageError): ``record_hash == SHA-256(body)``, a 32-byte key, a key
    version in 1..2^32-1. A fresh random nonce each call.
    """
    aad = _check_hash(record_hash)
    if not isinstance(body, bytes):
        raise UsageError("a body must be bytes")
    if not hmac.compare_digest(hashlib.sha256(body).digest(), aad):
        raise UsageError("the record hash is not SHA-256 of the body")
    if not _valid_version(key_version):
        raise UsageError("key version must be 1..2^32-1")
    nonce = bytes(randbytes(NONCE_SIZE))
    if len(nonce) != NONCE_SIZE:
        raise UsageError("randbytes returned the wrong number of bytes")
    sealed = AESGCM(_check_key(key)).encrypt(nonce, body, aad)
    return _HEADER.pack(BODY_FORMAT, key_version) + nonce + sealed


def body_key_version(blob: bytes) -> int:
    """Which data key version encrypted ``blob`` (MalformedError if it is not one)."""
    return EncryptedBody.parse(blob).key_version


def decrypt_body(
    key: bytes | bytearray, key_version: int, record_hash: bytes, blob: bytes
) -> bytes:
    """Decrypt a body made by :func:`encrypt_body` with data key ``key`` (version
    ``key_version``) for the record ``record_hash``.

    MalformedError for a blob that is not an encrypted body; VerificationError if it
    names another key version, or the key, the record hash or any byte is wrong, or the
    plaintext does not hash to ``record_hash``.
    """
    aad = _check_hash(record_hash)
    parts = EncryptedBody.parse(blob)
    if parts.key_version != key_version:
        raise VerificationError(
            f"encrypted body names data key version {parts.key_version}, not {key_version}"
        )
    try:
        body = AESGCM(_check_key(key)).decrypt(parts.nonce, parts.sealed, aad)
    except InvalidTag:
        raise VerificationError(
            "encrypted body does not open: wrong key, wrong record hash or altered bytes"
        ) from None
    if not hmac.compare_digest(hashlib.sha256(body).digest(), aad):
        raise VerificationError("decrypted body does not hash to the record hash")
    return body
