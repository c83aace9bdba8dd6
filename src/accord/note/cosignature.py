"""The tlog-cosignature v1.0.1 Ed25519 payload and signed message (signature type 0x04).

A cosignature is one more signature line on a checkpoint note
(shared/reference/tlog.md section 5.3, C2SP tlog-cosignature v1.0.1). For
Ed25519 cosignatures the line's decoded bytes are 76 bytes::

    key ID (4) || timestamp, u64 big-endian (8) || Ed25519 signature (64)

and the signature covers ``"cosignature/v1\\n" "time " <decimal t> "\\n"``
followed by the whole checkpoint text (extension lines and final LF included).
The timestamp is POSIX seconds and must not exceed 2**63 - 1.

This module is byte-level only (no keys): :class:`accord.note.Verifier` and
:class:`accord.note.Cosigner` use it to verify and produce cosignatures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from accord.encoding import b64decode
from accord.errors import MalformedError

__all__ = [
    "COSIGNATURE_HEADER",
    "COSIGNATURE_SIZE",
    "ED25519_SIGNATURE_SIZE",
    "KEY_ID_SIZE",
    "MAX_TIMESTAMP",
    "MLDSA44_COSIGNATURE_SIZE",
    "TIMESTAMP_SIZE",
    "Cosignature",
    "cosignature_timestamp",
    "cosigned_message",
]

#: The domain-separation header line of the Ed25519 cosignature/v1 message.
COSIGNATURE_HEADER: Final = b"cosignature/v1\n"

#: Timestamps are POSIX seconds and MUST NOT exceed 2**63 - 1 (tlog-cosignature v1.0.1).
MAX_TIMESTAMP: Final = (1 << 63) - 1

KEY_ID_SIZE: Final = 4
TIMESTAMP_SIZE: Final = 8
ED25519_SIGNATURE_SIZE: Final = 64

#: Decoded size of an Ed25519 cosignature line: key ID || timestamp || signature.
COSIGNATURE_SIZE: Final = KEY_ID_SIZE + TIMESTAMP_SIZE + ED25519_SIGNATURE_SIZE

#: Decoded size of an ML-DSA-44 cosignature line (type 0x06, recognised, not verified).
MLDSA44_COSIGNATURE_SIZE: Final = KEY_ID_SIZE + TIMESTAMP_SIZE + 2420

_WHAT: Final = "cosignature"


def _check_timestamp(timestamp: object, what: str = _WHAT) -> int:
    if type(timestamp) is not int or not 0 <= timestamp <= MAX_TIMESTAMP:
        raise MalformedError(what, "timestamp must be an integer in [0, 2**63 - 1]")
    return timestamp


def cosigned_message(checkpoint_text: str | bytes, timestamp: int) -> bytes:
    """The bytes an Ed25519 cosignature/v1 signs (tlog-cosignature v1.0.1, "signed message").

    ``checkpoint_text`` is the entire note text of the checkpoint, final LF
    included; ``timestamp`` is written in decimal without leading zeros.
    """
    _check_timestamp(timestamp)
    text = checkpoint_text.encode("utf-8") if isinstance(checkpoint_text, str) else checkpoint_text
    return COSIGNATURE_HEADER + b"time %d\n" % timestamp + text


@dataclass(frozen=True, slots=True)
class Cosignature:
    """The decoded payload of an Ed25519 cosignature line: key ID, timestamp, signature."""

    key_id: bytes
    timestamp: int
    signature: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.key_id, bytes) or len(self.key_id) != KEY_ID_SIZE:
            raise MalformedError(_WHAT, f"key ID must be {KEY_ID_SIZE} bytes")
        _check_timestamp(self.timestamp)
        if not isinstance(self.signature, bytes) or len(self.signature) != ED25519_SIGNATURE_SIZE:
            raise MalformedError(_WHAT, f"signature must be {ED25519_SIGNATURE_SIZE} bytes")

    @classmethod
    def from_bytes(cls, payload: bytes) -> Cosignature:
        """Decode the 76 bytes of a cosignature line; MalformedError("cosignature") otherwise."""
        if not isinstance(payload, bytes) or len(payload) != COSIGNATURE_SIZE:
            raise MalformedError(_WHAT, f"payload must be {COSIGNATURE_SIZE} bytes")
        end = KEY_ID_SIZE + TIMESTAMP_SIZE
        timestamp = int.from_bytes(payload[KEY_ID_SIZE:end], "big")
        if timestamp > MAX_TIMESTAMP:
            raise MalformedError(_WHAT, "timestamp exceeds 2**63 - 1")
        return cls(payload[:KEY_ID_SIZE], timestamp, payload[end:])

    def to_bytes(self) -> bytes:
        """The 76-byte payload; the exact inverse of :meth:`from_bytes`."""
        return self.key_id + self.timestamp.to_bytes(TIMESTAMP_SIZE, "big") + self.signature


def cosignature_timestamp(payload: str | bytes) -> int:
    """The timestamp of a cosignature, from its line's base64 or decoded bytes.

    As transparency-dev/formats ``CoSigV1Timestamp``: bytes 4..12, big-endian.
    The payload must have the size of an Ed25519 (76 bytes) or ML-DSA-44 (2432
    bytes) cosignature; a plain note signature (68 bytes) is refused. No
    signature is checked here: the timestamp means nothing until the
    cosignature verifies. Raises MalformedError("cosignature").
    """
    if isinstance(payload, str):
        payload = b64decode(payload, _WHAT)
    if not isinstance(payload, bytes):
        raise MalformedError(_WHAT, "payload must be base64 text or bytes")
    if len(payload) not in (COSIGNATURE_SIZE, MLDSA44_COSIGNATURE_SIZE):
        raise MalformedError(
            _WHAT, f"{len(payload)} bytes is not the size of a timestamped cosignature"
        )
    timestamp = int.from_bytes(payload[KEY_ID_SIZE : KEY_ID_SIZE + TIMESTAMP_SIZE], "big")
    if timestamp > MAX_TIMESTAMP:
        raise MalformedError(_WHAT, "timestamp exceeds 2**63 - 1")
    return timestamp
