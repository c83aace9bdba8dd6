"""Entry chunks: how the log stores its entries (pure).

Each append writes its entries as rows of at most 256 entries, split at
multiples of 256 so that no chunk straddles a 256-entry boundary (the same
boundaries as the level-0 hash tiles). A chunk row holds ``first`` (the index
of its first entry), ``count`` (1..256), ``offsets`` (the end offset of each
entry in ``data``, as ``count`` big-endian 32-bit integers) and ``data`` (the
entries concatenated). Rows are never rewritten: a chunk is written once, by the
append that commits its entries.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from itertools import accumulate
from typing import Final

from accord.errors import StoreError, UsageError

__all__ = ["CHUNK_SIZE", "MAX_ENTRY_BYTES", "pack", "split", "unpack"]

CHUNK_SIZE: Final = 256

#: Entries (and chunks) are addressed with 32-bit offsets.
MAX_ENTRY_BYTES: Final = (1 << 32) - 1


def split(first: int, count: int) -> list[tuple[int, int]]:
    """``(first, count)`` of the chunks that hold entries ``[first, first + count)``."""
    if first < 0 or count < 0:
        raise UsageError("first and count must be non-negative")
    out = []
    end = first + count
    while first < end:
        stop = min(end, (first // CHUNK_SIZE + 1) * CHUNK_SIZE)
        out.append((first, stop - first))
        first = stop
    return out


def pack(entries: Sequence[bytes]) -> tuple[bytes, bytes]:
    """``(offsets, data)`` of one chunk of ``entries`` (1..256 of them)."""
    if not 1 <= len(entries) <= CHUNK_SIZE:
        raise UsageError(f"a chunk holds 1 to {CHUNK_SIZE} entries")
    data = b"".join(entries)
    if len(data) > MAX_ENTRY_BYTES:
        raise UsageError("a chunk of entries is over 4 GiB")
    return struct.pack(f">{len(entries)}I", *accumulate(map(len, entries))), data


def unpack(
    count: int, offsets: bytes, data: bytes, lo: int = 0, hi: int | None = None
) -> list[bytes]:
    """Entries ``[lo, hi)`` of a stored chunk (all of them by default); StoreError if the row
    is not a well-formed chunk (the whole row is checked, whatever range is read).

    Only the entries asked for are sliced out: a node reading one record's entry (every
    record of a proof bundle) no longer copies the other 255."""
    if not 1 <= count <= CHUNK_SIZE or len(offsets) != 4 * count:
        raise StoreError("stored entry chunk is corrupt (count or offsets)")
    ends = struct.unpack(f">{count}I", offsets)
    if ends[-1] != len(data) or list(ends) != sorted(ends):
        raise StoreError("stored entry chunk is corrupt (offsets do not match the data)")
    stop = count if hi is None else min(hi, count)
    return [data[ends[i - 1] if i else 0 : ends[i]] for i in range(max(lo, 0), stop)]
