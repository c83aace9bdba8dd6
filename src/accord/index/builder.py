"""The index builder: main-log entries in, posting logs and the map updated per batch.

verifiable-index.md sections 2, 5 and 8. An :class:`IndexEntry` is what the
index needs from one main-log leaf: its ``seq``, ``log_ts``, RFC 9162 leaf hash
and the sorted MapFn key ids of its header (none for index-commit leaves).
:meth:`IndexState.apply_batch` takes the next entries of the log, in order, and

1. groups the batch's postings by key;
2. appends each touched key's postings to its posting log once, from the log's
   right edge held in memory (no reads), collecting the new postings and perfect
   nodes for storage;
3. updates the map once, recomputing only the touched paths.

The result is a pure function of the entries: replaying a log from scratch, in
any partition into batches, gives the same root at the same size.

Working state, all in memory and O(number of keys): per key the posting log's
size and right edge (``u64be(size) || edge hashes`` in one bytes object), and
the :class:`~accord.index.smt.SparseMap`. The postings and posting-log nodes go
to storage through :class:`BatchResult` and are read back only to prove.

Speed. Step 2 runs in the native kernel when it is loaded
(:mod:`accord.index.native`), as does most of step 3, with the same results and
rows; ``ACCORD_PURE_PYTHON=1`` forces the Python code here and in
:mod:`~accord.index.smt`.
"""

from __future__ import annotations

import hashlib
import struct
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final

from accord.errors import MalformedError, NotFoundError, StoreError, UsageError, VerificationError
from accord.index import native as _native
from accord.index.mapproof import MapLeaf, MapProof, MapValue
from accord.index.postings import MAX_U64, STORED_LEVEL, edge_hashes, edge_root
from accord.index.smt import MAPVAL_PREFIX, NATIVE, SparseMap

__all__ = [
    "DEFAULT_HISTORY",
    "BatchResult",
    "IndexEntry",
    "IndexState",
    "IndexView",
    "KeyRow",
    "NodeRow",
    "PostingRow",
]

#: How many past commits an :class:`IndexState` can still prove against by default.
DEFAULT_HISTORY: Final = 16

#: ``(key_id, idx, seq, log_ts, event_hash)``: one new posting (table ``index_postings``).
PostingRow = tuple[bytes, int, int, int, bytes]
#: ``(key_id, level, idx, hash)``: a new perfect node at level >= STORED_LEVEL
#: (``index_posting_nodes``).
NodeRow = tuple[bytes, int, int, bytes]
#: ``(key_id, size, posting_root, edge)``: a key's map value and right edge (``index_keys``).
KeyRow = tuple[bytes, int, bytes, bytes]

_sha256 = hashlib.sha256
_PACK: Final = struct.Struct(">QQ")
_WHAT: Final = "index entry"


