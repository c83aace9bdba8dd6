"""Proofs for one key's postings at a commit, and their verifier (verifiable-index.md 6.1-6.4).

A :class:`KeyProof` answers "the postings of key K" for one of three queries:

- :class:`Window` ``[start, end]`` of log_ts (ms, both ends inclusive): the run
  ``[i, j)`` of postings inside the window plus at most one boundary posting
  each side (``lo = i - 1`` or 0 at the log's start, ``hi = j`` or ``s - 1`` at
  its end; section 6.1 item 4), so the verifier sees that the run cannot be
  extended;
- :class:`Page` ``[start, end)`` of posting indices (clipped to the log; section 6.4);
- ``None``: the whole posting log.

It carries the map proof (membership with ``(s, posting_root)``, or
non-membership, in which case there are no postings), the postings
``pl[lo..hi]`` and the range proof of ``[lo, hi + 1)`` in the posting log of
size ``s`` (tlog.md section 4; empty when the postings are the whole log).

JSON (docs/index.md)::

    {"map": <map proof>, "start": lo, "postings": ["<96 hex>", ...],
     "range_proof": ["<hex>", ...]}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Final

from accord.encoding import canonical, hex32, parse_json
from accord.errors import (
    BadProofError,
    MalformedError,
    RootMismatchError,
    StoreError,
    UsageError,
)
from accord.index.builder import IndexView
from accord.index.mapproof import MapProof, MapValue, map_proof_from_json, verify_map_proof
from accord.index.postings import (
    MAX_U64,
    STORED_LEVEL,
    Posting,
    PostingReaders,
    parse_posting,
    posting_range_proof,
)
from accord.merkle import root_from_range_proof

__all__ = [
    "KeyAnswer",
    "KeyProof",
    "Page",
    "Query",
    "Window",
    "key_proof_from_json",
    "parse_key_proof",
    "prove_key",
    "verify_key_proof",
]

_WHAT: Final = "key proof"
_BESIDE: Final = (1 << STORED_LEVEL) - 1


def _u64(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_U64


@dataclass(frozen=True, slots=True)
class Window:
    """Postings with ``start <= log_ts <= end`` (ms)."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not _u64(self.start) or not _u64(self.end) or self.start > self.end:
            raise UsageError("a window is two log_ts values with start <= end")


