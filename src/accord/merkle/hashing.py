"""RFC 9162 section 2.1 Merkle tree hashing (SHA-256, 0x00 leaf / 0x01 node prefixes)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Final

__all__ = ["EMPTY_ROOT", "HASH_SIZE", "leaf_hash", "node_hash", "root_hash"]

HASH_SIZE: Final = 32

#: MTH({}) = SHA-256(""): the root of the empty tree (it is not a leaf hash).
EMPTY_ROOT: Final = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data): the hash of one leaf input (RFC 9162 section 2.1.1)."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an interior node."""
    return _sha256(b"\x01" + left + right).digest()


def root_hash(leaf_hashes: Iterable[bytes]) -> bytes:
    """MTH of a tree given its leaf hashes in order (RFC 9162 section 2.1.1).

    Runs in O(n) time and O(log n) space: perfect subtrees are merged on a stack
    as they complete, and the remaining ones are folded right to left.
    """
    stack: list[tuple[int, bytes]] = []  # (subtree size, hash), sizes strictly decreasing
    for h in leaf_hashes:
        size, cur = 1, h
        while stack and stack[-1][0] == size:
            left_size, left = stack.pop()
            cur = _sha256(b"\x01" + left + cur).digest()
            size += left_size
        stack.append((size, cur))
    return fold_right([h for _, h in stack])


def fold_right(hashes: list[bytes]) -> bytes:
    """Root of a tree whose perfect-subtree decomposition is ``hashes`` (largest first).

    ``[a, b, c]`` gives H(a, H(b, c)); an empty list gives the empty-tree root.
    """
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = _sha256(b"\x01" + h + acc).digest()
    return acc
