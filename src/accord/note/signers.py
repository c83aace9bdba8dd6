"""Private keys: Ed25519 note signers (type 0x01) and cosigners (type 0x04).

Signer keys use golang.org/x/mod's encoding (shared/reference/tlog.md 5.1)::

    PRIVATE+KEY+<name>+<8 hex key ID>+<base64(type || 32-byte Ed25519 seed)>

with type 0x01 for a :class:`Signer`. A :class:`Cosigner` key is the same
string with type 0x04 and the cosignature key ID (as transparency-dev/formats
``NewSignerForCosignatureV1`` reads it). The key ID is always checked against
the derived public key.

Key material never leaves these objects except through :meth:`format` (the
secret key string), :meth:`private_bytes` (the 32-byte seed) and
:meth:`ed25519` (the ``cryptography`` key object); ``repr`` shows only the name
and key ID.
"""

from __future__ import annotations

import hmac
import re
from typing import ClassVar, Final, Self

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from accord.encoding import b64decode, b64encode
from accord.errors import MalformedError
from accord.note.checkpoint import Checkpoint
from accord.note.cosignature import Cosignature, cosigned_message
from accord.note.keys import (
    ED25519_KEY_SIZE,
    SUPPORTED,
    SigType,
    Verifier,
    check_key_name,
    refuse_algorithm,
)
from accord.note.signed_note import Signature, check_note_text

__all__ = ["Cosigner", "Signer", "parse_signer_key"]

_WHAT: Final = "signer key"
_PRIVATE: Final = "PRIVATE+KEY+"
_HEX_ID = re.compile(r"[0-9a-f]{8}", re.ASCII)


def _split_signer_key(text: object) -> tuple[str, str, bytes]:
    """(name, hex key ID, decoded type || seed) of a signer key string."""
    if not isinstance(text, str):
        raise MalformedError(_WHAT, "a signer key is text")
    if not text.startswith(_PRIVATE):
        raise MalformedError(_WHAT, "a signer key starts with PRIVATE+KEY+")
    name, _, rest = text[len(_PRIVATE) :].partition("+")
    hex_id, _, b64 = rest.partition("+")
    check_key_name(name, _WHAT)
    if not _HEX_ID.fullmatch(hex_id):
        raise MalformedError(_WHAT, "key ID must be 8 lowercase hex digits")
    raw = b64decode(b64, _WHAT)
    if not raw:
        raise MalformedError(_WHAT, "empty key")
    if raw[0] not in SUPPORTED:
        refuse_algorithm(raw[0])
    return name, hex_id, raw


class _Ed25519Key:
    """An Ed25519 private key under a key name, for one signature type."""

    __slots__ = ("_key", "_name", "_seed", "_verifier")
    sig_type: ClassVar[SigType]

    def __init__(self, name: str, key: Ed25519PrivateKey) -> None:
        check_key_name(name, _WHAT)
        self._name = name
        self._key = key
        self._seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self._verifier = Verifier(name, self.sig_type, public)

    @classmethod
    def generate(cls, name: str) -> Self:
        """A new random key named ``name``."""
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def from_private_bytes(cls, name: str, seed: bytes) -> Self:
        """The key with this 32-byte Ed25519 seed (RFC 8032 private key)."""
        if not isinstance(seed, bytes) or len(seed) != ED25519_KEY_SIZE:
            raise MalformedError(_WHAT, f"an Ed25519 seed is {ED25519_KEY_SIZE} bytes")
        return cls(name, Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse a ``PRIVATE+KEY+...`` string of this class's signature type.

        MalformedError("signer key") for bad syntax, a key of the other
        supported type or a key ID that does not match; UnsupportedAlgorithmError
        for types Accord does not implement (e.g. ML-DSA-44).
        """
        name, hex_id, raw = _split_signer_key(text)
        if raw[0] != cls.sig_type:
            raise MalformedError(
                _WHAT, f"expected signature type 0x{cls.sig_type:02x}, got 0x{raw[0]:02x}"
            )
        key = cls.from_private_bytes(name, raw[1:])
        if key.key_id.hex() != hex_id:
            raise MalformedError(_WHAT, "key ID does not match the key")
        return key

    def format(self) -> str:
        """The secret key string; the exact inverse of :meth:`parse`. Keep it secret."""
        encoded = b64encode(bytes([self.sig_type]) + self._seed)
        return f"{_PRIVATE}{self._name}+{self.key_id.hex()}+{encoded}"

    @property
    def name(self) -> str:
        return self._name

    @property
    def key_id(self) -> bytes:
        return self._verifier.key_id

    def verifier(self) -> Verifier:
        """The public verifier key for this key."""
        return self._verifier

    def private_bytes(self) -> bytes:
        """The 32-byte Ed25519 seed. Secret."""
        return self._seed

    def ed25519(self) -> Ed25519PrivateKey:
        """The ``cryptography`` key (e.g. for :func:`accord.encoding.sign`). Secret."""
        return self._key

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._verifier.key_ref!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Ed25519Key) or type(other) is not type(self):
            return NotImplemented
        return self._name == other._name and hmac.compare_digest(self._seed, other._seed)

    def __hash__(self) -> int:
        return hash((type(self), self._verifier))


class Signer(_Ed25519Key):
    """An Ed25519 note signing key (signature type 0x01), e.g. a log's checkpoint key."""

    __slots__ = ()
    sig_type = SigType.ED25519

    def sign(self, text: str) -> Signature:
        """The signature line of this key over note ``text`` (signed-note "Ed25519 signatures").

        ``text`` must end in LF and follow the note rules (MalformedError("note")).
        """
        body = check_note_text(text, "note").encode("utf-8")
        return Signature(self._name, self.key_id, self._key.sign(body))


class Cosigner(_Ed25519Key):
    """An Ed25519 cosignature/v1 key (signature type 0x04): a witness's key."""

    __slots__ = ()
    sig_type = SigType.COSIGNATURE_V1

    def cosign(self, checkpoint: Checkpoint, timestamp: int) -> Signature:
        """This witness's cosignature line on ``checkpoint`` at POSIX time ``timestamp``.

        tlog-cosignature v1.0.1: signs ``cosignature/v1\\ntime <t>\\n`` + the whole
        checkpoint text. The caller supplies the time (the core has no clock);
        0 <= timestamp <= 2**63 - 1.
        """
        if not isinstance(checkpoint, Checkpoint):
            raise MalformedError("checkpoint", "cosign needs a Checkpoint")
        message = cosigned_message(checkpoint.format(), timestamp)
        payload = Cosignature(self.key_id, timestamp, self._key.sign(message))
        return Signature(self._name, self.key_id, payload.to_bytes()[len(self.key_id) :])


def parse_signer_key(text: str) -> Signer | Cosigner:
    """Parse a signer key of either supported type (0x01 Signer, 0x04 Cosigner)."""
    _, _, raw = _split_signer_key(text)
    if raw[0] == SigType.COSIGNATURE_V1:
        return Cosigner.parse(text)
    return Signer.parse(text)
