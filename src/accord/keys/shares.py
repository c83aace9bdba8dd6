"""Share files (one per custodian) and the checks made before shares are combined.

A share file is canonical JSON (RFC 8785) followed by one newline::

    {"k":2,"keyset":"<32 hex>","n":3,"name":"cornell","share":"<base64, 32 bytes>",
     "type":"accord.share","v":1,"x":1}

``keyset`` is a random 16-byte id naming one split of one master key; ``x`` the share's
x coordinate (1..n); ``k`` the threshold; ``n`` the number of shares made; ``share`` the
y bytes of :mod:`accord.keys.shamir`; ``name`` the node or org, for humans only.

The keystore keeps, per share, ``SHA-256(keyset || x || share)`` (16 + 1 + 32 bytes: the
fields have fixed lengths, so the concatenation is unambiguous), so each share is
recognised on its own before any combining (:class:`Split`).
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from accord.encoding import b64decode, b64encode, canonical, parse_json, sha256
from accord.errors import BadShareError, MalformedError, TooLargeError, UsageError
from accord.keys.shamir import MAX_SHARES, Share, combine

__all__ = [
    "KEYSET_SIZE",
    "MASTER_KEY_SIZE",
    "ShareFile",
    "Split",
    "check_name",
    "combine_shares",
    "parse_keyset",
    "share_digest",
]

KEYSET_SIZE: Final = 16
MASTER_KEY_SIZE: Final = 32
_WHAT: Final = "share file"
_TYPE: Final = "accord.share"
_MAX_TEXT: Final = 4096
_MAX_NAME: Final = 128
_FIELDS: Final = frozenset({"v", "type", "keyset", "name", "x", "k", "n", "share"})


def check_name(name: object, what: str) -> str:
    """A human label: 1..128 printable characters (MalformedError(what) otherwise)."""
    if not isinstance(name, str) or not 1 <= len(name) <= _MAX_NAME or not name.isprintable():
        raise MalformedError(what, "name must be 1..128 printable characters")
    return name


def parse_keyset(text: object, what: str) -> bytes:
    """A keyset id written as 32 lowercase hex digits."""
    if not isinstance(text, str) or len(text) != 2 * KEYSET_SIZE or text != text.lower():
        raise MalformedError(what, "keyset must be 32 lowercase hex digits")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise MalformedError(what, "keyset must be 32 lowercase hex digits") from None


def _int(value: object, what: str, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise MalformedError(what, f"{name} must be an integer in {low}..{high}")
    return value


def share_digest(keyset: bytes, x: int, y: bytes) -> bytes:
    """SHA-256(keyset || x || y): what the keystore remembers of share x."""
    return sha256(keyset + bytes([x]) + y)


@dataclass(frozen=True, slots=True)
class ShareFile:
    """One custodian's share of a node's master key. Preconditions checked on creation."""

    keyset: bytes
    x: int
    threshold: int
    total: int
    share: bytes = field(repr=False)
    name: str

    def __post_init__(self) -> None:
        if not isinstance(self.keyset, bytes) or len(self.keyset) != KEYSET_SIZE:
            raise MalformedError(_WHAT, f"keyset must be {KEYSET_SIZE} bytes")
        _int(self.threshold, _WHAT, "k", 2, MAX_SHARES)
        _int(self.total, _WHAT, "n", self.threshold, MAX_SHARES)
        _int(self.x, _WHAT, "x", 1, self.total)
        if not isinstance(self.share, bytes) or len(self.share) != MASTER_KEY_SIZE:
            raise MalformedError(_WHAT, f"share must be {MASTER_KEY_SIZE} bytes")
        check_name(self.name, _WHAT)

    @property
    def point(self) -> Share:
        """The Shamir point this file carries."""
        return Share(self.x, self.share)

    def digest(self) -> bytes:
        return share_digest(self.keyset, self.x, self.share)

    def to_json(self) -> dict[str, Any]:
        return {
            "v": 1,
            "type": _TYPE,
            "keyset": self.keyset.hex(),
            "name": self.name,
            "x": self.x,
            "k": self.threshold,
            "n": self.total,
            "share": b64encode(self.share),
        }

    def format(self) -> str:
        """Canonical JSON and one newline; ``ShareFile.parse(s.format()) == s``."""
        return canonical(self.to_json()).decode("utf-8") + "\n"

    @classmethod
    def parse(cls, text: str) -> ShareFile:
        """Strictly parse a share file: exactly the text :meth:`format` writes.

        Any deviation (other keys, whitespace, non-canonical base64, a missing final
        newline) raises MalformedError("share file", ...).
        """
        if not isinstance(text, str):
            raise MalformedError(_WHAT, "expected text")
        if len(text) > _MAX_TEXT:
            raise TooLargeError(_WHAT, f"longer than {_MAX_TEXT} characters")
        obj = parse_json(text, _WHAT)
        if not isinstance(obj, dict) or set(obj) != _FIELDS:
            raise MalformedError(_WHAT, f"expected exactly the keys {sorted(_FIELDS)}")
        if type(obj["v"]) is not int or obj["v"] != 1:
            raise MalformedError(_WHAT, "unsupported version (expected v=1)")
        if obj["type"] != _TYPE:
            raise MalformedError(_WHAT, f"type must be {_TYPE!r}")
        k = _int(obj["k"], _WHAT, "k", 2, MAX_SHARES)
        n = _int(obj["n"], _WHAT, "n", k, MAX_SHARES)
        x = _int(obj["x"], _WHAT, "x", 1, n)
        share_text = obj["share"]
        if not isinstance(share_text, str):
            raise MalformedError(_WHAT, "share must be base64 text")
        share = cls(
            keyset=parse_keyset(obj["keyset"], _WHAT),
            x=x,
            threshold=k,
            total=n,
            share=b64decode(share_text, _WHAT),
            name=check_name(obj["name"], _WHAT),
        )
        if share.format() != text:
            raise MalformedError(_WHAT, "not in canonical form (canonical JSON and one newline)")
        return share


@dataclass(frozen=True, slots=True)
class Split:
    """What a keystore knows of one split: keyset id, k, n and one digest per share.

    ``digests[x - 1]`` is :func:`share_digest` of share x. Knowing the digests reveals
    nothing useful about the shares (each is 32 uniformly random-looking bytes).
    """

    keyset: bytes
    threshold: int
    total: int
    digests: tuple[bytes, ...] = field(repr=False)

    def __post_init__(self) -> None:
        what = "keystore"
        if not isinstance(self.keyset, bytes) or len(self.keyset) != KEYSET_SIZE:
            raise MalformedError(what, f"keyset must be {KEYSET_SIZE} bytes")
        _int(self.threshold, what, "k", 2, MAX_SHARES)
        _int(self.total, what, "n", self.threshold, MAX_SHARES)
        if not isinstance(self.digests, tuple) or len(self.digests) != self.total:
            raise MalformedError(what, "expected one share digest per share")
        for d in self.digests:
            if not isinstance(d, bytes) or len(d) != 32:
                raise MalformedError(what, "share digests must be 32 bytes")

    @classmethod
    def of(cls, keyset: bytes, threshold: int, shares: Sequence[Share]) -> Split:
        """The split record for freshly made shares x = 1..n (in that order)."""
        if [s.x for s in shares] != list(range(1, len(shares) + 1)):
            raise UsageError("shares must have x = 1..n in order")
        digests = tuple(share_digest(keyset, s.x, s.y) for s in shares)
        return cls(keyset, threshold, len(shares), digests)

    def check(self, share: ShareFile) -> None:
        """Raise BadShareError unless ``share`` is share x of exactly this split.

        The messages name the share: a foreign share (another keyset: another node, or an
        older split of this one), or "share x is not a share of this node's key" when the
        keyset matches but the bytes do not (wrong, corrupted or forged).
        """
        if not isinstance(share, ShareFile):
            raise UsageError("expected a ShareFile")
        if not hmac.compare_digest(share.keyset, self.keyset):
            raise BadShareError(
                f"foreign share: share {share.x} ({share.name}) belongs to keyset "
                f"{share.keyset.hex()}, this node's key is keyset {self.keyset.hex()}",
                reason="foreign",
                x=share.x,
                keyset=share.keyset.hex(),
            )
        same_shape = (share.threshold, share.total) == (self.threshold, self.total)
        if not same_shape or not hmac.compare_digest(share.digest(), self.digests[share.x - 1]):
            raise BadShareError(
                f"share {share.x} is not a share of this node's key",
                reason="wrong",
                x=share.x,
            )


def combine_shares(split: Split, shares: Sequence[ShareFile]) -> bytes:
    """Check every share, then recover the master key from them.

    Raises (in this order, for the first share at fault): BadShareError for a foreign or
    wrong share, UsageError "duplicate share x" for a repeated x, then UsageError "need k
    shares, have j" when fewer than k distinct shares are given. More than k good shares
    are all used (they lie on the same polynomials).
    """
    seen: set[int] = set()
    for share in shares:
        split.check(share)
        if share.x in seen:
            raise UsageError(f"duplicate share: share {share.x} was given twice", x=share.x)
        seen.add(share.x)
    if len(seen) < split.threshold:
        raise UsageError(
            f"need {split.threshold} shares, have {len(seen)}",
            have=len(seen),
            need=split.threshold,
        )
    return combine([s.point for s in shares])
