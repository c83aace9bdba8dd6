"""Map proofs: their JSON form and the verifier (verifiable-index.md section 5.2).

A proof for key K is the list of siblings **root-down** (``siblings[i]`` is the
sibling of the path node at depth ``i + 1``; the empty subtree is 32 zero bytes)
and the terminal: an empty slot (``leaf`` is None) or the leaf found at depth
``d = len(siblings)``. When that leaf is K's own, it carries K's value in the
clear, ``(size, posting_root)``, so the verifier can return it; when it is
another key's, it carries only that key id and its value hash.

JSON (docs/index.md)::

    {"siblings": ["<hex>" | null, ...],
     "leaf": null
           | {"key": "<hex>", "size": s, "posting_root": "<hex>"}   # membership
           | {"key": "<hex>", "value_hash": "<hex>"}}               # another key's leaf

``null`` stands for the empty subtree and is its only spelling: a sibling of 64
zero digits is refused, so :func:`parse_map_proof` and :meth:`MapProof.format`
are exact inverses.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from accord.encoding import canonical, hex32, parse_json
from accord.errors import BadProofError, MalformedError, RootMismatchError
from accord.index.postings import MAX_U64
from accord.index.smt import EMPTY_NODE, KEY_SIZE, map_value_hash

__all__ = [
    "MapLeaf",
    "MapProof",
    "MapValue",
    "map_proof_from_json",
    "parse_map_proof",
    "verify_map_proof",
]

_sha256 = hashlib.sha256
_WHAT: Final = "map proof"


def _hash_ok(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == 32


@dataclass(frozen=True, slots=True)
class MapValue:
    """A key's value in the map: its posting log's size (>= 1) and root."""

    size: int
    posting_root: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.size, int) or isinstance(self.size, bool):
            raise MalformedError(_WHAT, "size must be an integer")
        if not 1 <= self.size <= MAX_U64:
            raise MalformedError(_WHAT, "a map value's size must be in [1, 2**64)")
        if not _hash_ok(self.posting_root):
            raise MalformedError(_WHAT, "posting root must be 32 bytes")

    def value_hash(self) -> bytes:
        return map_value_hash(self.size, self.posting_root)


@dataclass(frozen=True, slots=True)
class MapLeaf:
    """The terminal leaf of a proof: ``key_id`` and either its value or its value hash."""

    key_id: bytes
    value: MapValue | None = None
    value_hash: bytes | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.key_id, bytes) or len(self.key_id) != KEY_SIZE:
            raise MalformedError(_WHAT, "leaf key must be 32 bytes")
        if (self.value is None) == (self.value_hash is None):
            raise MalformedError(_WHAT, "a leaf carries either its value or its value hash")
        if self.value_hash is not None and not _hash_ok(self.value_hash):
            raise MalformedError(_WHAT, "leaf value hash must be 32 bytes")

    def committed_value_hash(self) -> bytes:
        if self.value is not None:
            return self.value.value_hash()
        return self.value_hash or b""

    def to_json(self) -> dict[str, Any]:
        if self.value is not None:
            return {
                "key": self.key_id.hex(),
                "size": self.value.size,
                "posting_root": self.value.posting_root.hex(),
            }
        return {"key": self.key_id.hex(), "value_hash": (self.value_hash or b"").hex()}


@dataclass(frozen=True, slots=True)
class MapProof:
    """Siblings root-down plus the terminal leaf (None for an empty slot)."""

    siblings: tuple[bytes, ...]
    leaf: MapLeaf | None

    def __post_init__(self) -> None:
        if not isinstance(self.siblings, tuple) or len(self.siblings) > 256:
            raise MalformedError(_WHAT, "siblings must be a tuple of at most 256 hashes")
        if not all(_hash_ok(h) for h in self.siblings):
            raise MalformedError(_WHAT, "every sibling must be 32 bytes")
        if self.leaf is not None and not isinstance(self.leaf, MapLeaf):
            raise MalformedError(_WHAT, "leaf must be a MapLeaf or None")

    def to_json(self) -> dict[str, Any]:
        return {
            "siblings": [None if h == EMPTY_NODE else h.hex() for h in self.siblings],
            "leaf": None if self.leaf is None else self.leaf.to_json(),
        }

    def format(self) -> str:
        """Canonical JSON text (RFC 8785)."""
        return canonical(self.to_json()).decode("ascii")

    def byte_size(self) -> int:
        """Size of the proof's raw content: 32 bytes per hash, 8 per size (no JSON)."""
        n = 32 * len(self.siblings)
        if self.leaf is not None:
            n += 32 + (40 if self.leaf.value is not None else 32)
        return n


