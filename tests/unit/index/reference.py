"""Slow, plain oracles written from verifiable-index.md sections 5.1-5.2 (tests only).

No positions, no caching, no batching: the map root and proofs by recursion
over the set of (key, value hash) pairs; posting roots from whole posting lists.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Mapping

from accord.merkle import leaf_hash, root_hash

ZERO = bytes(32)


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def bit(key: bytes, depth: int) -> int:
    return (key[depth // 8] >> (7 - depth % 8)) & 1


def value_hash(size: int, posting_root: bytes) -> bytes:
    return sha(b"mapval/v1" + struct.pack(">Q", size) + posting_root)


def leaf_node(key: bytes, vhash: bytes) -> bytes:
    return sha(b"\x00" + key + vhash)


def ref_root(items: Mapping[bytes, bytes], depth: int = 0) -> bytes:
    """Root of the compact SMT over ``items`` (key -> value hash)."""
    if not items:
        return ZERO
    if len(items) == 1:
        ((key, vhash),) = items.items()
        return leaf_node(key, vhash)
    left = {k: v for k, v in items.items() if bit(k, depth) == 0}
    right = {k: v for k, v in items.items() if bit(k, depth) == 1}
    return sha(b"\x01" + ref_root(left, depth + 1) + ref_root(right, depth + 1))


def ref_path(items: Mapping[bytes, bytes], key: bytes) -> tuple[list[bytes], bytes | None]:
    """Siblings root-down and the terminal leaf's key (None for an empty slot)."""
    siblings: list[bytes] = []
    sub = dict(items)
    depth = 0
    while True:
        if not sub:
            return siblings, None
        if len(sub) == 1:
            return siblings, next(iter(sub))
        b = bit(key, depth)
        same = {k: v for k, v in sub.items() if bit(k, depth) == b}
        other = {k: v for k, v in sub.items() if bit(k, depth) != b}
        siblings.append(ref_root(other, depth + 1))
        sub = same
        depth += 1


def posting(seq: int, log_ts: int, event_hash: bytes) -> bytes:
    return struct.pack(">QQ", seq, log_ts) + event_hash


def ref_index(
    entries: Iterable[tuple[int, int, bytes, tuple[bytes, ...]]],
) -> tuple[bytes, dict[bytes, list[bytes]]]:
    """Index root and posting lists (48-byte postings) of the entries, from scratch."""
    lists: dict[bytes, list[bytes]] = {}
    for seq, log_ts, evh, keys in entries:
        for key in keys:
            lists.setdefault(key, []).append(posting(seq, log_ts, evh))
    items = {
        key: value_hash(len(pl), root_hash(leaf_hash(p) for p in pl)) for key, pl in lists.items()
    }
    return ref_root(items), lists
