"""One database handle for the whole node: SQLite (WAL) or PostgreSQL (psycopg 3).

The node, the log, the index, the SQL projection, keys and witness state all
keep their tables in one database, reached through :class:`Database`:

- ``Database.open(url)``: a file path or ``sqlite:///path`` opens SQLite in WAL
  mode with a busy timeout and ``synchronous=FULL`` (a committed transaction
  survives power loss; ``synchronous="NORMAL"`` is an option that keeps the
  database consistent but may lose the last transactions on power loss, never
  on a process crash). ``postgresql://...`` opens PostgreSQL with the server's
  own durability settings (``synchronous_commit`` on by default).
- ``with db.transaction() as tx:`` commits when the block ends normally and
  rolls back when it raises. A write transaction on SQLite is ``BEGIN
  IMMEDIATE`` (it takes the write lock at once, so two writers queue on the
  busy timeout instead of failing on a lock upgrade); on PostgreSQL it is a
  ``READ COMMITTED`` transaction. On SQLite the writers of one process also
  take turns at a :class:`~accord.store.writer_gate.WriterGate` first (woken at
  once rather than by SQLite's sleeping busy handler), where
  ``transaction(urgent=True)`` (the log's appends and checkpoints) goes before
  the others.
  ``transaction(readonly=True)`` uses a
  separate set of read-only connections (``query_only`` on SQLite,
  ``default_transaction_read_only`` on PostgreSQL): the seam where the node's
  read-only SQL endpoint will add its authorizer.
- Threads: a Database may be shared between threads. Each transaction checks a
  connection out of a small pool and back in at its end, so no connection is
  ever used by two threads at once; at most ``pool_size`` idle connections per
  mode are kept, and more are opened (then closed) under heavier concurrency.
- Errors: every sqlite3 and psycopg error is turned into
  :class:`~accord.errors.ConflictError` (unique-key violations) or
  :class:`~accord.errors.StoreError` (everything else, retryable) here; driver
  messages are kept but parameter values never are.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any, Final, Literal

import psycopg
import psycopg.errors

from accord.errors import AccordError, ConflictError, StoreError, UsageError
from accord.store.dialect import Dialect, Target, parse_url, translate
from accord.store.migrations import Step, migrate
from accord.store.multirow import insert_shape
from accord.store.writer_gate import WriterGate

__all__ = ["Database", "Row", "Synchronous", "Tx", "driver_error"]

Row = tuple[Any, ...]
Synchronous = Literal["FULL", "NORMAL"]

_SQLITE_CONNECT_ERROR: Final = "cannot open SQLite database"


def driver_error(exc: Exception, dialect: Dialect) -> AccordError:
    """The Accord error for a driver exception (never carries parameter values)."""
    if isinstance(exc, AccordError):
        return exc
    if isinstance(exc, sqlite3.Error):
        message = str(exc)
        if isinstance(exc, sqlite3.IntegrityError) and (
            "UNIQUE" in message or "PRIMARY KEY" in message
        ):
            return ConflictError(f"sqlite: {message}")
        return StoreError(f"sqlite: {type(exc).__name__}: {message}")
    if isinstance(exc, psycopg.Error):
        primary = exc.diag.message_primary or type(exc).__name__
        if isinstance(exc, psycopg.errors.UniqueViolation | psycopg.errors.ExclusionViolation):
            return ConflictError(f"postgresql: {primary}")
        return StoreError(f"postgresql: {type(exc).__name__}: {primary}")
    return StoreError(f"{dialect}: {type(exc).__name__}")


_DRIVER_ERRORS: Final = (sqlite3.Error, psycopg.Error)


class Tx:
    """One open transaction: run portable SQL (``?`` placeholders) and read rows.

    Valid only inside its ``with db.transaction()`` block. Blobs come back as
    ``bytes`` on both backends.
    """

    __slots__ = ("_cur", "dialect", "readonly")

    def __init__(self, cur: Any, dialect: Dialect, readonly: bool) -> None:
        self._cur = cur
        self.dialect: Dialect = dialect
        self.readonly = readonly

    def _cursor(self) -> Any:
        if self._cur is None:
            raise UsageError("the transaction is over: use tx only inside its with block")
        return self._cur

    def _end(self) -> None:
        self._cur = None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; return the number of rows it changed (-1 if unknown)."""
        cur = self._cursor()
        try:
            cur.execute(translate(sql, self.dialect), params)
            return int(cur.rowcount)
        except _DRIVER_ERRORS as exc:
            raise driver_error(exc, self.dialect) from None

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        """Run one statement once per parameter row; return the rows changed in all.

        On SQLite a plain ``INSERT ... VALUES (...)`` is sent as a few multi-row
        statements instead (:mod:`accord.store.multirow`: far fewer GIL hand-offs).
        """
        cur = self._cursor()
        shape = insert_shape(sql) if self.dialect == "sqlite" else None
        try:
            if shape is None:
                cur.executemany(translate(sql, self.dialect), rows)
                return max(0, int(cur.rowcount))
            batch = rows if isinstance(rows, list) else list(rows)
            if len(batch) < 2 or any(len(r) != shape.width for r in batch):
                cur.executemany(sql, batch)  # one row, or the driver's own error
                return max(0, int(cur.rowcount))
            changed = 0
            for statement, params in shape.chunks(batch):
                cur.execute(statement, params)
                changed += max(0, int(cur.rowcount))
            return changed
        except _DRIVER_ERRORS as exc:
            raise driver_error(exc, self.dialect) from None

    def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        cur = self._cursor()
        try:
            cur.execute(translate(sql, self.dialect), params)
            row = cur.fetchone()
        except _DRIVER_ERRORS as exc:
            raise driver_error(exc, self.dialect) from None
        return None if row is None else tuple(row)

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        cur = self._cursor()
        try:
            cur.execute(translate(sql, self.dialect), params)
            rows = cur.fetchall()
        except _DRIVER_ERRORS as exc:
            raise driver_error(exc, self.dialect) from None
        return [tuple(r) for r in rows]


