"""Verifier key strings in the consortium file, through accord.note's parser.

A member's **log key** is an Ed25519 signed-note key (type 0x01) and its
**witness key** an Ed25519 tlog-cosignature/v1 key (type 0x04); both are C2SP
verifier key strings ``<name>+<8 hex key id>+<base64(type || key)>``
(shared/reference/tlog.md section 5.1). The consortium model keeps them as
validated strings; :func:`public_key` turns one into a key object.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from accord.errors import MalformedError, UnsupportedAlgorithmError
from accord.note import SigType, Verifier

__all__ = ["SIGTYPE_COSIGNATURE", "SIGTYPE_ED25519", "check_vkey", "public_key", "vkey_for"]

#: Signature type of an Ed25519 signed-note key (a log key).
SIGTYPE_ED25519: Final = int(SigType.ED25519)
#: Signature type of an Ed25519 tlog-cosignature/v1 key (a witness key).
SIGTYPE_COSIGNATURE: Final = int(SigType.COSIGNATURE_V1)
_WHAT: Final = "verifier key"


def _parse(vkey: object) -> Verifier:
    if not isinstance(vkey, str):
        raise MalformedError(_WHAT, "must be a string")
    try:
        return Verifier.parse(vkey)
    except UnsupportedAlgorithmError as exc:
        raise MalformedError(_WHAT, exc.message) from None


def check_vkey(vkey: str, sigtype: int) -> str:
    """Return ``vkey`` unchanged if it is a well-formed key of ``sigtype``.

    Raises MalformedError("verifier key", ...) for a bad shape, a key id that
    does not match, or a key of the other signature type.
    """
    actual = int(_parse(vkey).sig_type)
    if actual != sigtype:
        raise MalformedError(
            _WHAT, f"expected signature type 0x{sigtype:02x}, found 0x{actual:02x}"
        )
    return vkey


def public_key(vkey: str) -> Ed25519PublicKey:
    """The Ed25519 public key inside a verifier key (type 0x01 or 0x04).

    Parsed keys are remembered (a verifier checks the same few members' keys for
    every receipt).
    """
    if not isinstance(vkey, str):
        raise MalformedError(_WHAT, "must be a string")
    return _public_key(vkey)


@lru_cache(maxsize=1024)
def _public_key(vkey: str) -> Ed25519PublicKey:
    return _parse(vkey).ed25519()


def vkey_for(name: str, sigtype: int, key: Ed25519PublicKey) -> str:
    """The verifier key string of ``key`` under ``name`` (for tools and tests)."""
    if sigtype not in (SIGTYPE_ED25519, SIGTYPE_COSIGNATURE):
        raise MalformedError(_WHAT, f"signature type 0x{sigtype:02x} is not an Ed25519 type")
    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    try:
        return Verifier(name, SigType(sigtype), raw).format()
    except UnsupportedAlgorithmError as exc:
        raise MalformedError(_WHAT, exc.message) from None
