"""Postings and posting logs (verifiable-index.md section 5.1).

A *posting* is the 48-byte record ``u64be(seq) || u64be(log_ts) || event_leaf_hash``
that says "main-log entry ``seq``, sequenced at ``log_ts``, whose leaf hash is
``event_leaf_hash``, carries this key". Each index key has a *posting log*: an
RFC 9162 tree over its postings in log order, leaf hash ``SHA-256(0x00 || posting)``.

The builder keeps, per key, only the log's size and *right edge*: the hashes of
the compact range ``[0, size)`` (the perfect subtrees of the binary
decomposition of ``size``, largest first; at most log2(size) hashes). That is
enough to append and to compute the root without reading storage.

Storage seam (narrow callables, one key at a time, batched ids):

- :data:`PostingReader` ``(key_id, start, end) -> postings [start, end)`` as 48-byte values;
- :data:`PostingNodeReader` ``(key_id, ids) -> hashes`` of perfect nodes at level
  >= :data:`STORED_LEVEL` (lower nodes are recomputed from the postings under them);
- :data:`PostingLocator` ``(key_id, size, log_ts) -> first index in [0, size) whose
  log_ts >= log_ts`` (``size`` if none): what a SQL index on ``(key_id, log_ts)`` answers.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from accord.errors import MalformedError, StoreError
from accord.merkle import EMPTY_ROOT, NodeID, ProofPlan, range_plan, root_hash, root_plan
from accord.merkle.proofs import inclusion_plan

__all__ = [
    "MAX_U64",
    "POSTING_SIZE",
    "STORED_LEVEL",
    "Posting",
    "PostingLocator",
    "PostingNodeReader",
    "PostingReader",
    "PostingReaders",
    "bisect_log_ts",
    "edge_append",
    "edge_from_stored",
    "edge_hashes",
    "edge_root",
    "pack_posting",
    "parse_posting",
    "posting_inclusion_proof",
    "posting_leaf_hash",
    "posting_range_proof",
    "posting_root",
    "read_posting_nodes",
]

POSTING_SIZE: Final = 48
MAX_U64: Final = (1 << 64) - 1
#: Perfect posting-log nodes are stored from this level up (subtrees of 16 postings);
#: below it, proofs recompute them from the postings under them, which lie within
#: 15 postings of a run's ends or of the log's end.
STORED_LEVEL: Final = 4

_sha256 = hashlib.sha256
_PACK: Final = struct.Struct(">QQ")

PostingReader = Callable[[bytes, int, int], Sequence[bytes]]
PostingNodeReader = Callable[[bytes, Sequence[NodeID]], Sequence[bytes]]
PostingLocator = Callable[[bytes, int, int], int]


@dataclass(frozen=True, slots=True)
class PostingReaders:
    """The read side of posting-log storage, as the query needs it.

    ``locate`` is optional: without it, :func:`bisect_log_ts` over ``postings`` is used.
    """

    postings: PostingReader
    nodes: PostingNodeReader
    locate: PostingLocator | None = None

    def first_at_or_after(self, key_id: bytes, size: int, log_ts: int) -> int:
        """First index in ``[0, size)`` whose log_ts >= ``log_ts``, else ``size``."""
        if self.locate is not None:
            index = self.locate(key_id, size, log_ts)
            if not isinstance(index, int) or not 0 <= index <= size:
                raise StoreError(f"posting locator returned {index!r} for a log of size {size}")
            return index
        return bisect_log_ts(key_id, size, log_ts, self.postings)


def _is_u64(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_U64


def pack_posting(seq: int, log_ts: int, event_hash: bytes) -> bytes:
    """The 48-byte posting ``u64be(seq) || u64be(log_ts) || event_hash`` (unchecked:
    for values storage already holds; :class:`Posting` checks its fields)."""
    return _PACK.pack(seq, log_ts) + event_hash


@dataclass(frozen=True, slots=True)
class Posting:
    """One posting: main-log ``seq``, its ``log_ts`` (ms) and the entry's RFC 9162 leaf hash."""

    seq: int
    log_ts: int
    event_hash: bytes

    def __post_init__(self) -> None:
        if not _is_u64(self.seq) or not _is_u64(self.log_ts):
            raise MalformedError("posting", "seq and log_ts must be integers in [0, 2**64)")
        if not isinstance(self.event_hash, bytes) or len(self.event_hash) != 32:
            raise MalformedError("posting", "event hash must be 32 bytes")

    def to_bytes(self) -> bytes:
        """The 48-byte posting ``u64be(seq) || u64be(log_ts) || event_hash``."""
        return pack_posting(self.seq, self.log_ts, self.event_hash)

    @classmethod
    def from_bytes(cls, data: bytes) -> Posting:
        """Strict inverse of :meth:`to_bytes`; MalformedError("posting") unless 48 bytes."""
        if not isinstance(data, bytes | bytearray) or len(data) != POSTING_SIZE:
            raise MalformedError("posting", f"expected {POSTING_SIZE} bytes")
        seq, log_ts = _PACK.unpack_from(data)
        return cls(seq, log_ts, bytes(data[16:]))

    def format(self) -> str:
        """The JSON text form: 96 lowercase hex digits of :meth:`to_bytes`."""
        return self.to_bytes().hex()

    def leaf_hash(self) -> bytes:
        """SHA-256(0x00 || posting): the posting's leaf hash in its posting log."""
        return _sha256(b"\x00" + self.to_bytes()).digest()