class Database:
    """A SQLite file or a PostgreSQL database, shared by every subsystem of a node."""

    def __init__(
        self,
        target: Target,
        *,
        synchronous: Synchronous = "FULL",
        busy_timeout_ms: int = 30_000,
        pool_size: int = 4,
    ) -> None:
        if synchronous not in ("FULL", "NORMAL"):
            raise UsageError(f"synchronous must be FULL or NORMAL, not {synchronous!r}")
        if not 0 <= busy_timeout_ms <= 3_600_000 or not 1 <= pool_size <= 64:
            raise UsageError("busy_timeout_ms must be in [0, 1 h] and pool_size in [1, 64]")
        self.target = target
        self.dialect: Dialect = target.dialect
        self.synchronous: Synchronous = synchronous
        self.busy_timeout_ms = busy_timeout_ms
        self.pool_size = pool_size
        self._lock = threading.Lock()
        self._gate = WriterGate(busy_timeout_ms / 1000)
        self._idle: dict[bool, list[Any]] = {False: [], True: []}
        self._closed = False
        # Connect once now so that a bad URL or path fails at open, not later.
        self._checkin(self._connect(readonly=False), readonly=False, broken=False)

    @classmethod
    def open(
        cls,
        url: str,
        *,
        synchronous: Synchronous = "FULL",
        busy_timeout_ms: int = 30_000,
        pool_size: int = 4,
    ) -> Database:
        """Open the database ``url`` names (see :func:`accord.store.dialect.parse_url`)."""
        return cls(
            parse_url(url),
            synchronous=synchronous,
            busy_timeout_ms=busy_timeout_ms,
            pool_size=pool_size,
        )

    # -- connections ---------------------------------------------------------------

    def _connect(self, *, readonly: bool) -> Any:
        if self.dialect == "sqlite":
            return self._connect_sqlite(readonly)
        return self._connect_postgresql(readonly)

    def _connect_sqlite(self, readonly: bool) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.target.location,
                timeout=self.busy_timeout_ms / 1000,
                isolation_level=None,  # we issue BEGIN/COMMIT ourselves
                check_same_thread=False,  # the pool hands a connection to one thread at a time
                cached_statements=512,
            )
        except sqlite3.Error as exc:
            raise StoreError(f"{_SQLITE_CONNECT_ERROR}: {exc}") from None
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"SQLite refused WAL mode (journal_mode is {mode})")
            conn.execute(f"PRAGMA synchronous = {self.synchronous}")
            conn.execute("PRAGMA foreign_keys = ON")
            # Deleted content (a shredded data key) is overwritten, not left in free pages.
            conn.execute("PRAGMA secure_delete = ON")
            if readonly:
                # Seam for the read-only SQL endpoint: it will also install an
                # authorizer (conn.set_authorizer) on these connections.
                conn.execute("PRAGMA query_only = ON")
        except sqlite3.Error as exc:
            conn.close()
            raise driver_error(exc, "sqlite") from None
        except BaseException:
            conn.close()
            raise
        return conn

    def _connect_postgresql(self, readonly: bool) -> psycopg.Connection[Any]:
        try:
            conn = psycopg.connect(self.target.location, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise driver_error(exc, "postgresql") from None
        try:
            if readonly:
                # Seam for the read-only SQL endpoint (it will add statement limits too).
                conn.execute("SET default_transaction_read_only = on")
            conn.execute(f"SET lock_timeout = '{int(self.busy_timeout_ms)}ms'")
        except psycopg.Error as exc:
            conn.close()
            raise driver_error(exc, "postgresql") from None
        return conn

    def _checkout(self, readonly: bool) -> Any:
        with self._lock:
            if self._closed:
                raise UsageError("the database is closed")
            idle = self._idle[readonly]
            if idle:
                return idle.pop()
        return self._connect(readonly=readonly)

    def _checkin(self, conn: Any, *, readonly: bool, broken: bool) -> None:
        with self._lock:
            if not broken and not self._closed and len(self._idle[readonly]) < self.pool_size:
                self._idle[readonly].append(conn)
                return
        with suppress(*_DRIVER_ERRORS):
            conn.close()

    def _run(self, conn: Any, sql: str) -> None:
        try:
            conn.execute(sql)
        except _DRIVER_ERRORS as exc:
            raise driver_error(exc, self.dialect) from None

    # -- transactions ----------------------------------------------------------------

    @contextmanager
    def transaction(self, *, readonly: bool = False, urgent: bool = False) -> Iterator[Tx]:
        """A transaction: committed if the block ends normally, rolled back if it raises.

        ``urgent`` (writes on SQLite): go before this process's other waiting writers.
        """
        if readonly or self.dialect != "sqlite":
            with self._transaction(readonly) as tx:
                yield tx
            return
        with self._gate.turn(urgent=urgent), self._transaction(readonly) as tx:
            yield tx

    @contextmanager
    def _transaction(self, readonly: bool) -> Iterator[Tx]:
        conn = self._checkout(readonly)
        broken = True
        try:
            if self.dialect == "sqlite":
                self._run(conn, "BEGIN" if readonly else "BEGIN IMMEDIATE")
            else:
                self._run(conn, "BEGIN READ ONLY" if readonly else "BEGIN")
            tx = Tx(conn.cursor(), self.dialect, readonly)
            try:
                yield tx
            except BaseException:
                tx._end()
                try:
                    conn.execute("ROLLBACK")
                    broken = False
                except _DRIVER_ERRORS:
                    pass  # the connection is unusable: it is closed below
                raise
            tx._end()
            try:
                self._run(conn, "COMMIT")
            except AccordError:
                try:
                    conn.execute("ROLLBACK")
                    broken = False
                except _DRIVER_ERRORS:
                    pass
                raise
            broken = False
        finally:
            self._checkin(conn, readonly=readonly, broken=broken)

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one read-only statement outside an explicit transaction (it is atomic)."""
        conn = self._checkout(True)
        broken = True
        try:
            cur = conn.cursor()
            cur.execute(translate(sql, self.dialect), params)
            rows = [tuple(r) for r in cur.fetchall()]
            broken = False
            return rows
        except _DRIVER_ERRORS as exc:
            broken = self.dialect == "postgresql" and conn.closed
            raise driver_error(exc, self.dialect) from None
        finally:
            self._checkin(conn, readonly=True, broken=broken)

    def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = self.fetchall(sql, params)
        return rows[0] if rows else None

    def maintenance(self, sql: str) -> None:
        """Run one statement outside any transaction (``VACUUM``, ``PRAGMA wal_checkpoint``)."""
        if self.dialect == "sqlite":
            with self._gate.turn():
                self._maintenance(sql)
        else:
            self._maintenance(sql)

    def _maintenance(self, sql: str) -> None:
        conn = self._checkout(False)
        broken = True
        try:
            self._run(conn, translate(sql, self.dialect))
            broken = False
        finally:
            self._checkin(conn, readonly=False, broken=broken)

    def migrate(self, component: str, steps: Sequence[Step]) -> list[str]:
        """Apply the missing schema steps of ``component``; see :mod:`accord.store.migrations`."""
        return migrate(self, component, steps)

    # -- lifecycle -------------------------------------------------------------------

    def close(self) -> None:
        """Close every idle connection; connections in use close when their block ends."""
        with self._lock:
            self._closed = True
            conns = self._idle[False] + self._idle[True]
            self._idle = {False: [], True: []}
        for conn in conns:
            with suppress(*_DRIVER_ERRORS):
                conn.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = self.target.location if self.dialect == "sqlite" else "postgresql://..."
        return f"Database({self.dialect}, {where})"
