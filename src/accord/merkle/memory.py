"""An in-memory RFC 9162 tree that keeps every perfect node (for tests, tools and small trees)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from accord.errors import UsageError
from accord.merkle.hashing import EMPTY_ROOT, leaf_hash
from accord.merkle.nodes import NodeID
from accord.merkle.proofs import consistency_plan, inclusion_plan
from accord.merkle.ranges import range_plan, root_plan

__all__ = ["MemoryTree"]

_sha256 = hashlib.sha256


class MemoryTree:
    """Append-only tree over leaf hashes; roots and proofs at any past size."""

    __slots__ = ("_levels",)

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        self.extend(leaf_hashes)

    @classmethod
    def from_data(cls, leaves: Iterable[bytes]) -> MemoryTree:
        return cls(leaf_hash(d) for d in leaves)

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def append(self, h: bytes) -> int:
        """Append one leaf hash; return its index."""
        levels = self._levels
        levels[0].append(h)
        index = len(levels[0]) - 1
        level, i = 0, index
        while i & 1:
            row = levels[level]
            parent = _sha256(b"\x01" + row[i - 1] + row[i]).digest()
            level += 1
            if len(levels) == level:
                levels.append([])
            levels[level].append(parent)
            i >>= 1
        return index

    def extend(self, hashes: Iterable[bytes]) -> None:
        for h in hashes:
            self.append(h)

    def leaf_hashes(self, start: int = 0, end: int | None = None) -> list[bytes]:
        return self._levels[0][start : self.size if end is None else end]

    def read_nodes(self, ids: Sequence[NodeID]) -> list[bytes]:
        """The :data:`NodeReader` for this tree."""
        try:
            return [self._levels[level][index] for level, index in ids]
        except IndexError:
            raise UsageError("node is not complete in this tree") from None

    def _size(self, size: int | None) -> int:
        if size is None:
            return self.size
        if not 0 <= size <= self.size:
            raise UsageError(f"size {size} is beyond the tree's size {self.size}")
        return size

    def root(self, size: int | None = None) -> bytes:
        n = self._size(size)
        return EMPTY_ROOT if n == 0 else root_plan(n).run(self.read_nodes)[0]

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_plan(index, self._size(size)).run(self.read_nodes)

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[bytes]:
        return consistency_plan(size1, self._size(size2)).run(self.read_nodes)

    def range_proof(self, start: int, end: int, size: int | None = None) -> list[bytes]:
        return range_plan(start, end, self._size(size)).run(self.read_nodes)