def parse_posting(text: str) -> Posting:
    """Parse 96 lowercase hex digits (the inverse of :meth:`Posting.format`)."""
    if not isinstance(text, str) or len(text) != 2 * POSTING_SIZE or text != text.lower():
        raise MalformedError("posting", f"expected {2 * POSTING_SIZE} lowercase hex digits")
    try:
        data = bytes.fromhex(text)
    except ValueError:
        raise MalformedError("posting", "not hex") from None
    return Posting.from_bytes(data)


def posting_leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || posting) for a 48-byte posting."""
    return _sha256(b"\x00" + data).digest()


# -- the right edge -----------------------------------------------------------------


def edge_hashes(edge: bytes) -> list[bytes]:
    """Split a packed edge (32-byte hashes concatenated) into a list."""
    return [edge[i : i + 32] for i in range(0, len(edge), 32)]


def edge_root(edge: Sequence[bytes]) -> bytes:
    """Root of a posting log from its right edge (largest subtree first); RFC 9162 right fold."""
    if not edge:
        return EMPTY_ROOT
    acc = edge[-1]
    for i in range(len(edge) - 2, -1, -1):
        acc = _sha256(b"\x01" + edge[i] + acc).digest()
    return acc


def edge_append(
    size: int, edge: list[bytes], leaf_hash: bytes, new_nodes: list[tuple[int, int, bytes]]
) -> int:
    """Append one leaf to a posting log given its right edge; return the new size.

    ``edge`` (the compact range of ``[0, size)``) is updated in place. Every
    perfect node completed at level >= 1 is appended to ``new_nodes`` as
    ``(level, index, hash)``; the level-0 node is the leaf itself.
    """
    h = leaf_hash
    level, index = 0, size
    while index & 1:
        h = _sha256(b"\x01" + edge.pop() + h).digest()
        level += 1
        index >>= 1
        new_nodes.append((level, index, h))
    edge.append(h)
    return size + 1


def edge_from_stored(
    size: int, stored: Mapping[tuple[int, int], bytes], tail: Sequence[bytes]
) -> list[bytes]:
    """The right edge of a posting log of ``size`` rebuilt from what storage keeps.

    ``stored`` holds perfect nodes at level >= :data:`STORED_LEVEL` by ``(level,
    index)`` (others are ignored); the compact range's subtrees at those levels are
    taken from it. ``tail`` is the 48-byte postings after them, the last ``size % 16``
    (none for a multiple of 16), from which the smaller subtrees are recomputed. A node
    restarting rebuilds every key's head this way, so heads are never written per batch.
    StoreError if a node is missing or the tail has the wrong length.
    """
    edge: list[bytes] = []
    start = 0
    for level in range(size.bit_length() - 1, STORED_LEVEL - 1, -1):
        if (size >> level) & 1:
            h = stored.get((level, start >> level))
            if h is None:
                raise StoreError(f"posting-log node ({level}, {start >> level}) is not stored")
            edge.append(h)
            start += 1 << level
    if len(tail) != size - start:
        raise StoreError(f"a posting log of size {size} needs its last {size - start} postings")
    scratch: list[tuple[int, int, bytes]] = []
    for raw in tail:
        if len(raw) != POSTING_SIZE:
            raise StoreError("a stored posting is not 48 bytes")
        start = edge_append(start, edge, posting_leaf_hash(raw), scratch)
    return edge


# -- proofs from storage ------------------------------------------------------------


def _postings_for(
    key_id: bytes,
    wanted: Sequence[tuple[int, int]],
    read_postings: PostingReader,
    known: dict[int, bytes],
) -> None:
    """Read into ``known`` the postings of the ``[a, b)`` intervals it does not hold yet."""
    spans: list[list[int]] = []
    for a, b in sorted(wanted):
        if spans and a <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], b)
        else:
            spans.append([a, b])
    for a, b in spans:
        while a < b and a in known:
            a += 1
        while b > a and (b - 1) in known:
            b -= 1
        if a == b:
            continue
        got = read_postings(key_id, a, b)
        if len(got) != b - a:
            raise StoreError(f"postings [{a}, {b}) of a posting log are missing from storage")
        for i, data in enumerate(got):
            known[a + i] = bytes(data)


def read_posting_nodes(
    key_id: bytes,
    ids: Sequence[NodeID],
    read_postings: PostingReader,
    read_nodes: PostingNodeReader,
    known: dict[int, bytes] | None = None,
) -> dict[NodeID, bytes]:
    """Perfect nodes of one posting log: from storage at level >= :data:`STORED_LEVEL`,
    recomputed from the postings under them below it (one read per run of postings).

    ``known`` maps posting index -> 48-byte posting for postings already read
    (a query passes the run it has read, and the postings beside it).
    """
    have: dict[int, bytes] = {} if known is None else known
    out: dict[NodeID, bytes] = {}
    low = [n for n in ids if n[0] < STORED_LEVEL]
    upper = [n for n in ids if n[0] >= STORED_LEVEL]
    if low:
        _postings_for(key_id, [(i << lv, (i + 1) << lv) for lv, i in low], read_postings, have)
        for lv, i in low:
            out[(lv, i)] = root_hash(
                posting_leaf_hash(have[j]) for j in range(i << lv, (i + 1) << lv)
            )
    if upper:
        hashes = read_nodes(key_id, upper)
        if len(hashes) != len(upper):
            raise StoreError(f"node reader returned {len(hashes)} hashes for {len(upper)} nodes")
        out.update(zip(upper, (bytes(h) for h in hashes), strict=True))
    return out


def _run_plan(
    plan: ProofPlan,
    key_id: bytes,
    read_postings: PostingReader,
    read_nodes: PostingNodeReader,
    known: dict[int, bytes] | None = None,
) -> list[bytes]:
    nodes = read_posting_nodes(key_id, plan.node_ids(), read_postings, read_nodes, known)
    return plan.assemble(nodes)


def posting_root(
    key_id: bytes, size: int, read_postings: PostingReader, read_nodes: PostingNodeReader
) -> bytes:
    """Root of ``key_id``'s posting log at ``size`` (any size up to the current one)."""
    if size == 0:
        return EMPTY_ROOT
    return _run_plan(root_plan(size), key_id, read_postings, read_nodes)[0]


