"""Keyed pseudonyms for the SQL projection (docs/formats.md section 5).

``pseudonym(kind, value) = hex(HMAC-SHA256(pseudonym_key, kind || 0x00 || value))[:32]``
for kinds ``patient`` and ``person``; ``value`` is encoded as UTF-8. The SQL
function of the same name computes the same string, so an auditor can look a
real identifier up without the projection holding it in the clear (DESIGN.md 6).
"""

from __future__ import annotations

from typing import Final

from accord.encoding import hmac_sha256
from accord.errors import MalformedError, UsageError

__all__ = ["PSEUDONYM_KEY_SIZE", "PSEUDONYM_KINDS", "pseudonym"]

PSEUDONYM_KINDS: Final = ("patient", "person")
PSEUDONYM_KEY_SIZE: Final = 32
_PREFIX: Final = {kind: kind.encode("ascii") + b"\x00" for kind in PSEUDONYM_KINDS}


def pseudonym(pseudonym_key: bytes, kind: str, value: str) -> str:
    """32 lowercase hex digits naming ``value`` of ``kind`` under the consortium's key.

    Raises UsageError for a key that is not 32 bytes or an unknown kind, and
    MalformedError("pseudonym", ...) for a value that is not a string or not UTF-8.
    """
    if type(pseudonym_key) is not bytes or len(pseudonym_key) != PSEUDONYM_KEY_SIZE:
        raise UsageError(f"the pseudonym key must be {PSEUDONYM_KEY_SIZE} bytes")
    prefix = _PREFIX.get(kind) if type(kind) is str else None
    if prefix is None:
        raise UsageError(f"unknown pseudonym kind {kind!r}; known: {', '.join(PSEUDONYM_KINDS)}")
    if type(value) is not str:
        raise MalformedError("pseudonym", "the value must be a string")
    try:
        data = value.encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedError("pseudonym", "the value is not valid Unicode text") from None
    return hmac_sha256(pseudonym_key, prefix + data).hex()[:32]
