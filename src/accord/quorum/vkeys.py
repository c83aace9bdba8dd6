"""C2SP verifier key strings, checked locally until ``accord.note`` lands.

A verifier key (C2SP signed-note; shared/reference/tlog.md section 5) is
``<name>+<8 lowercase hex key ID>+<base64(sigtype || 32-byte Ed25519 key)>`` with
key ID = ``SHA-256(name || 0x0A || sigtype || public key)[:4]``. Accord uses two
types: ``0x01`` (Ed25519 signed notes: a member's **log key**) and ``0x04``
(Ed25519 tlog-cosignature/v1: a member's **witness key**).

The consortium model keeps verifier keys as validated strings; only
:func:`public_key` turns one into a key object. REPLACE-WITH-NOTE: when
``accord.note`` lands, :func:`check_vkey` and :func:`public_key` become thin
calls to its verifier-key parser, and this module goes away.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from accord.encoding import b64decode, b64encode
from accord.errors import MalformedError

__all__ = ["SIGTYPE_COSIGNATURE", "SIGTYPE_ED25519", "check_vkey", "public_key", "vkey_for"]

#: Signature type of an Ed25519 signed-note key (a log key).
SIGTYPE_ED25519: Final = 0x01
#: Signature type of an Ed25519 tlog-cosignature/v1 key (a witness key).
SIGTYPE_COSIGNATURE: Final = 0x04

_KEY_ID = re.compile(r"[0-9a-f]{8}")
_MAX_VKEY: Final = 1024
_WHAT: Final = "verifier key"


def _key_id(name: str, sigtype: int, raw: bytes) -> str:
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([sigtype]) + raw).digest()[:4].hex()


def _check_name(name: str) -> None:
    """C2SP signed-note key names: non-empty, no space (Unicode), no ``+``; we add printable."""
    if not name or "+" in name or not name.isprintable() or any(c.isspace() for c in name):
        raise MalformedError(_WHAT, "key name must be non-empty, printable, without spaces or '+'")


def _split(vkey: object) -> tuple[str, int, Ed25519PublicKey]:
    """(name, sigtype, public key) of a well-formed Ed25519 verifier key."""
    if not isinstance(vkey, str):
        raise MalformedError(_WHAT, "must be a string")
    if len(vkey) > _MAX_VKEY:
        raise MalformedError(_WHAT, f"longer than {_MAX_VKEY} characters")
    parts = vkey.split("+", 2)
    if len(parts) != 3:
        raise MalformedError(_WHAT, "expected <name>+<key id>+<base64 key>")
    name, key_id, b64 = parts
    _check_name(name)
    if not _KEY_ID.fullmatch(key_id):
        raise MalformedError(_WHAT, "key id must be 8 lowercase hex digits")
    data = b64decode(b64, _WHAT)
    if len(data) != 33:
        raise MalformedError(_WHAT, f"key must decode to 33 bytes, not {len(data)}")
    sigtype, raw = data[0], data[1:]
    if sigtype not in (SIGTYPE_ED25519, SIGTYPE_COSIGNATURE):
        raise MalformedError(_WHAT, f"signature type 0x{sigtype:02x} is not an Ed25519 type")
    if _key_id(name, sigtype, raw) != key_id:
        raise MalformedError(_WHAT, "key id does not match SHA-256(name, type, key)")
    try:
        key = Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise MalformedError(_WHAT, "not an Ed25519 public key") from None
    return name, sigtype, key


def check_vkey(vkey: str, sigtype: int) -> str:
    """Return ``vkey`` unchanged if it is a well-formed key of ``sigtype``.

    Raises MalformedError("verifier key", ...) for a bad shape, a key id that
    does not match, or a key of the other signature type.
    """
    _, actual, _ = _split(vkey)
    if actual != sigtype:
        raise MalformedError(
            _WHAT, f"expected signature type 0x{sigtype:02x}, found 0x{actual:02x}"
        )
    return vkey


def public_key(vkey: str) -> Ed25519PublicKey:
    """The Ed25519 public key inside a verifier key (type 0x01 or 0x04).

    REPLACE-WITH-NOTE: becomes accord.note's verifier-key parser.
    """
    return _split(vkey)[2]


def vkey_for(name: str, sigtype: int, key: Ed25519PublicKey) -> str:
    """The verifier key string of ``key`` under ``name`` (for tools and tests)."""
    _check_name(name)
    if sigtype not in (SIGTYPE_ED25519, SIGTYPE_COSIGNATURE):
        raise MalformedError(_WHAT, f"signature type 0x{sigtype:02x} is not an Ed25519 type")
    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return f"{name}+{_key_id(name, sigtype, raw)}+{b64encode(bytes([sigtype]) + raw)}"