def _is_u64(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_U64


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One main-log entry as the index sees it. ``key_ids`` sorted, unique, 32 bytes each."""

    seq: int
    log_ts: int
    leaf_hash: bytes
    key_ids: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        if not _is_u64(self.seq) or not _is_u64(self.log_ts):
            raise MalformedError(_WHAT, "seq and log_ts must be integers in [0, 2**64)")
        if not isinstance(self.leaf_hash, bytes) or len(self.leaf_hash) != 32:
            raise MalformedError(_WHAT, "leaf hash must be 32 bytes")
        keys = self.key_ids
        if not isinstance(keys, tuple):
            if not isinstance(keys, list):
                raise MalformedError(_WHAT, "key ids must be a tuple or list")
            keys = tuple(keys)
            object.__setattr__(self, "key_ids", keys)
        prev = b""
        for key in keys:
            if not isinstance(key, bytes) or len(key) != 32:
                raise MalformedError(_WHAT, "every key id must be 32 bytes")
            if key <= prev:
                raise MalformedError(_WHAT, "key ids must be sorted and unique")
            prev = key


@dataclass(frozen=True, slots=True)
class BatchResult:
    """The index after a batch, and everything storage must add for it (one transaction)."""

    size: int
    log_ts: int
    root: bytes
    postings: tuple[PostingRow, ...]
    nodes: tuple[NodeRow, ...]
    keys: tuple[KeyRow, ...]


@dataclass(frozen=True, slots=True)
class _HeadUndo:
    version: int
    previous: int
    previous_log_ts: int
    heads: dict[bytes, bytes | None]


def _parse_head(blob: bytes) -> tuple[int, list[bytes]]:
    return int.from_bytes(blob[:8], "big"), edge_hashes(blob[8:])


def _append_postings(
    groups: dict[bytes, list[IndexEntry]],
    heads: dict[bytes, bytes],
    undo: dict[bytes, bytes | None] | None,
    posting_rows: list[PostingRow],
    node_rows: list[NodeRow],
    key_rows: list[KeyRow],
    items: list[tuple[bytes, bytes]],
    stored_level: int,
    mapval_prefix: bytes,
) -> None:
    """Step 2 of a batch in Python: append each key's group to its posting log.

    Appends the rows and map items to the four lists, records each key's previous
    head in ``undo`` (unless None) and writes the new heads. The native kernel's
    ``append_postings`` takes the same arguments and does the same.
    """
    sha, pack = _sha256, _PACK.pack
    edge: list[bytes]
    for key, group in groups.items():
        blob = heads.get(key)
        if undo is not None:
            undo[key] = blob
        if blob is None:
            size, edge = 0, []
        else:
            size = int.from_bytes(blob[:8], "big")
            edge = [blob[i : i + 32] for i in range(8, len(blob), 32)]
        for entry in group:
            h = sha(b"\x00" + pack(entry.seq, entry.log_ts) + entry.leaf_hash).digest()
            posting_rows.append((key, size, entry.seq, entry.log_ts, entry.leaf_hash))
            if size & 1:
                level, index = 0, size
                while index & 1:
                    h = sha(b"\x01" + edge.pop() + h).digest()
                    level += 1
                    index >>= 1
                    if level >= stored_level:
                        node_rows.append((key, level, index, h))
            edge.append(h)
            size += 1
        root = edge[-1]
        for i in range(len(edge) - 2, -1, -1):
            root = sha(b"\x01" + edge[i] + root).digest()
        packed = b"".join(edge)
        size_bytes = size.to_bytes(8, "big")
        heads[key] = size_bytes + packed
        key_rows.append((key, size, root, packed))
        items.append((key, sha(mapval_prefix + size_bytes + root).digest()))


class IndexState:
    """The verifiable index of one log: posting-log heads and the map, plus recent history.

    ``history`` past commits stay provable (:meth:`view`). Not thread-safe:
    callers serialize :meth:`apply_batch` with views (the sequencer's lock).
    ``native=False`` keeps this state on the pure-Python code even when the native
    kernel is loaded (for tests and comparisons; the results are the same).
    """

    __slots__ = ("_heads", "_history", "_log_ts", "_map", "_native", "_size", "_undo")

    def __init__(self, history: int = DEFAULT_HISTORY, *, native: bool = True) -> None:
        if not isinstance(history, int) or history < 0:
            raise UsageError("history must be a non-negative integer")
        self._native = native and NATIVE
        self._heads: dict[bytes, bytes] = {}
        self._map = SparseMap(history, native=native)
        self._size = 0
        self._log_ts = 0
        self._history = history
        self._undo: deque[_HeadUndo] = deque()

    # -- properties -----------------------------------------------------------------

    @property
    def size(self) -> int:
        """Number of main-log entries applied: the ``covers_size`` of the next commit leaf."""
        return self._size

    @property
    def log_ts(self) -> int:
        """The last applied entry's log_ts (0 before any)."""
        return self._log_ts

    @property
    def root(self) -> bytes:
        """The index root (map root) over the entries applied so far."""
        return self._map.root

    def __len__(self) -> int:
        """Number of distinct keys."""
        return len(self._heads)

    def sizes(self) -> list[int]:
        """The sizes (commits) that :meth:`view` can still prove against, oldest first."""
        return self._map.versions()

    # -- building -------------------------------------------------------------------

    def apply_batch(self, entries: Iterable[IndexEntry]) -> BatchResult:
        """Apply the next entries of the log (``seq`` = size, size + 1, ...) as one batch.

        Raises UsageError if the entries do not continue the log exactly, and
        VerificationError if ``log_ts`` decreases; the state is unchanged then.
        """
        batch = list(entries)
        expect, last_ts = self._size, self._log_ts
        for entry in batch:
            if not isinstance(entry, IndexEntry):
                raise UsageError("apply_batch takes IndexEntry values")
            if entry.seq != expect:
                raise UsageError(f"entry seq {entry.seq} does not continue the index at {expect}")
            if entry.log_ts < last_ts:
                raise VerificationError(
                    f"log_ts decreases at seq {entry.seq}: {entry.log_ts} < {last_ts}",
                    seq=entry.seq,
                )
            expect += 1
            last_ts = entry.log_ts
        if not batch:
            return BatchResult(self._size, self._log_ts, self.root, (), (), ())

        groups: dict[bytes, list[IndexEntry]] = {}
        for entry in batch:
            for key in entry.key_ids:
                group = groups.get(key)
                if group is None:
                    groups[key] = [entry]
                else:
                    group.append(entry)

        record = self._history > 0
        undo: dict[bytes, bytes | None] = {}
        posting_rows: list[PostingRow] = []
        node_rows: list[NodeRow] = []
        key_rows: list[KeyRow] = []
        items: list[tuple[bytes, bytes]] = []
        append = _native.append_postings if self._native else _append_postings
        append(
            groups,
            self._heads,
            undo if record else None,
            posting_rows,
            node_rows,
            key_rows,
            items,
            STORED_LEVEL,
            MAPVAL_PREFIX,
        )

        previous = self._size
        root = self._map.update_checked(items, expect)
        if record:
            self._undo.append(_HeadUndo(expect, previous, self._log_ts, undo))
            while len(self._undo) > self._history:
                self._undo.popleft()
        self._size, self._log_ts = expect, last_ts
        return BatchResult(
            expect, last_ts, root, tuple(posting_rows), tuple(node_rows), tuple(key_rows)
        )

    def rollback(self, size: int) -> None:
        """Return to the commit at ``size`` (one of :meth:`sizes`), undoing later batches.

        For a batch whose storage transaction failed (the sequencer's abort).
        NotFoundError if ``size`` is not held; with ``history=0`` only the
        current size is.
        """
        if size not in self.sizes():
            raise NotFoundError(f"the index at size {size} is not held", size=size)
        self._map.rollback(size)
        heads = self._heads
        while self._size != size:
            u = self._undo.pop()
            for key, blob in u.heads.items():
                if blob is None:
                    del heads[key]
                else:
                    heads[key] = blob
            self._size, self._log_ts = u.previous, u.previous_log_ts

    # -- reading --------------------------------------------------------------------

    def _head_at(self, key_id: bytes, size: int) -> bytes | None:
        if size != self._size:
            for u in self._undo:
                if u.version > size and key_id in u.heads:
                    return u.heads[key_id]
        return self._heads.get(key_id)

    def view(self, size: int | None = None) -> IndexView:
        """The index as committed at ``size`` (default: now). NotFoundError if no longer held."""
        if size is None:
            size = self._size
        if size not in self.sizes():
            raise NotFoundError(
                f"the index at size {size} is not held (held: {self.sizes()})", size=size
            )
        return IndexView(self, size)

    def key_rows(self) -> Iterator[KeyRow]:
        """Every key's current row (for a full snapshot; storage normally gets deltas)."""
        for key, blob in self._heads.items():
            size, edge = _parse_head(blob)
            yield key, size, edge_root(edge), blob[8:]

    def key_sizes(self) -> Iterator[tuple[bytes, int]]:
        """Every key with its current posting count (no roots computed: for tools that
        survey the keys, cheaper than :meth:`key_rows`)."""
        for key, blob in self._heads.items():
            yield key, int.from_bytes(blob[:8], "big")

    @classmethod
    def restore(
        cls,
        size: int,
        log_ts: int,
        keys: Iterable[KeyRow],
        history: int = DEFAULT_HISTORY,
        *,
        native: bool = True,
    ) -> IndexState:
        """Rebuild the working state from stored key rows (after a restart).

        ``size`` and ``log_ts`` are those of the last applied entry; history
        starts empty; ``native`` as for the constructor. Each row is checked (edge
        shape, edge root = posting root); StoreError if storage is inconsistent.
        Cost: one bulk map build, fed a chunk of keys at a time.
        """
        if not _is_u64(size) or not _is_u64(log_ts):
            raise UsageError("size and log_ts must be integers in [0, 2**64)")
        state = cls(history, native=native)
        heads = state._heads

        def items() -> Iterator[tuple[bytes, bytes]]:
            for key, key_size, root, edge in keys:
                if not isinstance(key, bytes) or len(key) != 32 or key in heads:
                    raise StoreError("a stored index key id is malformed or repeated")
                if not _is_u64(key_size) or key_size == 0:
                    raise StoreError("a stored posting log size is not in [1, 2**64)")
                if not isinstance(edge, bytes) or len(edge) != 32 * key_size.bit_count():
                    raise StoreError("a stored posting log edge has the wrong length")
                if edge_root(edge_hashes(edge)) != root:
                    raise StoreError("a stored posting log edge does not fold to its root")
                if size == 0:
                    raise StoreError("stored index keys at size 0")
                heads[key] = key_size.to_bytes(8, "big") + edge
                yield key, MapValue(key_size, root).value_hash()

        # Streamed: the map is built a chunk of keys at a time (bounded memory at restart).
        state._map = SparseMap.build(items(), size, history, native=native)
        state._size, state._log_ts = size, log_ts
        return state


@dataclass(frozen=True, slots=True)
class IndexView:
    """The index as committed at ``size``: its root, key values and map proofs.

    Valid while ``size`` is held by the state (:meth:`IndexState.sizes`).
    """

    state: IndexState
    size: int

    @property
    def root(self) -> bytes:
        return self.state._map.root_at(self.size)

    def value(self, key_id: bytes) -> MapValue | None:
        """The key's (size, posting_root) at this commit, or None if it had no posting."""
        blob = self.state._head_at(key_id, self._held())
        if blob is None:
            return None
        size, edge = _parse_head(blob)
        return MapValue(size, edge_root(edge))

    def _held(self) -> int:
        if self.size not in self.state.sizes():
            raise NotFoundError(f"the index at size {self.size} is no longer held", size=self.size)
        return self.size

    def map_proof(self, key_id: bytes) -> MapProof:
        """The map (non-)membership proof for ``key_id`` against :attr:`root`."""
        siblings, other = self.state._map.path(key_id, self._held())
        if other is None:
            return MapProof(tuple(siblings), None)
        value = self.value(other)
        if value is None:  # pragma: no cover - the map and heads are updated together
            raise StoreError("map leaf without a posting log head")
        if other == key_id:
            return MapProof(tuple(siblings), MapLeaf(other, value=value))
        return MapProof(tuple(siblings), MapLeaf(other, value_hash=value.value_hash()))
