"""Key names, key IDs, signature types and verifier keys (C2SP signed-note v1.0.0).

- A **key name** is non-empty, has no Unicode whitespace, no ``+`` and no
  control characters (signed-note "Format"; control characters could never
  appear in a note anyway).
- A **key ID** is ``SHA-256(name || 0x0A || signature type || public key)[:4]``
  (signed-note "Signatures"; tlog-cosignature for type 0x04).
- A **verifier key** (vkey) is ``<name>+<8 lowercase hex key ID>+<base64(type ||
  public key)>`` (shared/reference/tlog.md section 5.1).

Accord implements signature types 0x01 (Ed25519 note signatures) and 0x04
(Ed25519 cosignature/v1). Types 0x02 (ECDSA), 0x05 (RFC 6962 tree head
signatures) and 0x06 (ML-DSA-44) are recognised and refused with
:class:`~accord.errors.UnsupportedAlgorithmError`; so is any other type byte.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Final, NoReturn

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from accord.encoding import b64decode, b64encode
from accord.errors import BadSignatureError, MalformedError, UnsupportedAlgorithmError
from accord.note.cosignature import (
    COSIGNATURE_SIZE,
    KEY_ID_SIZE,
    MAX_TIMESTAMP,
    TIMESTAMP_SIZE,
    cosigned_message,
)

__all__ = [
    "ED25519_KEY_SIZE",
    "KEY_ID_SIZE",
    "SigType",
    "Verifier",
    "algorithm_name",
    "check_key_name",
    "key_id",
    "key_ref",
    "refuse_algorithm",
    "weak_ed25519_key",
]

ED25519_KEY_SIZE: Final = 32


class SigType(IntEnum):
    """Signature type identifier bytes (signed-note "Signature types")."""

    ED25519 = 0x01
    ECDSA = 0x02
    COSIGNATURE_V1 = 0x04
    RFC6962_STH = 0x05
    MLDSA44 = 0x06


#: The signature types Accord signs and verifies.
SUPPORTED: Final = frozenset({SigType.ED25519, SigType.COSIGNATURE_V1})

_ALGORITHMS: Final[dict[int, str]] = {
    SigType.ED25519: "Ed25519",
    SigType.ECDSA: "ECDSA",
    SigType.COSIGNATURE_V1: "Ed25519 cosignature/v1",
    SigType.RFC6962_STH: "RFC 6962 TreeHeadSignature",
    SigType.MLDSA44: "ML-DSA-44",
}

_HEX_ID = re.compile(r"[0-9a-f]{8}", re.ASCII)

_P: Final = 2**255 - 19
#: y-coordinates of the Ed25519 points of small order (libsodium's has_small_order list):
#: the identity (1), order 2 (p - 1), order 4 (0) and order 8 (two values).
_SMALL_ORDER_Y: Final = frozenset(
    {
        0,
        1,
        _P - 1,
        int.from_bytes(
            bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
            "little",
        ),
        int.from_bytes(
            bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
            "little",
        ),
    }
)


def weak_ed25519_key(public_key: bytes) -> bool:
    """True for an Ed25519 public key that is a point of small order or not canonically encoded.

    OpenSSL accepts such keys, and under them signatures that anyone can make
    verify (e.g. the all-zero key verifies an all-zero signature on some
    messages), so a log could later disown its own signed checkpoints.
    """
    y = int.from_bytes(public_key, "little") & ((1 << 255) - 1)
    return y >= _P or y in _SMALL_ORDER_Y


def algorithm_name(sig_type: int) -> str:
    """A readable name for a signature type byte, e.g. ``ML-DSA-44`` for 0x06."""
    name = _ALGORITHMS.get(sig_type)
    if name is not None:
        return name
    if sig_type == 0x03 or 0xFA <= sig_type <= 0xFE:
        return f"reserved signature type 0x{sig_type:02x}"
    return f"signature type 0x{sig_type:02x}"


def refuse_algorithm(sig_type: int) -> NoReturn:
    """Raise UnsupportedAlgorithmError naming the algorithm of ``sig_type``."""
    raise UnsupportedAlgorithmError(
        f"unsupported algorithm: {algorithm_name(sig_type)}", signature_type=sig_type
    )


def check_key_name(name: object, what: str = "key name") -> str:
    """Return ``name`` if it is a valid key name; MalformedError(what) otherwise.

    signed-note v1.0.0: non-empty, no Unicode whitespace, no ``+``. Accord also
    refuses control characters and text that is not encodable as UTF-8.
    """
    if not isinstance(name, str) or not name:
        raise MalformedError(what, "key name must be a non-empty string")
    if "+" in name:
        raise MalformedError(what, "key name must not contain '+'")
    for ch in name:
        if ch.isspace() or ch < " ":
            raise MalformedError(what, "key name must not contain whitespace or control characters")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedError(what, "key name is not valid Unicode") from None
    return name


def key_id(name: str, sig_type: int, public_key: bytes) -> bytes:
    """SHA-256(name || 0x0A || sig_type || public_key)[:4] (signed-note "Signatures")."""
    data = name.encode("utf-8") + b"\n" + bytes([sig_type]) + public_key
    return hashlib.sha256(data).digest()[:KEY_ID_SIZE]


def key_ref(name: str, key_id: bytes) -> str:
    """``name+<8 hex>``: how a key is named in messages and in the test vectors."""
    return f"{name}+{key_id.hex()}"


@dataclass(frozen=True, slots=True)
class Verifier:
    """A public key that verifies note signatures (0x01) or cosignatures (0x04).

    ``public_key`` is the 32-byte Ed25519 public key. Construct it directly, or
    with :meth:`parse` from a vkey string; :meth:`format` is the exact inverse.
    """

    name: str
    sig_type: SigType
    public_key: bytes
    _key: Ed25519PublicKey = field(init=False, repr=False, compare=False)
    _key_id: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        what = "verifier key"
        check_key_name(self.name, what)
        if type(self.sig_type) is not SigType and type(self.sig_type) is not int:
            raise MalformedError(what, "signature type must be an integer")
        if self.sig_type not in SUPPORTED:
            refuse_algorithm(self.sig_type)
        if not isinstance(self.public_key, bytes) or len(self.public_key) != ED25519_KEY_SIZE:
            raise MalformedError(what, f"an Ed25519 public key is {ED25519_KEY_SIZE} bytes")
        object.__setattr__(self, "sig_type", SigType(self.sig_type))
        if weak_ed25519_key(self.public_key):
            raise MalformedError(what, "weak Ed25519 public key (small order or non-canonical)")
        try:
            key = Ed25519PublicKey.from_public_bytes(self.public_key)
        except ValueError:
            raise MalformedError(what, "not an Ed25519 public key") from None
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "_key_id", key_id(self.name, self.sig_type, self.public_key))

    @property
    def key_id(self) -> bytes:
        """The 4-byte key ID of this (name, type, key)."""
        return self._key_id

    @property
    def key_ref(self) -> str:
        """``name+<8 hex key ID>``."""
        return key_ref(self.name, self._key_id)

    @classmethod
    def parse(cls, text: str) -> Verifier:
        """Parse a vkey ``<name>+<hex id>+<base64(type || key)>`` (tlog.md section 5.1).

        Raises MalformedError("verifier key") for bad syntax, a bad key or a key
        ID that does not match the key, and UnsupportedAlgorithmError for a
        signature type other than 0x01 and 0x04 (e.g. "unsupported algorithm:
        ML-DSA-44"), checked before the key ID since some types (ECDSA) derive
        their key IDs differently.
        """
        what = "verifier key"
        if not isinstance(text, str):
            raise MalformedError(what, "a verifier key is text")
        name, _, rest = text.partition("+")
        hex_id, _, b64 = rest.partition("+")
        check_key_name(name, what)
        if not _HEX_ID.fullmatch(hex_id):
            raise MalformedError(what, "key ID must be 8 lowercase hex digits")
        raw = b64decode(b64, what)
        if not raw:
            raise MalformedError(what, "empty key")
        if raw[0] not in SUPPORTED:
            refuse_algorithm(raw[0])
        verifier = cls(name, SigType(raw[0]), raw[1:])
        if verifier.key_id.hex() != hex_id:
            raise MalformedError(what, "key ID does not match the key")
        return verifier

    def format(self) -> str:
        """The vkey string; the exact inverse of :meth:`parse`."""
        encoded = b64encode(bytes([self.sig_type]) + self.public_key)
        return f"{self.name}+{self._key_id.hex()}+{encoded}"

    def ed25519(self) -> Ed25519PublicKey:
        """The ``cryptography`` public key (e.g. for :func:`accord.encoding.verify_signature`)."""
        return self._key

    def verify(self, text: bytes, signature: bytes) -> int | None:
        """Check ``signature`` (a line's bytes after the key ID) over note ``text``.

        Type 0x01: an Ed25519 signature of the text (signed-note "Ed25519
        signatures"); returns None. Type 0x04: timestamp || Ed25519 signature of
        :func:`cosigned_message` (tlog-cosignature v1.0.1); returns the timestamp.
        Raises BadSignatureError if the signature does not verify or has the
        wrong size for the key's type.
        """
        timestamp: int | None = None
        message = text
        if self.sig_type == SigType.COSIGNATURE_V1:
            if len(signature) != COSIGNATURE_SIZE - KEY_ID_SIZE:
                self._bad()
            timestamp = int.from_bytes(signature[:TIMESTAMP_SIZE], "big")
            if timestamp > MAX_TIMESTAMP:
                self._bad()
            message = cosigned_message(text, timestamp)
            signature = signature[TIMESTAMP_SIZE:]
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            self._bad()
        return timestamp

    def _bad(self) -> NoReturn:
        raise BadSignatureError(f"invalid signature for key {self.key_ref}", key=self.key_ref)