@dataclass(frozen=True, slots=True)
class Page:
    """Postings ``[start, end)`` of the posting log (clipped to its size)."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not _u64(self.start) or not _u64(self.end) or self.start > self.end:
            raise UsageError("a page is two posting indices with start <= end")


#: A window, a page, or None for the whole posting log.
Query = Window | Page | None


@dataclass(frozen=True, slots=True)
class KeyProof:
    """Map proof, postings ``pl[start .. start + len(postings))`` and their range proof."""

    map_proof: MapProof
    start: int
    postings: tuple[Posting, ...]
    range_proof: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.map_proof, MapProof):
            raise MalformedError(_WHAT, "map proof missing")
        if not _u64(self.start):
            raise MalformedError(_WHAT, "start must be an integer in [0, 2**64)")
        if not isinstance(self.postings, tuple) or not all(
            isinstance(p, Posting) for p in self.postings
        ):
            raise MalformedError(_WHAT, "postings must be a tuple of Posting")
        if not isinstance(self.range_proof, tuple) or not all(
            isinstance(h, bytes) and len(h) == 32 for h in self.range_proof
        ):
            raise MalformedError(_WHAT, "range proof must be a tuple of 32-byte hashes")

    def to_json(self) -> dict[str, Any]:
        return {
            "map": self.map_proof.to_json(),
            "start": self.start,
            "postings": [p.format() for p in self.postings],
            "range_proof": [h.hex() for h in self.range_proof],
        }

    def format(self) -> str:
        """Canonical JSON text (RFC 8785)."""
        return canonical(self.to_json()).decode("ascii")

    def byte_size(self) -> int:
        """Raw content size: map proof, 8 for start, 48 per posting, 32 per range hash."""
        return self.map_proof.byte_size() + 8 + 48 * len(self.postings) + 32 * len(self.range_proof)


def key_proof_from_json(obj: object) -> KeyProof:
    """Strict decoding of the JSON value of a key proof (MalformedError)."""
    if not isinstance(obj, dict) or set(obj) != {"map", "start", "postings", "range_proof"}:
        raise MalformedError(_WHAT, 'expected exactly "map", "start", "postings", "range_proof"')
    start = obj["start"]
    if not _u64(start):
        raise MalformedError(_WHAT, "start must be an integer in [0, 2**64)")
    raw_postings, raw_proof = obj["postings"], obj["range_proof"]
    if not isinstance(raw_postings, list) or not isinstance(raw_proof, list):
        raise MalformedError(_WHAT, "postings and range_proof must be lists")
    if not all(isinstance(p, str) for p in raw_postings + raw_proof):
        raise MalformedError(_WHAT, "postings and range proof hashes must be strings")
    try:
        postings = tuple(parse_posting(p) for p in raw_postings)
        proof = tuple(hex32(h, "range proof hash") for h in raw_proof)
    except MalformedError as exc:
        raise MalformedError(_WHAT, exc.message) from None
    return KeyProof(map_proof_from_json(obj["map"]), start, postings, proof)


def parse_key_proof(text: str | bytes) -> KeyProof:
    """Parse the JSON text of a key proof (inverse of :meth:`KeyProof.format`)."""
    return key_proof_from_json(parse_json(text, _WHAT))


# -- proving ------------------------------------------------------------------------


def _bounds(key_id: bytes, size: int, query: Query, readers: PostingReaders) -> tuple[int, int]:
    """``[lo, end)`` of the postings to return for ``query`` in a log of ``size`` >= 1."""
    if query is None:
        return 0, size
    if isinstance(query, Page):
        if query.start >= size:
            return query.start, query.start
        return query.start, min(query.end, size)
    if isinstance(query, Window):
        i = readers.first_at_or_after(key_id, size, query.start)
        j = readers.first_at_or_after(key_id, size, query.end + 1)
        if j < i:
            raise StoreError("posting log_ts decreases in storage")
        return (i - 1 if i > 0 else 0), (j + 1 if j < size else size)
    raise UsageError("query must be a Window, a Page or None")


def prove_key(view: IndexView, key_id: bytes, query: Query, readers: PostingReaders) -> KeyProof:
    """Assemble the proof for ``key_id``'s postings matching ``query`` at ``view``'s commit.

    Reads: the map proof from memory, then one postings read (the run, its
    boundaries and the level-0 nodes beside them) and one nodes read.
    """
    map_proof = view.map_proof(key_id)
    leaf = map_proof.leaf
    if leaf is None or leaf.key_id != key_id or leaf.value is None:
        return KeyProof(map_proof, 0, (), ())
    size = leaf.value.size
    lo, end = _bounds(key_id, size, query, readers)
    if lo >= end:
        return KeyProof(map_proof, lo, (), ())
    # The unstored low nodes of the range proof sit within 15 postings of the run:
    # read them with it (and the log's tail, if needed, in one more read).
    first = max(0, lo - _BESIDE)
    last = min(size, end + _BESIDE)
    raw = readers.postings(key_id, first, last)
    if len(raw) != last - first:
        raise StoreError(f"storage returned {len(raw)} postings for [{first}, {last})")
    known = {first + i: bytes(p) for i, p in enumerate(raw)}
    postings = tuple(Posting.from_bytes(known[i]) for i in range(lo, end))
    proof = posting_range_proof(key_id, lo, end, size, readers.postings, readers.nodes, known=known)
    return KeyProof(map_proof, lo, postings, tuple(proof))


# -- verifying ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyAnswer:
    """A verified answer: the key's map value (None if absent) and the matching postings.

    ``start`` is the posting-log index of the first matching posting.
    """

    value: MapValue | None
    start: int
    postings: tuple[Posting, ...]


def _check_order(postings: Sequence[Posting]) -> None:
    for a, b in pairwise(postings):
        if b.seq <= a.seq:
            raise BadProofError("posting seqs do not strictly increase", seq=b.seq)
        if b.log_ts < a.log_ts:
            raise BadProofError("posting log_ts decreases", seq=b.seq)


def _window_run(
    size: int, lo: int, postings: Sequence[Posting], window: Window
) -> tuple[int, tuple[Posting, ...]]:
    """Check boundaries (section 6.2 item 5); return the run's start and postings."""
    n = len(postings)
    below = sum(1 for p in postings if p.log_ts < window.start)
    above = sum(1 for p in postings if p.log_ts > window.end)
    if below > 1 or (lo > 0 and below != 1):
        raise BadProofError("the run must start the log or follow exactly one boundary posting")
    if above > 1 or (lo + n < size and above != 1):
        raise BadProofError("the run must end the log or precede exactly one boundary posting")
    return lo + below, tuple(postings[below : n - above])


def verify_key_proof(index_root: bytes, key_id: bytes, query: Query, proof: KeyProof) -> KeyAnswer:
    """Verify ``proof`` for ``key_id`` and ``query`` against ``index_root``.

    Checks, in order: the map proof (section 5.2); for an absent key, that
    nothing else is claimed; the positions the query implies; ordering (seq
    strictly increasing, log_ts non-decreasing); the window boundaries; the
    range proof against ``(s, posting_root)``, with no hash left over or missing.
    Raises a VerificationError on any failure.
    """
    if not isinstance(proof, KeyProof):
        raise BadProofError("not a key proof")
    if query is not None and not isinstance(query, Window | Page):
        raise UsageError("query must be a Window, a Page or None")
    found = verify_map_proof(index_root, key_id, proof.map_proof)
    postings = proof.postings
    lo, n = proof.start, len(postings)
    if found is None:
        if lo != 0 or n or proof.range_proof:
            raise BadProofError("a proof of absence carries no postings")
        return KeyAnswer(None, 0, ())
    size, root = found
    value = MapValue(size, root)
    if query is None:
        if lo != 0 or n != size:
            raise BadProofError("a whole-log proof must hold every posting")
    elif isinstance(query, Page):
        expect_n = max(0, min(query.end, size) - query.start)
        if lo != query.start or n != expect_n:
            raise BadProofError(f"page [{query.start}, {query.end}) must hold {expect_n} postings")
        if n == 0:
            if proof.range_proof:
                raise BadProofError("an empty page carries no range proof")
            return KeyAnswer(value, lo, ())
    elif n == 0:
        raise BadProofError("a window proof over a non-empty log holds at least one posting")
    if lo + n > size:
        raise BadProofError(f"postings [{lo}, {lo + n}) exceed the log size {size}")
    _check_order(postings)
    if isinstance(query, Window):
        start, matched = _window_run(size, lo, postings, query)
    else:
        start, matched = lo, tuple(postings)
    computed = root_from_range_proof(
        lo, lo + n, size, [p.leaf_hash() for p in postings], proof.range_proof
    )
    if computed != root:
        raise RootMismatchError("postings do not lead to the posting root", root, computed)
    return KeyAnswer(value, start, matched)
