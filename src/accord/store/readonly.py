"""Running an auditor's SQL read-only, with a time limit and a row limit.

One statement per query (several are refused before anything runs), over the
projection tables only (store/projection.py), never the keys, bodies or log
tables. Writes, ATTACH, PRAGMA and DDL are refused with a clear UsageError (400).

- SQLite: a separate read-only connection (``mode=ro``) with an authorizer that
  allows only SELECT, reads of the projection tables and ordinary functions, and a
  progress handler that interrupts the query at the deadline.
- PostgreSQL: a read-only transaction under a restricted role that may only SELECT
  the projection tables, with ``statement_timeout``.

``pseudonym(kind, value)`` is available in both: SQLite calls back into Python; on
PostgreSQL the function computes HMAC-SHA256 from ``sha256()`` with the key's HMAC
pads given to the transaction through ``set_config`` (so an auditor with SQL access
could read them with ``current_setting``: it lets them compute pseudonyms, which the
function offers anyway, and nothing else).
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import psycopg
import psycopg.errors
from psycopg import sql as pgsql

from accord.errors import StoreError, UsageError
from accord.store.database import Database
from accord.store.projection import PROJECTION_TABLES

__all__ = ["QueryResult", "ReadOnlySQL", "single_statement"]

_SQLITE_META: Final = ("sqlite_master", "sqlite_schema", "sqlite_temp_master")
_DENIED_FUNCTIONS: Final = frozenset({"load_extension", "readfile", "writefile", "edit"})
#: Read-only SQLite connections kept open between queries.
_SQLITE_POOL: Final = 4


def single_statement(text: str) -> str:
    """``text`` without a trailing semicolon; UsageError if it holds several statements.

    Scans outside string literals, quoted identifiers and comments.
    """
    if not isinstance(text, str) or not text.strip():
        raise UsageError("the query is empty")
    if len(text) > 100_000:
        raise UsageError("the query is longer than 100,000 characters")
    if ";" not in text:
        return text  # two statements need a semicolon between them
    i, n = 0, len(text)
    end = None
    while i < n:
        c = text[i]
        if c in "'\"":
            j = text.find(c, i + 1)
            while j != -1 and j + 1 < n and text[j + 1] == c:
                j = text.find(c, j + 2)
            if j == -1:
                raise UsageError("the query has an unterminated quote")
            i = j + 1
            continue
        if text.startswith("--", i):
            nl = text.find("\n", i)
            i = n if nl == -1 else nl + 1
            continue
        if text.startswith("/*", i):
            close = text.find("*/", i + 2)
            if close == -1:
                raise UsageError("the query has an unterminated comment")
            i = close + 2
            continue
        if c == ";":
            if end is None:
                end = i
        elif not c.isspace() and end is not None:
            raise UsageError("only one SQL statement may be run at a time")
        i += 1
    return text if end is None else text[:end]


@dataclass(frozen=True, slots=True)
class QueryResult:
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool
    elapsed_ms: float

    def to_json(self) -> dict[str, Any]:
        return {
            "columns": self.columns,
            "rows": self.rows,
            "row_count": len(self.rows),
            "truncated": self.truncated,
            "elapsed_ms": round(self.elapsed_ms, 3),
        }


#: Cell types returned as they are (checked by exact type first: the common case).
_PLAIN: Final = frozenset({int, float, str, type(None)})


def _cell(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, int | float | str) or value is None:
        return value
    return str(value)


class ReadOnlySQL:
    """Runs auditors' queries against the node's database."""

    def __init__(
        self,
        db: Database,
        *,
        pseudonym: Callable[[str, str], str],
        pseudonym_key: Callable[[], bytes],
        max_rows: int,
        timeout_ms: int,
    ) -> None:
        self._db = db
        self._pseudonym = pseudonym
        self._pseudonym_key = pseudonym_key
        self._max_rows = max_rows
        self._timeout_ms = timeout_ms
        self._role = ""
        self._pool: list[sqlite3.Connection] = []
        self._pool_lock = threading.Lock()
        self._deadlines: dict[int, list[float]] = {}
        if db.dialect == "postgresql":
            self._role = self._setup_postgresql()

    def run(self, text: str) -> QueryResult:
        query = single_statement(text)
        started = time.perf_counter()
        if self._db.dialect == "sqlite":
            columns, rows, truncated = self._run_sqlite(query)
        else:
            columns, rows, truncated = self._run_postgresql(query)
        elapsed = (time.perf_counter() - started) * 1000
        plain = _PLAIN
        out = [[v if type(v) in plain else _cell(v) for v in r] for r in rows]
        return QueryResult(columns, out, truncated, elapsed)

    # -- SQLite ------------------------------------------------------------------------

    def _authorize(
        self, action: int, arg1: str | None, arg2: str | None, database: str | None, _: Any
    ) -> int:
        if action == sqlite3.SQLITE_SELECT:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_READ:
            if database is None:
                return sqlite3.SQLITE_OK  # a common table expression, not a stored table
            table = (arg1 or "").lower()
            if table in PROJECTION_TABLES or table in _SQLITE_META:
                return sqlite3.SQLITE_OK
            return sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_FUNCTION:
            return sqlite3.SQLITE_DENY if (arg2 or "").lower() in _DENIED_FUNCTIONS else 0
        if action == sqlite3.SQLITE_RECURSIVE:
            return sqlite3.SQLITE_OK
        return sqlite3.SQLITE_DENY

    def _sqlite_connection(self) -> sqlite3.Connection:
        """A pooled read-only connection (opening one and reading the schema costs more
        than a typical indexed query; the authorizer and functions are set once)."""
        with self._pool_lock:
            if self._pool:
                return self._pool.pop()
        path = self._db.target.location
        try:
            conn = sqlite3.connect(
                f"file:{path}?mode=ro", uri=True, timeout=5, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the database read-only: {exc}") from None
        conn.create_function("pseudonym", 2, self._sqlite_pseudonym, deterministic=True)
        conn.set_authorizer(self._authorize)
        deadline = [0.0]
        conn.set_progress_handler(lambda: int(time.monotonic() > deadline[0]), 2000)
        self._deadlines[id(conn)] = deadline
        return conn

    def _sqlite_checkin(self, conn: sqlite3.Connection) -> None:
        with self._pool_lock:
            if len(self._pool) < _SQLITE_POOL:
                self._pool.append(conn)
                return
        self._deadlines.pop(id(conn), None)
        conn.close()

    def close(self) -> None:
        """Close the pooled SQLite connections."""
        with self._pool_lock:
            pool, self._pool = self._pool, []
        for conn in pool:
            self._deadlines.pop(id(conn), None)
            conn.close()

    def _run_sqlite(self, query: str) -> tuple[list[str], list[tuple[Any, ...]], bool]:
        conn = self._sqlite_connection()
        self._deadlines[id(conn)][0] = time.monotonic() + self._timeout_ms / 1000
        try:
            cur = conn.execute(query)
            try:
                rows = cur.fetchmany(self._max_rows + 1)
                columns = [d[0] for d in cur.description or ()]
            finally:
                cur.close()  # ends the read: the next query sees newer commits
        except sqlite3.DatabaseError as exc:
            raise self._sqlite_error(exc) from None
        finally:
            with contextlib.suppress(sqlite3.Error):
                conn.rollback()
            self._sqlite_checkin(conn)
        truncated = len(rows) > self._max_rows
        return columns, rows[: self._max_rows], truncated

    def _sqlite_pseudonym(self, kind: object, value: object) -> str:
        if not isinstance(kind, str) or not isinstance(value, str):
            raise ValueError("pseudonym(kind, value) takes two strings")
        return self._pseudonym(kind, value)

    def _sqlite_error(self, exc: sqlite3.DatabaseError) -> UsageError:
        text = str(exc)
        if "interrupted" in text:
            return UsageError(f"the query ran longer than {self._timeout_ms} ms and was stopped")
        if "not authorized" in text or "prohibited" in text:
            return UsageError(
                "only SELECT over the projection tables is allowed "
                f"({', '.join(PROJECTION_TABLES)}): {text}"
            )
        if "readonly" in text or "read-only" in text:
            return UsageError(f"the SQL interface is read-only: {text}")
        return UsageError(f"SQL error: {text}")

    # -- PostgreSQL ------------------------------------------------------------------

    def _setup_postgresql(self) -> str:
        """Create (once) the reader role, its grants and ``pseudonym()`` in the node's schema."""
        with self._db.transaction() as tx:
            row = tx.fetchone("SELECT current_database(), current_schema()")
            if row is None:
                raise StoreError("cannot read the current schema")
            database, schema = str(row[0]), str(row[1])
            role = "accord_sql_" + hashlib.sha256(f"{database}/{schema}".encode()).hexdigest()[:16]
            exists = tx.fetchone("SELECT 1 FROM pg_roles WHERE rolname = ?", (role,))
        conn = psycopg.connect(self._db.target.location, autocommit=True)
        try:
            ident = pgsql.Identifier
            if exists is None:
                with contextlib.suppress(psycopg.errors.DuplicateObject):
                    conn.execute(pgsql.SQL("CREATE ROLE {} NOLOGIN").format(ident(role)))
            conn.execute(
                pgsql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(ident(schema), ident(role))
            )
            for table in PROJECTION_TABLES:
                conn.execute(
                    pgsql.SQL("GRANT SELECT ON {}.{} TO {}").format(
                        ident(schema), ident(table), ident(role)
                    )
                )
            conn.execute(
                pgsql.SQL(
                    "CREATE OR REPLACE FUNCTION {}.pseudonym(kind text, value text) "
                    "RETURNS text LANGUAGE sql STABLE AS $f$ SELECT substr(encode(sha256("
                    "decode(current_setting('accord.pseudonym_opad'), 'hex') || sha256("
                    "decode(current_setting('accord.pseudonym_ipad'), 'hex') || "
                    "convert_to(kind, 'UTF8') || '\\x00'::bytea || convert_to(value, 'UTF8')"
                    ")), 'hex'), 1, 32) $f$"
                ).format(ident(schema))
            )
            conn.execute(
                pgsql.SQL("GRANT EXECUTE ON FUNCTION {}.pseudonym(text, text) TO {}").format(
                    ident(schema), ident(role)
                )
            )
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot set up the read-only SQL role (the node's database user needs "
                f"CREATEROLE): {exc}"
            ) from None
        finally:
            conn.close()
        return role

    def _pads(self) -> tuple[str, str]:
        try:
            key = self._pseudonym_key().ljust(64, b"\x00")
        except Exception:
            return "", ""  # sealed: pseudonym() then fails with a clear message
        ipad = bytes(b ^ 0x36 for b in key).hex()
        opad = bytes(b ^ 0x5C for b in key).hex()
        return ipad, opad

    def _run_postgresql(self, query: str) -> tuple[list[str], list[tuple[Any, ...]], bool]:
        ipad, opad = self._pads()
        try:
            conn = psycopg.connect(self._db.target.location, connect_timeout=10)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to PostgreSQL: {exc}") from None
        try:
            # Not autocommit: everything below is one transaction, rolled back at the end.
            conn.execute("SET TRANSACTION READ ONLY")
            conn.execute(
                "SELECT set_config('statement_timeout', %s, true),"
                " set_config('accord.pseudonym_ipad', %s, true),"
                " set_config('accord.pseudonym_opad', %s, true)",
                (str(self._timeout_ms), ipad, opad),
            )
            conn.execute(pgsql.SQL("SET LOCAL ROLE {}").format(pgsql.Identifier(self._role)))
            cur = conn.cursor()
            cur.execute(query.encode("utf-8"), prepare=False)
            if cur.description is None:
                raise UsageError("the statement returned no rows (only SELECT is allowed)")
            rows = cur.fetchmany(self._max_rows + 1)
            columns = [d.name for d in cur.description]
        except psycopg.errors.QueryCanceled:
            raise UsageError(
                f"the query ran longer than {self._timeout_ms} ms and was stopped"
            ) from None
        except psycopg.errors.InsufficientPrivilege as exc:
            raise UsageError(
                "only SELECT over the projection tables is allowed "
                f"({', '.join(PROJECTION_TABLES)}): {exc}"
            ) from None
        except psycopg.errors.ReadOnlySqlTransaction as exc:
            raise UsageError(f"the SQL interface is read-only: {exc}") from None
        except psycopg.Error as exc:
            raise UsageError(f"SQL error: {str(exc).strip()}") from None
        finally:
            with contextlib.suppress(psycopg.Error):
                conn.rollback()
            conn.close()
        truncated = len(rows) > self._max_rows
        return columns, rows[: self._max_rows], truncated
