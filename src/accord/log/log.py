"""The durable append-only log: RFC 9162 tree over entries in SQLite or PostgreSQL.

``Log.open(url, origin=...)`` opens or creates a log (one per database).
Appends are batched: ``append_batch`` writes the entries, the hash tiles they
complete or extend, and the new head in ONE transaction, and moves the head by
compare-and-swap (``UPDATE log_head ... WHERE size = :old`` runs first, so a
second writer on the same database gets ConflictError before writing
anything). Roots and proofs at any past size read O(log n) stored hashes: the
nodes a proof plan names (accord.merkle ``*_plan``) live in at most a few
tiles per 8 tree levels (see :mod:`accord.log.tiles`).

The writer keeps the right-edge partial tiles in memory between appends; after
any failed append (or when another writer moved the head) it reloads them from
the database before the next one. A Log may be shared between threads: appends
are serialised by a lock; reads run concurrently on pooled connections.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence
from typing import Final

from accord.errors import ConflictError, NotFoundError, StoreError, UsageError
from accord.log import chunks, schema
from accord.log.checkpoints import check_note, check_origin, checkpoint_text
from accord.log.reader import DEFAULT_CACHE_TILES, TileCache, read_entries, read_tiles
from accord.log.tiles import ROW_BYTES, TILE_HEIGHT, RightEdge, Tile, TileID
from accord.merkle import (
    EMPTY_ROOT,
    NodeID,
    ProofPlan,
    consistency_plan,
    inclusion_plan,
    range_plan,
    root_plan,
)
from accord.store import Database, Synchronous, Tx

__all__ = ["AlsoHook", "Log"]

#: Called inside the append transaction with the index of the batch's first entry.
AlsoHook = Callable[[Tx, int], None]

_sha256 = hashlib.sha256
_HEAD: Final = "SELECT origin, size, root FROM log_head WHERE id = 1"
_POS_MASK: Final = tuple((1 << (TILE_HEIGHT - row)) - 1 for row in range(TILE_HEIGHT))
# _read inlines TILE_HEIGHT == 8 and HASH_SIZE == 32 (tests/unit/log/test_tiles.py checks both).


def _nonneg(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise UsageError(f"{what} must be a non-negative integer")
    return value


class Log:
    """One organization's append-only log. Build with :meth:`open` or :meth:`attach`."""

    def __init__(self, db: Database, origin: str, *, owns_db: bool, cache_tiles: int) -> None:
        self.db = db
        self.origin = origin
        self._owns_db = owns_db
        self._cache = TileCache(cache_tiles)
        self._write_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._known = 0  # largest committed size seen (never decreases)
        self._edge: RightEdge | None = None  # writer state; None = reload before appending

    # -- opening -----------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        url: str,
        *,
        origin: str | None = None,
        synchronous: Synchronous = "FULL",
        cache_tiles: int = DEFAULT_CACHE_TILES,
    ) -> Log:
        """Open the log in database ``url``, creating it (which needs ``origin``) if absent.

        UsageError if the database holds a log of another origin, or holds none and
        ``origin`` is None.
        """
        db = Database.open(url, synchronous=synchronous)
        try:
            return cls._setup(db, origin, owns_db=True, cache_tiles=cache_tiles)
        except BaseException:
            db.close()
            raise

    @classmethod
    def attach(
        cls, db: Database, *, origin: str | None = None, cache_tiles: int = DEFAULT_CACHE_TILES
    ) -> Log:
        """The log in an open database shared with other subsystems (close() leaves it open)."""
        return cls._setup(db, origin, owns_db=False, cache_tiles=cache_tiles)

    @classmethod
    def _setup(cls, db: Database, origin: str | None, *, owns_db: bool, cache_tiles: int) -> Log:
        if origin is not None:
            check_origin(origin)
        db.migrate(schema.COMPONENT, schema.STEPS)
        head = db.fetchone(_HEAD)
        if head is None:
            if origin is None:
                raise UsageError("the database holds no log: an origin is needed to create one")
            with db.transaction() as tx:
                tx.execute(
                    "INSERT INTO log_head (id, origin, size, root) VALUES (1, ?, 0, ?)"
                    " ON CONFLICT (id) DO NOTHING",
                    (origin, EMPTY_ROOT),
                )
                head = tx.fetchone(_HEAD)
            if head is None:
                raise StoreError("the log head row is missing after creating it")
        stored = str(head[0])
        if origin is not None and origin != stored:
            raise UsageError(f"the database holds the log {stored!r}, not {origin!r}")
        log = cls(db, stored, owns_db=owns_db, cache_tiles=cache_tiles)
        log._known = int(head[1])
        return log

    def close(self) -> None:
        """Close the database if this log opened it."""
        if self._owns_db:
            self.db.close()

    def __enter__(self) -> Log:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Log({self.origin!r}, size={self._known}, {self.db!r})"

    # -- size --------------------------------------------------------------------------

    def _refresh(self) -> int:
        head = self.db.fetchone(_HEAD)
        if head is None:
            raise StoreError("the log head row is missing")
        with self._state_lock:
            self._known = max(self._known, int(head[1]))
            return self._known

    @property
    def size(self) -> int:
        """The committed size, read from the database (another writer may have moved it)."""
        return self._refresh()

    def _check_size(self, size: int | None) -> int:
        """``size`` (or the current size if None), checked against the committed size."""
        if size is None:
            return self._refresh()
        _nonneg(size, "size")
        if size > self._known and size > self._refresh():
            raise UsageError(f"size {size} is beyond the log's size {self._known}")
        return size

    # -- appending ---------------------------------------------------------------------

    def _load_edge(self) -> RightEdge:
        head = self.db.fetchone(_HEAD)
        if head is None:
            raise StoreError("the log head row is missing")
        size, root = int(head[1]), bytes(head[2])
        shape = [(tid, w) for tid, w in RightEdge.shape(size) if w]
        edge = RightEdge.from_tiles(size, read_tiles(self.db, [tid for tid, _ in shape]))
        if edge.root() != root:
            raise StoreError(f"stored tiles do not match the stored root at size {size}")
        with self._state_lock:
            self._known = max(self._known, size)
        return edge

    def append_batch(self, entries: Sequence[bytes], *, also: AlsoHook | None = None) -> int:
        """Append ``entries`` in one transaction; return the index of the first.

        ``also(tx, first)`` runs inside the same transaction after the log's own
        writes, so a caller's rows commit or roll back with the batch. Raises
        UsageError for an empty batch or a non-bytes entry, ConflictError (with
        the current size) when another writer moved the head, StoreError when
        the database fails; nothing is then committed.
        """
        if isinstance(entries, bytes | str) or not isinstance(entries, Sequence):
            raise UsageError("entries must be a sequence of bytes")
        if not entries:
            raise UsageError("an append needs at least one entry")
        for e in entries:
            if not isinstance(e, bytes):
                raise UsageError("every entry must be bytes")
            if len(e) > chunks.MAX_ENTRY_BYTES:
                raise UsageError("an entry is over 4 GiB")
        with self._write_lock:
            edge = self._edge if self._edge is not None else self._load_edge()
            self._edge = None  # restored only once the transaction has committed
            first = edge.size
            hashes = [_sha256(b"\x00" + e).digest() for e in entries]
            new_edge, written = edge.append(hashes)
            root = new_edge.root()
            chunk_rows = []
            for start, count in chunks.split(first, len(entries)):
                offsets, data = chunks.pack(entries[start - first : start - first + count])
                chunk_rows.append((start, count, offsets, data))
            tile_rows = [(schema.tile_key(t.level, t.index), t.width, t.data) for t in written]
            with self.db.transaction(urgent=True) as tx:
                if tx.execute(schema.MOVE_HEAD, (new_edge.size, root, first)) != 1:
                    row = tx.fetchone("SELECT size FROM log_head WHERE id = 1")
                    now = None if row is None else int(row[0])
                    raise ConflictError(f"another writer moved the log head from {first}", size=now)
                tx.executemany(schema.INSERT_CHUNK, chunk_rows)
                tx.executemany(schema.UPSERT_TILE, tile_rows)
                if also is not None:
                    also(tx, first)
            self._edge = new_edge
            with self._state_lock:
                self._known = max(self._known, new_edge.size)
            self._cache.put(written)
            return first

    # -- reading nodes -------------------------------------------------------------------

    def _tiles(self, needs: dict[TileID, int]) -> dict[TileID, Tile]:
        """Tiles at least as wide as ``needs`` asks (tile id -> least width)."""
        have = self._cache.get_many(needs)
        if len(have) == len(needs):
            return have
        edge = self._edge
        missing: list[TileID] = []
        for tid, width in needs.items():
            if tid in have:
                continue
            if edge is not None and tid[0] < len(edge.tiles):
                candidate = edge.tiles[tid[0]]
                if candidate.index == tid[1] and candidate.width >= width:
                    have[tid] = candidate
                    continue
            missing.append(tid)
        if missing:
            fetched = read_tiles(self.db, missing)
            self._cache.put(fetched.values())
            for tid in missing:
                tile = fetched.get(tid)
                if tile is None or tile.width < needs[tid]:
                    raise StoreError(f"tile {tid} is missing from storage")
                have[tid] = tile
        return have

    def _read(self, ids: Sequence[NodeID]) -> list[bytes]:
        """NodeReader over storage for nodes known to be complete (no size check).

        Node ``(level, index)`` sits in tile ``(level >> 3, index >> (8 - row))`` at
        ``row = level & 7`` (see :func:`accord.log.tiles.locate`, inlined here: this
        loop is the hot path of every proof).
        """
        needs: dict[TileID, int] = {}
        located = []
        get = needs.get
        for level, index in ids:
            row = level & 7
            shift = 8 - row
            tid = (level >> 3, index >> shift)
            pos = index & _POS_MASK[row]
            width = (pos + 1) << row
            if get(tid, 0) < width:
                needs[tid] = width
            located.append((tid, row, pos << 5))
        tiles = self._tiles(needs)
        out = []
        for tid, row, offset in located:
            tile = tiles[tid]
            start = ROW_BYTES[tile.width][row] + offset
            out.append(tile.data[start : start + 32])
        return out

    def _run(self, plan: ProofPlan) -> list[bytes]:
        ids = plan.node_ids()
        return plan.assemble(dict(zip(ids, self._read(ids), strict=True)))

    def read_nodes(self, ids: Sequence[NodeID]) -> list[bytes]:
        """The :data:`accord.merkle.NodeReader` over storage: hashes of perfect nodes.

        UsageError for a node that is not complete in the committed tree.
        """
        ids = list(ids)
        for node in ids:
            if not isinstance(node, tuple) or len(node) != 2:
                raise UsageError("a node id is a (level, index) pair")
            level, index = _nonneg(node[0], "node level"), _nonneg(node[1], "node index")
            end = (index + 1) << min(level, 64)
            if level > 62 or (end > self._known and end > self._refresh()):
                raise UsageError(f"node ({level}, {index}) is not complete in the log")
        return self._read(ids)

    # -- roots and proofs ------------------------------------------------------------------

    def root_hash(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` entries (the committed size if None)."""
        n = self._check_size(size)
        return EMPTY_ROOT if n == 0 else self._run(root_plan(n))[0]

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 inclusion proof of entry ``index`` in the tree of ``size``."""
        n = self._check_size(size)
        return self._run(inclusion_plan(_nonneg(index, "index"), n))

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[bytes]:
        """RFC 9162 consistency proof from ``size1`` to ``size2`` (0 < size1 <= size2)."""
        n = self._check_size(size2)
        return self._run(consistency_plan(_nonneg(size1, "size1"), n))

    def range_proof(self, start: int, end: int, size: int | None = None) -> list[bytes]:
        """Compact-range proof of entries ``[start, end)`` in the tree of ``size``."""
        n = self._check_size(size)
        return self._run(range_plan(_nonneg(start, "start"), _nonneg(end, "end"), n))

    # -- entries ---------------------------------------------------------------------------

    def _check_range(self, start: int, end: int) -> None:
        _nonneg(start, "start")
        _nonneg(end, "end")
        if start > end:
            raise UsageError(f"range [{start}, {end}) is reversed")
        self._check_size(end)

    def entries(self, start: int, end: int) -> list[bytes]:
        """Entries ``[start, end)`` as appended."""
        self._check_range(start, end)
        return read_entries(self.db, start, end)

    def entry(self, index: int) -> bytes:
        _nonneg(index, "index")
        if index >= self._known and index >= self._refresh():
            raise UsageError(f"entry {index} is beyond the log's size {self._known}")
        return read_entries(self.db, index, index + 1)[0]

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        """RFC 9162 leaf hashes of entries ``[start, end)``."""
        self._check_range(start, end)
        return self._read([(0, i) for i in range(start, end)])

    # -- checkpoints -------------------------------------------------------------------------

    def checkpoint_text(self, size: int | None = None) -> str:
        """C2SP tlog-checkpoint body at ``size``: ``origin\\nsize\\nbase64(root)\\n``."""
        n = self._check_size(size)
        return checkpoint_text(self.origin, n, self.root_hash(n))

    def sign_checkpoint(self, sign: Callable[[str], str], size: int | None = None) -> str:
        """Sign the checkpoint at ``size`` with ``sign`` (text -> signed note), store the
        note (replacing an earlier one at that size), and return it."""
        text = self.checkpoint_text(size)
        note = check_note(text, sign(text))
        n = int(text.split("\n", 2)[1])
        # Urgent, like the appends: a checkpoint is due every second while entries arrive.
        with self.db.transaction(urgent=True) as tx:
            tx.execute(
                "INSERT INTO log_checkpoints (size, note) VALUES (?, ?)"
                " ON CONFLICT (size) DO UPDATE SET note = excluded.note",
                (n, note),
            )
        return note

    def put_checkpoint(self, size: int, note: str) -> None:
        """Replace the note stored at ``size`` with ``note``: the same checkpoint with more
        signatures (the witnesses' cosignatures collected for it).

        ``note`` must be a signed note over exactly the stored checkpoint text and keep
        every signature line of the stored note (UsageError otherwise); NotFoundError
        if no checkpoint is stored at ``size``. One transaction: a concurrent
        replacement is never lost half-way.
        """
        _nonneg(size, "size")
        with self.db.transaction() as tx:
            row = tx.fetchone("SELECT note FROM log_checkpoints WHERE size = ?", (size,))
            if row is None:
                raise NotFoundError(f"no checkpoint is stored at size {size}")
            stored = str(row[0])
            split = stored.rfind("\n\n")
            text, lines = stored[: split + 1], stored[split + 2 :].splitlines()
            check_note(text, note)
            kept = set(note[len(text) + 1 :].splitlines())
            if not all(line in kept for line in lines):
                raise UsageError("put_checkpoint: the new note drops a stored signature")
            tx.execute("UPDATE log_checkpoints SET note = ? WHERE size = ?", (note, size))

    def checkpoint(self, size: int) -> str | None:
        """The signed checkpoint stored at ``size``, if any."""
        row = self.db.fetchone(
            "SELECT note FROM log_checkpoints WHERE size = ?", (_nonneg(size, "size"),)
        )
        return None if row is None else str(row[0])

    def recent_checkpoints(self, limit: int) -> list[tuple[int, str]]:
        """``(size, note)`` of the ``limit`` largest stored checkpoints, largest first."""
        rows = self.db.fetchall(
            "SELECT size, note FROM log_checkpoints ORDER BY size DESC LIMIT ?",
            (_nonneg(limit, "limit"),),
        )
        return [(int(r[0]), str(r[1])) for r in rows]

    def latest_checkpoint(self) -> tuple[int, str] | None:
        """``(size, note)`` of the largest stored checkpoint, if any."""
        row = self.db.fetchone("SELECT size, note FROM log_checkpoints ORDER BY size DESC LIMIT 1")
        return None if row is None else (int(row[0]), str(row[1]))