def posting_range_proof(
    key_id: bytes,
    start: int,
    end: int,
    size: int,
    read_postings: PostingReader,
    read_nodes: PostingNodeReader,
    known: dict[int, bytes] | None = None,
) -> list[bytes]:
    """Range proof for postings ``[start, end)`` of the log at ``size`` (tlog.md section 4)."""
    return _run_plan(range_plan(start, end, size), key_id, read_postings, read_nodes, known)


def posting_inclusion_proof(
    key_id: bytes,
    index: int,
    size: int,
    read_postings: PostingReader,
    read_nodes: PostingNodeReader,
) -> list[bytes]:
    """RFC 9162 inclusion proof of posting ``index`` in the log at ``size``."""
    return _run_plan(inclusion_plan(index, size), key_id, read_postings, read_nodes)


def bisect_log_ts(key_id: bytes, size: int, log_ts: int, read_postings: PostingReader) -> int:
    """First index in ``[0, size)`` whose log_ts >= ``log_ts`` (``size`` if none).

    A :data:`PostingLocator` built on :data:`PostingReader` alone (log2(size)
    reads); stores with an index on ``(key_id, log_ts)`` answer in one query.
    Relies on log_ts never decreasing along a posting log.
    """
    lo, hi = 0, size
    while lo < hi:
        mid = (lo + hi) // 2
        got = read_postings(key_id, mid, mid + 1)
        if len(got) != 1:
            raise StoreError(f"posting {mid} of a posting log is missing from storage")
        if int.from_bytes(got[0][8:16], "big") < log_ts:
            lo = mid + 1
        else:
            hi = mid
    return lo
