"""The verifiable index inside the node (verifiable-index.md, docs/index.md).

- **Building** is on the sequencer's path and in memory: :class:`NodeIndex` is the
  planner's :class:`~accord.node.planner.IndexHook`. Each batch applies the previous
  index-commit leaf (keyless) and the batch's headers to an
  :class:`~accord.index.IndexState`; the planner then appends a commit leaf carrying the
  new root. Nothing index-specific is written in the append's transaction: the log
  itself (headers with their keys, and the commit leaves) is the durable record.
- **Persisting** is incremental and off the critical path: a materializer thread writes
  each committed batch's rows (postings and stored posting-log nodes) to the ``index_*``
  tables, in log order, with the index head moved by compare-and-swap.
  Until a batch is materialized its rows are served from memory (an overlay), so proofs
  never wait for it.
- **Restarting**: every key's head (posting-log size and right edge) is rebuilt from the
  stored postings and nodes at the materialized size and checked against that commit
  leaf's root, then the log entries after it are replayed through the same code; each
  replayed commit leaf's root is checked against the recomputed one (a mismatch refuses
  to start).

The tables are the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
from collections.abc import Iterator, Sequence
from typing import Any, Final

from accord.errors import AccordError, ConflictError, StoreError, VerificationError
from accord.index import (
    POSTING_SIZE,
    BatchResult,
    IndexEntry,
    IndexState,
    IndexView,
    KeyProof,
    KeyRow,
    PostingReaders,
    PostingRow,
    Query,
    prove_key,
)
from accord.index.postings import STORED_LEVEL, edge_from_stored, edge_root, pack_posting
from accord.log import Log
from accord.merkle import NodeID, leaf_hash
from accord.records import Header, IndexCommit, parse_leaf
from accord.store.database import Database
from accord.store.migrations import Step

__all__ = ["INDEX_STEPS", "NodeIndex", "stored_heads"]

_log = logging.getLogger("accord.index")

#: Past commits the node can still prove against (cosignatures arrive after the commit).
HISTORY: Final = 128
#: Log entries committed but not yet materialized before the sequencer waits for the
#: materializer: bounds the overlay's memory when appends outrun the table writes.
MAX_BACKLOG: Final = 100_000
_ZERO: Final = bytes(32)
_NodeKey = tuple[bytes, int, int]
_REPLAY_CHUNK: Final = 2_000
#: Key-id ranges (by first byte) in which heads are rebuilt at restart; None: no upper bound.
_KEY_RANGES: Final = tuple((bytes([b]), bytes([b + 1]) if b < 255 else None) for b in range(256))
#: Posting logs up to this size are located with one range read, longer ones by bisection.
_SCAN_LOCATE: Final = 64
#: Rows go to part ``log size >> PART_SHIFT`` of their table (the part leads the primary
#: key), so a batch's rows land among the rows of the last 2**20 log entries, not across
#: the whole table: the B-tree region a batch writes to stays the size it has at 1M
#: records however long the log grows. A key's rows may be in any part; reads look in each.
PART_SHIFT = 20


def _parts_step(table_options: str) -> tuple[str, ...]:
    return (
        "CREATE TABLE index_postings_v4 (part INTEGER NOT NULL, key_id BLOB NOT NULL,"
        " idx INTEGER NOT NULL, seq INTEGER NOT NULL, log_ts INTEGER NOT NULL,"
        f" evh BLOB NOT NULL, PRIMARY KEY (part, key_id, idx)){table_options}",
        "INSERT INTO index_postings_v4 SELECT seq / 1048576, key_id, idx, seq, log_ts, evh"
        " FROM index_postings",  # 1048576 = 2**20, PART_SHIFT when this step was written
        "DROP TABLE index_postings",
        "ALTER TABLE index_postings_v4 RENAME TO index_postings",
        "CREATE TABLE index_posting_nodes_v4 (part INTEGER NOT NULL, key_id BLOB NOT NULL,"
        " level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL,"
        f" PRIMARY KEY (part, key_id, level, idx)){table_options}",
        "INSERT INTO index_posting_nodes_v4 SELECT 0, key_id, level, idx, hash"
        " FROM index_posting_nodes",
        "DROP TABLE index_posting_nodes",
        "ALTER TABLE index_posting_nodes_v4 RENAME TO index_posting_nodes",
    )


INDEX_STEPS: Final = (
    Step(
        "001-tables",
        (
            "CREATE TABLE index_postings (key_id BLOB NOT NULL, idx INTEGER NOT NULL,"
            " seq INTEGER NOT NULL, log_ts INTEGER NOT NULL, evh BLOB NOT NULL,"
            " PRIMARY KEY (key_id, idx))",
            "CREATE INDEX index_postings_ts ON index_postings (key_id, log_ts)",
            "CREATE TABLE index_posting_nodes (key_id BLOB NOT NULL, level INTEGER NOT NULL,"
            " idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (key_id, level, idx))",
            "CREATE TABLE index_keys (key_id BLOB PRIMARY KEY, size INTEGER NOT NULL,"
            " root BLOB NOT NULL, edge BLOB NOT NULL)",
            "CREATE TABLE index_head (one INTEGER PRIMARY KEY, size INTEGER NOT NULL,"
            " log_ts INTEGER NOT NULL, root BLOB NOT NULL)",
        ),
    ),
    # One B-tree per table on SQLite (WITHOUT ROWID: the primary key is the table) and no
    # secondary index on log_ts (``locate`` searches the primary key): a third less storage
    # and fewer pages written per batch. PostgreSQL keeps its heap tables and drops the index.
    Step(
        "002-compact",
        sqlite=(
            "CREATE TABLE index_postings_v2 (key_id BLOB NOT NULL, idx INTEGER NOT NULL,"
            " seq INTEGER NOT NULL, log_ts INTEGER NOT NULL, evh BLOB NOT NULL,"
            " PRIMARY KEY (key_id, idx)) WITHOUT ROWID",
            "INSERT INTO index_postings_v2 SELECT key_id, idx, seq, log_ts, evh"
            " FROM index_postings",
            "DROP TABLE index_postings",
            "ALTER TABLE index_postings_v2 RENAME TO index_postings",
            "CREATE TABLE index_posting_nodes_v2 (key_id BLOB NOT NULL, level INTEGER NOT NULL,"
            " idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (key_id, level, idx))"
            " WITHOUT ROWID",
            "INSERT INTO index_posting_nodes_v2 SELECT key_id, level, idx, hash"
            " FROM index_posting_nodes",
            "DROP TABLE index_posting_nodes",
            "ALTER TABLE index_posting_nodes_v2 RENAME TO index_posting_nodes",
            "CREATE TABLE index_keys_v2 (key_id BLOB PRIMARY KEY, size INTEGER NOT NULL,"
            " root BLOB NOT NULL, edge BLOB NOT NULL) WITHOUT ROWID",
            "INSERT INTO index_keys_v2 SELECT key_id, size, root, edge FROM index_keys",
            "DROP TABLE index_keys",
            "ALTER TABLE index_keys_v2 RENAME TO index_keys",
        ),
        postgresql=("DROP INDEX IF EXISTS index_postings_ts",),
    ),
    # Key heads are rebuilt from the postings and nodes at restart (stored_heads)
    # instead of being rewritten for every key every batch touches.
    Step("003-no-key-heads", ("DROP TABLE index_keys",)),
    # The part leads the primary key (PART_SHIFT). Existing postings go to their own
    # seq's part and existing nodes to part 0: a row may be in any part, so any is right.
    Step("004-parts", sqlite=_parts_step(" WITHOUT ROWID"), postgresql=_parts_step("")),
)


@functools.lru_cache(maxsize=64)
def _parts_in(top: int) -> str:
    """SQL for "the row is in part 0..top": one B-tree seek per part (not a range on the
    part, which would scan every part's rows)."""
    return f"part IN ({', '.join(str(p) for p in range(top + 1))})"


def _posting(seq: Any, log_ts: Any, evh: Any) -> bytes:
    """A stored posting row's columns (as a database driver returns them) as 48 bytes."""
    return pack_posting(int(seq), int(log_ts), bytes(evh))


def _top_part(db: Database, table: str) -> int:
    """The highest part that holds a row of ``table`` (-1 if it is empty)."""
    row = db.fetchone(f"SELECT MAX(part) FROM {table}")  # noqa: S608 (our table names)
    return -1 if row is None or row[0] is None else int(row[0])


def stored_heads(db: Database) -> Iterator[KeyRow]:
    """Every key's head (size, posting root, right edge) rebuilt from the postings and
    posting-log nodes in a node's ``index_*`` tables, a range of key ids at a time (bounded
    memory): what :class:`NodeIndex` restores at restart.

    Heads are not written per batch: each batch changes the head of nearly every key
    it touches, and those writes cost as much as the postings themselves."""
    top = _top_part(db, "index_postings")
    node_parts = _parts_in(max(top, _top_part(db, "index_posting_nodes")))
    for lo, hi in _KEY_RANGES:
        where, params = (
            ("key_id >= ?", (lo,)) if hi is None else ("key_id >= ? AND key_id < ?", (lo, hi))
        )
        # Per part: each key's last 16 postings there. A key's tail (its postings from
        # the last multiple of 16 below its size) is within the last 16 of some parts.
        found: dict[bytes, dict[int, bytes]] = {}
        for part in range(top + 1):
            for key, idx, seq, log_ts, evh in db.fetchall(
                "SELECT p.key_id, p.idx, p.seq, p.log_ts, p.evh FROM index_postings p JOIN"  # noqa: S608
                " (SELECT key_id, MAX(idx) AS m FROM index_postings"
                f" WHERE part = ? AND {where} GROUP BY key_id) s ON p.key_id = s.key_id"
                " WHERE p.part = ? AND p.idx > s.m - ?",
                (part, *params, part, 1 << STORED_LEVEL),
            ):
                rows = found.setdefault(bytes(key), {})
                if int(idx) in rows:
                    raise StoreError(f"posting {idx} of a key is stored twice")
                rows[int(idx)] = _posting(seq, log_ts, evh)
        if not found:
            continue
        nodes: dict[bytes, dict[tuple[int, int], bytes]] = {}
        for key, level, idx, h in db.fetchall(
            "SELECT key_id, level, idx, hash FROM index_posting_nodes"  # noqa: S608
            f" WHERE {node_parts} AND {where}",
            params,
        ):
            nodes.setdefault(bytes(key), {})[(int(level), int(idx))] = bytes(h)
        for key_id in sorted(found):
            rows = found[key_id]
            size = max(rows) + 1
            start = size - size % (1 << STORED_LEVEL)
            tail = [rows[i] for i in range(start, size) if i in rows]
            edge = edge_from_stored(size, nodes.get(key_id, {}), tail)
            yield key_id, size, edge_root(edge), b"".join(edge)


class _Overlay:
    """Rows of committed batches not yet materialized, readable by key.

    Adding and dropping a batch is O(1) (both are on the write path, once per batch);
    a batch's rows are grouped by key only when a read first needs them (proofs are
    rare next to batches). Callers hold the node's overlay lock.
    """

    def __init__(self) -> None:
        self._batches: dict[int, BatchResult] = {}  # by id(), in commit order
        self._grouped: dict[int, tuple[dict[bytes, list[PostingRow]], dict[_NodeKey, bytes]]] = {}

    def add(self, result: BatchResult) -> None:
        self._batches[id(result)] = result

    def drop(self, result: BatchResult) -> None:
        self._batches.pop(id(result), None)
        self._grouped.pop(id(result), None)

    def _groups(
        self,
    ) -> Iterator[tuple[dict[bytes, list[PostingRow]], dict[_NodeKey, bytes]]]:
        for ident, result in self._batches.items():
            grouped = self._grouped.get(ident)
            if grouped is None:
                postings: dict[bytes, list[PostingRow]] = {}
                for row in result.postings:
                    postings.setdefault(row[0], []).append(row)
                nodes = {(key, level, idx): h for key, level, idx, h in result.nodes}
                grouped = self._grouped[ident] = (postings, nodes)
            yield grouped

    def postings(self, key_id: bytes) -> dict[int, bytes]:
        """{posting index: 48-byte posting} of ``key_id`` in the pending batches."""
        out: dict[int, bytes] = {}
        for postings, _ in self._groups():
            for _, idx, seq, log_ts, evh in postings.get(key_id, ()):
                out[idx] = pack_posting(seq, log_ts, evh)
        return out

    def node(self, key_id: bytes, level: int, idx: int) -> bytes | None:
        for _, nodes in self._groups():
            h = nodes.get((key_id, level, idx))
            if h is not None:
                return h
        return None


class NodeIndex:
    """The node's index: the planner's hook, the materializer, and the read seam."""

    def __init__(self, db: Database, log: Log, *, max_backlog: int = MAX_BACKLOG) -> None:
        self._db = db
        self.max_backlog = max_backlog
        self._drained = threading.Condition()
        self._log = log
        db.migrate("index", INDEX_STEPS)
        self.lock = threading.RLock()
        self._overlay = _Overlay()
        self._overlay_lock = threading.Lock()
        self._queue: queue.SimpleQueue[BatchResult | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._staged: tuple[int, BatchResult, int] | None = None
        self._carry: list[IndexEntry] = []
        self.materialized = 0
        self.state, self._last_commit = self._restore()

    # -- restart ---------------------------------------------------------------------

    def _restore(self) -> tuple[IndexState, int | None]:
        head = self._db.fetchone("SELECT size, log_ts FROM index_head WHERE one = 1")
        if head is None:
            state = IndexState(HISTORY)
        else:
            size = int(head[0])
            state = IndexState.restore(size, int(head[1]), stored_heads(self._db), HISTORY)
            self._check_restored(state)
        self.materialized = state.size
        last_commit = self._replay(state, state.size, self._log.size)
        return state, last_commit

    def _check_restored(self, state: IndexState) -> None:
        """The restored root against the commit leaf that covers the materialized size
        (the leaf right after that batch), when the log holds it."""
        if state.size >= self._log.size:
            return
        leaf = parse_leaf(self._log.entry(state.size))
        if (
            isinstance(leaf, IndexCommit)
            and leaf.covers_size == state.size
            and leaf.index_root != state.root
        ):
            raise VerificationError(
                f"the index rebuilt from its tables has root {state.root.hex()} at size "
                f"{state.size}, but commit leaf {state.size} says {leaf.index_root.hex()}"
            )

    def _replay(self, state: IndexState, start: int, end: int) -> int | None:
        """Apply log entries [start, end) batch by batch (a batch ends before each commit
        leaf), checking each commit's root; returns the last commit leaf's seq."""
        last_commit = self._find_last_commit(start)
        pending: list[IndexEntry] = []
        for chunk_start in range(start, end, _REPLAY_CHUNK):
            chunk_end = min(end, chunk_start + _REPLAY_CHUNK)
            for offset, raw in enumerate(self._log.entries(chunk_start, chunk_end)):
                seq = chunk_start + offset
                leaf = parse_leaf(raw)
                if isinstance(leaf, IndexCommit):
                    if pending:
                        result = state.apply_batch(pending)
                        self._materialize_now(result)
                        pending = []
                    if state.size != leaf.covers_size or state.root != leaf.index_root:
                        raise VerificationError(
                            f"index-commit leaf {seq} says root {leaf.index_root.hex()} at "
                            f"size {leaf.covers_size}, but replaying the log gives "
                            f"{state.root.hex()} at size {state.size}"
                        )
                    pending.append(IndexEntry(seq, leaf.log_ts, leaf_hash(raw)))
                    last_commit = seq
                else:
                    pending.append(IndexEntry(seq, leaf.log_ts, leaf_hash(raw), leaf.keys))
        # Entries after the last commit (in a node's own log, just that commit leaf) are
        # applied with the next batch, as the planner does.
        self._carry = pending
        return last_commit

    def _find_last_commit(self, before: int) -> int | None:
        for seq in range(before - 1, max(-1, before - 3), -1):
            if isinstance(parse_leaf(self._log.entry(seq)), IndexCommit):
                return seq
        return None

    # -- the planner's hook ------------------------------------------------------------

    @property
    def last_commit(self) -> int | None:
        return self._last_commit

    def stage(self, first: int, log_ts: int, headers: Sequence[Header]) -> bytes:
        with self.lock:
            before = self.state.size
            entries = list(self._carry)
            next_seq = entries[-1].seq + 1 if entries else before
            # The previous batch's commit leaf (keyless; its hash is not used by the index).
            for seq in range(next_seq, first):
                entries.append(IndexEntry(seq, self.state.log_ts, _ZERO))
            for i, header in enumerate(headers):
                entries.append(IndexEntry(first + i, log_ts, header.leaf_hash(), header.keys))
            result = self.state.apply_batch(entries)
            self._staged = (before, result, first + len(headers))
            return result.root

    def write(self, tx: object) -> None:
        """Nothing index-specific goes in the append's transaction (see the module doc)."""

    def commit(self) -> None:
        with self.lock:
            if self._staged is None:
                return
            _, result, commit_seq = self._staged
            self._staged = None
            self._carry = []
            self._last_commit = commit_seq
        with self._overlay_lock:
            self._overlay.add(result)
        self._queue.put(result)
        self._wait_backlog(result.size)

    def _wait_backlog(self, size: int) -> None:
        """Back-pressure: while more than ``max_backlog`` entries wait to be materialized,
        the sequencer (the caller of :meth:`commit`) waits, so the overlay's memory stays
        bounded. Never waits on a materializer that is not running."""
        with self._drained:
            while (
                size - self.materialized > self.max_backlog
                and self._thread is not None
                and self._thread.is_alive()
            ):
                self._drained.wait(1.0)

    def abort(self) -> None:
        with self.lock:
            if self._staged is not None:
                self.state.rollback(self._staged[0])
                self._staged = None

    # -- materializing ---------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._materialize_loop, name="accord-index", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(30)
            self._thread = None

    def _materialize_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            while len(batch) < 64:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._write_rows(batch)
                    return
                batch.append(nxt)
            try:
                self._write_rows(batch)
            except AccordError:
                _log.exception("materializing the index failed; it is rebuilt at restart")
                return

    def _materialize_now(self, result: BatchResult) -> None:
        self._write_rows([result], overlay=False)

    def _write_rows(self, results: list[BatchResult], overlay: bool = True) -> None:
        before = self.materialized
        last = results[-1]
        with self._db.transaction() as tx:
            # In the current part (PART_SHIFT) and in key order: consecutive rows land on
            # the same or neighbouring pages of a region that does not grow with the log.
            part = results[0].size >> PART_SHIFT
            postings = sorted((part, *r) for res in results for r in res.postings)
            if postings:
                tx.executemany("INSERT INTO index_postings VALUES (?, ?, ?, ?, ?, ?)", postings)
            nodes = [(part, *r) for res in results for r in res.nodes]
            if nodes:
                tx.executemany("INSERT INTO index_posting_nodes VALUES (?, ?, ?, ?, ?)", nodes)
            if before == 0 and not tx.fetchone("SELECT 1 FROM index_head WHERE one = 1"):
                tx.execute(
                    "INSERT INTO index_head (one, size, log_ts, root) VALUES (1, ?, ?, ?)",
                    (last.size, last.log_ts, last.root),
                )
            elif not tx.execute(
                "UPDATE index_head SET size = ?, log_ts = ?, root = ? WHERE one = 1 AND size = ?",
                (last.size, last.log_ts, last.root, before),
            ):
                raise ConflictError("the index head moved under the materializer", size=before)
        if overlay:
            with self._overlay_lock:
                for res in results:
                    self._overlay.drop(res)
        with self._drained:
            self.materialized = last.size
            self._drained.notify_all()

    def wait_materialized(self, size: int, timeout: float = 30.0) -> bool:
        """For tests and tools: wait until rows up to ``size`` are in the tables."""
        import time

        deadline = time.monotonic() + timeout
        while self.materialized < size:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    # -- the read seam -----------------------------------------------------------------

    def _parts(self) -> str:
        """The parts that may hold rows, for a read that took its overlay snapshot first:
        rows not in that snapshot were written by then, to a part no later than the
        staged size's."""
        return _parts_in(max(self.state.size, self.materialized) >> PART_SHIFT)

    def read_postings(self, key_id: bytes, start: int, end: int) -> list[bytes]:
        with self._overlay_lock:
            pending = self._overlay.postings(key_id)
        found: dict[int, bytes] = {}
        for idx, seq, ts, evh in self._db.fetchall(
            f"SELECT idx, seq, log_ts, evh FROM index_postings WHERE {self._parts()}"  # noqa: S608
            " AND key_id = ? AND idx >= ? AND idx < ?",
            (key_id, start, end),
        ):
            if int(idx) in found:
                raise StoreError(f"posting {idx} of a key is stored twice")
            found[int(idx)] = _posting(seq, ts, evh)
        for idx, row in pending.items():
            if start <= idx < end:
                found[idx] = row
        out = []
        for idx in range(start, end):
            got = found.get(idx)
            if got is None:
                break
            out.append(got)
        return out

    def read_nodes(self, key_id: bytes, ids: Sequence[NodeID]) -> list[bytes]:
        if not ids:
            return []
        with self._overlay_lock:
            pending = {i: self._overlay.node(key_id, i[0], i[1]) for i in ids}
        wanted = [i for i, h in pending.items() if h is None]
        stored: dict[NodeID, bytes] = {}
        if wanted:
            marks = " OR ".join("(level = ? AND idx = ?)" for _ in wanted)
            params: list[object] = [key_id]
            for level, idx in wanted:
                params += [level, idx]
            for level, idx, h in self._db.fetchall(
                f"SELECT level, idx, hash FROM index_posting_nodes WHERE {self._parts()}"  # noqa: S608
                f" AND key_id = ? AND ({marks})",
                params,
            ):
                stored[(int(level), int(idx))] = bytes(h)
        out = []
        for i in ids:
            h = pending.get(i) or stored.get(i)
            if h is None:
                raise StoreError(f"posting-log node {i} of a key is not stored")
            out.append(h)
        return out

    def locate(self, key_id: bytes, size: int, log_ts: int) -> int:
        """The first posting index below ``size`` whose log_ts is at least ``log_ts`` (``size``
        if none). A key's postings are in log order and log_ts never decreases along them, so
        this is a search over the primary key: one range read for a short posting log, a binary
        search of point reads for a long one (no secondary index on log_ts to maintain)."""
        with self._overlay_lock:
            pending = self._overlay.postings(key_id)
        parts = self._parts()
        if size <= _SCAN_LOCATE:
            times = {
                int(idx): int(ts)
                for idx, ts in self._db.fetchall(
                    f"SELECT idx, log_ts FROM index_postings WHERE {parts}"  # noqa: S608
                    " AND key_id = ? AND idx < ?",
                    (key_id, size),
                )
            }
            for idx, raw in pending.items():
                times[idx] = int.from_bytes(raw[8:16], "big")
            if any(i not in times for i in range(size)):
                raise StoreError(f"a posting below {size} of a key is not stored")
            return next((i for i in range(size) if times[i] >= log_ts), size)

        def posting_ts(idx: int) -> int:
            raw = pending.get(idx)
            if raw is not None:
                return int.from_bytes(raw[8:16], "big")
            row = self._db.fetchone(
                f"SELECT log_ts FROM index_postings WHERE {parts}"  # noqa: S608
                " AND key_id = ? AND idx = ?",
                (key_id, idx),
            )
            if row is None:
                raise StoreError(f"posting {idx} of a key is not stored")
            return int(row[0])

        lo, hi = 0, size
        while lo < hi:
            mid = (lo + hi) // 2
            if posting_ts(mid) >= log_ts:
                hi = mid
            else:
                lo = mid + 1
        return lo

    def readers(self) -> PostingReaders:
        return PostingReaders(self.read_postings, self.read_nodes, self.locate)

    # -- proving ------------------------------------------------------------------------

    def view(self, size: int) -> IndexView:
        with self.lock:
            return self.state.view(size)

    def prove(self, key_id: bytes, query: Query, size: int) -> KeyProof:
        """A key proof at the commit covering ``size`` entries (a held commit size)."""
        with self.lock:
            return prove_key(self.state.view(size), key_id, query, self.readers())

    def held_sizes(self) -> list[int]:
        with self.lock:
            return self.state.sizes()

    @staticmethod
    def posting_size() -> int:
        return POSTING_SIZE
