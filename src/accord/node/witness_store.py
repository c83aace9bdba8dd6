"""The witness's storage in the node's database: the SQL implementation of the witness seams.

:class:`SqlWitnessStore` implements ``read_state``, ``cas_state``,
``on_conflict`` and ``is_halted`` (docs/witness.md section 2, "Storage
seams"; :mod:`accord.witness.state`) with exactly the behaviour of the
reference :class:`accord.witness.MemoryWitnessStore`, on SQLite and
PostgreSQL. Its tables are the migration component ``witness``:

- ``witness_state``: one row per origin this witness cosigned: the size, the
  root and the signed note it stored (the log's signature and this witness's
  cosignature). Moved only by compare-and-swap: ``UPDATE ... WHERE origin = ?
  AND size = :old``, or ``INSERT ... ON CONFLICT DO NOTHING`` at first
  contact; zero rows changed is a lost race.
- ``witness_evidence``: every piece of evidence (canonical JSON), in the order
  recorded; an operator's clearing archives it (``cleared_ms``), never deletes it.
- ``witness_halted``: the origins this witness no longer cosigns, written in
  the same transaction as their evidence.

Durability before the answer (tlog.md section 6.3 step 4) is the database
commit: SQLite with ``synchronous=FULL`` (the node's default) and PostgreSQL
with ``synchronous_commit`` on fsync before ``COMMIT`` returns. Concurrent
compare-and-swaps share commits (:class:`GroupCommit`): a witness serving many
logs pays one fsync per batch, not per request, and still answers each only
after its own swap committed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Final

from accord.errors import AccordError, NotFoundError, StoreError, UsageError
from accord.note import Note
from accord.store.database import Database
from accord.store.migrations import Step
from accord.witness import Evidence, WitnessState

__all__ = ["WITNESS_COMPONENT", "WITNESS_STEPS", "GroupCommit", "SqlWitnessStore"]

WITNESS_COMPONENT: Final = "witness"

WITNESS_STEPS: Final = (
    Step(
        "001-witness-tables",
        sqlite=(
            "CREATE TABLE witness_state ("
            " origin TEXT PRIMARY KEY,"
            " size INTEGER NOT NULL CHECK (size >= 0),"
            " root BLOB NOT NULL,"
            " note TEXT NOT NULL,"
            " updated_ms INTEGER NOT NULL)",
            "CREATE TABLE witness_evidence ("
            " id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " origin TEXT NOT NULL,"
            " kind TEXT NOT NULL,"
            " evidence TEXT NOT NULL,"
            " recorded_ms INTEGER NOT NULL,"
            " cleared_ms INTEGER)",
            "CREATE INDEX witness_evidence_origin ON witness_evidence (origin, cleared_ms)",
            "CREATE TABLE witness_halted (origin TEXT PRIMARY KEY, since_ms INTEGER NOT NULL)",
        ),
        postgresql=(
            "CREATE TABLE witness_state ("
            " origin TEXT PRIMARY KEY,"
            " size INTEGER NOT NULL CHECK (size >= 0),"
            " root BLOB NOT NULL,"
            " note TEXT NOT NULL,"
            " updated_ms INTEGER NOT NULL)",
            "CREATE TABLE witness_evidence ("
            " id BIGSERIAL PRIMARY KEY,"
            " origin TEXT NOT NULL,"
            " kind TEXT NOT NULL,"
            " evidence TEXT NOT NULL,"
            " recorded_ms INTEGER NOT NULL,"
            " cleared_ms INTEGER)",
            "CREATE INDEX witness_evidence_origin ON witness_evidence (origin, cleared_ms)",
            "CREATE TABLE witness_halted (origin TEXT PRIMARY KEY, since_ms INTEGER NOT NULL)",
        ),
    ),
)

_READ_STATE: Final = "SELECT note FROM witness_state WHERE origin = ?"
_INSERT_STATE: Final = (
    "INSERT INTO witness_state (origin, size, root, note, updated_ms) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (origin) DO NOTHING"
)
_MOVE_STATE: Final = (
    "UPDATE witness_state SET size = ?, root = ?, note = ?, updated_ms = ?"
    " WHERE origin = ? AND size = ?"
)
_UPSERT_STATE: Final = (
    "INSERT INTO witness_state (origin, size, root, note, updated_ms) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (origin) DO UPDATE SET size = excluded.size, root = excluded.root,"
    " note = excluded.note, updated_ms = excluded.updated_ms"
)


class _Op:
    """One statement waiting for a group commit, and what became of it."""

    __slots__ = ("done", "error", "event", "lead", "params", "rows", "sql")

    def __init__(self, sql: str, params: tuple[Any, ...]) -> None:
        self.sql = sql
        self.params = params
        self.event = threading.Event()
        self.lead = False
        self.done = False
        self.rows = 0
        self.error: AccordError | None = None


class GroupCommit:
    """Runs single-statement writes of many threads in shared transactions: one commit (one
    fsync) for every statement queued while the previous commit was in flight.

    No thread of its own: the first caller leads, commits everything queued, and hands
    the lead to the next waiting caller, if any. Each caller returns only after the
    transaction holding its statement committed. Statements run in arrival order, so
    two compare-and-swaps of one row in one batch behave as two transactions would.
    If a batch fails, its statements are retried one transaction each, so one bad
    statement fails only its own caller.
    """

    __slots__ = ("_db", "_leading", "_lock", "_queue")

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._queue: list[_Op] = []
        self._leading = False

    def execute(self, sql: str, params: tuple[Any, ...]) -> int:
        """Run ``sql`` in a committed transaction; return the rows it changed."""
        op = _Op(sql, params)
        with self._lock:
            self._queue.append(op)
            if not self._leading:
                self._leading = op.lead = True
        if not op.lead:
            op.event.wait()  # finished, or promoted to lead the next batch
        if not op.done:
            self._lead()
        if op.error is not None:
            raise op.error
        return op.rows

    def _lead(self) -> None:
        with self._lock:
            batch, self._queue = self._queue, []
        try:
            self._commit(batch)
        except BaseException as exc:  # a bug, or an interrupt: never leave a caller waiting
            for op in batch:
                if not op.done:
                    op.error = StoreError(f"internal error while committing: {type(exc).__name__}")
                    op.done = True
                    op.event.set()
            if not isinstance(exc, Exception):
                raise
        finally:
            with self._lock:
                if self._queue:
                    self._queue[0].lead = True
                    self._queue[0].event.set()
                else:
                    self._leading = False

    def _commit(self, batch: list[_Op]) -> None:
        try:
            with self._db.transaction() as tx:
                rows = [tx.execute(op.sql, op.params) for op in batch]
        except AccordError as exc:
            if len(batch) > 1:
                for op in batch:
                    self._commit([op])
                return
            rows, batch[0].error = [0], exc
        for op, changed in zip(batch, rows, strict=True):
            op.rows = changed
            op.done = True
            op.event.set()


def _state(text: object) -> WitnessState:
    """A stored note back as a state; a row that does not parse is a damaged store."""
    try:
        return WitnessState.from_note(str(text))
    except AccordError as exc:
        raise StoreError(f"a stored witness state does not parse: {exc.message}") from None


class _Parsed:
    """Stored note text -> its WitnessState, for the few notes in use (values are immutable).

    Every add-checkpoint reads the state it will compare with; the note read back is
    usually the one the previous request stored, so it is parsed once, not per read.
    """

    __slots__ = ("_lock", "_states")

    _LIMIT: Final = 1024

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, WitnessState] = {}

    def get(self, text: str) -> WitnessState:
        with self._lock:
            found = self._states.get(text)
        if found is None:
            found = _state(text)
            self.put(text, found)
        return found

    def put(self, text: str, state: WitnessState) -> None:
        with self._lock:
            if len(self._states) >= self._LIMIT:
                self._states.clear()
            self._states[text] = state


def _evidence(text: object) -> Evidence:
    try:
        return Evidence.parse(str(text))
    except AccordError as exc:
        raise StoreError(f"stored evidence does not parse: {exc.message}") from None


class SqlWitnessStore:
    """Witness state per origin, evidence and halted origins in the node's database.

    Thread-safe (each call is its own transaction on a pooled connection) and
    safe across processes sharing the database (the compare-and-swap is in SQL).
    ``clock_ms`` stamps rows for operators; it plays no part in any decision.
    """

    __slots__ = ("_clock_ms", "_parsed", "_writes", "db")

    def __init__(self, db: Database, clock_ms: Callable[[], int]) -> None:
        self.db = db
        self._clock_ms = clock_ms
        self._writes = GroupCommit(db)
        self._parsed = _Parsed()
        db.migrate(WITNESS_COMPONENT, WITNESS_STEPS)

    # -- the seams ---------------------------------------------------------------------

    def read_state(self, origin: str) -> WitnessState | None:
        row = self.db.fetchone(_READ_STATE, (origin,))
        return None if row is None else self._parsed.get(str(row[0]))

    def cas_state(
        self, origin: str, old_size: int | None, new_size: int, new_root: bytes, note: str
    ) -> bool:
        """Store ``note`` as the state of ``origin`` if the stored size is still ``old_size``.

        ``old_size`` None: only if nothing is stored yet. Committed (durable)
        before it returns True. UsageError if the note is not the checkpoint
        (origin, new_size, new_root) or the size would shrink; MalformedError
        if ``note`` is not a checkpoint note (as MemoryWitnessStore).
        """
        state = WitnessState.from_note(note)
        if (state.origin, state.size, state.root_hash) != (origin, new_size, new_root):
            raise UsageError("cas_state: the note is not the checkpoint being stored")
        if old_size is not None and new_size < old_size:
            raise UsageError("cas_state: a witness's size never shrinks")
        now = self._clock_ms()
        if old_size is None:
            changed = self._writes.execute(_INSERT_STATE, (origin, new_size, new_root, note, now))
        else:
            params = (new_size, new_root, note, now, origin, old_size)
            changed = self._writes.execute(_MOVE_STATE, params)
        if changed == 1:
            self._parsed.put(note, state)
        return changed == 1

    def on_conflict(self, evidence: Evidence) -> None:
        """Keep ``evidence`` and halt its origin, in one transaction."""
        if not isinstance(evidence, Evidence):
            raise UsageError("on_conflict takes an Evidence")
        now = self._clock_ms()
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO witness_evidence (origin, kind, evidence, recorded_ms)"
                " VALUES (?, ?, ?, ?)",
                (evidence.origin, evidence.kind, evidence.format(), now),
            )
            tx.execute(
                "INSERT INTO witness_halted (origin, since_ms) VALUES (?, ?)"
                " ON CONFLICT (origin) DO NOTHING",
                (evidence.origin, now),
            )

    def is_halted(self, origin: str) -> bool:
        row = self.db.fetchone("SELECT 1 FROM witness_halted WHERE origin = ?", (origin,))
        return row is not None

    def seams(self) -> dict[str, Any]:
        """The four callables, as keyword arguments for ``process_add_checkpoint``."""
        return {
            "read_state": self.read_state,
            "cas_state": self.cas_state,
            "on_conflict": self.on_conflict,
            "is_halted": self.is_halted,
        }

    # -- operators and gossip ------------------------------------------------------------

    def evidence(self, origin: str | None = None) -> tuple[Evidence, ...]:
        """The uncleared evidence, oldest first (all origins, or one)."""
        sql = "SELECT evidence FROM witness_evidence WHERE cleared_ms IS NULL"
        params: tuple[Any, ...] = ()
        if origin is not None:
            sql += " AND origin = ?"
            params = (origin,)
        rows = self.db.fetchall(sql + " ORDER BY id", params)
        return tuple(_evidence(r[0]) for r in rows)

    def cleared(self, origin: str | None = None) -> tuple[Evidence, ...]:
        """The archived (cleared) evidence, oldest first."""
        sql = "SELECT evidence FROM witness_evidence WHERE cleared_ms IS NOT NULL"
        params: tuple[Any, ...] = ()
        if origin is not None:
            sql += " AND origin = ?"
            params = (origin,)
        rows = self.db.fetchall(sql + " ORDER BY id", params)
        return tuple(_evidence(r[0]) for r in rows)

    def halted(self) -> tuple[str, ...]:
        """The halted origins, sorted."""
        rows = self.db.fetchall("SELECT origin FROM witness_halted")
        return tuple(sorted(str(r[0]) for r in rows))

    def clear(self, origin: str, *, reset_state: bool = False) -> tuple[Evidence, ...]:
        """An operator's decision: resume witnessing ``origin``; return the evidence archived.

        ``reset_state`` also forgets the stored checkpoint, so the next one is
        accepted on first use (``old 0``). NotFoundError if the origin is not
        halted. The evidence is archived (``cleared_ms``), never deleted.
        """
        now = self._clock_ms()
        with self.db.transaction() as tx:
            if tx.execute("DELETE FROM witness_halted WHERE origin = ?", (origin,)) != 1:
                raise NotFoundError(f"no evidence is held for {origin!r}")
            rows = tx.fetchall(
                "SELECT evidence FROM witness_evidence WHERE origin = ? AND cleared_ms IS NULL"
                " ORDER BY id",
                (origin,),
            )
            tx.execute(
                "UPDATE witness_evidence SET cleared_ms = ?"
                " WHERE origin = ? AND cleared_ms IS NULL",
                (now, origin),
            )
            if reset_state:
                tx.execute("DELETE FROM witness_state WHERE origin = ?", (origin,))
        return tuple(_evidence(r[0]) for r in rows)

    def latest_notes(self) -> tuple[Note, ...]:
        """The latest cosigned note of every origin, sorted by origin (what it gossips)."""
        return tuple(state.note for state in self.states())

    def states(self) -> tuple[WitnessState, ...]:
        """Every stored state, sorted by origin (``GET /v1/witness/heads``)."""
        rows = self.db.fetchall("SELECT origin, note FROM witness_state")
        # Sorted here, not in SQL: PostgreSQL's collation may not be code-point order.
        return tuple(_state(note) for _, note in sorted((str(o), n) for o, n in rows))

    def set_state(self, state: WitnessState) -> None:
        """Install a state directly (tests, imports): no checks beyond the value's own."""
        if not isinstance(state, WitnessState):
            raise UsageError("set_state takes a WitnessState")
        with self.db.transaction() as tx:
            tx.execute(
                _UPSERT_STATE,
                (state.origin, state.size, state.root_hash, state.note.format(), self._clock_ms()),
            )
