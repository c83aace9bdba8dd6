"""Key derivation from the master key and AES-256-GCM key wrapping (DESIGN.md section 6).

Every key-encryption key (KEK) is ``HKDF-SHA256(master, salt=none, info=label)`` with a
distinct label per use, so the keystore's secrets, its check value and the data keys are
wrapped under unrelated keys. A wrapped value is ``nonce (12) || ciphertext || tag (16)``
with a random nonce and caller-given associated data.
"""

from __future__ import annotations

import secrets
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from accord.errors import MalformedError, UsageError, VerificationError
from accord.keys.shamir import RandBytes

__all__ = [
    "KEK_LABELS",
    "KEY_SIZE",
    "NONCE_SIZE",
    "TAG_SIZE",
    "derive_kek",
    "unwrap",
    "wrap",
]

KEY_SIZE: Final = 32
NONCE_SIZE: Final = 12
TAG_SIZE: Final = 16

#: The HKDF info label of every KEK derived from a master key. One label, one use.
KEK_LABELS: Final = frozenset(
    {
        "accord/keys/v1/keystore-check",
        "accord/keys/v1/keystore-secrets",
        "accord/keys/v1/datakeys",
    }
)


def derive_kek(master: bytes | bytearray, label: str) -> bytes:
    """HKDF-SHA256(master, info=label) -> 32 bytes. Precondition: a registered label."""
    if label not in KEK_LABELS:
        raise UsageError(f"unregistered key-derivation label {label!r}")
    if len(master) != KEY_SIZE:
        raise UsageError(f"the master key must be {KEY_SIZE} bytes")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=None, info=label.encode())
    return hkdf.derive(bytes(master))


def wrap(
    kek: bytes | bytearray,
    plaintext: bytes | bytearray,
    aad: bytes,
    *,
    randbytes: RandBytes = secrets.token_bytes,
) -> bytes:
    """AES-256-GCM of ``plaintext`` under ``kek`` with ``aad``: nonce || ciphertext || tag."""
    if len(kek) != KEY_SIZE:
        raise UsageError(f"a key-encryption key must be {KEY_SIZE} bytes")
    nonce = randbytes(NONCE_SIZE)
    if len(nonce) != NONCE_SIZE:
        raise UsageError("randbytes returned the wrong number of bytes")
    return bytes(nonce) + AESGCM(bytes(kek)).encrypt(nonce, bytes(plaintext), aad)


def unwrap(kek: bytes | bytearray, wrapped: bytes, aad: bytes, what: str) -> bytes:
    """Open a value made by :func:`wrap`.

    MalformedError(what) if it is too short to be one; VerificationError if the key,
    the associated data or any byte is wrong (AES-GCM cannot tell these apart).
    """
    if len(kek) != KEY_SIZE:
        raise UsageError(f"a key-encryption key must be {KEY_SIZE} bytes")
    if not isinstance(wrapped, bytes) or len(wrapped) < NONCE_SIZE + TAG_SIZE:
        raise MalformedError(what, "too short to be an AES-GCM wrapped value")
    try:
        return AESGCM(bytes(kek)).decrypt(wrapped[:NONCE_SIZE], wrapped[NONCE_SIZE:], aad)
    except InvalidTag:
        raise VerificationError(f"{what} does not open: wrong key or altered bytes") from None