def _hex(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise MalformedError(_WHAT, f"{what} must be a hex string")
    try:
        return hex32(value, what)
    except MalformedError:
        raise MalformedError(_WHAT, f"{what} must be 64 lowercase hex digits") from None


def _leaf_from_json(obj: object) -> MapLeaf | None:
    if obj is None:
        return None
    if not isinstance(obj, dict):
        raise MalformedError(_WHAT, "leaf must be an object or null")
    key = _hex(obj.get("key"), "leaf key")
    if set(obj) == {"key", "size", "posting_root"}:
        size = obj["size"]
        if not isinstance(size, int) or isinstance(size, bool):
            raise MalformedError(_WHAT, "size must be an integer")
        return MapLeaf(key, value=MapValue(size, _hex(obj["posting_root"], "posting root")))
    if set(obj) == {"key", "value_hash"}:
        return MapLeaf(key, value_hash=_hex(obj["value_hash"], "value hash"))
    raise MalformedError(_WHAT, "leaf must hold key and size/posting_root, or key and value_hash")


def map_proof_from_json(obj: object) -> MapProof:
    """Strict decoding of the JSON value of a map proof (MalformedError("map proof"))."""
    if not isinstance(obj, dict) or set(obj) != {"siblings", "leaf"}:
        raise MalformedError(_WHAT, 'expected an object with exactly "siblings" and "leaf"')
    raw = obj["siblings"]
    if not isinstance(raw, list) or len(raw) > 256:
        raise MalformedError(_WHAT, "siblings must be a list of at most 256 entries")
    siblings = []
    for i, item in enumerate(raw):
        if item is None:
            siblings.append(EMPTY_NODE)
            continue
        h = _hex(item, f"sibling {i}")
        if h == EMPTY_NODE:
            raise MalformedError(_WHAT, f"sibling {i}: the empty subtree is written null")
        siblings.append(h)
    return MapProof(tuple(siblings), _leaf_from_json(obj["leaf"]))


def parse_map_proof(text: str | bytes) -> MapProof:
    """Parse the JSON text of a map proof (inverse of :meth:`MapProof.format`)."""
    return map_proof_from_json(parse_json(text, _WHAT))


def _check_input(root: object, key_id: object, proof: object) -> None:
    if not _hash_ok(root):
        raise BadProofError("map root must be 32 bytes")
    if not isinstance(key_id, bytes) or len(key_id) != KEY_SIZE:
        raise BadProofError("key id must be 32 bytes")
    if not isinstance(proof, MapProof):
        raise BadProofError("not a map proof")


def verify_map_proof(root: bytes, key_id: bytes, proof: MapProof) -> tuple[int, bytes] | None:
    """Check ``proof`` against map ``root`` for ``key_id``.

    Returns ``(size, posting_root)`` when the key is in the map, None when the
    proof shows it is absent; raises a VerificationError otherwise. Rules of
    verifiable-index.md section 5.2, in order:

    1. a terminal leaf's key agrees with ``key_id`` on the first d bits (d = len(siblings));
    2. membership iff the leaf's key is ``key_id`` (it must then carry the value;
       another key's leaf carries only a value hash);
    3. a terminal leaf, or an empty slot, whose deepest sibling is empty is refused
       (non-canonical: it would sit higher); so is an empty slot at depth 256;
    4. the siblings fold upward along ``key_id``'s bits to ``root``.
    """
    _check_input(root, key_id, proof)
    siblings: Sequence[bytes] = proof.siblings
    d = len(siblings)
    k = int.from_bytes(key_id, "big")
    leaf = proof.leaf
    result: tuple[int, bytes] | None = None
    if leaf is None:
        if d and siblings[-1] == EMPTY_NODE:
            raise BadProofError("empty slot beside an empty sibling: not canonical", depth=d)
        if d == 256:
            raise BadProofError("empty slot at depth 256: not canonical")
        h = EMPTY_NODE
    else:
        other = int.from_bytes(leaf.key_id, "big")
        if d and (k ^ other) >> (256 - d):
            raise BadProofError("terminal leaf is not on the key's path", depth=d)
        if d and siblings[-1] == EMPTY_NODE:
            raise BadProofError("terminal leaf beside an empty sibling: not canonical", depth=d)
        if leaf.key_id == key_id:
            if leaf.value is None:
                raise BadProofError("a membership proof must carry the key's value")
            result = (leaf.value.size, leaf.value.posting_root)
        elif leaf.value is not None:
            raise BadProofError("another key's leaf must carry only its value hash")
        h = _sha256(b"\x00" + leaf.key_id + leaf.committed_value_hash()).digest()
    for depth in range(d - 1, -1, -1):
        sib = siblings[depth]
        if (k >> (255 - depth)) & 1:
            h = _sha256(b"\x01" + sib + h).digest()
        else:
            h = _sha256(b"\x01" + h + sib).digest()
    if h != root:
        raise RootMismatchError("map proof does not lead to the index root", root, h)
    return result
