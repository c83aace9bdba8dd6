"""In-memory posting-log storage: for tests, tools and stateful witnesses that answer queries.

It implements the storage seam of :mod:`accord.index.postings` the way a SQL
store must (docs/index.md): it appends the rows of each :class:`BatchResult`,
refusing any that do not extend a log exactly, and serves postings, perfect
nodes (level >= STORED_LEVEL) and log_ts lookups. Per key it holds one bytearray
of postings (48 bytes each) and one bytearray of hashes per stored node level,
so a key with a few postings costs one small buffer.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from typing import Final

from accord.errors import StoreError
from accord.index.builder import BatchResult, KeyRow
from accord.index.postings import (
    POSTING_SIZE,
    STORED_LEVEL,
    PostingReaders,
    edge_root,
    read_posting_nodes,
)
from accord.merkle import NodeID, compact_range

__all__ = ["MemoryPostingStore"]

_PACK: Final = struct.Struct(">QQ")


class MemoryPostingStore:
    """Postings and posting-log nodes of every key, in memory."""

    __slots__ = ("_levels", "_log_ts", "_postings", "_size")

    def __init__(self) -> None:
        self._postings: dict[bytes, bytearray] = {}
        self._levels: dict[bytes, list[bytearray]] = {}
        self._size = 0
        self._log_ts = 0

    @property
    def size(self) -> int:
        """The index size of the last batch written."""
        return self._size

    @property
    def log_ts(self) -> int:
        return self._log_ts

    def __len__(self) -> int:
        return len(self._postings)

    def log_size(self, key_id: bytes) -> int:
        data = self._postings.get(key_id)
        return 0 if data is None else len(data) // POSTING_SIZE

    # -- writing --------------------------------------------------------------------

    def apply(self, result: BatchResult) -> None:
        """Store a batch's rows. StoreError (and nothing written) unless each row extends
        its log exactly; the result's size must not go backwards.
        """
        if result.size < self._size:
            raise StoreError(f"batch at size {result.size} is behind the store at {self._size}")
        postings, levels = self._postings, self._levels
        # Check first, write after: a refused batch leaves the store unchanged.
        expect: dict[bytes, int] = {}
        for key, idx, _seq, _ts, _evh in result.postings:
            at = expect.get(key)
            if at is None:
                data = postings.get(key)
                at = 0 if data is None else len(data) // POSTING_SIZE
            if idx != at:
                raise StoreError(f"posting {idx} does not extend a log of size {at}")
            expect[key] = at + 1
        node_expect: dict[tuple[bytes, int], int] = {}
        for key, level, idx, _h in result.nodes:
            at = node_expect.get((key, level))
            if at is None:
                rows = levels.get(key)
                row = level - STORED_LEVEL
                at = len(rows[row]) // 32 if rows and 0 <= row < len(rows) else 0
            if level < STORED_LEVEL or idx != at:
                raise StoreError(f"node ({level}, {idx}) does not extend its level at {at}")
            node_expect[(key, level)] = at + 1
        pack = _PACK.pack
        for key, _idx, seq, log_ts, evh in result.postings:
            data = postings.get(key)
            if data is None:
                postings[key] = bytearray(pack(seq, log_ts) + evh)
            else:
                data += pack(seq, log_ts) + evh
        for key, level, _idx, h in result.nodes:
            rows = levels.get(key)
            if rows is None:
                rows = levels[key] = []
            while len(rows) <= level - STORED_LEVEL:
                rows.append(bytearray())
            rows[level - STORED_LEVEL] += h
        self._size, self._log_ts = result.size, result.log_ts

    # -- the read seam --------------------------------------------------------------

    def read_postings(self, key_id: bytes, start: int, end: int) -> list[bytes]:
        """Postings ``[start, end)`` of ``key_id``'s log (fewer if the log is shorter)."""
        data = self._postings.get(key_id)
        if data is None or start < 0 or end <= start:
            return []
        return [
            bytes(data[i : i + POSTING_SIZE])
            for i in range(start * POSTING_SIZE, min(end * POSTING_SIZE, len(data)), POSTING_SIZE)
        ]

    def read_nodes(self, key_id: bytes, ids: Sequence[NodeID]) -> list[bytes]:
        """Stored perfect nodes (level >= STORED_LEVEL); StoreError for any other."""
        rows = self._levels.get(key_id)
        out = []
        for level, index in ids:
            if level < STORED_LEVEL or rows is None or len(rows) <= level - STORED_LEVEL:
                raise StoreError(f"posting-log node ({level}, {index}) is not stored")
            row = rows[level - STORED_LEVEL]
            h = bytes(row[32 * index : 32 * index + 32])
            if len(h) != 32 or index < 0:
                raise StoreError(f"posting-log node ({level}, {index}) is not stored")
            out.append(h)
        return out

    def locate(self, key_id: bytes, size: int, log_ts: int) -> int:
        """First index in ``[0, size)`` with log_ts >= ``log_ts`` (``size`` if none)."""
        data = self._postings.get(key_id)
        if data is None:
            return 0
        lo, hi = 0, min(size, len(data) // POSTING_SIZE)
        while lo < hi:
            mid = (lo + hi) // 2
            at = mid * POSTING_SIZE + 8
            if int.from_bytes(data[at : at + 8], "big") < log_ts:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def readers(self) -> PostingReaders:
        return PostingReaders(self.read_postings, self.read_nodes, self.locate)

    def key_rows(self) -> Iterator[KeyRow]:
        """Every key's (size, root, edge), derived from the stored data (for restore)."""
        for key, data in self._postings.items():
            size = len(data) // POSTING_SIZE
            ids = compact_range(0, size)
            nodes = read_posting_nodes(key, ids, self.read_postings, self.read_nodes)
            edge = [nodes[n] for n in ids]
            yield key, size, edge_root(edge), b"".join(edge)
